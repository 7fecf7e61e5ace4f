package echosess_test

// Benchmarks of the hardening rules of issue 11 whose figures RELIABILITY.md compares
// before and after (rules 5, 9, 10 and 11). They use only API that the engine had
// before that issue, so that the same file runs on the commit before it:
//
//	go test -run '^$' -bench 'CookieHeaderHostile|SetManyKeys|ForgedLogout|CacheAfterConflict' -benchmem .

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/echosess/echosess"
)

// hbStore counts the loads and deletes that reach a store.
type hbStore struct {
	echosess.Store
	loads, deletes atomic.Int64
}

func (s *hbStore) Load(ctx context.Context, key string) (echosess.Record, error) {
	s.loads.Add(1)
	return s.Store.Load(ctx, key)
}

func (s *hbStore) Delete(ctx context.Context, key string) error {
	s.deletes.Add(1)
	return s.Store.Delete(ctx, key)
}

// hbApp is an Echo v4 app with the middleware configured by cfg (its Logger
// discarding) and one GET route, handled by h, at /.
func hbApp(cfg echosess.Config, h echo.HandlerFunc) *echo.Echo {
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	e := echo.New()
	e.Use(echosess.Middleware(cfg))
	e.GET("/", h)
	return e
}

// hbServe serves req and fails the benchmark unless the answer is a 200.
func hbServe(b *testing.B, e *echo.Echo, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	return rec
}

// hbRequest is a GET of / with the given Cookie header.
func hbRequest(cookie string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	return req
}

// hbToken returns a well-formed session token that was never issued.
func hbToken(b *testing.B) string {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		b.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

// BenchmarkCookieHeaderHostile (rule 10): the middleware's cost for a request that
// reads the session, with a hostile Cookie header, beside net/http's own reading of
// the same header and a request with one cookie.
func BenchmarkCookieHeaderHostile(b *testing.B) {
	store := echosess.NewMemoryStore()
	e := hbApp(echosess.Config{Store: store}, func(c echo.Context) error {
		v, _, err := echosess.Get[string](c, "k")
		if err != nil {
			return err
		}
		return c.String(http.StatusOK, v)
	})
	setter := hbApp(echosess.Config{Store: store}, func(c echo.Context) error {
		if err := echosess.Set(c, "k", "v"); err != nil {
			return err
		}
		return c.String(http.StatusOK, "ok")
	})
	var token string
	for _, ck := range hbServe(b, setter, hbRequest("")).Result().Cookies() {
		token = ck.Value
	}
	var pairs strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&pairs, "c%d=x; ", i)
	}
	for _, header := range []struct{ name, cookie string }{
		{"OneCookie", "session=" + token},
		{"Semicolons1MiB", strings.Repeat(";", 1<<20)},
		{"5000PairsBeforeSession", pairs.String() + "session=" + token},
	} {
		req := hbRequest(header.cookie)
		b.Run(header.name+"/echosess", func(b *testing.B) {
			b.SetBytes(int64(len(header.cookie)))
			for b.Loop() {
				hbServe(b, e, req)
			}
		})
		b.Run(header.name+"/net-http", func(b *testing.B) {
			b.SetBytes(int64(len(header.cookie)))
			for b.Loop() {
				if _, err := req.Cookie("session"); err != nil && !errors.Is(err, http.ErrNoCookie) {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSetManyKeys (rule 11): one request that sets 7404 keys, as many as fit
// in the default MaxSize of 64 KiB, into a new session.
func BenchmarkSetManyKeys(b *testing.B) {
	const n = 7404
	keys := make([]string, n)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
	}
	e := hbApp(echosess.Config{Store: echosess.NewMemoryStore()}, func(c echo.Context) error {
		for _, k := range keys {
			if err := echosess.Set(c, k, 1); err != nil {
				return err
			}
		}
		return c.String(http.StatusOK, "ok")
	})
	for b.Loop() {
		hbServe(b, e, hbRequest(""))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/Set")
}

// BenchmarkForgedLogout (rule 9): logouts with well-formed tokens that were never
// issued, on a MemoryStore with a MemoryStore cache: the store calls each costs and
// the heap it leaves behind (cache tombstones), per logout.
func BenchmarkForgedLogout(b *testing.B) {
	store := &hbStore{Store: echosess.NewMemoryStore()}
	e := hbApp(echosess.Config{Store: store, Cache: echosess.NewMemoryStore()}, func(c echo.Context) error {
		if err := echosess.Destroy(c); err != nil {
			return err
		}
		return c.String(http.StatusOK, "bye")
	})
	tokens := make([]string, b.N)
	for i := range tokens {
		tokens[i] = "session=" + hbToken(b)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := range b.N {
		hbServe(b, e, hbRequest(tokens[i]))
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(e)
	runtime.KeepAlive(tokens) // not garbage until after the measurement
	b.ReportMetric(float64(store.deletes.Load())/float64(b.N), "deletes/op")
	b.ReportMetric(float64(store.loads.Load())/float64(b.N), "loads/op")
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(b.N), "retained-B/op")
}

// BenchmarkCacheAfterConflict (rule 5): reads through a MemoryStore cache of a record
// after a save of it lost a compare-and-swap: the store loads per read.
func BenchmarkCacheAfterConflict(b *testing.B) {
	ctx := context.Background()
	store := &hbStore{Store: echosess.NewMemoryStore()}
	cached := echosess.WithCache(store, echosess.NewMemoryStore(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	rec := echosess.Record{Key: "k", Data: map[string]json.RawMessage{"a": json.RawMessage("1")}, Expiry: time.Now().Add(time.Hour)}
	if err := cached.Save(ctx, rec); err != nil {
		b.Fatal(err)
	}
	if err := cached.Save(ctx, rec); !errors.Is(err, echosess.ErrConflict) { // at version 0 again
		b.Fatalf("a stale save: %v, want ErrConflict", err)
	}
	loads := store.loads.Load()
	for b.Loop() {
		if _, err := cached.Load(ctx, "k"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(store.loads.Load()-loads)/float64(b.N), "store-loads/op")
}
