package redisstore_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/internal/adaptertest"
	"github.com/echosess/echosess/internal/tcpproxy"
	"github.com/echosess/echosess/redisstore"
	"github.com/echosess/echosess/sessionstore"
)

// Redis unreachable: the single node behind a TCP proxy that the test cuts (closes
// every connection and refuses new ones) or stalls (forwards nothing, as a network
// that drops packets).

// Timeouts of the outage tests, short to keep them fast. rueidis declares a
// connection dead when a PING it sends after KeepAlive without a reply gets none
// within ConnWriteTimeout (defaults 1 s and 10 s).
const (
	outageStoreTimeout = 200 * time.Millisecond
	outageKeepAlive    = 100 * time.Millisecond
	outageWriteTimeout = 500 * time.Millisecond
)

// proxiedClient returns a client of the single node that reaches it through a new
// proxy, with the outage tests' timeouts, and a client that reaches it directly.
func proxiedClient(t *testing.T) (proxied rueidis.Client, p *tcpproxy.Proxy, direct rueidis.Client) {
	t.Helper()
	direct = newClient(t, singleAddrs, rueidis.ClientOption{DisableCache: true})
	p = tcpproxy.New(t, "tcp", singleAddrs[0])
	proxied = newClient(t, []string{p.Addr()}, rueidis.ClientOption{
		Dialer:           net.Dialer{KeepAlive: outageKeepAlive},
		ConnWriteTimeout: outageWriteTimeout,
	})
	return proxied, p, direct
}

// connectionLost waits until client has found its connection to Redis gone, as it
// does when a PING fails.
func connectionLost(t *testing.T, client rueidis.Client) {
	t.Helper()
	waitUntil(t, "the client finds the connection gone", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), outageStoreTimeout)
		defer cancel()
		return client.Do(ctx, client.B().Ping().Build()).Error() != nil
	})
}

// waitUntil polls cond until it holds, failing the test after 10 seconds.
func waitUntil(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	began := time.Now()
	for !cond() {
		if time.Since(began) > 10*time.Second {
			t.Fatalf("still waiting after 10s until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(began)
}

// TestOutage: while Redis is cut off or stalled, a request that writes its session
// answers 500 within about Config.StoreTimeout, with the store's error logged and
// returned, and a request that reads it answers 500 as soon as the client finds the
// connection gone (at once when it is cut; after its ConnWriteTimeout when it
// stalls, serving the record from its cache, if there, until then); a request that
// does not use the session is served. Once Redis is back the same cookie reads
// every write that was answered 200, and writes again.
func TestOutage(t *testing.T) {
	for _, mode := range []string{"cut", "stall"} {
		t.Run(mode, func(t *testing.T) {
			client, proxy, direct := proxiedClient(t)
			store := redisstore.New(client, redisstore.WithPrefix(newPrefix(t, direct)))
			a := newApp(t, echosess.Config{Store: store, StoreTimeout: outageStoreTimeout})

			status, body, cookie := a.call(t, http.MethodPost, "/set?k=a&v=1", "")
			if status != http.StatusOK || cookie == "" {
				t.Fatalf("new session: %d %q, cookie %q", status, body, cookie)
			}
			for _, c := range []struct{ method, path, want string }{
				{http.MethodPost, "/set?k=b&v=2", "ok"},
				{http.MethodGet, "/get?k=a", "1"}, // the record is now in the client's cache
			} {
				if status, body, _ := a.call(t, c.method, c.path, cookie); status != http.StatusOK || body != c.want {
					t.Fatalf("%s %s before the outage: %d %q", c.method, c.path, status, body)
				}
			}

			if mode == "cut" {
				proxy.Cut()
				connectionLost(t, client)
			} else {
				proxy.Stall()
			}
			defer proxy.Restore()

			// A failed commit never answers 200, nor sets another cookie.
			expectFailure := func(method, path, cookie string, wantErrs ...string) {
				t.Helper()
				began := time.Now()
				status, body, set := a.call(t, method, path, cookie)
				took := time.Since(began)
				if status < 500 || set != "" {
					t.Fatalf("%s %s during the outage: %d %q, cookie %q; want a 5xx and no cookie", method, path, status, body, set)
				}
				err := a.lastErr()
				if err == nil || !slices.ContainsFunc(wantErrs, func(want string) bool { return strings.Contains(err.Error(), want) }) {
					t.Fatalf("%s %s during the outage: the error %v, want one that says one of %q", method, path, err, wantErrs)
				}
				t.Logf("%s %s: %d after %v: %v", method, path, status, took.Round(time.Millisecond), err)
			}
			expectFailure(http.MethodPost, "/set?k=a&v=1", "", "redis: save session: ") // a new session
			if log := a.logged(); !strings.Contains(log, "commit failed") || !strings.Contains(log, "redis: save session: ") {
				t.Fatalf("the middleware's log says nothing of the failed commit:\n%s", log)
			}
			// A write to the session loads it first: from Redis, so that the load
			// fails, or, while the connection stalls, from the client's cache if
			// the record is there, so that the save fails.
			expectFailure(http.MethodPost, "/set?k=c&v=3", cookie, "redis: load session: ", "redis: save session: ")
			if status, body, _ := a.call(t, http.MethodGet, "/noop", cookie); status != http.StatusOK {
				t.Fatalf("a request that does not use the session during the outage: %d %q", status, body)
			}
			if mode == "stall" {
				// The client still holds its connection, and serves the record from
				// its cache, if there, until it gives the connection up.
				served := waitUntil(t, "a read of the session fails", func() bool {
					status, body, _ := a.call(t, http.MethodGet, "/get?k=a", cookie)
					if status == http.StatusOK && body != "1" {
						t.Fatalf("a cached read during the stall: %q, want 1", body)
					}
					return status >= 500
				})
				t.Logf("reads of the session failed %v after the first read of the stall", served.Round(time.Millisecond))
			}
			expectFailure(http.MethodGet, "/get?k=a", cookie, "redis: load session: ")
			expectFailure(http.MethodGet, "/get?k=b", cookie, "redis: load session: ")

			proxy.Restore()
			// The stalled commits were held in the proxy, not lost: c=3 may yet be
			// written. What was answered 200 is there.
			waitUntil(t, "the session reads again", func() bool {
				status, _, _ := a.call(t, http.MethodGet, "/get?k=a", cookie)
				return status == http.StatusOK
			})
			for _, c := range []struct{ method, path, want string }{
				{http.MethodGet, "/get?k=a", "1"},
				{http.MethodGet, "/get?k=b", "2"},
				{http.MethodPost, "/set?k=d&v=4", "ok"},
				{http.MethodGet, "/get?k=d", "4"},
			} {
				if status, body, set := a.call(t, c.method, c.path, cookie); status != http.StatusOK || body != c.want || set != "" && adaptertest.TokenOf(set) != adaptertest.TokenOf(cookie) {
					t.Fatalf("%s %s after the outage: %d %q, cookie %q; want %q and the same session", c.method, c.path, status, body, set, c.want)
				}
			}
		})
	}
}

// TestOutageClientCache: what rueidis's client-side cache serves while the
// connection is lost. The cache belongs to a connection, and rueidis drops it when
// the connection ends, so once the client finds a cut connection gone no cached
// record is served. A stalled connection is not found gone until a PING goes
// unanswered for ConnWriteTimeout: until then the cache serves what it holds,
// though another client may have changed it meanwhile, since the server's
// invalidation cannot arrive. After the outage, the record is read fresh.
func TestOutageClientCache(t *testing.T) {
	for _, mode := range []string{"cut", "stall"} {
		t.Run(mode, func(t *testing.T) {
			client, proxy, direct := proxiedClient(t)
			prefix := newPrefix(t, direct)
			store := redisstore.New(client, redisstore.WithPrefix(prefix))
			other := redisstore.New(direct, redisstore.WithPrefix(prefix)) // another instance of the app
			ctx := t.Context()
			rec := sessionstore.Record{Key: "k", Expiry: time.Now().Add(time.Hour)}
			if err := store.Save(ctx, rec); err != nil {
				t.Fatal(err)
			}
			if got, err := store.Load(ctx, "k"); err != nil || got.Version != 1 {
				t.Fatalf("Load = version %d, %v", got.Version, err)
			}

			if mode == "cut" {
				proxy.Cut()
				connectionLost(t, client)
			} else {
				proxy.Stall()
			}
			defer proxy.Restore()
			rec.Version = 1
			if err := other.Save(ctx, rec); err != nil { // version 2, which store cannot hear of
				t.Fatal(err)
			}
			load := func() (sessionstore.Record, error) {
				ctx, cancel := context.WithTimeout(ctx, outageStoreTimeout)
				defer cancel()
				return store.Load(ctx, "k")
			}

			if mode == "stall" {
				got, err := load()
				if err != nil || got.Version != 1 {
					t.Fatalf("a Load at the start of the stall = version %d, %v; want the cached version 1", got.Version, err)
				}
				stale := waitUntil(t, "a Load fails", func() bool {
					got, err := load()
					if err == nil && got.Version != 1 {
						t.Fatalf("a Load during the stall = version %d, want 1 or an error", got.Version)
					}
					return err != nil
				})
				t.Logf("the cache served version 1 while the server held version 2 for %v (ConnWriteTimeout %v, KeepAlive %v)",
					stale.Round(time.Millisecond), outageWriteTimeout, outageKeepAlive)
			}
			for range 3 {
				got, err := load()
				if err == nil || errors.Is(err, sessionstore.ErrNotFound) {
					t.Fatalf("a Load with the connection lost = version %d, %v; want an error", got.Version, err)
				}
			}

			proxy.Restore()
			waitUntil(t, "a Load succeeds", func() bool {
				_, err := load()
				return err == nil
			})
			if got, err := load(); err != nil || got.Version != 2 {
				t.Fatalf("a Load after the outage = version %d, %v; want 2", got.Version, err)
			}
		})
	}
}
