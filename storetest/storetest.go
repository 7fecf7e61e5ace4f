// Package storetest checks that a sessionstore.Store keeps the contract that the
// middleware relies on. Run it from a test of your own Store:
//
//	func TestMyStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) sessionstore.Store { return newMyStore(t) })
//	}
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/echosess/echosess/sessionstore"
)

// Run runs the conformance suite. newStore must return an empty store for each
// subtest; it may register cleanups with t. The store must tell time with the
// system clock, because the suite checks expiry against time.Now. Subtests of an
// optional capability, such as sessionstore.Toucher and sessionstore.UserIndex, skip a
// store that lacks it. A store whose database removes expired records by itself
// (Redis) says so with a method ExpiresRecords() bool; DeleteExpired is then not
// expected to count them, only to leave them unloadable and the live ones alone.
func Run(t *testing.T, newStore func(t *testing.T) sessionstore.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, sessionstore.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"NotFound", testNotFound},
		{"Expired", testExpired},
		{"Conflict", testConflict},
		{"EndAtVersion", testEndAtVersion},
		{"Touch", testTouch},
		{"Delete", testDelete},
		{"DeleteExpired", testDeleteExpired},
		{"Isolation", testIsolation},
		{"ConcurrentCAS", testConcurrentCAS},
		{"ConcurrentSessions", testConcurrentSessions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
	t.Run("UserIndex", func(t *testing.T) { UserIndex(t, newStore) })
}

var keyCounter struct {
	sync.Mutex
	n int
}

// newKey returns a store key that no other test of this run uses.
func newKey(t *testing.T) string {
	keyCounter.Lock()
	defer keyCounter.Unlock()
	keyCounter.n++
	return fmt.Sprintf("storetest-%d-%d", time.Now().UnixNano(), keyCounter.n)
}

func record(t *testing.T, data map[string]string, expiry time.Time) sessionstore.Record {
	rec := sessionstore.Record{Key: newKey(t), Data: map[string]json.RawMessage{}, Expiry: expiry, Deadline: expiry.Add(time.Hour)}
	for k, v := range data {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		rec.Data[k] = raw
	}
	return rec
}

func mustSave(t *testing.T, s sessionstore.Store, rec sessionstore.Record) {
	t.Helper()
	if err := s.Save(context.Background(), rec); err != nil {
		t.Fatalf("Save(%s, version %d): %v", rec.Key, rec.Version, err)
	}
}

func mustLoad(t *testing.T, s sessionstore.Store, key string) sessionstore.Record {
	t.Helper()
	rec, err := s.Load(context.Background(), key)
	if err != nil {
		t.Fatalf("Load(%s): %v", key, err)
	}
	return rec
}

func wantNotFound(t *testing.T, s sessionstore.Store, key string) {
	t.Helper()
	if _, err := s.Load(context.Background(), key); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Fatalf("Load(%s) error = %v, want ErrNotFound", key, err)
	}
}

// sameJSON reports whether two values are equal as JSON, whatever their formatting.
func sameJSON(t *testing.T, a, b json.RawMessage) bool {
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("stored value %q is not JSON: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("value %q is not JSON: %v", b, err)
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}

func wantData(t *testing.T, got, want map[string]json.RawMessage) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("data has %d keys %v, want %d keys %v", len(got), slicesKeys(got), len(want), slicesKeys(want))
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok || !sameJSON(t, g, w) {
			t.Fatalf("data[%q] = %s, want %s", k, g, w)
		}
	}
}

func slicesKeys(m map[string]json.RawMessage) []string {
	var keys []string
	for k := range maps.Keys(m) {
		keys = append(keys, k)
	}
	return keys
}

func wantTime(t *testing.T, name string, got, want time.Time) {
	t.Helper()
	if d := got.Sub(want); d < -time.Millisecond || d > time.Millisecond {
		t.Fatalf("%s = %v, want %v (within 1ms)", name, got, want)
	}
}

func testRoundTrip(t *testing.T, s sessionstore.Store) {
	big := make([]byte, 60<<10)
	for i := range big {
		big[i] = 'a' + byte(i%26)
	}
	// The empty key is valid JSON and the middleware keeps a value under it.
	rec := record(t, map[string]string{"user": "ada", "ünïcødé ✓": "välue \"quoted\" \n", "big": string(big), "": "empty key"}, time.Now().Add(time.Hour))
	rec.Data["n"] = json.RawMessage(`{"a":[1,2,3],"b":null}`)
	rec.Persistent = true
	mustSave(t, s, rec)
	got := mustLoad(t, s, rec.Key)
	if !got.Persistent {
		t.Errorf("Persistent = false, want true as saved")
	}
	if got.Key != rec.Key {
		t.Errorf("Key = %q, want %q", got.Key, rec.Key)
	}
	if got.Version != 1 {
		t.Errorf("Version after first save = %d, want 1", got.Version)
	}
	wantTime(t, "Expiry", got.Expiry, rec.Expiry)
	wantTime(t, "Deadline", got.Deadline, rec.Deadline)
	wantData(t, got.Data, rec.Data)

	empty := record(t, nil, time.Now().Add(time.Hour))
	mustSave(t, s, empty)
	if got := mustLoad(t, s, empty.Key); len(got.Data) != 0 {
		t.Errorf("empty session loaded with data %v", got.Data)
	}
}

func testNotFound(t *testing.T, s sessionstore.Store) {
	wantNotFound(t, s, newKey(t))
}

func testExpired(t *testing.T, s sessionstore.Store) {
	rec := record(t, map[string]string{"k": "v"}, time.Now().Add(-time.Second))
	mustSave(t, s, rec)
	wantNotFound(t, s, rec.Key)

	// An expired record counts as absent: a new one may be saved at version 0.
	rec.Expiry = time.Now().Add(time.Hour)
	rec.Data["k"] = json.RawMessage(`"fresh"`)
	mustSave(t, s, rec)
	if got := mustLoad(t, s, rec.Key); !sameJSON(t, got.Data["k"], rec.Data["k"]) {
		t.Errorf("after replacing an expired record, k = %s", got.Data["k"])
	}
}

func testConflict(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	rec := record(t, map[string]string{"k": "one"}, time.Now().Add(time.Hour))
	mustSave(t, s, rec)
	if err := s.Save(ctx, rec); !errors.Is(err, sessionstore.ErrConflict) {
		t.Fatalf("second save at version 0 error = %v, want ErrConflict", err)
	}
	loaded := mustLoad(t, s, rec.Key)
	loaded.Data["k"] = json.RawMessage(`"two"`)
	mustSave(t, s, loaded)

	stale := loaded // still at version 1, the store is at 2
	stale.Data = map[string]json.RawMessage{"k": json.RawMessage(`"stale"`)}
	if err := s.Save(ctx, stale); !errors.Is(err, sessionstore.ErrConflict) {
		t.Fatalf("save at stale version error = %v, want ErrConflict", err)
	}
	got := mustLoad(t, s, rec.Key)
	if got.Version != 2 || !sameJSON(t, got.Data["k"], json.RawMessage(`"two"`)) {
		t.Fatalf("after a rejected save: version %d, k = %s; want version 2, k = \"two\"", got.Version, got.Data["k"])
	}
	if err := s.Save(ctx, sessionstore.Record{Key: newKey(t), Expiry: time.Now().Add(time.Hour), Version: 3}); !errors.Is(err, sessionstore.ErrConflict) {
		t.Fatalf("save of a missing record at version 3 error = %v, want ErrConflict", err)
	}
}

// testEndAtVersion ends records the way the middleware does, by saving them expired
// at the version they were loaded at: a delete that loses to any concurrent save.
func testEndAtVersion(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	rec := record(t, map[string]string{"k": "v"}, time.Now().Add(time.Hour))
	mustSave(t, s, rec)
	loaded := mustLoad(t, s, rec.Key)
	ended := loaded
	ended.Expiry = time.Now().Add(-time.Second)
	mustSave(t, s, ended)
	wantNotFound(t, s, rec.Key)
	// An ended record stays ended: a save at the version it was loaded at finds no
	// live record there.
	if err := s.Save(ctx, loaded); !errors.Is(err, sessionstore.ErrConflict) {
		t.Fatalf("save at version %d of an ended record error = %v, want ErrConflict", loaded.Version, err)
	}
	wantNotFound(t, s, rec.Key)

	live := record(t, map[string]string{"k": "live"}, time.Now().Add(time.Hour))
	mustSave(t, s, live)
	stale := mustLoad(t, s, live.Key)
	mustSave(t, s, stale) // the store is at version 2, stale still at 1
	stale.Expiry = time.Now().Add(-time.Second)
	if err := s.Save(ctx, stale); !errors.Is(err, sessionstore.ErrConflict) {
		t.Fatalf("end at a stale version error = %v, want ErrConflict", err)
	}
	got := mustLoad(t, s, live.Key)
	if got.Version != 2 {
		t.Fatalf("after a rejected end: version %d, want 2", got.Version)
	}
	wantTime(t, "Expiry after a rejected end", got.Expiry, live.Expiry)
	wantData(t, got.Data, live.Data)
}

// testTouch checks an sessionstore.Toucher: a touch moves the expiry and deadline to a
// new version and keeps the data, or changes nothing.
func testTouch(t *testing.T, s sessionstore.Store) {
	toucher, ok := s.(sessionstore.Toucher)
	if !ok {
		t.Skipf("%T does not implement sessionstore.Toucher", s)
	}
	ctx := context.Background()
	rec := record(t, map[string]string{"k": "v", "": "empty key"}, time.Now().Add(time.Hour))
	mustSave(t, s, rec)
	loaded := mustLoad(t, s, rec.Key)
	touched := loaded // with the loaded data, as the middleware passes it
	touched.Expiry = loaded.Expiry.Add(time.Hour)
	touched.Deadline = loaded.Deadline.Add(2 * time.Hour)
	if err := toucher.Touch(ctx, touched); err != nil {
		t.Fatalf("Touch(%s, version %d): %v", touched.Key, touched.Version, err)
	}
	touched.Data["k"][1] = 'X' // the caller's bytes, changed after the touch
	got := mustLoad(t, s, rec.Key)
	if got.Version != 2 {
		t.Fatalf("Version after a touch = %d, want 2", got.Version)
	}
	wantTime(t, "Expiry after a touch", got.Expiry, touched.Expiry)
	wantTime(t, "Deadline after a touch", got.Deadline, touched.Deadline)
	wantData(t, got.Data, rec.Data)

	stale := touched // at version 1, the store is at 2
	stale.Expiry = touched.Expiry.Add(time.Hour)
	if err := toucher.Touch(ctx, stale); !errors.Is(err, sessionstore.ErrConflict) {
		t.Fatalf("Touch at a stale version error = %v, want ErrConflict", err)
	}
	again := mustLoad(t, s, rec.Key)
	if again.Version != 2 {
		t.Fatalf("after a rejected touch: version %d, want 2", again.Version)
	}
	wantTime(t, "Expiry after a rejected touch", again.Expiry, touched.Expiry)

	// A save after a touch must use the version the touch made.
	again.Data["k"] = json.RawMessage(`"w"`)
	if err := s.Save(ctx, stale); !errors.Is(err, sessionstore.ErrConflict) {
		t.Fatalf("save at the version before a touch error = %v, want ErrConflict", err)
	}
	mustSave(t, s, again)
	if got := mustLoad(t, s, rec.Key); got.Version != 3 || !sameJSON(t, got.Data["k"], again.Data["k"]) {
		t.Fatalf("save after a touch: version %d, k = %s; want version 3, k = \"w\"", got.Version, got.Data["k"])
	}

	missing := record(t, nil, time.Now().Add(time.Hour))
	missing.Version = 1
	if err := toucher.Touch(ctx, missing); !errors.Is(err, sessionstore.ErrConflict) {
		t.Fatalf("Touch of a missing record at version 1 error = %v, want ErrConflict", err)
	}
	wantNotFound(t, s, missing.Key)

	expired := record(t, map[string]string{"k": "v"}, time.Now().Add(-time.Second))
	mustSave(t, s, expired)
	expired.Version = 1
	expired.Expiry = time.Now().Add(time.Hour)
	if err := toucher.Touch(ctx, expired); !errors.Is(err, sessionstore.ErrConflict) {
		t.Fatalf("Touch of an expired record at version 1 error = %v, want ErrConflict", err)
	}
	wantNotFound(t, s, expired.Key)
}

func testDelete(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	rec := record(t, map[string]string{"k": "v"}, time.Now().Add(time.Hour))
	other := record(t, map[string]string{"k": "other"}, time.Now().Add(time.Hour))
	mustSave(t, s, rec)
	mustSave(t, s, other)
	if err := s.Delete(ctx, rec.Key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotFound(t, s, rec.Key)
	mustLoad(t, s, other.Key)
	if err := s.Delete(ctx, newKey(t)); err != nil {
		t.Fatalf("Delete of a missing record: %v", err)
	}
}

// selfExpiring reports whether s says, with a method ExpiresRecords() bool, that
// its database removes expired records by itself (Redis does), so that DeleteExpired
// need not count them.
func selfExpiring(s sessionstore.Store) bool {
	e, ok := s.(interface{ ExpiresRecords() bool })
	return ok && e.ExpiresRecords()
}

func testDeleteExpired(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	var live, expired []string
	for i := range 5 {
		expiry := time.Now().Add(time.Hour)
		if i < 3 {
			expiry = time.Now().Add(-time.Minute)
		}
		rec := record(t, map[string]string{"i": fmt.Sprint(i)}, expiry)
		mustSave(t, s, rec)
		if i >= 3 {
			live = append(live, rec.Key)
		} else {
			expired = append(expired, rec.Key)
		}
	}
	n, err := s.DeleteExpired(ctx)
	if err != nil {
		t.Fatalf("DeleteExpired: %v", err)
	}
	if selfExpiring(s) {
		// The database removed the expired records itself; DeleteExpired may
		// find fewer of them, or none, to count.
		if n < 0 || n > 3 {
			t.Errorf("DeleteExpired removed %d records, want at most 3", n)
		}
		for _, key := range expired {
			wantNotFound(t, s, key)
		}
	} else if n != 3 {
		t.Errorf("DeleteExpired removed %d records, want 3", n)
	}
	for _, key := range live {
		mustLoad(t, s, key)
	}
	if n, err := s.DeleteExpired(ctx); err != nil || n != 0 {
		t.Errorf("second DeleteExpired = %d, %v; want 0, nil", n, err)
	}
}

func testIsolation(t *testing.T, s sessionstore.Store) {
	rec := record(t, map[string]string{"k": "original"}, time.Now().Add(time.Hour))
	mustSave(t, s, rec)
	rec.Data["k"][1] = 'X' // the caller's bytes, changed after the save
	rec.Data["added"] = json.RawMessage(`1`)

	got := mustLoad(t, s, rec.Key)
	got.Data["k"][1] = 'Y'
	got.Data["other"] = json.RawMessage(`2`)

	again := mustLoad(t, s, rec.Key)
	wantData(t, again.Data, map[string]json.RawMessage{"k": json.RawMessage(`"original"`)})
}

// testConcurrentCAS has goroutines increment one counter with compare-and-swap:
// every increment must land exactly once.
func testConcurrentCAS(t *testing.T, s sessionstore.Store) {
	const workers, increments = 8, 10
	ctx := context.Background()
	rec := record(t, nil, time.Now().Add(time.Hour))
	rec.Data["n"] = json.RawMessage(`0`)
	mustSave(t, s, rec)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done := 0; done < increments; {
				cur, err := s.Load(ctx, rec.Key)
				if err != nil {
					errs <- err
					return
				}
				var n int
				if err := json.Unmarshal(cur.Data["n"], &n); err != nil {
					errs <- err
					return
				}
				cur.Data["n"] = json.RawMessage(fmt.Sprint(n + 1))
				switch err := s.Save(ctx, cur); {
				case err == nil:
					done++
				case !errors.Is(err, sessionstore.ErrConflict):
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := mustLoad(t, s, rec.Key)
	if want := fmt.Sprint(workers * increments); string(got.Data["n"]) != want {
		t.Fatalf("counter = %s, want %s", got.Data["n"], want)
	}
	if got.Version != workers*increments+1 {
		t.Fatalf("version = %d, want %d", got.Version, workers*increments+1)
	}
}

func testConcurrentSessions(t *testing.T, s sessionstore.Store) {
	const sessions = 32
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := record(t, map[string]string{"i": fmt.Sprint(i)}, time.Now().Add(time.Hour))
			if err := s.Save(ctx, rec); err != nil {
				errs <- err
				return
			}
			got, err := s.Load(ctx, rec.Key)
			if err != nil {
				errs <- err
				return
			}
			if want := fmt.Sprintf("%q", fmt.Sprint(i)); string(got.Data["i"]) != want {
				errs <- fmt.Errorf("session %d read back i = %s", i, got.Data["i"])
				return
			}
			errs <- s.Delete(ctx, rec.Key)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
