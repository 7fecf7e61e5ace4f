package adaptertest

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/echosess/echosess/internal/engine"
)

// userTests are the black-box tests of a user's sessions: LoginUser, UserSessions,
// RevokeSession and RevokeOtherSessions.
var userTests = []test{
	{"ListMarksCurrent", testListMarksCurrent},
	{"RevokeByHandle", testRevokeByHandle},
	{"ForeignHandle", testForeignHandle},
	{"RevokeOthers", testRevokeOthers},
	{"InFlightCannotRevive", func(t *testing.T, v variant) { testRevokeInFlight(t, v, "set:k=revived") }},
	{"RevokeOthersEndsRenewalInFlight", func(t *testing.T, v variant) { testRevokeInFlight(t, v, "renew") }},
	{"RevokeWinsOverRenewal", func(t *testing.T, v variant) { testRevokeDuringRenewal(t, v, false) }},
	{"RevokeOthersWinsOverRenewal", func(t *testing.T, v variant) { testRevokeDuringRenewal(t, v, true) }},
	{"RevokeStaleHandle", testRevokeStaleHandle},
	{"RevokeOthersSparesOwnRenewal", testRevokeOthersSparesOwnRenewal},
	{"RevokeOthersCountsLive", testRevokeOthersCountsLive},
	{"RevokeSparesRelogin", testRevokeSparesRelogin},
	{"DestroyUnbinds", testDestroyUnbinds},
	{"RenewKeepsBinding", testRenewKeepsBinding},
	{"BadInput", testUserBadInput},
	{"StoreDown", testUserStoreDown},
	{"Device", testDevice},
	{"LastActiveSlides", testLastActiveSlides},
}

// RunUsers runs the user-session tests on every store variant of vs under adapter a.
func RunUsers(t *testing.T, a Adapter, vs []Variant) { runTable(t, a, vs, userTests) }

// listed is one line of /sessions.
type listed struct {
	handle  string
	current bool
	line    string
}

// login logs a new browser in as user.
func login(h *Harness, user string) *Browser {
	h.t.Helper()
	b := h.Browser()
	b.Set("k", "v")
	if r := b.Get("/login", "user", user); r.Status != http.StatusOK {
		h.t.Fatalf("login as %s: %d %s", user, r.Status, r.Body)
	}
	return b
}

// sessions lists the sessions of b's user.
func (b *Browser) sessions() []listed {
	b.h.t.Helper()
	r := b.Get("/sessions")
	if r.Status != http.StatusOK {
		b.h.t.Fatalf("GET /sessions: %d %s", r.Status, r.Body)
	}
	var out []listed
	for _, line := range strings.Split(r.Body, "\n") {
		if line == "" {
			continue
		}
		handle, rest, _ := strings.Cut(line, " ")
		out = append(out, listed{handle: handle, current: strings.HasPrefix(rest, "current=true"), line: line})
	}
	return out
}

// String is the listing's line, for messages.
func (l listed) String() string { return l.line }

// handles returns the handles of a listing.
func handles(list []listed) []string {
	var hs []string
	for _, l := range list {
		hs = append(hs, l.handle)
	}
	return hs
}

// loggedInAs checks what user b's session is bound to.
func (b *Browser) loggedInAs(t *testing.T, want string) {
	t.Helper()
	if r := b.Get("/userid"); r.Status != http.StatusOK || r.Body != want {
		t.Errorf("GET /userid: %d %q, want %v", r.Status, r.Body, want)
	}
}

func testListMarksCurrent(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	laptop, phone := login(h, "ada"), login(h, "ada")
	bob := login(h, "bob")
	list := laptop.sessions()
	if len(list) != 2 {
		t.Fatalf("ada's sessions: %v, want 2", list)
	}
	want := map[string]bool{laptop.Get("/id").Body: true, phone.Get("/id").Body: false}
	for _, l := range list {
		current, ok := want[l.handle]
		if !ok || l.current != current {
			t.Errorf("listed %s; want handles %v with the laptop's current", l.line, want)
		}
		for _, b := range []*Browser{laptop, phone} {
			if token := b.SessionCookie(CookieName).Value; strings.Contains(token, l.handle) || strings.Contains(l.handle, token) {
				t.Errorf("handle %s shares the session token %s", l.handle, token)
			}
		}
	}
	if got := bob.sessions(); len(got) != 1 || !got[0].current {
		t.Errorf("bob's sessions: %v, want his one, current", got)
	}
	laptop.loggedInAs(t, "ada")
	bob.loggedInAs(t, "bob")
}

func testRevokeByHandle(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	laptop, phone := login(h, "ada"), login(h, "ada")
	if r := laptop.Get("/revoke", "h", phone.Get("/id").Body); r.Status != http.StatusOK {
		t.Fatalf("revoke the phone: %d %s", r.Status, r.Body)
	}
	phone.loggedInAs(t, "")
	if got := phone.Value("k"); got != "<absent>" {
		t.Errorf("the revoked phone reads k = %q", got)
	}
	laptop.loggedInAs(t, "ada")
	if got := laptop.sessions(); len(got) != 1 || !got[0].current {
		t.Errorf("after the revocation ada's sessions are %v, want the laptop's", got)
	}
}

func testForeignHandle(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	ada, bob := login(h, "ada"), login(h, "bob")
	for _, handle := range []string{ada.Get("/id").Body, "", "not-a-handle", strings.Repeat("x", 10000)} {
		if r := bob.Get("/revoke", "h", handle); r.Status != http.StatusTeapot || r.Body != "ErrUnknownSession" {
			t.Errorf("bob revoking handle %.20q: %d %q, want ErrUnknownSession", handle, r.Status, r.Body)
		}
	}
	ada.loggedInAs(t, "ada")
	bob.loggedInAs(t, "bob")
}

func testRevokeOthers(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	laptop, phone, tablet := login(h, "ada"), login(h, "ada"), login(h, "ada")
	bob := login(h, "bob")
	if r := laptop.Get("/revoke-others"); r.Status != http.StatusOK || r.Body != "2" {
		t.Fatalf("revoke the others: %d %q, want 2", r.Status, r.Body)
	}
	phone.loggedInAs(t, "")
	tablet.loggedInAs(t, "")
	laptop.loggedInAs(t, "ada")
	bob.loggedInAs(t, "bob")
	if got := laptop.sessions(); len(got) != 1 || !got[0].current {
		t.Errorf("after revoking the others ada's sessions are %v", got)
	}
}

// testRevokeInFlight revokes a session while a request of it that loaded it is
// stopped at a gate, before its step (a write, a renewal): the request's commit
// then finds the session ended, and brings back or starts nothing.
func testRevokeInFlight(t *testing.T, v variant, step string) {
	h := newHarness(t, v, nil)
	laptop, phone := login(h, "ada"), login(h, "ada")
	inFlight := phone.start(steps("get:k", "wait:A", step))
	h.gate("A").awaitArrivals(1)
	if r := laptop.Get("/revoke-others"); r.Status != http.StatusOK || r.Body != "1" {
		t.Fatalf("revoke the phone: %d %q", r.Status, r.Body)
	}
	h.gate("A").open()
	expectEnded(t, h, inFlight.response())
	phone.loggedInAs(t, "")
	if got := laptop.sessions(); len(got) != 1 {
		t.Errorf("the in-flight request brought a session back: %v", got)
	}
}

// testRevokeDuringRenewal revokes the thief's session, by its handle or as one of
// the others, while the thief renews it: the renewal commits after the revocation
// listed the session and before it ended it. The renewed session ends too.
func testRevokeDuringRenewal(t *testing.T, v variant, others bool) {
	h := newHarness(t, v, nil)
	laptop, thief := login(h, "ada"), login(h, "ada")
	listed := h.stopAfterListing("L")
	path, query, want := "/revoke", []string{"h", thief.Get("/id").Body}, "ok"
	if others {
		path, query, want = "/revoke-others", nil, "1"
	}
	revoke := laptop.start(path, query...)
	listed.awaitArrivals(1)
	if r := thief.Get("/renew"); r.Status != http.StatusOK {
		t.Fatalf("the thief's renewal: %d %s", r.Status, r.Body)
	}
	listed.open()
	if r := revoke.response(); r.Status != http.StatusOK || r.Body != want {
		t.Fatalf("revoke the thief's session: %d %q, want %q", r.Status, r.Body, want)
	}
	thief.loggedInAs(t, "")
	laptop.loggedInAs(t, "ada")
	if got := laptop.sessions(); len(got) != 1 || !got[0].current {
		t.Errorf("after the revocation ada's sessions are %v, want the laptop's", got)
	}
}

// testRevokeStaleHandle revokes a session by the handle a listing showed before the
// session was renewed: the handle still ends it.
func testRevokeStaleHandle(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	laptop, thief := login(h, "ada"), login(h, "ada")
	handle := thief.Get("/id").Body
	if r := thief.Get("/renew"); r.Status != http.StatusOK {
		t.Fatalf("the thief's renewal: %d %s", r.Status, r.Body)
	}
	if r := laptop.Get("/revoke", "h", handle); r.Status != http.StatusOK || r.Body != "ok" {
		t.Fatalf("revoke by the handle listed before the renewal: %d %q", r.Status, r.Body)
	}
	thief.loggedInAs(t, "")
	if r := laptop.Get("/revoke", "h", handle); r.Status != http.StatusTeapot || r.Body != "ErrUnknownSession" {
		t.Errorf("revoking it again: %d %q, want ErrUnknownSession", r.Status, r.Body)
	}
	laptop.loggedInAs(t, "ada")
}

// testRevokeOthersSparesOwnRenewal renews the caller's session from another tab
// after the revoking request loaded it: "log out everywhere else" spares the
// renewed session, which the browser now holds, and ends only the others.
func testRevokeOthersSparesOwnRenewal(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	laptop, phone := login(h, "ada"), login(h, "ada")
	tab := laptop.start(steps("get:k", "wait:A", "revoke-others"))
	h.gate("A").awaitArrivals(1)
	if r := laptop.Get("/renew"); r.Status != http.StatusOK {
		t.Fatalf("the other tab's renewal: %d %s", r.Status, r.Body)
	}
	h.gate("A").open()
	if r := tab.response(); r.Status != http.StatusOK || r.Body != "v 1" {
		t.Fatalf("revoke the others: %d %q, want \"v 1\"", r.Status, r.Body)
	}
	laptop.loggedInAs(t, "ada")
	phone.loggedInAs(t, "")
}

// testRevokeOthersCountsLive counts only the sessions a revocation ended, not one
// that had expired already.
func testRevokeOthersCountsLive(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	login(h, "ada")
	h.Clock.Advance(23 * time.Hour)
	laptop := login(h, "ada")
	h.Clock.Advance(2 * time.Hour) // the first session's 24 hours are over
	if r := laptop.Get("/revoke-others"); r.Status != http.StatusOK || r.Body != "0" {
		t.Errorf("revoke the others with only an expired one: %d %q, want 0", r.Status, r.Body)
	}
	laptop.loggedInAs(t, "ada")
}

// testRevokeSparesRelogin revokes a user's other sessions after one of their
// browsers logged in as another user: the renewal's link stays bound to the first
// user, but the session it leads to is the other user's now, and stays.
func testRevokeSparesRelogin(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	laptop, shared := login(h, "ada"), login(h, "ada")
	if r := shared.Get("/login", "user", "bob"); r.Status != http.StatusOK {
		t.Fatalf("log in as bob: %d %s", r.Status, r.Body)
	}
	if r := laptop.Get("/revoke-others"); r.Status != http.StatusOK || r.Body != "0" {
		t.Errorf("revoke ada's others: %d %q, want 0", r.Status, r.Body)
	}
	shared.loggedInAs(t, "bob")
	laptop.loggedInAs(t, "ada")
}

func testDestroyUnbinds(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	laptop, phone := login(h, "ada"), login(h, "ada")
	if r := phone.Get("/destroy"); r.Status != http.StatusOK {
		t.Fatalf("logout: %d %s", r.Status, r.Body)
	}
	phone.loggedInAs(t, "")
	if got := laptop.sessions(); len(got) != 1 || !got[0].current {
		t.Errorf("after the phone's logout ada's sessions are %v", got)
	}
}

func testRenewKeepsBinding(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	laptop := login(h, "ada")
	before := laptop.Get("/id").Body
	if r := laptop.Get("/renew"); r.Status != http.StatusOK {
		t.Fatalf("renew: %d %s", r.Status, r.Body)
	}
	laptop.loggedInAs(t, "ada")
	got := handles(laptop.sessions())
	if after := laptop.Get("/id").Body; len(got) != 1 || got[0] != after || after == before {
		t.Errorf("after RenewID ada's sessions are %v, want only the renewed %s (not %s)", got, after, before)
	}
}

// testUserBadInput: a login with an invalid user ID fails with ErrInvalidUserID
// before anything moves: its 4xx response commits, yet the token, the data and the
// binding stay as they were. The functions used outside a request refuse the same IDs.
func testUserBadInput(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	b := h.Browser()
	b.Set("k", "v")
	token := b.SessionCookie(CookieName).Value
	invalid := []string{"", strings.Repeat("u", engine.MaxUserIDLen+1), "\xff", "a\x00b"}
	for _, user := range invalid {
		r := b.Get("/login", "user", user)
		if r.Status != http.StatusTeapot || r.Body != "ErrInvalidUserID" {
			t.Errorf("login as %.20q: %d %q, want ErrInvalidUserID", user, r.Status, r.Body)
		}
		if h.Resent(r, token) {
			t.Errorf("the refused login as %.20q sent a cookie: %q", user, setCookie(r))
		}
	}
	b.loggedInAs(t, "")
	if got := b.SessionCookie(CookieName).Value; got != token {
		t.Errorf("the refused logins changed the token")
	}
	if got := h.WithCookie(CookieName, token).Value("k"); got != "v" {
		t.Errorf("after the refused logins the token reads k = %q, want v", got)
	}
	ctx := context.Background()
	for _, user := range invalid {
		_, listErr := engine.ListUserSessions(ctx, h.Store, user)
		_, revokeErr := engine.RevokeUserSessions(ctx, h.Store, user)
		revokeOneErr := engine.RevokeUserSession(ctx, h.Store, user, "x")
		for _, err := range []error{listErr, revokeErr, revokeOneErr} {
			if !errors.Is(err, engine.ErrInvalidUserID) {
				t.Errorf("user %.20q outside a request: %v, want ErrInvalidUserID", user, err)
			}
		}
	}
	for _, path := range []string{"/sessions", "/revoke-others", "/revoke"} {
		if r := b.Get(path, "h", "x"); r.Status != http.StatusTeapot || r.Body != "ErrNoUser" {
			t.Errorf("GET %s without a user: %d %q, want ErrNoUser", path, r.Status, r.Body)
		}
	}
	long := login(h, strings.Repeat("u", engine.MaxUserIDLen))
	long.loggedInAs(t, strings.Repeat("u", engine.MaxUserIDLen))
}

func testUserStoreDown(t *testing.T, v variant) {
	h := newHarness(t, v, nil)
	laptop, phone := login(h, "ada"), login(h, "ada")
	h.Store.FailWrites.Store(true)
	if r := laptop.Get("/revoke-others"); r.Status != http.StatusTeapot || r.Body != "ErrStoreDown" {
		t.Errorf("revoke with the store down: %d %q, want ErrStoreDown", r.Status, r.Body)
	}
	if r := laptop.Get("/revoke", "h", phone.Get("/id").Body); r.Status != http.StatusTeapot || r.Body != "ErrStoreDown" {
		t.Errorf("revoke one with the store down: %d %q, want ErrStoreDown", r.Status, r.Body)
	}
	h.Store.FailWrites.Store(false)
	phone.loggedInAs(t, "ada")
	if got := laptop.sessions(); len(got) != 2 {
		t.Errorf("after the failed revocations ada's sessions are %v, want both", got)
	}
}

func testDevice(t *testing.T, v variant) {
	h := newHarness(t, v, func(cfg *Config) { cfg.RecordDevice = true })
	b := h.Browser()
	b.Set("k", "v")
	if r := b.Get("/login", "user", "ada"); r.Status != http.StatusOK {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	list := b.sessions()
	if len(list) != 1 || !strings.Contains(list[0].line, `ua="Go-http-client/1.1" ip="127.0.0.1" last_ua="Go-http-client/1.1" last_ip="127.0.0.1"`) {
		t.Errorf("with RecordDevice ada's session is listed as %v", list)
	}
	plain := newHarness(t, v, nil)
	if list := login(plain, "ada").sessions(); len(list) != 1 || !strings.Contains(list[0].line, `ua="" ip="" last_ua="" last_ip=""`) {
		t.Errorf("without RecordDevice ada's session is listed as %v", list)
	}
}

// testLastActiveSlides checks that last-active moves with the idle slide, and only
// then: a read within a quarter of the timeout writes nothing.
func testLastActiveSlides(t *testing.T, v variant) {
	const idle = time.Hour
	h := newHarness(t, v, func(cfg *Config) { cfg.IdleTimeout = idle })
	b := login(h, "ada")
	active := func() string {
		t.Helper()
		_, rest, _ := strings.Cut(b.sessions()[0].line, " active=")
		at, _, _ := strings.Cut(rest, " ")
		return at
	}
	first := active()
	if want := h.Clock.Now().UTC().Format(time.RFC3339); first != want {
		t.Errorf("last active at login %s, want %s", first, want)
	}
	h.Clock.Advance(idle / 8)
	b.Value("k")
	if got := active(); got != first {
		t.Errorf("a read within a quarter of the timeout moved last active to %s", got)
	}
	h.Clock.Advance(idle / 4)
	b.Value("k")
	if got, want := active(), h.Clock.Now().UTC().Format(time.RFC3339); got != want {
		t.Errorf("after the idle slide last active is %s, want %s", got, want)
	}
}
