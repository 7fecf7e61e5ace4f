package main

import (
	"net/http"
	"path/filepath"
	"testing"

	"github.com/echosess/echosess/internal/exampletest"
)

// TestSeedPages walks the seed's pages and logs out by the form, with a cookie jar.
func TestSeedPages(t *testing.T) { exampletest.SeedPages(t, testApp(t)) }

// TestCSRF checks that every form post without the form's token changes nothing.
func TestCSRF(t *testing.T) { exampletest.CSRF(t, testApp(t)) }

// TestOpenStore opens each store the -store flag names, but PostgreSQL's (the
// browser tests run the default, SQLite).
func TestOpenStore(t *testing.T) { exampletest.OpenStore(t, openStore) }

// TestBrowser drives the built example in headless Chromium, end to end; see
// exampletest.Chromium for when it runs, skips or fails.
func TestBrowser(t *testing.T) {
	chrome := exampletest.Chromium(t)
	exampletest.Browser(t, chrome, exampletest.Build(t))
}

// TestBrowserSessions logs two browser contexts in as one user; one revokes the
// other, whose next page load is logged out.
func TestBrowserSessions(t *testing.T) {
	chrome := exampletest.Chromium(t)
	exampletest.BrowserSessions(t, chrome, exampletest.Build(t))
}

// testApp is the app on a new SQLite file, the store the command opens by default.
func testApp(t *testing.T) http.Handler {
	store, closeStore, err := openStore(t.Context(), "sqlite", filepath.Join(t.TempDir(), "sessions.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeStore)
	return newApp(store, nil)
}
