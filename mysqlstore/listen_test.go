package mysqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/echosess/echosess/internal/engine"
	"github.com/echosess/echosess/internal/feedtest"
	"github.com/echosess/echosess/internal/mysqltest"
)

// migratedMySQL returns the DSN of a new database migrated for the store, and a
// handle on it.
func migratedMySQL(t *testing.T) (string, *sql.DB) {
	t.Helper()
	dsn := DSN(mysqltest.NewDatabase(t))
	db := mysqltest.Open(t, dsn)
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return dsn, db
}

// listening is open, with a listener that reads every millisecond and takes at
// most maxBatch changes per read.
func listening(db *sql.DB, maxBatch int) *engine.SQLStore {
	s := open(db)
	s.Changes = engine.NewChangeHub(mysqlListener{db: db, every: time.Millisecond, maxBatch: maxBatch, lateCommits: lateCommitBound}.run)
	return s
}

// count returns the rows of table.
func count(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func exec(t *testing.T, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, query string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// TestRecordOnlyWhileListened: the triggers record a change only while a listener
// of the store is registered in echosess_listeners and has renewed its row within
// listenerExpiry, so that an app without a coherent cache, or whose instances are
// gone, pays nothing for it; a listener whose row is deleted, or not renewed in
// time, notices, reports Lost, and listens again; one that stops removes its row.
func TestRecordOnlyWhileListened(t *testing.T) {
	_, db := migratedMySQL(t)
	s := listening(db, maxChangesPerRead)
	defer s.Close()
	feedtest.SaveRecord(t, s, "unheard")
	if n := count(t, db, "echosess_changes"); n != 0 {
		t.Fatalf("with no listener a save recorded %d changes", n)
	}
	exec(t, db, "INSERT INTO echosess_listeners (id, horizon, seen_at) VALUES ('gone', 0, UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE)")
	feedtest.SaveRecord(t, s, "unheard-too")
	if n := count(t, db, "echosess_changes"); n != 0 {
		t.Fatalf("with only the row of a listener silent for a minute a save recorded %d changes", n)
	}

	w := feedtest.Watch(t, s)
	if r := w.Next(t, writersTimeout); r != "watching" {
		t.Fatalf("first report %q, want watching", r)
	}
	feedtest.SaveRecord(t, s, "heard")
	if r := w.Next(t, 5*time.Second); r != "changed heard" {
		t.Fatalf("with a listener a save was reported as %q, want the change of heard", r)
	}
	for i, edit := range []string{"DELETE FROM echosess_listeners", "UPDATE echosess_listeners SET seen_at = UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE"} {
		exec(t, db, edit)
		for _, want := range []string{"lost: ", "watching"} {
			if r := w.Next(t, 2*engine.ReconnectMax+2*heartbeatEvery); !strings.HasPrefix(r, want) {
				t.Fatalf("after %s the listener reported %q, want %q", edit, r, want)
			}
		}
		key := fmt.Sprintf("heard-again-%d", i)
		feedtest.SaveRecord(t, s, key)
		if r := w.Next(t, 5*time.Second); r != "changed "+key {
			t.Fatalf("after the listener registered again a save was reported as %q", r)
		}
	}
	s.Close()
	if n := count(t, db, "echosess_listeners"); n != 0 {
		t.Errorf("a closed store left %d rows in echosess_listeners", n)
	}
}

// TestListenerReadsLateCommits: ids are taken when a trigger runs and the
// transactions commit in another order, so a transaction that commits after one
// that took a higher id, and after the listener has read that one's change, is
// read all the same, and no change is read twice. The interleaving is forced: the
// early writer holds its transaction open until the late writer's change has been
// reported.
func TestListenerReadsLateCommits(t *testing.T) {
	_, db := migratedMySQL(t)
	ctx := context.Background()
	s := listening(db, maxChangesPerRead)
	defer s.Close()
	for _, key := range []string{"early", "late"} {
		feedtest.SaveRecord(t, s, key)
	}
	w := feedtest.Watching(t, s, writersTimeout)
	begin := func(key string) *sql.Tx {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tx.Rollback() })
		exec(t, tx, "UPDATE echosess_sessions SET version = version + 1 WHERE `key` = ?", key)
		return tx
	}
	early := begin("early") // takes the lower id
	late := begin("late")
	if err := late.Commit(); err != nil {
		t.Fatal(err)
	}
	if r := w.Next(t, 5*time.Second); r != "changed late" {
		t.Fatalf("after the late commit the report is %q", r)
	}
	if err := early.Commit(); err != nil {
		t.Fatal(err)
	}
	if r := w.Next(t, 5*time.Second); r != "changed early" {
		t.Fatalf("after the early writer's commit the report is %q, want its change", r)
	}
	feedtest.SaveRecord(t, s, "marker")
	if r := w.Next(t, 5*time.Second); r != "changed marker" {
		t.Fatalf("a change was reported again, or out of place: %q", r)
	}
}

// TestReaderDropsOldGaps: an id that no committed change holds (a rolled-back
// transaction's) is waited for until lateCommits has passed, and then no more.
func TestReaderDropsOldGaps(t *testing.T) {
	_, db := migratedMySQL(t)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := &changeReader{conn: conn, id: "reader", maxBatch: maxChangesPerRead, lateCommits: 50 * time.Millisecond}
	defer r.close()
	if err := r.register(ctx); err != nil {
		t.Fatal(err)
	}
	s := open(db)
	feedtest.SaveRecord(t, s, "k")
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, tx, "UPDATE echosess_sessions SET version = version + 1")
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	exec(t, db, "UPDATE echosess_sessions SET version = version + 1")
	changes, err := r.read(ctx)
	if err != nil || len(changes) != 2 || len(r.gaps) != 1 {
		t.Fatalf("read = %v, %v with gaps %v; want the insert and the last update, and the rolled-back id as a gap", changes, err, r.gaps)
	}
	gap := r.horizon()
	if gap != r.last-1 {
		t.Fatalf("horizon %d, want the gap %d", gap, r.last-1)
	}
	time.Sleep(60 * time.Millisecond)
	if changes, err := r.read(ctx); err != nil || len(changes) != 0 || len(r.gaps) != 0 {
		t.Fatalf("read after lateCommits = %v, %v with gaps %v; want nothing, and no gap", changes, err, r.gaps)
	}
	if h := r.horizon(); h != r.last+1 {
		t.Fatalf("horizon %d after the gap was dropped, want %d", h, r.last+1)
	}
}

// TestListenerWholesaleChanges: more changes in one read than the listener takes
// empty the cache (Lost, then Watching) instead of evicting one by one.
func TestListenerWholesaleChanges(t *testing.T) {
	_, db := migratedMySQL(t)
	s := listening(db, 2)
	defer s.Close()
	for _, key := range []string{"a", "b", "c"} {
		feedtest.SaveRecord(t, s, key)
	}
	w := feedtest.Watching(t, s, writersTimeout)
	exec(t, db, "UPDATE echosess_sessions SET version = version + 1")
	for _, want := range []string{"lost: ", "watching"} {
		if r := w.Next(t, 5*time.Second); !strings.HasPrefix(r, want) {
			t.Fatalf("after a bulk UPDATE the listener reported %q, want %q", r, want)
		}
	}
}

// TestListenerCleansUp: the listeners delete the changes that all of them have
// read, and the row of a listener that stopped renewing it, so that neither table
// grows while apps run; a change that a lagging listener has not read stays.
func TestListenerCleansUp(t *testing.T) {
	_, db := migratedMySQL(t)
	exec(t, db, "INSERT INTO echosess_listeners (id, horizon, seen_at) VALUES ('silent', 0, UTC_TIMESTAMP(6) - INTERVAL 1 HOUR)")
	s := listening(db, maxChangesPerRead)
	defer s.Close()
	w := feedtest.Watching(t, s, writersTimeout)
	if n := count(t, db, "echosess_listeners WHERE id = 'silent'"); n != 0 {
		t.Error("the row of a listener silent for an hour is still there")
	}
	for _, key := range []string{"a", "b", "c"} {
		feedtest.SaveRecord(t, s, key)
		if r := w.Next(t, 5*time.Second); r != "changed "+key {
			t.Fatalf("report %q", r)
		}
	}
	if n := count(t, db, "echosess_changes"); n == 0 {
		t.Fatal("no change recorded")
	}
	deadline := time.Now().Add(3 * heartbeatEvery)
	for count(t, db, "echosess_changes") != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d changes that the only listener has read are still there after %v", count(t, db, "echosess_changes"), 3*heartbeatEvery)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// A listener that has read nothing yet, renewing its row: what it has not read stays.
	exec(t, db, "INSERT INTO echosess_listeners (id, horizon, seen_at) VALUES ('lagging', 0, UTC_TIMESTAMP(6))")
	feedtest.SaveRecord(t, s, "d")
	if r := w.Next(t, 5*time.Second); r != "changed d" {
		t.Fatalf("report %q", r)
	}
	time.Sleep(2 * heartbeatEvery)
	if n := count(t, db, "echosess_changes"); n != 1 {
		t.Fatalf("%d changes left while a listener has read none of them, want 1", n)
	}
}

// TestListenerAwaitsEarlierWriters: a transaction that changed a session before any
// listener was registered, and so recorded nothing, holds the listener's Watching
// until it has ended, so that the cache, empty at Watching, reads its change.
func TestListenerAwaitsEarlierWriters(t *testing.T) {
	_, db := migratedMySQL(t)
	ctx := context.Background()
	s := listening(db, maxChangesPerRead)
	defer s.Close()
	feedtest.SaveRecord(t, s, "k")
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	exec(t, tx, `UPDATE echosess_sessions SET data = '{"k":"edited"}'`)
	w := feedtest.Watch(t, s)
	select {
	case r := <-w.Reports:
		t.Fatalf("reported %q while a transaction that wrote unheard is open", r)
	case <-time.After(500 * time.Millisecond):
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if r := w.Next(t, writersTimeout); r != "watching" {
		t.Fatalf("after the commit the first report is %q, want watching", r)
	}
}
