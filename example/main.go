// Command example is the echosess demo app on Echo v4 (echov5/example is the same on
// Echo v5).
//
//	GET /        shows the value under "test_key", or how to set one
//	GET /set     stores "something" under "test_key" and redirects to /
//	GET /logout  destroys the session and redirects to /
//	/login       a form that logs in under any name (no password: it is a demo)
//	/sessions    the user's sessions, with buttons to revoke one, or all but this one
//
// Sessions live in a SQLite file (-db) or, when -postgres gives a connection string,
// in PostgreSQL, behind an in-memory cache, which on PostgreSQL stays coherent across
// app instances. Either way the schema is migrated on start.
// The flags, the store and the texts are package internal/demo's, shared with the v5
// example; this file holds what is Echo v4's.
package main

import (
	"errors"
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
	e.IPExtractor = echo.ExtractIPDirect() // the app faces its clients; see the README's privacy note
	e.GET("/", showValue)
	e.GET("/set", setValue)
	e.GET("/logout", logout)
	e.GET(demo.LoginPath, func(c echo.Context) error { return c.HTML(http.StatusOK, demo.LoginPage()) })
	e.POST(demo.LoginPath, login)
	e.GET(demo.SessionsPath, showSessions)
	e.POST(demo.RevokePath, revokeSession)
	e.POST(demo.RevokeOthersPath, revokeOthers)
	return e
}

func login(c echo.Context) error {
	err := echosess.LoginUser(c, c.FormValue(demo.NameField))
	if errors.Is(err, echosess.ErrInvalidUserID) {
		return echo.NewHTTPError(http.StatusBadRequest, "a name is 1 to 256 bytes").SetInternal(err)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, demo.SessionsPath)
}

func showSessions(c echo.Context) error {
	sessions, err := echosess.UserSessions(c)
	if errors.Is(err, echosess.ErrNoUser) {
		return c.Redirect(http.StatusSeeOther, demo.LoginPath)
	}
	if err != nil {
		return err
	}
	user, err := echosess.UserID(c)
	if err != nil {
		return err
	}
	return c.HTML(http.StatusOK, demo.SessionsPage(user, sessions))
}

func revokeSession(c echo.Context) error {
	err := echosess.RevokeSession(c, c.FormValue(demo.HandleField))
	if errors.Is(err, echosess.ErrUnknownSession) || errors.Is(err, echosess.ErrNoUser) {
		return echo.NewHTTPError(http.StatusNotFound, "no such session of yours").SetInternal(err)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, demo.SessionsPath)
}

func revokeOthers(c echo.Context) error {
	if _, err := echosess.RevokeOtherSessions(c); err != nil && !errors.Is(err, echosess.ErrNoUser) {
		return err
	}
	return c.Redirect(http.StatusSeeOther, demo.SessionsPath)
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
