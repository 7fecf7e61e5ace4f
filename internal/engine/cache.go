package engine

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"
)

// WithCache returns a Store that reads through cache and writes through to both.
// Loads try the cache first and fill it from store on a miss; saves and deletes go to
// store, then to the cache. The store stays the source of truth: a conflict or error
// from it evicts the cached copy, and a failing cache only costs speed (failures are
// logged to logger, or slog.Default when it is nil).
//
// When store is a ChangeFeed, such as the PostgreSQL store, the cache stays
// coherent with every other process's writes: it evicts a record as soon as the
// store reports its change, and it is not used while changes may go unreported
// (until the feed reports Watching, and after each Lost until it recovers, when a
// MemoryStore cache starts again empty). Close stops the watching; closing the
// store stops it too. Otherwise, a cache in one process does not see writes made
// by another: a MemoryStore trusts what it caches for at most the age of
// WithMaxAge, a minute by default, which bounds how stale it can be. Either way it
// evicts past the bound of WithMaxBytes, 64 MiB by default.
//
// A store that refuses a cache (a CacheRefuser) is returned as it is, and the
// reason is logged.
func WithCache(store Store, cache Cache, logger *slog.Logger) Store {
	if err := refusedCache(store); err != nil {
		if logger == nil {
			logger = slog.Default()
		}
		logger.Warn("echosess: WithCache leaves the cache out", "error", err)
		return store
	}
	return newCachedStore(own(store), own(cache), logger, time.Now)
}

// refusedCache returns why store takes no cache in front of it (see CacheRefuser),
// or nil.
func refusedCache(store Store) error {
	if r, ok := find[CacheRefuser](store); ok {
		return r.RefuseCache()
	}
	return nil
}

// newCachedStore is WithCache with the clock that tells a saved record that has
// already expired, which the cache must forget, from a live one. A nil logger is
// slog.Default and a nil now is time.Now. store and cache are the engine's own
// (see own): NewManager and WithCache unwrap them first.
func newCachedStore(store Store, cache Cache, logger *slog.Logger, now func() time.Time) *cachedStore {
	if logger == nil {
		logger = slog.Default()
	}
	if now == nil {
		now = time.Now
	}
	mem, _ := cache.(*MemoryStore)
	s := &cachedStore{store: store, cache: cache, mem: mem, logger: logger, now: now}
	if feed, ok := find[ChangeFeed](store); ok {
		s.coherent = true
		stop, err := feed.WatchChanges(s)
		if err != nil {
			s.coherent = false
			if !errors.Is(err, errors.ErrUnsupported) {
				logger.Warn("echosess: cannot watch the store's changes; the cache trusts what it holds for its age", "error", err)
			}
		}
		s.stopWatching = stop
	}
	if d, ok := find[deletionReporter](store); ok && d != deletionReporter(mem) && d.deletionsOf() != nil {
		s.stopDeletions = d.deletionsOf().watch(func(keys []string) {
			for _, key := range keys {
				s.evict(context.Background(), key)
			}
		})
	}
	return s
}

type cachedStore struct {
	store  Store
	cache  Cache
	mem    *MemoryStore // cache, when it is exactly a MemoryStore, whose fills carry tickets
	logger *slog.Logger
	now    func() time.Time

	// coherent is set when the store is a ChangeFeed that s watches: the cache is
	// used only while the feed reports every change (watched), which a cache that
	// cannot be emptied never is again once it has missed changes.
	coherent     bool
	watched      atomic.Bool
	lost         bool // the feed has reported Lost; only the feed's calls use it
	stopWatching func()
	// stopDeletions stops the reports of a store of this package of what was
	// deleted through it, such as a revocation outside a request.
	stopDeletions func()
}

// usable reports whether the cache may be read and filled now.
func (s *cachedStore) usable() bool {
	return !s.coherent || s.watched.Load()
}

// Watching is the ChangeWatcher's: the store reports every change from now on.
// Changes before may have gone unreported, so a MemoryStore cache drops what it
// holds; another Cache, which cannot be emptied, is not used again after a loss.
func (s *cachedStore) Watching() {
	if s.mem == nil && s.lost {
		s.logger.Warn("echosess: the cache may have missed changes and cannot be emptied; it is not used again")
		return
	}
	if s.mem != nil {
		s.mem.dropCached()
	}
	if s.lost {
		s.logger.Info("echosess: the store's change reports resumed; the cache starts empty")
	}
	s.watched.Store(true)
}

// Lost is the ChangeWatcher's: until the next Watching, requests read the store.
func (s *cachedStore) Lost(err error) {
	s.watched.Store(false)
	s.lost = true
	if errors.Is(err, errStoreClosed) {
		return
	}
	s.logger.Warn("echosess: changes to the store may go unreported; reading from the store until they resume", "error", err)
}

// Changed is the ChangeWatcher's: it evicts the cached copy of the record under key
// unless it is already at version (the copy of this process's own write).
func (s *cachedStore) Changed(key string, version int64) {
	if s.mem != nil {
		s.mem.invalidate(key, version)
		return
	}
	ctx := context.Background()
	if rec, err := s.cache.Load(ctx, key); err == nil && version > 0 && rec.Version >= version {
		return
	}
	s.evict(ctx, key)
}

// Close stops watching the store's changes, if s did; the cache is not used after.
func (s *cachedStore) Close() error {
	if s.stopWatching != nil {
		s.stopWatching() // no report comes after it returns
		s.watched.Store(false)
	}
	if s.stopDeletions != nil {
		s.stopDeletions()
	}
	return nil
}

func (s *cachedStore) Load(ctx context.Context, key string) (Record, error) {
	rec, _, err := s.load(ctx, key, false, 0)
	return rec, err
}

func (s *cachedStore) Save(ctx context.Context, rec Record) error {
	_, err := s.save(ctx, rec, false)
	return err
}

// load tries the cache, then the store, and fills the cache on a store hit. A
// cached copy older than minVersion counts as a miss. With lend, it borrows the
// cached data when the cache can lend it, and reports whether it did.
func (s *cachedStore) load(ctx context.Context, key string, lend bool, minVersion int64) (Record, bool, error) {
	if !s.usable() {
		rec, err := s.store.Load(ctx, key)
		return rec, false, err
	}
	if s.mem != nil {
		return s.loadMemory(ctx, key, lend, minVersion)
	}
	rec, err := s.cache.Load(ctx, key)
	if err == nil && rec.Version >= minVersion {
		return rec, false, nil
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		s.cacheFailed(ctx, "load", err)
	}
	rec, err = s.store.Load(ctx, key)
	if err != nil {
		return rec, false, err
	}
	if err := s.cache.Put(ctx, rec); err != nil {
		s.cacheFailed(ctx, "fill", err)
	}
	return rec, false, nil
}

// loadMemory is load from a MemoryStore cache, which lends its data and whose fill
// carries the ticket of the miss: the fill is refused if the cache evicted or
// forgot the key while the store was read, since what it dropped may have been
// newer than what the store returned, or the tombstone of a delete.
func (s *cachedStore) loadMemory(ctx context.Context, key string, lend bool, minVersion int64) (Record, bool, error) {
	rec, t, err := s.mem.lookup(key, minVersion)
	if err == nil {
		if !lend {
			rec.Data = cloneData(rec.Data)
		}
		return rec, lend, nil
	}
	rec, err = s.store.Load(ctx, key)
	if err != nil {
		return rec, false, err
	}
	cached := rec
	cached.Data = cloneData(rec.Data)
	s.mem.fill(cached, t)
	return rec, false, nil
}

// save saves rec to the store and then puts it in the cache. With give, it gives
// rec.Data to the cache when the cache can keep it, and reports whether it did.
func (s *cachedStore) save(ctx context.Context, rec Record, give bool) (bool, error) {
	t := s.ticket(rec.Key)
	if err := s.store.Save(ctx, rec); err != nil {
		s.forget(ctx, rec.Key, err)
		return false, err
	}
	rec.Version++
	return s.putSaved(ctx, rec, give, t), nil
}

// Touch touches rec in the store (a Save when the store is no Toucher) and then puts
// a copy of it at its new version in the cache, so rec.Data must be the data loaded
// at rec.Version. A conflict or error from the store evicts the cached copy.
func (s *cachedStore) Touch(ctx context.Context, rec Record) error {
	t := s.ticket(rec.Key)
	if err := touch(ctx, s.store, rec); err != nil {
		s.forget(ctx, rec.Key, err)
		return err
	}
	rec.Version++
	s.putSaved(ctx, rec, false, t)
	return nil
}

// ticket is the ticket of a write through to a MemoryStore cache, taken before the
// store call: a write that a concurrent one overtook in the store may reach the
// cache second, after the newer copy was evicted.
func (s *cachedStore) ticket(key string) ticket {
	if s.mem == nil {
		return ticket{}
	}
	return s.mem.ticket(key)
}

// putSaved puts rec, as the store now holds it, in the cache, with the ticket t of
// its store call; with give, it gives rec.Data to the cache when the cache can keep
// it, and reports whether it did. A record that has already expired is evicted
// instead: the middleware ends a session by saving it expired at its version, and
// an eviction leaves a MemoryStore a tombstone, so that a fill from a load that
// raced with the end cannot revive it.
func (s *cachedStore) putSaved(ctx context.Context, rec Record, give bool, t ticket) bool {
	if !s.usable() {
		return false
	}
	now := s.now()
	if rec.LastActive = now; rec.Version == 1 {
		rec.Created = now // as the store keeps them, from its own clock
	}
	if !rec.Expiry.After(now) {
		s.evict(ctx, rec.Key)
		return false
	}
	if s.mem != nil {
		if !give {
			rec.Data = cloneData(rec.Data)
		}
		s.mem.fill(rec, t)
		return give
	}
	if err := s.cache.Put(ctx, rec); err != nil {
		s.cacheFailed(ctx, "put", err)
		s.evict(ctx, rec.Key)
	}
	return false
}

func (s *cachedStore) Delete(ctx context.Context, key string) error {
	err := s.store.Delete(ctx, key)
	s.evict(ctx, key)
	return err
}

func (s *cachedStore) DeleteExpired(ctx context.Context) (int64, error) {
	if cleaner, ok := s.cache.(interface {
		DeleteExpired(context.Context) (int64, error)
	}); ok {
		if _, err := cleaner.DeleteExpired(ctx); err != nil {
			s.cacheFailed(ctx, "delete expired", err)
		}
	}
	return s.store.DeleteExpired(ctx)
}

// UserSessions lists the records of userID from the store, which keeps the index.
func (s *cachedStore) UserSessions(ctx context.Context, userID string) ([]Record, error) {
	return userIndex(s.store).UserSessions(ctx, userID)
}

// endListed ends the listed records in the store and evicts them from the cache.
func (s *cachedStore) endListed(ctx context.Context, recs []Record) ([]string, error) {
	e, ok := find[batchEnder](s.store)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	keys, err := e.endListed(ctx, recs)
	for _, key := range keys {
		s.evict(ctx, key)
	}
	return keys, err
}

// deletionsOf makes a revocation through the cache reach the other caches in front
// of the store of this process, as one through the store itself does.
func (s *cachedStore) deletionsOf() *deletions {
	if d, ok := find[deletionReporter](s.store); ok {
		return d.deletionsOf()
	}
	return nil
}

// forget drops the cached copy of a record whose write failed with err. After a lost
// compare-and-swap the record lives on at a newer version, which the next load reads
// from the store and caches again: a MemoryStore cache forgets it without the
// tombstone of an eviction, which would keep the session out of the cache until it
// expired.
func (s *cachedStore) forget(ctx context.Context, key string, err error) {
	if s.mem != nil && errors.Is(err, ErrConflict) {
		s.mem.forget(key)
		return
	}
	s.evict(ctx, key)
}

func (s *cachedStore) evict(ctx context.Context, key string) {
	if err := s.cache.Delete(ctx, key); err != nil {
		s.cacheFailed(ctx, "evict", err)
	}
}

func (s *cachedStore) cacheFailed(ctx context.Context, op string, err error) {
	s.logger.WarnContext(ctx, "echosess: cache "+op+" failed; using the store", "error", err)
}

// loadLent loads the record under key from store, borrowing its data read-only when
// store is one of this package's own, which can lend it; lent reports whether it
// did. The check is for the exact types: a type that embeds a MemoryStore to
// override its Load must be called through that Load. A cache in front of the
// store, or a VersionLoader, does not answer with a copy older than minVersion, the
// version the client last saw written (see Manager.versioned).
func loadLent(ctx context.Context, store Store, key string, minVersion int64) (rec Record, lent bool, err error) {
	switch l := store.(type) {
	case *MemoryStore:
		return l.loadLent(ctx, key)
	case *cachedStore:
		return l.load(ctx, key, true, minVersion)
	}
	rec, err = loadVersion(ctx, store, key, minVersion)
	return rec, false, err
}

// loadVersion loads the record under key from store, with its LoadVersion when it is
// a VersionLoader and minVersion is known (see Manager.versioned).
func loadVersion(ctx context.Context, store Store, key string, minVersion int64) (Record, error) {
	if v, ok := store.(VersionLoader); ok && minVersion > 0 {
		return v.LoadVersion(ctx, key, minVersion)
	}
	return store.Load(ctx, key)
}

// saveGiven saves rec to store, giving it rec.Data when store is one of this
// package's own, which can keep it (the exact types, as for loadLent); given reports
// whether it did, and then the caller must not change the data again.
func saveGiven(ctx context.Context, store Store, rec Record) (given bool, err error) {
	switch g := store.(type) {
	case *MemoryStore:
		return g.saveGiven(ctx, rec)
	case *cachedStore:
		return g.saveGiven(ctx, rec)
	}
	return false, store.Save(ctx, rec)
}

// touch touches rec in store when store is a Toucher, and saves it whole otherwise:
// rec.Data must be the data loaded at rec.Version.
func touch(ctx context.Context, store Store, rec Record) error {
	if t, ok := store.(Toucher); ok {
		return t.Touch(ctx, rec)
	}
	return store.Save(ctx, rec)
}

// saveGiven is Save, giving rec.Data to the cache when it can keep it.
func (s *cachedStore) saveGiven(ctx context.Context, rec Record) (bool, error) {
	return s.save(ctx, rec, true)
}
