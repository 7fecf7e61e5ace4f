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
	"strings"
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

	gatesMu sync.Mutex
	gates   map[string]*gate
}

// newHarness starts the test app on the variant's store; configure may adjust the
// middleware's Config.
func newHarness(t *testing.T, v variant, configure func(*echosess.Config)) *harness {
	t.Helper()
	h := &harness{t: t, clock: newClock(), errors: make(chan error, 100), gates: map[string]*gate{}}
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
	e.Use(h.signalFinished)
	e.Use(echosess.Middleware(cfg))
	e.Use(cancelContext)
	routes(e)
	e.GET("/steps", h.steps)
	h.srv = httptest.NewServer(e)
	t.Cleanup(h.srv.Close)
	t.Cleanup(h.openGates) // before Close, which waits for handlers stopped at a gate
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

// Forcing interleavings. The /steps route runs a script of session steps given as
// repeated do= parameters (build the path with steps). A wait:NAME step stops the
// handler at the harness's gate NAME: it tells the test it arrived and blocks until
// the test opens the gate, so that other requests of the same session can run to
// completion in between. Steps, each of the form op or op:arg:
//
//	get:K  pop:K      Get or Pop K as a string; the value (or <absent>) joins the body
//	set:K=V  delete:K Set or Delete K
//	clear  destroy  renew  save
//	expiry:D          SetExpiry(ExpireIn(D)), D as time.ParseDuration reads it
//	wait:NAME         stop at gate NAME until it is opened
//	ctxdone           block until the request's context is done (the client has gone),
//	                  then return without writing a response
//
// The handler answers 200 with the values read, space-separated ("ok" when none), or
// 418 with the errName of the first step that failed, skipping the steps after it.

// steps returns the path of a /steps request running the given steps.
func steps(do ...string) string { return "/steps?" + url.Values{"do": do}.Encode() }

// gate is a point where /steps handlers stop until the test opens it.
type gate struct {
	t        *testing.T
	arrived  chan struct{} // a send for each handler that reached the gate
	finished chan struct{} // a send for each request that passed the gate, once the
	// middleware chain, the session's commit included, has returned
	released chan struct{} // closed by open
	once     sync.Once
}

const gateTimeout = 10 * time.Second

// gate returns the gate called name, creating it closed on first use.
func (h *harness) gate(name string) *gate {
	h.gatesMu.Lock()
	defer h.gatesMu.Unlock()
	g, ok := h.gates[name]
	if !ok {
		g = &gate{t: h.t, arrived: make(chan struct{}, 64), finished: make(chan struct{}, 64), released: make(chan struct{})}
		h.gates[name] = g
	}
	return g
}

// awaitArrivals waits until n more handlers have reached the gate.
func (g *gate) awaitArrivals(n int) {
	g.t.Helper()
	g.await(g.arrived, n, "reached the gate")
}

// awaitFinished waits until n more requests that passed the gate have left the
// middleware chain: their sessions are committed.
func (g *gate) awaitFinished(n int) {
	g.t.Helper()
	g.await(g.finished, n, "finished after the gate")
}

func (g *gate) await(ch chan struct{}, n int, what string) {
	g.t.Helper()
	timeout := time.After(gateTimeout)
	for i := range n {
		select {
		case <-ch:
		case <-timeout:
			g.t.Fatalf("after %v only %d of %d requests %s", gateTimeout, i, n, what)
		}
	}
}

// open lets every handler stopped at the gate, and every one still to come, go on.
func (g *gate) open() { g.once.Do(func() { close(g.released) }) }

// openGates opens every gate, so that no handler outlives its test.
func (h *harness) openGates() {
	h.gatesMu.Lock()
	defer h.gatesMu.Unlock()
	for _, g := range h.gates {
		g.open()
	}
}

// passedGates is where a /steps handler lists the gates it passed, in echo.Context.
const passedGates = "test.passedGates"

// signalFinished, installed outside echosess, tells each gate a request passed that
// the request is done.
func (h *harness) signalFinished(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		gates, _ := c.Get(passedGates).([]*gate)
		for _, g := range gates {
			g.finished <- struct{}{}
		}
		return err
	}
}

// cancelContext, installed inside echosess, gives the handler of a request with
// ?cancelctx=1 a request context that is already cancelled, as a timeout middleware
// whose time ran out does.
func cancelContext(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.QueryParam("cancelctx") == "1" {
			ctx, cancel := context.WithCancel(c.Request().Context())
			cancel()
			c.SetRequest(c.Request().WithContext(ctx))
		}
		return next(c)
	}
}

// steps is the /steps handler.
func (h *harness) steps(c echo.Context) error {
	var read []string
	for _, step := range c.QueryParams()["do"] {
		op, arg, _ := strings.Cut(step, ":")
		var err error
		switch op {
		case "get", "pop":
			var v string
			var ok bool
			if op == "get" {
				v, ok, err = echosess.Get[string](c, arg)
			} else {
				v, ok, err = echosess.Pop[string](c, arg)
			}
			if !ok {
				v = "<absent>"
			}
			read = append(read, v)
		case "set":
			k, v, _ := strings.Cut(arg, "=")
			err = echosess.Set(c, k, v)
		case "delete":
			err = echosess.Delete(c, arg)
		case "clear":
			err = echosess.Clear(c)
		case "destroy":
			err = echosess.Destroy(c)
		case "renew":
			err = echosess.RenewID(c)
		case "save":
			err = echosess.Save(c)
		case "expiry":
			var d time.Duration
			if d, err = time.ParseDuration(arg); err == nil {
				err = echosess.SetExpiry(c, echosess.ExpireIn(d))
			}
		case "wait":
			g := h.gate(arg)
			passed, _ := c.Get(passedGates).([]*gate)
			c.Set(passedGates, append(passed, g))
			g.arrived <- struct{}{}
			select {
			case <-g.released:
			case <-time.After(gateTimeout):
				return c.String(http.StatusGatewayTimeout, "gate "+arg+" never opened")
			}
		case "ctxdone":
			<-c.Request().Context().Done()
			return nil
		default:
			return c.String(http.StatusBadRequest, "unknown step "+step)
		}
		if err != nil {
			return c.String(http.StatusTeapot, errName(err))
		}
	}
	if len(read) == 0 {
		return c.String(http.StatusOK, "ok")
	}
	return c.String(http.StatusOK, strings.Join(read, " "))
}

// pending is a request running in the background, typically stopped at a gate.
type pending struct {
	t      *testing.T
	cancel context.CancelFunc
	done   chan struct{}
	resp   response
	err    error
}

// start sends a GET of path, with query pairs as for get, without waiting for the
// response.
func (b *browser) start(path string, query ...string) *pending {
	ctx, cancel := context.WithCancel(context.Background())
	p := &pending{t: b.h.t, cancel: cancel, done: make(chan struct{})}
	rawURL := b.h.url(path, query...)
	go func() {
		defer close(p.done)
		p.resp, p.err = b.do(ctx, rawURL)
	}()
	b.h.t.Cleanup(cancel)
	return p
}

// result waits for the response, or for the error of a request that was cancelled.
func (p *pending) result() (response, error) {
	p.t.Helper()
	select {
	case <-p.done:
		return p.resp, p.err
	case <-time.After(gateTimeout):
		p.t.Fatalf("no response after %v", gateTimeout)
		return response{}, nil
	}
}

// response waits for the response and fails the test if the request failed.
func (p *pending) response() response {
	p.t.Helper()
	r, err := p.result()
	if err != nil {
		p.t.Fatal(err)
	}
	return r
}
