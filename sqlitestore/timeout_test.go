package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/echosess/echosess/internal/db/sqlite"
	"github.com/echosess/echosess/internal/engine"
	"github.com/echosess/echosess/sessionstore"
)

// oldBusyTimeout is the busy timeout that SQLiteDSN set before the store waited for
// the write lock itself: a write stuck behind another connection's lock returned
// after it, whatever the call's deadline.
const oldBusyTimeout = 10 * time.Second

// lateness is how much later than its deadline plus one busy slice a store call may
// return on a loaded machine.
const lateness = 1500 * time.Millisecond

// TestSQLiteHonoursStoreTimeout (issue 11, rule 14): while another connection (a
// *sql.DB of its own on the same file, standing in for another process) holds
// SQLite's write lock, a Save fails at its context's deadline, plus at most one busy
// slice, with an error wrapping context.DeadlineExceeded that names the lock, and
// writes nothing; a writer queued behind it in the process fails at its own,
// earlier, deadline without reaching the database; a Save that is waiting when the
// lock is released succeeds, and so does the next one.
func TestSQLiteHonoursStoreTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	db := openSQLiteAt(t, path)
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	s := open(db)
	defer s.Close()
	rec := testRecord(0)
	roundTrip(t, s, &rec) // version 1
	calls := watchWrites(s)

	other := openSQLiteAt(t, path)
	lock, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	locked := true
	release := func() {
		t.Helper()
		if _, err := lock.ExecContext(context.Background(), "ROLLBACK"); err != nil {
			t.Fatal(err)
		}
		locked = false
	}
	defer func() {
		if locked {
			release()
		}
	}()

	t.Run("StuckWrite", func(t *testing.T) {
		drain(calls)
		const deadline = 300 * time.Millisecond
		stuck := rec
		stuck.Data = map[string]json.RawMessage{"n": jsonInt(1)}
		elapsed, err := timedSave(s, stuck, deadline)
		t.Logf("a Save with a %v deadline behind another connection's write lock returned after %v: %v", deadline, elapsed, err)
		if elapsed >= oldBusyTimeout {
			t.Fatalf("the Save returned after %v, the old busy timeout (%v): SQLite's busy wait ended it, not the deadline", elapsed, oldBusyTimeout)
		}
		wantLockTimeout(t, err)
		if limit := deadline + sqliteBusySlice + lateness; elapsed > limit {
			t.Errorf("the Save returned after %v, want at most its deadline + one busy slice (%v) + %v", elapsed, deadline+sqliteBusySlice, lateness)
		}
		if got := drain(calls); len(got) < 2 {
			t.Errorf("the Save ran its statement %d times, want it tried again after a busy slice", len(got))
		}
		wantStored(t, s, rec)
	})

	t.Run("QueuedWriter", func(t *testing.T) {
		drain(calls)
		const first, second = 2 * time.Second, 300 * time.Millisecond
		stuck := rec
		stuck.Data = map[string]json.RawMessage{"n": jsonInt(2)}
		firstDone := make(chan error, 1)
		go func() {
			_, err := timedSave(s, stuck, first)
			firstDone <- err
		}()
		waitForWrite(t, calls, rec.Key) // the first writer holds the store's turn
		queued := testRecord(9)
		queued.Key = "queued"
		elapsed, err := timedSave(s, queued, second)
		t.Logf("a Save with a %v deadline queued behind the stuck one returned after %v: %v", second, elapsed, err)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("the queued Save: err = %v, want context.DeadlineExceeded", err)
		}
		if elapsed > second+lateness {
			t.Errorf("the queued Save returned after %v, want at most its own deadline (%v) + %v", elapsed, second, lateness)
		}
		select {
		case err := <-firstDone:
			t.Errorf("the stuck Save, with a %v deadline, returned (%v) before the one queued behind it, with %v", first, err, second)
		default:
			wantLockTimeout(t, <-firstDone)
		}
		for _, args := range drain(calls) {
			if slices.Contains(args, queued.Key) {
				t.Errorf("the queued Save reached the database")
			}
		}
		if _, err := s.Load(context.Background(), queued.Key); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Errorf("Load of the queued record: %v, want sessionstore.ErrNotFound", err)
		}
		wantStored(t, s, rec)
	})

	t.Run("LockReleased", func(t *testing.T) {
		drain(calls)
		waiting := rec
		waiting.Data = map[string]json.RawMessage{"n": jsonInt(3)}
		done := make(chan error, 1)
		go func() {
			_, err := timedSave(s, waiting, oldBusyTimeout)
			done <- err
		}()
		waitForWrite(t, calls, rec.Key)
		waitForWrite(t, calls, rec.Key) // tried again: the first try met the lock
		release()
		if err := <-done; err != nil {
			t.Fatalf("a Save waiting when the lock was released: %v", err)
		}
		rec.Data, rec.Version = waiting.Data, rec.Version+1
		wantStored(t, s, rec)
		rec.Data = map[string]json.RawMessage{"n": jsonInt(4)}
		if _, err := timedSave(s, rec, 300*time.Millisecond); err != nil {
			t.Fatalf("the next Save: %v", err)
		}
		rec.Version++
		wantStored(t, s, rec)
	})
}

// TestSQLiteDSNBusyTimeout: SQLiteDSN's busy timeout is the store's busy slice; a
// busy timeout appended to it does not take (modernc.org/sqlite runs the busy_timeout
// pragmas last given first, so the first stays), which is why SQLiteDSN's doc sends
// an application that needs a longer wait to a handle with a DSN of its own.
func TestSQLiteDSNBusyTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	for _, c := range []struct {
		dsn  string
		want time.Duration
	}{
		{DSN(path), sqliteBusySlice},
		{DSN(path) + "&_pragma=busy_timeout(10000)", sqliteBusySlice},
		{DSN(path) + "&_busy_timeout=10000", sqliteBusySlice},
		{"file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate", 10 * time.Second},
	} {
		db, err := sql.Open("sqlite", c.dsn)
		if err != nil {
			t.Fatal(err)
		}
		var ms int64
		err = db.QueryRow("PRAGMA busy_timeout").Scan(&ms)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := time.Duration(ms) * time.Millisecond; got != c.want {
			t.Errorf("busy timeout %v with %s, want %v", got, c.dsn, c.want)
		}
	}
}

// openSQLiteAt opens the SQLite file at path with SQLiteDSN, closed when t ends.
func openSQLiteAt(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", DSN(path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// timedSave saves rec with a context of the given timeout, and reports how long it
// took.
func timedSave(s *engine.SQLStore, rec sessionstore.Record, timeout time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	began := time.Now()
	err := s.Save(ctx, rec)
	return time.Since(began), err
}

// wantLockTimeout fails t unless err is the failure of a write that waited for
// another connection's write lock until its deadline.
func wantLockTimeout(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
	if err == nil || !strings.Contains(err.Error(), "write lock") || engine.SQLiteCode(err) != engine.SQLiteBusy {
		t.Errorf("err = %v, want it to say that another connection held the write lock, and wrap SQLITE_BUSY", err)
	}
}

// wantStored fails t unless the store holds want's version and data under its key.
func wantStored(t *testing.T, s *engine.SQLStore, want sessionstore.Record) {
	t.Helper()
	got, err := s.Load(context.Background(), want.Key)
	if err != nil || got.Version != want.Version || string(got.Data["n"]) != string(want.Data["n"]) {
		t.Fatalf("Load = version %d, n %s, %v; want version %d, n %s", got.Version, got.Data["n"], err, want.Version, want.Data["n"])
	}
}

// watchWrites makes s report the string arguments, among them the key, of each
// writing statement it runs, as it starts it: a write that met the lock is reported
// once per try.
func watchWrites(s *engine.SQLStore) <-chan []string {
	calls := make(chan []string, 1000)
	s.Queries = sqliteQueries{sqlite.New(watchedDB{DBTX: stmtCacheOf(s), calls: calls})}
	return calls
}

// watchedDB passes the store's statements on to the database, and reports the
// string arguments of each that it executes.
type watchedDB struct {
	sqlite.DBTX
	calls chan []string
}

func (db watchedDB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var strs []string
	for _, arg := range args {
		if s, ok := arg.(string); ok {
			strs = append(strs, s)
		}
	}
	select {
	case db.calls <- strs:
	default: // the test reads no more
	}
	return db.DBTX.ExecContext(ctx, query, args...)
}

// waitForWrite waits until the store starts a write of key.
func waitForWrite(t *testing.T, calls <-chan []string, key string) {
	t.Helper()
	timeout := time.After(oldBusyTimeout)
	for {
		select {
		case args := <-calls:
			if slices.Contains(args, key) {
				return
			}
		case <-timeout:
			t.Fatalf("no write of %q began within %v", key, oldBusyTimeout)
		}
	}
}

// drain returns the string arguments of the writes reported so far.
func drain(calls <-chan []string) [][]string {
	var writes [][]string
	for {
		select {
		case args := <-calls:
			writes = append(writes, args)
		default:
			return writes
		}
	}
}
