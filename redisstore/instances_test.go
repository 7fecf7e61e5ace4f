package redisstore

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/rueidis"

	"github.com/echosess/echosess"
)

// TestClientReadsOwnWritesOnEveryInstance: a client that writes its session on
// instance A and then reads it on instance B reads its write, even while B's
// client-side cache still holds the session as it was. The test forces that moment
// to last: B's cache answers with the reply it cached before the write, as it would
// until Redis's invalidation arrived. The cookie carries the session's version, and
// B reads Redis when its copy is older. Another holder of the previous cookie may
// still be served the older copy by B until the invalidation arrives.
func TestClientReadsOwnWritesOnEveryInstance(t *testing.T) {
	prefix := fmt.Sprintf("echosess-test-instances-%d:", time.Now().UnixNano())
	storeA := New(newClient(t, singleAddrs, rueidis.ClientOption{}), WithPrefix(prefix))
	clientB := newClient(t, singleAddrs, rueidis.ClientOption{})
	storeB := New(clientB, WithPrefix(prefix))
	held := map[string]rueidis.RedisResult{} // B's cached replies, by key, while held back
	hold := false
	storeB.doCache = func(ctx context.Context, cmd rueidis.Cacheable, ttl time.Duration) rueidis.RedisResult {
		key := cmd.Commands()[1]
		if res, ok := held[key]; hold && ok {
			return res
		}
		held[key] = clientB.DoCache(ctx, cmd, ttl)
		return held[key]
	}
	t.Cleanup(func() {
		for key := range held {
			clientB.Do(context.Background(), clientB.B().Del().Key(key).Build())
		}
	})

	instance := func(store *Store) *echo.Echo {
		e := echo.New()
		e.Use(echosess.Middleware(echosess.Config{Store: store, CookieInsecure: true}))
		e.GET("/get", func(c echo.Context) error {
			v, _, err := echosess.Get[string](c, "v")
			if err != nil {
				return err
			}
			return c.String(http.StatusOK, v)
		})
		e.POST("/set", func(c echo.Context) error {
			return echosess.Set(c, "v", c.QueryParam("v"))
		})
		return e
	}
	a, b := instance(storeA), instance(storeB)
	cookie := ""
	call := func(e *echo.Echo, method, path string) string {
		t.Helper()
		req := httptest.NewRequest(method, path, nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
		if set := rec.Header().Get("Set-Cookie"); set != "" {
			cookie, _, _ = strings.Cut(set, ";")
		}
		return rec.Body.String()
	}

	call(a, http.MethodPost, "/set?v=one")
	first := cookie
	for range 2 { // a miss that fills B's cache, then a hit
		if got := call(b, http.MethodGet, "/get"); got != "one" {
			t.Fatalf("GET on B = %q, want one", got)
		}
	}
	hold = true // B's cache hears of no write from now on
	call(a, http.MethodPost, "/set?v=two")
	if cookie == first {
		t.Fatal("the write on A sent no cookie with the session's new version")
	}
	if got := call(b, http.MethodGet, "/get"); got != "two" {
		t.Fatalf("GET on B after the write on A = %q, want two: the client reads its own write", got)
	}
	cookie = first
	if got := call(b, http.MethodGet, "/get"); got != "one" {
		t.Fatalf("GET on B with the cookie of before the write = %q; want one, B's cached copy (the test holds B's cache back)", got)
	}
}
