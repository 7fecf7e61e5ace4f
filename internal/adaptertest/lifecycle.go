package adaptertest

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/echosess/echosess/internal/engine"
)

// The session's lifecycle under concurrent requests of one session (issue 10). Each
// test forces its interleaving: a request stops at a gate after its first session
// step while other requests of the same session run to completion, and goes on only
// when the test opens the gate.
var lifecycleTests = []test{
	{"RenewIDLosesNothing", testRenewIDLosesNothing},       // rule 1
	{"SessionEndedStaysEnded", testSessionEndedStaysEnded}, // rule 2
	{"LogoutWins", testLogoutWins},                         // rule 3
	{"PopExactlyOnce", testPopExactlyOnce},                 // rule 4
	{"ClearRemovesSeenKeys", testClearRemovesSeenKeys},     // rule 5
	{"IdleSlideWritesOnce", testIdleSlideWritesOnce},       // rule 6
	{"IdleWindow", testIdleWindow},                         // rule 6
	{"IdleSlideTouches", testIdleSlideTouches},             // rule 6
	{"RenewIDFreshLifetime", testRenewIDFreshLifetime},     // rule 7
	{"CommitOutlivesClient", testCommitOutlivesClient},     // rule 8
}

// RunLifecycle runs the lifecycle tests on every store variant of vs under adapter a.
func RunLifecycle(t *testing.T, a Adapter, vs []Variant) { runTable(t, a, vs, lifecycleTests) }

// loggedIn returns the token of a new session holding user=ada.
func loggedIn(h *Harness) string {
	h.t.Helper()
	b := h.Browser()
	b.Set("user", "ada")
	return b.SessionCookie(CookieName).Value
}

// token returns the browser that sends token.
func (h *Harness) token(token string) *Browser { return h.WithCookie(CookieName, token) }

// expectEnded checks the response of a request whose session another request ended
// while it ran: a 409, no session cookie, and ErrSessionEnded at ErrorHandler.
func expectEnded(t *testing.T, h *Harness, r Response) {
	t.Helper()
	if r.Status != http.StatusConflict {
		t.Errorf("status %d %q, want 409", r.Status, r.Body)
	}
	if ck := r.Cookie(CookieName); ck != nil {
		t.Errorf("the request of an ended session sent the session cookie %q", r.Header.Get("Set-Cookie"))
	}
	if err := h.NextError(); !errors.Is(err, engine.ErrSessionEnded) {
		t.Errorf("ErrorHandler got %v, want ErrSessionEnded", err)
	}
}

// Rule 1: the renewed session holds every write committed to the old token before
// the renewal committed, and the renewing request's own changes.
func testRenewIDLosesNothing(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	old := loggedIn(h)
	login := h.token(old).start(steps("get:user", "wait:A", "set:role=admin", "renew"))
	h.gate("A").awaitArrivals(1)
	if r := h.token(old).Get("/set", "k", "cart", "v", "1"); r.Status != http.StatusOK {
		t.Fatalf("a write during the login: %d %q", r.Status, r.Body)
	}
	h.gate("A").open()
	r := login.response()
	ck := r.Cookie(CookieName)
	if r.Status != http.StatusOK || ck == nil || ck.Value == old || len(ck.Value) != 43 {
		t.Fatalf("login answered %d %q with Set-Cookie %q, want 200 and a new token", r.Status, r.Body, r.Header.Get("Set-Cookie"))
	}
	renewed := h.token(ck.Value)
	for key, want := range map[string]string{"cart": "1", "user": "ada", "role": "admin"} {
		if got := renewed.Value(key); got != want {
			t.Errorf("the renewed session holds %s = %q, want %q", key, got, want)
		}
	}
	for _, key := range []string{"cart", "user", "role"} {
		if got := h.token(old).Value(key); got != "<absent>" {
			t.Errorf("the old token still reads %s = %q", key, got)
		}
	}
}

// Rule 2: a request that loaded the session before another request ended it (RenewID
// or Destroy) writes nothing, sends no cookie and fails with ErrSessionEnded.
func testSessionEndedStaysEnded(t *testing.T, v variant) {
	t.Run("SetAfterRenewID", func(t *testing.T) {
		h := newHarness(t, v, nil)
		old := loggedIn(h)
		a := h.token(old).start(steps("get:user", "wait:A", "set:x=1"))
		h.gate("A").awaitArrivals(1)
		r := h.token(old).Get("/renew")
		ck := r.Cookie(CookieName)
		if r.Status != http.StatusOK || ck == nil || ck.Value == old {
			t.Fatalf("RenewID answered %d with Set-Cookie %q", r.Status, r.Header.Get("Set-Cookie"))
		}
		h.gate("A").open()
		expectEnded(t, h, a.response())
		if got := h.token(old).Value("x"); got != "<absent>" {
			t.Errorf("the old token reads x = %q", got)
		}
		renewed := h.token(ck.Value)
		if got := renewed.Value("x"); got != "<absent>" {
			t.Errorf("the renewed token reads x = %q, written by a request of the old session", got)
		}
		if got := renewed.Value("user"); got != "ada" {
			t.Errorf("the renewed token reads user = %q", got)
		}
	})
	t.Run("SetAfterDestroy", func(t *testing.T) { // logout undone by a profile update
		h := newHarness(t, v, nil)
		old := loggedIn(h)
		// A change: a Set of the value loaded would be none, as a read (UnchangedSetNotWritten).
		a := h.token(old).start(steps("get:user", "wait:A", "set:theme=dark"))
		h.gate("A").awaitArrivals(1)
		if r := h.token(old).Get("/destroy"); r.Status != http.StatusOK {
			t.Fatalf("logout answered %d %q", r.Status, r.Body)
		}
		h.gate("A").open()
		expectEnded(t, h, a.response())
		for _, key := range []string{"user", "theme"} {
			if got := h.token(old).Value(key); got != "<absent>" {
				t.Errorf("after logout the old token reads %s = %q", key, got)
			}
		}
		// A request that arrives with the dead token starts a session of its own.
		r := h.token(old).Get("/set", "k", "x", "v", "2")
		ck := r.Cookie(CookieName)
		if r.Status != http.StatusOK || ck == nil || ck.Value == old || len(ck.Value) != 43 {
			t.Fatalf("a write with the dead token answered %d with Set-Cookie %q, want 200 and a new token", r.Status, r.Header.Get("Set-Cookie"))
		}
		fresh := h.token(ck.Value)
		if fresh.Value("x") != "2" || fresh.Value("user") != "<absent>" {
			t.Errorf("the fresh session holds x = %q, user = %q; want 2 and nothing else", fresh.Value("x"), fresh.Value("user"))
		}
	})
	t.Run("RenewIDAfterDestroy", func(t *testing.T) { // a login that commits after the logout
		h := newHarness(t, v, nil)
		old := loggedIn(h)
		a := h.token(old).start(steps("get:user", "wait:A", "renew"))
		h.gate("A").awaitArrivals(1)
		if r := h.token(old).Get("/destroy"); r.Status != http.StatusOK {
			t.Fatalf("logout answered %d %q", r.Status, r.Body)
		}
		h.gate("A").open()
		expectEnded(t, h, a.response())
		if got := h.token(old).Value("user"); got != "<absent>" {
			t.Errorf("after logout the old token reads user = %q", got)
		}
	})
}

// Rule 3: a Destroy that commits after a concurrent RenewID ends the renewed session
// too: no token reaches the destroyed session's data.
func testLogoutWins(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	old := loggedIn(h)
	logout := h.token(old).start(steps("get:user", "wait:A", "destroy"))
	h.gate("A").awaitArrivals(1)
	r := h.token(old).Get("/renew")
	renewed := r.Cookie(CookieName)
	if r.Status != http.StatusOK || renewed == nil || renewed.Value == old {
		t.Fatalf("RenewID answered %d with Set-Cookie %q", r.Status, r.Header.Get("Set-Cookie"))
	}
	h.gate("A").open()
	r = logout.response()
	if ck := r.Cookie(CookieName); r.Status != http.StatusOK || ck == nil || ck.Value != "" || ck.MaxAge >= 0 {
		t.Errorf("logout answered %d %q with Set-Cookie %q, want 200 and a removal cookie", r.Status, r.Body, r.Header.Get("Set-Cookie"))
	}
	if got := h.token(renewed.Value).Value("user"); got != "<absent>" {
		t.Errorf("after logout the token of the concurrent renewal reads user = %q", got)
	}
	if got := h.token(old).Value("user"); got != "<absent>" {
		t.Errorf("after logout the old token reads user = %q", got)
	}
}

// Rule 4: of two requests that pop one value, exactly one succeeds with it.
func testPopExactlyOnce(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.Browser()
	b.Set("flash", "v")
	token := b.SessionCookie(CookieName).Value
	a := h.token(token).start(steps("pop:flash", "wait:A"))
	h.gate("A").awaitArrivals(1)
	if r := h.token(token).Get("/pop", "k", "flash"); r.Status != http.StatusOK || r.Body != "v" {
		t.Fatalf("the second pop, committed first, answered %d %q; want 200 v", r.Status, r.Body)
	}
	h.gate("A").open()
	r := a.response()
	if r.Status != http.StatusConflict || r.Body == "v" {
		t.Errorf("the first pop, committed second, answered %d %q; want a 409 without the value", r.Status, r.Body)
	}
	if err := h.NextError(); !errors.Is(err, engine.ErrConflict) {
		t.Errorf("ErrorHandler got %v, want ErrConflict", err)
	}
	if r := b.Get("/pop", "k", "flash"); r.Status != http.StatusOK || r.Body != "<absent>" {
		t.Errorf("a later pop answered %d %q, want the value gone", r.Status, r.Body)
	}
}

// Rule 5: Clear removes the keys the request saw; a key committed after it loaded
// survives.
func testClearRemovesSeenKeys(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.Browser()
	b.Set("a", "1")
	b.Set("b", "2")
	token := b.SessionCookie(CookieName).Value
	a := h.token(token).start(steps("get:a", "wait:A", "clear"))
	h.gate("A").awaitArrivals(1)
	b.Set("c", "3")
	h.gate("A").open()
	if r := a.response(); r.Status != http.StatusOK {
		t.Fatalf("Clear answered %d %q", r.Status, r.Body)
	}
	for key, want := range map[string]string{"a": "<absent>", "b": "<absent>", "c": "3"} {
		if got := b.Value(key); got != want {
			t.Errorf("after Clear %s = %q, want %q", key, got, want)
		}
	}
}

// The idle tests use an idle timeout T well inside the session's lifetime. A slide
// stores an expiry of now + 1.25·T; a request slides once less than T is left, that
// is once T/4 has passed since the last slide.
const idleT = 40 * time.Minute

func idleConfig(c *Config) {
	c.IdleTimeout = idleT
	c.DefaultExpiry = engine.ExpireIn(24 * time.Hour)
}

// slide advances the clock past a quarter of the idle timeout and reads the session,
// which slides its expiry.
func slide(h *Harness, b *Browser) Response {
	h.t.Helper()
	h.Clock.Advance(idleT/4 + time.Second)
	r := b.Get("/get", "k", "a")
	if r.Status != http.StatusOK || r.Body != "1" {
		h.t.Fatalf("a read of the session answered %d %q", r.Status, r.Body)
	}
	return r
}

// Rule 6: concurrent read-only requests that all find the expiry due write the slide
// once between them.
func testIdleSlideWritesOnce(t *testing.T, v variant) {
	h := newHarness(t, v, idleConfig)
	b := h.Browser()
	b.Set("a", "1")
	token := b.SessionCookie(CookieName).Value
	h.Clock.Advance(idleT/4 + time.Second)
	const n = 4
	readers := make([]*pending, n)
	for i := range readers {
		readers[i] = h.token(token).start(steps("get:a", "wait:A"))
	}
	h.gate("A").awaitArrivals(n)
	writes := h.Store.Writes()
	h.gate("A").open()
	for i, p := range readers {
		if r := p.response(); r.Status != http.StatusOK || r.Body != "1" {
			t.Errorf("reader %d answered %d %q", i, r.Status, r.Body)
		}
	}
	if got := h.Store.Writes() - writes; got != 1 {
		t.Errorf("%d concurrent reads wrote the slide %d times, want once", n, got)
	}
}

// Rule 6: a session ends no sooner than T after the last request that touched it,
// and no later than 1.25·T.
func testIdleWindow(t *testing.T, v variant) {
	t.Run("NoSooner", func(t *testing.T) {
		h := newHarness(t, v, idleConfig)
		b := h.Browser()
		b.Set("a", "1")
		r := slide(h, b)
		if ck := r.Cookie(CookieName); ck == nil || ck.MaxAge != int(idleT*5/4/time.Second) {
			t.Errorf("the slide sent Set-Cookie %q, want Max-Age %d (1.25 times the idle timeout)", r.Header.Get("Set-Cookie"), int(idleT*5/4/time.Second))
		}
		// The last request before the next slide would be due...
		h.Clock.Advance(idleT/4 - time.Second)
		if got := b.Value("a"); got != "1" {
			t.Fatalf("the session ended %v after a slide: a = %q", idleT/4, got)
		}
		// ...leaves the session alive for T after it.
		h.Clock.Advance(idleT - time.Second)
		if got := b.Value("a"); got != "1" {
			t.Errorf("the session ended sooner than the idle timeout after the last request: a = %q", got)
		}
	})
	t.Run("NoLater", func(t *testing.T) {
		h := newHarness(t, v, idleConfig)
		// created is last touched when it is created, slid when its expiry slides.
		created, slid := h.Browser(), h.Browser()
		created.Set("a", "1")
		slid.Set("a", "1")
		slide(h, slid)
		h.Clock.Advance(idleT*5/4 - idleT/4) // created: 1.25·T + 1s later
		if got := created.Value("a"); got != "<absent>" {
			t.Errorf("a session idle since its creation outlived 1.25 times the timeout: a = %q", got)
		}
		h.Clock.Advance(idleT/4 + time.Second) // slid: 1.25·T + 1s later
		if got := slid.Value("a"); got != "<absent>" {
			t.Errorf("a session idle since a slide outlived 1.25 times the timeout: a = %q", got)
		}
	})
}

// Rule 6: a request writes the slide once less than T is left, and a commit that only
// slides the expiry touches the record instead of saving its data.
func testIdleSlideTouches(t *testing.T, v variant) {
	h := newHarness(t, v, idleConfig)
	b := h.Browser()
	b.Set("a", "1")
	slide(h, b)
	saves, touches := h.Store.Saves.Load(), h.Store.Touches.Load()
	h.Clock.Advance(idleT/4 - time.Second) // T + 1s left
	if got := b.Value("a"); got != "1" {
		t.Fatalf("a = %q", got)
	}
	if n := h.Store.Writes() - saves - touches; n != 0 {
		t.Errorf("a read with more than the idle timeout left wrote %d times", n)
	}
	h.Clock.Advance(2 * time.Second) // T - 1s left
	if got := b.Value("a"); got != "1" {
		t.Fatalf("a = %q", got)
	}
	if n := h.Store.Touches.Load() - touches; n != 1 {
		t.Errorf("a read with less than the idle timeout left touched the store %d times, want once", n)
	}
	if n := h.Store.Saves.Load() - saves; n != 0 {
		t.Errorf("sliding the expiry saved the whole record %d times, want a touch only", n)
	}
}

// Rule 7: RenewID restarts the session's lifetime from DefaultExpiry, unless the same
// request sets its own with SetExpiry.
func testRenewIDFreshLifetime(t *testing.T, v variant) {
	const lifetime = 12 * time.Hour
	configure := func(c *Config) { c.DefaultExpiry = engine.ExpireIn(lifetime) }
	maxAge := func(r Response) int {
		if ck := r.Cookie(CookieName); ck != nil && ck.Value != "" {
			return ck.MaxAge
		}
		return 0
	}
	t.Run("AgedSession", func(t *testing.T) {
		h := newHarness(t, v, configure)
		b := h.Browser()
		b.Set("user", "ada")
		h.Clock.Advance(11 * time.Hour)
		if got := maxAge(b.Get("/renew")); got != int(lifetime/time.Second) {
			t.Errorf("RenewID of an 11-hour-old session sent Max-Age %d, want %d", got, int(lifetime/time.Second))
		}
		h.Clock.Advance(time.Hour + time.Minute) // past the old session's expiry
		if got := b.Value("user"); got != "ada" {
			t.Errorf("the renewed session ended with the old one: user = %q", got)
		}
	})
	t.Run("RememberedEarlier", func(t *testing.T) {
		h := newHarness(t, v, configure)
		b := h.Browser()
		b.Set("user", "ada")
		if got := maxAge(b.Get("/expiry", "in", "720h")); got != 720*60*60 {
			t.Fatalf("SetExpiry(30 days) sent Max-Age %d", got)
		}
		h.Clock.Advance(time.Hour)
		if got := maxAge(b.Get("/renew")); got != int(lifetime/time.Second) {
			t.Errorf("RenewID of a session remembered in an earlier request sent Max-Age %d, want %d", got, int(lifetime/time.Second))
		}
	})
	t.Run("RememberedInSameRequest", func(t *testing.T) {
		h := newHarness(t, v, configure)
		b := h.Browser()
		b.Set("user", "ada")
		for _, script := range [][]string{{"expiry:720h", "renew"}, {"renew", "expiry:720h"}} {
			if got := maxAge(b.Get(steps(script...))); got != 720*60*60 {
				t.Errorf("steps %v sent Max-Age %d, want the 30 days of SetExpiry", script, got)
			}
		}
	})
}

// Rule 8: a commit finishes even when the client has gone, or when the handler's
// request context is cancelled.
func testCommitOutlivesClient(t *testing.T, v variant) {
	t.Run("ClientGoneDuringLogout", func(t *testing.T) {
		h := newHarness(t, v, nil)
		old := loggedIn(h)
		g := h.gate("A")
		g.open() // the gate only signals: the handler then waits for the client to go
		logout := h.token(old).start(steps("get:user", "destroy", "wait:A", "ctxdone"))
		g.awaitArrivals(1)
		logout.cancel()
		if _, err := logout.result(); err == nil {
			t.Fatal("the cancelled logout got a response")
		}
		g.awaitFinished(1) // the handler returned and the middleware committed
		if got := h.token(old).Value("user"); got != "<absent>" {
			t.Errorf("after a logout whose client went away the old token reads user = %q", got)
		}
	})
	t.Run("CancelledHandlerContext", func(t *testing.T) {
		h := newHarness(t, v, nil)
		b := h.Browser()
		r := b.Get("/set", "k", "a", "v", "1", "cancelctx", "1")
		if r.Status != http.StatusOK || r.Body != "ok" || r.Cookie(CookieName) == nil {
			t.Fatalf("a Set on a cancelled request context answered %d %q with Set-Cookie %q", r.Status, r.Body, r.Header.Get("Set-Cookie"))
		}
		if got := b.Value("a"); got != "1" {
			t.Errorf("the Set made on a cancelled request context reads back as %q", got)
		}
	})
}
