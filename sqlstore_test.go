package echosess_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/internal/adaptertest/allstores"
	"github.com/echosess/echosess/mysqlstore"
	"github.com/echosess/echosess/pgstore"
	"github.com/echosess/echosess/sqlitestore"
	"github.com/echosess/echosess/sqlstore"
	"github.com/echosess/echosess/storetest"
)

// sqlBackend is one of the databases the SQL store runs on, for tests that run on
// both. exec runs a statement directly on the database, with ? placeholders.
type sqlBackend struct {
	name     string
	newStore func(t *testing.T, opts ...sqlstore.Option) (*sqlstore.Store, func(query string, args ...any))
}

var sqlBackends = []sqlBackend{
	{"SQLite", func(t *testing.T, opts ...sqlstore.Option) (*sqlstore.Store, func(string, ...any)) {
		db := allstores.NewSQLiteDB(t)
		return sqlitestore.New(db, opts...), func(query string, args ...any) {
			t.Helper()
			if _, err := db.ExecContext(context.Background(), query, args...); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
		}
	}},
	{"Postgres", func(t *testing.T, opts ...sqlstore.Option) (*sqlstore.Store, func(string, ...any)) {
		pool := allstores.NewPostgresPool(t)
		return pgstore.New(pool, opts...), func(query string, args ...any) {
			t.Helper()
			if _, err := pool.Exec(context.Background(), numberPlaceholders(query), args...); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
		}
	}},
	{"MySQL", func(t *testing.T, opts ...sqlstore.Option) (*sqlstore.Store, func(string, ...any)) {
		db := allstores.NewMySQLDB(t)
		return mysqlstore.New(db, opts...), func(query string, args ...any) {
			t.Helper()
			if _, err := db.ExecContext(context.Background(), quoteKey(query), args...); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
		}
	}},
}

// quoteKey quotes the column key, a reserved word in MySQL, as `key`.
func quoteKey(query string) string { return keyColumn.ReplaceAllString(query, "`key`") }

var keyColumn = regexp.MustCompile(`\bkey\b`)

// numberPlaceholders turns ? placeholders into PostgreSQL's $1, $2, ...
func numberPlaceholders(query string) string {
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func TestSQLiteStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) echosess.Store { return sqlitestore.New(allstores.NewSQLiteDB(t)) })
}

func TestSQLiteStoreBehindCache(t *testing.T) {
	storetest.Run(t, func(t *testing.T) echosess.Store {
		return echosess.WithCache(sqlitestore.New(allstores.NewSQLiteDB(t)), echosess.NewMemoryStore(), nil)
	})
}

func TestPostgresStore(t *testing.T) {
	allstores.PostgresDSN(t)
	storetest.Run(t, func(t *testing.T) echosess.Store { return pgstore.New(allstores.NewPostgresPool(t)) })
}

func TestPostgresStoreBehindCache(t *testing.T) {
	allstores.PostgresDSN(t)
	storetest.Run(t, func(t *testing.T) echosess.Store {
		store := pgstore.New(allstores.NewPostgresPool(t))
		t.Cleanup(func() { store.Close() })
		return echosess.WithCache(store, echosess.NewMemoryStore(), nil)
	})
}

func TestMySQLStore(t *testing.T) {
	allstores.MySQLDSN(t)
	storetest.Run(t, func(t *testing.T) echosess.Store { return mysqlstore.New(allstores.NewMySQLDB(t)) })
}

func TestMySQLStoreBehindCache(t *testing.T) {
	allstores.MySQLDSN(t)
	storetest.Run(t, func(t *testing.T) echosess.Store {
		return echosess.WithCache(mysqlstore.New(allstores.NewMySQLDB(t)), echosess.NewMemoryStore(), nil)
	})
}

// TestPostgresChangeFeed checks that a PostgreSQL store reports the changes that
// another store on the same table, as another app instance's, makes.
func TestPostgresChangeFeed(t *testing.T) {
	allstores.PostgresDSN(t)
	storetest.ChangeFeed(t, func(t *testing.T) (echosess.ChangeFeed, echosess.Store) {
		pools := allstores.NewPostgresPools(t, 2)
		feed, writer := pgstore.New(pools[0]), pgstore.New(pools[1])
		t.Cleanup(func() { feed.Close() })
		return feed, writer
	})
}

// TestMySQLChangeFeed checks that a MySQL store reports the changes that another
// store on the same table, as another app instance's, makes.
func TestMySQLChangeFeed(t *testing.T) {
	allstores.MySQLDSN(t)
	storetest.ChangeFeed(t, func(t *testing.T) (echosess.ChangeFeed, echosess.Store) {
		dbs := allstores.NewMySQLDBs(t, 2)
		feed, writer := mysqlstore.New(dbs[0]), mysqlstore.New(dbs[1])
		t.Cleanup(func() { feed.Close() })
		return feed, writer
	})
}

// manualClock is a clock that moves only when told to.
type manualClock struct{ unixMilli atomic.Int64 }

func newManualClock() *manualClock {
	c := &manualClock{}
	c.unixMilli.Store(time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC).UnixMilli())
	return c
}

func (c *manualClock) Now() time.Time          { return time.UnixMilli(c.unixMilli.Load()) }
func (c *manualClock) Advance(d time.Duration) { c.unixMilli.Add(d.Milliseconds()) }

func sessionRecord(key string, expiry time.Time, version int64, kv ...string) echosess.Record {
	rec := echosess.Record{Key: key, Data: map[string]json.RawMessage{}, Expiry: expiry, Deadline: expiry.Add(time.Hour), Version: version}
	for i := 0; i+1 < len(kv); i += 2 {
		v, _ := json.Marshal(kv[i+1])
		rec.Data[kv[i]] = v
	}
	return rec
}

func TestSQLStoreClock(t *testing.T) {
	for _, b := range sqlBackends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			clock := newManualClock()
			s, _ := b.newStore(t, sqlstore.WithClock(clock.Now))
			start := clock.Now()
			if err := s.Save(ctx, sessionRecord("a", start.Add(time.Minute), 0, "k", "v")); err != nil {
				t.Fatal(err)
			}
			if err := s.Save(ctx, sessionRecord("b", start.Add(time.Hour), 0, "k", "v")); err != nil {
				t.Fatal(err)
			}
			rec, err := s.Load(ctx, "a")
			if err != nil {
				t.Fatalf("Load before expiry: %v", err)
			}
			if !rec.Expiry.Equal(start.Add(time.Minute)) {
				t.Errorf("Expiry = %v, want %v", rec.Expiry, start.Add(time.Minute))
			}

			clock.Advance(time.Minute) // "a" expires exactly now: it is dead
			if _, err := s.Load(ctx, "a"); !errors.Is(err, echosess.ErrNotFound) {
				t.Fatalf("Load at expiry: err = %v, want ErrNotFound", err)
			}
			// A save at the version it was loaded at must not revive an expired row...
			if err := s.Save(ctx, rec); !errors.Is(err, echosess.ErrConflict) {
				t.Fatalf("Save of an expired record at version %d: err = %v, want ErrConflict", rec.Version, err)
			}
			// ...but a new session may take its key.
			if err := s.Save(ctx, sessionRecord("a", clock.Now().Add(time.Minute), 0, "k", "new")); err != nil {
				t.Fatalf("Save over an expired row: %v", err)
			}
			if rec, err := s.Load(ctx, "a"); err != nil || rec.Version != 1 || string(rec.Data["k"]) != `"new"` {
				t.Fatalf("Load after replacing an expired row = %+v, %v; want version 1, k \"new\"", rec, err)
			}

			clock.Advance(2 * time.Minute)
			n, err := s.DeleteExpired(ctx)
			if err != nil || n != 1 {
				t.Fatalf("DeleteExpired = %d, %v; want 1, nil", n, err)
			}
			if _, err := s.Load(ctx, "b"); err != nil {
				t.Fatalf("live session after DeleteExpired: %v", err)
			}
		})
	}
}

func TestSQLStoreDeleteExpiredInBatches(t *testing.T) {
	for _, b := range sqlBackends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			clock := newManualClock()
			s, _ := b.newStore(t, sqlstore.WithClock(clock.Now), sqlstore.WithDeleteBatch(4))
			const expired, live = 10, 3
			for i := range expired + live {
				expiry := clock.Now().Add(time.Duration(i+1) * time.Second)
				if i >= expired {
					expiry = clock.Now().Add(time.Hour)
				}
				if err := s.Save(ctx, sessionRecord(fmt.Sprint("key-", i), expiry, 0, "i", fmt.Sprint(i))); err != nil {
					t.Fatal(err)
				}
			}
			clock.Advance(time.Minute)
			n, err := s.DeleteExpired(ctx)
			if err != nil || n != expired {
				t.Fatalf("DeleteExpired = %d, %v; want %d, nil", n, err, expired)
			}
			for i := expired; i < expired+live; i++ {
				if _, err := s.Load(ctx, fmt.Sprint("key-", i)); err != nil {
					t.Errorf("live session %d: %v", i, err)
				}
			}
			clock.Advance(2 * time.Hour)
			if n, err := s.DeleteExpired(ctx); err != nil || n != live {
				t.Fatalf("second DeleteExpired = %d, %v; want %d, nil", n, err, live)
			}

			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			if _, err := s.DeleteExpired(cancelled); !errors.Is(err, context.Canceled) {
				t.Fatalf("DeleteExpired with a cancelled context: err = %v, want context.Canceled", err)
			}
		})
	}
}

func TestSQLStoreDecodeError(t *testing.T) {
	for _, b := range sqlBackends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s, exec := b.newStore(t)
			if err := s.Save(ctx, sessionRecord("k", time.Now().Add(time.Hour), 0, "a", "b")); err != nil {
				t.Fatal(err)
			}
			exec("UPDATE echosess_sessions SET data = ? WHERE key = ?", []byte("{not json"), "k")
			_, err := s.Load(ctx, "k")
			if !errors.Is(err, echosess.ErrDecode) {
				t.Fatalf("Load of corrupt data: err = %v, want ErrDecode", err)
			}

			bad := sessionRecord("other", time.Now().Add(time.Hour), 0)
			bad.Data["x"] = json.RawMessage("{oops")
			if err := s.Save(ctx, bad); !errors.Is(err, echosess.ErrDecode) {
				t.Fatalf("Save of a value that is not JSON: err = %v, want ErrDecode", err)
			}
			if _, err := s.Load(ctx, "other"); !errors.Is(err, echosess.ErrNotFound) {
				t.Fatalf("a rejected Save wrote a row: Load err = %v", err)
			}

			exec("UPDATE echosess_sessions SET data = ? WHERE key = ?", []byte("null"), "k")
			rec, err := s.Load(ctx, "k")
			if err != nil || rec.Data == nil || len(rec.Data) != 0 {
				t.Fatalf("Load of null data = %v, %v; want an empty, writable map", rec.Data, err)
			}
		})
	}
}

// TestSQLStoreTouchWritesNoData shows that Touch sends no data: a marker written to the
// data column behind the store's back survives a touch that moves the expiry.
func TestSQLStoreTouchWritesNoData(t *testing.T) {
	for _, b := range sqlBackends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s, exec := b.newStore(t)
			if err := s.Save(ctx, sessionRecord("k", time.Now().Add(time.Hour), 0, "a", "saved")); err != nil {
				t.Fatal(err)
			}
			exec("UPDATE echosess_sessions SET data = ? WHERE key = ?", []byte(`{"a":"marker"}`), "k")
			touched := sessionRecord("k", time.Now().Add(2*time.Hour), 1, "a", "passed to Touch")
			if err := s.Touch(ctx, touched); err != nil {
				t.Fatalf("Touch: %v", err)
			}
			rec, err := s.Load(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			if string(rec.Data["a"]) != `"marker"` || rec.Version != 2 {
				t.Fatalf("after Touch: a = %s, version %d; want the marker, version 2", rec.Data["a"], rec.Version)
			}
			if d := rec.Expiry.Sub(touched.Expiry); d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("Expiry after Touch = %v, want %v", rec.Expiry, touched.Expiry)
			}
			if d := rec.Deadline.Sub(touched.Deadline); d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("Deadline after Touch = %v, want %v", rec.Deadline, touched.Deadline)
			}
		})
	}
}

func TestSQLStoreDatabaseErrors(t *testing.T) {
	ctx := context.Background()
	db := allstores.NewSQLiteDB(t)
	s := sqlitestore.New(db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "k"); err == nil || errors.Is(err, echosess.ErrNotFound) {
		t.Errorf("Load on a closed database: err = %v, want a database error", err)
	}
	if err := s.Save(ctx, sessionRecord("k", time.Now().Add(time.Hour), 0)); err == nil || errors.Is(err, echosess.ErrConflict) {
		t.Errorf("Save on a closed database: err = %v, want a database error", err)
	}
	if err := s.Touch(ctx, sessionRecord("k", time.Now().Add(time.Hour), 1)); err == nil || errors.Is(err, echosess.ErrConflict) {
		t.Errorf("Touch on a closed database: err = %v, want a database error", err)
	}
	if err := s.Delete(ctx, "k"); err == nil {
		t.Error("Delete on a closed database: no error")
	}
	if _, err := s.DeleteExpired(ctx); err == nil {
		t.Error("DeleteExpired on a closed database: no error")
	}
}

// TestSQLiteConcurrentWriters has 64 goroutines write at once, each to a session of its
// own and to one shared session, while expired rows are being cleaned: with the
// database opened through sqlitestore.DSN, none may fail with "database is locked".
func TestSQLiteConcurrentWriters(t *testing.T) {
	const writers, saves = 64, 10
	ctx := context.Background()
	db := allstores.NewSQLiteDB(t)
	s := sqlitestore.New(db)
	if err := s.Save(ctx, sessionRecord("shared", time.Now().Add(time.Hour), 0, "n", "0")); err != nil {
		t.Fatal(err)
	}

	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		failures  []error
		conflicts atomic.Int64
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, err)
	}
	stop := make(chan struct{})
	cleanerDone := make(chan struct{})
	go func() { // a cleaner competing for the write lock all along
		defer close(cleanerDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.DeleteExpired(ctx); err != nil {
				fail(err)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	began := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprint("writer-", w)
			rec := sessionRecord(key, time.Now().Add(time.Hour), 0, "w", key)
			for i := range saves {
				rec.Data["i"] = json.RawMessage(fmt.Sprint(i))
				if err := s.Save(ctx, rec); err != nil {
					fail(err)
					return
				}
				rec.Version++
				// Some rows that the cleaner will find.
				if err := s.Save(ctx, sessionRecord(fmt.Sprint(key, "-old-", i), time.Now().Add(-time.Second), 0)); err != nil {
					fail(err)
				}
				shared, err := s.Load(ctx, "shared")
				if err != nil {
					fail(err)
					return
				}
				shared.Data["by"] = json.RawMessage(fmt.Sprintf("%q", key))
				if err := s.Save(ctx, shared); errors.Is(err, echosess.ErrConflict) {
					conflicts.Add(1)
				} else if err != nil {
					fail(err)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-cleanerDone
	elapsed := time.Since(began)

	locked := 0
	for _, err := range failures {
		if strings.Contains(err.Error(), "locked") || strings.Contains(err.Error(), "SQLITE_BUSY") {
			locked++
		}
	}
	t.Logf("%d writers x %d rounds (3 writes each) in %v: %d failures, %d of them \"database is locked\"; %d CAS conflicts on the shared session",
		writers, saves, elapsed.Round(time.Millisecond), len(failures), locked, conflicts.Load())
	for i, err := range failures {
		if i == 5 {
			break
		}
		t.Error(err)
	}
	for w := range writers {
		rec, err := s.Load(ctx, fmt.Sprint("writer-", w))
		if err != nil || rec.Version != saves || string(rec.Data["i"]) != fmt.Sprint(saves-1) {
			t.Fatalf("writer %d: record %+v, %v; want version %d", w, rec, err, saves)
		}
	}
}

// TestPostgresDeleteExpiredConcurrent runs cleaners side by side: together they delete
// every expired row exactly once.
func TestPostgresDeleteExpiredConcurrent(t *testing.T) {
	ctx := context.Background()
	pool := allstores.NewPostgresPool(t)
	clock := newManualClock()
	s := pgstore.New(pool, sqlstore.WithClock(clock.Now), sqlstore.WithDeleteBatch(7))
	const rows = 300
	insertExpired(t, pool, clock.Now(), rows)
	clock.Advance(time.Hour)

	var wg sync.WaitGroup
	var total atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := s.DeleteExpired(ctx)
			if err != nil {
				t.Error(err)
			}
			total.Add(n)
		}()
	}
	wg.Wait()
	if n, err := s.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	} else {
		total.Add(n)
	}
	if total.Load() != rows {
		t.Fatalf("cleaners deleted %d rows in all, want %d", total.Load(), rows)
	}
}

func insertExpired(t *testing.T, pool *pgxpool.Pool, now time.Time, rows int) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `
		INSERT INTO echosess_sessions (key, data, expires_at, deadline, version, created_at, updated_at)
		SELECT 'expired-' || i, '{}', $1::timestamptz, $1::timestamptz, 1, $1::timestamptz, $1::timestamptz
		FROM generate_series(1, $2::int) AS i`, now, rows)
	if err != nil {
		t.Fatal(err)
	}
}
