package engine

// Benchmarks of the cache's own part of a request, without HTTP or a framework:
// the store's calls as the middleware makes them. They use only what the package
// has had since before the cache was bounded, so that the same file measures an
// older commit side by side (BENCHMARKS.md, "The cache's bound and age").

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// benchRecord is a small signed-in session under the i-th key.
func benchRecord(i int, expiry time.Time) Record {
	return Record{
		Key:    fmt.Sprintf("%043d", i),
		Data:   map[string]json.RawMessage{"user": json.RawMessage(`"alice"`), "n": json.RawMessage(`0`)},
		Expiry: expiry, Deadline: expiry,
	}
}

// newBenchCache returns a cached store over two MemoryStores holding n sessions,
// each read once so that the cache holds it, and their keys.
func newBenchCache(b *testing.B, n int) (*cachedStore, []string) {
	ctx := context.Background()
	s := newCachedStore(NewMemoryStore(), NewMemoryStore(), nil, nil)
	expiry := time.Now().Add(time.Hour)
	keys := make([]string, n)
	for i := range keys {
		rec := benchRecord(i, expiry)
		if err := s.store.Save(ctx, rec); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Load(ctx, rec.Key); err != nil {
			b.Fatal(err)
		}
		keys[i] = rec.Key
	}
	return s, keys
}

// BenchmarkCacheHit reads a cached session as a request does: lent (the
// middleware's read), copied (Load through WithCache), and lent from parallel
// goroutines over 1024 sessions.
func BenchmarkCacheHit(b *testing.B) {
	ctx := context.Background()
	b.Run("lent", func(b *testing.B) {
		s, keys := newBenchCache(b, 1)
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := loadLent(ctx, s, keys[0], 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("copied", func(b *testing.B) {
		s, keys := newBenchCache(b, 1)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Load(ctx, keys[0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lent-parallel", func(b *testing.B) {
		s, keys := newBenchCache(b, 1024)
		var next atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(1)) * 7919
			for pb.Next() {
				i++
				if _, _, err := loadLent(ctx, s, keys[i%len(keys)], 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkMemoryStoreHit reads a session from a MemoryStore used as the Store.
func BenchmarkMemoryStoreHit(b *testing.B) {
	ctx := context.Background()
	m := NewMemoryStore()
	rec := benchRecord(0, time.Now().Add(time.Hour))
	if err := m.Save(ctx, rec); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := m.loadLent(ctx, rec.Key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCacheWrite saves one session over and over through the cache, giving
// it the data as the middleware's commit does: the store's Save and the cache's
// write-through.
func BenchmarkCacheWrite(b *testing.B) {
	ctx := context.Background()
	s, keys := newBenchCache(b, 1)
	rec, err := s.Load(ctx, keys[0])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := saveGiven(ctx, s, rec); err != nil {
			b.Fatal(err)
		}
		rec.Version++
	}
}

// BenchmarkCacheFill puts sessions in a MemoryStore cache as fills after misses
// do, cycling over 200,000 keys: more than the default bound holds, so that a
// bounded cache evicts on each put once it is full, and an unbounded one grows to
// all of them.
func BenchmarkCacheFill(b *testing.B) {
	ctx := context.Background()
	const n = 200_000
	expiry := time.Now().Add(time.Hour)
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = benchRecord(i, expiry)
		recs[i].Version = 1
	}
	m := NewMemoryStore()
	for i := range recs {
		_ = m.Put(ctx, recs[i])
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		rec := recs[i%n]
		rec.Version = int64(2 + i/n)
		_ = m.Put(ctx, rec)
		i++
	}
}
