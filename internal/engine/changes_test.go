package engine

import (
	"encoding/json"
	"testing"
	"time"
)

// TestInvalidate checks how a MemoryStore cache takes the report of a change
// (invalidate): it keeps a copy at the reported version or newer, drops an older
// one, and refuses a fill older than the report whose store read began before it,
// but not a fill of the reported version itself, such as this process's own write
// whose report came back before its fill.
func TestInvalidate(t *testing.T) {
	now := time.Now()
	rec := func(version int64) Record {
		return Record{Key: "k", Data: map[string]json.RawMessage{"v": json.RawMessage("1")}, Expiry: now.Add(time.Hour), Version: version}
	}
	cached := func(m *MemoryStore) int64 {
		r, _, err := m.lookup("k", 0)
		if err != nil {
			return 0
		}
		return r.Version
	}

	m := NewMemoryStore()
	m.fill(rec(3), ticket{})
	if m.invalidate("k", 3); cached(m) != 3 {
		t.Fatalf("a report of version 3 dropped the copy at version 3 (cached: %d)", cached(m))
	}
	if m.invalidate("k", 2); cached(m) != 3 {
		t.Fatalf("a late report of version 2 dropped the copy at version 3 (cached: %d)", cached(m))
	}
	if m.invalidate("k", 4); cached(m) != 0 {
		t.Fatalf("a report of version 4 kept the copy at version %d", cached(m))
	}

	own := m.ticket("k") // a save of version 5 begins
	stale := m.ticket("k")
	m.invalidate("k", 5) // its report overtakes the fill
	if m.fill(rec(5), own); cached(m) != 5 {
		t.Fatalf("the fill of the reported version was refused (cached: %d)", cached(m))
	}
	m.forget("k")
	if m.fill(rec(4), stale); cached(m) != 0 {
		t.Fatalf("a fill of version 4 that read the store before the report of 5 was kept")
	}

	before := m.ticket("k")
	m.invalidate("k", 0) // removed, or changed by hand
	if m.fill(rec(6), before); cached(m) != 0 {
		t.Fatal("a fill whose read began before a removal was kept")
	}
	if m.fill(rec(6), m.ticket("k")); cached(m) != 6 {
		t.Fatal("a fill whose read began after the removal was refused")
	}
}
