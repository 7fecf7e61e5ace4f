package bench

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// A benchCase is one request shape, timed on each library.
type benchCase struct {
	method, path string
	cookie       bool   // send the cookie of a session made beforehand
	want         string // the body of every reply; PathWrite's counts instead
}

var (
	caseRead      = benchCase{http.MethodGet, PathRead, true, User}
	caseWrite     = benchCase{http.MethodPost, PathWrite, true, ""}
	caseCreate    = benchCase{http.MethodPost, PathCreate, false, "ok"}
	caseUntouched = benchCase{http.MethodGet, PathNone, true, "ok"}
)

// memoryLibs, sqliteLibs, postgresLibs, mysqlLibs and redisLibs are the libraries compared on
// each store, the baseline first: benchstat -col /lib lists columns in this order.
var (
	memoryLibs   = []string{LibBaseline, LibEchosess, LibSCS, LibGorilla, LibBaselineV5, LibEchosessV5, LibGorillaV5}
	sqliteLibs   = []string{LibEchosess, LibEchosessCache}
	postgresLibs = []string{LibEchosess, LibEchosessCache, LibSCS}
	mysqlLibs    = []string{LibEchosess, LibEchosessCache, LibSCS}
	redisLibs    = []string{LibEchosess, LibSCS, LibGorilla}
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

// runCase times k on every library, on memory stores, on SQLite files, on Redis
// and, when their DSNs are set, on Postgres and on MySQL.
func runCase(b *testing.B, k benchCase) {
	for _, lib := range memoryLibs {
		b.Run("lib="+lib+"/store=memory", func(b *testing.B) {
			runApp(b, k, func(count bool) (*App, error) { return NewApp(lib, nil, count) }, false)
		})
	}
	for _, lib := range sqliteLibs {
		b.Run("lib="+lib+"/store=sqlite", func(b *testing.B) {
			runApp(b, k, func(count bool) (*App, error) { return NewSQLiteApp(lib, newSQLiteDB(b), count) }, false)
		})
	}
	for _, lib := range postgresLibs {
		b.Run("lib="+lib+"/store=postgres", func(b *testing.B) {
			pg := sharedPostgres(b)
			runApp(b, k, func(bool) (*App, error) { return NewApp(lib, pg, true) }, true)
		})
	}
	for _, lib := range mysqlLibs {
		b.Run("lib="+lib+"/store=mysql", func(b *testing.B) {
			m := sharedMySQL(b)
			runApp(b, k, func(bool) (*App, error) { return NewMySQLApp(lib, m) }, true)
		})
	}
	for _, lib := range redisLibs {
		b.Run("lib="+lib+"/store=redis", func(b *testing.B) {
			r := sharedRedis(b)
			runApp(b, k, func(bool) (*App, error) { return NewRedisApp(lib, r) }, true)
		})
	}
}

// countRequests is how many requests of a case a counted app serves to measure its
// store round trips.
const countRequests = 100

// runApp times k on the app that newApp builds, serving each request in-process, and
// reports the store round trips per request alongside time and allocations. With
// traced set, the timed app counts its own round trips (a pgx tracer on Postgres,
// its connections on MySQL and Redis); otherwise they are counted on a second, counted app,
// so that the timed one runs on the bare store.
func runApp(b *testing.B, k benchCase, newApp func(count bool) (*App, error), traced bool) {
	d := newDriver(b, k, newApp, false)
	defer d.app.Close()
	d.serve(b) // one request before timing warms the cache of echosess-cache and of rueidis
	counter := d.app.Count
	start, starts := counter.Snapshot(), d.n
	cpu := CPUTime()
	b.ReportAllocs()
	for b.Loop() {
		d.serve(b)
	}
	ops := float64(d.n - starts)
	if cpu > 0 {
		// CPU time, unlike sec/op, hardly grows when other processes compete for the
		// cores; it includes the garbage collector's work on other threads.
		b.ReportMetric(float64(CPUTime()-cpu)/ops, "cpu-ns/op")
	}
	d.check(b, k)
	got := counter.Snapshot().Sub(start)
	if !traced {
		c := newDriver(b, k, newApp, true)
		defer c.app.Close()
		c.serve(b)
		start := c.app.Count.Snapshot()
		for range countRequests {
			c.serve(b)
		}
		c.check(b, k)
		got, ops = c.app.Count.Snapshot().Sub(start), countRequests
	}
	b.ReportMetric(float64(got.Reads)/ops, "reads/op")
	b.ReportMetric(float64(got.Writes)/ops, "writes/op")
	b.ReportMetric(float64(got.Total())/ops, "roundtrips/op")
	if counter.Batched() {
		// On Redis a round trip may carry several commands: a transaction's MULTI
		// and EXEC, or the CLIENT CACHING and PTTL of a client-side cache's miss.
		b.ReportMetric(float64(got.Cmds)/ops, "cmds/op")
	}
}

// A driver serves one case's requests to one app in-process.
type driver struct {
	app  *App
	tmpl *http.Request
	w    *recorder
	n    int // requests served
}

// newDriver builds an app with newApp and, for cases that need one, a session to send.
func newDriver(b *testing.B, k benchCase, newApp func(count bool) (*App, error), count bool) *driver {
	app, err := newApp(count)
	if err != nil {
		b.Fatal(err)
	}
	d := &driver{app: app, tmpl: httptest.NewRequest(k.method, k.path, nil), w: newRecorder()}
	if k.cookie {
		d.tmpl.Header.Set("Cookie", newSession(b, app))
	}
	return d
}

// serve serves one request and fails b unless it succeeds.
func (d *driver) serve(b *testing.B) {
	req := *d.tmpl // each request is fresh: gorilla/sessions changes the one it is given
	d.w.reset()
	d.app.Handler.ServeHTTP(d.w, &req)
	d.n++
	if d.w.code != http.StatusOK {
		b.Fatalf("%s %s: status %d: %s", req.Method, req.URL.Path, d.w.code, d.w.body)
	}
}

// check fails b unless the last reply is what k gives on a working session library.
func (d *driver) check(b *testing.B, k benchCase) {
	if isBaseline(d.app.Lib) {
		return
	}
	want := k.want
	if k.path == PathWrite {
		want = strconv.Itoa(d.n) // the session's count went up on every request
	}
	if string(d.w.body) != want {
		b.Fatalf("%s %s: last reply %q, want %q", k.method, k.path, d.w.body, want)
	}
	if f := d.app.Failures.Load(); f > 0 {
		b.Fatalf("%d commits failed", f)
	}
}

// newSession creates a session on app and returns the Cookie header that names it.
func newSession(b *testing.B, app *App) string {
	b.Helper()
	rec := httptest.NewRecorder()
	app.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, PathCreate, nil))
	if rec.Code != http.StatusOK {
		b.Fatalf("creating a session: status %d: %s", rec.Code, rec.Body)
	}
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == CookieName {
			return ck.Name + "=" + ck.Value
		}
	}
	if isBaseline(app.Lib) {
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

// newSQLiteDB returns a migrated SQLite database in a new file, closed when b ends.
func newSQLiteDB(b *testing.B) *sql.DB {
	db, err := OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "sessions.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
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

// The MySQL databases are made once per test binary and dropped by TestMain.
var (
	mysqlOnce sync.Once
	mysqlEnv  *MySQL
	mysqlErr  error
)

// sharedMySQL returns the run's MySQL databases on the server at MySQLDSNVar.
// Without that variable it fails b under CI=true, and skips it otherwise.
func sharedMySQL(b testing.TB) *MySQL {
	dsn := os.Getenv(MySQLDSNVar)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			b.Fatal(MySQLDSNVar + " is not set")
		}
		b.Skip(MySQLDSNVar + " is not set")
	}
	mysqlOnce.Do(func() { mysqlEnv, mysqlErr = OpenMySQL(context.Background(), dsn) })
	if mysqlErr != nil {
		b.Fatal(mysqlErr)
	}
	return mysqlEnv
}

// The Redis prefix is made once per test binary, and its keys deleted by TestMain.
var (
	redisOnce sync.Once
	redisEnv  *Redis
	redisErr  error
)

// sharedRedis returns the run's prefix on the Redis at RedisAddr. Without that
// Redis it fails b under CI=true, and skips it otherwise.
func sharedRedis(b *testing.B) *Redis {
	redisOnce.Do(func() { redisEnv, redisErr = OpenRedis(context.Background(), RedisAddr()) })
	if redisErr != nil {
		if os.Getenv("CI") == "true" {
			b.Fatal(redisErr)
		}
		b.Skip(redisErr)
	}
	return redisEnv
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pgEnv != nil {
		pgEnv.Close()
	}
	if mysqlEnv != nil {
		if err := mysqlEnv.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: dropping the MySQL databases:", err)
		}
	}
	if redisEnv != nil {
		if err := redisEnv.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: deleting the Redis keys:", err)
		}
	}
	os.Exit(code)
}
