package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/echosess/echosess/internal/engine"
	"github.com/echosess/echosess/internal/feedtest"
	"github.com/echosess/echosess/internal/pgtest"
	"github.com/echosess/echosess/sessionstore"
)

// migratedPostgres returns the DSN of a new schema migrated for the store, and a
// pool on it.
func migratedPostgres(t *testing.T) (string, *pgxpool.Pool) {
	dsn := pgtest.NewSchema(t)
	pool := pgtest.Open(t, dsn)
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return dsn, pool
}

// countChanges counts the rows of echosess_changes.
func countChanges(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM echosess_changes").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRecordOnlyWhileListened: the trigger records a change only while a listener
// of the store is registered in echosess_listeners and has renewed its row within
// listenerExpiry, so that an app without a coherent cache, or whose instances are
// gone, pays nothing for it; a listener whose row is deleted, or not renewed in
// time, notices at its next read, reports Lost, and listens again.
func TestRecordOnlyWhileListened(t *testing.T) {
	_, pool := migratedPostgres(t)
	ctx := context.Background()
	s := open(pool)
	defer s.Close()
	feedtest.SaveRecord(t, s, "unheard")
	if n := countChanges(t, pool); n != 0 {
		t.Fatalf("with no listener a save recorded %d changes", n)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO echosess_listeners (id, horizon, seen_at)
		VALUES ('gone', pg_snapshot_xmin(pg_current_snapshot()), now() - interval '1 minute')`); err != nil {
		t.Fatal(err)
	}
	feedtest.SaveRecord(t, s, "unheard-too")
	if n := countChanges(t, pool); n != 0 {
		t.Fatalf("with only the row of a listener silent for a minute a save recorded %d changes", n)
	}

	w := feedtest.Watching(t, s, writersTimeout)
	feedtest.SaveRecord(t, s, "heard")
	if r := w.Next(t, 5*time.Second); r != "changed heard" {
		t.Fatalf("with a listener a save was reported as %q, want the change of heard", r)
	}
	for i, edit := range []string{"DELETE FROM echosess_listeners", "UPDATE echosess_listeners SET seen_at = now() - interval '1 minute'"} {
		if _, err := pool.Exec(ctx, edit); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"lost: ", "watching"} {
			if r := w.Next(t, 2*engine.ReconnectMax); !strings.HasPrefix(r, want) {
				t.Fatalf("after %s the listener reported %q, want %q", edit, r, want)
			}
		}
		key := fmt.Sprintf("heard-again-%d", i)
		feedtest.SaveRecord(t, s, key)
		if r := w.Next(t, 5*time.Second); r != "changed "+key {
			t.Fatalf("after the listener registered again a save was reported as %q", r)
		}
	}
}

// TestListenerKeepsListenedUntil: a listener sets echosess_listened_until, the time
// until which writers record changes whatever their snapshot, to listenedFor past
// the clock when it registers and at each heartbeat, so that it stays ahead of the
// time until which the listener's row counts; and the row of a listener of an
// earlier release, which sets no such time, still makes writers record.
func TestListenerKeepsListenedUntil(t *testing.T) {
	_, pool := migratedPostgres(t)
	ctx := context.Background()
	s := open(pool)
	defer s.Close()
	if _, err := pool.Exec(ctx, `INSERT INTO echosess_listeners (id, horizon)
		VALUES ('earlier-release', pg_snapshot_xmin(pg_current_snapshot()))`); err != nil {
		t.Fatal(err)
	}
	feedtest.SaveRecord(t, s, "heard-by-earlier-release")
	if n := countChanges(t, pool); n != 1 {
		t.Fatalf("with the row of a listener of an earlier release a save recorded %d changes, want 1", n)
	}
	if _, err := pool.Exec(ctx, "DELETE FROM echosess_listeners"); err != nil {
		t.Fatal(err)
	}

	feedtest.Watching(t, s, writersTimeout)
	var beat time.Time
	deadline := time.Now().Add(4 * heartbeatEvery)
	for n := 0; n < 3; { // the registration, then two heartbeats
		var seen time.Time
		var until int64
		if err := pool.QueryRow(ctx, "SELECT seen_at, last_value FROM echosess_listeners, echosess_listened_until").Scan(&seen, &until); err != nil {
			t.Fatal(err)
		}
		if seen.After(beat) {
			if lead := time.Unix(until, 0).Sub(seen); lead < listenedFor {
				t.Fatalf("echosess_listened_until is %v past the listener's row of %v, want at least %v", lead, seen, listenedFor)
			}
			beat, n = seen, n+1
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d heartbeats within %v, want 2", n-1, 4*heartbeatEvery)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestListenerReadsLateCommits: a transaction that commits after one that began
// after it, and after the listener has read that one's change, is read all the
// same, and no change is read twice. The interleaving is forced: the early writer
// holds its transaction open until the late writer's change has been reported.
func TestListenerReadsLateCommits(t *testing.T) {
	dsn, pool := migratedPostgres(t)
	ctx := context.Background()
	s := open(pool)
	defer s.Close()
	for _, key := range []string{"early", "late"} {
		feedtest.SaveRecord(t, s, key)
	}
	w := feedtest.Watching(t, s, writersTimeout)
	begin := func(key string) pgx.Tx {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(ctx) })
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "UPDATE echosess_sessions SET version = version + 1 WHERE key = $1", key); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	early := begin("early") // takes the lower transaction ID
	late := begin("late")
	if err := late.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if r := w.Next(t, 5*time.Second); r != "changed late" {
		t.Fatalf("after the late commit the report is %q", r)
	}
	if err := early.Commit(ctx); err != nil {
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

// TestListenerWholesaleChanges: more changes in one read than the listener takes,
// or a TRUNCATE, empty the cache (Lost, then Watching) instead of evicting one by one.
func TestListenerWholesaleChanges(t *testing.T) {
	_, pool := migratedPostgres(t)
	ctx := context.Background()
	s := open(pool)
	defer s.Close()
	s.Changes = engine.NewChangeHub(pgListener{pool: pool, every: time.Millisecond, maxBatch: 2}.run)
	for _, key := range []string{"a", "b", "c"} {
		feedtest.SaveRecord(t, s, key)
	}
	w := feedtest.Watching(t, s, writersTimeout)
	for _, statement := range []string{"UPDATE echosess_sessions SET version = version + 1", "TRUNCATE echosess_sessions"} {
		if _, err := pool.Exec(ctx, statement); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"lost: ", "watching"} {
			if r := w.Next(t, 5*time.Second); !strings.HasPrefix(r, want) {
				t.Fatalf("after %s the listener reported %q, want %q", statement, r, want)
			}
		}
	}
}

// TestListenerCleansUp: the listeners delete the changes that all of them have
// read, and the row of a listener that stopped renewing it, so that neither table
// grows while apps run.
func TestListenerCleansUp(t *testing.T) {
	_, pool := migratedPostgres(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO echosess_listeners (id, horizon, seen_at)
		VALUES ('silent', pg_snapshot_xmin(pg_current_snapshot()), now() - interval '1 hour')`); err != nil {
		t.Fatal(err)
	}
	s := open(pool)
	defer s.Close()
	w := feedtest.Watching(t, s, writersTimeout)
	var silent bool
	if err := pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM echosess_listeners WHERE id = 'silent')").Scan(&silent); err != nil {
		t.Fatal(err)
	}
	if silent {
		t.Error("the row of a listener silent for an hour is still there")
	}
	for _, key := range []string{"a", "b", "c"} {
		feedtest.SaveRecord(t, s, key)
		if r := w.Next(t, 5*time.Second); r != "changed "+key {
			t.Fatalf("report %q", r)
		}
	}
	if n := countChanges(t, pool); n == 0 {
		t.Fatal("no change recorded")
	}
	deadline := time.Now().Add(3 * heartbeatEvery)
	for countChanges(t, pool) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d changes that the only listener has read are still there after %v", countChanges(t, pool), 3*heartbeatEvery)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestListenerAwaitsEarlierWriters: a transaction that changed a session before any
// listener was registered, and so recorded nothing, holds the listener's Watching
// until it has ended, so that the cache, empty at Watching, reads its change.
func TestListenerAwaitsEarlierWriters(t *testing.T) {
	dsn, pool := migratedPostgres(t)
	ctx := context.Background()
	s := open(pool)
	defer s.Close()
	rec := sessionstore.Record{Key: "k", Data: map[string]json.RawMessage{}, Expiry: time.Now().Add(time.Hour), Deadline: time.Now().Add(time.Hour)}
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
	w := feedtest.Watch(t, s)
	select {
	case r := <-w.Reports:
		t.Fatalf("reported %q while a transaction that wrote unheard is open", r)
	case <-time.After(500 * time.Millisecond):
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-w.Reports:
		if r != "watching" {
			t.Fatalf("after the commit the first report is %q, want watching", r)
		}
	case <-time.After(writersTimeout):
		t.Fatal("no Watching after the earlier writer committed")
	}
}

// TestListenerCleanupSkipsLockedChanges: a heartbeat does not wait for changes that
// another transaction holds, as another listener's cleanup does, so that two
// listeners deleting the same rows at once neither time out nor deadlock. The test
// holds every change row locked until the listener's row shows two heartbeats after
// the lock; a heartbeat that waited would time out instead and report Lost.
func TestListenerCleanupSkipsLockedChanges(t *testing.T) {
	dsn, pool := migratedPostgres(t)
	ctx := context.Background()
	s := open(pool)
	defer s.Close()
	w := feedtest.Watching(t, s, writersTimeout)
	for _, key := range []string{"a", "b"} {
		feedtest.SaveRecord(t, s, key)
		if r := w.Next(t, 5*time.Second); r != "changed "+key {
			t.Fatalf("report %q", r)
		}
	}
	other, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var locked int
	var lockedAt time.Time
	if err := tx.QueryRow(ctx, `WITH l AS (SELECT 1 FROM echosess_changes FOR UPDATE)
		SELECT count(*), clock_timestamp() FROM l`).Scan(&locked, &lockedAt); err != nil {
		t.Fatal(err)
	}
	if locked == 0 {
		t.Fatal("no change row to lock")
	}
	// The first heartbeat after the lock stores a horizon past the locked rows; the
	// second deletes below it.
	beat := lockedAt
	deadline := time.Now().Add(4 * heartbeatEvery)
	for n := 0; n < 2; {
		var seen time.Time
		if err := pool.QueryRow(ctx, "SELECT max(seen_at) FROM echosess_listeners").Scan(&seen); err != nil {
			t.Fatal(err)
		}
		if seen.After(beat) {
			beat, n = seen, n+1
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d heartbeats within %v while %d change rows were locked, want 2", n, 4*heartbeatEvery, locked)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(w.Reports) != 0 {
		t.Fatalf("while change rows were locked the listener reported %q", <-w.Reports)
	}
}

// TestListenerHearsOlderSnapshots: a REPEATABLE READ transaction whose snapshot
// predates the listener's registration, and that changes sessions after it, records
// its changes all the same, since writers read echosess_listened_until outside
// their snapshot, so the listener reports them; and such a transaction, which has
// only read when the listener registers, does not hold Watching back. This holds at
// the first registration and at one after a loss, for which the test empties
// echosess_listeners and resets echosess_listened_until, as if every listener had
// been silent for a minute, and holds the listener's reconnection back until it
// has taken the old snapshot. A save after the old transaction's commit marks by
// when its changes must have been reported.
func TestListenerHearsOlderSnapshots(t *testing.T) {
	dsn, pool := migratedPostgres(t)
	ctx := context.Background()
	s := open(pool)
	defer s.Close()
	// The listener connects through a gate that the test can hold shut.
	var gate sync.RWMutex
	config, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	var dialer net.Dialer
	config.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		gate.RLock()
		defer gate.RUnlock()
		return dialer.DialContext(ctx, network, addr)
	}
	gated, err := pgxpool.NewWithConfig(ctx, config)
	if err != nil {
		t.Fatal(err)
	}
	defer gated.Close()
	s.Changes = engine.NewChangeHub(pgListener{pool: gated, every: defaultPollInterval, maxBatch: maxChangesPerRead}.run)

	// oldSnapshot begins a REPEATABLE READ transaction on a connection of its own,
	// and takes its snapshot, in which no listener is registered.
	oldSnapshot := func() pgx.Tx {
		t.Helper()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(ctx) })
		tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
		if err != nil {
			t.Fatal(err)
		}
		var listeners int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM echosess_listeners").Scan(&listeners); err != nil {
			t.Fatal(err)
		}
		if listeners != 0 {
			t.Fatalf("the old snapshot sees %d listeners", listeners)
		}
		return tx
	}
	// changeAndCommit deletes one session and edits another in tx, commits it, and
	// checks that w reports both changes before the change of a later save.
	changeAndCommit := func(w feedtest.Watcher, tx pgx.Tx, round string) {
		t.Helper()
		var listeners int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM echosess_listeners").Scan(&listeners); err != nil {
			t.Fatal(err)
		}
		if listeners != 0 {
			t.Fatalf("the old snapshot sees %d listeners once the listener watches", listeners)
		}
		for _, statement := range []string{
			"DELETE FROM echosess_sessions WHERE key = 'deleted-" + round + "'",
			"UPDATE echosess_sessions SET data = convert_to('{\"k\":\"edited\"}', 'UTF8') WHERE key = 'edited-" + round + "'",
		} {
			if tag, err := tx.Exec(ctx, statement); err != nil || tag.RowsAffected() != 1 {
				t.Fatalf("%s: %v, %d rows", statement, err, tag.RowsAffected())
			}
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		feedtest.SaveRecord(t, s, "marker-"+round)
		heard := map[string]bool{}
		for !heard["marker-"+round] {
			r := w.Next(t, 5*time.Second)
			key, ok := strings.CutPrefix(r, "changed ")
			if !ok {
				t.Fatalf("reported %q", r)
			}
			heard[key] = true
		}
		for _, key := range []string{"deleted-" + round, "edited-" + round} {
			if !heard[key] {
				t.Errorf("%s: the change of %s by a transaction whose snapshot predates the listener went unreported", round, key)
			}
		}
	}

	for _, round := range []string{"first", "again"} {
		for _, key := range []string{"deleted-", "edited-"} {
			feedtest.SaveRecord(t, s, key+round)
		}
	}
	old := oldSnapshot()
	w := feedtest.Watching(t, s, writersTimeout)
	changeAndCommit(w, old, "first")

	gate.Lock()
	shut := true
	defer func() {
		if shut {
			gate.Unlock()
		}
	}()
	if _, err := pool.Exec(ctx, "DELETE FROM echosess_listeners"); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "SELECT setval('echosess_listened_until', 0)"); err != nil {
		t.Fatal(err)
	}
	if r := w.Next(t, 5*time.Second); !strings.HasPrefix(r, "lost: ") {
		t.Fatalf("after its row was deleted the listener reported %q", r)
	}
	old = oldSnapshot()
	shut = false
	gate.Unlock()
	if r := w.Next(t, 2*engine.ReconnectMax+writersTimeout); r != "watching" {
		t.Fatalf("after the loss the listener reported %q, want watching", r)
	}
	changeAndCommit(w, old, "again")
}
