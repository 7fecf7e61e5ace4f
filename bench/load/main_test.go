package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/echosess/echosess/bench"
)

func TestDoChecksReplies(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		write  bool
		ok     bool
	}{
		{"read", http.StatusOK, bench.User, false, true},
		{"write", http.StatusOK, "7", true, true},
		{"wrong user", http.StatusOK, "mallory", false, false},
		{"server error", http.StatusInternalServerError, "", true, false},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.status)
			w.Write([]byte(tc.body))
		}))
		err := do(srv.Client(), srv.URL, "session=x", tc.write)
		srv.Close()
		if (err == nil) != tc.ok {
			t.Errorf("%s: do returned %v", tc.name, err)
		}
	}
}

func TestRunCountsNoErrorsOnMemory(t *testing.T) {
	o := options{clients: 2, duration: 200e6, libs: []string{bench.LibEchosess}, store: "memory", rows: []int{0, 10}, rounds: 2, writes: 0.1}
	errs, err := run(o)
	if err != nil || errs != 0 {
		t.Fatalf("run: %d errors, %v", errs, err)
	}
}
