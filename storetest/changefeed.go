package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/echosess/echosess/sessionstore"
)

// FeedTimeout is how long ChangeFeed waits for each report it expects.
var FeedTimeout = 10 * time.Second

// ChangeFeed checks an sessionstore.ChangeFeed: that it reports Watching first, and then
// every kind of change the middleware makes through writer (a create, an update, a
// touch, an end at a version, a delete, and DeleteExpired's removal) with the store
// key and the version written, 0 for a removal. writer may be the feed itself or
// another handle on the same records, such as a second app instance's store:
// a feed must report the changes of every process. newStores must return them
// empty, telling time with the system clock, for each subtest.
func ChangeFeed(t *testing.T, newStores func(t *testing.T) (feed sessionstore.ChangeFeed, writer sessionstore.Store)) {
	t.Run("EveryChange", func(t *testing.T) {
		feed, writer := newStores(t)
		w := watch(t, feed)
		ctx := context.Background()

		rec := record(t, map[string]string{"k": "v"}, time.Now().Add(time.Hour))
		mustSave(t, writer, rec)
		w.want(t, "create", rec.Key, 1)

		rec.Version = 1
		rec.Data = map[string]json.RawMessage{"k": json.RawMessage(`"w"`)}
		mustSave(t, writer, rec)
		w.want(t, "update", rec.Key, 2)

		rec.Version = 2
		if toucher, ok := writer.(sessionstore.Toucher); ok {
			rec.Expiry = time.Now().Add(2 * time.Hour)
			if err := toucher.Touch(ctx, rec); err != nil {
				t.Fatalf("touch: %v", err)
			}
			w.want(t, "touch", rec.Key, 3)
			rec.Version = 3
		}

		rec.Expiry = time.Now().Add(-time.Second)
		mustSave(t, writer, rec)
		w.want(t, "end at a version", rec.Key, rec.Version+1)

		gone := record(t, map[string]string{"k": "v"}, time.Now().Add(time.Hour))
		mustSave(t, writer, gone)
		w.want(t, "create", gone.Key, 1)
		if err := writer.Delete(ctx, gone.Key); err != nil {
			t.Fatalf("delete: %v", err)
		}
		w.want(t, "delete", gone.Key, 0)

		expiring := record(t, map[string]string{"k": "v"}, time.Now().Add(time.Hour))
		mustSave(t, writer, expiring)
		w.want(t, "create", expiring.Key, 1)
		expiring.Version, expiring.Expiry = 1, time.Now().Add(-time.Second)
		mustSave(t, writer, expiring)
		w.want(t, "end at a version", expiring.Key, 2)
		if _, err := writer.DeleteExpired(ctx); err != nil {
			t.Fatalf("delete expired: %v", err)
		}
		w.want(t, "DeleteExpired", expiring.Key, 0)
	})

	t.Run("Stop", func(t *testing.T) {
		feed, writer := newStores(t)
		w := watch(t, feed)
		w.stop()
		mustSave(t, writer, record(t, map[string]string{"k": "v"}, time.Now().Add(time.Hour)))
		// A second watcher sees the next change; the stopped one must not have seen
		// the change before it.
		w2 := watch(t, feed)
		rec := record(t, map[string]string{"k": "v"}, time.Now().Add(time.Hour))
		mustSave(t, writer, rec)
		w2.want(t, "create", rec.Key, 1)
		if ev, ok := w.next(0); ok {
			t.Fatalf("a stopped watcher was called: %s", ev)
		}
	})
}

// feedWatcher records the reports of a ChangeFeed.
type feedWatcher struct {
	events chan string
	stop   func()
}

func watch(t *testing.T, feed sessionstore.ChangeFeed) *feedWatcher {
	t.Helper()
	w := &feedWatcher{events: make(chan string, 1024)}
	stop, err := feed.WatchChanges(w)
	if err != nil {
		t.Fatalf("WatchChanges: %v", err)
	}
	var once sync.Once
	w.stop = func() { once.Do(stop) }
	t.Cleanup(w.stop)
	if ev, ok := w.next(FeedTimeout); !ok || ev != "watching" {
		t.Fatalf("first report %q (received: %v), want Watching within %v", ev, ok, FeedTimeout)
	}
	return w
}

func (w *feedWatcher) Watching() { w.events <- "watching" }
func (w *feedWatcher) Changed(key string, version int64) {
	w.events <- fmt.Sprintf("%s@%d", key, version)
}
func (w *feedWatcher) Lost(err error) { w.events <- "lost: " + err.Error() }

// next returns the next report, waiting for it up to wait.
func (w *feedWatcher) next(wait time.Duration) (string, bool) {
	select {
	case ev := <-w.events:
		return ev, true
	default:
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case ev := <-w.events:
		return ev, true
	case <-timer.C:
		return "", false
	}
}

// want waits for the report that key was written at version, skipping the
// reports of other keys.
func (w *feedWatcher) want(t *testing.T, what, key string, version int64) {
	t.Helper()
	want := fmt.Sprintf("%s@%d", key, version)
	deadline := time.Now().Add(FeedTimeout)
	for {
		ev, ok := w.next(time.Until(deadline))
		if !ok {
			t.Fatalf("%s: no report %s within %v", what, want, FeedTimeout)
		}
		if ev == want {
			return
		}
		if len(ev) >= len(key) && ev[:len(key)] == key {
			t.Fatalf("%s: report %s, want %s", what, ev, want)
		}
	}
}
