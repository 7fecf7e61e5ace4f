package echosess_test

import (
	"context"
	"database/sql"
	"fmt"
	"html"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	_ "modernc.org/sqlite"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/sqlitestore"
)

// The examples serve their app with httptest and talk to it as a browser would, with
// a cookie jar; the server's TLS makes the Secure session cookie travel.

// visit sends a request to srv as the browser with jar, and returns the body.
func visit(srv *httptest.Server, jar http.CookieJar, method, path string, form url.Values) string {
	client := srv.Client()
	client.Jar = jar
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		log.Fatal(err)
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return resp.Status + " to " + resp.Header.Get("Location")
	}
	return string(body)
}

func newJar() http.CookieJar {
	jar, err := cookiejar.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	return jar
}

// The quick start: sessions in SQLite behind an in-memory cache, with the cleaner
// that deletes expired sessions.
func ExampleMiddleware() {
	dir, err := os.MkdirTemp("", "echosess-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	db, err := sql.Open("sqlite", sqlitestore.DSN(filepath.Join(dir, "sessions.db")))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if err := sqlitestore.Migrate(ctx, db); err != nil {
		log.Fatal(err)
	}
	store := sqlitestore.New(db)
	cleaner := echosess.StartCleaner(ctx, store, 10*time.Minute, nil)
	defer cleaner.Stop()

	e := echo.New()
	e.Use(echosess.Middleware(echosess.Config{
		Store: store,
		Cache: echosess.NewMemoryStore(), // one app instance: see docs/instances.md for several
	}))
	e.GET("/", func(c echo.Context) error {
		n, _, err := echosess.Get[int](c, "visits")
		if err != nil {
			return err
		}
		if err := echosess.Set(c, "visits", n+1); err != nil {
			return err
		}
		return c.String(http.StatusOK, fmt.Sprintf("visit %d", n+1))
	})

	srv := httptest.NewTLSServer(e)
	defer srv.Close()
	jar := newJar()
	fmt.Println(visit(srv, jar, http.MethodGet, "/", nil))
	fmt.Println(visit(srv, jar, http.MethodGet, "/", nil))
	// Output:
	// visit 1
	// visit 2
}

// A login handler: a new token at login (RenewID), and a session that outlives the
// browser only when the user asks to be remembered. The app sends browser-session
// cookies otherwise, and ends sessions unused for 30 minutes, but not remembered
// ones (RememberedIdleTimeout is 0): they last their 30 days.
func ExampleRenewID() {
	e := echo.New()
	e.Use(echosess.Middleware(echosess.Config{
		Store:             echosess.NewMemoryStore(),
		CookieSessionOnly: true,
		IdleTimeout:       30 * time.Minute,
	}))
	e.POST("/login", func(c echo.Context) error {
		// ... check the credentials, then:
		if err := echosess.RenewID(c); err != nil {
			return err
		}
		if c.FormValue("remember") == "on" {
			if err := echosess.RememberMe(c, true); err != nil {
				return err
			}
			if err := echosess.SetExpiry(c, echosess.ExpireIn(30*24*time.Hour)); err != nil {
				return err
			}
		}
		if err := echosess.Set(c, "user", c.FormValue("user")); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/")
	})

	srv := httptest.NewTLSServer(e)
	defer srv.Close()
	for _, remember := range []string{"", "on"} {
		req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{"user": {"ada"}, "remember": {remember}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		cookie := rec.Result().Cookies()[0]
		fmt.Printf("remember=%q: Max-Age %d\n", remember, cookie.MaxAge)
	}
	// Output:
	// remember="": Max-Age 0
	// remember="on": Max-Age 2592000
}

// A flash message: set before a redirect, shown once by Pop.
func ExamplePop() {
	e := echo.New()
	e.Use(echosess.Middleware(echosess.Config{Store: echosess.NewMemoryStore()}))
	e.POST("/save", func(c echo.Context) error {
		if err := echosess.Set(c, "flash", "Saved."); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/")
	})
	e.GET("/", func(c echo.Context) error {
		flash, ok, err := echosess.Pop[string](c, "flash")
		if err != nil {
			return err
		}
		if !ok {
			flash = "(no message)"
		}
		return c.String(http.StatusOK, flash)
	})

	srv := httptest.NewTLSServer(e)
	defer srv.Close()
	jar := newJar()
	fmt.Println(visit(srv, jar, http.MethodPost, "/save", nil))
	fmt.Println(visit(srv, jar, http.MethodGet, "/", nil))
	fmt.Println(visit(srv, jar, http.MethodGet, "/", nil))
	// Output:
	// 303 See Other to /
	// Saved.
	// (no message)
}

// Logout: Destroy ends the session in the store and removes the cookie; even a
// request of the same session still in flight cannot bring it back.
func ExampleDestroy() {
	e := echo.New()
	e.Use(echosess.Middleware(echosess.Config{Store: echosess.NewMemoryStore()}))
	e.POST("/login", func(c echo.Context) error {
		return echosess.Set(c, "user", "ada")
	})
	e.POST("/logout", func(c echo.Context) error {
		if err := echosess.Destroy(c); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/")
	})
	e.GET("/", func(c echo.Context) error {
		user, ok, err := echosess.Get[string](c, "user")
		if err != nil {
			return err
		}
		if !ok {
			user = "nobody"
		}
		return c.String(http.StatusOK, "logged in: "+user)
	})

	srv := httptest.NewTLSServer(e)
	defer srv.Close()
	jar := newJar()
	visit(srv, jar, http.MethodPost, "/login", nil)
	fmt.Println(visit(srv, jar, http.MethodGet, "/", nil))
	visit(srv, jar, http.MethodPost, "/logout", nil)
	fmt.Println(visit(srv, jar, http.MethodGet, "/", nil))
	// Output:
	// logged in: ada
	// logged in: nobody
}

// Echo's CSRF middleware alongside echosess: the form carries the token that the CSRF
// middleware put in the context, and a POST without it is refused.
func ExampleMiddleware_csrf() {
	e := echo.New()
	e.Use(echosess.Middleware(echosess.Config{Store: echosess.NewMemoryStore()}))
	e.Use(middleware.CSRFWithConfig(middleware.CSRFConfig{
		TokenLookup:    "form:_csrf", // the hidden field of the form below
		CookieSecure:   true,
		CookieHTTPOnly: true,
		CookieSameSite: http.SameSiteLaxMode,
	}))
	e.GET("/", func(c echo.Context) error {
		token := c.Get(middleware.DefaultCSRFConfig.ContextKey).(string)
		return c.HTML(http.StatusOK, `<form method="post" action="/name">`+
			`<input type="hidden" name="_csrf" value="`+html.EscapeString(token)+`">`+
			`<input name="name"></form>`)
	})
	e.POST("/name", func(c echo.Context) error {
		if err := echosess.Set(c, "name", c.FormValue("name")); err != nil {
			return err
		}
		return c.String(http.StatusOK, "saved "+c.FormValue("name"))
	})

	srv := httptest.NewTLSServer(e)
	defer srv.Close()
	jar := newJar()
	page := visit(srv, jar, http.MethodGet, "/", nil)
	token := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(page)[1]
	fmt.Println(visit(srv, jar, http.MethodPost, "/name", url.Values{"_csrf": {token}, "name": {"ada"}}))
	fmt.Println(visit(srv, jar, http.MethodPost, "/name", url.Values{"name": {"mallory"}}))
	// Output:
	// saved ada
	// {"message":"missing csrf token in the form parameter"}
}
