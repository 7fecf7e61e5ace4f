package redisstore_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v5"
	"github.com/redis/rueidis"

	"github.com/echosess/echosess/echov5" // package echosess
	"github.com/echosess/echosess/redisstore"
)

// TestEchoV5 runs two Echo v5 app instances, each with a Redis client and store of
// its own on one prefix: a session written through one is read through the other,
// and the v5 Middleware refuses a Config.Cache in front of the store.
func TestEchoV5(t *testing.T) {
	admin := newClient(t, singleAddrs, rueidis.ClientOption{DisableCache: true})
	prefix := newPrefix(t, admin)
	instance := func() *echo.Echo {
		store := redisstore.New(newClient(t, singleAddrs, rueidis.ClientOption{}), redisstore.WithPrefix(prefix))
		e := echo.New()
		e.Use(echosess.Middleware(echosess.Config{Store: store, CookieInsecure: true}))
		e.GET("/get", func(c *echo.Context) error {
			v, ok, err := echosess.Get[int](c, "n")
			if err != nil {
				return err
			}
			return c.String(http.StatusOK, fmt.Sprint(v, ok))
		})
		e.POST("/set", func(c *echo.Context) error {
			return echosess.Set(c, "n", 42)
		})
		return e
	}
	a, b := instance(), instance()
	call := func(e *echo.Echo, method, path, cookie string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}

	set := call(a, http.MethodPost, "/set", "")
	cookie, _, _ := strings.Cut(set.Header().Get("Set-Cookie"), ";")
	if set.Code != http.StatusOK || cookie == "" {
		t.Fatalf("POST /set on A: %d, cookie %q", set.Code, cookie)
	}
	if got := call(b, http.MethodGet, "/get", cookie); got.Code != http.StatusOK || got.Body.String() != "42 true" {
		t.Fatalf("GET /get on B = %d %q, want 200 \"42 true\"", got.Code, got.Body)
	}

	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "caches records in the client") {
			t.Fatalf("Middleware with a Cache in front of the Redis store: recovered %v, want a panic saying why", r)
		}
	}()
	store := redisstore.New(admin, redisstore.WithPrefix(prefix))
	echosess.Middleware(echosess.Config{Store: store, Cache: echosess.NewMemoryStore()})
}
