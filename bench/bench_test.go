package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
)

// A benchCase is one request shape, timed on each library.
type benchCase struct {
	method, path string
	cookie       bool   // send the cookie of a session made beforehand
	want         string // the body of every reply; "" for PathWrite, which counts
}

var (
	caseRead      = benchCase{http.MethodGet, PathRead, true, User}
	caseWrite     = benchCase{http.MethodPost, PathWrite, true, ""}
	caseCreate    = benchCase{http.MethodPost, PathCreate, false, "ok"}
	caseUntouched = benchCase{http.MethodGet, PathNone, true, "ok"}
)

// memoryLibs and postgresLibs are the libraries compared on each store, the
// baseline first: benchstat -col /lib lists columns in this order.
var (
	memoryLibs   = []string{LibBaseline, LibEchosess, LibSCS, LibGorilla}
	postgresLibs = []string{LibEchosess, LibEchosessCache, LibSCS}
)

// BenchmarkRead reads a value from an existing session.
func BenchmarkRead(b *testing.B) { runCase(b, caseRead) }

// BenchmarkWrite changes a value of an existing session.
func BenchmarkWrite(b *testing.B) { runCase(b, caseWrite) }

// BenchmarkCreate makes a new session with its first write.
func BenchmarkCreate(b *testing.B) { runCase(b, caseCreate) }

// BenchmarkUntouched serves a request that carries a session cookie to a handler that
// never touches the session.
func BenchmarkUntouched(b *testing.B) { runCase(b, caseUntouched) }

// runCase times k on every library, on memory stores and then, when the DSN is set,
// on Postgres.
func runCase(b *testing.B, k benchCase) {
	for _, lib := range memoryLibs {
		b.Run("lib="+lib+"/store=memory", func(b *testing.B) { runApp(b, k, lib, nil) })
	}
	for _, lib := range postgresLibs {
		b.Run("lib="+lib+"/store=postgres", func(b *testing.B) {
			pg := sharedPostgres(b)
			runApp(b, k, lib, pg)
		})
	}
}

// runApp times k on lib's app, serving each request in-process, and reports the
// store round trips per request alongside time and allocations.
func runApp(b *testing.B, k benchCase, lib string, pg *Postgres) {
	app, err := NewApp(lib, pg)
	if err != nil {
		b.Fatal(err)
	}
	defer app.Close()
	tmpl := httptest.NewRequest(k.method, k.path, nil)
	if k.cookie {
		tmpl.Header.Set("Cookie", newSession(b, app))
	}
	w := newRecorder()
	n := 0
	serve := func() {
		req := *tmpl // each request is fresh: gorilla/sessions changes the one it is given
		w.reset()
		app.Echo.ServeHTTP(w, &req)
		n++
		if w.code != http.StatusOK {
			b.Fatalf("%s %s: status %d: %s", k.method, k.path, w.code, w.body)
		}
	}
	serve() // one request before timing warms the cache of echosess-cache
	start := app.Count.Snapshot()
	starts := n
	b.ReportAllocs()
	for b.Loop() {
		serve()
	}
	ops := float64(n - starts)
	got := app.Count.Snapshot().Sub(start)
	b.ReportMetric(float64(got.Reads)/ops, "reads/op")
	b.ReportMetric(float64(got.Writes)/ops, "writes/op")
	b.ReportMetric(float64(got.Total())/ops, "roundtrips/op")
	want := k.want
	if k.path == PathWrite && lib != LibBaseline {
		want = strconv.Itoa(n) // the session's count went up on every request
	}
	if want != "" && string(w.body) != want && lib != LibBaseline {
		b.Fatalf("%s %s: last reply %q, want %q", k.method, k.path, w.body, want)
	}
	if f := app.Failures.Load(); f > 0 {
		b.Fatalf("%d commits failed", f)
	}
}

// newSession creates a session on app and returns the Cookie header that names it.
func newSession(b *testing.B, app *App) string {
	b.Helper()
	rec := httptest.NewRecorder()
	app.Echo.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, PathCreate, nil))
	if rec.Code != http.StatusOK {
		b.Fatalf("creating a session: status %d: %s", rec.Code, rec.Body)
	}
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == CookieName {
			return ck.Name + "=" + ck.Value
		}
	}
	if app.Lib == LibBaseline {
		return CookieName + "=none"
	}
	b.Fatalf("creating a session: no %q cookie in %q", CookieName, rec.Header().Values("Set-Cookie"))
	return ""
}

// recorder is an http.ResponseWriter reused across requests, so that the harness
// allocates nothing per request and the figures are the app's own.
type recorder struct {
	h    http.Header
	code int
	body []byte
}

func newRecorder() *recorder { return &recorder{h: make(http.Header)} }

func (w *recorder) reset() {
	clear(w.h)
	w.code = 0
	w.body = w.body[:0]
}

func (w *recorder) Header() http.Header { return w.h }

func (w *recorder) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *recorder) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.body = append(w.body, p...)
	return len(p), nil
}

// The Postgres schemas are made once per test binary and dropped by TestMain.
var (
	pgOnce sync.Once
	pgEnv  *Postgres
	pgErr  error
)

// sharedPostgres returns the run's Postgres schemas, or skips b without a DSN.
func sharedPostgres(b *testing.B) *Postgres {
	dsn := os.Getenv(DSNVar)
	if dsn == "" {
		b.Skip(DSNVar + " is not set")
	}
	pgOnce.Do(func() { pgEnv, pgErr = OpenPostgres(context.Background(), dsn) })
	if pgErr != nil {
		b.Fatal(pgErr)
	}
	return pgEnv
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pgEnv != nil {
		pgEnv.Close()
	}
	os.Exit(code)
}
