package main

import (
	"errors"
	"html"
	"html/template"
	"net/http"

	"github.com/labstack/echo/v5"

	"github.com/echosess/echosess/echov5"
)

// showValue shows the value under "test_key", or how to set one.
func showValue(c *echo.Context) error {
	v, ok, err := echosess.Get[string](c, "test_key")
	if err != nil {
		return err
	}
	if !ok {
		return c.HTML(http.StatusOK, "No value set. Go to /set to set a value")
	}
	return c.HTML(http.StatusOK, html.EscapeString(v))
}

// setValue stores "something" under "test_key".
func setValue(c *echo.Context) error {
	if err := echosess.Set(c, "test_key", "something"); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/")
}

func showLogin(c *echo.Context) error {
	return c.Render(http.StatusOK, "login", c.Get("csrf"))
}

// login logs the session in under the form's name: a new token, bound to the user.
func login(c *echo.Context) error {
	err := echosess.LoginUser(c, c.FormValue("name"))
	if errors.Is(err, echosess.ErrInvalidUserID) {
		return echo.NewHTTPError(http.StatusBadRequest, "a name is 1 to 256 bytes").Wrap(err)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/sessions")
}

func showLogout(c *echo.Context) error {
	return c.Render(http.StatusOK, "logout", c.Get("csrf"))
}

// logout ends the session, in the store and in the browser.
func logout(c *echo.Context) error {
	if err := echosess.Destroy(c); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/")
}

// showSessions lists the sessions of the session's user.
func showSessions(c *echo.Context) error {
	sessions, err := echosess.UserSessions(c)
	if errors.Is(err, echosess.ErrNoUser) {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	if err != nil {
		return err
	}
	user, err := echosess.UserID(c)
	if err != nil {
		return err
	}
	return c.Render(http.StatusOK, "sessions", sessionsPage{CSRF: c.Get("csrf"), User: user, Sessions: sessions})
}

// revokeSession ends the user's session that the form's handle names.
func revokeSession(c *echo.Context) error {
	err := echosess.RevokeSession(c, c.FormValue("handle"))
	if errors.Is(err, echosess.ErrUnknownSession) || errors.Is(err, echosess.ErrNoUser) {
		return echo.NewHTTPError(http.StatusNotFound, "no such session of yours").Wrap(err)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/sessions")
}

// revokeOthers ends every session of the user but this one.
func revokeOthers(c *echo.Context) error {
	if _, err := echosess.RevokeOtherSessions(c); err != nil && !errors.Is(err, echosess.ErrNoUser) {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/sessions")
}

// sessionsPage is what the "sessions" page shows.
type sessionsPage struct {
	CSRF     any // the CSRF middleware's token
	User     string
	Sessions []echosess.SessionInfo
}

// pages are the HTML pages with forms; each form carries the CSRF token in the
// field that the CSRF middleware reads (TokenLookup).
var pages = template.Must(template.New("").Parse(`
{{define "csrf"}}<input type="hidden" name="_csrf" value="{{.}}">{{end}}

{{define "login"}}<!doctype html>
<title>Log in</title>
<form method="post" action="/login">{{template "csrf" .}}
<label>Name <input name="name" autofocus required></label>
<button id="login">Log in</button>
</form>
{{end}}

{{define "logout"}}<!doctype html>
<title>Log out</title>
<form method="post" action="/logout">{{template "csrf" .}}<button id="logout">Log out</button></form>
{{end}}

{{define "sessions"}}<!doctype html>
<title>Your sessions</title>
<p id="user">Signed in as {{.User}}</p>
<ul>
{{- range .Sessions}}
<li class="session{{if .Current}} current{{end}}">
{{- if .Current}}This device{{else}}Another device{{end}}, since {{.Created.UTC.Format "2006-01-02 15:04:05"}} UTC, last active {{.LastActive.UTC.Format "15:04:05"}} UTC
{{- with .Device}}: {{.LastUserAgent}} from {{.LastIP}}{{end}}
{{- if not .Current}}
<form method="post" action="/sessions/revoke">{{template "csrf" $.CSRF}}<input type="hidden" name="handle" value="{{.Handle}}"><button class="revoke">Revoke</button></form>
{{- end}}
</li>
{{- end}}
</ul>
<form method="post" action="/sessions/revoke-others">{{template "csrf" .CSRF}}<button id="revoke-others">Log out everywhere else</button></form>
<form method="post" action="/logout">{{template "csrf" .CSRF}}<button id="logout">Log out</button></form>
{{end}}
`))
