// Command example is the echosess demo app on Echo v4 (echov5/example is the same on
// Echo v5).
//
//	GET /        shows the value under "test_key", or how to set one
//	GET /set     stores "something" under "test_key" and redirects to /
//	GET /logout  destroys the session and redirects to /
//
// Sessions live in a SQLite file (-db) or, when -postgres gives a connection string,
// in PostgreSQL, behind an in-memory cache, which on PostgreSQL stays coherent across
// app instances. Either way the schema is migrated on start.
// The flags, the store and the texts are package internal/demo's, shared with the v5
// example; this file holds what is Echo v4's.
package main

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/internal/demo"
)

func main() { demo.Main(newApp) }

// newApp builds the demo's routes over store, with cache in front of it when not nil.
func newApp(store echosess.Store, cache echosess.Cache) http.Handler {
	e := echo.New()
	e.Use(echosess.Middleware(demo.Config[echo.Context](store, cache)))
	e.GET("/", showValue)
	e.GET("/set", setValue)
	e.GET("/logout", logout)
	return e
}

func showValue(c echo.Context) error {
	v, ok, err := echosess.Get[string](c, demo.Key)
	if err != nil {
		return err
	}
	return c.HTML(http.StatusOK, demo.Page(v, ok))
}

func setValue(c echo.Context) error {
	if err := echosess.Set(c, demo.Key, demo.Value); err != nil {
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
