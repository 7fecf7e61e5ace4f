package adaptertest

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/echosess/echosess/memstore"
)

// Issue 21, item 3: a MemoryStore bounded by WithMaxBytes keeps serving when a flood
// of new anonymous sessions, as a crawler that keeps no cookies makes, fills it:
// each of the crawler's requests still gets its session (the store evicts the
// anonymous sessions used least recently), a signed-in user's session keeps being
// read and written, and users log in meanwhile.
func testFullMemoryStore(t *testing.T, v variant) {
	h := newHarness(t, v, func(c *Config) {
		c.Store = memstore.New(memstore.WithClock(c.Now), memstore.WithMaxBytes(64*8<<10)) // about 9 sessions a shard
	})
	ada := login(h, "ada")
	crawler := &Browser{h: h, Client: &http.Client{}} // keeps no cookie: a new session each time
	const flood = 1000
	for i := range flood {
		r := crawler.Get("/set", "k", "page", "v", strconv.Itoa(i))
		if r.Status != http.StatusOK || r.Body != "ok" || r.Cookie(CookieName) == nil {
			t.Fatalf("crawler request %d: %d %q, cookie %v", i, r.Status, r.Body, r.Cookie(CookieName))
		}
		if i%100 == 99 {
			ada.Set("seen", strconv.Itoa(i))
			ada.loggedInAs(t, "ada")
			user := fmt.Sprint("user ", i)
			login(h, user).loggedInAs(t, user)
		}
	}
	if got := ada.Value("seen"); got != strconv.Itoa(flood-1) {
		t.Errorf("ada's session after the flood: seen = %q, want %d", got, flood-1)
	}
	select {
	case err := <-h.Errors:
		t.Errorf("an error reached the ErrorHandler: %v", err)
	default:
	}
}
