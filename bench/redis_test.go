package bench

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
)

// testRedis returns a fresh prefix on the Redis at RedisAddr, whose keys are deleted
// when t ends. Without that Redis it fails t under CI=true, and skips it otherwise.
func testRedis(t *testing.T) *Redis {
	t.Helper()
	r, err := OpenRedis(t.Context(), RedisAddr())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// resp encodes a command as a client sends it: a RESP array of bulk strings.
func resp(args ...string) string {
	var b strings.Builder
	b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	return b.String()
}

// TestRedisCounter feeds redisCounter the batches that rueidis and redigo write, each
// cut at every byte boundary into two writes, and checks what it counts.
func TestRedisCounter(t *testing.T) {
	for _, tc := range []struct {
		name  string
		batch string
		want  Counts // Trips aside: a batch written in two pieces is two writes
	}{
		{"a cache miss of rueidis", resp("CLIENT", "CACHING", "YES") + resp("MULTI") + resp("PTTL", "k") +
			resp("HGETALL", "k") + resp("EXEC"), Counts{Reads: 1, Cmds: 5}},
		{"a read", resp("hgetall", "k"), Counts{Reads: 1, Cmds: 1}},
		{"scs's commit", resp("MULTI") + resp("SET", "k", "a value\r\nwith CRLF") + resp("PEXPIREAT", "k", "1") +
			resp("EXEC"), Counts{Writes: 1, Cmds: 4}},
		{"a script and a read", resp("EVALSHA", "abc", "1", "k") + resp("GET", "k"), Counts{Reads: 1, Writes: 1, Cmds: 2}},
		{"connection set-up", resp("HELLO", "3") + resp("CLIENT", "TRACKING", "ON", "OPTIN") + resp("PING"),
			Counts{Other: 3, Cmds: 3}},
		{"an empty transaction", resp("MULTI") + resp("EXEC"), Counts{Other: 1, Cmds: 2}},
	} {
		for cut := range len(tc.batch) + 1 {
			var n Counter
			rc := redisCounter{n: &n}
			for _, piece := range []string{tc.batch[:cut], tc.batch[cut:]} {
				if piece != "" {
					rc.wrote([]byte(piece))
				}
			}
			got := n.Snapshot()
			wantTrips := int64(2)
			if cut == 0 || cut == len(tc.batch) {
				wantTrips = 1
			}
			if got.Trips != wantTrips {
				t.Errorf("%s, cut at %d: %d round trips, want %d", tc.name, cut, got.Trips, wantTrips)
			}
			got.Trips = 0
			if got != tc.want {
				t.Errorf("%s, cut at %d: counted %+v, want %+v", tc.name, cut, got, tc.want)
			}
		}
	}
}

// TestRedisRoundTrips counts, at the connection, what each library's Redis app sends
// for each kind of request, one session's requests in a row. echosess serves a read
// from rueidis's client-side cache once a read has filled it: no round trip. A
// write invalidates the writer's cached copy too, so the next load goes to Redis
// once; it does whether or not the invalidation has arrived by then, for the store
// reads Redis again when its cache holds a copy older than its own write.
func TestRedisRoundTrips(t *testing.T) {
	type want struct{ reads, writes, trips int64 }
	steps := []struct {
		name         string
		method, path string
		cookie       bool
	}{
		{"first write", http.MethodPost, PathCreate, false},
		{"read", http.MethodGet, PathRead, true},
		{"read again", http.MethodGet, PathRead, true},
		{"write after a read", http.MethodPost, PathWrite, true},
		{"write after a write", http.MethodPost, PathWrite, true},
		{"read after a write", http.MethodGet, PathRead, true},
		{"untouched", http.MethodGet, PathNone, true},
	}
	for _, tc := range []struct {
		lib  string
		want []want // per step
	}{
		{LibEchosess, []want{{0, 1, 1}, {1, 0, 1}, {0, 0, 0}, {0, 1, 1}, {1, 1, 2}, {1, 0, 1}, {0, 0, 0}}},
		{LibSCS, []want{{0, 1, 1}, {1, 0, 1}, {1, 0, 1}, {1, 1, 2}, {1, 1, 2}, {1, 0, 1}, {1, 0, 1}}},
		{LibGorilla, []want{{0, 1, 1}, {1, 0, 1}, {1, 0, 1}, {1, 1, 2}, {1, 1, 2}, {1, 0, 1}, {0, 0, 0}}},
	} {
		t.Run(tc.lib, func(t *testing.T) {
			app, err := NewRedisApp(tc.lib, testRedis(t))
			if err != nil {
				t.Fatal(err)
			}
			defer app.Close()
			var cookie string
			serve := func(method, path string, withCookie bool) {
				t.Helper()
				req := httptest.NewRequest(method, path, nil)
				if withCookie {
					req.Header.Set("Cookie", cookie)
				}
				rec := httptest.NewRecorder()
				app.Handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					t.Fatalf("%s %s: status %d: %s", method, path, rec.Code, rec.Body)
				}
				for _, ck := range rec.Result().Cookies() {
					if ck.Name == CookieName {
						cookie = ck.Name + "=" + ck.Value
					}
				}
			}
			// A first session loads the Lua scripts into Redis's script cache: a
			// script unknown to Redis costs one more round trip, once.
			serve(http.MethodPost, PathCreate, false)
			serve(http.MethodGet, PathRead, true)
			// rueidis opens its connections as keys need them (two with
			// GOMAXPROCS 2, each serving half of the keys), and each begins with
			// set-up commands (HELLO, CLIENT TRACKING), other operations in a round
			// trip of their own. A session whose requests met such a set-up is
			// done again with a new session.
			for attempt := 1; ; attempt++ {
				var wrong []string
				setUp := false
				for i, step := range steps {
					before := app.Count.Snapshot()
					serve(step.method, step.path, step.cookie)
					got := app.Count.Snapshot().Sub(before)
					setUp = setUp || got.Other > 0
					if w := tc.want[i]; got.Reads != w.reads || got.Writes != w.writes || got.Trips != w.trips {
						wrong = append(wrong, fmt.Sprintf("%s: %d reads, %d writes, %d round trips (%d commands); want %d reads, %d writes, %d round trips",
							step.name, got.Reads, got.Writes, got.Trips, got.Cmds, w.reads, w.writes, w.trips))
					}
				}
				if !setUp || attempt == 5 {
					for _, w := range wrong {
						t.Error(w)
					}
					break
				}
			}
		})
	}
}
