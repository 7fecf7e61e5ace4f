package echosess_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/echosess/echosess"
)

// The session's lifecycle under concurrent requests of one session (issue 10). Each
// test forces its interleaving: a request stops at a gate after its first session
// step while other requests of the same session run to completion, and goes on only
// when the test opens the gate.
var lifecycleTests = []struct {
	name string
	fn   func(*testing.T, variant)
}{
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

func TestLifecycle(t *testing.T) {
	for _, v := range testVariants {
		t.Run(v.name, func(t *testing.T) {
			for _, tt := range lifecycleTests {
				t.Run(tt.name, func(t *testing.T) { tt.fn(t, v) })
			}
		})
	}
}

// loggedIn returns the token of a new session holding user=ada.
func loggedIn(h *harness) string {
	h.t.Helper()
	b := h.browser()
	b.set("user", "ada")
	return b.sessionCookie(cookieName).Value
}

// token returns the browser that sends token.
func (h *harness) token(token string) *browser { return h.withCookie(cookieName, token) }

// expectEnded checks the response of a request whose session another request ended
// while it ran: a 409, no session cookie, and ErrSessionEnded at ErrorHandler.
func expectEnded(t *testing.T, h *harness, r response) {
	t.Helper()
	if r.status != http.StatusConflict {
		t.Errorf("status %d %q, want 409", r.status, r.body)
	}
	if ck := r.cookie(cookieName); ck != nil {
		t.Errorf("the request of an ended session sent the session cookie %q", r.header.Get("Set-Cookie"))
	}
	if err := h.nextError(); !errors.Is(err, echosess.ErrSessionEnded) {
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
	if r := h.token(old).get("/set", "k", "cart", "v", "1"); r.status != http.StatusOK {
		t.Fatalf("a write during the login: %d %q", r.status, r.body)
	}
	h.gate("A").open()
	r := login.response()
	ck := r.cookie(cookieName)
	if r.status != http.StatusOK || ck == nil || ck.Value == old || len(ck.Value) != 43 {
		t.Fatalf("login answered %d %q with Set-Cookie %q, want 200 and a new token", r.status, r.body, r.header.Get("Set-Cookie"))
	}
	renewed := h.token(ck.Value)
	for key, want := range map[string]string{"cart": "1", "user": "ada", "role": "admin"} {
		if got := renewed.value(key); got != want {
			t.Errorf("the renewed session holds %s = %q, want %q", key, got, want)
		}
	}
	for _, key := range []string{"cart", "user", "role"} {
		if got := h.token(old).value(key); got != "<absent>" {
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
		r := h.token(old).get("/renew")
		ck := r.cookie(cookieName)
		if r.status != http.StatusOK || ck == nil || ck.Value == old {
			t.Fatalf("RenewID answered %d with Set-Cookie %q", r.status, r.header.Get("Set-Cookie"))
		}
		h.gate("A").open()
		expectEnded(t, h, a.response())
		if got := h.token(old).value("x"); got != "<absent>" {
			t.Errorf("the old token reads x = %q", got)
		}
		renewed := h.token(ck.Value)
		if got := renewed.value("x"); got != "<absent>" {
			t.Errorf("the renewed token reads x = %q, written by a request of the old session", got)
		}
		if got := renewed.value("user"); got != "ada" {
			t.Errorf("the renewed token reads user = %q", got)
		}
	})
	t.Run("SetAfterDestroy", func(t *testing.T) { // logout undone by a profile update
		h := newHarness(t, v, nil)
		old := loggedIn(h)
		a := h.token(old).start(steps("get:user", "wait:A", "set:user=ada"))
		h.gate("A").awaitArrivals(1)
		if r := h.token(old).get("/destroy"); r.status != http.StatusOK {
			t.Fatalf("logout answered %d %q", r.status, r.body)
		}
		h.gate("A").open()
		expectEnded(t, h, a.response())
		if got := h.token(old).value("user"); got != "<absent>" {
			t.Errorf("after logout the old token reads user = %q", got)
		}
		// A request that arrives with the dead token starts a session of its own.
		r := h.token(old).get("/set", "k", "x", "v", "2")
		ck := r.cookie(cookieName)
		if r.status != http.StatusOK || ck == nil || ck.Value == old || len(ck.Value) != 43 {
			t.Fatalf("a write with the dead token answered %d with Set-Cookie %q, want 200 and a new token", r.status, r.header.Get("Set-Cookie"))
		}
		fresh := h.token(ck.Value)
		if fresh.value("x") != "2" || fresh.value("user") != "<absent>" {
			t.Errorf("the fresh session holds x = %q, user = %q; want 2 and nothing else", fresh.value("x"), fresh.value("user"))
		}
	})
	t.Run("RenewIDAfterDestroy", func(t *testing.T) { // a login that commits after the logout
		h := newHarness(t, v, nil)
		old := loggedIn(h)
		a := h.token(old).start(steps("get:user", "wait:A", "renew"))
		h.gate("A").awaitArrivals(1)
		if r := h.token(old).get("/destroy"); r.status != http.StatusOK {
			t.Fatalf("logout answered %d %q", r.status, r.body)
		}
		h.gate("A").open()
		expectEnded(t, h, a.response())
		if got := h.token(old).value("user"); got != "<absent>" {
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
	r := h.token(old).get("/renew")
	renewed := r.cookie(cookieName)
	if r.status != http.StatusOK || renewed == nil || renewed.Value == old {
		t.Fatalf("RenewID answered %d with Set-Cookie %q", r.status, r.header.Get("Set-Cookie"))
	}
	h.gate("A").open()
	r = logout.response()
	if ck := r.cookie(cookieName); r.status != http.StatusOK || ck == nil || ck.Value != "" || ck.MaxAge >= 0 {
		t.Errorf("logout answered %d %q with Set-Cookie %q, want 200 and a removal cookie", r.status, r.body, r.header.Get("Set-Cookie"))
	}
	if got := h.token(renewed.Value).value("user"); got != "<absent>" {
		t.Errorf("after logout the token of the concurrent renewal reads user = %q", got)
	}
	if got := h.token(old).value("user"); got != "<absent>" {
		t.Errorf("after logout the old token reads user = %q", got)
	}
}

// Rule 4: of two requests that pop one value, exactly one succeeds with it.
func testPopExactlyOnce(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.browser()
	b.set("flash", "v")
	token := b.sessionCookie(cookieName).Value
	a := h.token(token).start(steps("pop:flash", "wait:A"))
	h.gate("A").awaitArrivals(1)
	if r := h.token(token).get("/pop", "k", "flash"); r.status != http.StatusOK || r.body != "v" {
		t.Fatalf("the second pop, committed first, answered %d %q; want 200 v", r.status, r.body)
	}
	h.gate("A").open()
	r := a.response()
	if r.status != http.StatusConflict || r.body == "v" {
		t.Errorf("the first pop, committed second, answered %d %q; want a 409 without the value", r.status, r.body)
	}
	if err := h.nextError(); !errors.Is(err, echosess.ErrConflict) {
		t.Errorf("ErrorHandler got %v, want ErrConflict", err)
	}
	if r := b.get("/pop", "k", "flash"); r.status != http.StatusOK || r.body != "<absent>" {
		t.Errorf("a later pop answered %d %q, want the value gone", r.status, r.body)
	}
}

// Rule 5: Clear removes the keys the request saw; a key committed after it loaded
// survives.
func testClearRemovesSeenKeys(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.browser()
	b.set("a", "1")
	b.set("b", "2")
	token := b.sessionCookie(cookieName).Value
	a := h.token(token).start(steps("get:a", "wait:A", "clear"))
	h.gate("A").awaitArrivals(1)
	b.set("c", "3")
	h.gate("A").open()
	if r := a.response(); r.status != http.StatusOK {
		t.Fatalf("Clear answered %d %q", r.status, r.body)
	}
	for key, want := range map[string]string{"a": "<absent>", "b": "<absent>", "c": "3"} {
		if got := b.value(key); got != want {
			t.Errorf("after Clear %s = %q, want %q", key, got, want)
		}
	}
}

// The idle tests use an idle timeout T well inside the session's lifetime. A slide
// stores an expiry of now + 1.25·T; a request slides once less than T is left, that
// is once T/4 has passed since the last slide.
const idleT = 40 * time.Minute

func idleConfig(c *echosess.Config) {
	c.IdleTimeout = idleT
	c.DefaultExpiry = echosess.ExpireIn(24 * time.Hour)
}

// slide advances the clock past a quarter of the idle timeout and reads the session,
// which slides its expiry.
func slide(h *harness, b *browser) response {
	h.t.Helper()
	h.clock.Advance(idleT/4 + time.Second)
	r := b.get("/get", "k", "a")
	if r.status != http.StatusOK || r.body != "1" {
		h.t.Fatalf("a read of the session answered %d %q", r.status, r.body)
	}
	return r
}

// Rule 6: concurrent read-only requests that all find the expiry due write the slide
// once between them.
func testIdleSlideWritesOnce(t *testing.T, v variant) {
	h := newHarness(t, v, idleConfig)
	b := h.browser()
	b.set("a", "1")
	token := b.sessionCookie(cookieName).Value
	h.clock.Advance(idleT/4 + time.Second)
	const n = 4
	readers := make([]*pending, n)
	for i := range readers {
		readers[i] = h.token(token).start(steps("get:a", "wait:A"))
	}
	h.gate("A").awaitArrivals(n)
	writes := h.store.writes()
	h.gate("A").open()
	for i, p := range readers {
		if r := p.response(); r.status != http.StatusOK || r.body != "1" {
			t.Errorf("reader %d answered %d %q", i, r.status, r.body)
		}
	}
	if got := h.store.writes() - writes; got != 1 {
		t.Errorf("%d concurrent reads wrote the slide %d times, want once", n, got)
	}
}

// Rule 6: a session ends no sooner than T after the last request that touched it,
// and no later than 1.25·T.
func testIdleWindow(t *testing.T, v variant) {
	t.Run("NoSooner", func(t *testing.T) {
		h := newHarness(t, v, idleConfig)
		b := h.browser()
		b.set("a", "1")
		r := slide(h, b)
		if ck := r.cookie(cookieName); ck == nil || ck.MaxAge != int(idleT*5/4/time.Second) {
			t.Errorf("the slide sent Set-Cookie %q, want Max-Age %d (1.25 times the idle timeout)", r.header.Get("Set-Cookie"), int(idleT*5/4/time.Second))
		}
		// The last request before the next slide would be due...
		h.clock.Advance(idleT/4 - time.Second)
		if got := b.value("a"); got != "1" {
			t.Fatalf("the session ended %v after a slide: a = %q", idleT/4, got)
		}
		// ...leaves the session alive for T after it.
		h.clock.Advance(idleT - time.Second)
		if got := b.value("a"); got != "1" {
			t.Errorf("the session ended sooner than the idle timeout after the last request: a = %q", got)
		}
	})
	t.Run("NoLater", func(t *testing.T) {
		h := newHarness(t, v, idleConfig)
		// created is last touched when it is created, slid when its expiry slides.
		created, slid := h.browser(), h.browser()
		created.set("a", "1")
		slid.set("a", "1")
		slide(h, slid)
		h.clock.Advance(idleT*5/4 - idleT/4) // created: 1.25·T + 1s later
		if got := created.value("a"); got != "<absent>" {
			t.Errorf("a session idle since its creation outlived 1.25 times the timeout: a = %q", got)
		}
		h.clock.Advance(idleT/4 + time.Second) // slid: 1.25·T + 1s later
		if got := slid.value("a"); got != "<absent>" {
			t.Errorf("a session idle since a slide outlived 1.25 times the timeout: a = %q", got)
		}
	})
}

// Rule 6: a request writes the slide once less than T is left, and a commit that only
// slides the expiry touches the record instead of saving its data.
func testIdleSlideTouches(t *testing.T, v variant) {
	h := newHarness(t, v, idleConfig)
	b := h.browser()
	b.set("a", "1")
	slide(h, b)
	saves, touches := h.store.saves.Load(), h.store.touches.Load()
	h.clock.Advance(idleT/4 - time.Second) // T + 1s left
	if got := b.value("a"); got != "1" {
		t.Fatalf("a = %q", got)
	}
	if n := h.store.writes() - saves - touches; n != 0 {
		t.Errorf("a read with more than the idle timeout left wrote %d times", n)
	}
	h.clock.Advance(2 * time.Second) // T - 1s left
	if got := b.value("a"); got != "1" {
		t.Fatalf("a = %q", got)
	}
	if n := h.store.touches.Load() - touches; n != 1 {
		t.Errorf("a read with less than the idle timeout left touched the store %d times, want once", n)
	}
	if n := h.store.saves.Load() - saves; n != 0 {
		t.Errorf("sliding the expiry saved the whole record %d times, want a touch only", n)
	}
}

// Rule 7: RenewID restarts the session's lifetime from DefaultExpiry, unless the same
// request sets its own with SetExpiry.
func testRenewIDFreshLifetime(t *testing.T, v variant) {
	const lifetime = 12 * time.Hour
	configure := func(c *echosess.Config) { c.DefaultExpiry = echosess.ExpireIn(lifetime) }
	maxAge := func(r response) int {
		if ck := r.cookie(cookieName); ck != nil && ck.Value != "" {
			return ck.MaxAge
		}
		return 0
	}
	t.Run("AgedSession", func(t *testing.T) {
		h := newHarness(t, v, configure)
		b := h.browser()
		b.set("user", "ada")
		h.clock.Advance(11 * time.Hour)
		if got := maxAge(b.get("/renew")); got != int(lifetime/time.Second) {
			t.Errorf("RenewID of an 11-hour-old session sent Max-Age %d, want %d", got, int(lifetime/time.Second))
		}
		h.clock.Advance(time.Hour + time.Minute) // past the old session's expiry
		if got := b.value("user"); got != "ada" {
			t.Errorf("the renewed session ended with the old one: user = %q", got)
		}
	})
	t.Run("RememberedEarlier", func(t *testing.T) {
		h := newHarness(t, v, configure)
		b := h.browser()
		b.set("user", "ada")
		if got := maxAge(b.get("/expiry", "in", "720h")); got != 720*60*60 {
			t.Fatalf("SetExpiry(30 days) sent Max-Age %d", got)
		}
		h.clock.Advance(time.Hour)
		if got := maxAge(b.get("/renew")); got != int(lifetime/time.Second) {
			t.Errorf("RenewID of a session remembered in an earlier request sent Max-Age %d, want %d", got, int(lifetime/time.Second))
		}
	})
	t.Run("RememberedInSameRequest", func(t *testing.T) {
		h := newHarness(t, v, configure)
		b := h.browser()
		b.set("user", "ada")
		for _, script := range [][]string{{"expiry:720h", "renew"}, {"renew", "expiry:720h"}} {
			if got := maxAge(b.get(steps(script...))); got != 720*60*60 {
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
		if got := h.token(old).value("user"); got != "<absent>" {
			t.Errorf("after a logout whose client went away the old token reads user = %q", got)
		}
	})
	t.Run("CancelledHandlerContext", func(t *testing.T) {
		h := newHarness(t, v, nil)
		b := h.browser()
		r := b.get("/set", "k", "a", "v", "1", "cancelctx", "1")
		if r.status != http.StatusOK || r.body != "ok" || r.cookie(cookieName) == nil {
			t.Fatalf("a Set on a cancelled request context answered %d %q with Set-Cookie %q", r.status, r.body, r.header.Get("Set-Cookie"))
		}
		if got := b.value("a"); got != "1" {
			t.Errorf("the Set made on a cancelled request context reads back as %q", got)
		}
	})
}
