package adaptertest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/echosess/echosess/internal/engine"
)

// The cookie's two kinds (persistent, browser-session with RememberMe) and the
// introspection calls. They are entries of the middleware table.

// setCookie returns the response's Set-Cookie header of the session cookie, or "".
func setCookie(r Response) string {
	for _, v := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, CookieName+"=") {
			return v
		}
	}
	return ""
}

// testSessionOnlyCookie: with CookieSessionOnly the cookie has neither Max-Age nor
// Expires, and the session still ends server-side; RememberMe makes it persistent
// with the lifetime of SetExpiry, and back; Destroy removes either kind.
func testSessionOnlyCookie(t *testing.T, v variant) {
	h := newHarness(t, v, func(c *Config) {
		c.CookieSessionOnly = true
		c.DefaultExpiry = engine.ExpireIn(2 * time.Hour)
	})
	b := h.Browser()
	r := b.Get("/set", "k", "a", "v", "1")
	if sc := setCookie(r); sc == "" || strings.Contains(sc, "Max-Age") || strings.Contains(sc, "Expires") {
		t.Fatalf("a browser-session cookie: Set-Cookie %q, want neither Max-Age nor Expires", sc)
	}
	if ck := r.Cookie(CookieName); ck == nil || !ck.HttpOnly || !ck.Secure || ck.Path != "/" || ck.SameSite != http.SameSiteLaxMode {
		t.Errorf("a browser-session cookie lost its attributes: %q", setCookie(r))
	}
	token := b.SessionCookie(CookieName).Value

	// Remember: persistent, with its own lifetime; the token stays.
	r = b.Get("/remember", "on", "1")
	if sc := setCookie(r); !strings.Contains(sc, "Max-Age=7200") || !strings.Contains(sc, token) {
		t.Fatalf("RememberMe(true) sent %q, want the same token with Max-Age=7200", sc)
	}
	r = b.Get("/expiry", "in", "720h")
	if ck := r.Cookie(CookieName); ck == nil || ck.MaxAge != 720*3600 {
		t.Fatalf("SetExpiry(30 days) of a remembered session sent %q", setCookie(r))
	}
	h.Clock.Advance(3 * time.Hour) // past DefaultExpiry: remembered, it lives on
	if got := b.Value("a"); got != "1" {
		t.Fatalf("a remembered session with 30 days is gone after 3 hours: a = %q", got)
	}
	if sc := setCookie(b.Get("/get", "k", "a")); sc != "" {
		t.Errorf("a read of a remembered session sent %q", sc)
	}

	// And back: a browser-session cookie again.
	r = b.Get("/remember", "on", "0")
	if sc := setCookie(r); sc == "" || strings.Contains(sc, "Max-Age") || !strings.Contains(sc, token) {
		t.Fatalf("RememberMe(false) sent %q, want the same token without Max-Age", sc)
	}
	r = b.Get("/destroy")
	if ck := r.Cookie(CookieName); ck == nil || ck.MaxAge != -1 {
		t.Fatalf("Destroy of a browser-session cookie sent %q, want a removal", setCookie(r))
	}

	// The server-side expiry ends a browser-session cookie's session, however long
	// the browser keeps it.
	fresh := h.Browser()
	fresh.Set("a", "2")
	h.Clock.Advance(2*time.Hour + time.Second)
	if got := fresh.Value("a"); got != "<absent>" {
		t.Fatalf("a browser-session cookie outlived the session's expiry: a = %q", got)
	}
}

// testRememberedLogin: a remembered session's cookie is persistent, lasting until
// the session's expiry, not IdleTimeout's; a RenewID starts afresh, not remembered,
// and under IdleTimeout again.
func testRememberedLogin(t *testing.T, v variant) {
	h := newHarness(t, v, func(c *Config) {
		c.CookieSessionOnly = true
		c.IdleTimeout = 40 * time.Minute
	})
	b := h.Browser()
	b.Set("a", "1")
	r := b.Get("/remember", "on", "1")
	if ck := r.Cookie(CookieName); ck == nil || ck.MaxAge != 24*3600 {
		t.Fatalf("RememberMe(true) sent %q, want Max-Age=86400, the default lifetime", setCookie(r))
	}
	h.Clock.Advance(3 * time.Hour) // unused for longer than the idle timeout
	r = b.Get("/get", "k", "a")
	if r.Body != "1" || setCookie(r) != "" {
		t.Fatalf("a remembered session unused for 3 hours: %q, Set-Cookie %q; want 1 and no cookie", r.Body, setCookie(r))
	}
	r = b.Get("/renew")
	if sc := setCookie(r); sc == "" || strings.Contains(sc, "Max-Age") {
		t.Fatalf("RenewID of a remembered session sent %q, want a browser-session cookie", sc)
	}
	h.Clock.Advance(11 * time.Minute) // past a quarter of the idle timeout: a slide
	if sc := setCookie(b.Get("/get", "k", "a")); sc != "" {
		t.Errorf("the slide of a browser-session cookie re-sent it: %q", sc)
	}
	h.Clock.Advance(51 * time.Minute) // past 1¼ idle timeouts
	if got := b.Value("a"); got != "<absent>" {
		t.Errorf("a renewed session outlived the idle timeout: a = %q", got)
	}
}

// testRememberedIdleTimeout: "remember me" (docs/handlers.md) under an IdleTimeout lasts
// the SetExpiry it was given, with no idle slide and no write for it; with
// RememberedIdleTimeout, it ends after that long unused, sliding as IdleTimeout
// does. RememberMe(false) puts the session back under IdleTimeout.
func testRememberedIdleTimeout(t *testing.T, v variant) {
	const month = 30 * 24 * time.Hour
	remember := steps("remember:1", "expiry:720h")
	h := newHarness(t, v, func(c *Config) { c.IdleTimeout = 30 * time.Minute })
	b := h.Browser()
	b.Set("a", "1")
	r := b.Get(remember)
	if ck := r.Cookie(CookieName); ck == nil || ck.MaxAge != int(month/time.Second) {
		t.Fatalf("RememberMe and SetExpiry(30 days) sent %q, want Max-Age=%d", setCookie(r), int(month/time.Second))
	}
	writes := h.Store.Writes()
	for range 3 {
		h.Clock.Advance(9 * 24 * time.Hour)
		if r := b.Get("/get", "k", "a"); r.Body != "1" || setCookie(r) != "" {
			t.Fatalf("a remembered session after %v: %q, Set-Cookie %q; want 1 and no cookie", h.Clock.Now().Sub(NewClock().Now()), r.Body, setCookie(r))
		}
	}
	if n := h.Store.Writes() - writes; n != 0 {
		t.Errorf("reads of a remembered session wrote %d times", n)
	}
	r = b.Get("/remember", "on", "0")
	if ck := r.Cookie(CookieName); ck == nil || ck.MaxAge != 30*60*5/4 {
		t.Fatalf("RememberMe(false) sent %q, want Max-Age=2250: IdleTimeout again", setCookie(r))
	}
	h.Clock.Advance(38 * time.Minute)
	if got := b.Value("a"); got != "<absent>" {
		t.Errorf("a session no longer remembered outlived the idle timeout: a = %q", got)
	}

	const week = 7 * 24 * time.Hour
	h = newHarness(t, v, func(c *Config) {
		c.IdleTimeout = 30 * time.Minute
		c.RememberedIdleTimeout = week
	})
	b = h.Browser()
	b.Set("a", "1")
	if ck := b.Get(remember).Cookie(CookieName); ck == nil || ck.MaxAge != int(week*5/4/time.Second) {
		t.Fatalf("remembered with a RememberedIdleTimeout of a week: Max-Age %v, want %d", ck, int(week*5/4/time.Second))
	}
	h.Clock.Advance(2 * 24 * time.Hour) // past a quarter of the week: a slide
	if ck := b.Get("/get", "k", "a").Cookie(CookieName); ck == nil || ck.MaxAge != int(week*5/4/time.Second) {
		t.Fatalf("the slide of a remembered session: %v, want Max-Age=%d", ck, int(week*5/4/time.Second))
	}
	h.Clock.Advance(week*5/4 + time.Second)
	if got := b.Value("a"); got != "<absent>" {
		t.Errorf("a remembered session outlived its RememberedIdleTimeout: a = %q", got)
	}
}

// testPersistentCookieToggle: with the default persistent cookies, RememberMe(false)
// keeps a Max-Age, and Destroy removes the cookie.
func testPersistentCookieToggle(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.Browser()
	b.Set("a", "1")
	for _, on := range []string{"1", "0"} {
		if ck := b.Get("/remember", "on", on).Cookie(CookieName); ck != nil && ck.MaxAge <= 0 {
			t.Fatalf("RememberMe(%s) with persistent cookies sent Max-Age %d", on, ck.MaxAge)
		}
	}
	if ck := b.Get("/destroy").Cookie(CookieName); ck == nil || ck.MaxAge != -1 {
		t.Fatal("Destroy did not remove a persistent cookie")
	}
}

// testIntrospection: IsNew, Keys, Expires and ID on a new, a loaded and a destroyed
// session, and which of them reach the store: a session is loaded once, so ID costs
// the load, which a cache serves.
func testIntrospection(t *testing.T, v variant) {
	h := newHarness(t, v, func(c *Config) {
		c.IdleTimeout = 40 * time.Minute
		c.DefaultExpiry = engine.ExpireIn(2 * time.Hour)
	})
	b := h.Browser()

	// New: no cookie, so no store call at all.
	for path, want := range map[string]string{"/isnew": "true", "/keys": "", "/id": ""} {
		if r := b.Get(path); r.Status != http.StatusOK || r.Body != want {
			t.Errorf("%s of a new session: %d %q, want %q", path, r.Status, r.Body, want)
		}
	}
	if r := b.Get("/expires"); r.Body != "0001-01-01T00:00:00Z 0001-01-01T00:00:00Z" {
		t.Errorf("/expires of a new session: %q, want zero times", r.Body)
	}
	if n := h.StoreCalls(); n != 0 {
		t.Fatalf("introspecting a new session cost %d store calls", n)
	}

	// Loaded.
	b.Set("b", "2")
	b.Set("a", "1")
	created := h.Clock.Now()
	token := b.SessionCookie(CookieName).Value
	if r := b.Get("/isnew"); r.Body != "false" {
		t.Errorf("IsNew of a stored session: %q", r.Body)
	}
	if r := b.Get("/keys"); r.Body != "a,b" {
		t.Errorf("Keys: %q, want a,b", r.Body)
	}
	wantExpires := created.Add(2*time.Hour).Format(time.RFC3339) + " " + created.Add(50*time.Minute).Format(time.RFC3339)
	if r := b.Get("/expires"); r.Body != wantExpires {
		t.Errorf("Expires: %q, want %q (lifetime, then idle)", r.Body, wantExpires)
	}
	calls := h.StoreCalls()
	id := b.Get("/id").Body
	if n := h.StoreCalls() - calls; n > 1 || v.Cached && n != 0 {
		t.Errorf("ID cost %d store calls, want the one load (none with a cache)", n)
	}
	if len(id) != 16 || strings.Contains(token, id) || id == token {
		t.Errorf("ID %q: want 16 characters that are not the token's", id)
	}
	if again := b.Get("/id").Body; again != id {
		t.Errorf("ID changed between requests: %q, then %q", id, again)
	}
	if other := h.WithCookie(CookieName, token).Get("/id").Body; other != id {
		t.Errorf("the same token gave ID %q, then %q", id, other)
	}
	b.Get("/renew")
	if renewed := b.Get("/id").Body; renewed == id || renewed == "" {
		t.Errorf("after RenewID the ID is %q, was %q", renewed, id)
	}

	// Destroyed in the request itself.
	if r := b.Get("/destroy-then"); r.Body != `new=true keys=[] lifetime=true id=""` {
		t.Errorf("introspection after Destroy: %q", r.Body)
	}
}

// testDeadCookieID: ID tells a new session as IsNew does. The cookie of a session
// that ended, was renewed, expired or was never issued gives ""; a malformed one
// gives "" without a store call. After the response went out, ID gives the ID of a
// session that an earlier call loaded, and "" without a store call otherwise.
func testDeadCookieID(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	id := func(b *Browser) string {
		t.Helper()
		r := b.Get("/id")
		if r.Status != http.StatusOK {
			t.Fatalf("GET /id: %d %q", r.Status, r.Body)
		}
		return r.Body
	}
	session := func() (*Browser, string) {
		t.Helper()
		b := h.Browser()
		b.Set("a", "1")
		return b, b.SessionCookie(CookieName).Value
	}

	live, token := session()
	if got := id(live); got == "" {
		t.Fatal("a live session has no ID")
	}
	if r := live.Get("/id-late", "load", "1"); r.Body == "body first " {
		t.Error("after the response went out, ID of a loaded session is empty")
	}
	destroyed, destroyedToken := session()
	destroyed.Get("/destroy")
	renewed, renewedToken := session()
	renewed.Get("/renew")
	dead := map[string]string{
		"destroyed": destroyedToken,
		"renewed":   renewedToken,
		"forged":    randomToken(t),
	}
	for what, tok := range dead {
		if got := id(h.token(tok)); got != "" {
			t.Errorf("the cookie of a %s session has ID %q, want \"\"", what, got)
		}
	}
	calls := h.StoreCalls()
	if got := id(h.token("garbage")); got != "" {
		t.Errorf("a malformed cookie has ID %q, want \"\"", got)
	}
	if r := h.token(token).Get("/id-late"); r.Body != "body first " {
		t.Errorf("after the response went out, ID of a session not loaded: %q, want \"\"", strings.TrimPrefix(r.Body, "body first "))
	}
	if n := h.StoreCalls() - calls; n != 0 {
		t.Errorf("ID of a malformed cookie and ID after the response cost %d store calls", n)
	}
	h.Clock.Advance(24*time.Hour + time.Second)
	if got := id(h.token(token)); got != "" {
		t.Errorf("the cookie of an expired session has ID %q, want \"\"", got)
	}
}
