package echosess_test

// Store outages: the PostgreSQL or MySQL connection cut or stalled under load by a
// TCP proxy the test controls, a store that hangs, and a client that gives up.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/labstack/echo/v4"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/internal/adaptertest"
	"github.com/echosess/echosess/internal/adaptertest/allstores"
	"github.com/echosess/echosess/internal/tcpproxy"
	"github.com/echosess/echosess/mysqlstore"
	"github.com/echosess/echosess/pgstore"
)

// proxiedPostgres returns a migrated schema of the test database, a pool that reaches
// it through a new tcpproxy.Proxy, and a pool that reaches it directly.
func proxiedPostgres(t *testing.T) (proxied *pgxpool.Pool, p *tcpproxy.Proxy, direct *pgxpool.Pool) {
	t.Helper()
	dsn := allstores.NewPostgresSchema(t)
	direct = allstores.OpenPostgres(t, dsn)
	db := stdlib.OpenDBFromPool(direct)
	defer db.Close()
	if err := pgstore.Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate postgres: %v", err)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	network, target := pgconn.NetworkAddress(cfg.ConnConfig.Host, cfg.ConnConfig.Port)
	p = tcpproxy.New(t, network, target)
	cfg.ConnConfig.ConnectTimeout = 2 * time.Second
	cfg.ConnConfig.DialFunc = func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", p.Addr())
	}
	proxied, err = pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxied.Close)
	return proxied, p, direct
}

// proxiedMySQL returns a store on a migrated database of its own that reaches the
// server through a new tcpproxy.Proxy, and a store that reaches it directly.
func proxiedMySQL(t *testing.T) (proxied echosess.Store, p *tcpproxy.Proxy, direct echosess.Store) {
	t.Helper()
	dsn := mysqlstore.DSN(allstores.NewMySQLDatabase(t))
	db := allstores.OpenMySQL(t, dsn)
	if err := mysqlstore.Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate mysql: %v", err)
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p = tcpproxy.New(t, cfg.Net, cfg.Addr)
	cfg.Timeout = 2 * time.Second
	cfg.DialFunc = func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", p.Addr())
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	viaProxy := sql.OpenDB(connector)
	t.Cleanup(func() { viaProxy.Close() })
	return mysqlstore.New(viaProxy), p, mysqlstore.New(db)
}

// outageApp is an app whose handlers return the handler API's errors, as real apps
// do: a failed load is a 500 from Echo, a failed commit a 503 from ErrorHandler.
type outageApp struct {
	srv        *httptest.Server
	commitErrs atomic.Int64
	lastErr    atomic.Value // the last error that reached ErrorHandler
}

func newOutageApp(t *testing.T, cfg echosess.Config) *outageApp {
	t.Helper()
	a := &outageApp{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg.CookieInsecure = true
	cfg.ErrorHandler = func(c echo.Context, err error) error {
		a.commitErrs.Add(1)
		a.lastErr.Store(err)
		return echo.NewHTTPError(http.StatusServiceUnavailable, "session not saved").SetInternal(err)
	}
	e := echo.New()
	e.Use(echosess.Middleware(cfg))
	e.POST("/write", func(c echo.Context) error {
		if err := echosess.Set(c, c.QueryParam("k"), c.QueryParam("v")); err != nil {
			return err
		}
		return c.String(http.StatusOK, "ok")
	})
	e.GET("/read", func(c echo.Context) error {
		v, ok, err := echosess.Get[string](c, c.QueryParam("k"))
		if err != nil {
			return err
		}
		if !ok {
			return c.String(http.StatusNotFound, "absent")
		}
		return c.String(http.StatusOK, v)
	})
	e.POST("/logout", func(c echo.Context) error {
		if err := echosess.Destroy(c); err != nil {
			return err
		}
		return c.String(http.StatusOK, "ok")
	})
	e.POST("/renew", func(c echo.Context) error {
		if err := echosess.RenewID(c); err != nil {
			return err
		}
		return c.String(http.StatusOK, "ok")
	})
	a.srv = httptest.NewServer(e)
	t.Cleanup(a.srv.Close)
	return a
}

// call sends one request with the given Cookie header and returns the status, the
// body and the session cookie the response set, if any.
func (a *outageApp) call(ctx context.Context, method, path, cookie string) (int, string, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, a.srv.URL+path, nil)
	if err != nil {
		return 0, "", "", err
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	res, err := a.srv.Client().Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	set := ""
	for _, ck := range res.Cookies() {
		if ck.Name == cookieName {
			set = ck.Value
		}
	}
	return res.StatusCode, string(body), set, err
}

// Phases of an outage test.
const (
	phaseUp = iota
	phaseDown
	phaseRestored
	phases
)

var phaseNames = [phases]string{"before", "during", "after"}

// outageClient is one browser writing w0, w1, ... into its session and reading each
// acknowledged key back.
type outageClient struct {
	cookie string
	mu     sync.Mutex
	acked  map[string]string // writes answered 200
	ok     [phases]atomic.Int64
	failed [phases]atomic.Int64 // 5xx answers
	slow   [phases]atomic.Int64 // the slowest answer, in nanoseconds
}

func (c *outageClient) ackedKeys() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]string, len(c.acked))
	for k, v := range c.acked {
		out[k] = v
	}
	return out
}

// run loads the app until stop is closed. It reports a broken promise to problems:
// a status other than 200 or 5xx, a session replaced, a wrong or missing value.
func (c *outageClient) run(a *outageApp, phase *atomic.Int32, stop <-chan struct{}, problems chan<- string) {
	report := func(format string, args ...any) {
		select {
		case problems <- fmt.Sprintf(format, args...):
		default: // enough reported already
		}
	}
	last := ""
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		ph := phase.Load()
		key, value := fmt.Sprint("w", i), fmt.Sprint(i)
		method, path := http.MethodPost, "/write?k="+key+"&v="+value
		if i%2 == 1 && last != "" {
			method, path = http.MethodGet, "/read?k="+last
		}
		began := time.Now()
		status, body, set, err := a.call(context.Background(), method, path, c.cookie)
		if phase.Load() != ph {
			ph = phaseDown // the request saw the outage begin or end
		}
		if d := int64(time.Since(began)); d > c.slow[ph].Load() {
			c.slow[ph].Store(d)
		}
		switch {
		case err != nil:
			report("%s %s: %v", method, path, err)
		case status >= 500:
			c.failed[ph].Add(1)
		case status != http.StatusOK:
			report("%s %s in phase %s: %d %q", method, path, phaseNames[ph], status, body)
		case set != "" && adaptertest.TokenOf(set) != adaptertest.TokenOf(strings.TrimPrefix(c.cookie, cookieName+"=")):
			report("%s %s in phase %s: the session was replaced", method, path, phaseNames[ph])
		case method == http.MethodPost:
			if set != "" {
				c.cookie = cookieName + "=" + set // the session's version, with a coherent cache
			}
			c.mu.Lock()
			c.acked[key] = value
			c.mu.Unlock()
			last = key
			c.ok[ph].Add(1)
		default:
			if want := c.ackedKeys()[last]; body != want {
				report("read %s in phase %s: %q, want %q", last, phaseNames[ph], body, want)
			}
			c.ok[ph].Add(1)
		}
	}
}

// waitFor polls cond until it holds, failing the test after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	began := time.Now()
	for !cond() {
		if time.Since(began) > limit {
			t.Fatalf("after %v: still waiting until %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(began)
}

// TestPostgresOutage cuts, and separately stalls, the connection between a
// PostgreSQL-backed app and the server while clients write and read their sessions.
// While it is down, requests that need the store get 5xx; after it is restored, the
// same app serves them again; every write answered 200 is in the database.
func TestPostgresOutage(t *testing.T) {
	testOutages(t, func(t *testing.T) (echosess.Store, *tcpproxy.Proxy, echosess.Store) {
		pool, proxy, direct := proxiedPostgres(t)
		return pgstore.New(pool), proxy, pgstore.New(direct)
	})
}

// TestMySQLOutage is TestPostgresOutage on MySQL or MariaDB.
func TestMySQLOutage(t *testing.T) {
	allstores.MySQLDSN(t)
	testOutages(t, proxiedMySQL)
}

// testOutages runs testOutage with the connection cut and stalled, with and without
// a cache, on the stores that open returns: one through a proxy, and one direct.
func testOutages(t *testing.T, open func(t *testing.T) (proxied echosess.Store, p *tcpproxy.Proxy, direct echosess.Store)) {
	for _, mode := range []string{"cut", "stall"} {
		for _, cached := range []bool{false, true} {
			name := mode
			if cached {
				name += "+cache"
			}
			t.Run(name, func(t *testing.T) {
				proxied, proxy, direct := open(t)
				testOutage(t, mode, cached, proxied, proxy, direct)
			})
		}
	}
}

func testOutage(t *testing.T, mode string, cached bool, store echosess.Store, proxy *tcpproxy.Proxy, direct echosess.Store) {
	const clients = 6
	const storeTimeout = 500 * time.Millisecond
	cfg := echosess.Config{Store: store, StoreTimeout: storeTimeout}
	if cached {
		cfg.Cache = echosess.NewMemoryStore()
	}
	a := newOutageApp(t, cfg)

	cs := make([]*outageClient, clients)
	for i := range cs {
		status, body, set, err := a.call(context.Background(), http.MethodPost, "/write?k=start&v=0", "")
		if err != nil || status != http.StatusOK || set == "" {
			t.Fatalf("starting a session: %d %q %v", status, body, err)
		}
		cs[i] = &outageClient{cookie: cookieName + "=" + set, acked: map[string]string{"start": "0"}}
	}
	var phase atomic.Int32
	stop := make(chan struct{})
	problems := make(chan string, 1000)
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.run(a, &phase, stop, problems)
		}()
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		proxy.Restore()
		wg.Wait()
	}()
	every := func(cond func(c *outageClient) bool) func() bool {
		return func() bool {
			for _, c := range cs {
				if !cond(c) {
					return false
				}
			}
			return true
		}
	}

	waitFor(t, 30*time.Second, "every client has 5 answers before the outage",
		every(func(c *outageClient) bool { return c.ok[phaseUp].Load() >= 5 }))
	phase.Store(phaseDown)
	if mode == "cut" {
		proxy.Cut()
	} else {
		proxy.Stall()
	}
	waitFor(t, 30*time.Second, "every client has 3 failures during the outage",
		every(func(c *outageClient) bool { return c.failed[phaseDown].Load() >= 3 }))
	phase.Store(phaseRestored)
	proxy.Restore()
	recovery := waitFor(t, 30*time.Second, "every client has 5 answers after the restore",
		every(func(c *outageClient) bool { return c.ok[phaseRestored].Load() >= 5 }))
	close(stop)
	wg.Wait()
	close(problems)
	for p := range problems {
		t.Error(p)
	}

	var ok, failed [phases]int64
	var slowest time.Duration
	for _, c := range cs {
		for ph := range phases {
			ok[ph] += c.ok[ph].Load()
			failed[ph] += c.failed[ph].Load()
		}
		slowest = max(slowest, time.Duration(c.slow[phaseDown].Load()))
	}
	t.Logf("%s: %d clients; 200/5xx before %d/%d, during %d/%d, after %d/%d; "+
		"slowest answer during %v; %d commit failures through ErrorHandler (last: %v); all clients served again %v after the restore",
		mode, clients, ok[phaseUp], failed[phaseUp], ok[phaseDown], failed[phaseDown], ok[phaseRestored], failed[phaseRestored],
		slowest.Round(time.Millisecond), a.commitErrs.Load(), a.lastErr.Load(), recovery.Round(time.Millisecond))
	if failed[phaseUp] != 0 {
		t.Errorf("%d requests failed before the outage", failed[phaseUp])
	}
	if mode == "stall" && slowest > 10*storeTimeout {
		t.Errorf("with the connection stalled a request took %v; StoreTimeout is %v", slowest, storeTimeout)
	}

	// Every acknowledged write is in the database: read each through an app with a
	// direct pool and no cache.
	check := newOutageApp(t, echosess.Config{Store: direct})
	acked := 0
	for _, c := range cs {
		for k, v := range c.ackedKeys() {
			acked++
			status, body, _, err := check.call(context.Background(), http.MethodGet, "/read?k="+k, c.cookie)
			if err != nil || status != http.StatusOK || body != v {
				t.Errorf("acknowledged write %s=%s reads back as %d %q %v", k, v, status, body, err)
			}
		}
	}
	t.Logf("%d acknowledged writes, all in the database", acked)
}

// hangingStore is a Store whose calls block until their context ends.
type hangingStore struct {
	entered  chan struct{} // a call has begun
	returned chan error    // a call has returned, with its context's error
}

func newHangingStore() *hangingStore {
	return &hangingStore{entered: make(chan struct{}, 10), returned: make(chan error, 10)}
}

func (s *hangingStore) hang(ctx context.Context) error {
	s.entered <- struct{}{}
	<-ctx.Done()
	s.returned <- ctx.Err()
	return fmt.Errorf("hanging store: %w", ctx.Err())
}

func (s *hangingStore) Load(ctx context.Context, _ string) (echosess.Record, error) {
	return echosess.Record{}, s.hang(ctx)
}

func (s *hangingStore) Save(ctx context.Context, _ echosess.Record) error { return s.hang(ctx) }

func (s *hangingStore) Delete(ctx context.Context, _ string) error { return s.hang(ctx) }

func (s *hangingStore) DeleteExpired(ctx context.Context) (int64, error) { return 0, s.hang(ctx) }

// hangingCalls are requests whose first store call hangs: a load (a well-formed
// token) or a save (a new session's first write).
var hangingCalls = []struct {
	name, method, path, cookie string
}{
	{"load", http.MethodGet, "/read?k=a", cookieName + "=" + strings.Repeat("A", 43)},
	{"save", http.MethodPost, "/write?k=a&v=1", ""},
}

// TestStoreTimeout has the store hang: Config.StoreTimeout ends the call and the
// request gets a 5xx.
func TestStoreTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	for _, tc := range hangingCalls {
		t.Run(tc.name, func(t *testing.T) {
			store := newHangingStore()
			a := newOutageApp(t, echosess.Config{Store: store, StoreTimeout: timeout})
			ctx, cancel := context.WithTimeout(context.Background(), 100*timeout)
			defer cancel()
			began := time.Now()
			status, body, _, err := a.call(ctx, tc.method, tc.path, tc.cookie)
			took := time.Since(began)
			if err != nil || status < 500 {
				t.Fatalf("request with a hanging store: %d %q %v, want a 5xx", status, body, err)
			}
			if err := <-store.returned; !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("the store call ended with %v, want the deadline", err)
			}
			if tc.name == "save" {
				if err, _ := a.lastErr.Load().(error); a.commitErrs.Load() != 1 || !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("ErrorHandler saw %d commit failures, the last %v", a.commitErrs.Load(), err)
				}
			}
			if took > 10*timeout {
				t.Fatalf("request with a hanging store took %v; StoreTimeout is %v", took, timeout)
			}
			t.Logf("%s: %d after %v (StoreTimeout %v)", tc.name, status, took.Round(time.Millisecond), timeout)
		})
	}
}

// TestRequestCancellation has the store hang and the client give up. A load ends
// with the request's cancellation at once (with no StoreTimeout to end it); a commit
// does not: a client that goes away must not stop a logout halfway, so the commit's
// store call runs on until StoreTimeout ends it.
func TestRequestCancellation(t *testing.T) {
	const timeout = 300 * time.Millisecond
	for _, tc := range hangingCalls {
		t.Run(tc.name, func(t *testing.T) {
			store := newHangingStore()
			cfg := echosess.Config{Store: store, StoreTimeout: -1}
			want := context.Canceled
			if tc.name == "save" {
				cfg.StoreTimeout, want = timeout, context.DeadlineExceeded
			}
			a := newOutageApp(t, cfg)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, _, _, err := a.call(ctx, tc.method, tc.path, tc.cookie)
				done <- err
			}()
			select {
			case <-store.entered:
			case <-time.After(10 * time.Second):
				t.Fatal("the request never reached the store")
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("the client's request ended with %v", err)
			}
			select {
			case err := <-store.returned:
				if !errors.Is(err, want) {
					t.Fatalf("the store call ended with %v, want %v", err, want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the store call was still running 10s after the client gave up")
			}
		})
	}
}
