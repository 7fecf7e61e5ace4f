package echosess_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/echosess/echosess"
	"github.com/labstack/echo/v4"
)

// clock is a settable time source shared by the middleware and the stores.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// storeFactory makes an empty store that tells time with now.
type storeFactory func(t *testing.T, now func() time.Time) echosess.Store

// variant is a store set-up that the middleware tests run on.
type variant struct {
	name     string
	newStore storeFactory
	cached   bool // put a MemoryStore cache in front of the store
}

func newMemoryStore(t *testing.T, now func() time.Time) echosess.Store {
	return echosess.NewMemoryStore(echosess.WithClock(now))
}

// countingStore counts the calls that reach a store and can be made to fail. Like a
// store behind a network, it fails a call whose context is done.
type countingStore struct {
	echosess.Store
	loads, saves, touches, deletes atomic.Int64
	fail                           atomic.Bool // fail every call
	failWrites                     atomic.Bool // fail saves, touches and deletes
}

var errStoreDown = errors.New("store is down")

// refuse returns the error a call should fail with, if any.
func (s *countingStore) refuse(ctx context.Context, write bool) error {
	if s.fail.Load() || write && s.failWrites.Load() {
		return errStoreDown
	}
	return ctx.Err()
}

func (s *countingStore) Load(ctx context.Context, key string) (echosess.Record, error) {
	s.loads.Add(1)
	if err := s.refuse(ctx, false); err != nil {
		return echosess.Record{}, err
	}
	return s.Store.Load(ctx, key)
}

func (s *countingStore) Save(ctx context.Context, rec echosess.Record) error {
	s.saves.Add(1)
	if err := s.refuse(ctx, true); err != nil {
		return err
	}
	return s.Store.Save(ctx, rec)
}

// Touch makes every store under test an echosess.Toucher: it forwards to the inner
// store's Touch, or to its Save when it has none.
func (s *countingStore) Touch(ctx context.Context, rec echosess.Record) error {
	s.touches.Add(1)
	if err := s.refuse(ctx, true); err != nil {
		return err
	}
	if t, ok := s.Store.(echosess.Toucher); ok {
		return t.Touch(ctx, rec)
	}
	return s.Store.Save(ctx, rec)
}

func (s *countingStore) Delete(ctx context.Context, key string) error {
	s.deletes.Add(1)
	if err := s.refuse(ctx, true); err != nil {
		return err
	}
	return s.Store.Delete(ctx, key)
}

func (s *countingStore) calls() int64 {
	return s.loads.Load() + s.saves.Load() + s.touches.Load() + s.deletes.Load()
}

// writes counts the calls that write a record: saves and touches.
func (s *countingStore) writes() int64 { return s.saves.Load() + s.touches.Load() }

// harness serves a test app over real HTTP.
type harness struct {
	t      *testing.T
	clock  *clock
	store  *countingStore
	srv    *httptest.Server
	errors chan error // errors that reached Config.ErrorHandler
}

// newHarness starts the test app on the variant's store; configure may adjust the
// middleware's Config.
func newHarness(t *testing.T, v variant, configure func(*echosess.Config)) *harness {
	t.Helper()
	h := &harness{t: t, clock: newClock(), errors: make(chan error, 100)}
	h.store = &countingStore{Store: v.newStore(t, h.clock.Now)}
	cfg := echosess.Config{
		Store: h.store,
		Now:   h.clock.Now,
		ErrorHandler: func(c echo.Context, err error) error {
			h.errors <- err
			return echosess.DefaultConfig.ErrorHandler(c, err)
		},
	}
	if v.cached {
		cfg.Cache = echosess.NewMemoryStore(echosess.WithClock(h.clock.Now))
	}
	if configure != nil {
		configure(&cfg)
	}
	e := echo.New()
	e.Use(echosess.Middleware(cfg))
	routes(e)
	h.srv = httptest.NewServer(e)
	t.Cleanup(h.srv.Close)
	return h
}

// routes exposes each handler API function at a path, taking its key from ?k= and
// its value from ?v=. Errors come back as status 418 with the sentinel's name.
func routes(e *echo.Echo) {
	e.GET("/noop", func(c echo.Context) error { return c.String(http.StatusOK, "noop") })
	e.GET("/get", func(c echo.Context) error {
		v, ok, err := echosess.Get[string](c, c.QueryParam("k"))
		return reply(c, v, ok, err)
	})
	e.GET("/getint", func(c echo.Context) error {
		v, ok, err := echosess.Get[int](c, c.QueryParam("k"))
		return reply(c, strconv.Itoa(v), ok, err)
	})
	e.GET("/set", func(c echo.Context) error {
		return reply(c, "ok", true, echosess.Set(c, c.QueryParam("k"), c.QueryParam("v")))
	})
	e.GET("/setint", func(c echo.Context) error {
		n, _ := strconv.Atoi(c.QueryParam("v"))
		return reply(c, "ok", true, echosess.Set(c, c.QueryParam("k"), n))
	})
	e.GET("/delete", func(c echo.Context) error {
		return reply(c, "ok", true, echosess.Delete(c, c.QueryParam("k")))
	})
	e.GET("/pop", func(c echo.Context) error {
		v, ok, err := echosess.Pop[string](c, c.QueryParam("k"))
		return reply(c, v, ok, err)
	})
	e.GET("/clear", func(c echo.Context) error { return reply(c, "ok", true, echosess.Clear(c)) })
	e.GET("/destroy", func(c echo.Context) error { return reply(c, "ok", true, echosess.Destroy(c)) })
	e.GET("/renew", func(c echo.Context) error { return reply(c, "ok", true, echosess.RenewID(c)) })
	e.GET("/expiry", func(c echo.Context) error {
		d, err := time.ParseDuration(c.QueryParam("in"))
		if err != nil {
			return err
		}
		return reply(c, "ok", true, echosess.SetExpiry(c, echosess.ExpireIn(d)))
	})
	e.GET("/save", func(c echo.Context) error {
		if err := echosess.Set(c, c.QueryParam("k"), c.QueryParam("v")); err != nil {
			return reply(c, "", false, err)
		}
		if err := echosess.Save(c); err != nil {
			return c.String(http.StatusServiceUnavailable, "save failed: "+err.Error())
		}
		return c.String(http.StatusOK, "saved")
	})
	e.GET("/set-silent", func(c echo.Context) error {
		// Sets and returns without writing: the middleware commits after the handler.
		return echosess.Set(c, c.QueryParam("k"), c.QueryParam("v"))
	})
	e.GET("/set-late", func(c echo.Context) error {
		if err := c.String(http.StatusOK, "body first "); err != nil {
			return err
		}
		_, err := io.WriteString(c.Response(), errName(echosess.Set(c, "k", "v")))
		return err
	})
}

func reply(c echo.Context, v string, ok bool, err error) error {
	switch {
	case err != nil:
		return c.String(http.StatusTeapot, errName(err))
	case !ok:
		return c.String(http.StatusOK, "<absent>")
	}
	return c.String(http.StatusOK, v)
}

func errName(err error) string {
	for _, s := range []struct {
		err  error
		name string
	}{
		{echosess.ErrDecode, "ErrDecode"},
		{echosess.ErrTooLarge, "ErrTooLarge"},
		{echosess.ErrInvalidKey, "ErrInvalidKey"},
		{echosess.ErrNoMiddleware, "ErrNoMiddleware"},
		{echosess.ErrHeaderWritten, "ErrHeaderWritten"},
		{echosess.ErrSessionEnded, "ErrSessionEnded"},
		{echosess.ErrConflict, "ErrConflict"},
		{errStoreDown, "errStoreDown"},
	} {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	if err != nil {
		return "error: " + err.Error()
	}
	return "nil"
}

// browser is an HTTP client with its own cookie jar.
type browser struct {
	h      *harness
	client *http.Client
}

func (h *harness) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return &browser{h: h, client: &http.Client{Jar: jar}}
}

type response struct {
	status int
	body   string
	header http.Header
}

// cookie returns the session cookie the response set, or nil.
func (r response) cookie(name string) *http.Cookie {
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

func (b *browser) get(path string, query ...string) response {
	b.h.t.Helper()
	r, err := b.do(context.Background(), b.h.url(path, query...))
	if err != nil {
		b.h.t.Fatalf("GET %s: %v", path, err)
	}
	return r
}

// do sends a GET of rawURL on ctx. It is safe to call from any goroutine.
func (b *browser) do(ctx context.Context, rawURL string) (response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return response{}, err
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("reading body: %w", err)
	}
	return response{status: resp.StatusCode, body: string(body), header: resp.Header}, nil
}

// value reads key and fails the test unless the request succeeds.
func (b *browser) value(key string) string {
	b.h.t.Helper()
	r := b.get("/get", "k", key)
	if r.status != http.StatusOK {
		b.h.t.Fatalf("GET /get?k=%s: %d %s", key, r.status, r.body)
	}
	return r.body
}

func (b *browser) set(key, value string) {
	b.h.t.Helper()
	if r := b.get("/set", "k", key, "v", value); r.status != http.StatusOK || r.body != "ok" {
		b.h.t.Fatalf("set %s=%s: %d %s", key, value, r.status, r.body)
	}
}

// sessionCookie returns the session cookie the jar holds, or nil.
func (b *browser) sessionCookie(name string) *http.Cookie {
	u, _ := url.Parse(b.h.srv.URL)
	for _, ck := range b.client.Jar.Cookies(u) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// withCookie returns a browser without a jar that always sends the given cookie.
func (h *harness) withCookie(name, value string) *browser {
	return &browser{h: h, client: &http.Client{Transport: cookieTransport{name: name, value: value}}}
}

type cookieTransport struct{ name, value string }

func (t cookieTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.AddCookie(&http.Cookie{Name: t.name, Value: t.value})
	return http.DefaultTransport.RoundTrip(r)
}

func (h *harness) url(path string, query ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(query); i += 2 {
		q.Set(query[i], query[i+1])
	}
	if len(q) == 0 {
		return h.srv.URL + path
	}
	return fmt.Sprintf("%s%s?%s", h.srv.URL, path, q.Encode())
}

// nextError returns the next error that reached Config.ErrorHandler.
func (h *harness) nextError() error {
	h.t.Helper()
	select {
	case err := <-h.errors:
		return err
	case <-time.After(5 * time.Second):
		h.t.Fatal("no error reached Config.ErrorHandler")
		return nil
	}
}

// storeCalls returns the number of store calls made so far, for before/after deltas.
func (h *harness) storeCalls() int64 { return h.store.calls() }
