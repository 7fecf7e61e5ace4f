package echosess_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/memstore"
	"github.com/echosess/echosess/storetest"
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) echosess.Store { return echosess.NewMemoryStore() })
}

func TestMemoryStoreBehindCache(t *testing.T) {
	storetest.Run(t, func(t *testing.T) echosess.Store {
		return echosess.WithCache(echosess.NewMemoryStore(), echosess.NewMemoryStore(), nil)
	})
}

// TestMemoryStoreBounded runs the suite on a MemoryStore with a bound it never
// reaches: the bound's accounting must not change what the store does.
func TestMemoryStoreBounded(t *testing.T) {
	storetest.Run(t, func(t *testing.T) echosess.Store {
		return echosess.NewMemoryStore(memstore.WithMaxBytes(16 << 20))
	})
}

// TestMemoryStoreBehindBoundedCache runs the suite behind a cache of 2 KiB a shard,
// which holds a session or two in each and evicts on most puts, and trusts what it
// holds for a millisecond: evictions and refills must not change what the store
// does.
func TestMemoryStoreBehindBoundedCache(t *testing.T) {
	storetest.Run(t, func(t *testing.T) echosess.Store {
		cache := echosess.NewMemoryStore(memstore.WithMaxBytes(128<<10), memstore.WithMaxAge(time.Millisecond))
		return echosess.WithCache(echosess.NewMemoryStore(), cache, nil)
	})
}

// plainStore hides every method of a Store beyond the interface, as a third-party
// store without the optional capabilities would.
type plainStore struct{ echosess.Store }

// TestPlainStoreBehindCache runs the suite, Touch included, on a cache in front of a
// store that is no Toucher: the cache layer touches it with a Save.
func TestPlainStoreBehindCache(t *testing.T) {
	storetest.Run(t, func(t *testing.T) echosess.Store {
		return echosess.WithCache(plainStore{echosess.NewMemoryStore()}, echosess.NewMemoryStore(), nil)
	})
}

// refusingStore refuses a cache in front of it, as the Redis store does.
type refusingStore struct{ echosess.Store }

func (refusingStore) RefuseCache() error { return errors.New("caches by itself") }

// TestWithCacheOnRefusingStore: WithCache returns a store that refuses a cache as it
// is, and logs why; the cache stays unused.
func TestWithCacheOnRefusingStore(t *testing.T) {
	var log bytes.Buffer
	store := refusingStore{echosess.NewMemoryStore()}
	cache := echosess.NewMemoryStore()
	got := echosess.WithCache(store, cache, slog.New(slog.NewTextHandler(&log, nil)))
	if got != echosess.Store(store) {
		t.Fatalf("WithCache = %T, want the store itself", got)
	}
	if !strings.Contains(log.String(), "caches by itself") {
		t.Errorf("log = %q, want the store's reason", log.String())
	}
	if err := got.Save(context.Background(), sessionRecord("k", time.Now().Add(time.Hour), 0, "a", "b")); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Load(context.Background(), "k"); !errors.Is(err, echosess.ErrNotFound) {
		t.Errorf("the cache holds the saved record (%v); want it unused", err)
	}
}

// TestCacheForgetsEndedSession ends a session through the cache layer by saving it
// expired at its version. The cache must forget it for good: a late fill from a load
// that read the store before the end must not bring it back.
func TestCacheForgetsEndedSession(t *testing.T) {
	ctx := context.Background()
	cache := echosess.NewMemoryStore()
	s := echosess.WithCache(echosess.NewMemoryStore(), cache, nil)
	if err := s.Save(ctx, sessionRecord("k", time.Now().Add(time.Hour), 0, "a", "b")); err != nil {
		t.Fatal(err)
	}
	loaded, err := s.Load(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	ended := loaded
	ended.Expiry = time.Now().Add(-time.Second)
	if err := s.Save(ctx, ended); err != nil {
		t.Fatalf("end at version %d: %v", ended.Version, err)
	}
	if err := cache.Put(ctx, loaded); err != nil { // the late fill
		t.Fatal(err)
	}
	if rec, err := s.Load(ctx, "k"); !errors.Is(err, echosess.ErrNotFound) {
		t.Fatalf("Load after the end and a late fill = version %d, %v; want ErrNotFound", rec.Version, err)
	}
}
