package redisstore_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/redis/rueidis"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/redisstore"
)

// Large sessions: Config.MaxSize bounds a session on every store; within it, a
// session of megabytes goes through Redis whole, unless the server takes less in
// one argument.

// TestSessionSize: a Set that would take a session past Config.MaxSize gets
// ErrTooLarge and changes nothing in Redis; with MaxSize raised, a session of 3 MiB
// is written and read back whole, through the client's cache and from Redis.
func TestSessionSize(t *testing.T) {
	client := newClient(t, singleAddrs, rueidis.ClientOption{})
	const big = 3 << 20
	for _, tc := range []struct {
		name    string
		maxSize int
		size    int
		want    int // status of the Set
	}{
		{"over the default", 0, echosess.DefaultConfig.MaxSize, http.StatusRequestEntityTooLarge},
		{"within a raised limit", 4 << 20, big, http.StatusOK},
		{"over a raised limit", 4 << 20, 4 << 20, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := newPrefix(t, client)
			store := redisstore.New(client, redisstore.WithPrefix(prefix))
			a := newApp(t, echosess.Config{Store: store, MaxSize: tc.maxSize})
			status, body, cookie := a.call(t, http.MethodPost, "/set?k=a&v=1", "")
			if status != http.StatusOK || cookie == "" {
				t.Fatalf("new session: %d %q, cookie %q", status, body, cookie)
			}
			before := stored(t, client, prefix)

			status, body, _ = a.call(t, http.MethodPost, fmt.Sprintf("/set?k=big&n=%d", tc.size), cookie)
			if status != tc.want {
				t.Fatalf("a Set of %d bytes with MaxSize %d: %d %q, want %d", tc.size, tc.maxSize, status, body, tc.want)
			}
			after := stored(t, client, prefix)
			if tc.want != http.StatusOK {
				if after != before {
					t.Fatalf("a Set over MaxSize changed the record in Redis")
				}
				if status, body, _ := a.call(t, http.MethodGet, "/get?k=a", cookie); status != http.StatusOK || body != "1" {
					t.Fatalf("the session after a Set over MaxSize: %d %q, want 1", status, body)
				}
				return
			}
			if len(after) < big {
				t.Fatalf("the record in Redis holds %d bytes after a Set of %d", len(after), big)
			}
			// Read back twice: from Redis into the client's cache, then from the cache;
			// then through another client, which has never cached it.
			other := newClient(t, singleAddrs, rueidis.ClientOption{DisableCache: true})
			otherApp := newApp(t, echosess.Config{Store: redisstore.New(other, redisstore.WithPrefix(prefix)), MaxSize: tc.maxSize})
			for _, app := range []*app{a, a, otherApp} {
				status, body, _ := app.call(t, http.MethodGet, "/get?k=big", cookie)
				if status != http.StatusOK || body != strings.Repeat("x", big) {
					t.Fatalf("reading the large value back: %d, %d bytes", status, len(body))
				}
			}
		})
	}
}

// stored returns the session records under prefix as Redis holds them.
func stored(t *testing.T, client rueidis.Client, prefix string) string {
	t.Helper()
	ctx := t.Context()
	keys, err := client.Do(ctx, client.B().Keys().Pattern(prefix+"s:*").Build()).AsStrSlice()
	if err != nil || len(keys) == 0 {
		t.Fatalf("the session records under %s: %v, %v", prefix, keys, err)
	}
	var b strings.Builder
	for _, key := range keys {
		m, err := client.Do(ctx, client.B().Hgetall().Key(key).Build()).AsStrMap()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %v\n", key, m)
	}
	return b.String()
}

// TestArgumentLimit: a server whose client-query-buffer-limit is lowered below
// MaxSize refuses a session's data, closing the connection; the Save fails with an
// error that names the limits that can do that, the session is left as it was, and
// the store goes on serving on a new connection. (A lowered proto-max-bulk-len
// behaves alike, with Redis's "invalid bulk length" error before the close; it is
// not tested here because rueidis v1.0.80 recycles a command that gets an error
// reply while its writer may still be sending it, which the race detector reports.)
func TestArgumentLimit(t *testing.T) {
	addr := startRedis(t, "--client-query-buffer-limit", "1mb")
	client := newClient(t, []string{addr}, rueidis.ClientOption{})
	a := newApp(t, echosess.Config{Store: redisstore.New(client), MaxSize: 4 << 20})
	status, body, cookie := a.call(t, http.MethodPost, "/set?k=a&v=1", "")
	if status != http.StatusOK || cookie == "" {
		t.Fatalf("new session: %d %q, cookie %q", status, body, cookie)
	}
	status, body, _ = a.call(t, http.MethodPost, fmt.Sprintf("/set?k=big&n=%d", 2<<20), cookie)
	if err := a.lastErr(); status != http.StatusInternalServerError || err == nil || !strings.Contains(err.Error(), "client-query-buffer-limit") {
		t.Fatalf("a Set of 2 MiB with client-query-buffer-limit 1mb: %d %q, error %v; want 500 and an error that names the limits", status, body, err)
	}
	t.Logf("a Set of 2 MiB: %v", a.lastErr())
	for _, c := range []struct{ method, path, want string }{
		{http.MethodGet, "/get?k=a", "1"},
		{http.MethodGet, "/get?k=big", "absent"},
		{http.MethodPost, "/set?k=b&v=2", "ok"},
		{http.MethodGet, "/get?k=b", "2"},
	} {
		if _, body, _ := a.call(t, c.method, c.path, cookie); body != c.want {
			t.Fatalf("%s %s after the refused Set: %q, want %q", c.method, c.path, body, c.want)
		}
	}
}
