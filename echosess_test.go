package echosess_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/echosess/echosess"
	"github.com/labstack/echo/v4"
)

// testVariants lists the store set-ups every middleware test runs on.
var testVariants = []variant{
	{name: "memory", newStore: newMemoryStore},
	{name: "memory+cache", newStore: newMemoryStore, cached: true},
	{name: "sqlite", newStore: newSQLiteTestStore},
	{name: "sqlite+cache", newStore: newSQLiteTestStore, cached: true},
	{name: "postgres", newStore: newPostgresTestStore},
	{name: "postgres+cache", newStore: newPostgresTestStore, cached: true},
}

func newSQLiteTestStore(t *testing.T, now func() time.Time) echosess.Store {
	return echosess.NewSQLiteStore(newSQLiteDB(t), echosess.WithClock(now))
}

func newPostgresTestStore(t *testing.T, now func() time.Time) echosess.Store {
	return echosess.NewPostgresStore(newPostgresPool(t), echosess.WithClock(now))
}

var middlewareTests = []struct {
	name string
	fn   func(*testing.T, variant)
}{
	{"SetThenGet", testSetThenGet},
	{"CookieAttributes", testCookieAttributes},
	{"ReadOnlyVisitor", testReadOnlyVisitor},
	{"UntouchedRequest", testUntouchedRequest},
	{"MalformedCookie", testMalformedCookie},
	{"ForgedToken", testForgedToken},
	{"ExpiredSession", testExpiredSession},
	{"UnmodifiedNotWritten", testUnmodifiedNotWritten},
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
}

func TestMiddleware(t *testing.T) {
	for _, v := range testVariants {
		t.Run(v.name, func(t *testing.T) {
			for _, tt := range middlewareTests {
				t.Run(tt.name, func(t *testing.T) { tt.fn(t, v) })
			}
		})
	}
}

const cookieName = "session"

func testSetThenGet(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.browser()
	if got := b.value("color"); got != "<absent>" {
		t.Fatalf("fresh session: color = %q", got)
	}
	b.set("color", "green")
	b.set("shape", "round")
	if got := b.value("color"); got != "green" {
		t.Fatalf("color = %q, want green", got)
	}
	if got := b.value("shape"); got != "round" {
		t.Fatalf("shape = %q, want round", got)
	}
	if got := h.browser().value("color"); got != "<absent>" {
		t.Fatalf("another browser sees color = %q", got)
	}
}

func testCookieAttributes(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	r := h.browser().get("/set", "k", "a", "v", "1")
	ck := r.cookie(cookieName)
	if ck == nil {
		t.Fatalf("no session cookie in %v", r.header)
	}
	if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" {
		t.Errorf("cookie attributes: %s", r.header.Get("Set-Cookie"))
	}
	if ck.MaxAge != 24*60*60 {
		t.Errorf("Max-Age = %d, want the default 24h", ck.MaxAge)
	}
	if len(ck.Value) != 43 {
		t.Errorf("token %q is not 32 bytes of base64url", ck.Value)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q on a response that sets the cookie", got)
	}
	if got := r.header.Get("Vary"); got != "Cookie" {
		t.Errorf("Vary = %q, want Cookie", got)
	}

	h2 := newHarness(t, v, func(c *echosess.Config) {
		c.CookieName, c.CookiePath, c.CookieDomain = "sid", "/app", "example.test"
		c.CookieSameSite, c.CookieInsecure, c.CookieScriptReadable = http.SameSiteStrictMode, true, true
	})
	r = h2.browser().get("/set", "k", "a", "v", "1")
	ck = r.cookie("sid")
	if ck == nil || ck.HttpOnly || ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/app" || ck.Domain != "example.test" {
		t.Errorf("configured cookie: %s", r.header.Get("Set-Cookie"))
	}
}

func testReadOnlyVisitor(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.browser()
	for range 3 {
		r := b.get("/get", "k", "x")
		if r.body != "<absent>" || r.header.Get("Set-Cookie") != "" {
			t.Fatalf("read-only visitor got %q with Set-Cookie %q", r.body, r.header.Get("Set-Cookie"))
		}
		if r.header.Get("Vary") != "Cookie" {
			t.Errorf("a response that read the session lacks Vary: Cookie")
		}
	}
	b.get("/delete", "k", "x")
	b.get("/clear")
	b.get("/renew")
	if n := h.storeCalls(); n != 0 {
		t.Fatalf("a visitor without a cookie cost %d store calls", n)
	}
	if ck := b.sessionCookie(cookieName); ck != nil {
		t.Fatalf("a visitor who never wrote got cookie %v", ck)
	}
}

func testUntouchedRequest(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.browser()
	b.set("a", "1")
	before := h.storeCalls()
	r := b.get("/noop")
	if n := h.storeCalls() - before; n != 0 {
		t.Fatalf("a handler that never touched the session cost %d store calls", n)
	}
	if r.header.Get("Set-Cookie") != "" || r.header.Get("Vary") != "" {
		t.Errorf("untouched session changed headers: %v", r.header)
	}
}

func testMalformedCookie(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	for _, bad := range []string{"garbage", strings.Repeat("A", 42), strings.Repeat("A", 43) + "=", strings.Repeat("!", 43), strings.Repeat("x", 4096)} {
		b := h.withCookie(cookieName, bad)
		if got := b.value("a"); got != "<absent>" {
			t.Fatalf("malformed cookie %q: a = %q", bad, got)
		}
		if n := h.storeCalls(); n != 0 {
			t.Fatalf("malformed cookie %q reached the store (%d calls)", bad, n)
		}
	}
	r := h.withCookie(cookieName, "garbage").get("/set", "k", "a", "v", "1")
	if ck := r.cookie(cookieName); ck == nil || ck.Value == "garbage" || len(ck.Value) != 43 {
		t.Fatalf("write with a malformed cookie set %v, want a fresh token", ck)
	}
}

func testForgedToken(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	forged := "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE" // well-formed, never issued
	b := h.withCookie(cookieName, forged)
	if got := b.value("a"); got != "<absent>" {
		t.Fatalf("forged token: a = %q", got)
	}
	r := b.get("/set", "k", "a", "v", "attacker")
	ck := r.cookie(cookieName)
	if ck == nil || ck.Value == forged {
		t.Fatalf("forged token adopted: Set-Cookie %q", r.header.Get("Set-Cookie"))
	}
	if got := b.value("a"); got != "<absent>" {
		t.Fatalf("the forged token now holds a = %q", got)
	}
	if got := h.withCookie(cookieName, ck.Value).value("a"); got != "attacker" {
		t.Fatalf("the issued token holds a = %q", got)
	}
}

func testExpiredSession(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.browser()
	b.set("a", "1")
	old := b.sessionCookie(cookieName).Value
	h.clock.Advance(24*time.Hour + time.Second)
	stale := h.withCookie(cookieName, old)
	if got := stale.value("a"); got != "<absent>" {
		t.Fatalf("expired session still readable: a = %q", got)
	}
	r := stale.get("/set", "k", "b", "v", "2")
	if ck := r.cookie(cookieName); ck == nil || ck.Value == old {
		t.Fatalf("expired token reused: %q", r.header.Get("Set-Cookie"))
	}
}

func testUnmodifiedNotWritten(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.browser()
	b.set("a", "1")
	saves := h.store.writes()
	for range 5 {
		b.value("a")
		b.get("/delete", "k", "missing")
	}
	if n := h.store.writes() - saves; n != 0 {
		t.Fatalf("reading an unmodified session wrote %d times", n)
	}
	if n := h.store.loads.Load(); v.cached && n != 0 {
		t.Fatalf("with a warm cache the store was read %d times", n)
	}
}

func testDeleteAndPop(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.browser()
	b.set("a", "1")
	b.set("flash", "saved!")
	b.get("/delete", "k", "a")
	if got := b.value("a"); got != "<absent>" {
		t.Fatalf("deleted key a = %q", got)
	}
	if r := b.get("/pop", "k", "flash"); r.body != "saved!" {
		t.Fatalf("first pop = %q", r.body)
	}
	if r := b.get("/pop", "k", "flash"); r.body != "<absent>" {
		t.Fatalf("second pop = %q", r.body)
	}
}

func testClear(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.browser()
	b.set("a", "1")
	b.set("b", "2")
	token := b.sessionCookie(cookieName).Value
	if r := b.get("/clear"); r.header.Get("Set-Cookie") != "" {
		t.Errorf("Clear sent a cookie: %q", r.header.Get("Set-Cookie"))
	}
	if b.value("a") != "<absent>" || b.value("b") != "<absent>" {
		t.Fatal("keys survived Clear")
	}
	b.set("c", "3")
	if got := b.sessionCookie(cookieName).Value; got != token {
		t.Fatal("Clear changed the token")
	}
	if b.value("c") != "3" {
		t.Fatal("the cleared session does not keep new values")
	}
}

func testDestroy(t *testing.T, v variant) {
	h := newHarness(t, v, func(c *echosess.Config) { c.CookieDomain = "127.0.0.1" })
	b := h.browser()
	b.set("a", "1")
	old := b.sessionCookie(cookieName).Value
	r := b.get("/destroy")
	ck := r.cookie(cookieName)
	if ck == nil || ck.MaxAge != -1 || ck.Value != "" {
		t.Fatalf("Destroy sent %q, want a removal cookie", r.header.Get("Set-Cookie"))
	}
	if !ck.HttpOnly || !ck.Secure || ck.Path != "/" || ck.Domain != "127.0.0.1" || ck.SameSite != http.SameSiteLaxMode {
		t.Errorf("removal cookie lacks the session cookie's attributes: %q", r.header.Get("Set-Cookie"))
	}
	if b.sessionCookie(cookieName) != nil {
		t.Error("the browser kept the cookie after Destroy")
	}
	if got := h.withCookie(cookieName, old).value("a"); got != "<absent>" {
		t.Fatalf("the destroyed token still reads a = %q", got)
	}
	b.set("a", "2")
	if ck := b.sessionCookie(cookieName); ck == nil || ck.Value == old {
		t.Fatal("a write after Destroy did not start a new session")
	}
}

func testRenewID(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.browser()
	b.set("user", "ada")
	old := b.sessionCookie(cookieName).Value
	r := b.get("/renew")
	ck := r.cookie(cookieName)
	if ck == nil || ck.Value == old || len(ck.Value) != 43 {
		t.Fatalf("RenewID sent %q", r.header.Get("Set-Cookie"))
	}
	if got := b.value("user"); got != "ada" {
		t.Fatalf("after RenewID user = %q", got)
	}
	if got := h.withCookie(cookieName, old).value("user"); got != "<absent>" {
		t.Fatalf("the old token still reads user = %q", got)
	}
}

func testSetExpiry(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.browser()
	b.set("a", "1")
	r := b.get("/expiry", "in", "720h")
	if ck := r.cookie(cookieName); ck == nil || ck.MaxAge != 720*60*60 {
		t.Fatalf("SetExpiry(30 days) sent %q", r.header.Get("Set-Cookie"))
	}
	h.clock.Advance(48 * time.Hour)
	if got := b.value("a"); got != "1" {
		t.Fatalf("a session given 30 days is gone after 2: a = %q", got)
	}
	r = b.get("/expiry", "in", "-1s")
	if ck := r.cookie(cookieName); ck == nil || ck.MaxAge != -1 {
		t.Fatalf("an expiry in the past sent %q, want a removal cookie", r.header.Get("Set-Cookie"))
	}
}

func testIdleTimeout(t *testing.T, v variant) {
	h := newHarness(t, v, func(c *echosess.Config) {
		c.IdleTimeout = 30 * time.Minute
		c.DefaultExpiry = echosess.ExpireIn(2 * time.Hour)
	})
	b := h.browser()
	b.set("a", "1")
	saves := h.store.writes()
	for range 7 { // 7 minutes of requests: under a quarter of the timeout
		h.clock.Advance(time.Minute)
		if r := b.get("/get", "k", "a"); r.body != "1" || r.header.Get("Set-Cookie") != "" {
			t.Fatalf("request within the slide window: %q, Set-Cookie %q", r.body, r.header.Get("Set-Cookie"))
		}
	}
	if n := h.store.writes() - saves; n != 0 {
		t.Fatalf("%d writes during the first quarter of the idle timeout", n)
	}
	h.clock.Advance(time.Minute)
	r := b.get("/get", "k", "a")
	if ck := r.cookie(cookieName); ck == nil || ck.MaxAge != 30*60*5/4 {
		t.Fatalf("after 8 minutes the expiry did not slide: Set-Cookie %q", r.header.Get("Set-Cookie"))
	}
	if n := h.store.writes() - saves; n != 1 {
		t.Fatalf("sliding the expiry wrote %d times, want 1", n)
	}
	// Keep it busy up to its 2h deadline: the slide reaches it but never passes it.
	for _, step := range []time.Duration{25, 25, 25, 25, 11} { // to 1h59m after creation
		h.clock.Advance(step * time.Minute)
		if got := b.value("a"); got != "1" {
			t.Fatalf("an active session expired early at %v", h.clock.Now())
		}
	}
	h.clock.Advance(2 * time.Minute)
	if got := b.value("a"); got != "<absent>" {
		t.Fatalf("the slide carried the session past its deadline: a = %q", got)
	}
	b.set("a", "2")
	h.clock.Advance(38 * time.Minute) // past 1¼ timeouts
	if got := b.value("a"); got != "<absent>" {
		t.Fatalf("an idle session outlived its timeout: a = %q", got)
	}
}

func testConcurrentKeys(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.browser()
	b.set("seed", "0")
	const n = 100
	var wg sync.WaitGroup
	failures := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := b.client.Get(h.url("/set", "k", fmt.Sprint("key", i), "v", fmt.Sprint(i)))
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
		if b.value(fmt.Sprint("key", i)) != fmt.Sprint(i) {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d concurrently set keys were lost", lost, n)
	}
}

func testDecodeError(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.browser()
	b.set("name", "ada")
	b.get("/setint", "k", "n", "v", "7")
	if r := b.get("/getint", "k", "name"); r.status != http.StatusTeapot || r.body != "ErrDecode" {
		t.Fatalf("Get[int] of a string: %d %q, want ErrDecode", r.status, r.body)
	}
	if r := b.get("/pop", "k", "n"); r.body != "ErrDecode" {
		t.Fatalf("Pop[string] of an int: %q, want ErrDecode", r.body)
	}
	if got := b.get("/getint", "k", "n").body; got != "7" {
		t.Fatalf("a failed Pop removed the value: n = %q", got)
	}
	if got := b.value("name"); got != "ada" {
		t.Fatalf("after a decode error name = %q", got)
	}
	b.set("other", "x")
	if got := b.value("other"); got != "x" {
		t.Fatal("the session stopped working after a decode error")
	}
}

func testTooLarge(t *testing.T, v variant) {
	h := newHarness(t, v, func(c *echosess.Config) { c.MaxSize = 1024 })
	b := h.browser()
	b.set("keep", "me")
	if r := b.get("/set", "k", "big", "v", strings.Repeat("x", 2000)); r.body != "ErrTooLarge" {
		t.Fatalf("oversized value: %d %q, want ErrTooLarge", r.status, r.body)
	}
	if r := b.get("/set", "k", strings.Repeat("k", 2000), "v", "1"); r.body != "ErrTooLarge" {
		t.Fatalf("oversized key: %q, want ErrTooLarge", r.body)
	}
	if b.value("keep") != "me" || b.value("big") != "<absent>" {
		t.Fatal("a rejected value changed the session")
	}
	b.set("small", strings.Repeat("y", 500))
	if got := b.value("small"); len(got) != 500 {
		t.Fatal("a value within the limit was not stored")
	}
}

func testInvalidKey(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.browser()
	if r := b.get("/set", "k", "", "v", "1"); r.body != "ErrInvalidKey" {
		t.Fatalf("empty key: %q", r.body)
	}
	if r := b.get("/set", "k", "bad\xff", "v", "1"); r.body != "ErrInvalidKey" {
		t.Fatalf("invalid UTF-8 key: %q", r.body)
	}
}

func testCommitFailure(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.browser()
	b.set("a", "1")
	h.store.failWrites.Store(true)
	// The handler writes 200 "ok"; the commit runs just before that header and fails.
	r := b.get("/set", "k", "a", "v", "2")
	if r.status != http.StatusInternalServerError || r.body == "ok" {
		t.Fatalf("failed commit answered %d %q, want a 500", r.status, r.body)
	}
	if err := h.nextError(); !errors.Is(err, errStoreDown) {
		t.Fatalf("ErrorHandler got %v", err)
	}
	// The handler writes nothing: the middleware commits after it and returns the error.
	r = b.get("/set-silent", "k", "a", "v", "3")
	if r.status != http.StatusInternalServerError {
		t.Fatalf("failed commit after the handler answered %d %q", r.status, r.body)
	}
	if err := h.nextError(); !errors.Is(err, errStoreDown) {
		t.Fatalf("ErrorHandler got %v", err)
	}
	h.store.failWrites.Store(false)
	if got := b.value("a"); got != "1" {
		t.Fatalf("after failed commits a = %q, want the last committed 1", got)
	}
}

func testSaveEarly(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.browser()
	if r := b.get("/save", "k", "a", "v", "1"); r.status != http.StatusOK || r.body != "saved" || r.cookie(cookieName) == nil {
		t.Fatalf("Save: %d %q, Set-Cookie %q", r.status, r.body, r.header.Get("Set-Cookie"))
	}
	if b.value("a") != "1" {
		t.Fatal("saved value lost")
	}
	h.store.failWrites.Store(true)
	if r := b.get("/save", "k", "a", "v", "2"); r.status != http.StatusServiceUnavailable {
		t.Fatalf("Save on a failing store: %d %q, want the handler's own 503", r.status, r.body)
	}
	h.store.failWrites.Store(false)
	if got := b.value("a"); got != "1" {
		t.Fatalf("after a failed Save a = %q, want the last saved 1", got)
	}
}

func testHeaderWritten(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	if r := h.browser().get("/set-late"); r.body != "body first ErrHeaderWritten" {
		t.Fatalf("Set after writing the body: %q", r.body)
	}
}

func testStoreDownOnLoad(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.browser()
	b.set("a", "1")
	h.store.fail.Store(true)
	if v.cached {
		if got := b.value("a"); got != "1" {
			t.Fatalf("a warm cache did not serve the read: %q", got)
		}
		return
	}
	if r := b.get("/get", "k", "a"); r.body != "errStoreDown" {
		t.Fatalf("read with the store down: %d %q", r.status, r.body)
	}
	h.store.fail.Store(false)
	if got := b.value("a"); got != "1" {
		t.Fatalf("after the store came back a = %q", got)
	}
}

func TestNoMiddleware(t *testing.T) {
	e := echo.New()
	c := e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
	_, _, err := echosess.Get[string](c, "k")
	errs := []error{
		err,
		echosess.Set(c, "k", 1),
		echosess.Delete(c, "k"),
		echosess.Clear(c),
		echosess.Destroy(c),
		echosess.RenewID(c),
		echosess.SetExpiry(c, echosess.ExpireIn(time.Hour)),
		echosess.Save(c),
	}
	_, _, err = echosess.Pop[string](c, "k")
	errs = append(errs, err)
	_, _, err = echosess.Get[string](nil, "k")
	errs = append(errs, err)
	for i, err := range errs {
		if !errors.Is(err, echosess.ErrNoMiddleware) {
			t.Errorf("call %d: error = %v, want ErrNoMiddleware", i, err)
		}
	}
}

func TestMiddlewareWithoutStorePanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "Store") {
			t.Fatalf("recovered %v, want a panic naming Store", r)
		}
	}()
	echosess.Middleware(echosess.Config{})
}

func TestSkipper(t *testing.T) {
	h := newHarness(t, testVariants[0], func(c *echosess.Config) {
		c.Skipper = func(c echo.Context) bool { return c.Path() == "/get" }
	})
	if r := h.browser().get("/get", "k", "a"); r.body != "ErrNoMiddleware" {
		t.Fatalf("skipped route: %q, want ErrNoMiddleware", r.body)
	}
}

// keyRecorder remembers every key that reaches a store.
type keyRecorder struct {
	echosess.Store
	mu   sync.Mutex
	keys []string
}

func (s *keyRecorder) note(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, key)
}

func (s *keyRecorder) Load(ctx context.Context, key string) (echosess.Record, error) {
	s.note(key)
	return s.Store.Load(ctx, key)
}

func (s *keyRecorder) Save(ctx context.Context, rec echosess.Record) error {
	s.note(rec.Key)
	return s.Store.Save(ctx, rec)
}

func (s *keyRecorder) Delete(ctx context.Context, key string) error {
	s.note(key)
	return s.Store.Delete(ctx, key)
}

func TestStoreNeverSeesToken(t *testing.T) {
	rec := &keyRecorder{}
	h := newHarness(t, variant{name: "recorded", newStore: func(t *testing.T, now func() time.Time) echosess.Store {
		rec.Store = echosess.NewMemoryStore(echosess.WithClock(now))
		return rec
	}}, nil)
	b := h.browser()
	var tokens []string
	for _, path := range []string{"/set?k=a&v=1", "/renew", "/set?k=b&v=2", "/get?k=a", "/destroy"} {
		r := b.get(path)
		if ck := r.cookie(cookieName); ck != nil && ck.Value != "" {
			tokens = append(tokens, ck.Value)
		}
	}
	if len(tokens) < 2 || len(rec.keys) < 4 {
		t.Fatalf("flow issued %d tokens and made %d store calls; want at least 2 and 4", len(tokens), len(rec.keys))
	}
	for _, key := range rec.keys {
		for _, tok := range tokens {
			if strings.Contains(key, tok) {
				t.Fatalf("the store saw key %q, which holds token %q", key, tok)
			}
		}
	}
}

func TestMiddlewareWithInvalidCookieNamePanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "cookie") {
			t.Fatalf("recovered %v, want a panic about the cookie", r)
		}
	}()
	echosess.Middleware(echosess.Config{Store: echosess.NewMemoryStore(), CookieName: "bad name;"})
}
