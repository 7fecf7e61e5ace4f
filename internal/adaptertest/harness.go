package adaptertest

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

	"github.com/echosess/echosess/internal/engine"
	"github.com/echosess/echosess/memstore"
)

// CookieName is the session cookie's name unless a test configures another.
const CookieName = "session"

// Clock is a settable time source shared by the middleware and the stores.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock stopped at a fixed time.
func NewClock() *Clock { return &Clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// CountingStore counts the calls that reach a store and can be made to fail. Like a
// store behind a network, it fails a call whose context is done.
type CountingStore struct {
	engine.Store
	Loads, Saves, Touches, Deletes atomic.Int64
	Fail                           atomic.Bool // fail every call
	FailWrites                     atomic.Bool // fail saves, touches and deletes
	// afterList, when set, is the gate where the next listing of a user's sessions
	// stops once it has its records (Harness.stopAfterListing).
	afterList atomic.Pointer[gate]
}

// ErrStoreDown is the error of a CountingStore made to fail.
var ErrStoreDown = errors.New("store is down")

// refuse returns the error a call should fail with, if any.
func (s *CountingStore) refuse(ctx context.Context, write bool) error {
	if s.Fail.Load() || write && s.FailWrites.Load() {
		return ErrStoreDown
	}
	return ctx.Err()
}

func (s *CountingStore) Load(ctx context.Context, key string) (engine.Record, error) {
	s.Loads.Add(1)
	if err := s.refuse(ctx, false); err != nil {
		return engine.Record{}, err
	}
	return s.Store.Load(ctx, key)
}

func (s *CountingStore) Save(ctx context.Context, rec engine.Record) error {
	s.Saves.Add(1)
	if err := s.refuse(ctx, true); err != nil {
		return err
	}
	return s.Store.Save(ctx, rec)
}

// Touch makes every store under test a engine.Toucher: it forwards to the inner
// store's Touch, or to its Save when it has none.
func (s *CountingStore) Touch(ctx context.Context, rec engine.Record) error {
	s.Touches.Add(1)
	if err := s.refuse(ctx, true); err != nil {
		return err
	}
	if t, ok := s.Store.(engine.Toucher); ok {
		return t.Touch(ctx, rec)
	}
	return s.Store.Save(ctx, rec)
}

func (s *CountingStore) Delete(ctx context.Context, key string) error {
	s.Deletes.Add(1)
	if err := s.refuse(ctx, true); err != nil {
		return err
	}
	return s.Store.Delete(ctx, key)
}

// Calls counts the calls that reached the store.
func (s *CountingStore) Calls() int64 {
	return s.Loads.Load() + s.Saves.Load() + s.Touches.Load() + s.Deletes.Load()
}

// Writes counts the calls that write a record: saves and touches.
func (s *CountingStore) Writes() int64 { return s.Saves.Load() + s.Touches.Load() }

// Harness serves a test app over real HTTP.
type Harness struct {
	t      *testing.T
	Clock  *Clock
	Store  *CountingStore
	Server *httptest.Server
	Errors chan error // errors that reached Config.ErrorHandler

	gatesMu sync.Mutex
	gates   map[string]*gate

	coherent bool // the variant's cache is coherent: writes send the session's version
}

// NewHarness starts the test app of adapter a on the variant's store; configure may
// adjust the middleware's Config. Its ErrorHandler sends each error to Errors and
// answers as the adapter's default does.
func NewHarness(t *testing.T, a Adapter, v Variant, configure func(*Config)) *Harness {
	t.Helper()
	h := &Harness{t: t, Clock: NewClock(), Errors: make(chan error, 100), gates: map[string]*gate{}, coherent: v.Coherent}
	h.Store = &CountingStore{Store: v.NewStore(t, h.Clock.Now)}
	var store engine.Store = h.Store
	if v.Coherent {
		store = unwrapping{h.Store}
	}
	cfg := Config{
		Store: store,
		Now:   h.Clock.Now,
		ErrorHandler: func(c Ctx, err error) error {
			h.Errors <- err
			return c.DefaultErrorHandler(err)
		},
	}
	if v.Cached {
		cfg.Cache = memstore.New(memstore.WithClock(h.Clock.Now))
	}
	if configure != nil {
		configure(&cfg)
	}
	routes := append(Routes(), Route{http.MethodGet, "/steps", h.steps})
	h.Server = httptest.NewServer(a.Serve(cfg, h.signalFinished, cancelContext, routes))
	if _, feed := h.Store.Store.(engine.ChangeFeed); v.Coherent && feed {
		awaitWatching(t, h.Store.Store)
	}
	t.Cleanup(h.Server.Close)
	t.Cleanup(h.openGates) // before Close, which waits for handlers stopped at a gate
	return h
}

// Routes returns the routes of the test app, less the harness's /steps: each handler
// API function at a path, taking its key from ?k= and its value from ?v=. Errors come
// back as status 418 with the sentinel's name.
func Routes() []Route {
	return []Route{
		get("/noop", func(c Ctx) error { return c.String(http.StatusOK, "noop") }),
		get("/get", func(c Ctx) error {
			v, ok, err := c.Get(c.QueryParam("k"))
			return Reply(c, v, ok, err)
		}),
		get("/getint", func(c Ctx) error {
			v, ok, err := c.GetInt(c.QueryParam("k"))
			return Reply(c, strconv.Itoa(v), ok, err)
		}),
		get("/set", func(c Ctx) error {
			return Reply(c, "ok", true, c.Set(c.QueryParam("k"), c.QueryParam("v")))
		}),
		get("/setint", func(c Ctx) error {
			n, _ := strconv.Atoi(c.QueryParam("v"))
			return Reply(c, "ok", true, c.Set(c.QueryParam("k"), n))
		}),
		get("/delete", func(c Ctx) error {
			return Reply(c, "ok", true, c.Delete(c.QueryParam("k")))
		}),
		get("/pop", func(c Ctx) error {
			v, ok, err := c.Pop(c.QueryParam("k"))
			return Reply(c, v, ok, err)
		}),
		get("/clear", func(c Ctx) error { return Reply(c, "ok", true, c.Clear()) }),
		get("/destroy", func(c Ctx) error { return Reply(c, "ok", true, c.Destroy()) }),
		get("/renew", func(c Ctx) error { return Reply(c, "ok", true, c.RenewID()) }),
		get("/expiry", func(c Ctx) error {
			d, err := time.ParseDuration(c.QueryParam("in"))
			if err != nil {
				return err
			}
			return Reply(c, "ok", true, c.SetExpiry(engine.ExpireIn(d)))
		}),
		get("/save", func(c Ctx) error {
			if err := c.Set(c.QueryParam("k"), c.QueryParam("v")); err != nil {
				return Reply(c, "", false, err)
			}
			if err := c.Save(); err != nil {
				return c.String(http.StatusServiceUnavailable, "save failed: "+err.Error())
			}
			return c.String(http.StatusOK, "saved")
		}),
		get("/set-silent", func(c Ctx) error {
			// Sets and returns without writing: the middleware commits after the handler.
			return c.Set(c.QueryParam("k"), c.QueryParam("v"))
		}),
		get("/remember", func(c Ctx) error {
			return Reply(c, "ok", true, c.RememberMe(c.QueryParam("on") == "1"))
		}),
		get("/isnew", func(c Ctx) error {
			isNew, err := c.IsNew()
			return Reply(c, strconv.FormatBool(isNew), true, err)
		}),
		get("/keys", func(c Ctx) error {
			keys, err := c.Keys()
			return Reply(c, strings.Join(keys, ","), true, err)
		}),
		get("/expires", func(c Ctx) error {
			lifetime, idle, err := c.Expires()
			return Reply(c, lifetime.UTC().Format(time.RFC3339)+" "+idle.UTC().Format(time.RFC3339), true, err)
		}),
		get("/id", func(c Ctx) error { return c.String(http.StatusOK, c.ID()) }),
		get("/id-late", func(c Ctx) error {
			// With ?load=1 reads k, then writes the body, then the ID.
			if c.QueryParam("load") == "1" {
				if _, _, err := c.Get("k"); err != nil {
					return Reply(c, "", false, err)
				}
			}
			if err := c.String(http.StatusOK, "body first "); err != nil {
				return err
			}
			_, err := io.WriteString(c.Response(), c.ID())
			return err
		}),
		get("/destroy-then", func(c Ctx) error {
			// Destroys the session, then reports what introspection says of it.
			if err := c.Destroy(); err != nil {
				return Reply(c, "", false, err)
			}
			isNew, err := c.IsNew()
			if err != nil {
				return Reply(c, "", false, err)
			}
			keys, _ := c.Keys()
			lifetime, _, _ := c.Expires()
			return c.String(http.StatusOK, fmt.Sprintf("new=%v keys=%q lifetime=%v id=%q", isNew, keys, lifetime.IsZero(), c.ID()))
		}),
		get("/login", func(c Ctx) error { return Reply(c, "ok", true, c.LoginUser(c.QueryParam("user"))) }),
		get("/userid", func(c Ctx) error {
			id, err := c.UserID()
			return Reply(c, id, true, err)
		}),
		get("/sessions", func(c Ctx) error {
			list, err := c.UserSessions()
			var lines []string
			for _, s := range list {
				lines = append(lines, fmt.Sprintf("%s current=%v created=%s active=%s expires=%s ua=%q ip=%q last_ua=%q last_ip=%q",
					s.Handle, s.Current, s.Created.UTC().Format(time.RFC3339), s.LastActive.UTC().Format(time.RFC3339),
					s.Expires.UTC().Format(time.RFC3339), s.Device.UserAgent, s.Device.IP, s.Device.LastUserAgent, s.Device.LastIP))
			}
			return Reply(c, strings.Join(lines, "\n"), true, err)
		}),
		get("/revoke", func(c Ctx) error { return Reply(c, "ok", true, c.RevokeSession(c.QueryParam("h"))) }),
		get("/revoke-others", func(c Ctx) error {
			n, err := c.RevokeOtherSessions()
			return Reply(c, strconv.Itoa(n), true, err)
		}),
		get("/set-late", func(c Ctx) error {
			if err := c.String(http.StatusOK, "body first "); err != nil {
				return err
			}
			_, err := io.WriteString(c.Response(), ErrName(c.Set("k", "v")))
			return err
		}),
	}
}

func get(path string, h Handler) Route { return Route{http.MethodGet, path, h} }

// Reply answers a route's request with the outcome of a handler API call: the
// ErrName of err with status 418, <absent> when !ok, else v. Any context with a
// String method will do, the framework's own included.
func Reply(c interface{ String(int, string) error }, v string, ok bool, err error) error {
	switch {
	case err != nil:
		return c.String(http.StatusTeapot, ErrName(err))
	case !ok:
		return c.String(http.StatusOK, "<absent>")
	}
	return c.String(http.StatusOK, v)
}

// ErrName names the sentinel that err wraps, as the routes' 418 answers do.
func ErrName(err error) string {
	for _, s := range []struct {
		err  error
		name string
	}{
		{engine.ErrDecode, "ErrDecode"},
		{engine.ErrTooLarge, "ErrTooLarge"},
		{engine.ErrInvalidKey, "ErrInvalidKey"},
		{engine.ErrNoMiddleware, "ErrNoMiddleware"},
		{engine.ErrHeaderWritten, "ErrHeaderWritten"},
		{engine.ErrSessionEnded, "ErrSessionEnded"},
		{engine.ErrConflict, "ErrConflict"},
		{ErrStoreDown, "ErrStoreDown"},
		{engine.ErrInvalidUserID, "ErrInvalidUserID"},
		{engine.ErrNoUser, "ErrNoUser"},
		{engine.ErrUnknownSession, "ErrUnknownSession"},
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

// ErrorLog collects the errors that reach Config.ErrorHandler, however many.
type ErrorLog struct {
	mu   sync.Mutex
	errs []error
}

// Configure makes cfg's ErrorHandler log each error and answer 500: it returns a
// plain error, which every framework's error handler turns into a 500.
func (l *ErrorLog) Configure(cfg *Config) {
	cfg.ErrorHandler = func(_ Ctx, err error) error {
		l.mu.Lock()
		l.errs = append(l.errs, err)
		l.mu.Unlock()
		return fmt.Errorf("session error: %w", err)
	}
}

// All returns the errors logged so far.
func (l *ErrorLog) All() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

// Browser is an HTTP client with its own cookie jar.
type Browser struct {
	h      *Harness
	Client *http.Client
}

// Browser returns a new browser of the test app, without cookies.
func (h *Harness) Browser() *Browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return &Browser{h: h, Client: &http.Client{Jar: jar}}
}

// On returns a browser of h's app that shares b's client, cookies included.
func (b *Browser) On(h *Harness) *Browser { return &Browser{h: h, Client: b.Client} }

// Response is a response the test app sent.
type Response struct {
	Status int
	Body   string
	Header http.Header
}

// Cookie returns the session cookie the response set, or nil.
func (r Response) Cookie(name string) *http.Cookie {
	for _, ck := range (&http.Response{Header: r.Header}).Cookies() {
		if ck.Name == name {
			ck.Value = TokenOf(ck.Value)
			return ck
		}
	}
	return nil
}

// TokenOf is the session token of a session cookie's value: the value less the
// session's version, which follows a dot when the cache is coherent. Response.Cookie
// and Browser.SessionCookie return cookies with their values cut so, so that the
// tests compare tokens on every variant.
func TokenOf(value string) string {
	token, _, _ := strings.Cut(value, ".")
	return token
}

// Resent reports whether r sets a session cookie that is more than the version
// update of token's cookie that each write sends with a coherent cache: another
// token, or other attributes.
func (h *Harness) Resent(r Response, token string) bool {
	ck := r.Cookie(CookieName)
	return ck != nil && (!h.coherent || ck.Value != token)
}

// Get sends a GET of path with the given query pairs (name, value, ...) and fails
// the test if no response comes.
func (b *Browser) Get(path string, query ...string) Response {
	b.h.t.Helper()
	r, err := b.Do(context.Background(), http.MethodGet, b.h.URL(path, query...))
	if err != nil {
		b.h.t.Fatalf("GET %s: %v", path, err)
	}
	return r
}

// Do sends a request of method for rawURL on ctx. It is safe to call from any
// goroutine.
func (b *Browser) Do(ctx context.Context, method, rawURL string) (Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, rawURL, nil)
	if err != nil {
		return Response{}, err
	}
	resp, err := b.Client.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, fmt.Errorf("reading body: %w", err)
	}
	return Response{Status: resp.StatusCode, Body: string(body), Header: resp.Header}, nil
}

// Value reads key and fails the test unless the request succeeds.
func (b *Browser) Value(key string) string {
	b.h.t.Helper()
	r := b.Get("/get", "k", key)
	if r.Status != http.StatusOK {
		b.h.t.Fatalf("GET /get?k=%s: %d %s", key, r.Status, r.Body)
	}
	return r.Body
}

// Set sets key to value and fails the test unless the request succeeds.
func (b *Browser) Set(key, value string) {
	b.h.t.Helper()
	if r := b.Get("/set", "k", key, "v", value); r.Status != http.StatusOK || r.Body != "ok" {
		b.h.t.Fatalf("set %s=%s: %d %s", key, value, r.Status, r.Body)
	}
}

// SessionCookie returns the session cookie the jar holds, or nil.
func (b *Browser) SessionCookie(name string) *http.Cookie {
	u, _ := url.Parse(b.h.Server.URL)
	for _, ck := range b.Client.Jar.Cookies(u) {
		if ck.Name == name {
			ck.Value = TokenOf(ck.Value)
			return ck
		}
	}
	return nil
}

// WithCookie returns a browser without a jar that always sends the given cookie.
func (h *Harness) WithCookie(name, value string) *Browser {
	return &Browser{h: h, Client: &http.Client{Transport: cookieTransport{name: name, value: value}}}
}

type cookieTransport struct{ name, value string }

func (t cookieTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.AddCookie(&http.Cookie{Name: t.name, Value: t.value})
	return http.DefaultTransport.RoundTrip(r)
}

// URL returns the URL of path on the test app with the given query pairs.
func (h *Harness) URL(path string, query ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(query); i += 2 {
		q.Set(query[i], query[i+1])
	}
	if len(q) == 0 {
		return h.Server.URL + path
	}
	return fmt.Sprintf("%s%s?%s", h.Server.URL, path, q.Encode())
}

// NextError returns the next error that reached Config.ErrorHandler.
func (h *Harness) NextError() error {
	h.t.Helper()
	select {
	case err := <-h.Errors:
		return err
	case <-time.After(5 * time.Second):
		h.t.Fatal("no error reached Config.ErrorHandler")
		return nil
	}
}

// StoreCalls returns the number of store calls made so far, for before/after deltas.
func (h *Harness) StoreCalls() int64 { return h.Store.Calls() }

// Forcing interleavings. The /steps route runs a script of session steps given as
// repeated do= parameters (build the path with steps). A wait:NAME step stops the
// handler at the harness's gate NAME: it tells the test it arrived and blocks until
// the test opens the gate, so that other requests of the same session can run to
// completion in between. Steps, each of the form op or op:arg:
//
//	get:K  pop:K      Get or Pop K as a string; the value (or <absent>) joins the body
//	set:K=V  delete:K Set or Delete K
//	clear  destroy  renew  save
//	revoke-others     RevokeOtherSessions; the count joins the body
//	expiry:D          SetExpiry(ExpireIn(D)), D as time.ParseDuration reads it
//	remember:1        RememberMe(true); remember:0, RememberMe(false)
//	wait:NAME         stop at gate NAME until it is opened
//	ctxdone           block until the request's context is done (the client has gone),
//	                  then return without writing a response
//
// The handler answers 200 with the values read, space-separated ("ok" when none), or
// 418 with the ErrName of the first step that failed, skipping the steps after it.

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
func (h *Harness) gate(name string) *gate {
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
func (h *Harness) openGates() {
	h.gatesMu.Lock()
	defer h.gatesMu.Unlock()
	for _, g := range h.gates {
		g.open()
	}
}

// passedGates is where a /steps handler lists the gates it passed, in the framework
// context's store.
const passedGates = "test.passedGates"

// signalFinished, installed outside echosess, tells each gate a request passed that
// the request is done.
func (h *Harness) signalFinished(next Handler) Handler {
	return func(c Ctx) error {
		err := next(c)
		gates, _ := c.Value(passedGates).([]*gate)
		for _, g := range gates {
			g.finished <- struct{}{}
		}
		return err
	}
}

// cancelContext, installed inside echosess, gives the handler of a request with
// ?cancelctx=1 a request context that is already cancelled, as a timeout middleware
// whose time ran out does.
func cancelContext(next Handler) Handler {
	return func(c Ctx) error {
		if c.QueryParam("cancelctx") == "1" {
			ctx, cancel := context.WithCancel(c.Request().Context())
			cancel()
			c.SetRequest(c.Request().WithContext(ctx))
		}
		return next(c)
	}
}

// steps is the /steps handler.
func (h *Harness) steps(c Ctx) error {
	var read []string
	for _, step := range c.QueryParams()["do"] {
		op, arg, _ := strings.Cut(step, ":")
		var err error
		switch op {
		case "get", "pop":
			var v string
			var ok bool
			if op == "get" {
				v, ok, err = c.Get(arg)
			} else {
				v, ok, err = c.Pop(arg)
			}
			if !ok {
				v = "<absent>"
			}
			read = append(read, v)
		case "set":
			k, v, _ := strings.Cut(arg, "=")
			err = c.Set(k, v)
		case "delete":
			err = c.Delete(arg)
		case "clear":
			err = c.Clear()
		case "destroy":
			err = c.Destroy()
		case "remember":
			err = c.RememberMe(arg == "1")
		case "renew":
			err = c.RenewID()
		case "revoke-others":
			var n int
			n, err = c.RevokeOtherSessions()
			read = append(read, strconv.Itoa(n))
		case "save":
			err = c.Save()
		case "expiry":
			var d time.Duration
			if d, err = time.ParseDuration(arg); err == nil {
				err = c.SetExpiry(engine.ExpireIn(d))
			}
		case "wait":
			g := h.gate(arg)
			passed, _ := c.Value(passedGates).([]*gate)
			c.SetValue(passedGates, append(passed, g))
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
			return c.String(http.StatusTeapot, ErrName(err))
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
	resp   Response
	err    error
}

// start sends a GET of path, with query pairs as for get, without waiting for the
// response.
func (b *Browser) start(path string, query ...string) *pending {
	ctx, cancel := context.WithCancel(context.Background())
	p := &pending{t: b.h.t, cancel: cancel, done: make(chan struct{})}
	rawURL := b.h.URL(path, query...)
	go func() {
		defer close(p.done)
		p.resp, p.err = b.Do(ctx, http.MethodGet, rawURL)
	}()
	b.h.t.Cleanup(cancel)
	return p
}

// result waits for the response, or for the error of a request that was cancelled.
func (p *pending) result() (Response, error) {
	p.t.Helper()
	select {
	case <-p.done:
		return p.resp, p.err
	case <-time.After(gateTimeout):
		p.t.Fatalf("no response after %v", gateTimeout)
		return Response{}, nil
	}
}

// response waits for the response and fails the test if the request failed.
func (p *pending) response() Response {
	p.t.Helper()
	r, err := p.result()
	if err != nil {
		p.t.Fatal(err)
	}
	return r
}

// UserSessions lists the user's records in the counted store, which must be a
// engine.UserIndex; it fails like the store's other calls.
func (s *CountingStore) UserSessions(ctx context.Context, userID string) ([]engine.Record, error) {
	s.Loads.Add(1)
	if err := s.refuse(ctx, false); err != nil {
		return nil, err
	}
	recs, err := s.Store.(engine.UserIndex).UserSessions(ctx, userID)
	if g := s.afterList.Swap(nil); g != nil {
		g.arrived <- struct{}{}
		<-g.released
	}
	return recs, err
}

// stopAfterListing makes the next listing of a user's sessions in the store, such
// as a revocation's, stop at gate name once it has its records, until the test
// opens the gate: other requests then commit between the revocation's listing and
// its writes.
func (h *Harness) stopAfterListing(name string) *gate {
	g := h.gate(name)
	h.Store.afterList.Store(g)
	return g
}

// unwrapping is a CountingStore that shows the middleware the store it counts, whose
// ChangeFeed it then uses.
type unwrapping struct{ *CountingStore }

func (s unwrapping) Unwrap() engine.Store { return s.Store }

// LoadVersion counts a load, and forwards it to the store's LoadVersion, or Load.
func (s unwrapping) LoadVersion(ctx context.Context, key string, minVersion int64) (engine.Record, error) {
	s.Loads.Add(1)
	if err := s.refuse(ctx, false); err != nil {
		return engine.Record{}, err
	}
	if v, ok := s.Store.(engine.VersionLoader); ok {
		return v.LoadVersion(ctx, key, minVersion)
	}
	return s.Store.Load(ctx, key)
}

// awaitWatching waits until store's ChangeFeed reports every change, and with it to
// the cache of the middleware that watches the same store: the feed's reports go to
// all its watchers at once.
func awaitWatching(t *testing.T, store engine.Store) {
	t.Helper()
	w := &readyWatcher{ready: make(chan struct{})}
	stop, err := store.(engine.ChangeFeed).WatchChanges(w)
	if err != nil {
		t.Fatalf("watch the store's changes: %v", err)
	}
	defer stop()
	select {
	case <-w.ready:
	case <-time.After(gateTimeout):
		t.Fatalf("the store's change feed did not start within %v", gateTimeout)
	}
}

// readyWatcher is a ChangeWatcher that tells when the feed first watches.
type readyWatcher struct {
	ready chan struct{}
	once  sync.Once
}

func (w *readyWatcher) Watching()             { w.once.Do(func() { close(w.ready) }) }
func (w *readyWatcher) Changed(string, int64) {}
func (w *readyWatcher) Lost(error)            {}
