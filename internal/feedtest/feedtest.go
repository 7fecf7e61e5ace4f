// Package feedtest records the reports of a store's change feed, for the tests of
// the SQL stores' listeners.
package feedtest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/echosess/echosess/sessionstore"
)

// Watcher is a sessionstore.ChangeWatcher that sends each report to Reports as a
// line: "watching", "changed <key>" or "lost: <error>".
type Watcher struct{ Reports chan string }

func (w Watcher) Watching()                   { w.Reports <- "watching" }
func (w Watcher) Changed(key string, _ int64) { w.Reports <- "changed " + key }
func (w Watcher) Lost(err error)              { w.Reports <- "lost: " + err.Error() }

// Next returns w's next report, failing the test when none comes within d.
func (w Watcher) Next(t testing.TB, d time.Duration) string {
	t.Helper()
	select {
	case r := <-w.Reports:
		return r
	case <-time.After(d):
		t.Fatalf("no report within %v", d)
		return ""
	}
}

// Watch reports feed's changes to a new Watcher until the test ends.
func Watch(t testing.TB, feed sessionstore.ChangeFeed) Watcher {
	t.Helper()
	w := Watcher{make(chan string, 64)}
	stop, err := feed.WatchChanges(w)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return w
}

// Watching is Watch, once the feed has reported Watching, which it must within d.
func Watching(t testing.TB, feed sessionstore.ChangeFeed, d time.Duration) Watcher {
	t.Helper()
	w := Watch(t, feed)
	if r := w.Next(t, d); r != "watching" {
		t.Fatalf("first report %q, want watching", r)
	}
	return w
}

// SaveRecord saves an empty record under key in s, for an hour.
func SaveRecord(t testing.TB, s sessionstore.Store, key string) {
	t.Helper()
	rec := sessionstore.Record{Key: key, Data: map[string]json.RawMessage{}, Expiry: time.Now().Add(time.Hour), Deadline: time.Now().Add(time.Hour)}
	if err := s.Save(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
}
