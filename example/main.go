// Command example is the echosess demo app.
//
//	GET /        shows the value under "test_key", or how to set one
//	GET /set     stores "something" under "test_key" and redirects to /
//	GET /logout  destroys the session and redirects to /
package main

import (
	"errors"
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/echosess/echosess"
	"github.com/labstack/echo/v4"
)

func main() {
	addr := flag.String("addr", ":8000", "address to listen on")
	flag.Parse()

	store := echosess.NewMemoryStore()
	e := newApp(store, nil)
	log.Printf("listening on %s", *addr)
	if err := e.Start(*addr); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// newApp builds the demo's routes over store, with cache in front of it when not nil.
func newApp(store echosess.Store, cache echosess.Cache) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.Use(echosess.Middleware(echosess.Config{
		Store:         store,
		Cache:         cache,
		CookieName:    "SESSION_COOKIE",
		DefaultExpiry: echosess.ExpireIn(time.Hour),
	}))
	e.GET("/", showValue)
	e.GET("/set", setValue)
	e.GET("/logout", logout)
	return e
}

func showValue(c echo.Context) error {
	v, ok, err := echosess.Get[string](c, "test_key")
	if err != nil {
		return err
	}
	if !ok {
		return c.HTML(http.StatusOK, "No value set. Go to /set to set a value")
	}
	return c.HTML(http.StatusOK, v)
}

func setValue(c echo.Context) error {
	if err := echosess.Set(c, "test_key", "something"); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/")
}

func logout(c echo.Context) error {
	if err := echosess.Destroy(c); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/")
}
