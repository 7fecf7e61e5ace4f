// Package memstore keeps echosess sessions in process memory: the store of a
// single-instance app or a test, and the cache (Config.Cache) in front of a store
// that several instances share. It imports no database driver.
//
//	store := memstore.New()
//
// echosess.NewMemoryStore, in both Echo adapters, is New.
package memstore

import (
	"context"
	"time"

	"github.com/echosess/echosess/internal/engine"
	"github.com/echosess/echosess/sessionstore"
)

func init() {
	engine.RegisterPublic(func(s *Store) sessionstore.Store { return s.memory })
}

// memory is the engine's store, which Store holds.
type memory = engine.MemoryStore

// Store keeps sessions in process memory. It is a sessionstore.Store for
// single-instance apps and tests, and a sessionstore.Cache in front of a slower
// store. Records are copied in and out, so callers never share memory with it.
// Expired records are never returned; each of its shards purges them once its
// writes since the last purge reach its size, and when it is full (WithMaxBytes);
// DeleteExpired purges them at once. A record that a Save ends (saved expired at its
// version, as a logout does) is removed at once.
//
// What Save stores is the store's own and stays until it expires or is deleted, or
// with WithMaxBytes, until a full store evicts it, if it is bound to no user; what
// Put stores is a cached copy, which the bound may evict and WithMaxAge stops
// trusting. A Store is safe for concurrent use.
type Store struct{ *memory }

// New returns an empty Store. Without options, what it caches takes at most about
// 64 MiB and is trusted for a minute (WithMaxBytes, WithMaxAge), and what it saves is
// not bounded.
func New(opts ...Option) *Store { return &Store{engine.NewMemoryStore(opts...)} }

// Load returns a copy of the live record under key, or sessionstore.ErrNotFound.
func (s *Store) Load(ctx context.Context, key string) (sessionstore.Record, error) {
	return s.memory.Load(ctx, key)
}

// Save stores a copy of rec with Version rec.Version+1 if the live record under
// rec.Key is at rec.Version (0: none), and returns sessionstore.ErrConflict
// otherwise. A record that rec ends, being expired already, is removed. When the
// bound of WithMaxBytes leaves no room even after the store gave up all it may, it
// fails with sessionstore.ErrStoreFull and stores nothing.
func (s *Store) Save(ctx context.Context, rec sessionstore.Record) error {
	return s.memory.Save(ctx, rec)
}

// Touch stores rec.Expiry and rec.Deadline with Version rec.Version+1 if the live
// record under rec.Key is at rec.Version, keeping its data, and returns
// sessionstore.ErrConflict otherwise. It ignores rec.Data and copies nothing.
func (s *Store) Touch(ctx context.Context, rec sessionstore.Record) error {
	return s.memory.Touch(ctx, rec)
}

// Put stores a copy of rec as it is, unless the record held under rec.Key is newer
// or was deleted: it makes a Store usable as a sessionstore.Cache. What it stores
// may be evicted, and is trusted for the age of WithMaxAge.
func (s *Store) Put(ctx context.Context, rec sessionstore.Record) error {
	return s.memory.Put(ctx, rec)
}

// Delete removes the record under key. It leaves a tombstone until the record would
// have expired, so that a stale Put cannot revive a destroyed session.
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.memory.Delete(ctx, key)
}

// DeleteExpired removes every expired record and tombstone and reports how many
// records it removed.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	return s.memory.DeleteExpired(ctx)
}

// UserSessions returns copies of the live saved records bound to userID. Each shard
// indexes its records by user, so it reads only those.
func (s *Store) UserSessions(ctx context.Context, userID string) ([]sessionstore.Record, error) {
	return s.memory.UserSessions(ctx, userID)
}

// Option configures a Store.
type Option = engine.StoreOption

// WithClock makes the store read the time from now instead of time.Now, for tests.
func WithClock(now func() time.Time) Option { return engine.WithClock(now) }

// WithMaxBytes bounds the heap that the store's records take to about n bytes, as it
// estimates them, n/64 in each of its shards. To stay within the bound it evicts
// what Put cached, and tombstones, the least recently read first (roughly). What
// Save stored counts too: a shard that a Save would take past the bound first purges
// its expired records, then evicts what Put cached, then the saved sessions bound to
// no user (Record.UserID ""), the least recently used first (roughly), then the
// links that RenewID leaves under a renewed session's old key. It never evicts a
// session bound to a user: only when what is left is those does the Save fail with
// sessionstore.ErrStoreFull. So a flood of new anonymous sessions (a crawler) cannot
// lock signed-in users out, at the cost of the anonymous sessions, such as a
// visitor's cart, used least recently. A negative n removes the bound. Default: 64
// MiB for what Put caches and no bound on saved records, so that a Store serving as
// Config.Cache is bounded without this option and one serving as the Store is not.
func WithMaxBytes(n int64) Option { return engine.WithMaxBytes(n) }

// WithMaxAge sets how long the store trusts a record that Put cached: a Load after
// that reports sessionstore.ErrNotFound, so that a cache in front of a store reads
// the store again and refills. It bounds how stale a cache can be about writes it
// does not see, such as another app instance's. Saved records do not age. A
// negative d trusts a cached record until it expires. Default 1 minute.
func WithMaxAge(d time.Duration) Option { return engine.WithMaxAge(d) }
