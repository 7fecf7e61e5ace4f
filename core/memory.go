package core

import (
	"context"
	"encoding/json"
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// StoreOption configures a store built by this package.
type StoreOption func(*storeOptions)

type storeOptions struct {
	now         func() time.Time
	deleteBatch int
}

// WithClock makes a store read the time from now instead of time.Now, for tests.
func WithClock(now func() time.Time) StoreOption {
	return func(o *storeOptions) { o.now = now }
}

// WithDeleteBatch sets how many expired rows one statement of an SQL store's
// DeleteExpired removes at most. Default 1000.
func WithDeleteBatch(n int) StoreOption {
	return func(o *storeOptions) { o.deleteBatch = n }
}

func buildStoreOptions(opts []StoreOption) storeOptions {
	o := storeOptions{now: time.Now, deleteBatch: 1000} // the batch of DeleteExpired, in rows
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
// out, so callers never share memory with it. Expired records are never returned and
// are purged as the store grows; DeleteExpired purges them at once.
type MemoryStore struct {
	now    func() time.Time
	seed   maphash.Seed
	shards [memoryShards]memoryShard
}

type memoryShard struct {
	mu      sync.RWMutex
	records map[string]Record
	writes  int // writes since the last purge of this shard
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore(opts ...StoreOption) *MemoryStore {
	o := buildStoreOptions(opts)
	m := &MemoryStore{now: o.now, seed: maphash.MakeSeed()}
	for i := range m.shards {
		m.shards[i].records = make(map[string]Record)
	}
	return m
}

func (m *MemoryStore) shard(key string) *memoryShard {
	return &m.shards[maphash.String(m.seed, key)%memoryShards]
}

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
	s := m.shard(key)
	s.mu.RLock()
	rec, ok := s.records[key]
	s.mu.RUnlock()
	if !ok || rec.Version == tombstoneVersion || !rec.Expiry.After(m.now()) {
		return Record{}, false, ErrNotFound
	}
	return rec, true, nil
}

// Save stores a copy of rec with Version rec.Version+1 if the live record under
// rec.Key is at rec.Version (0: none), and returns ErrConflict otherwise.
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
// place, and there must be a live record to keep it from.
func (m *MemoryStore) swap(rec Record, keepData bool) error {
	s := m.shard(rec.Key)
	now := m.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var current Record
	if old, ok := s.records[rec.Key]; ok && old.Version != tombstoneVersion && old.Expiry.After(now) {
		current = old
	}
	if current.Version != rec.Version || keepData && current.Version == 0 {
		return ErrConflict
	}
	if keepData {
		rec.Data = current.Data
	}
	rec.Version++
	s.put(rec, now)
	return nil
}

// Put stores a copy of rec as it is, unless the record held under rec.Key is newer
// or was deleted. It makes a MemoryStore usable as a Cache.
func (m *MemoryStore) Put(ctx context.Context, rec Record) error {
	rec.Data = cloneData(rec.Data)
	return m.putGiven(ctx, rec)
}

// putGiven is Put keeping rec.Data itself, which the caller must not change again.
func (m *MemoryStore) putGiven(_ context.Context, rec Record) error {
	s := m.shard(rec.Key)
	now := m.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.records[rec.Key]; ok && old.Version > rec.Version && old.Expiry.After(now) {
		return nil
	}
	s.put(rec, now)
	return nil
}

// Delete removes the record under key. It leaves a tombstone until the record would
// have expired, so that a stale Put cannot revive a destroyed session.
func (m *MemoryStore) Delete(_ context.Context, key string) error {
	s := m.shard(key)
	now := m.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	until := now.Add(time.Minute)
	if old, ok := s.records[key]; ok && old.Expiry.After(until) {
		until = old.Expiry
	}
	s.put(Record{Key: key, Expiry: until, Version: tombstoneVersion}, now)
	return nil
}

// forget removes the record under key, leaving no tombstone: for a cached copy that
// is out of date, not a record that was deleted.
func (m *MemoryStore) forget(key string) {
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.records[key]; ok && old.Version != tombstoneVersion {
		delete(s.records, key)
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
		n += s.purge(now)
		s.mu.Unlock()
	}
	return n, nil
}

// put stores rec, whose data is the shard's from now on and never changed in place.
// It purges the shard once its writes since the last purge reach its size, which
// keeps the cost of purging constant per write.
func (s *memoryShard) put(rec Record, now time.Time) {
	s.records[rec.Key] = rec
	s.writes++
	if s.writes >= max(len(s.records), 256) {
		s.purge(now)
	}
}

// purge removes expired entries and returns how many live-looking records went.
func (s *memoryShard) purge(now time.Time) int64 {
	var n int64
	for key, rec := range s.records {
		if !rec.Expiry.After(now) {
			delete(s.records, key)
			if rec.Version != tombstoneVersion {
				n++
			}
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
