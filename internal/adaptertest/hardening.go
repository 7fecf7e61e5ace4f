package adaptertest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/echosess/echosess/internal/engine"
	"github.com/echosess/echosess/memstore"
)

// The hardening rules of issue 11: streaming and failing handlers, configuration and
// input that cannot work, hostile clients, and what a security review found. Each
// rule has its test, on every store variant where the store matters and once on the
// memory store where it does not. Rules 6 and 15 (stored rows out of range, Migrate)
// are tested in the root package, rules 11 and 13 (Set's size bookkeeping,
// StartCleaner) in package engine; rule 14 (SQLite and StoreTimeout) is the SQLite
// store's.
var hardeningTests = []test{
	{"FlushBeforeWrite", testFlushBeforeWrite},       // rule 1
	{"FailingHandler", testFailingHandler},           // rule 2
	{"DeepValue", testDeepValue},                     // rule 3
	{"FailedCommitNoStore", testFailedCommitNoStore}, // rule 3
	{"SeveralCookies", testSeveralCookies},           // rule 4
	{"CacheAfterConflict", testCacheAfterConflict},   // rule 5
	{"OwnHeaderValues", testOwnHeaderValues},         // rule 7
	{"LoadAfterHeader", testLoadAfterHeader},         // rule 8
	{"ForgedLogout", testForgedLogout},               // rule 9
	{"CookiePairsBound", testCookiePairsBound},       // rule 10
	{"VaryOnce", testVaryOnce},                       // issue 21
}

// hardeningOnce are the hardening tests in which the store does not matter, run on
// the memory store.
var hardeningOnce = []test{
	{"BadConfig", testHardeningBadConfig},                // rules 3 and 12
	{"CacheBounded", testCacheBounded},                   // rule 5
	{"OverridingMemoryStore", testOverridingMemoryStore}, // rule 5
	{"FullMemoryStore", testFullMemoryStore},             // issue 21, item 3
}

// RunHardening runs the hardening tests under adapter a: the table on every store
// variant of vs, and the tests in which the store does not matter once, on the
// memory store (some put a Config.Cache in front of it, which a store may refuse).
func RunHardening(t *testing.T, a Adapter, vs []Variant) {
	a = hardened{a}
	runTable(t, a, vs, hardeningTests)
	memory := Variant{Name: "memory", NewStore: NewMemoryStore}
	for _, tt := range hardeningOnce {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, variant{memory, a}) })
	}
}

// hardened is an adapter whose app also has the routes of the hardening tests and,
// outside everything else, a middleware that answers a handler's panic with a 500,
// as Echo's Recover does, or with the status that ?recovered= names.
type hardened struct{ Adapter }

func (a hardened) Serve(cfg Config, outside, inside Middleware, routes []Route) http.Handler {
	return a.Adapter.Serve(cfg, recoverPanics(outside), inside, append(routes, hardeningRoutes()...))
}

// recoverPanics returns outside, wrapped in a middleware that answers a panic with a
// 500, or with the status that ?recovered= names.
func recoverPanics(outside Middleware) Middleware {
	return func(next Handler) Handler {
		if outside != nil {
			next = outside(next)
		}
		return func(c Ctx) (err error) {
			defer func() {
				if r := recover(); r != nil {
					status, convErr := strconv.Atoi(c.QueryParam("recovered"))
					if convErr != nil {
						status = http.StatusInternalServerError
					}
					err = c.String(status, fmt.Sprint("recovered: ", r))
				}
			}()
			return next(c)
		}
	}
}

// hardeningRoutes are the routes of the hardening tests.
func hardeningRoutes() []Route {
	return []Route{
		get("/flush", func(c Ctx) error {
			// Sets k=v, or with ?get=K reads K, then flushes before it writes, as a
			// streaming handler does, and streams the value read.
			var read string
			var err error
			if key := c.QueryParam("get"); key != "" {
				read, _, err = c.Get(key)
			} else {
				err = c.Set(c.QueryParam("k"), c.QueryParam("v"))
			}
			if err != nil {
				return Reply(c, "", false, err)
			}
			if err := http.NewResponseController(c.Response()).Flush(); err != nil {
				return err
			}
			_, err = io.WriteString(c.Response(), "streamed "+read)
			return err
		}),
		get("/fail", func(c Ctx) error {
			// Sets k=v, then fails the way ?how= names.
			if err := c.Set("k", c.QueryParam("v")); err != nil {
				return Reply(c, "", false, err)
			}
			switch how := c.QueryParam("how"); how {
			case "panic":
				panic("handler bug")
			case "error": // the framework answers a plain error with a 500
				return errors.New("handler failed")
			case "http500": // an HTTP error of the framework with status 500
				return c.DefaultErrorHandler(errors.New("handler failed"))
			case "http409": // an HTTP error of the framework with status 409
				return c.DefaultErrorHandler(engine.ErrConflict)
			case "write503":
				return c.String(http.StatusServiceUnavailable, "unavailable")
			case "write400":
				return c.String(http.StatusBadRequest, "invalid input")
			default:
				return c.String(http.StatusTeapot, "unknown how="+how)
			}
		}),
		get("/deep", func(c Ctx) error {
			// Sets deep to a JSON array nested ?n= levels deep.
			n, _ := strconv.Atoi(c.QueryParam("n"))
			value := json.RawMessage(strings.Repeat("[", n) + strings.Repeat("]", n))
			return Reply(c, "ok", true, c.Set("deep", value))
		}),
		get("/public", func(c Ctx) error {
			// Sets k=v and marks the response cacheable by anyone; with ?silent=1 it
			// returns without writing, so that the middleware commits after it.
			if err := c.Set("k", c.QueryParam("v")); err != nil {
				return Reply(c, "", false, err)
			}
			c.Response().Header().Set("Cache-Control", "public, max-age=600")
			if c.QueryParam("silent") == "1" {
				return nil
			}
			return c.String(http.StatusOK, "ok")
		}),
		get("/edit-headers", func(c Ctx) error {
			// Sets k=v and commits it with Save, then edits the header values that
			// the session put there in place, as a caching middleware might.
			if err := c.Set("k", c.QueryParam("v")); err != nil {
				return Reply(c, "", false, err)
			}
			if err := c.Save(); err != nil {
				return Reply(c, "", false, err)
			}
			h := c.Response().Header()
			if v := h["Cache-Control"]; len(v) > 0 {
				v[0] = "public, max-age=600"
			}
			if v := h["Vary"]; len(v) > 0 {
				v[0] = "Accept-Encoding"
			}
			return c.String(http.StatusOK, "edited")
		}),
		get("/vary", func(c Ctx) error {
			// Adds each line of ?vary= to the Vary header, as Echo's CSRF
			// middleware adds Cookie, then reads k.
			for v := range strings.Lines(c.QueryParam("vary")) {
				c.Response().Header().Add("Vary", strings.TrimSuffix(v, "\n"))
			}
			v, ok, err := c.Get("k")
			return Reply(c, v, ok, err)
		}),
		get("/get-late", func(c Ctx) error {
			// Writes the body first, then reads k.
			if err := c.String(http.StatusOK, "body first "); err != nil {
				return err
			}
			_, _, err := c.Get("k")
			_, werr := io.WriteString(c.Response(), ErrName(err))
			return werr
		}),
	}
}

// withCookieHeader returns a browser without a jar that sends header as its Cookie
// header, verbatim.
func (h *Harness) withCookieHeader(header string) *Browser {
	return &Browser{h: h, Client: &http.Client{Transport: headerTransport(header)}}
}

type headerTransport string

func (t headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Cookie", string(t))
	return http.DefaultTransport.RoundTrip(r)
}

// randomToken returns a well-formed session token that was never issued.
func randomToken(t *testing.T) string {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

// Rule 1: a handler that flushes before it writes still gets the session committed
// and its cookie sent, for a change and for an idle slide of a read-only request.
func testFlushBeforeWrite(t *testing.T, v variant) {
	h := newHarness(t, v, func(c *Config) {
		c.IdleTimeout = 30 * time.Minute
		c.DefaultExpiry = engine.ExpireIn(2 * time.Hour)
	})
	b := h.Browser()
	r := b.Get("/flush", "k", "a", "v", "1")
	if r.Status != http.StatusOK || r.Body != "streamed " {
		t.Fatalf("a Set then a Flush answered %d %q", r.Status, r.Body)
	}
	if ck := r.Cookie(CookieName); ck == nil || len(ck.Value) != 43 {
		t.Fatalf("a Set then a Flush sent no session cookie: Set-Cookie %q", r.Header.Get("Set-Cookie"))
	}
	if got := b.Value("a"); got != "1" {
		t.Fatalf("a Set then a Flush was not committed: a = %q", got)
	}

	h.Clock.Advance(8 * time.Minute) // the idle expiry is due to slide
	writes := h.Store.Writes()
	r = b.Get("/flush", "get", "a")
	if r.Status != http.StatusOK || r.Body != "streamed 1" {
		t.Fatalf("a read then a Flush answered %d %q", r.Status, r.Body)
	}
	if ck := r.Cookie(CookieName); ck == nil || ck.MaxAge != 30*60*5/4 {
		t.Errorf("a read then a Flush did not send the slid cookie: Set-Cookie %q", r.Header.Get("Set-Cookie"))
	}
	if n := h.Store.Writes() - writes; n != 1 {
		t.Errorf("a read then a Flush wrote %d times, want the slide's 1", n)
	}
}

// Rule 2: a handler that panics or whose response is a 5xx commits nothing and sends
// no session cookie, even when a recovering middleware answers its panic with a 200;
// one whose response is a 4xx commits.
func testFailingHandler(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	for _, tt := range []struct {
		name, whenFails, whenRecoveredAs string
		expectStatus                     int
		expectCommit                     bool
	}{
		{"Panic", "panic", "", http.StatusInternalServerError, false},
		{"PanicAnswered200", "panic", "200", http.StatusOK, false},
		{"Error", "error", "", http.StatusInternalServerError, false},
		{"HTTPError500", "http500", "", http.StatusInternalServerError, false},
		{"Written503", "write503", "", http.StatusServiceUnavailable, false},
		{"HTTPError409", "http409", "", http.StatusConflict, true},
		{"Written400", "write400", "", http.StatusBadRequest, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			query := []string{"how", tt.whenFails, "v", "new", "recovered", tt.whenRecoveredAs}
			// A visitor without a session: the failure creates none, or a 4xx does.
			writes := h.Store.Writes()
			r := h.Browser().Get("/fail", query...)
			if r.Status != tt.expectStatus {
				t.Errorf("answered %d %q, want %d", r.Status, r.Body, tt.expectStatus)
			}
			if sent := r.Cookie(CookieName) != nil; sent != tt.expectCommit {
				t.Errorf("a new session's cookie sent: %v, want %v (Set-Cookie %q)", sent, tt.expectCommit, r.Header.Get("Set-Cookie"))
			}
			if n, want := h.Store.Writes()-writes, int64(boolInt(tt.expectCommit)); n != want {
				t.Errorf("a new session: %d store writes, want %d", n, want)
			}

			// A session holding k=old: the failure leaves it, a 4xx changes it.
			b := h.Browser()
			b.Set("k", "old")
			writes = h.Store.Writes()
			r = b.Get("/fail", query...)
			if h.Resent(r, b.SessionCookie(CookieName).Value) {
				t.Errorf("a stored session's change sent Set-Cookie %q", r.Header.Get("Set-Cookie"))
			}
			want := map[bool]string{false: "old", true: "new"}[tt.expectCommit]
			if got := b.Value("k"); got != want {
				t.Errorf("after the response k = %q, want %q", got, want)
			}
			if n, want := h.Store.Writes()-writes, int64(boolInt(tt.expectCommit)); n != want {
				t.Errorf("a stored session: %d store writes, want %d", n, want)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Rule 3: Set rejects a value nested deeper than encoding/json decodes within a
// session, identically on every store, and the session stays intact; a value just
// within the limit is stored and loads back.
func testDeepValue(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.Browser()
	b.Set("keep", "me")
	if r := b.Get("/deep", "n", "10000"); r.Status != http.StatusTeapot || r.Body != "ErrTooLarge" {
		t.Fatalf("a value nested 10000 deep: %d %q, want ErrTooLarge", r.Status, r.Body)
	}
	if got := b.Get("/keys").Body; got != "keep" {
		t.Fatalf("after the rejected value the keys are %q, want keep", got)
	}
	if r := b.Get("/deep", "n", "9999"); r.Body != "ok" {
		t.Fatalf("a value nested 9999 deep: %d %q, want it stored", r.Status, r.Body)
	}
	// A new browser of the same session loads it from the store (or the cache).
	again := h.WithCookie(CookieName, b.SessionCookie(CookieName).Value)
	if got := again.Get("/keys").Body; got != "deep,keep" {
		t.Fatalf("the session with the deep value loads back with keys %q", got)
	}
	if got := again.Value("keep"); got != "me" {
		t.Fatalf("keep = %q", got)
	}
}

// Rule 3: the response of a failed commit carries Cache-Control: no-store, replacing
// what the handler set, whether the commit ran before the header or after the
// handler.
func testFailedCommitNoStore(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.Browser()
	b.Set("k", "1")
	h.Store.FailWrites.Store(true)
	for _, silent := range []string{"0", "1"} {
		r := b.Get("/public", "v", "2", "silent", silent)
		if r.Status != http.StatusInternalServerError {
			t.Errorf("silent=%s: a failed commit answered %d %q", silent, r.Status, r.Body)
		}
		if cc := r.Header.Values("Cache-Control"); len(cc) != 1 || cc[0] != "no-store" {
			t.Errorf("silent=%s: a failed commit's response has Cache-Control %q, want no-store", silent, cc)
		}
		if err := h.NextError(); !errors.Is(err, ErrStoreDown) {
			t.Errorf("ErrorHandler got %v", err)
		}
	}
}

// Rule 4: of several cookies with the session's name, the first well-formed one that
// names a live session wins, of at most three; a stale cookie before the live one
// does not log the user out.
func testSeveralCookies(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	live := loggedIn(h)
	renewedAway := loggedIn(h)
	h.token(renewedAway).Get("/renew")
	destroyed := loggedIn(h)
	h.token(destroyed).Get("/destroy")
	forged := randomToken(t)
	cookies := func(tokens ...string) string {
		pairs := []string{"theme=dark"}
		for _, token := range tokens {
			pairs = append(pairs, CookieName+"="+token)
		}
		return strings.Join(pairs, "; ")
	}
	for _, tt := range []struct {
		name         string
		givenCookies string
		expectUser   string
	}{
		{"RenewedFirst", cookies(renewedAway, live), "ada"},
		{"DestroyedFirst", cookies(destroyed, live), "ada"},
		{"ForgedTwiceFirst", cookies(forged, destroyed, live), "ada"},
		{"MalformedNotCounted", cookies("garbage", `"`+forged, forged, renewedAway, live), "ada"},
		{"FourthNotTried", cookies(forged, destroyed, renewedAway, live), "<absent>"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := h.withCookieHeader(tt.givenCookies).Value("user"); got != tt.expectUser {
				t.Fatalf("Cookie %q: user = %q, want %q", tt.givenCookies, got, tt.expectUser)
			}
		})
	}
	// A write through the stale cookie and the live one changes the live session and
	// keeps its token.
	r := h.withCookieHeader(cookies(destroyed, live)).Get("/set", "k", "cart", "v", "1")
	if r.Status != http.StatusOK || h.Resent(r, live) {
		t.Fatalf("a write behind a stale cookie answered %d with Set-Cookie %q, want 200 and none", r.Status, r.Header.Get("Set-Cookie"))
	}
	if got := h.token(live).Value("cart"); got != "1" {
		t.Fatalf("the live session reads cart = %q after a write behind a stale cookie", got)
	}
}

// Rule 5: a commit that loses a compare-and-swap to another request of its session
// does not turn the cache off for that session: later reads are served from the
// cache again, and see every write.
func testCacheAfterConflict(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	token := loggedIn(h)
	a := h.token(token).start(steps("get:user", "wait:A", "set:x=1"))
	h.gate("A").awaitArrivals(1)
	h.token(token).Set("y", "2") // commits first: a's compare-and-swap then loses
	h.gate("A").open()
	if r := a.response(); r.Status != http.StatusOK {
		t.Fatalf("the request that lost the race answered %d %q", r.Status, r.Body)
	}
	h.token(token).Value("user") // the first read after the conflict may fill the cache
	loads := h.Store.Loads.Load()
	for range 3 {
		for key, want := range map[string]string{"user": "ada", "x": "1", "y": "2"} {
			if got := h.token(token).Value(key); got != want {
				t.Fatalf("%s = %q, want %q", key, got, want)
			}
		}
	}
	if n := h.Store.Loads.Load() - loads; v.Cached && n != 0 {
		t.Fatalf("after a lost compare-and-swap %d of 9 reads went to the store, want 0: the cache no longer serves the session", n)
	}
}

// Rule 7: every response gets header values of its own: a handler that edits the
// Cache-Control and Vary values the session set, in place, changes no later
// response.
func testOwnHeaderValues(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	for i := range 3 {
		if r := h.Browser().Get("/edit-headers", "v", "1"); r.Status != http.StatusOK || r.Header.Get("Cache-Control") != "public, max-age=600" {
			t.Fatalf("the editing handler answered %d with Cache-Control %q", r.Status, r.Header.Get("Cache-Control"))
		}
		r := h.Browser().Get("/set", "k", "a", "v", "1")
		if cc := r.Header.Values("Cache-Control"); len(cc) != 1 || cc[0] != "no-store" {
			t.Fatalf("round %d: another browser's login carried Cache-Control %q with its cookie, want no-store", i, cc)
		}
		if vary := r.Header.Values("Vary"); len(vary) != 1 || vary[0] != "Cookie" {
			t.Fatalf("round %d: Vary = %q, want Cookie", i, vary)
		}
	}
}

// Issue 21: a response whose Vary header names Cookie already, as Echo's CSRF
// middleware makes it, does not get it again; any other Vary gets it added.
func testVaryOnce(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.Browser()
	b.Set("k", "v")
	for _, tt := range []struct{ given, expect []string }{
		{nil, []string{"Cookie"}},
		{[]string{"Cookie"}, []string{"Cookie"}},
		{[]string{"cookie"}, []string{"cookie"}},
		{[]string{"Accept-Encoding, COOKIE"}, []string{"Accept-Encoding, COOKIE"}},
		{[]string{"Origin", "Accept-Encoding,Cookie ,Accept"}, []string{"Origin", "Accept-Encoding,Cookie ,Accept"}},
		{[]string{"Accept-Encoding"}, []string{"Accept-Encoding", "Cookie"}},
		{[]string{"Cookies, X-Cookie"}, []string{"Cookies, X-Cookie", "Cookie"}},
	} {
		r := b.Get("/vary", "vary", strings.Join(tt.given, "\n"))
		if got := r.Header.Values("Vary"); r.Body != "v" || !slices.Equal(got, tt.expect) {
			t.Errorf("Vary given %q: %q (body %q), want %q", tt.given, got, r.Body, tt.expect)
		}
	}
}

// Rule 8: a read of the session after the response header went out, which could no
// longer say Vary: Cookie, fails with ErrHeaderWritten, and asks the store nothing.
func testLoadAfterHeader(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.Browser()
	b.Set("k", "v")
	loads := h.Store.Loads.Load()
	for _, who := range []*Browser{b, h.Browser()} {
		if r := who.Get("/get-late"); r.Body != "body first ErrHeaderWritten" {
			t.Fatalf("a read after the body: %q", r.Body)
		}
	}
	if n := h.Store.Loads.Load() - loads; n != 0 {
		t.Fatalf("reads after the header made %d store loads", n)
	}
}

// Rule 9: a logout with a forged (well-formed, never issued) token loads once and
// writes nothing: no delete, no save, no cache tombstone.
func testForgedLogout(t *testing.T, v variant) {
	var cache *CountingCache
	h := newHarness(t, v, func(c *Config) {
		if c.Cache != nil {
			cache = &CountingCache{Cache: c.Cache}
			c.Cache = cache
		}
	})
	const n = 20
	for range n {
		if r := h.WithCookie(CookieName, randomToken(t)).Get("/destroy"); r.Status != http.StatusOK || r.Body != "ok" {
			t.Fatalf("a forged logout answered %d %q", r.Status, r.Body)
		}
	}
	if got := h.Store.Loads.Load(); got != n {
		t.Errorf("%d forged logouts made %d store loads, want one each", n, got)
	}
	if got := h.Store.Writes() + h.Store.Deletes.Load(); got != 0 {
		t.Errorf("%d forged logouts made %d store writes, want none", n, got)
	}
	if cache != nil {
		if got := cache.Puts.Load() + cache.Deletes.Load(); got != 0 {
			t.Errorf("%d forged logouts made %d cache writes (tombstones), want none", n, got)
		}
	}
}

// Rule 10: the session cookie is found among up to 3000 cookie pairs, as net/http
// finds a cookie; past that none is read, and the store is not asked.
func testCookiePairsBound(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	token := loggedIn(h)
	others := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "c%d=x; ", i)
		}
		return b.String()
	}
	if got := h.withCookieHeader(others(2999) + CookieName + "=" + token).Value("user"); got != "ada" {
		t.Fatalf("the session cookie as the 3000th pair: user = %q, want ada", got)
	}
	calls := h.StoreCalls()
	for _, header := range []string{others(3000) + CookieName + "=" + token, CookieName + "=" + token + strings.Repeat(";", 3000)} {
		if got := h.withCookieHeader(header).Value("user"); got != "<absent>" {
			t.Fatalf("a Cookie header of 3001 pairs was read: user = %q", got)
		}
	}
	if n := h.StoreCalls() - calls; n != 0 {
		t.Fatalf("Cookie headers past the bound made %d store calls", n)
	}
}

// Rules 3 and 12: Middleware panics on configuration that cannot work or that
// browsers reject or weaken, and accepts what is close to it but valid.
func testHardeningBadConfig(t *testing.T, v variant) {
	clock := NewClock()
	for _, tt := range []struct {
		name        string
		givenConfig func(*Config)
		expectPanic string // "" for none
	}{
		{"NegativeIdleTimeout", func(c *Config) { c.IdleTimeout = -time.Minute }, "IdleTimeout"},
		{"NegativeRememberedIdleTimeout", func(c *Config) { c.RememberedIdleTimeout = -time.Minute }, "RememberedIdleTimeout"},
		{"DefaultExpiryPast", func(c *Config) { c.DefaultExpiry = engine.ExpireAt(clock.Now().Add(-time.Second)) }, "DefaultExpiry"},
		{"DefaultExpiryNow", func(c *Config) { c.DefaultExpiry = engine.ExpireAt(clock.Now()) }, "DefaultExpiry"},
		{"DefaultExpiryNegative", func(c *Config) { c.DefaultExpiry = engine.ExpireIn(-time.Hour) }, "DefaultExpiry"},
		{"SameSiteNoneInsecure", func(c *Config) { c.CookieSameSite, c.CookieInsecure = http.SameSiteNoneMode, true }, "SameSite=None"},
		{"UnknownSameSite", func(c *Config) { c.CookieSameSite = http.SameSite(7) }, "SameSite"},
		{"PathNotAbsolute", func(c *Config) { c.CookiePath = "app" }, "does not start with /"},
		{"HostPrefixWithDomain", func(c *Config) { c.CookieName, c.CookieDomain = "__Host-session", "example.test" }, "__Host-"},
		{"HostPrefixWithPath", func(c *Config) { c.CookieName, c.CookiePath = "__Host-session", "/app" }, "__Host-"},
		{"HostPrefixInsecure", func(c *Config) { c.CookieName, c.CookieInsecure = "__Host-session", true }, "__Host-"},
		{"SecurePrefixInsecure", func(c *Config) { c.CookieName, c.CookieInsecure = "__Secure-session", true }, "__Secure-"},

		{"ZeroIdleTimeout", func(c *Config) { c.IdleTimeout = 0 }, ""},
		{"DefaultExpiryFuture", func(c *Config) { c.DefaultExpiry = engine.ExpireAt(clock.Now().Add(time.Second)) }, ""},
		{"SameSiteNoneSecure", func(c *Config) { c.CookieSameSite = http.SameSiteNoneMode }, ""},
		{"HostPrefix", func(c *Config) { c.CookieName = "__Host-session" }, ""},
		{"SecurePrefixWithDomainAndPath", func(c *Config) {
			c.CookieName, c.CookieDomain, c.CookiePath = "__Secure-session", "example.test", "/app"
		}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Store: memstore.New(), Now: clock.Now}
			tt.givenConfig(&cfg)
			var recovered any
			func() {
				defer func() { recovered = recover() }()
				v.adapter.Serve(cfg, nil, nil, nil)
			}()
			switch msg := fmt.Sprint(recovered); {
			case tt.expectPanic == "" && recovered != nil:
				t.Fatalf("a valid configuration panicked: %v", recovered)
			case tt.expectPanic != "" && (recovered == nil || !strings.Contains(msg, tt.expectPanic)):
				t.Fatalf("recovered %v, want a panic that names %q", recovered, tt.expectPanic)
			}
		})
	}
}

// Rule 5: StoreTimeout bounds every call to the Cache, as it does the Store's.
func testCacheBounded(t *testing.T, v variant) {
	const timeout = time.Minute
	var cache *deadlineCache
	h := newHarness(t, v, func(c *Config) {
		c.StoreTimeout = timeout
		cache = &deadlineCache{Cache: memstore.New(memstore.WithClock(c.Now)), timeout: timeout}
		c.Cache = cache
	})
	b := h.Browser()
	b.Set("a", "1")
	h.WithCookie(CookieName, b.SessionCookie(CookieName).Value).Value("a")
	b.Get("/renew")
	b.Get("/destroy")
	if cache.calls.Load() < 4 {
		t.Fatalf("the cache saw %d calls, want at least 4", cache.calls.Load())
	}
	if n := cache.unbounded.Load(); n != 0 {
		t.Fatalf("%d of %d cache calls had no deadline within StoreTimeout", n, cache.calls.Load())
	}
}

// deadlineCache counts the calls of a Cache whose context has no deadline within
// timeout.
type deadlineCache struct {
	engine.Cache
	timeout          time.Duration
	calls, unbounded atomic.Int64
}

func (c *deadlineCache) check(ctx context.Context) {
	c.calls.Add(1)
	if deadline, ok := ctx.Deadline(); !ok || time.Until(deadline) > c.timeout {
		c.unbounded.Add(1)
	}
}

func (c *deadlineCache) Load(ctx context.Context, key string) (engine.Record, error) {
	c.check(ctx)
	return c.Cache.Load(ctx, key)
}

func (c *deadlineCache) Put(ctx context.Context, rec engine.Record) error {
	c.check(ctx)
	return c.Cache.Put(ctx, rec)
}

func (c *deadlineCache) Delete(ctx context.Context, key string) error {
	c.check(ctx)
	return c.Cache.Delete(ctx, key)
}

// CountingCache counts the calls that reach a Cache.
type CountingCache struct {
	engine.Cache
	Loads, Puts, Deletes atomic.Int64
}

func (c *CountingCache) Load(ctx context.Context, key string) (engine.Record, error) {
	c.Loads.Add(1)
	return c.Cache.Load(ctx, key)
}

func (c *CountingCache) Put(ctx context.Context, rec engine.Record) error {
	c.Puts.Add(1)
	return c.Cache.Put(ctx, rec)
}

func (c *CountingCache) Delete(ctx context.Context, key string) error {
	c.Deletes.Add(1)
	return c.Cache.Delete(ctx, key)
}

// overridingStore is a user's type that embeds *memstore.Store and overrides Load,
// Save and Put, counting the calls.
type overridingStore struct {
	*memstore.Store
	loads, saves, puts atomic.Int64
}

func (s *overridingStore) Load(ctx context.Context, key string) (engine.Record, error) {
	s.loads.Add(1)
	return s.Store.Load(ctx, key)
}

func (s *overridingStore) Save(ctx context.Context, rec engine.Record) error {
	s.saves.Add(1)
	return s.Store.Save(ctx, rec)
}

func (s *overridingStore) Put(ctx context.Context, rec engine.Record) error {
	s.puts.Add(1)
	return s.Store.Put(ctx, rec)
}

// Rule 5: the engine's fast paths for its own MemoryStore never bypass the methods
// of a type that embeds one, as the Store or as the Cache, with StoreTimeout's
// wrapper around it (the default) and without (a negative StoreTimeout).
func testOverridingMemoryStore(t *testing.T, v variant) {
	for _, bound := range []struct {
		name    string
		timeout time.Duration
	}{{"Bounded", 0}, {"Unbounded", -1}} {
		timeout := bound.timeout
		t.Run(bound.name+"/Store", func(t *testing.T) {
			var store *overridingStore
			h := newHarness(t, v, func(c *Config) {
				c.StoreTimeout = timeout
				store = &overridingStore{Store: memstore.New(memstore.WithClock(c.Now))}
				c.Store = store
			})
			b := h.Browser()
			for _, step := range []struct {
				whenPath                 string
				expectLoads, expectSaves int64
			}{
				{"/set?k=a&v=1", 0, 1}, // a new session: saved
				{"/get?k=a", 1, 0},     // loaded
				{"/set?k=a&v=2", 1, 1}, // loaded and saved
				{"/renew", 1, 2},       // the new record and the old one's link
				{"/destroy", 1, 1},     // saved ended
				{"/set?k=b&v=1", 0, 1}, // a new session again
			} {
				loads, saves := store.loads.Load(), store.saves.Load()
				if r := b.Get(step.whenPath); r.Status != http.StatusOK {
					t.Fatalf("%s answered %d %q", step.whenPath, r.Status, r.Body)
				}
				if dl, ds := store.loads.Load()-loads, store.saves.Load()-saves; dl != step.expectLoads || ds != step.expectSaves {
					t.Errorf("%s called the overriding Load %d and Save %d times, want %d and %d", step.whenPath, dl, ds, step.expectLoads, step.expectSaves)
				}
			}
		})
		t.Run(bound.name+"/Cache", func(t *testing.T) {
			var cache *overridingStore
			h := newHarness(t, v, func(c *Config) {
				c.StoreTimeout = timeout
				cache = &overridingStore{Store: memstore.New(memstore.WithClock(c.Now))}
				c.Cache = cache
			})
			b := h.Browser()
			b.Set("a", "1")
			if cache.puts.Load() == 0 {
				t.Error("a save did not call the overriding cache's Put")
			}
			cacheLoads, storeLoads := cache.loads.Load(), h.Store.Loads.Load()
			if got := b.Value("a"); got != "1" {
				t.Fatalf("a = %q", got)
			}
			if dc, ds := cache.loads.Load()-cacheLoads, h.Store.Loads.Load()-storeLoads; dc != 1 || ds != 0 {
				t.Errorf("a read called the overriding cache's Load %d times and the store's %d, want 1 and 0", dc, ds)
			}
		})
	}
}
