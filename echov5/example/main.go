// Command example is a whole echosess app on Echo v5, to run and to copy:
// main.go sets it up (flags, store, cleaner, routes, graceful shutdown), store.go
// opens the store, pages.go holds the pages. The example folder at the repository's
// root is the same on Echo v4.
//
//	GET /          shows the value under "test_key", or how to set one
//	GET /set       stores "something" under "test_key" and redirects to /
//	GET /login     a form that logs in under any name (no password: it is a demo)
//	GET /sessions  the user's sessions, with buttons to revoke one, all but this one, or to log out
//	GET /logout    a button that logs out
//
// The forms post to /login, /logout, /sessions/revoke and /sessions/revoke-others,
// each with a CSRF token. Open the app as http://localhost:8000: the session cookie
// is Secure, which browsers accept over plain http on localhost only.
//
// Usage:
//
//	go -C echov5 run ./example [-addr localhost:8000] [-store sqlite|memory|postgres] [-dsn ...]
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"

	"github.com/echosess/echosess/echov5"
)

func main() {
	addr := flag.String("addr", "localhost:8000", "address to listen on")
	kind := flag.String("store", "sqlite", "where sessions live: sqlite, memory or postgres")
	dsn := flag.String("dsn", "", "the SQLite file (default echosess.db), or the PostgreSQL connection string\n(default: the PG* environment variables)")
	flag.Parse()
	if err := run(*addr, *kind, *dsn); err != nil {
		log.Fatal(err)
	}
}

// run serves the app on addr until SIGINT or SIGTERM, then lets the requests in
// flight finish and closes the store.
func run(addr, kind, dsn string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	store, closeStore, err := openStore(ctx, kind, dsn)
	if err != nil {
		return err
	}
	defer closeStore()
	cleaner := echosess.StartCleaner(ctx, store, 10*time.Minute, nil) // deletes expired sessions
	defer cleaner.Stop()
	// A cache in front of a database saves a query per request; on PostgreSQL it
	// stays coherent across app instances.
	var cache echosess.Cache
	if kind != "memory" {
		cache = echosess.NewMemoryStore()
	}

	// Start serves until ctx ends, then gives the requests in flight up to
	// GracefulTimeout to finish.
	sc := echo.StartConfig{Address: addr, HideBanner: true, GracefulTimeout: 10 * time.Second}
	return sc.Start(ctx, newApp(store, cache))
}

// newApp returns the app's routes on store, with cache in front of it when not nil.
func newApp(store echosess.Store, cache echosess.Cache) *echo.Echo {
	e := echo.New()
	e.IPExtractor = echo.ExtractIPDirect() // for RecordDevice; behind a proxy, echo.ExtractIPFromXFFHeader()
	e.Renderer = &echo.TemplateRenderer{Template: pages}
	e.Use(echosess.Middleware(echosess.Config{
		Store:         store,
		Cache:         cache,
		CookieName:    "SESSION_COOKIE",
		DefaultExpiry: echosess.ExpireIn(time.Hour),
		RecordDevice:  true, // for the sessions page
	}))

	e.GET("/", showValue)
	e.GET("/set", setValue)

	// Beyond these two pages, the session changes by form posts only. This
	// middleware gives each form its token (pages.go) and refuses a post without
	// it; a browser that sends Sec-Fetch-Site is checked by that header instead.
	csrf := middleware.CSRFWithConfig(middleware.CSRFConfig{
		TokenLookup:    "form:_csrf",
		CookiePath:     "/",
		CookieSecure:   true,
		CookieHTTPOnly: true,
		CookieSameSite: http.SameSiteStrictMode,
	})
	e.GET("/login", showLogin, csrf)
	e.POST("/login", login, csrf)
	e.GET("/logout", showLogout, csrf)
	e.POST("/logout", logout, csrf)
	e.GET("/sessions", showSessions, csrf)
	e.POST("/sessions/revoke", revokeSession, csrf)
	e.POST("/sessions/revoke-others", revokeOthers, csrf)
	return e
}
