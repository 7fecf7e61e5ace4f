package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"testing"
)

// TestSeedPages walks the demo's pages with a cookie jar, on the SQLite store the
// app opens by default.
func TestSeedPages(t *testing.T) {
	store, closeStore, err := openStore(t.Context(), filepath.Join(t.TempDir(), "sessions.db"), "")
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	srv := httptest.NewServer(newApp(store, nil))
	defer srv.Close()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar}
	page := func(path string) string {
		t.Helper()
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
			t.Fatalf("GET %s ended at %s with %d", path, resp.Request.URL.Path, resp.StatusCode)
		}
		return string(body)
	}
	const empty = "No value set. Go to /set to set a value"
	steps := []struct{ path, want string }{
		{"/", empty},
		{"/set", "something"},
		{"/", "something"},
		{"/logout", empty},
	}
	for _, step := range steps {
		if got := page(step.path); got != step.want {
			t.Fatalf("GET %s shows %q, want %q", step.path, got, step.want)
		}
	}
}
