package echosess

import (
	"context"
	"errors"
	"log/slog"
)

// WithCache returns a Store that reads through cache and writes through to both.
// Loads try the cache first and fill it from store on a miss; saves and deletes go to
// store, then to the cache. The store stays the source of truth: a conflict or error
// from it evicts the cached copy, and a failing cache only costs speed (failures are
// logged to logger, or slog.Default when it is nil).
//
// A cache in one process does not see writes made by another, so use a per-process
// cache with several app instances only when each session sticks to one instance.
func WithCache(store Store, cache Cache, logger *slog.Logger) Store {
	if logger == nil {
		logger = slog.Default()
	}
	return &cachedStore{store: store, cache: cache, logger: logger}
}

type cachedStore struct {
	store  Store
	cache  Cache
	logger *slog.Logger
}

func (s *cachedStore) Load(ctx context.Context, key string) (Record, error) {
	rec, err := s.cache.Load(ctx, key)
	if err == nil {
		return rec, nil
	}
	if !errors.Is(err, ErrNotFound) {
		s.cacheFailed(ctx, "load", err)
	}
	rec, err = s.store.Load(ctx, key)
	if err != nil {
		return rec, err
	}
	if err := s.cache.Put(ctx, rec); err != nil {
		s.cacheFailed(ctx, "fill", err)
	}
	return rec, nil
}

func (s *cachedStore) Save(ctx context.Context, rec Record) error {
	if err := s.store.Save(ctx, rec); err != nil {
		s.evict(ctx, rec.Key)
		return err
	}
	rec.Version++
	if err := s.cache.Put(ctx, rec); err != nil {
		s.cacheFailed(ctx, "put", err)
		s.evict(ctx, rec.Key)
	}
	return nil
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

func (s *cachedStore) evict(ctx context.Context, key string) {
	if err := s.cache.Delete(ctx, key); err != nil {
		s.cacheFailed(ctx, "evict", err)
	}
}

func (s *cachedStore) cacheFailed(ctx context.Context, op string, err error) {
	s.logger.WarnContext(ctx, "echosess: cache "+op+" failed; using the store", "error", err)
}

// lender is a Store that can lend a record's data read-only instead of copying it;
// lent reports whether it did.
type lender interface {
	loadLent(ctx context.Context, key string) (rec Record, lent bool, err error)
}

// loadLent loads the record under key from store, borrowing its data when the store
// can lend it.
func loadLent(ctx context.Context, store Store, key string) (Record, bool, error) {
	if l, ok := store.(lender); ok {
		return l.loadLent(ctx, key)
	}
	rec, err := store.Load(ctx, key)
	return rec, false, err
}

// loadLent tries the cache as Load does, borrowing a cached record's data when the
// cache can lend it.
func (s *cachedStore) loadLent(ctx context.Context, key string) (Record, bool, error) {
	l, ok := s.cache.(lender)
	if !ok {
		rec, err := s.Load(ctx, key)
		return rec, false, err
	}
	rec, lent, err := l.loadLent(ctx, key)
	if err == nil {
		return rec, lent, nil
	}
	if !errors.Is(err, ErrNotFound) {
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

// giver is a Store that can keep a saved record's data instead of copying it; given
// reports whether it did, and then the caller must not change the data again.
type giver interface {
	saveGiven(ctx context.Context, rec Record) (given bool, err error)
}

// saveGiven saves rec to store, giving it rec.Data when the store can keep it.
func saveGiven(ctx context.Context, store Store, rec Record) (bool, error) {
	if g, ok := store.(giver); ok {
		return g.saveGiven(ctx, rec)
	}
	return false, store.Save(ctx, rec)
}

// saveGiven saves as Save does, giving rec.Data to the cache when it can keep it.
func (s *cachedStore) saveGiven(ctx context.Context, rec Record) (bool, error) {
	g, ok := s.cache.(interface {
		putGiven(ctx context.Context, rec Record) error
	})
	if !ok {
		return false, s.Save(ctx, rec)
	}
	if err := s.store.Save(ctx, rec); err != nil {
		s.evict(ctx, rec.Key)
		return false, err
	}
	rec.Version++
	if err := g.putGiven(ctx, rec); err != nil {
		s.cacheFailed(ctx, "put", err)
		s.evict(ctx, rec.Key)
		return false, nil
	}
	return true, nil
}
