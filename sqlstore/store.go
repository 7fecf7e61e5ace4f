// Package sqlstore is the session store of echosess in an SQL database: the Store
// that sqlitestore.New, pgstore.New and mysqlstore.New return, and the options they
// share. Those packages hold what differs between the databases (the driver, the
// queries, the migrations); this one imports no driver.
package sqlstore

import (
	"context"
	"time"

	"github.com/echosess/echosess/internal/engine"
	"github.com/echosess/echosess/sessionstore"
)

func init() {
	engine.RegisterPublic(func(s *Store) sessionstore.Store { return s.sqlStore })
	engine.PublicSQLStore = func(s *engine.SQLStore) any { return &Store{s} }
}

// sqlStore is the engine's SQL store, which Store holds.
type sqlStore = engine.SQLStore

// Store is a sessionstore.Store in an SQL table, with the optional Toucher,
// UserIndex and ChangeFeed. Every statement passes the store's clock as "now", so
// expired rows are filtered in SQL and never returned. A Store is safe for
// concurrent use. It does not own the database handle or pool, which the
// application opened and closes.
type Store struct{ *sqlStore }

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
// on the expiry, so that it never holds locks for long; it returns when a batch
// comes back short or ctx is done.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	return s.sqlStore.DeleteExpired(ctx)
}

// UserSessions returns the live records bound to userID in one statement through the
// index on the user. A record whose data does not decode is listed with nil Data,
// so that it can still be revoked.
func (s *Store) UserSessions(ctx context.Context, userID string) ([]sessionstore.Record, error) {
	return s.sqlStore.UserSessions(ctx, userID)
}

// WatchChanges reports the changes to a PostgreSQL or MySQL store's table, made by
// any process, to w; see sessionstore.ChangeFeed. The triggers of the migrations
// record each change, whatever the writer's isolation level and snapshot, in a
// table that the store reads every pgstore.WithPollInterval or
// mysqlstore.WithPollInterval (10 ms), on one connection of its own (on PostgreSQL
// opened with the pool's configuration outside the pool, on MySQL held from the
// pool), from the first watcher until the last one stops or the store is closed;
// it reconnects with backoff when the connection is lost. A SQLite store reports no
// changes, since SQLite notifies no other process: WatchChanges fails with an
// error wrapping errors.ErrUnsupported.
func (s *Store) WatchChanges(w sessionstore.ChangeWatcher) (stop func(), err error) {
	return s.sqlStore.WatchChanges(w)
}

// Close stops a PostgreSQL or MySQL store's listening for changes (WatchChanges),
// and closes the statements that a SQLite store prepared on its database, so that
// an application that drops the store but keeps the database leaks none; closing
// the database closes them too. It does not close the database or pool; a SQLite store
// used after Close runs its statements unprepared.
func (s *Store) Close() error { return s.sqlStore.Close() }

// Option configures a Store.
type Option = engine.StoreOption

// WithClock makes the store read the time from now instead of time.Now, for tests.
func WithClock(now func() time.Time) Option { return engine.WithClock(now) }

// WithDeleteBatch sets how many expired rows one statement of DeleteExpired removes
// at most. Default 1000.
func WithDeleteBatch(n int) Option { return engine.WithDeleteBatch(n) }
