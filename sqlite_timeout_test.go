package echosess_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	_ "modernc.org/sqlite"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/sqlitestore"
)

// TestSQLiteCommitHonoursStoreTimeout (issue 11, rule 14): a request whose commit
// meets another process's SQLite write lock fails with the commit's 500 within
// StoreTimeout plus one busy slice of sqlitestore.DSN (100 ms), not after a busy timeout of
// its own, and sets no cookie; once the lock is released, the same request commits.
// The store-level cases are core's TestSQLiteHonoursStoreTimeout.
func TestSQLiteCommitHonoursStoreTimeout(t *testing.T) {
	const (
		storeTimeout   = 300 * time.Millisecond
		busySlice      = 100 * time.Millisecond
		lateness       = 1500 * time.Millisecond
		oldBusyTimeout = 10 * time.Second
	)
	path := filepath.Join(t.TempDir(), "sessions.db")
	db := openSQLiteFile(t, path)
	if err := sqlitestore.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	store := sqlitestore.New(db)
	defer store.Close()

	var (
		mu       sync.Mutex
		failures []error
	)
	e := echo.New()
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		mu.Lock()
		failures = append(failures, err)
		mu.Unlock()
		e.DefaultHTTPErrorHandler(err, c)
	}
	e.Use(echosess.Middleware(echosess.Config{Store: store, StoreTimeout: storeTimeout, Logger: slog.New(slog.DiscardHandler)}))
	e.GET("/login", func(c echo.Context) error {
		if err := echosess.Set(c, "user", "alice"); err != nil {
			return err
		}
		return c.String(http.StatusOK, "ok")
	})
	login := func() (*httptest.ResponseRecorder, time.Duration) {
		rec := httptest.NewRecorder()
		began := time.Now()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/login", nil))
		return rec, time.Since(began)
	}

	// Another process's write transaction.
	lock, err := openSQLiteFile(t, path).Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	rec, elapsed := login()
	t.Logf("a login behind another connection's write lock, StoreTimeout %v: %d after %v", storeTimeout, rec.Code, elapsed)
	if elapsed >= oldBusyTimeout {
		t.Fatalf("the request took %v, sqlitestore.DSN's old busy timeout (%v)", elapsed, oldBusyTimeout)
	}
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status %d, want 500: the commit failed", rec.Code)
	}
	if limit := storeTimeout + busySlice + lateness; elapsed > limit {
		t.Errorf("the request took %v, want at most StoreTimeout + one busy slice (%v) + %v", elapsed, storeTimeout+busySlice, lateness)
	}
	if c := rec.Result().Cookies(); len(c) != 0 {
		t.Errorf("a failed commit set cookies %v", c)
	}
	mu.Lock()
	if len(failures) != 1 || !errors.Is(failures[0], context.DeadlineExceeded) {
		t.Errorf("errors handled: %v, want one wrapping context.DeadlineExceeded", failures)
	}
	failures = nil
	mu.Unlock()

	if _, err := lock.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	rec, elapsed = login()
	if rec.Code != http.StatusOK || len(rec.Result().Cookies()) != 1 {
		t.Fatalf("after the lock was released: status %d, cookies %v, errors %v; want 200 and a session cookie", rec.Code, rec.Result().Cookies(), failures)
	}
	t.Logf("after the lock was released: %d after %v", rec.Code, elapsed)
}

// openSQLiteFile opens the SQLite file at path with sqlitestore.DSN, closed when t ends.
func openSQLiteFile(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", sqlitestore.DSN(path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
