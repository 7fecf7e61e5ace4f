// Package pgstore keeps echosess sessions in PostgreSQL, through a pgx v5 pool.
//
//	pool, err := pgxpool.New(ctx, dsn)
//	...
//	if err := pgstore.Migrate(ctx, stdlib.OpenDBFromPool(pool)); err != nil { ... }
//	store := pgstore.New(pool)
//
// The table comes from Migrate, or from the goose command on the module's
// migrations/postgres folder. The store reports every change to its table, made by
// any instance of the app, so that a cache in front of it (Config.Cache) stays
// coherent across instances: see sqlstore.Store.WatchChanges. The store is a
// *sqlstore.Store, whose methods and options (sqlstore.WithClock,
// sqlstore.WithDeleteBatch) are those of every SQL database; WithPollInterval is
// this package's.
package pgstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/echosess/echosess/internal/engine"
	"github.com/echosess/echosess/internal/migrate"
	"github.com/echosess/echosess/sqlstore"
)

// Migrate brings the session table of db up to date with the migrations that ship
// in the module's migrations/postgres folder, in the schema that db's search_path
// names first. Running it again when nothing is pending changes nothing. For a pgx
// pool, db is stdlib.OpenDBFromPool(pool) (github.com/jackc/pgx/v5/stdlib).
//
// Several instances of an app that start at once may all call it: it holds an
// advisory lock while it runs, so exactly one migrates and the others wait for it,
// logging with slog.Default that they wait and which session holds the lock, for up
// to 10 minutes or until ctx ends: pass a ctx with a deadline.
func Migrate(ctx context.Context, db *sql.DB) error {
	return migrate.Run(ctx, db, engine.DialectPostgres)
}

// WithPollInterval sets how often a PostgreSQL store that a cache watches reads the changes
// that every process made to its table (see WatchChanges), which bounds how long
// another instance may serve a session from its cache after a change. Each read is
// one query that returns nothing when nothing changed. Default 10 ms.
func WithPollInterval(d time.Duration) sqlstore.Option {
	return func(o *engine.StoreOptions) { o.PollInterval = d }
}
