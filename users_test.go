package echosess_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/internal/adaptertest"
	"github.com/echosess/echosess/internal/adaptertest/allstores"
)

// TestRevokeOutsideRequest (issue 14): a password-reset job or an admin tool revokes
// every session of a user with nothing but the store the middleware was given, and
// the next request of each is logged out at once, also where the middleware keeps a
// cache in front of the store.
func TestRevokeOutsideRequest(t *testing.T) {
	for _, v := range allstores.Variants {
		t.Run(v.Name, func(t *testing.T) {
			store := v.NewStore(t, time.Now)
			call := userApp(t, v, store)
			var ada [2]string
			for i := range ada {
				_, ada[i] = call("/login?user=ada", "")
				if user, _ := call("/user", ada[i]); user != "ada" {
					t.Fatalf("after login the session is bound to %q", user)
				}
			}
			_, bob := call("/login?user=bob", "")

			n, err := echosess.RevokeUserSessions(context.Background(), store, "ada")
			if err != nil || n != 2 {
				t.Fatalf("RevokeUserSessions = %d, %v; want 2", n, err)
			}
			for _, cookie := range ada {
				if user, _ := call("/user", cookie); user != "" {
					t.Errorf("a revoked session is still bound to %q", user)
				}
			}
			if user, _ := call("/user", bob); user != "bob" {
				t.Errorf("bob's session is bound to %q after ada's revocation", user)
			}
			if list, err := echosess.ListUserSessions(context.Background(), store, "ada"); err != nil || len(list) != 0 {
				t.Errorf("ada's sessions after the revocation: %v, %v", list, err)
			}
			if _, err := echosess.RevokeUserSessions(context.Background(), store, ""); !errors.Is(err, echosess.ErrInvalidUserID) {
				t.Errorf("RevokeUserSessions of an empty user: %v, want ErrInvalidUserID", err)
			}
		})
	}
}

// TestRevokeAllWinsOverRenewal (issue 21): RevokeUserSessions ends a session that
// its holder renews while the call runs, after the call listed the user's sessions
// and before it ended them, on every store and through the middleware's cache: none
// of the user's sessions is live once it returns.
func TestRevokeAllWinsOverRenewal(t *testing.T) {
	for _, v := range allstores.Variants {
		t.Run(v.Name, func(t *testing.T) {
			store := v.NewStore(t, time.Now)
			call := userApp(t, v, store)
			_, laptop := call("/login?user=ada", "")
			_, thief := call("/login?user=ada", "")

			gated := &listGate{Store: store, listed: make(chan struct{}), resume: make(chan struct{})}
			type result struct {
				n   int
				err error
			}
			done := make(chan result)
			go func() {
				n, err := echosess.RevokeUserSessions(context.Background(), gated, "ada")
				done <- result{n, err}
			}()
			<-gated.listed
			_, thief = call("/renew", thief)
			close(gated.resume)
			if r := <-done; r.err != nil || r.n != 2 {
				t.Fatalf("RevokeUserSessions = %d, %v; want 2", r.n, r.err)
			}
			for name, cookie := range map[string]string{"laptop": laptop, "renewed thief": thief} {
				if user, _ := call("/user", cookie); user != "" {
					t.Errorf("after the revocation the %s's session is bound to %q", name, user)
				}
			}
		})
	}
}

// userApp serves an app on store, with a memory cache in front when v has one, and
// returns a function that sends it a GET of path with cookie, failing the test
// unless it answers 200, and returns the body and the cookie the client then holds.
// Its routes: /login?user=ID, /renew and /user (the bound user).
func userApp(t *testing.T, v adaptertest.Variant, store echosess.Store) func(path, cookie string) (string, string) {
	cfg := echosess.Config{Store: store, CookieInsecure: true}
	if v.Cached {
		cfg.Cache = echosess.NewMemoryStore()
	}
	e := echo.New()
	e.Use(echosess.Middleware(cfg))
	e.GET("/login", func(c echo.Context) error { return echosess.LoginUser(c, c.QueryParam("user")) })
	e.GET("/renew", func(c echo.Context) error { return echosess.RenewID(c) })
	e.GET("/user", func(c echo.Context) error {
		user, err := echosess.UserID(c)
		if err != nil {
			return err
		}
		return c.String(http.StatusOK, user)
	})
	return func(path, cookie string) (string, string) {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Cookie", cookie)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		for _, ck := range rec.Result().Cookies() {
			cookie = ck.Name + "=" + ck.Value
		}
		return rec.Body.String(), cookie
	}
}

// listGate is a store whose first listing of a user's sessions stops, once it has
// the records, until resume is closed.
type listGate struct {
	echosess.Store
	listed, resume chan struct{}
	once           sync.Once
}

func (s *listGate) UserSessions(ctx context.Context, userID string) ([]echosess.Record, error) {
	recs, err := s.Store.(echosess.UserIndex).UserSessions(ctx, userID)
	s.once.Do(func() {
		close(s.listed)
		<-s.resume
	})
	return recs, err
}

// Unwrap shows the store inside, so that the middleware's cache hears of the
// revocation.
func (s *listGate) Unwrap() echosess.Store { return s.Store }
