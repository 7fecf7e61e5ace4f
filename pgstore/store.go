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
// coherent across instances: see Store.WatchChanges.
package pgstore

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

// Store is a sessionstore.Store in a PostgreSQL table, and a sessionstore.ChangeFeed.
// Every statement passes the store's clock as "now", so expired rows are filtered in
// SQL and never returned. A Store is safe for concurrent use. It does not own the
// pool; Close stops its listening for changes.
type Store struct{ *sqlStore }

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
// on the expiry, so that it never holds locks for long.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	return s.sqlStore.DeleteExpired(ctx)
}

// UserSessions returns the live records bound to userID in one statement through the
// index on the user. A record whose data does not decode is listed with nil Data,
// so that it can still be revoked.
func (s *Store) UserSessions(ctx context.Context, userID string) ([]sessionstore.Record, error) {
	return s.sqlStore.UserSessions(ctx, userID)
}

// WatchChanges reports the changes to the table, made by any process, to w; see
// sessionstore.ChangeFeed. The trigger of the migrations records each change,
// whatever the writer's isolation level and snapshot, in a table that the store
// reads every WithPollInterval (10 ms), on one connection of its own, opened with
// the pool's configuration but outside the pool, from the first watcher until the
// last one stops or the store is closed; it reconnects with backoff when the
// connection is lost.
func (s *Store) WatchChanges(w sessionstore.ChangeWatcher) (stop func(), err error) {
	return s.sqlStore.WatchChanges(w)
}

// Close stops the store's listening for changes (WatchChanges). It does not close
// the pool, which the application owns; pgx prepares and caches the store's
// statements per connection of the pool.
func (s *Store) Close() error { return s.sqlStore.Close() }

// Option configures a Store.
type Option = engine.StoreOption

// WithClock makes the store read the time from now instead of time.Now, for tests.
func WithClock(now func() time.Time) Option { return engine.WithClock(now) }

// WithDeleteBatch sets how many expired rows one statement of DeleteExpired removes
// at most. Default 1000.
func WithDeleteBatch(n int) Option { return engine.WithDeleteBatch(n) }

// WithPollInterval sets how often a store that a cache watches reads the changes
// that every process made to its table (see WatchChanges), which bounds how long
// another instance may serve a session from its cache after a change. Each read is
// one query that returns nothing when nothing changed. Default 10 ms.
func WithPollInterval(d time.Duration) Option {
	return func(o *engine.StoreOptions) { o.PollInterval = d }
}
