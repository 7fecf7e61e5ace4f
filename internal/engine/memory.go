package engine

import (
	"context"
	"encoding/json"
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// StoreOption configures a store built by this package.
type StoreOption func(*StoreOptions)

type StoreOptions struct {
	now          func() time.Time
	deleteBatch  int
	maxBytes     int64         // 0: defaultMaxBytes, not enforced on saves; negative: none
	maxAge       time.Duration // 0: defaultMaxAge; negative: none
	PollInterval time.Duration // 0: defaultPollInterval
}

// WithClock makes a store read the time from now instead of time.Now, for tests.
func WithClock(now func() time.Time) StoreOption {
	return func(o *StoreOptions) { o.now = now }
}

// WithDeleteBatch sets how many expired rows one statement of an SQL store's
// DeleteExpired removes at most. Default 1000.
func WithDeleteBatch(n int) StoreOption {
	return func(o *StoreOptions) { o.deleteBatch = n }
}

// WithMaxBytes is memstore.WithMaxBytes.
func WithMaxBytes(n int64) StoreOption {
	return func(o *StoreOptions) { o.maxBytes = n }
}

// WithMaxAge is memstore.WithMaxAge.
func WithMaxAge(d time.Duration) StoreOption {
	return func(o *StoreOptions) { o.maxAge = d }
}

// BuildStoreOptions applies opts to the defaults.
func BuildStoreOptions(opts []StoreOption) StoreOptions {
	o := StoreOptions{now: time.Now, deleteBatch: 1000} // the batch of DeleteExpired, in rows
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// memoryShards spreads records over independently locked maps so that concurrent
// requests for different sessions rarely wait on one another.
const memoryShards = 64

// tombstoneVersion marks a deleted cache entry: no Put can overwrite it, so a read
// that raced with the delete cannot bring the session back.
const tombstoneVersion = math.MaxInt64

// MemoryStore keeps sessions in process memory. It is a Store for single-instance
// apps and tests, and a Cache in front of a slower Store. Records are copied in and
// out, so callers never share memory with it. Expired records are never returned;
// each shard purges them once its writes since the last purge reach its size, and
// when it is full (WithMaxBytes); DeleteExpired purges them at once. A record that
// a Save ends (saved expired at its version, as a logout does) is removed at once.
//
// What Save stores is the store's own and stays until it expires or is deleted, or
// with WithMaxBytes, until a full store evicts it, if it is bound to no user; what
// Put stores is a cached copy, which the bound may evict and WithMaxAge stops
// trusting.
type MemoryStore struct {
	now    func() time.Time
	seed   maphash.Seed
	budget int64         // estimated bytes per shard; 0: no bound
	strict bool          // saved records count too, and a Save past the budget makes room or fails
	maxAge time.Duration // how long a cached record is trusted; 0: until it expires
	shards [memoryShards]memoryShard
	deletions
}

type memoryShard struct {
	mu      sync.RWMutex
	records map[string]memoryEntry
	writes  int   // writes since the last purge of this shard
	bytes   int64 // estimated heap of the records that count towards the bound
	cached  int   // records that may be evicted: cached ones and tombstones
	// spare is the bytes of the entries of each class that a full shard may evict
	// (see evictClass).
	spare [evictNever]int64
	// expiring is a time before which no record of the shard expires, when the
	// store is strict, so that a full shard purges only when that may free
	// something; zero when it holds none.
	expiring time.Time
	slots    // of the records that count towards the bound
	removals
	users map[string]map[string]struct{} // the keys of the saved records of each user
}

// memoryEntry is a record as a shard holds it.
type memoryEntry struct {
	Record
	// trusted is the Unix time in nanoseconds until which a cached record or a
	// tombstone is trusted; 0 marks a saved record.
	trusted int64
	size    int32 // the estimated heap of the entry, when it counts towards the bound
	slot    int32 // the reference bit of the entry, when it counts towards the bound
}

// cached reports whether e came from Put or Delete, rather than Save or Touch.
func (e memoryEntry) cached() bool { return e.trusted != 0 }

// evictClass is what a full shard may evict of an entry, in the order it evicts:
// cached records and tombstones; then, to make room for a saved record, saved
// sessions bound to no user, and last the links that renewals leave, which a
// request that loaded the session before its renewal follows to end the renewed
// one (see Manager.destroy): they are needed while such requests are under way,
// and a flood of new sessions must not take them first.
type evictClass uint8

const (
	evictCached evictClass = iota
	evictAnonymous
	evictLink
	evictNever // a session bound to a user, or a saved record that does not count
)

// class returns e's evictClass.
func (e memoryEntry) class() evictClass {
	switch {
	case e.cached():
		return evictCached
	case e.size == 0 || e.UserID != "":
		return evictNever
	case renewed(e.Record):
		return evictLink
	}
	return evictAnonymous
}

// NewMemoryStore returns an empty MemoryStore. Without options, what it caches
// takes at most about 64 MiB and is trusted for a minute (WithMaxBytes,
// WithMaxAge), and what it saves is not bounded.
func NewMemoryStore(opts ...StoreOption) *MemoryStore {
	o := BuildStoreOptions(opts)
	m := &MemoryStore{now: o.now, seed: maphash.MakeSeed(), maxAge: o.maxAge}
	switch {
	case o.maxBytes == 0:
		m.budget = defaultMaxBytes / memoryShards
	case o.maxBytes > 0:
		m.budget, m.strict = max(o.maxBytes/memoryShards, 1), true
	}
	if m.maxAge == 0 {
		m.maxAge = defaultMaxAge
	}
	m.maxAge = max(m.maxAge, 0)
	for i := range m.shards {
		s := &m.shards[i]
		s.records = make(map[string]memoryEntry)
		if m.budget > 0 {
			s.slots = newSlots(m.budget)
		}
	}
	return m
}

// hash returns the hash of key, which picks its shard.
func (m *MemoryStore) hash(key string) uint64 { return maphash.String(m.seed, key) }

func (m *MemoryStore) shard(h uint64) *memoryShard { return &m.shards[h%memoryShards] }

// Load returns a copy of the live record under key, or ErrNotFound.
func (m *MemoryStore) Load(ctx context.Context, key string) (Record, error) {
	rec, _, err := m.loadLent(ctx, key)
	if err == nil {
		rec.Data = cloneData(rec.Data)
	}
	return rec, err
}

// loadLent returns the live record under key without copying its data, which the
// caller must not change. Stored data is never changed in place: put stores a copy,
// and later writes replace the record whole.
func (m *MemoryStore) loadLent(_ context.Context, key string) (Record, bool, error) {
	rec, _, err := m.lookup(key, 0)
	return rec, err == nil, err
}

// lookup is loadLent, which on ErrNotFound also returns the ticket of a fill: the
// removals of the key's shard so far. A record older than minVersion is not found.
// A hit takes the shard's read lock, copies nothing and marks a record that counts
// towards the bound used with an atomic bit, so that eviction spares it.
func (m *MemoryStore) lookup(key string, minVersion int64) (Record, ticket, error) {
	h := m.hash(key)
	s := m.shard(h)
	s.mu.RLock()
	e, ok := s.records[key]
	s.mu.RUnlock()
	now := m.now()
	if !ok || e.Version == tombstoneVersion || e.Version < minVersion || !e.Expiry.After(now) || e.cached() && now.UnixNano() >= e.trusted {
		return Record{}, ticket{count: s.count.Load(), hash: h, taken: true}, ErrNotFound
	}
	if e.size != 0 {
		s.markUsed(e.slot)
	}
	return e.Record, ticket{}, nil
}

// Save stores a copy of rec with Version rec.Version+1 if the live record under
// rec.Key is at rec.Version (0: none), and returns ErrConflict otherwise. A record
// that rec ends, being expired already, is removed. When the bound of WithMaxBytes
// leaves no room even after the store gave up all it may, it fails with
// ErrStoreFull and stores nothing.
func (m *MemoryStore) Save(ctx context.Context, rec Record) error {
	rec.Data = cloneData(rec.Data)
	_, err := m.saveGiven(ctx, rec)
	return err
}

// saveGiven is Save keeping rec.Data itself, which the caller must not change again.
func (m *MemoryStore) saveGiven(_ context.Context, rec Record) (bool, error) {
	err := m.swap(rec, false)
	return err == nil, err
}

// Touch stores rec.Expiry and rec.Deadline with Version rec.Version+1 if the live
// record under rec.Key is at rec.Version, keeping its data, and returns ErrConflict
// otherwise. It ignores rec.Data and copies nothing.
func (m *MemoryStore) Touch(_ context.Context, rec Record) error {
	return m.swap(rec, true)
}

// swap stores rec with Version rec.Version+1 if the live record under rec.Key is at
// rec.Version (0: none), and returns ErrConflict otherwise. With keepData it keeps
// the live record's data instead of rec.Data, which stored records never change in
// place, and there must be a live record to keep it from. It reports the sessions
// that a full shard evicted to make room as deleted, once it has let go of the
// shard.
func (m *MemoryStore) swap(rec Record, keepData bool) error {
	h := m.hash(rec.Key)
	s := m.shard(h)
	now := m.now()
	s.mu.Lock()
	evicted, err := m.swapIn(s, h, rec, keepData, now)
	s.mu.Unlock()
	m.deleted(evicted...)
	return err
}

// swapIn is swap in s, the shard of rec.Key, whose lock the caller holds.
func (m *MemoryStore) swapIn(s *memoryShard, h uint64, rec Record, keepData bool, now time.Time) (evicted []string, err error) {
	var current Record
	old, had := s.records[rec.Key]
	if had && old.Version != tombstoneVersion && old.Expiry.After(now) {
		current = old.Record
	}
	if current.Version != rec.Version || keepData && current.Version == 0 {
		return nil, ErrConflict
	}
	if current.Version > 0 && !rec.Expiry.After(now) {
		// The end of a session (see endedAt): its room is free at once. A later
		// save at its version still fails, for want of a live record.
		s.remove(h, rec.Key, old)
		return nil, nil
	}
	if keepData {
		rec.Data, rec.UserID = current.Data, current.UserID
	}
	rec.Created, rec.LastActive = now, now
	if current.Version > 0 {
		rec.Created = current.Created
	}
	rec.Version++
	stored, evicted := m.put(s, h, memoryEntry{Record: rec}, old, had, now)
	if !stored {
		return evicted, ErrStoreFull
	}
	return evicted, nil
}

// Put stores a copy of rec as it is, unless the record held under rec.Key is newer
// or was deleted. It makes a MemoryStore usable as a Cache: what it stores may be
// evicted, and is trusted for the age of WithMaxAge. A tombstone that the bound
// evicted no longer stops a Put of a deleted record; a cache made by WithCache or
// Config.Cache never needs it to, since its fills carry a ticket (see fill).
func (m *MemoryStore) Put(ctx context.Context, rec Record) error {
	rec.Data = cloneData(rec.Data)
	return m.putGiven(ctx, rec)
}

// putGiven is Put keeping rec.Data itself, which the caller must not change again.
func (m *MemoryStore) putGiven(_ context.Context, rec Record) error {
	m.fill(rec, ticket{})
	return nil
}

// fill is putGiven refusing rec when the key's shard has removed the key since t
// was taken (or too many keys to tell), when t is one: what it removed may have
// been newer than rec, or a tombstone. A refused fill also removes an older record
// held under the key, so that the cache holds nothing older than rec.
func (m *MemoryStore) fill(rec Record, t ticket) {
	h := t.hash
	if !t.taken {
		h = m.hash(rec.Key)
	}
	s := m.shard(h)
	now := m.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	old, had := s.records[rec.Key]
	if had && old.Version > rec.Version && old.Expiry.After(now) {
		return
	}
	if t.taken && s.refusedSince(t, h, rec.Version) {
		if had && old.Version < rec.Version {
			s.remove(h, rec.Key, old)
		}
		return
	}
	trusted := int64(math.MaxInt64)
	if m.maxAge > 0 {
		trusted = now.Add(m.maxAge).UnixNano()
	}
	m.put(s, h, memoryEntry{Record: rec, trusted: trusted}, old, had, now)
}

// Delete removes the record under key. It leaves a tombstone until the record would
// have expired, so that a stale Put cannot revive a destroyed session.
func (m *MemoryStore) Delete(_ context.Context, key string) error {
	h := m.hash(key)
	s := m.shard(h)
	now := m.now()
	s.mu.Lock()
	until := now.Add(time.Minute)
	old, had := s.records[key]
	if had && old.Expiry.After(until) {
		until = old.Expiry
	}
	m.put(s, h, memoryEntry{Record: Record{Key: key, Expiry: until, Version: tombstoneVersion}, trusted: math.MaxInt64}, old, had, now)
	s.mu.Unlock()
	if had && !old.cached() {
		m.deleted(key)
	}
	return nil
}

// forget removes the record under key, leaving no tombstone: for a cached copy that
// is out of date, not a record that was deleted.
func (m *MemoryStore) forget(key string) {
	h := m.hash(key)
	s := m.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.records[key]; ok && old.Version != tombstoneVersion {
		s.remove(h, key, old)
	}
}

// invalidate removes the cached copy of the record under key, after a report that
// the record was written at version, or removed when version is 0, unless the copy
// is already at version or later. It counts a removal even when it holds no copy,
// so that a fill whose store read the record before the change is refused.
func (m *MemoryStore) invalidate(key string, version int64) {
	h := m.hash(key)
	s := m.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	below := version
	if version == 0 {
		below = math.MaxInt64 // removed, or changed without a version: no copy is current
	}
	old, had := s.records[key]
	switch {
	case had && (!old.cached() || old.Version == tombstoneVersion):
		// A saved record is the store's own, and a tombstone is already gone.
	case had && old.Version >= below:
	case had:
		s.removeBelow(h, key, old, below)
	default:
		s.removedBelow(h, below)
	}
}

// dropCached removes every cached record and tombstone, and refuses every fill
// whose ticket was taken before: the store's changes may have gone unreported.
func (m *MemoryStore) dropCached() {
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		for key, e := range s.records {
			if e.cached() {
				s.remove(m.hash(key), key, e)
			}
		}
		s.count.Add(removalRing + 1)
		s.mu.Unlock()
	}
}

// DeleteExpired removes every expired record and tombstone and reports how many
// records it removed.
func (m *MemoryStore) DeleteExpired(ctx context.Context) (int64, error) {
	now := m.now()
	var n int64
	for i := range m.shards {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		s := &m.shards[i]
		s.mu.Lock()
		n += m.purge(s, now)
		s.mu.Unlock()
	}
	return n, nil
}

// put stores e in s in place of old, the entry under its key if had, and e's data
// is the shard's from now on and never changed in place. When s has no room for e
// under the bound, it makes room (see makeRoom) and returns the keys of the saved
// sessions it evicted. It reports false, storing nothing, for a saved record that
// does not fit even so; the default bound does not count saved records. A cached
// record that does not fit is dropped, with what it replaces. It purges the shard
// once its writes since the last purge reach its size, which keeps the cost of
// purging constant per write.
func (m *MemoryStore) put(s *memoryShard, h uint64, e, old memoryEntry, had bool, now time.Time) (stored bool, evicted []string) {
	if m.budget > 0 && (e.cached() || m.strict) {
		e.size = recordSize(e.Record)
		if s.bytes+int64(e.size)-int64(old.size) > m.budget {
			evicted = m.makeRoom(s, e, old, now)
			old, had = s.records[e.Key] // a purge may have removed it
		}
		fits := s.bytes+int64(e.size)-int64(old.size) <= m.budget
		switch {
		case !fits:
		case had && old.size != 0:
			e.slot = old.slot
		default:
			e.slot = s.take()
			fits = e.slot >= 0
		}
		if !fits {
			if !e.cached() {
				return false, evicted
			}
			if had {
				s.remove(h, e.Key, old)
			}
			return true, evicted
		}
		if m.strict && (s.expiring.IsZero() || e.Expiry.Before(s.expiring)) {
			s.expiring = e.Expiry
		}
	}
	s.bytes += int64(e.size) - int64(old.size)
	if c := old.class(); had && c != evictNever {
		s.spare[c] -= int64(old.size)
	}
	if c := e.class(); c != evictNever {
		s.spare[c] += int64(e.size)
	}
	if had && !old.cached() {
		s.unindex(old)
	}
	if !e.cached() && e.UserID != "" {
		if s.users == nil {
			s.users = make(map[string]map[string]struct{})
		}
		if s.users[e.UserID] == nil {
			s.users[e.UserID] = make(map[string]struct{})
		}
		s.users[e.UserID][e.Key] = struct{}{}
	}
	if had && old.size != 0 && e.size == 0 {
		s.free(old.slot)
	}
	if had && old.cached() {
		s.cached--
	}
	if e.cached() {
		s.cached++
	}
	s.records[e.Key] = e
	s.writes++
	if s.writes >= max(len(s.records), 256) {
		m.purge(s, now)
	}
	return true, evicted
}

// makeRoom frees room in s for e, which is to replace old, until e fits or nothing
// more may go, and returns the keys of the saved records it evicted. First, when a
// record of a strict store may have expired, it purges the shard: expired records
// go before anything live. Then it evicts by evictClass: cached records and
// tombstones, and for a saved e, anonymous sessions and then links, unless even
// all of those would not make room, when it evicts none of them. It never evicts
// the entry under e's key.
func (m *MemoryStore) makeRoom(s *memoryShard, e, old memoryEntry, now time.Time) (evicted []string) {
	if m.strict && !s.expiring.After(now) {
		m.purge(s, now)
		old = s.records[e.Key]
	}
	over := func() bool { return s.bytes+int64(e.size)-int64(old.size) > m.budget }
	for over() {
		if _, ok := m.evict(s, e.Key, evictCached); !ok {
			break
		}
	}
	if e.cached() || !over() {
		return nil
	}
	others := func(c evictClass) int64 { // what s may evict of class c: old is not evicted
		n := s.spare[c]
		if old.class() == c {
			n -= int64(old.size)
		}
		return n
	}
	if s.bytes+int64(e.size)-int64(old.size)-others(evictAnonymous)-others(evictLink) > m.budget {
		return nil
	}
	for c := evictAnonymous; c <= evictLink; c++ {
		for over() && others(c) > 0 {
			key, ok := m.evict(s, e.Key, c)
			if !ok {
				break
			}
			evicted = append(evicted, key)
		}
	}
	return evicted
}

// remove deletes the entry e under key, whose hash is h, from s and counts it as a
// removal.
func (s *memoryShard) remove(h uint64, key string, e memoryEntry) {
	s.removeBelow(h, key, e, math.MaxInt64)
}

// removeBelow is remove, counted as a removal that refuses only the fills of
// versions below below.
func (s *memoryShard) removeBelow(h uint64, key string, e memoryEntry, below int64) {
	delete(s.records, key)
	if !e.cached() {
		s.unindex(e)
	}
	s.bytes -= int64(e.size)
	if c := e.class(); c != evictNever {
		s.spare[c] -= int64(e.size)
	}
	if e.cached() {
		s.cached--
	}
	if e.size != 0 {
		s.free(e.slot)
	}
	s.removedBelow(h, below)
}

// unindex removes the saved record e from the index of its user's records.
func (s *memoryShard) unindex(e memoryEntry) {
	if keys := s.users[e.UserID]; keys != nil {
		delete(keys, e.Key)
		if len(keys) == 0 {
			delete(s.users, e.UserID)
		}
	}
}

// UserSessions returns copies of the live saved records bound to userID. Each shard
// indexes its records by user, so it reads only those.
func (m *MemoryStore) UserSessions(_ context.Context, userID string) ([]Record, error) {
	now := m.now()
	var recs []Record
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.RLock()
		for key := range s.users[userID] {
			if e := s.records[key]; e.Expiry.After(now) {
				e.Data = cloneData(e.Data)
				recs = append(recs, e.Record)
			}
		}
		s.mu.RUnlock()
	}
	return recs, nil
}

// endListed ends each of recs that is still live at its version, as a Save of it
// expired at its version would, and returns the keys it ended.
func (m *MemoryStore) endListed(_ context.Context, recs []Record) ([]string, error) {
	var ended []string
	for _, rec := range recs {
		if m.swap(endRecord(rec), false) == nil {
			ended = append(ended, rec.Key)
		}
	}
	return ended, nil
}

func (m *MemoryStore) deletionsOf() *deletions { return &m.deletions }

// purge removes expired entries and returns how many live-looking records went.
func (m *MemoryStore) purge(s *memoryShard, now time.Time) int64 {
	var n int64
	s.expiring = time.Time{}
	for key, e := range s.records {
		if !e.Expiry.After(now) {
			s.remove(m.hash(key), key, e)
			if e.Version != tombstoneVersion {
				n++
			}
		} else if s.expiring.IsZero() || e.Expiry.Before(s.expiring) {
			s.expiring = e.Expiry
		}
	}
	s.writes = 0
	return n
}

// cloneData deep-copies data with all values in one allocation.
func cloneData(data map[string]json.RawMessage) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(data))
	size := 0
	for _, v := range data {
		size += len(v)
	}
	buf := make([]byte, size)
	for k, v := range data {
		n := copy(buf, v)
		out[k] = buf[:n:n]
		buf = buf[n:]
	}
	return out
}
