package core

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
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
	_, pool := migratedPostgres(t)
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

// migratedPostgres returns the DSN of a new schema migrated for the store, and a
// pool on it.
func migratedPostgres(t *testing.T) (string, *pgxpool.Pool) {
	dsn := pgtest.NewSchema(t)
	pool := pgtest.Open(t, dsn)
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	if err := Migrate(context.Background(), db, DialectPostgres); err != nil {
		t.Fatal(err)
	}
	return dsn, pool
}

// TestNotifyOnlyWhileListened: the trigger notifies a change only while a listener
// of the store is registered in echosess_listeners, so that an app without a
// coherent cache does not pay for the notification; a listener whose row is
// deleted notices within a ping, reports Lost, and listens again.
func TestNotifyOnlyWhileListened(t *testing.T) {
	dsn, pool := migratedPostgres(t)
	ctx := context.Background()
	other, err := pgx.Connect(ctx, dsn) // hears every notification, but is no store's listener
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	if _, err := other.Exec(ctx, "LISTEN "+changeChannel); err != nil {
		t.Fatal(err)
	}
	var schema string
	if err := other.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	heard := func(wait time.Duration) string { // the next notification of a change in schema
		wctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		for {
			n, err := other.WaitForNotification(wctx)
			if err != nil {
				return ""
			}
			if strings.HasPrefix(n.Payload, schema+" ") && !strings.Contains(n.Payload, " probe-") {
				return n.Payload
			}
		}
	}
	s := NewPostgresStore(pool)
	defer s.Close()
	save := func(key string) {
		t.Helper()
		rec := Record{Key: key, Data: map[string]json.RawMessage{}, Expiry: time.Now().Add(time.Hour), Deadline: time.Now().Add(time.Hour)}
		if err := s.Save(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	save("unheard")
	if p := heard(500 * time.Millisecond); p != "" {
		t.Fatalf("with no listener a save notified %q", p)
	}

	w := recordingWatcher{make(chan string, 16)}
	stop, err := s.WatchChanges(w)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if r := <-w.reports; r != "watching" {
		t.Fatalf("first report %q", r)
	}
	save("heard")
	if p := heard(5 * time.Second); p != schema+" heard 1" {
		t.Fatalf("with a listener a save notified %q, want the change of heard", p)
	}
	if _, err := pool.Exec(ctx, "DELETE FROM echosess_listeners"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"changed heard", "lost: ", "watching"} {
		select {
		case r := <-w.reports:
			if want == "changed heard" && r == want {
				continue
			}
			if !strings.HasPrefix(r, want) {
				t.Fatalf("after its row was deleted the listener reported %q, want %q", r, want)
			}
		case <-time.After(listenCheck + pingTimeout + 2*reconnectMax):
			t.Fatalf("after its row was deleted the listener reported no %q", want)
		}
	}
	save("heard-again")
	if p := heard(5 * time.Second); p != schema+" heard-again 1" {
		t.Fatalf("after the listener registered again a save notified %q", p)
	}
}

// TestListenerAwaitsEarlierWriters: a transaction that changed a session before any
// listener was registered, and so notified nothing, holds the listener's Watching
// until it has ended, so that the cache, empty at Watching, reads its change.
func TestListenerAwaitsEarlierWriters(t *testing.T) {
	dsn, pool := migratedPostgres(t)
	ctx := context.Background()
	s := NewPostgresStore(pool)
	defer s.Close()
	rec := Record{Key: "k", Data: map[string]json.RawMessage{}, Expiry: time.Now().Add(time.Hour), Deadline: time.Now().Add(time.Hour)}
	if err := s.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	writer, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close(ctx)
	tx, err := writer.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE echosess_sessions SET data = convert_to('{"k":"edited"}', 'UTF8')`); err != nil {
		t.Fatal(err)
	}
	w := recordingWatcher{make(chan string, 16)}
	stop, err := s.WatchChanges(w)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	select {
	case r := <-w.reports:
		t.Fatalf("reported %q while a transaction that wrote unheard is open", r)
	case <-time.After(500 * time.Millisecond):
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-w.reports:
		if r != "watching" {
			t.Fatalf("after the commit the first report is %q, want watching", r)
		}
	case <-time.After(writersTimeout):
		t.Fatal("no Watching after the earlier writer committed")
	}
}
