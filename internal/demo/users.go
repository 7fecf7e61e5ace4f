package demo

import (
	"html/template"
	"strings"

	"github.com/echosess/echosess/core"
)

// The paths and form fields of the demo's user pages: a login form for any name
// (no password: it is a demo), and a "your sessions" page that lists the user's
// sessions with a button to revoke each other one and one to log out everywhere
// else.
const (
	LoginPath        = "/login"                  // GET: the form; POST: log in as the form's name
	SessionsPath     = "/sessions"               // GET: the user's sessions
	RevokePath       = "/sessions/revoke"        // POST: revoke the session of the form's handle
	RevokeOthersPath = "/sessions/revoke-others" // POST: revoke every session but this one
	NameField        = "name"
	HandleField      = "handle"
)

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<title>Log in</title>
<form method="post" action="` + LoginPath + `">
<label>Name <input name="` + NameField + `" autofocus required></label>
<button id="login">Log in</button>
</form>
`))

var sessionsPage = template.Must(template.New("sessions").Parse(`<!doctype html>
<title>Your sessions</title>
<p id="user">Signed in as {{.User}}</p>
<ul>
{{- range .Sessions}}
<li class="session{{if .Current}} current{{end}}">
{{- if .Current}}This device{{else}}Another device{{end}}, since {{.Created.UTC.Format "2006-01-02 15:04:05"}} UTC, last active {{.LastActive.UTC.Format "15:04:05"}} UTC
{{- with .Device}}: {{.LastUserAgent}} from {{.LastIP}}{{end}}
{{- if not .Current}}
<form method="post" action="` + RevokePath + `"><input type="hidden" name="` + HandleField + `" value="{{.Handle}}"><button class="revoke">Revoke</button></form>
{{- end}}
</li>
{{- end}}
</ul>
<form method="post" action="` + RevokeOthersPath + `"><button id="revoke-others">Log out everywhere else</button></form>
<p><a href="/logout">Log out</a></p>
`))

// LoginPage returns the HTML of the login form.
func LoginPage() string {
	var b strings.Builder
	_ = loginPage.Execute(&b, nil)
	return b.String()
}

// SessionsPage returns the HTML of the "your sessions" page of user.
func SessionsPage(user string, sessions []core.SessionInfo) string {
	var b strings.Builder
	_ = sessionsPage.Execute(&b, struct {
		User     string
		Sessions []core.SessionInfo
	}{user, sessions})
	return b.String()
}
