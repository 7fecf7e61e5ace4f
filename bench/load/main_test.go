package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/echosess/echosess/bench"
)

func TestDoChecksReplies(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		write  bool
		checkN bool
		acked  int // the session's last acknowledged write before the request
		ok     bool
		stale  bool
		after  int // and after it
	}{
		{"read", http.StatusOK, bench.User, false, false, 0, true, false, 0},
		{"write", http.StatusOK, "7", true, false, 0, true, false, 0},
		{"wrong user", http.StatusOK, "mallory", false, false, 0, false, false, 0},
		{"server error", http.StatusInternalServerError, "", true, false, 0, false, false, 0},
		{"read n", http.StatusOK, "3", false, true, 3, true, false, 3},
		{"read newer n", http.StatusOK, "4", false, true, 3, true, false, 3},
		{"stale read", http.StatusOK, "2", false, true, 3, true, true, 3},
		{"write n", http.StatusOK, "4", true, true, 3, true, false, 4},
		{"stale write", http.StatusOK, "3", true, true, 3, true, true, 3},
		{"not a number", http.StatusOK, bench.User, false, true, 0, false, false, 0},
	} {
		var path string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			path = r.URL.Path
			w.WriteHeader(tc.status)
			w.Write([]byte(tc.body))
		}))
		s := &session{cookie: "session=x", acked: tc.acked}
		stale, err := do(srv.Client(), srv.URL, s, tc.write, tc.checkN)
		srv.Close()
		if (err == nil) != tc.ok || stale != tc.stale || s.acked != tc.after {
			t.Errorf("%s: do returned %v, %v and left acked %d", tc.name, stale, err, s.acked)
		}
		want := bench.PathRead
		switch {
		case tc.write:
			want = bench.PathWrite
		case tc.checkN:
			want = bench.PathCount
		}
		if path != want {
			t.Errorf("%s: do asked for %s, want %s", tc.name, path, want)
		}
	}
}

// TestDoKeepsTheLatestCookie checks that a client sends the session cookie that the
// last response set, and keeps its cookie when a response sets none.
func TestDoKeepsTheLatestCookie(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Cookie"))
		switch len(got) {
		case 1:
			http.SetCookie(w, &http.Cookie{Name: bench.CookieName, Value: "tok.2"})
			http.SetCookie(w, &http.Cookie{Name: "other", Value: "y"})
		case 2:
			http.SetCookie(w, &http.Cookie{Name: "other", Value: "z"})
		}
		w.Write([]byte("1"))
	}))
	defer srv.Close()
	s := &session{cookie: "session=tok.1"}
	for range 3 {
		if _, err := do(srv.Client(), srv.URL, s, true, false); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"session=tok.1", "session=tok.2", "session=tok.2"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d sent Cookie %q, want %q", i, got[i], want[i])
		}
	}
}

func TestRunCountsNoErrorsOnMemory(t *testing.T) {
	o := options{clients: 2, duration: 200e6, libs: []string{bench.LibEchosess}, store: "memory", rows: []int{0, 10}, rounds: 2, writes: 0.1, instances: 1}
	results, err := run(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.errors != 0 || r.stale != -1 {
			t.Errorf("%s rows=%d: %d errors, stale %d (want -1: not checked)", r.lib, r.rows, r.errors, r.stale)
		}
	}
}

// TestMain lets the test binary serve as the instances of a multi-instance run,
// which start os.Executable with serveFlag.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == serveFlag {
		if err := serveMain(os.Args[1:]); err != nil {
			fatal(err)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRunInstancesNoStaleReads runs two instances of echosess-cache's app behind
// two clients for a second and asks for no errors and no stale reads: with the
// coherent cache, a client that reads on one instance what it wrote on the other
// reads its own write.
func TestRunInstancesNoStaleReads(t *testing.T) {
	dsn := os.Getenv(bench.DSNVar)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(bench.DSNVar + " is not set; CI must run the PostgreSQL tests")
		}
		t.Skip(bench.DSNVar + " is not set")
	}
	o := options{clients: 2, duration: 1e9, store: "postgres", dsn: dsn, rows: []int{0}, rounds: 1, writes: 0.3, instances: 2,
		libs: []string{bench.LibEchosessCache}}
	runWithoutErrors(t, o)
}

// runWithoutErrors runs o and fails the test unless each library of o answered
// without an error or a stale read.
func runWithoutErrors(t *testing.T, o options) {
	t.Helper()
	results, err := run(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != len(o.libs) {
		t.Fatalf("got %d results, want %d", len(results), len(o.libs))
	}
	for _, r := range results {
		if r.errors != 0 || r.stale != 0 {
			t.Errorf("%s: %d errors, %d stale reads, %d of them at the writer", r.lib, r.errors, r.stale, r.staleAtWriter)
		}
	}
}

// TestRunRedisInstances runs two instances of each library's Redis app behind two
// clients for a second and asks for no errors and no stale reads on either
// instance. echosess's cookie carries the session's version, and an instance whose
// rueidis cache holds an older copy reads Redis; scs and gorilla read Redis on every
// request.
func TestRunRedisInstances(t *testing.T) {
	if _, err := bench.OpenRedis(t.Context(), bench.RedisAddr()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	o := options{clients: 2, duration: 1e9, store: "redis", redisAddr: bench.RedisAddr(), rows: []int{0}, rounds: 1, writes: 0.3, instances: 2,
		libs: []string{bench.LibEchosess, bench.LibSCS, bench.LibGorilla}}
	runWithoutErrors(t, o)
}

// TestRunMySQLInstances runs two instances of each library's MySQL app behind two
// clients for a second and asks for no errors and no stale reads: echosess-cache's
// instances learn of each other's writes through the change feed, and its cookie
// carries the session's version, which sends a read of an older cached copy to the
// database.
func TestRunMySQLInstances(t *testing.T) {
	dsn := os.Getenv(bench.MySQLDSNVar)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(bench.MySQLDSNVar + " is not set; CI must run the MySQL tests")
		}
		t.Skip(bench.MySQLDSNVar + " is not set")
	}
	o := options{clients: 2, duration: 1e9, store: "mysql", mysqlDSN: dsn, rows: []int{0}, rounds: 1, writes: 0.3, instances: 2,
		libs: []string{bench.LibEchosess, bench.LibEchosessCache, bench.LibSCS}}
	runWithoutErrors(t, o)
}
