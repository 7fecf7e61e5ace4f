package engine

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// The defaults of WithMaxBytes and WithMaxAge.
//
// 64 MiB holds about 80,000 small sessions (TestMemoryCacheHeapBound), more than a
// small app has active at once, and a miss costs one read of the store. The
// garbage collector lets the heap reach about twice what is live (GOGC=100), so the
// cache costs a process at most about 130 MiB, which a server with 512 MiB of
// memory survives beside the app.
//
// A minute bounds how long a cache that hears of no changes serves a session that
// another app instance changed or ended (a logout, RenewID), at the cost of one read
// of the store per active session per minute: a session that makes a request every
// three seconds is still served from the cache 95% of the time.
const (
	defaultMaxBytes = 64 << 20
	defaultMaxAge   = time.Minute
)

// The heap of a record, as recordSize estimates it: the key and the data themselves,
// and the overheads below, measured on go1.26 by TestRecordSizeCoversHeap. They are
// the larger side of what a record costs, so that the estimate stays above it.
const (
	entryOverhead  = 288 // the record's slot in its shard's map (120 B) at the map's lowest load, 7/16
	dataOverhead   = 416 // a data map's header and first group of 8 members
	memberOverhead = 112 // each member of a data map past the first 8, at its lowest load
	allocOverhead  = 16  // the rounding of one allocation up to its size class
)

// recordSize estimates the heap that rec takes in a shard.
func recordSize(rec Record) int32 {
	d := rec.Device
	n := entryOverhead + len(rec.Key) + allocOverhead + len(rec.UserID) + len(d.UserAgent) + len(d.IP) + len(d.LastUserAgent) + len(d.LastIP)
	if rec.Data != nil {
		n += dataOverhead + max(len(rec.Data)-8, 0)*memberOverhead
		for k, v := range rec.Data {
			n += len(k) + len(v) + 2*allocOverhead + len(v)/8
		}
	}
	return int32(min(n, math.MaxInt32))
}

// minRecordSize is the least that recordSize returns, which bounds the records
// that count towards a shard's budget to the budget over it.
const minRecordSize = entryOverhead + allocOverhead

// slots are the reference bits of the records that count towards a shard's budget,
// one for each: those that Put or Delete stores, and with a strict bound those that
// Save stores. A record takes a free slot when it enters, and gives it back when it
// goes. There are as many as the budget can hold records, so one is always free for
// a record that fits.
type slots struct {
	used  []atomic.Uint64 // set by reads, cleared by eviction; never reallocated
	taken []uint64        // which slots hold a record, under the shard's lock
	next  int             // the word of taken where the search for a free slot starts
}

func newSlots(budget int64) slots {
	words := int(budget/minRecordSize/64 + 1)
	return slots{used: make([]atomic.Uint64, words), taken: make([]uint64, words)}
}

// take returns a free slot, unmarked, or -1 when there is none.
func (s *slots) take() int32 {
	for i := range s.taken {
		w := (s.next + i) % len(s.taken)
		if free := ^s.taken[w]; free != 0 {
			b := bits.TrailingZeros64(free)
			s.taken[w] |= 1 << b
			s.next = w
			s.used[w].And(^uint64(1 << b))
			return int32(w*64 + b)
		}
	}
	return -1
}

// free gives slot back.
func (s *slots) free(slot int32) { s.taken[slot/64] &^= 1 << (slot % 64) }

// markUsed marks the record in slot used, writing only when it was not yet.
func (s *slots) markUsed(slot int32) {
	w, bit := &s.used[slot/64], uint64(1)<<(slot%64)
	if w.Load()&bit == 0 {
		w.Or(bit)
	}
}

// clearUsed clears the mark of the record in slot and reports whether it was set.
func (s *slots) clearUsed(slot int32) bool {
	w, bit := &s.used[slot/64], uint64(1)<<(slot%64)
	if w.Load()&bit == 0 {
		return false
	}
	w.And(^bit)
	return true
}

// evictSample and evictScan bound the work of one eviction of a cached record: the
// cached records it looks at, and all records, which a shard with saved ones has as
// well.
const (
	evictSample = 8
	evictScan   = 64
)

// evict removes one entry of class c from s, other than the one under except, and
// reports its key and whether it found one. It is a CLOCK: from a random place in
// the shard's map, it takes the first entry of the class not used since the last
// time eviction looked at it, clearing the marks of those it passes (their second
// chance). For cached records it samples: it takes the last of evictSample when all
// were used, and looks at evictScan records at most. For saved ones, which the
// caller knows to be there, it sweeps on, and takes the last when all were used. A
// record enters unmarked, so that a session that is created and never read again,
// as a crawler's, goes first. Reads only set a bit, so a hit needs no write lock.
func (m *MemoryStore) evict(s *memoryShard, except string, c evictClass) (string, bool) {
	sampling := c == evictCached
	if sampling && s.cached == 0 {
		return "", false
	}
	var (
		victim  string
		entry   memoryEntry
		found   bool
		scanned int
		sampled int
	)
	for key, e := range s.records {
		if scanned++; sampling && scanned > evictScan {
			break
		}
		if key == except || e.class() != c {
			continue
		}
		victim, entry, found = key, e, true
		if !s.clearUsed(e.slot) {
			break
		}
		if sampled++; sampling && sampled == evictSample {
			break
		}
	}
	if found {
		s.remove(m.hash(victim), victim, entry)
	}
	return victim, found
}

// removalRing is how many of a shard's last removals it remembers.
const removalRing = 64

// removals counts the keys a shard removed, by eviction, forget, expiry or a
// reported change, and keeps the last removalRing of them. A fill is a Put of what a
// load read from the store after a miss, or of what a save wrote to it: it may
// arrive after the shard removed a newer copy of the same record, or the tombstone
// of its deletion, which would have stopped it. The fill carries the ticket taken
// before its store call, and the shard refuses it when it removed the key since, or
// more keys than it remembers. Tombstones can then be evicted like anything cached:
// a fill that started after one was evicted read the store after the delete.
//
// A removal for a reported change (invalidate) knows the version the store now
// holds, and refuses only fills older than it: a process's fill of its own write,
// whose report may come back before the fill, is kept.
type removals struct {
	count atomic.Uint64 // written under the shard's lock, read without it
	ring  [removalRing]removal
}

// removal is one entry of removals: the hash of a key, and the version below which
// a fill of it is refused (math.MaxInt64: any fill).
type removal struct {
	hash  uint64
	below int64
}

// ticket is the removal count of a key's shard when a fill's store call began,
// and the key's hash.
type ticket struct {
	count, hash uint64
	taken       bool
}

// ticket returns the ticket of a fill of key whose store call begins now.
func (m *MemoryStore) ticket(key string) ticket {
	h := m.hash(key)
	return ticket{count: m.shard(h).count.Load(), hash: h, taken: true}
}

// removedBelow counts a removal of the key of hash h that refuses the fills of
// versions below version whose tickets are older.
func (r *removals) removedBelow(h uint64, version int64) {
	n := r.count.Load()
	r.ring[n%removalRing] = removal{hash: h, below: version}
	r.count.Store(n + 1)
}

// refusedSince reports whether a removal since t may refuse a fill of version of
// the key of hash h.
func (r *removals) refusedSince(t ticket, h uint64, version int64) bool {
	n := r.count.Load()
	if n-t.count > removalRing {
		return true
	}
	for i := t.count; i < n; i++ {
		if e := r.ring[i%removalRing]; e.hash == h && version < e.below {
			return true
		}
	}
	return false
}
