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
// The table comes from Migrate, or from the goose command on the module's
// migrations/sqlite folder. A SQLite store serves the processes of one machine: it
// reports no changes to a cache in front of it (Config.Cache), which then trusts
// what it holds for its age.
package sqlitestore

import (
	"context"
	"database/sql"
	"time"

	"github.com/echosess/echosess/internal/engine"
	"github.com/echosess/echosess/internal/migrate"
	"github.com/echosess/echosess/sessionstore"
)

func init() {
	engine.RegisterPublic(func(s *Store) sessionstore.Store { return s.sqlStore })
}

// sqlStore is the engine's SQL store, which Store holds.
type sqlStore = engine.SQLStore

// Store is a sessionstore.Store in a SQLite table. Every statement passes the
// store's clock as "now", so expired rows are filtered in SQL and never returned. A
// Store is safe for concurrent use. It does not own the database handle; Close
// releases the statements it prepared there.
type Store struct{ *sqlStore }

// Migrate brings the session table of db up to date with the migrations that ship
// in the module's migrations/sqlite folder. Running it again when nothing is pending
// changes nothing. Several processes that start at once may all call it: each
// migration's transaction takes the database's write lock and checks that no other
// process applied it meanwhile; a process that finds one did starts over, logging
// that with slog.Default, and then finds nothing to do.
func Migrate(ctx context.Context, db *sql.DB) error {
	return migrate.Run(ctx, db, engine.DialectSQLite)
}

// Load returns the live record under key, or sessionstore.ErrNotFound. Data that
// does not decode gives an error wrapping sessionstore.ErrDecode.
func (s *Store) Load(ctx context.Context, key string) (sessionstore.Record, error) {
	return s.sqlStore.Load(ctx, key)
}

// Save writes rec as version rec.Version+1 in a single statement, provided the
// stored version is still rec.Version (0: no live row; an expired row is replaced).
// Otherwise it writes nothing and returns sessionstore.ErrConflict.
func (s *Store) Save(ctx context.Context, rec sessionstore.Record) error {
	return s.sqlStore.Save(ctx, rec)
}

// Touch writes rec.Expiry and rec.Deadline as version rec.Version+1 in a single
// statement that leaves the stored data alone, provided the live row is still at
// rec.Version, and returns sessionstore.ErrConflict otherwise.
func (s *Store) Touch(ctx context.Context, rec sessionstore.Record) error {
	return s.sqlStore.Touch(ctx, rec)
}

// Delete removes the record under key. Deleting a missing record is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.sqlStore.Delete(ctx, key)
}

// DeleteExpired removes expired records and reports how many it removed, in batches
// of at most 1000 rows (WithDeleteBatch), one short statement each through the index
// on the expiry, so that it never holds the write lock for long.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	return s.sqlStore.DeleteExpired(ctx)
}

// UserSessions returns the live records bound to userID in one statement through the
// index on the user. A record whose data does not decode is listed with nil Data,
// so that it can still be revoked.
func (s *Store) UserSessions(ctx context.Context, userID string) ([]sessionstore.Record, error) {
	return s.sqlStore.UserSessions(ctx, userID)
}

// Close closes the statements the store prepared on its database, so that an
// application that drops the store but keeps the database leaks none; closing the
// database closes them too. It does not close the database, which the application
// owns; a store used after Close runs its statements unprepared.
func (s *Store) Close() error { return s.sqlStore.Close() }

// Option configures a Store.
type Option = engine.StoreOption

// WithClock makes the store read the time from now instead of time.Now, for tests.
func WithClock(now func() time.Time) Option { return engine.WithClock(now) }

// WithDeleteBatch sets how many expired rows one statement of DeleteExpired removes
// at most. Default 1000.
func WithDeleteBatch(n int) Option { return engine.WithDeleteBatch(n) }
