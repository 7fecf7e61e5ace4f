package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"strconv"
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

// checkBound fails t when a shard of m is over its budget, or its counts of bytes,
// of cached records and of the bytes of each evictClass are not those of its
// entries, or its slots are not those of its entries, or a record expires before the
// shard's expiring, and returns the bytes of all shards.
func checkBound(t *testing.T, m *MemoryStore) int64 {
	t.Helper()
	var total int64
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.RLock()
		var sum int64
		var spare [evictNever]int64
		cached := 0
		slots := make(map[int32]string)
		for key, e := range s.records {
			sum += int64(e.size)
			if e.cached() {
				cached++
			}
			if c := e.class(); c != evictNever {
				spare[c] += int64(e.size)
			}
			if e.size != 0 {
				if other, ok := slots[e.slot]; ok {
					t.Fatalf("shard %d: %s and %s share slot %d", i, key, other, e.slot)
				}
				slots[e.slot] = key
				if s.taken[e.slot/64]&(1<<(e.slot%64)) == 0 {
					t.Fatalf("shard %d: %s holds slot %d, which is free", i, key, e.slot)
				}
			}
			if m.strict && e.Expiry.Before(s.expiring) {
				t.Fatalf("shard %d: %s expires at %v, before the shard's expiring %v", i, key, e.Expiry, s.expiring)
			}
		}
		taken := 0
		for _, w := range s.taken {
			taken += bits.OnesCount64(w)
		}
		bytes, count, counted := s.bytes, s.cached, s.spare
		s.mu.RUnlock()
		if taken != len(slots) {
			t.Fatalf("shard %d: %d slots taken for %d entries that count towards the bound", i, taken, len(slots))
		}
		if sum != bytes || cached != count || spare != counted {
			t.Fatalf("shard %d counts %d bytes, %d cached records and %v bytes that it may evict; its entries have %d, %d and %v",
				i, bytes, count, counted, sum, cached, spare)
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

// userSession is smallSession bound to user.
func userSession(key, user string, expiry time.Time, version int64) Record {
	rec := smallSession(key, expiry, version)
	rec.UserID = user
	return rec
}

// fillWithUsers saves sessions bound to users in m until every shard has refused
// one with ErrStoreFull, and returns those it saved, at version 1.
func fillWithUsers(t *testing.T, m *MemoryStore, expiry time.Time) []Record {
	t.Helper()
	var saved []Record
	full := make(map[uint64]bool) // the shards that refused a save
	for i := 0; len(full) < memoryShards; i++ {
		if i == 100_000 {
			t.Fatal("100,000 saves and the store is not full")
		}
		rec := userSession(testKey(i), fmt.Sprintf("user-%d", i), expiry, 0)
		switch err := m.Save(context.Background(), rec); {
		case err == nil:
			rec.Version = 1
			saved = append(saved, rec)
		case errors.Is(err, ErrStoreFull):
			full[m.hash(rec.Key)%memoryShards] = true
			if _, err := m.Load(context.Background(), rec.Key); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Load of a session whose Save failed: %v, want ErrNotFound", err)
			}
		default:
			t.Fatal(err)
		}
	}
	return saved
}

// TestMemoryStoreFullOfUserSessions fills a MemoryStore used as the Store past its
// bound with sessions bound to users: none is lost, a Save that does not fit fails
// with ErrStoreFull, anonymous or not, sessions that are already there can still be
// touched and rewritten, and what Put cached beside them is evicted to make room
// for them.
func TestMemoryStoreFullOfUserSessions(t *testing.T) {
	ctx := context.Background()
	expiry := time.Now().Add(time.Hour)
	m := NewMemoryStore(WithMaxBytes(64 * 4 << 10)) // about 4 sessions a shard
	for i := range 500 {
		_ = m.Put(ctx, smallSession(fmt.Sprintf("cached-%036d", i), expiry, 1))
	}
	saved := fillWithUsers(t, m, expiry)
	checkBound(t, m)
	if err := m.Save(ctx, smallSession("anonymous", expiry, 0)); !errors.Is(err, ErrStoreFull) {
		t.Fatalf("Save of an anonymous session in a store full of user sessions: %v, want ErrStoreFull", err)
	}
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

// TestMemoryStoreFullReclaimsEnded fills a bounded MemoryStore with sessions bound
// to users, which it never evicts, and then ends them all: new sessions fit again
// in every shard, with no DeleteExpired, and a session that a Save ended frees its
// room at once while a save at its version still fails.
func TestMemoryStoreFullReclaimsEnded(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		whenEnd func(t *testing.T, m *MemoryStore, clock *testClock, saved []Record)
	}{
		{"ended at their version", func(t *testing.T, m *MemoryStore, _ *testClock, saved []Record) {
			for _, rec := range saved {
				ended := endRecord(rec)
				if err := m.Save(ctx, ended); err != nil {
					t.Fatalf("end of %s: %v", rec.Key, err)
				}
				if err := m.Save(ctx, ended); !errors.Is(err, ErrConflict) {
					t.Fatalf("second end of %s at version %d: %v, want ErrConflict", rec.Key, ended.Version, err)
				}
				if err := m.Touch(ctx, rec); !errors.Is(err, ErrConflict) {
					t.Fatalf("Touch of ended %s at version %d: %v, want ErrConflict", rec.Key, rec.Version, err)
				}
			}
			if n := checkBound(t, m); n != 0 {
				t.Fatalf("%d bytes held after every session ended", n)
			}
		}},
		{"expired", func(t *testing.T, m *MemoryStore, clock *testClock, saved []Record) {
			clock.advance(2 * time.Hour)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock()
			m := NewMemoryStore(WithClock(clock.now), WithMaxBytes(64*4<<10))
			saved := fillWithUsers(t, m, clock.now().Add(time.Hour))
			tt.whenEnd(t, m, clock, saved)
			for _, rec := range saved {
				if _, err := m.Load(ctx, rec.Key); !errors.Is(err, ErrNotFound) {
					t.Fatalf("Load of ended %s: %v, want ErrNotFound", rec.Key, err)
				}
			}
			// As many new sessions in each shard as it held, under new keys.
			want := make(map[uint64]int)
			for _, rec := range saved {
				want[m.hash(rec.Key)%memoryShards]++
			}
			expiry := clock.now().Add(time.Hour)
			for i, n := 0, len(saved); n > 0; i++ {
				key := fmt.Sprintf("new-%039d", i)
				if sh := m.hash(key) % memoryShards; want[sh] > 0 {
					want[sh]--
					n--
					if err := m.Save(ctx, userSession(key, "new user", expiry, 0)); err != nil {
						t.Fatalf("new session in shard %d after the others ended: %v", sh, err)
					}
				}
			}
			checkBound(t, m)
		})
	}
}

// TestMemoryStoreFloodKeepsUsers floods a bounded MemoryStore with new anonymous
// sessions that are never read again, as a crawler makes: every one of them is
// saved, by evicting earlier ones, while the sessions bound to users, read or not,
// are all kept, one of them is read and grows meanwhile, and new logins succeed.
func TestMemoryStoreFloodKeepsUsers(t *testing.T) {
	ctx := context.Background()
	expiry := time.Now().Add(time.Hour)
	m := NewMemoryStore(WithMaxBytes(64 * 16 << 10)) // about 19 sessions a shard: room for the users of each
	var users []Record
	for i := range 128 {
		rec := userSession(fmt.Sprintf("user-%038d", i), fmt.Sprintf("user %d", i), expiry, 0)
		if err := m.Save(ctx, rec); err != nil {
			t.Fatal(err)
		}
		users = append(users, rec)
	}
	ada := userSession("ada's session", "ada", expiry, 0)
	if err := m.Save(ctx, ada); err != nil {
		t.Fatal(err)
	}
	const flood = 20_000
	for i := range flood {
		if err := m.Save(ctx, smallSession(testKey(i), expiry, 0)); err != nil {
			t.Fatalf("anonymous session %d of the flood: %v", i, err)
		}
		if i%500 != 499 {
			continue
		}
		got, err := m.Load(ctx, ada.Key)
		if err != nil {
			t.Fatalf("ada's session during the flood: %v", err)
		}
		got.Data["n"] = append(got.Data["n"], '0') // it grows
		if err := m.Save(ctx, got); err != nil {
			t.Fatalf("ada's write during the flood: %v", err)
		}
		login := userSession(fmt.Sprintf("login-%037d", i), fmt.Sprintf("login %d", i), expiry, 0)
		if err := m.Save(ctx, login); err != nil {
			t.Fatalf("login during the flood: %v", err)
		}
		users = append(users, login)
	}
	for _, rec := range users {
		if _, err := m.Load(ctx, rec.Key); err != nil {
			t.Fatalf("session of %s after the flood: %v", rec.UserID, err)
		}
		if list, err := m.UserSessions(ctx, rec.UserID); err != nil || len(list) != 1 {
			t.Fatalf("UserSessions(%s) after the flood: %d sessions, %v", rec.UserID, len(list), err)
		}
	}
	if got, err := m.Load(ctx, ada.Key); err != nil || len(got.Data["n"]) != 1+flood/500 {
		t.Fatalf("ada's session after the flood: n is %s, %v", got.Data["n"], err)
	}
	kept := 0
	for i := range flood {
		if _, err := m.Load(ctx, testKey(i)); err == nil {
			kept++
		}
	}
	total := checkBound(t, m)
	t.Logf("%d of %d anonymous sessions kept beside %d of users, in %d of %d bytes", kept, flood, len(users)+1, total, 64*m.budget)
	if kept == 0 {
		t.Fatal("no anonymous session of the flood kept")
	}
}

// shardKeys returns n keys of one length that fall in shard 0 of m.
func shardKeys(m *MemoryStore, prefix string, n int) []string {
	var keys []string
	for i := 0; len(keys) < n; i++ {
		if k := fmt.Sprintf("%s-%039d", prefix, i); m.hash(k)%memoryShards == 0 {
			keys = append(keys, k)
		}
	}
	return keys
}

// fullShard returns a MemoryStore with the hash seed of probe, whose shard 0 holds
// recs, saved in order, and has no room for more.
func fullShard(t *testing.T, probe *MemoryStore, recs []Record) *MemoryStore {
	t.Helper()
	var budget int64
	for _, rec := range recs {
		rec.Version = 1 // as stored
		budget += int64(recordSize(rec))
	}
	m := NewMemoryStore(WithMaxBytes(64 * budget))
	m.seed = probe.seed
	for _, rec := range recs {
		if err := m.Save(context.Background(), rec); err != nil {
			t.Fatalf("fill: %v", err)
		}
	}
	if m.shards[0].bytes != m.budget {
		t.Fatalf("shard 0 holds %d bytes of its %d", m.shards[0].bytes, m.budget)
	}
	return m
}

// linkRecord is the link that a renewal leaves under key.
func linkRecord(key string, expiry time.Time) Record {
	rec := smallSession(key, expiry, 0)
	rec.Data = map[string]json.RawMessage{renewedTo: json.RawMessage(strconv.Quote(testKey(0)))}
	return rec
}

// TestMemoryStoreEvictsLeastRecentlyUsed fills one shard of a bounded MemoryStore
// exactly with sessions bound to users, the link that a renewal left, anonymous
// sessions that are read before each new save, and one that is not, and then saves
// new anonymous sessions there one at a time: each evicts the one anonymous session
// not used since the last save, and nothing else. A session that would not fit even
// if every anonymous session and link went is refused and evicts nothing.
func TestMemoryStoreEvictsLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	expiry := time.Now().Add(time.Hour)
	probe := NewMemoryStore()
	var fill []Record
	for _, key := range shardKeys(probe, "usr", 3) {
		fill = append(fill, userSession(key, "u", expiry, 0))
	}
	fill = append(fill, linkRecord(shardKeys(probe, "lnk", 1)[0], expiry))
	hot := shardKeys(probe, "hot", 4)
	for _, key := range hot {
		fill = append(fill, smallSession(key, expiry, 0))
	}
	cold := smallSession(shardKeys(probe, "old", 1)[0], expiry, 0)
	fill = append(fill, cold)
	m := fullShard(t, probe, fill)

	big := smallSession(shardKeys(probe, "big", 1)[0], expiry, 0)
	for n := 0; int64(recordSize(big)) <= m.shards[0].spare[evictAnonymous]+m.shards[0].spare[evictLink]; n++ {
		big.Data["cart"] = json.RawMessage(strconv.Quote(strings.Repeat("x", n)))
	}
	if err := m.Save(ctx, big); !errors.Is(err, ErrStoreFull) {
		t.Fatalf("Save of a session larger than the anonymous ones and the link free: %v, want ErrStoreFull", err)
	}
	unused := cold.Key
	for i, key := range shardKeys(probe, "new", 20) {
		for _, k := range hot {
			if _, err := m.Load(ctx, k); err != nil {
				t.Fatalf("save %d: hot session %s evicted", i, k)
			}
		}
		if err := m.Save(ctx, smallSession(key, expiry, 0)); err != nil {
			t.Fatalf("save %d: %v", i, err)
		}
		if holds(m, unused) {
			t.Fatalf("save %d kept %s, the anonymous session not used since the last save", i, unused)
		}
		for _, rec := range fill {
			if rec.Key != cold.Key && !holds(m, rec.Key) {
				t.Fatalf("save %d evicted %s", i, rec.Key)
			}
		}
		checkBound(t, m)
		unused = key
	}
}

// TestMemoryStoreEvictsLinksLast fills one shard of a bounded MemoryStore exactly
// with a session bound to a user, two links that renewals left (the logins of users
// who have logged out since) and an anonymous session, and then logs new users in
// there: the first login evicts the anonymous session, the next two the links, and
// the fourth, with only sessions bound to users left, fails with ErrStoreFull.
func TestMemoryStoreEvictsLinksLast(t *testing.T) {
	ctx := context.Background()
	expiry := time.Now().Add(time.Hour)
	probe := NewMemoryStore()
	user := userSession(shardKeys(probe, "usr", 1)[0], "u", expiry, 0)
	links := shardKeys(probe, "lnk", 2)
	anonymous := smallSession(shardKeys(probe, "anon", 1)[0], expiry, 0)
	m := fullShard(t, probe, []Record{user, linkRecord(links[0], expiry), linkRecord(links[1], expiry), anonymous})
	logins := shardKeys(probe, "new", 4)
	for i, key := range logins {
		err := m.Save(ctx, userSession(key, "u", expiry, 0))
		switch {
		case i < 3 && err != nil:
			t.Fatalf("login %d: %v", i, err)
		case i == 3 && !errors.Is(err, ErrStoreFull):
			t.Fatalf("login %d in a shard of sessions bound to users: %v, want ErrStoreFull", i, err)
		}
		if i == 0 && (holds(m, anonymous.Key) || !holds(m, links[0]) || !holds(m, links[1])) {
			t.Fatalf("the first login kept the anonymous session (%v) or evicted a link (%v, %v)",
				holds(m, anonymous.Key), !holds(m, links[0]), !holds(m, links[1]))
		}
		for _, key := range append([]string{user.Key}, logins[:min(i+1, 3)]...) {
			if !holds(m, key) {
				t.Fatalf("login %d evicted %s, bound to a user", i, key)
			}
		}
		checkBound(t, m)
	}
	if holds(m, links[0]) || holds(m, links[1]) {
		t.Fatal("a link kept after the logins")
	}
}

// TestMemoryStoreEvictionReachesCache evicts an anonymous session from a full
// MemoryStore behind a cache that holds a copy of it: the cache must stop serving
// it at once, as it does for any deletion through the store.
func TestMemoryStoreEvictionReachesCache(t *testing.T) {
	ctx := context.Background()
	expiry := time.Now().Add(time.Hour)
	rec := smallSession("the session", expiry, 0)
	store := NewMemoryStore()
	login := userSession(keysInShard(store, rec.Key, 1)[0], "u", expiry, 0)
	store.budget, store.strict = int64(recordSize(login)), true // room for one of the two
	s := newCachedStore(store, NewMemoryStore(), nil, nil)
	if err := s.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, rec.Key); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, login); err != nil {
		t.Fatalf("a login in the full shard: %v", err)
	}
	if holds(store, rec.Key) {
		t.Fatal("the store kept the anonymous session")
	}
	if got, err := s.Load(ctx, rec.Key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load of the evicted session = version %d, %v; want ErrNotFound", got.Version, err)
	}
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
