package redisstore

import (
	"math"
	"sync"
	"time"
)

// endedVersion is the version a writeGuard notes for a deleted record: every cached
// copy is older.
const endedVersion = math.MaxInt64

// writeGuard makes a Store read its own writes at once. Redis sends the invalidation
// of a key to the client that wrote it after the reply to the write, so for a moment
// after a Save the client-side cache may still hold the record as it was. The guard
// notes the version each write made; a cache hit older than that is read again from
// the server. A note is kept for the cache's TTL: a copy cached before the write is
// gone by then whatever happens to the invalidation.
type writeGuard struct {
	mu        sync.Mutex
	ttl       time.Duration
	notes     map[string]writeNote
	nextSweep int
}

type writeNote struct {
	version int64
	until   time.Time
}

func (g *writeGuard) init(ttl time.Duration) {
	g.ttl, g.notes, g.nextSweep = ttl, map[string]writeNote{}, 1024
}

// wrote notes that the record under key was written at version, or removed
// (endedVersion, or any version for the end of a session).
func (g *writeGuard) wrote(key string, version int64) {
	if g.ttl <= 0 {
		return
	}
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if old, ok := g.notes[key]; !ok || old.version < version || !now.Before(old.until) {
		g.notes[key] = writeNote{version: version, until: now.Add(g.ttl)}
	} else {
		g.notes[key] = writeNote{version: old.version, until: now.Add(g.ttl)}
	}
	if len(g.notes) >= g.nextSweep {
		for k, n := range g.notes {
			if !now.Before(n.until) {
				delete(g.notes, k)
			}
		}
		g.nextSweep = max(1024, 2*len(g.notes))
	}
}

// stale reports whether a cached copy of the record under key, at version or not
// found, may predate a write of this store.
func (g *writeGuard) stale(key string, version int64, found bool) bool {
	g.mu.Lock()
	n, ok := g.notes[key]
	g.mu.Unlock()
	if !ok || !time.Now().Before(n.until) {
		return false
	}
	return !found || version < n.version
}
