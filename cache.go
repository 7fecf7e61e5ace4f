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
