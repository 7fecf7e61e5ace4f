package main

import (
	"testing"

	"github.com/echosess/echosess/internal/exampletest"
)

// TestSeedPages walks the demo's pages with a cookie jar, on the SQLite store the
// app opens by default.
func TestSeedPages(t *testing.T) { exampletest.SeedPages(t, newApp) }

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
