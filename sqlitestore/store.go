// Package sqlitestore keeps echosess sessions in a SQLite database, through
// database/sql and a driver the application imports: modernc.org/sqlite, which
// needs no cgo.
//
//	import _ "modernc.org/sqlite"
//
//	db, err := sql.Open("sqlite", sqlitestore.DSN("sessions.db"))
//	...
//	if err := sqlitestore.Migrate(ctx, db); err != nil { ... }
//	store := sqlitestore.New(db)
//
// The store is a *sqlstore.Store, whose methods and options (sqlstore.WithClock,
// sqlstore.WithDeleteBatch) are those of every SQL database.
// The table comes from Migrate, or from the goose command on the module's
// migrations/sqlite folder. A SQLite store serves the processes of one machine: it
// reports no changes to a cache in front of it (Config.Cache), which then trusts
// what it holds for its age.
package sqlitestore

import (
	"context"
	"database/sql"

	"github.com/echosess/echosess/internal/engine"
	"github.com/echosess/echosess/internal/migrate"
)

// Migrate brings the session table of db up to date with the migrations that ship
// in the module's migrations/sqlite folder. Running it again when nothing is pending
// changes nothing. Several processes that start at once may all call it: each
// migration's transaction takes the database's write lock and checks that no other
// process applied it meanwhile; a process that finds one did starts over, logging
// that with slog.Default, and then finds nothing to do.
func Migrate(ctx context.Context, db *sql.DB) error {
	return migrate.Run(ctx, db, engine.DialectSQLite)
}
