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
	"github.com/labstack/echo/v4"
)

// errorLog collects the errors that reach Config.ErrorHandler, however many.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) configure(cfg *echosess.Config) {
	cfg.ErrorHandler = func(_ echo.Context, err error) error {
		l.mu.Lock()
		l.errs = append(l.errs, err)
		l.mu.Unlock()
		return echo.NewHTTPError(http.StatusInternalServerError, "session error").SetInternal(err)
	}
}

func (l *errorLog) all() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

// isLocked reports whether msg is SQLite's "database is locked" (SQLITE_BUSY).
func isLocked(msg string) bool {
	return strings.Contains(msg, "locked") || strings.Contains(msg, "SQLITE_BUSY")
}

// TestSQLiteConcurrentSessions has 64 browsers write to sessions of their own at the
// same time, through the middleware, on a SQLite file opened with SQLiteDSN: no
// request may fail, none with "database is locked", and no write may be lost.
func TestSQLiteConcurrentSessions(t *testing.T) {
	for _, cached := range []bool{false, true} {
		v := variant{name: "sqlite", newStore: newSQLiteTestStore, cached: cached}
		if cached {
			v.name += "+cache"
		}
		t.Run(v.name, func(t *testing.T) {
			const sessions, writes = 64, 10
			var log errorLog
			h := newHarness(t, v, log.configure)
			var (
				wg       sync.WaitGroup
				mu       sync.Mutex
				failures []string
				slowest  time.Duration
			)
			browsers := make([]*browser, sessions)
			began := time.Now()
			for i := range browsers {
				b := h.browser()
				browsers[i] = b
				wg.Add(1)
				go func() {
					defer wg.Done()
					for w := range writes {
						sent := time.Now()
						resp, err := b.client.Get(h.url("/set", "k", fmt.Sprint("k", w), "v", fmt.Sprint(i, "-", w)))
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
			errs := log.all()
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
					if b.value(fmt.Sprint("k", w)) != fmt.Sprint(i, "-", w) {
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
		db := openSQLite(t, path)
		if err := echosess.Migrate(context.Background(), db, echosess.DialectSQLite); err != nil {
			t.Fatal(err)
		}
		testConcurrentKeysAcrossApps(t,
			func(_ *testing.T, now func() time.Time) echosess.Store {
				return echosess.NewSQLiteStore(db, echosess.WithClock(now))
			},
			func(t *testing.T, now func() time.Time) echosess.Store {
				return echosess.NewSQLiteStore(openSQLite(t, path), echosess.WithClock(now))
			})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := newPostgresSchema(t)
		pool := openPostgres(t, dsn)
		db := stdlib.OpenDBFromPool(pool)
		defer db.Close()
		if err := echosess.Migrate(context.Background(), db, echosess.DialectPostgres); err != nil {
			t.Fatal(err)
		}
		testConcurrentKeysAcrossApps(t,
			func(_ *testing.T, now func() time.Time) echosess.Store {
				return echosess.NewPostgresStore(pool, echosess.WithClock(now))
			},
			func(t *testing.T, now func() time.Time) echosess.Store {
				return echosess.NewPostgresStore(openPostgres(t, dsn), echosess.WithClock(now))
			})
	})
}

func testConcurrentKeysAcrossApps(t *testing.T, first, second storeFactory) {
	const n = 100
	var log errorLog
	apps := []*harness{
		newHarness(t, variant{name: "first", newStore: first}, log.configure),
		newHarness(t, variant{name: "second", newStore: second}, log.configure),
	}
	b := apps[0].browser()
	b.set("seed", "0")
	// Cookies do not depend on the port: b's jar sends the session to both apps.
	var wg sync.WaitGroup
	failures := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := b.client.Get(apps[i%2].url("/set", "k", fmt.Sprint("key", i), "v", fmt.Sprint(i)))
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
	for _, err := range log.all() {
		t.Error(err)
	}
	for _, h := range apps {
		reader := &browser{h: h, client: b.client}
		lost := 0
		for i := range n {
			if reader.value(fmt.Sprint("key", i)) != fmt.Sprint(i) {
				lost++
			}
		}
		if lost > 0 {
			t.Fatalf("read through app %s: %d of %d concurrently set keys were lost", h.srv.URL, lost, n)
		}
	}
}
