package adaptertest

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/echosess/echosess/internal/engine"
)

// test is a test of a table, which runs it on each store variant.
type test struct {
	name string
	fn   func(*testing.T, variant)
}

// variant is a store variant under the adapter being tested.
type variant struct {
	Variant
	adapter Adapter
}

// runTable runs every test of tests on every store variant of vs under adapter a.
func runTable(t *testing.T, a Adapter, vs []Variant, tests []test) {
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) { tt.fn(t, variant{v, a}) })
			}
		})
	}
}

// newHarness starts the test app of v's adapter on v's store.
func newHarness(t *testing.T, v variant, configure func(*Config)) *Harness {
	t.Helper()
	return NewHarness(t, v.adapter, v.Variant, configure)
}

// middlewareTests are the black-box tests of the middleware and the handler API.
var middlewareTests = []test{
	{"SetThenGet", testSetThenGet},
	{"CookieAttributes", testCookieAttributes},
	{"ReadOnlyVisitor", testReadOnlyVisitor},
	{"UntouchedRequest", testUntouchedRequest},
	{"MalformedCookie", testMalformedCookie},
	{"ForgedToken", testForgedToken},
	{"ExpiredSession", testExpiredSession},
	{"UnmodifiedNotWritten", testUnmodifiedNotWritten},
	{"UnchangedSetNotWritten", testUnchangedSetNotWritten},
	{"DeleteAndPop", testDeleteAndPop},
	{"Clear", testClear},
	{"Destroy", testDestroy},
	{"RenewID", testRenewID},
	{"SetExpiry", testSetExpiry},
	{"IdleTimeout", testIdleTimeout},
	{"ConcurrentKeys", testConcurrentKeys},
	{"DecodeError", testDecodeError},
	{"TooLarge", testTooLarge},
	{"InvalidKey", testInvalidKey},
	{"CommitFailure", testCommitFailure},
	{"SaveEarly", testSaveEarly},
	{"HeaderWritten", testHeaderWritten},
	{"StoreDownOnLoad", testStoreDownOnLoad},
	{"SessionOnlyCookie", testSessionOnlyCookie},
	{"RememberedLogin", testRememberedLogin},
	{"RememberedIdleTimeout", testRememberedIdleTimeout},
	{"PersistentCookieToggle", testPersistentCookieToggle},
	{"Introspection", testIntrospection},
	{"DeadCookieID", testDeadCookieID},
}

// RunMiddleware runs the middleware tests on every store variant of vs (Variants for
// the stores of the root module) under adapter a.
func RunMiddleware(t *testing.T, a Adapter, vs []Variant) { runTable(t, a, vs, middlewareTests) }

func testSetThenGet(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.Browser()
	if got := b.Value("color"); got != "<absent>" {
		t.Fatalf("fresh session: color = %q", got)
	}
	b.Set("color", "green")
	b.Set("shape", "round")
	if got := b.Value("color"); got != "green" {
		t.Fatalf("color = %q, want green", got)
	}
	if got := b.Value("shape"); got != "round" {
		t.Fatalf("shape = %q, want round", got)
	}
	if got := h.Browser().Value("color"); got != "<absent>" {
		t.Fatalf("another browser sees color = %q", got)
	}
}

func testCookieAttributes(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	r := h.Browser().Get("/set", "k", "a", "v", "1")
	ck := r.Cookie(CookieName)
	if ck == nil {
		t.Fatalf("no session cookie in %v", r.Header)
	}
	if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" {
		t.Errorf("cookie attributes: %s", r.Header.Get("Set-Cookie"))
	}
	if ck.MaxAge != 24*60*60 {
		t.Errorf("Max-Age = %d, want the default 24h", ck.MaxAge)
	}
	if len(ck.Value) != 43 {
		t.Errorf("token %q is not 32 bytes of base64url", ck.Value)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q on a response that sets the cookie", got)
	}
	if got := r.Header.Get("Vary"); got != "Cookie" {
		t.Errorf("Vary = %q, want Cookie", got)
	}

	h2 := newHarness(t, v, func(c *Config) {
		c.CookieName, c.CookiePath, c.CookieDomain = "sid", "/app", "example.test"
		c.CookieSameSite, c.CookieInsecure, c.CookieScriptReadable = http.SameSiteStrictMode, true, true
	})
	r = h2.Browser().Get("/set", "k", "a", "v", "1")
	ck = r.Cookie("sid")
	if ck == nil || ck.HttpOnly || ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/app" || ck.Domain != "example.test" {
		t.Errorf("configured cookie: %s", r.Header.Get("Set-Cookie"))
	}
}

func testReadOnlyVisitor(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.Browser()
	for range 3 {
		r := b.Get("/get", "k", "x")
		if r.Body != "<absent>" || r.Header.Get("Set-Cookie") != "" {
			t.Fatalf("read-only visitor got %q with Set-Cookie %q", r.Body, r.Header.Get("Set-Cookie"))
		}
		if r.Header.Get("Vary") != "Cookie" {
			t.Errorf("a response that read the session lacks Vary: Cookie")
		}
	}
	b.Get("/delete", "k", "x")
	b.Get("/clear")
	b.Get("/renew")
	if n := h.StoreCalls(); n != 0 {
		t.Fatalf("a visitor without a cookie cost %d store calls", n)
	}
	if ck := b.SessionCookie(CookieName); ck != nil {
		t.Fatalf("a visitor who never wrote got cookie %v", ck)
	}
}

func testUntouchedRequest(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.Browser()
	b.Set("a", "1")
	before := h.StoreCalls()
	r := b.Get("/noop")
	if n := h.StoreCalls() - before; n != 0 {
		t.Fatalf("a handler that never touched the session cost %d store calls", n)
	}
	if r.Header.Get("Set-Cookie") != "" || r.Header.Get("Vary") != "" {
		t.Errorf("untouched session changed headers: %v", r.Header)
	}
}

func testMalformedCookie(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	for _, bad := range []string{"garbage", strings.Repeat("A", 42), strings.Repeat("A", 43) + "=", strings.Repeat("!", 43), strings.Repeat("x", 4096)} {
		b := h.WithCookie(CookieName, bad)
		if got := b.Value("a"); got != "<absent>" {
			t.Fatalf("malformed cookie %q: a = %q", bad, got)
		}
		if n := h.StoreCalls(); n != 0 {
			t.Fatalf("malformed cookie %q reached the store (%d calls)", bad, n)
		}
	}
	r := h.WithCookie(CookieName, "garbage").Get("/set", "k", "a", "v", "1")
	if ck := r.Cookie(CookieName); ck == nil || ck.Value == "garbage" || len(ck.Value) != 43 {
		t.Fatalf("write with a malformed cookie set %v, want a fresh token", ck)
	}
}

func testForgedToken(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	forged := "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE" // well-formed, never issued
	b := h.WithCookie(CookieName, forged)
	if got := b.Value("a"); got != "<absent>" {
		t.Fatalf("forged token: a = %q", got)
	}
	r := b.Get("/set", "k", "a", "v", "attacker")
	ck := r.Cookie(CookieName)
	if ck == nil || ck.Value == forged {
		t.Fatalf("forged token adopted: Set-Cookie %q", r.Header.Get("Set-Cookie"))
	}
	if got := b.Value("a"); got != "<absent>" {
		t.Fatalf("the forged token now holds a = %q", got)
	}
	if got := h.WithCookie(CookieName, ck.Value).Value("a"); got != "attacker" {
		t.Fatalf("the issued token holds a = %q", got)
	}
}

func testExpiredSession(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.Browser()
	b.Set("a", "1")
	old := b.SessionCookie(CookieName).Value
	h.Clock.Advance(24*time.Hour + time.Second)
	stale := h.WithCookie(CookieName, old)
	if got := stale.Value("a"); got != "<absent>" {
		t.Fatalf("expired session still readable: a = %q", got)
	}
	r := stale.Get("/set", "k", "b", "v", "2")
	if ck := r.Cookie(CookieName); ck == nil || ck.Value == old {
		t.Fatalf("expired token reused: %q", r.Header.Get("Set-Cookie"))
	}
}

func testUnmodifiedNotWritten(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.Browser()
	b.Set("a", "1")
	saves := h.Store.Writes()
	for range 5 {
		b.Value("a")
		b.Get("/delete", "k", "missing")
	}
	if n := h.Store.Writes() - saves; n != 0 {
		t.Fatalf("reading an unmodified session wrote %d times", n)
	}
	if n := h.Store.Loads.Load(); v.Cached && n != 0 {
		t.Fatalf("with a warm cache the store was read %d times", n)
	}
}

// testUnchangedSetNotWritten: a Set of the value a key holds changes nothing, so an
// otherwise unchanged session is not written and no cookie is sent; after a Delete
// or Pop of the key in the same request it is a change again. Such a Set leaves the
// key to a concurrent request that changes it (only changes are replayed), and of a
// session ended meanwhile it is a read, which succeeds and revives nothing.
func testUnchangedSetNotWritten(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.Browser()
	b.Set("a", "1")
	b.Get("/setint", "k", "n", "v", "7")
	token := b.SessionCookie(CookieName).Value
	writes := h.Store.Writes()
	for _, path := range []string{"/set?k=a&v=1", "/setint?k=n&v=7"} {
		if r := b.Get(path); r.Status != http.StatusOK || h.Resent(r, token) {
			t.Errorf("GET %s: %d %q, Set-Cookie %q", path, r.Status, r.Body, setCookie(r))
		}
	}
	if n := h.Store.Writes() - writes; n != 0 {
		t.Errorf("setting unchanged values wrote %d times", n)
	}
	for _, first := range []string{"set:a=2", "delete:a", "pop:a"} {
		if r := b.Get(steps(first, "set:a=1")); r.Status != http.StatusOK {
			t.Errorf("%s, then set:a=1: %d %q", first, r.Status, r.Body)
		}
		if got := b.Value("a"); got != "1" {
			t.Errorf("after %s, then set:a=1, a = %q, want 1", first, got)
		}
	}

	same := b.start(steps("get:a", "wait:A", "set:a=1", "set:b=x"))
	h.gate("A").awaitArrivals(1)
	b.Set("a", "2")
	h.gate("A").open()
	if r := same.response(); r.Status != http.StatusOK {
		t.Fatalf("the request that set a to its loaded value: %d %q", r.Status, r.Body)
	}
	if a, bv := b.Value("a"), b.Value("b"); a != "2" || bv != "x" {
		t.Errorf("after a concurrent a=2 and an unchanged a=1: a = %q, b = %q, want 2 and x", a, bv)
	}

	// Of a session that a logout ended meanwhile, such a Set is a read: it succeeds
	// and brings nothing back.
	ended := b.start(steps("get:a", "wait:B", "set:a=2"))
	h.gate("B").awaitArrivals(1)
	if r := b.Get("/destroy"); r.Status != http.StatusOK {
		t.Fatalf("logout: %d %q", r.Status, r.Body)
	}
	h.gate("B").open()
	if r := ended.response(); r.Status != http.StatusOK || setCookie(r) != "" {
		t.Errorf("an unchanged Set of a session ended meanwhile: %d %q, Set-Cookie %q; want 200 and no cookie", r.Status, r.Body, setCookie(r))
	}
	if got := h.token(token).Value("a"); got != "<absent>" {
		t.Errorf("after the logout the token reads a = %q", got)
	}
}

func testDeleteAndPop(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.Browser()
	b.Set("a", "1")
	b.Set("flash", "saved!")
	b.Get("/delete", "k", "a")
	if got := b.Value("a"); got != "<absent>" {
		t.Fatalf("deleted key a = %q", got)
	}
	if r := b.Get("/pop", "k", "flash"); r.Body != "saved!" {
		t.Fatalf("first pop = %q", r.Body)
	}
	if r := b.Get("/pop", "k", "flash"); r.Body != "<absent>" {
		t.Fatalf("second pop = %q", r.Body)
	}
}

func testClear(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.Browser()
	b.Set("a", "1")
	b.Set("b", "2")
	token := b.SessionCookie(CookieName).Value
	if r := b.Get("/clear"); h.Resent(r, token) {
		t.Errorf("Clear sent a cookie: %q", r.Header.Get("Set-Cookie"))
	}
	if b.Value("a") != "<absent>" || b.Value("b") != "<absent>" {
		t.Fatal("keys survived Clear")
	}
	b.Set("c", "3")
	if got := b.SessionCookie(CookieName).Value; got != token {
		t.Fatal("Clear changed the token")
	}
	if b.Value("c") != "3" {
		t.Fatal("the cleared session does not keep new values")
	}
}

func testDestroy(t *testing.T, v variant) {
	h := newHarness(t, v, func(c *Config) { c.CookieDomain = "127.0.0.1" })
	b := h.Browser()
	b.Set("a", "1")
	old := b.SessionCookie(CookieName).Value
	r := b.Get("/destroy")
	ck := r.Cookie(CookieName)
	if ck == nil || ck.MaxAge != -1 || ck.Value != "" {
		t.Fatalf("Destroy sent %q, want a removal cookie", r.Header.Get("Set-Cookie"))
	}
	if !ck.HttpOnly || !ck.Secure || ck.Path != "/" || ck.Domain != "127.0.0.1" || ck.SameSite != http.SameSiteLaxMode {
		t.Errorf("removal cookie lacks the session cookie's attributes: %q", r.Header.Get("Set-Cookie"))
	}
	if b.SessionCookie(CookieName) != nil {
		t.Error("the browser kept the cookie after Destroy")
	}
	if got := h.WithCookie(CookieName, old).Value("a"); got != "<absent>" {
		t.Fatalf("the destroyed token still reads a = %q", got)
	}
	b.Set("a", "2")
	if ck := b.SessionCookie(CookieName); ck == nil || ck.Value == old {
		t.Fatal("a write after Destroy did not start a new session")
	}
}

func testRenewID(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.Browser()
	b.Set("user", "ada")
	old := b.SessionCookie(CookieName).Value
	r := b.Get("/renew")
	ck := r.Cookie(CookieName)
	if ck == nil || ck.Value == old || len(ck.Value) != 43 {
		t.Fatalf("RenewID sent %q", r.Header.Get("Set-Cookie"))
	}
	if got := b.Value("user"); got != "ada" {
		t.Fatalf("after RenewID user = %q", got)
	}
	if got := h.WithCookie(CookieName, old).Value("user"); got != "<absent>" {
		t.Fatalf("the old token still reads user = %q", got)
	}
}

func testSetExpiry(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.Browser()
	b.Set("a", "1")
	r := b.Get("/expiry", "in", "720h")
	if ck := r.Cookie(CookieName); ck == nil || ck.MaxAge != 720*60*60 {
		t.Fatalf("SetExpiry(30 days) sent %q", r.Header.Get("Set-Cookie"))
	}
	h.Clock.Advance(48 * time.Hour)
	if got := b.Value("a"); got != "1" {
		t.Fatalf("a session given 30 days is gone after 2: a = %q", got)
	}
	r = b.Get("/expiry", "in", "-1s")
	if ck := r.Cookie(CookieName); ck == nil || ck.MaxAge != -1 {
		t.Fatalf("an expiry in the past sent %q, want a removal cookie", r.Header.Get("Set-Cookie"))
	}
}

func testIdleTimeout(t *testing.T, v variant) {
	h := newHarness(t, v, func(c *Config) {
		c.IdleTimeout = 30 * time.Minute
		c.DefaultExpiry = engine.ExpireIn(2 * time.Hour)
	})
	b := h.Browser()
	b.Set("a", "1")
	saves := h.Store.Writes()
	for range 7 { // 7 minutes of requests: under a quarter of the timeout
		h.Clock.Advance(time.Minute)
		if r := b.Get("/get", "k", "a"); r.Body != "1" || r.Header.Get("Set-Cookie") != "" {
			t.Fatalf("request within the slide window: %q, Set-Cookie %q", r.Body, r.Header.Get("Set-Cookie"))
		}
	}
	if n := h.Store.Writes() - saves; n != 0 {
		t.Fatalf("%d writes during the first quarter of the idle timeout", n)
	}
	h.Clock.Advance(time.Minute)
	r := b.Get("/get", "k", "a")
	if ck := r.Cookie(CookieName); ck == nil || ck.MaxAge != 30*60*5/4 {
		t.Fatalf("after 8 minutes the expiry did not slide: Set-Cookie %q", r.Header.Get("Set-Cookie"))
	}
	if n := h.Store.Writes() - saves; n != 1 {
		t.Fatalf("sliding the expiry wrote %d times, want 1", n)
	}
	// Keep it busy up to its 2h deadline: the slide reaches it but never passes it.
	for _, step := range []time.Duration{25, 25, 25, 25, 11} { // to 1h59m after creation
		h.Clock.Advance(step * time.Minute)
		if got := b.Value("a"); got != "1" {
			t.Fatalf("an active session expired early at %v", h.Clock.Now())
		}
	}
	h.Clock.Advance(2 * time.Minute)
	if got := b.Value("a"); got != "<absent>" {
		t.Fatalf("the slide carried the session past its deadline: a = %q", got)
	}
	b.Set("a", "2")
	h.Clock.Advance(38 * time.Minute) // past 1¼ timeouts
	if got := b.Value("a"); got != "<absent>" {
		t.Fatalf("an idle session outlived its timeout: a = %q", got)
	}
}

func testConcurrentKeys(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.Browser()
	b.Set("seed", "0")
	const n = 100
	var wg sync.WaitGroup
	failures := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := b.Client.Get(h.URL("/set", "k", fmt.Sprint("key", i), "v", fmt.Sprint(i)))
			if err != nil {
				failures <- err.Error()
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				failures <- fmt.Sprintf("set key%d: status %d", i, resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
	lost := 0
	for i := range n {
		if b.Value(fmt.Sprint("key", i)) != fmt.Sprint(i) {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d concurrently set keys were lost", lost, n)
	}
}

func testDecodeError(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.Browser()
	b.Set("name", "ada")
	b.Get("/setint", "k", "n", "v", "7")
	if r := b.Get("/getint", "k", "name"); r.Status != http.StatusTeapot || r.Body != "ErrDecode" {
		t.Fatalf("Get[int] of a string: %d %q, want ErrDecode", r.Status, r.Body)
	}
	if r := b.Get("/pop", "k", "n"); r.Body != "ErrDecode" {
		t.Fatalf("Pop[string] of an int: %q, want ErrDecode", r.Body)
	}
	if got := b.Get("/getint", "k", "n").Body; got != "7" {
		t.Fatalf("a failed Pop removed the value: n = %q", got)
	}
	if got := b.Value("name"); got != "ada" {
		t.Fatalf("after a decode error name = %q", got)
	}
	b.Set("other", "x")
	if got := b.Value("other"); got != "x" {
		t.Fatal("the session stopped working after a decode error")
	}
}

func testTooLarge(t *testing.T, v variant) {
	h := newHarness(t, v, func(c *Config) { c.MaxSize = 1024 })
	b := h.Browser()
	b.Set("keep", "me")
	if r := b.Get("/set", "k", "big", "v", strings.Repeat("x", 2000)); r.Body != "ErrTooLarge" {
		t.Fatalf("oversized value: %d %q, want ErrTooLarge", r.Status, r.Body)
	}
	if r := b.Get("/set", "k", strings.Repeat("k", 2000), "v", "1"); r.Body != "ErrTooLarge" {
		t.Fatalf("oversized key: %q, want ErrTooLarge", r.Body)
	}
	if b.Value("keep") != "me" || b.Value("big") != "<absent>" {
		t.Fatal("a rejected value changed the session")
	}
	b.Set("small", strings.Repeat("y", 500))
	if got := b.Value("small"); len(got) != 500 {
		t.Fatal("a value within the limit was not stored")
	}
}

func testInvalidKey(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.Browser()
	if r := b.Get("/set", "k", "", "v", "1"); r.Body != "ErrInvalidKey" {
		t.Fatalf("empty key: %q", r.Body)
	}
	if r := b.Get("/set", "k", "bad\xff", "v", "1"); r.Body != "ErrInvalidKey" {
		t.Fatalf("invalid UTF-8 key: %q", r.Body)
	}
}

func testCommitFailure(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.Browser()
	b.Set("a", "1")
	h.Store.FailWrites.Store(true)
	// The handler writes 200 "ok"; the commit runs just before that header and fails.
	r := b.Get("/set", "k", "a", "v", "2")
	if r.Status != http.StatusInternalServerError || r.Body == "ok" {
		t.Fatalf("failed commit answered %d %q, want a 500", r.Status, r.Body)
	}
	if err := h.NextError(); !errors.Is(err, ErrStoreDown) {
		t.Fatalf("ErrorHandler got %v", err)
	}
	// The handler writes nothing: the middleware commits after it and returns the error.
	r = b.Get("/set-silent", "k", "a", "v", "3")
	if r.Status != http.StatusInternalServerError {
		t.Fatalf("failed commit after the handler answered %d %q", r.Status, r.Body)
	}
	if err := h.NextError(); !errors.Is(err, ErrStoreDown) {
		t.Fatalf("ErrorHandler got %v", err)
	}
	h.Store.FailWrites.Store(false)
	if got := b.Value("a"); got != "1" {
		t.Fatalf("after failed commits a = %q, want the last committed 1", got)
	}
}

func testSaveEarly(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.Browser()
	if r := b.Get("/save", "k", "a", "v", "1"); r.Status != http.StatusOK || r.Body != "saved" || r.Cookie(CookieName) == nil {
		t.Fatalf("Save: %d %q, Set-Cookie %q", r.Status, r.Body, r.Header.Get("Set-Cookie"))
	}
	if b.Value("a") != "1" {
		t.Fatal("saved value lost")
	}
	h.Store.FailWrites.Store(true)
	if r := b.Get("/save", "k", "a", "v", "2"); r.Status != http.StatusServiceUnavailable {
		t.Fatalf("Save on a failing store: %d %q, want the handler's own 503", r.Status, r.Body)
	}
	h.Store.FailWrites.Store(false)
	if got := b.Value("a"); got != "1" {
		t.Fatalf("after a failed Save a = %q, want the last saved 1", got)
	}
}

func testHeaderWritten(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	if r := h.Browser().Get("/set-late"); r.Body != "body first ErrHeaderWritten" {
		t.Fatalf("Set after writing the body: %q", r.Body)
	}
}

func testStoreDownOnLoad(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.Browser()
	b.Set("a", "1")
	h.Store.Fail.Store(true)
	if v.Cached {
		if got := b.Value("a"); got != "1" {
			t.Fatalf("a warm cache did not serve the read: %q", got)
		}
		return
	}
	if r := b.Get("/get", "k", "a"); r.Body != "ErrStoreDown" {
		t.Fatalf("read with the store down: %d %q", r.Status, r.Body)
	}
	h.Store.Fail.Store(false)
	if got := b.Value("a"); got != "1" {
		t.Fatalf("after the store came back a = %q", got)
	}
}

// RunSkipper checks that a request the Skipper skips has no session.
func RunSkipper(t *testing.T, a Adapter) {
	h := NewHarness(t, a, Variant{Name: "memory", NewStore: NewMemoryStore}, func(c *Config) {
		c.Skipper = func(c Ctx) bool { return c.Path() == "/get" }
	})
	if r := h.Browser().Get("/get", "k", "a"); r.Body != "ErrNoMiddleware" {
		t.Fatalf("skipped route: %q, want ErrNoMiddleware", r.Body)
	}
}

// RunNoMiddleware checks that every handler API function of b fails with
// ErrNoMiddleware on c, a context that the adapter's Middleware never saw, and Get
// on the zero (nil) context.
func RunNoMiddleware[C frameworkContext, H ~func(C) error, M ~func(H) H](t *testing.T, b *Binding[C, H, M], c C) {
	_, _, err := b.Get(c, "k")
	errs := []error{
		err,
		b.Set(c, "k", 1),
		b.Delete(c, "k"),
		b.Clear(c),
		b.Destroy(c),
		b.RenewID(c),
		b.SetExpiry(c, engine.ExpireIn(time.Hour)),
		b.Save(c),
	}
	_, _, err = b.Pop(c, "k")
	errs = append(errs, err)
	var none C
	_, _, err = b.Get(none, "k")
	errs = append(errs, err)
	for i, err := range errs {
		if !errors.Is(err, engine.ErrNoMiddleware) {
			t.Errorf("call %d: error = %v, want ErrNoMiddleware", i, err)
		}
	}
}

// RunBadConfig checks that the adapter's Middleware panics on a configuration that
// cannot work, as Echo's own middleware does.
func RunBadConfig[C frameworkContext, H ~func(C) error, M ~func(H) H](t *testing.T, b *Binding[C, H, M]) {
	for _, tt := range []struct {
		name, about string
		cfg         engine.Config[C]
		want        string
	}{
		{"WithoutStore", "naming Store", engine.Config[C]{}, "Store"},
		{"InvalidCookieName", "about the cookie", engine.Config[C]{Store: engine.NewMemoryStore(), CookieName: "bad name;"}, "cookie"},
		{"CacheOnRefusingStore", "with the store's reason", engine.Config[C]{Store: cacheRefuser{engine.NewMemoryStore()}, Cache: engine.NewMemoryStore()}, errCacheRefused.Error()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), tt.want) {
					t.Fatalf("recovered %v, want a panic %s", r, tt.about)
				}
			}()
			b.Middleware(tt.cfg)
		})
	}
}

// errCacheRefused is why a cacheRefuser takes no cache.
var errCacheRefused = errors.New("this store caches coherently by itself")

// cacheRefuser is a store that refuses a cache in front of it, as the Redis store does.
type cacheRefuser struct{ engine.Store }

func (cacheRefuser) RefuseCache() error { return errCacheRefused }
