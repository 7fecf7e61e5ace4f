package engine

import (
	"context"
	"errors"
	"time"
)

// boundedStore gives each call to a Store at most a fixed time, so that a store that
// hangs fails the request instead of holding it.
type boundedStore struct {
	Store
	timeout time.Duration
}

// Unwrap returns the bounded store.
func (s boundedStore) Unwrap() Store { return s.Store }

func (s boundedStore) Load(ctx context.Context, key string) (Record, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.Load(ctx, key)
}

// LoadVersion loads the record under key within the timeout, with the inner store's
// LoadVersion when it is a VersionLoader, else its Load.
func (s boundedStore) LoadVersion(ctx context.Context, key string, minVersion int64) (Record, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return loadVersion(ctx, s.Store, key, minVersion)
}

func (s boundedStore) Save(ctx context.Context, rec Record) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.Save(ctx, rec)
}

// Touch touches rec in the inner store within the timeout, or saves it whole when
// that store is no Toucher.
func (s boundedStore) Touch(ctx context.Context, rec Record) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return touch(ctx, s.Store, rec)
}

func (s boundedStore) Delete(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.Delete(ctx, key)
}

// boundedCache gives each call to a Cache at most a fixed time, as boundedStore does
// for a Store: a cache that hangs costs at most that much before the store answers.
type boundedCache struct {
	Cache
	timeout time.Duration
}

func (c boundedCache) Load(ctx context.Context, key string) (Record, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return c.Cache.Load(ctx, key)
}

func (c boundedCache) Put(ctx context.Context, rec Record) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return c.Cache.Put(ctx, rec)
}

func (c boundedCache) Delete(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return c.Cache.Delete(ctx, key)
}

func (s boundedStore) UserSessions(ctx context.Context, userID string) ([]Record, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return userIndex(s.Store).UserSessions(ctx, userID)
}

func (s boundedStore) endListed(ctx context.Context, recs []Record) ([]string, error) {
	e, ok := find[batchEnder](s.Store)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return e.endListed(ctx, recs)
}
