package echosess_test

// Contention beyond TestMiddleware/*/ConcurrentKeys (100 concurrent requests of one
// session on every store variant): many sessions writing to one SQLite file, and one
// session written through two app instances that share a database.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/internal/adaptertest"
	"github.com/echosess/echosess/internal/adaptertest/allstores"
	"github.com/echosess/echosess/memstore"
	"github.com/echosess/echosess/pgstore"
	"github.com/echosess/echosess/sqlitestore"
)

// isLocked reports whether msg is SQLite's "database is locked" (SQLITE_BUSY).
func isLocked(msg string) bool {
	return strings.Contains(msg, "locked") || strings.Contains(msg, "SQLITE_BUSY")
}

// TestSQLiteConcurrentSessions has 64 browsers write to sessions of their own at the
// same time, through the middleware, on a SQLite file opened with sqlitestore.DSN: no
// request may fail, none with "database is locked", and no write may be lost.
func TestSQLiteConcurrentSessions(t *testing.T) {
	for _, cached := range []bool{false, true} {
		v := adaptertest.Variant{Name: "sqlite", NewStore: allstores.NewSQLiteStore, Cached: cached}
		if cached {
			v.Name += "+cache"
		}
		t.Run(v.Name, func(t *testing.T) {
			const sessions, writes = 64, 10
			var log adaptertest.ErrorLog
			h := newHarness(t, v, log.Configure)
			var (
				wg       sync.WaitGroup
				mu       sync.Mutex
				failures []string
				slowest  time.Duration
			)
			browsers := make([]*adaptertest.Browser, sessions)
			began := time.Now()
			for i := range browsers {
				b := h.Browser()
				browsers[i] = b
				wg.Add(1)
				go func() {
					defer wg.Done()
					for w := range writes {
						sent := time.Now()
						resp, err := b.Client.Get(h.URL("/set", "k", fmt.Sprint("k", w), "v", fmt.Sprint(i, "-", w)))
						mu.Lock()
						slowest = max(slowest, time.Since(sent))
						mu.Unlock()
						if err == nil {
							if body := readAll(resp); resp.StatusCode != http.StatusOK || body != "ok" {
								err = fmt.Errorf("status %d %q", resp.StatusCode, body)
							}
						}
						if err != nil {
							mu.Lock()
							failures = append(failures, fmt.Sprintf("session %d write %d: %v", i, w, err))
							mu.Unlock()
						}
					}
				}()
			}
			wg.Wait()
			took := time.Since(began)
			errs := log.All()
			locked := 0
			for _, f := range failures {
				if isLocked(f) {
					locked++
				}
			}
			for _, err := range errs {
				if isLocked(err.Error()) {
					locked++
				}
			}
			t.Logf("%d sessions x %d writes in %v (slowest %v): %d failed requests, %d commit errors, %d \"database is locked\"",
				sessions, writes, took.Round(time.Millisecond), slowest.Round(time.Millisecond), len(failures), len(errs), locked)
			for i, f := range failures {
				if i == 5 {
					break
				}
				t.Error(f)
			}
			for i, err := range errs {
				if i == 5 {
					break
				}
				t.Error(err)
			}
			lost := 0
			for i, b := range browsers {
				for w := range writes {
					if b.Value(fmt.Sprint("k", w)) != fmt.Sprint(i, "-", w) {
						lost++
					}
				}
			}
			if locked > 0 || lost > 0 {
				t.Fatalf("%d \"database is locked\", %d of %d writes lost", locked, lost, sessions*writes)
			}
		})
	}
}

// readAll returns the body of resp, or the error reading it, and closes it.
func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "reading the body: " + err.Error()
	}
	return string(b)
}

// TestConcurrentKeysAcrossApps sends 100 concurrent requests of one session, each
// setting a key of its own, alternately to two app instances whose stores share one
// database: the per-process commit lock cannot order them, so compare-and-swap must.
// No key may be lost.
func TestConcurrentKeysAcrossApps(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "sessions.db")
		db := allstores.OpenSQLite(t, path)
		if err := sqlitestore.Migrate(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		testConcurrentKeysAcrossApps(t,
			func(_ *testing.T, now func() time.Time) echosess.Store {
				return sqlitestore.New(db, memstore.WithClock(now))
			},
			func(t *testing.T, now func() time.Time) echosess.Store {
				return sqlitestore.New(allstores.OpenSQLite(t, path), memstore.WithClock(now))
			})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := allstores.NewPostgresSchema(t)
		pool := allstores.OpenPostgres(t, dsn)
		db := stdlib.OpenDBFromPool(pool)
		defer db.Close()
		if err := pgstore.Migrate(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		testConcurrentKeysAcrossApps(t,
			func(_ *testing.T, now func() time.Time) echosess.Store {
				return pgstore.New(pool, memstore.WithClock(now))
			},
			func(t *testing.T, now func() time.Time) echosess.Store {
				return pgstore.New(allstores.OpenPostgres(t, dsn), memstore.WithClock(now))
			})
	})
}

func testConcurrentKeysAcrossApps(t *testing.T, first, second adaptertest.StoreFactory) {
	const n = 100
	var log adaptertest.ErrorLog
	apps := []*adaptertest.Harness{
		newHarness(t, adaptertest.Variant{Name: "first", NewStore: first}, log.Configure),
		newHarness(t, adaptertest.Variant{Name: "second", NewStore: second}, log.Configure),
	}
	b := apps[0].Browser()
	b.Set("seed", "0")
	// Cookies do not depend on the port: b's jar sends the session to both apps.
	var wg sync.WaitGroup
	failures := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := b.Client.Get(apps[i%2].URL("/set", "k", fmt.Sprint("key", i), "v", fmt.Sprint(i)))
			if err != nil {
				failures <- err.Error()
				return
			}
			if body := readAll(resp); resp.StatusCode != http.StatusOK || body != "ok" {
				failures <- fmt.Sprintf("set key%d: %d %q", i, resp.StatusCode, body)
			}
		}()
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
	for _, err := range log.All() {
		t.Error(err)
	}
	for _, h := range apps {
		reader := b.On(h)
		lost := 0
		for i := range n {
			if reader.Value(fmt.Sprint("key", i)) != fmt.Sprint(i) {
				lost++
			}
		}
		if lost > 0 {
			t.Fatalf("read through app %s: %d of %d concurrently set keys were lost", h.Server.URL, lost, n)
		}
	}
}
