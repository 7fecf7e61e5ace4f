package core

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/echosess/echosess/internal/pgtest"
)

// recordingWatcher sends each report of a ChangeFeed to a channel.
type recordingWatcher struct{ reports chan string }

func (w recordingWatcher) Watching()                   { w.reports <- "watching" }
func (w recordingWatcher) Changed(key string, _ int64) { w.reports <- "changed " + key }
func (w recordingWatcher) Lost(err error)              { w.reports <- "lost: " + err.Error() }

// TestListenerProbe: the listener reports Watching only once it has heard a probe
// that it sent through the pool, so that a connection on which LISTEN succeeds but
// hears nothing (PgBouncer in transaction pooling mode) leaves the cache unused and
// says why, instead of serving stale data until WithMaxAge.
func TestListenerProbe(t *testing.T) {
	pool := pgtest.Open(t, pgtest.NewSchema(t))
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	if err := Migrate(context.Background(), db, DialectPostgres); err != nil {
		t.Fatal(err)
	}
	next := func(w recordingWatcher) string {
		t.Helper()
		select {
		case r := <-w.reports:
			return r
		case <-time.After(2 * probeTimeout):
			t.Fatalf("no report within %v", 2*probeTimeout)
			return ""
		}
	}

	t.Run("Heard", func(t *testing.T) {
		s := NewPostgresStore(pool)
		defer s.Close()
		w := recordingWatcher{make(chan string, 16)}
		stop, err := s.WatchChanges(w)
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		if r := next(w); r != "watching" {
			t.Fatalf("first report %q, want watching", r)
		}
		if len(w.reports) != 0 {
			t.Errorf("the probe was reported as a change: %q", <-w.reports)
		}
	})

	t.Run("Unheard", func(t *testing.T) {
		s := newSQLStore(postgresQueries{}, DialectPostgres, nil)
		s.changes = newChangeHub(pgListener{pool: pool, probeChannel: "echosess_nobody_listens"}.run)
		defer s.Close()
		w := recordingWatcher{make(chan string, 16)}
		stop, err := s.WatchChanges(w)
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		r := next(w)
		if !strings.HasPrefix(r, "lost: ") || !strings.Contains(r, "PgBouncer") {
			t.Fatalf("first report %q, want a loss that names the cause", r)
		}
	})
}
