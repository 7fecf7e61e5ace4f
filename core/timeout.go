package core

import (
	"context"
	"time"
)

// boundedStore gives each call to a Store at most a fixed time, so that a store that
// hangs fails the request instead of holding it.
type boundedStore struct {
	Store
	timeout time.Duration
}

func (s boundedStore) Load(ctx context.Context, key string) (Record, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.Load(ctx, key)
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
