package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"github.com/echosess/echosess/internal/engine"
	"github.com/echosess/echosess/internal/stmtcache"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/echosess/echosess/sessionstore"
	_ "modernc.org/sqlite"
)

// openSQLite opens a new SQLite file with SQLiteDSN, closed when t ends, migrated
// unless told otherwise.
func openSQLite(t *testing.T, migrate bool) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", DSN(filepath.Join(t.TempDir(), "sessions.db")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if migrate {
		if err := Migrate(context.Background(), db); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// roundTrip saves rec over its stored version and loads it back, failing t unless
// the store returns what it was given.
func roundTrip(t *testing.T, s *engine.SQLStore, rec *sessionstore.Record) {
	t.Helper()
	ctx := context.Background()
	if err := s.Save(ctx, *rec); err != nil {
		t.Fatalf("Save at version %d: %v", rec.Version, err)
	}
	rec.Version++
	got, err := s.Load(ctx, rec.Key)
	if err != nil || got.Version != rec.Version || string(got.Data["n"]) != string(rec.Data["n"]) {
		t.Fatalf("Load = %+v, %v; want version %d, n %s", got, err, rec.Version, rec.Data["n"])
	}
}

func testRecord(n int) sessionstore.Record {
	exp := time.Now().Add(time.Hour)
	return sessionstore.Record{Key: "k", Data: map[string]json.RawMessage{"n": json.RawMessage(jsonInt(n))}, Expiry: exp, Deadline: exp}
}

func jsonInt(n int) []byte { b, _ := json.Marshal(n); return b }

// TestSQLiteStatementsPreparedOnce: the store prepares each statement the first time
// it runs and reuses it from then on.
func TestSQLiteStatementsPreparedOnce(t *testing.T) {
	s := open(openSQLite(t, true))
	defer s.Close()
	cache := stmtCacheOf(s)
	rec := testRecord(0)
	roundTrip(t, s, &rec)
	first := cache.Prepared()
	if len(first) != 2 { // the INSERT and the SELECT
		t.Fatalf("%d statements prepared after one save and one load, want 2", len(first))
	}
	for i := range 3 {
		rec.Data["n"] = jsonInt(i)
		roundTrip(t, s, &rec)
	}
	prepared := cache.Prepared()
	for q, st := range prepared {
		if old, ok := first[q]; ok && old != st {
			t.Errorf("statement prepared again:\n%s", q)
		}
	}
	if n := len(prepared); n != 3 { // and the UPDATE
		t.Fatalf("%d statements prepared, want 3", n)
	}
}

// TestSQLiteStatementsPreparedConcurrently: calls that first run a statement at the
// same time keep one prepared statement between them.
func TestSQLiteStatementsPreparedConcurrently(t *testing.T) {
	s := open(openSQLite(t, true))
	defer s.Close()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := s.Load(context.Background(), "k"); !errors.Is(err, sessionstore.ErrNotFound) {
				t.Errorf("Load: %v, want sessionstore.ErrNotFound", err)
			}
		})
	}
	wg.Wait()
	if n := len(stmtCacheOf(s).Prepared()); n != 1 {
		t.Fatalf("%d statements kept after concurrent loads, want 1", n)
	}
}

// TestSQLiteStatementsSurviveReplacedConnections runs the store's statements while
// the pool closes every connection after each use, or as soon as it is a nanosecond
// old: each *sql.Stmt prepares itself again on the new connection.
func TestSQLiteStatementsSurviveReplacedConnections(t *testing.T) {
	for _, c := range []struct {
		name   string
		config func(*sql.DB)
		closed func(sql.DBStats) int64
	}{
		{"no idle connections", func(db *sql.DB) { db.SetMaxIdleConns(0) }, func(st sql.DBStats) int64 { return st.MaxIdleClosed }},
		{"lifetime 1ns", func(db *sql.DB) { db.SetConnMaxLifetime(time.Nanosecond) }, func(st sql.DBStats) int64 { return st.MaxLifetimeClosed }},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := openSQLite(t, true)
			s := open(db)
			defer s.Close()
			rec := testRecord(0)
			roundTrip(t, s, &rec) // prepares the statements
			c.config(db)
			for i := range 20 {
				rec.Data["n"] = jsonInt(i)
				roundTrip(t, s, &rec)
				time.Sleep(time.Millisecond)
			}
			if closed := c.closed(db.Stats()); closed < 20 {
				t.Fatalf("the pool closed %d connections, want at least 20", closed)
			}
		})
	}
}

// TestSQLiteStoreBeforeMigrate: a store made before its table exists fails with the
// database's error, and works once Migrate has run.
func TestSQLiteStoreBeforeMigrate(t *testing.T) {
	db := openSQLite(t, false)
	s := open(db)
	defer s.Close()
	if _, err := s.Load(context.Background(), "k"); err == nil || errors.Is(err, sessionstore.ErrNotFound) {
		t.Fatalf("Load before Migrate: err = %v, want the database's error", err)
	}
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	rec := testRecord(0)
	roundTrip(t, s, &rec)
}

// TestSQLiteStoreClose: Close closes the prepared statements and leaves the database
// open; a store used afterwards runs its statements unprepared.
func TestSQLiteStoreClose(t *testing.T) {
	db := openSQLite(t, true)
	s := open(db)
	rec := testRecord(0)
	roundTrip(t, s, &rec)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := db.Ping(); err != nil {
		t.Fatalf("the database after Close: %v", err)
	}
	roundTrip(t, s, &rec)
	if n := len(stmtCacheOf(s).Prepared()); n != 0 {
		t.Fatalf("%d statements prepared after Close", n)
	}
	if err := (&engine.SQLStore{}).Close(); err != nil {
		t.Fatalf("Close of a store without statements: %v", err)
	}
}

// TestSQLiteStatementContext: the store runs its statements without the context's
// cancellation, but a context already done fails a call at once, and with a pool
// limit the wait for a free connection still ends with the context.
func TestSQLiteStatementContext(t *testing.T) {
	db := openSQLite(t, true)
	s := open(db)
	defer s.Close()
	rec := testRecord(0)
	roundTrip(t, s, &rec)

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Load(cancelled, rec.Key); !errors.Is(err, context.Canceled) {
		t.Fatalf("Load with a cancelled context: err = %v, want context.Canceled", err)
	}
	rec.Data["n"] = jsonInt(1)
	if err := s.Save(cancelled, rec); !errors.Is(err, context.Canceled) {
		t.Fatalf("Save with a cancelled context: err = %v, want context.Canceled", err)
	}

	db.SetMaxOpenConns(1)
	conn, err := db.Conn(context.Background()) // the pool's only connection
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := s.Load(ctx, rec.Key); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Load waiting for a connection: err = %v, want the deadline", err)
	}
	conn.Close()
	roundTrip(t, s, &rec)
}

// stmtCacheOf returns the statement cache of a SQLite store.
func stmtCacheOf(s *engine.SQLStore) *stmtcache.Cache {
	return s.Statements.(*stmtcache.Cache)
}
