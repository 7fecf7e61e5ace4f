package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testClock is a clock that tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// smallSession is a record of a signed-in session, as TestMemoryPerSession has.
func smallSession(key string, expiry time.Time, version int64) Record {
	return Record{
		Key:    key,
		Data:   map[string]json.RawMessage{"user": json.RawMessage(`"alice"`), "n": json.RawMessage(`0`)},
		Expiry: expiry, Deadline: expiry, Version: version,
	}
}

// testKey is the i-th key of a test, as long as a real store key.
func testKey(i int) string { return fmt.Sprintf("%043d", i) }

// keysInShard returns n keys, none of them except, that fall in the shard of except.
func keysInShard(m *MemoryStore, except string, n int) []string {
	want := m.hash(except) % memoryShards
	var keys []string
	for i := 0; len(keys) < n; i++ {
		if k := fmt.Sprintf("other-%040d", i); m.hash(k)%memoryShards == want {
			keys = append(keys, k)
		}
	}
	return keys
}

// holds reports whether the shard of key holds an entry under it, trusted or not.
func holds(m *MemoryStore, key string) bool {
	s := m.shard(m.hash(key))
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.records[key]
	return ok
}

// checkBound fails t when a shard of m is over its budget, or its count of bytes
// is not the sum of its entries, and returns the bytes of all shards.
func checkBound(t *testing.T, m *MemoryStore) int64 {
	t.Helper()
	var total int64
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.RLock()
		var sum int64
		cached := 0
		for _, e := range s.records {
			sum += int64(e.size)
			if e.cached() {
				cached++
			}
		}
		bytes, count := s.bytes, s.cached
		s.mu.RUnlock()
		if sum != bytes || cached != count {
			t.Fatalf("shard %d counts %d bytes and %d cached records; its entries have %d and %d", i, bytes, count, sum, cached)
		}
		if bytes > m.budget {
			t.Fatalf("shard %d holds %d bytes, over its budget of %d", i, bytes, m.budget)
		}
		total += bytes
	}
	return total
}

// TestRecordSizeCoversHeap checks recordSize against the heap that records of a few
// shapes take in a MemoryStore: the estimate must not fall below it, or the bound
// of WithMaxBytes would not bound the heap.
func TestRecordSizeCoversHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap of 100,000 records")
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	data := func(members, size int) map[string]json.RawMessage {
		d := make(map[string]json.RawMessage, members)
		for i := range members {
			d[fmt.Sprintf("key%d", i)] = json.RawMessage(strings.Repeat("7", size))
		}
		return d
	}
	const n = 10_000
	for _, tt := range []struct {
		name      string
		givenData map[string]json.RawMessage // nil: a tombstone
	}{
		{"tombstone", nil},
		{"empty", data(0, 0)},
		{"2 small members", data(2, 7)},
		{"8 small members", data(8, 7)},
		{"9 small members", data(9, 7)},
		{"20 small members", data(20, 7)},
		{"one 4 KiB member", data(1, 4096)},
		{"30 members of 100 B", data(30, 100)},
	} {
		m := NewMemoryStore(WithMaxBytes(1 << 34))
		keys := make([]string, n)
		for i := range keys {
			keys[i] = testKey(i)
		}
		expiry := time.Now().Add(time.Hour)
		before := heap()
		for _, key := range keys {
			if tt.givenData == nil {
				_ = m.Delete(context.Background(), key)
			} else {
				_ = m.Put(context.Background(), Record{Key: key, Data: tt.givenData, Expiry: expiry, Version: 1})
			}
		}
		perRecord := (float64(heap()-before) + float64(n*48)) / n // the keys were made before
		estimate := float64(checkBound(t, m)) / n
		runtime.KeepAlive(m)
		t.Logf("%-20s %5.0f B of heap per record, estimated %5.0f", tt.name, perRecord, estimate)
		if estimate < perRecord {
			t.Errorf("%s: estimated %.0f B per record, below the %.0f B it takes", tt.name, estimate, perRecord)
		}
	}
}

// TestMemoryCacheBound puts many distinct sessions in a bounded cache, from several
// goroutines that also read them: no shard goes over its budget at any time, and
// the cache is used up to about its bound.
func TestMemoryCacheBound(t *testing.T) {
	const bound = 256 << 10
	m := NewMemoryStore(WithMaxBytes(bound))
	ctx := context.Background()
	expiry := time.Now().Add(time.Hour)
	const workers, perWorker = 4, 5000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				key := testKey(w*perWorker + i)
				_ = m.Put(ctx, smallSession(key, expiry, 1))
				if _, err := m.Load(ctx, key); err != nil && !errors.Is(err, ErrNotFound) {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	total := checkBound(t, m)
	size := int64(recordSize(smallSession(testKey(0), expiry, 1)))
	t.Logf("%d of %d bytes used: %d sessions of %d B", total, bound, total/size, size)
	if total < bound*8/10 {
		t.Errorf("%d bytes used of a bound of %d: the cache evicts too much", total, bound)
	}
	for i := range workers * perWorker {
		_ = m.Put(ctx, smallSession(testKey(i), expiry, 2))
		if i%997 == 0 {
			checkBound(t, m)
		}
	}
	checkBound(t, m)
}

// TestMemoryCacheKeepsHot reads a few sessions between the puts of many others that
// are never read again: eviction takes the cold ones and keeps the hot ones.
func TestMemoryCacheKeepsHot(t *testing.T) {
	m := NewMemoryStore(WithMaxBytes(64 * 32 << 10)) // about 36 sessions a shard
	ctx := context.Background()
	expiry := time.Now().Add(time.Hour)
	hot := make([]string, 64)
	for i := range hot {
		hot[i] = fmt.Sprintf("hot-%039d", i)
		_ = m.Put(ctx, smallSession(hot[i], expiry, 1))
	}
	const cold = 10_000
	for i := range cold {
		_ = m.Put(ctx, smallSession(testKey(i), expiry, 1))
		for _, key := range hot {
			if _, err := m.Load(ctx, key); err != nil {
				t.Fatalf("hot session %s evicted after %d cold puts", key, i)
			}
		}
	}
	early := 0
	for i := range cold / 10 {
		if _, err := m.Load(ctx, testKey(i)); err == nil {
			early++
		}
	}
	t.Logf("%d of the first %d cold sessions still cached", early, cold/10)
	if early > cold/100 {
		t.Errorf("%d of the first %d cold sessions still cached", early, cold/10)
	}
	checkBound(t, m)
}

// TestMemoryStoreNeverEvictsSaved fills a MemoryStore used as the Store past its
// bound: no saved session is lost, a Save that does not fit fails with ErrStoreFull,
// sessions that are already there can still be touched and rewritten, and what Put
// cached beside them is evicted to make room for them.
func TestMemoryStoreNeverEvictsSaved(t *testing.T) {
	ctx := context.Background()
	expiry := time.Now().Add(time.Hour)
	m := NewMemoryStore(WithMaxBytes(64 * 4 << 10)) // about 4 sessions a shard
	for i := range 500 {
		_ = m.Put(ctx, smallSession(fmt.Sprintf("cached-%036d", i), expiry, 1))
	}
	var saved []Record
	full := make(map[uint64]bool) // the shards that refused a save
	for i := 0; len(full) < memoryShards; i++ {
		if i == 100_000 {
			t.Fatal("100,000 saves and the store is not full")
		}
		rec := smallSession(testKey(i), expiry, 0)
		switch err := m.Save(ctx, rec); {
		case err == nil:
			rec.Version = 1
			saved = append(saved, rec)
		case errors.Is(err, ErrStoreFull):
			full[m.hash(rec.Key)%memoryShards] = true
			if _, err := m.Load(ctx, rec.Key); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Load of a session whose Save failed: %v, want ErrNotFound", err)
			}
		default:
			t.Fatal(err)
		}
	}
	checkBound(t, m)
	for i, rec := range saved {
		got, err := m.Load(ctx, rec.Key)
		if err != nil {
			t.Fatalf("saved session %s lost: %v", rec.Key, err)
		}
		if got.Version != 1 {
			t.Fatalf("saved session %s at version %d", rec.Key, got.Version)
		}
		if i%2 == 0 {
			rec.Expiry = expiry.Add(time.Minute)
			if err := m.Touch(ctx, rec); err != nil {
				t.Fatalf("Touch of a saved session in a full store: %v", err)
			}
		} else if err := m.Save(ctx, rec); err != nil {
			t.Fatalf("rewrite of a saved session in a full store: %v", err)
		}
	}
	for i := range 500 {
		if _, err := m.Load(ctx, fmt.Sprintf("cached-%036d", i)); err == nil {
			t.Fatalf("cached record %d kept in a store that refuses saves", i)
		}
	}
	for _, rec := range saved {
		if err := m.Delete(ctx, rec.Key); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Save(ctx, smallSession("after the deletes", expiry, 0)); err != nil {
		t.Fatalf("Save after deleting every session: %v", err)
	}
	checkBound(t, m)
}

// TestMemoryStoreDefaultBoundNeverRefuses checks the default bound, here made small:
// it bounds what Put caches, but neither evicts nor refuses saved records, nor
// evicts cached ones to make room for them.
func TestMemoryStoreDefaultBoundNeverRefuses(t *testing.T) {
	ctx := context.Background()
	expiry := time.Now().Add(time.Hour)
	m := NewMemoryStore()
	if m.budget != defaultMaxBytes/memoryShards || m.strict {
		t.Fatalf("default budget %d a shard, strict %v", m.budget, m.strict)
	}
	m.budget = 4 << 10
	for i := range 200 {
		_ = m.Put(ctx, smallSession(fmt.Sprintf("cached-%036d", i), expiry, 1))
	}
	for i := range 2000 {
		if err := m.Save(ctx, smallSession(testKey(i), expiry, 0)); err != nil {
			t.Fatalf("save %d: %v", i, err)
		}
	}
	for i := range 200 {
		_ = m.Put(ctx, smallSession(fmt.Sprintf("cached after-%030d", i), expiry, 1))
	}
	for i := range 2000 {
		if _, err := m.Load(ctx, testKey(i)); err != nil {
			t.Fatalf("saved session %d lost: %v", i, err)
		}
	}
	cached := 0
	for i := range m.shards {
		cached += m.shards[i].cached
	}
	if limit := int(memoryShards * m.budget / int64(recordSize(smallSession(testKey(0), expiry, 1)))); cached > limit {
		t.Fatalf("%d cached records beside the saved ones, over the %d that the bound holds", cached, limit)
	}
}

// gatedStore is a Store whose Load, once armed, tells loaded what it read and waits
// for release before it returns: a load that reads the store before a concurrent
// change and fills the cache after it.
type gatedStore struct {
	Store
	armed   atomic.Bool
	loaded  chan Record
	release chan struct{}
}

func newGatedStore(s Store) *gatedStore {
	return &gatedStore{Store: s, loaded: make(chan Record), release: make(chan struct{})}
}

func (g *gatedStore) Load(ctx context.Context, key string) (Record, error) {
	rec, err := g.Store.Load(ctx, key)
	if g.armed.CompareAndSwap(true, false) {
		g.loaded <- rec
		<-g.release
	}
	return rec, err
}

// TestBoundedCacheStaleFills races a load that missed the cache with a change of
// the session, and evicts from the cache what the change left there (a tombstone, a
// newer copy) before the load fills it: the fill must not revive the ended session
// or bring back the older copy.
func TestBoundedCacheStaleFills(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name       string
		whenChange func(s *cachedStore, rec Record) error
		whenChurn  int  // puts of other keys in the session's shard after the change
		expectEnd  bool // the change ends the session; otherwise it saves version 2
	}{
		{"delete, tombstone evicted", func(s *cachedStore, rec Record) error { return s.Delete(ctx, rec.Key) }, 0, true},
		{"end at version, tombstone evicted", func(s *cachedStore, rec Record) error {
			rec.Expiry = rec.Expiry.Add(-2 * time.Hour)
			return s.Save(ctx, rec)
		}, 0, true},
		{"save, newer copy evicted", func(s *cachedStore, rec Record) error { return s.Save(ctx, rec) }, 0, false},
		{"delete, then more removals than the shard remembers", func(s *cachedStore, rec Record) error { return s.Delete(ctx, rec.Key) }, 3 * removalRing, true},
		{"save, then more removals than the shard remembers", func(s *cachedStore, rec Record) error { return s.Save(ctx, rec) }, 3 * removalRing, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			expiry := time.Now().Add(time.Hour)
			cache := NewMemoryStore(WithMaxBytes(64 * 2 << 10)) // 2 KiB a shard: two sessions
			store := newGatedStore(NewMemoryStore())
			s := newCachedStore(store, cache, nil, nil)
			rec := smallSession("the session", expiry, 0)
			if err := store.Save(ctx, rec); err != nil { // as another instance would
				t.Fatal(err)
			}
			rec.Version = 1
			store.armed.Store(true)
			done := make(chan error)
			go func() {
				_, err := s.Load(ctx, rec.Key)
				done <- err
			}()
			<-store.loaded
			if err := tt.whenChange(s, rec); err != nil {
				t.Fatal(err)
			}
			others := keysInShard(cache, rec.Key, 100+tt.whenChurn)
			n := 0
			for ; holds(cache, rec.Key) || n < tt.whenChurn; n++ {
				if n == len(others) {
					t.Fatal("the cache keeps what the change left")
				}
				_ = cache.Put(ctx, smallSession(others[n], expiry, 1))
			}
			close(store.release)
			if err := <-done; err != nil {
				t.Fatalf("the racing load: %v", err)
			}
			got, err := s.Load(ctx, rec.Key)
			switch {
			case tt.expectEnd && !errors.Is(err, ErrNotFound):
				t.Fatalf("Load after the end = version %d, %v; want ErrNotFound", got.Version, err)
			case !tt.expectEnd && (err != nil || got.Version != 2):
				t.Fatalf("Load after the save = version %d, %v; want version 2", got.Version, err)
			}
			if got, err := cache.Load(ctx, rec.Key); err == nil && got.Version < 2 {
				t.Fatalf("the cache holds version %d after %d puts", got.Version, n)
			}
			checkBound(t, cache)
		})
	}
}

// TestBoundedCacheWriteBehindNewer has a write that lost to a newer one in the store
// reach the cache after the newer copy was evicted: the cache must not keep the
// older one.
func TestBoundedCacheWriteBehindNewer(t *testing.T) {
	ctx := context.Background()
	expiry := time.Now().Add(time.Hour)
	cache := NewMemoryStore(WithMaxBytes(64 * 2 << 10))
	s := newCachedStore(NewMemoryStore(), cache, nil, nil)
	rec := smallSession("the session", expiry, 0)
	t1 := s.ticket(rec.Key) // the first write's ticket, before its store call
	if err := s.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	v1 := rec
	v1.Version = 1
	if err := s.Save(ctx, v1); err != nil { // the second write, at version 2
		t.Fatal(err)
	}
	for _, key := range keysInShard(cache, rec.Key, 100) {
		if !holds(cache, rec.Key) {
			break
		}
		_ = cache.Put(ctx, smallSession(key, expiry, 1))
	}
	s.putSaved(ctx, v1, false, t1) // the first write reaches the cache last
	if got, err := s.Load(ctx, rec.Key); err != nil || got.Version != 2 {
		t.Fatalf("Load = version %d, %v; want version 2", got.Version, err)
	}
}

// countingStore counts the loads that reach a Store.
type countingStore struct {
	Store
	loads atomic.Int64
}

func (c *countingStore) Load(ctx context.Context, key string) (Record, error) {
	c.loads.Add(1)
	return c.Store.Load(ctx, key)
}

// TestMemoryCacheMaxAge changes a session in the store behind a cache's back, as
// another app instance would: the cache serves the old copy until the age of
// WithMaxAge, then reads the store again and refills.
func TestMemoryCacheMaxAge(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name      string
		givenOpts []StoreOption
		expectAge time.Duration // 0: never stale
	}{
		{"default", nil, time.Minute},
		{"10 seconds", []StoreOption{WithMaxAge(10 * time.Second)}, 10 * time.Second},
		{"off", []StoreOption{WithMaxAge(-1)}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock()
			primary := NewMemoryStore(WithClock(clock.now))
			store := &countingStore{Store: primary}
			cache := NewMemoryStore(append([]StoreOption{WithClock(clock.now)}, tt.givenOpts...)...)
			s := newCachedStore(store, cache, nil, clock.now)
			expiry := clock.now().Add(24 * time.Hour)
			if err := s.Save(ctx, smallSession("k", expiry, 0)); err != nil {
				t.Fatal(err)
			}
			other := smallSession("k", expiry, 1)
			other.Data = map[string]json.RawMessage{"user": json.RawMessage(`"bob"`)}
			if err := primary.Save(ctx, other); err != nil { // behind the cache's back
				t.Fatal(err)
			}
			load := func(wantVersion, wantLoads int64) {
				t.Helper()
				got, err := s.Load(ctx, "k")
				if err != nil || got.Version != wantVersion || store.loads.Load() != wantLoads {
					t.Fatalf("at %v: version %d, %v after %d store loads; want version %d after %d",
						clock.now().Sub(expiry.Add(-24*time.Hour)), got.Version, err, store.loads.Load(), wantVersion, wantLoads)
				}
			}
			if tt.expectAge == 0 {
				clock.advance(23 * time.Hour)
				load(1, 0)
				return
			}
			clock.advance(tt.expectAge - time.Second)
			load(1, 0) // the cache's copy, written through a save
			clock.advance(time.Second)
			load(2, 1) // past the age: the store's, which refills the cache
			clock.advance(tt.expectAge - time.Second)
			load(2, 1)
			clock.advance(time.Second)
			load(2, 2)
			saved, err := primary.Load(ctx, "k") // saved records do not age
			if err != nil || saved.Version != 2 {
				t.Fatalf("the store's own record: version %d, %v", saved.Version, err)
			}
			if err := s.Save(ctx, saved); err != nil { // a save through the cache
				t.Fatal(err)
			}
			clock.advance(tt.expectAge - time.Second)
			load(3, 2) // the age counts from the write
		})
	}
}

// TestMemoryCacheHeapBound puts a million distinct sessions in a cache with the
// default bound: the heap stays within the bound plus a small constant.
func TestMemoryCacheHeapBound(t *testing.T) {
	if testing.Short() {
		t.Skip("puts a million sessions")
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	const (
		sessions = 1_000_000
		slack    = 4 << 20 // the shards' fixed parts, the reference bits
	)
	ctx := context.Background()
	before := heap()
	m := NewMemoryStore()
	expiry := time.Now().Add(time.Hour)
	key := []byte(testKey(0))
	rec := smallSession("", expiry, 1) // Put copies its data
	for i := range sessions {
		for j, n := len(key)-1, i; n > 0; j, n = j-1, n/10 {
			key[j] = byte('0' + n%10)
		}
		rec.Key = string(key)
		_ = m.Put(ctx, rec)
	}
	grown := int64(heap()) - int64(before)
	estimated := checkBound(t, m)
	runtime.KeepAlive(m)
	held := 0
	for i := range m.shards {
		held += len(m.shards[i].records)
	}
	t.Logf("%d sessions put, %d held: heap grew by %.1f MiB, the estimate is %.1f MiB, the bound %d MiB",
		sessions, held, float64(grown)/(1<<20), float64(estimated)/(1<<20), defaultMaxBytes>>20)
	if grown > defaultMaxBytes+slack {
		t.Errorf("heap grew by %.1f MiB, over the bound of %d MiB and %d MiB", float64(grown)/(1<<20), defaultMaxBytes>>20, slack>>20)
	}
}
