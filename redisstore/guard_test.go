package redisstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/echosess/echosess/sessionstore"
)

// TestReadOwnWrites: a Save is seen by the store's next Load at once, even while the
// client-side cache still holds the record as it was. The test forces that moment
// (after a write's reply, before its invalidation) to last: the store's cache
// answers with the reply it cached before the write.
func TestReadOwnWrites(t *testing.T) {
	client := newClient(t, singleAddrs, rueidis.ClientOption{})
	prefix := "echosess-test-" + time.Now().Format(time.RFC3339Nano) + ":"
	defer client.Do(context.Background(), client.B().Del().Key(prefix+"s:k").Build())
	s := New(client, WithPrefix(prefix))
	var held rueidis.RedisResult // the cached reply, while the invalidation is held back
	hold := false
	s.doCache = func(ctx context.Context, cmd rueidis.Cacheable, ttl time.Duration) rueidis.RedisResult {
		if hold {
			return held
		}
		held = client.DoCache(ctx, cmd, ttl)
		return held
	}
	ctx := t.Context()
	rec := sessionstore.Record{Key: "k", Expiry: time.Now().Add(time.Hour)}
	if err := s.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	for range 2 { // a miss that fills the cache, then a hit
		if got, err := s.Load(ctx, "k"); err != nil || got.Version != 1 {
			t.Fatalf("Load = version %d, %v; want 1", got.Version, err)
		}
	}
	if !held.IsCacheHit() {
		t.Fatal("the second Load missed the client cache")
	}
	hold = true
	rec.Version = 1
	if err := s.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Load(ctx, "k"); err != nil || got.Version != 2 {
		t.Fatalf("Load after a Save = version %d, %v; want 2", got.Version, err)
	}
	rec.Version = 2
	rec.Expiry = time.Now().Add(-time.Second) // the end of the session
	if err := s.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "k"); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Fatalf("Load after the end = %v, want ErrNotFound", err)
	}
}
