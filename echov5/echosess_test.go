package echosess_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"

	echosess "github.com/echosess/echosess/echov5"
	"github.com/echosess/echosess/internal/adaptertest"
	"github.com/echosess/echosess/internal/adaptertest/allstores"
	"github.com/echosess/echosess/internal/engine"
)

// The Echo v5 adapter under the test suite of package adaptertest, which every
// adapter runs, and the paths that only Echo v5 has.

// v5 binds the suite to this package's Middleware and handler API.
var v5 = &adaptertest.Binding[*echo.Context, echo.HandlerFunc, echo.MiddlewareFunc]{
	Middleware: func(cfg engine.Config[*echo.Context]) echo.MiddlewareFunc {
		return echosess.Middleware(echosess.Config(cfg))
	},
	DefaultErrorHandler: echosess.DefaultConfig.ErrorHandler,
	Get:                 echosess.Get[string], GetInt: echosess.Get[int], Pop: echosess.Pop[string],
	Set: echosess.Set, Delete: echosess.Delete, Clear: echosess.Clear, Destroy: echosess.Destroy,
	RenewID: echosess.RenewID, SetExpiry: echosess.SetExpiry, RememberMe: echosess.RememberMe, Save: echosess.Save,
	IsNew: echosess.IsNew, Keys: echosess.Keys, Expires: echosess.Expires, ID: echosess.ID,
	LoginUser: echosess.LoginUser, UserID: echosess.UserID, UserSessions: echosess.UserSessions,
	RevokeSession: echosess.RevokeSession, RevokeOtherSessions: echosess.RevokeOtherSessions,
	Response: (*echo.Context).Response,
}

// echoV5 is the adaptertest.Adapter of Echo v5. Its router answers the HEAD requests
// of GET routes, which v5 offers as an option; the tests of v5's own paths add
// middleware and routes.
type echoV5 struct {
	outer  []echo.MiddlewareFunc       // outside echosess, around the suite's own
	inner  []echo.MiddlewareFunc       // inside echosess, around the suite's own
	routes map[string]echo.HandlerFunc // GET routes besides the suite's
}

func (a echoV5) Serve(cfg adaptertest.Config, outside, inside adaptertest.Middleware, routes []adaptertest.Route) http.Handler {
	e := echo.NewWithConfig(echo.Config{Router: echo.NewRouter(echo.RouterConfig{AutoHandleHEAD: true})})
	e.Use(a.outer...)
	e.Use(v5.Use(outside), v5.Session(cfg))
	e.Use(a.inner...)
	e.Use(v5.Use(inside))
	for _, r := range routes {
		e.Add(r.Method, r.Path, v5.Handle(r.Handler))
	}
	for path, h := range a.routes {
		e.GET(path, h)
	}
	return e
}

func TestMiddleware(t *testing.T)       { adaptertest.RunMiddleware(t, echoV5{}, allstores.Variants) }
func TestLifecycle(t *testing.T)        { adaptertest.RunLifecycle(t, echoV5{}, allstores.Variants) }
func TestLinearizable(t *testing.T)     { adaptertest.RunLinearizable(t, echoV5{}, allstores.Variants) }
func TestSkipper(t *testing.T)          { adaptertest.RunSkipper(t, echoV5{}) }
func TestMiddlewarePanics(t *testing.T) { adaptertest.RunBadConfig(t, v5) }
func TestHardening(t *testing.T)        { adaptertest.RunHardening(t, echoV5{}, allstores.Variants) }
func TestUserSessions(t *testing.T)     { adaptertest.RunUsers(t, echoV5{}, allstores.Variants) }

func TestNoMiddleware(t *testing.T) {
	adaptertest.RunNoMiddleware(t, v5, echo.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder()))
}

// Echo v5's own paths, each on the memory store: a handler sets k=v, then answers in
// a way that v4 lacks or that v5 changed.

// newHarness starts the suite's app on Echo v5 as a configures it.
func newHarness(t *testing.T, a echoV5) *adaptertest.Harness {
	t.Helper()
	return adaptertest.NewHarness(t, a, allstores.Variants[0], nil)
}

// setThen returns a handler that sets k=v and then answers with respond.
func setThen(respond echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		if err := echosess.Set(c, "k", "v"); err != nil {
			return err
		}
		return respond(c)
	}
}

// expectCommitted checks that r, the response to a request that set k=v, carries a
// session cookie, and that the change was committed: b reads it back.
func expectCommitted(t *testing.T, b *adaptertest.Browser, r adaptertest.Response) {
	t.Helper()
	if ck := r.Cookie(adaptertest.CookieName); ck == nil || len(ck.Value) != 43 {
		t.Errorf("no session cookie: Set-Cookie %q", r.Header.Get("Set-Cookie"))
	}
	if got := b.Value("k"); got != "v" {
		t.Errorf("k = %q after the response, want the v it set", got)
	}
}

// TestAnswersAfterSet: a handler sets k=v and answers in a way of Echo v5's; the
// cookie goes out with the answer and the change is committed.
func TestAnswersAfterSet(t *testing.T) {
	for _, tt := range []struct {
		name     string
		answer   echo.HandlerFunc
		status   int
		body     string // the body, spaces trimmed, when not empty
		location string
	}{
		// c.JSON writes through a writer that holds back the status until the body
		// is encoded.
		{"JSON", func(c *echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"k": "v"}) },
			http.StatusOK, `{"k":"v"}`, ""},
		{"NoContent", func(c *echo.Context) error { return c.NoContent(http.StatusNoContent) },
			http.StatusNoContent, "", ""},
		{"Redirect", func(c *echo.Context) error { return c.Redirect(http.StatusSeeOther, "/get?k=k") },
			http.StatusSeeOther, "", "/get?k=k"},
		// The handler returns an error without writing: Echo's error handler answers
		// with its status, after the middleware has committed, as it does for a 4xx.
		{"HTTPError", func(*echo.Context) error { return echo.NewHTTPError(http.StatusBadRequest, "bad input") },
			http.StatusBadRequest, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, echoV5{routes: map[string]echo.HandlerFunc{"/answer": setThen(tt.answer)}})
			b := h.Browser()
			b.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			r := b.Get("/answer")
			if r.Status != tt.status || tt.body != "" && strings.TrimSpace(r.Body) != tt.body || r.Header.Get("Location") != tt.location {
				t.Errorf("answered %d %q with Location %q, want %d %q with Location %q",
					r.Status, r.Body, r.Header.Get("Location"), tt.status, tt.body, tt.location)
			}
			expectCommitted(t, b, r)
		})
	}
}

// TestHEADOfGETRoute: the router answers a HEAD of a GET route by running the route
// behind a writer that counts the body and sends the header only once the handler
// has returned; the commit runs before that header.
func TestHEADOfGETRoute(t *testing.T) {
	h := newHarness(t, echoV5{})
	b := h.Browser()
	r, err := b.Do(context.Background(), http.MethodHead, h.URL("/set", "k", "k", "v", "v"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != http.StatusOK || r.Body != "" {
		t.Errorf("HEAD of /set answered %d %q", r.Status, r.Body)
	}
	expectCommitted(t, b, r)
}

// TestPanicUnderRecover: a handler panics after Set under Recover, installed outside
// echosess. The client gets a 500 and the server goes on. What becomes of the change
// is logged, not checked: whether a panicking request may commit is not settled.
func TestPanicUnderRecover(t *testing.T) {
	h := newHarness(t, echoV5{
		outer: []echo.MiddlewareFunc{middleware.Recover()},
		routes: map[string]echo.HandlerFunc{
			"/panic": setThen(func(*echo.Context) error { panic("handler bug") }),
		},
	})
	b := h.Browser()
	r := b.Get("/panic")
	if r.Status != http.StatusInternalServerError {
		t.Errorf("a panic after Set answered %d %q, want 500", r.Status, r.Body)
	}
	if r := h.Browser().Get("/noop"); r.Status != http.StatusOK || r.Body != "noop" {
		t.Errorf("after the panic the server answered %d %q", r.Status, r.Body)
	}
	t.Logf("the 500 of the panic carried Set-Cookie %q; k reads back as %q", r.Header.Get("Set-Cookie"), b.Value("k"))
}

// unwrapping is the response writer of a middleware that wraps the response as
// Echo v5 asks of wrappers: it unwraps to the writer it wraps.
type unwrapping struct{ http.ResponseWriter }

func (w unwrapping) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// opaque is the response writer of a middleware that wraps the response without a
// way back to the *echo.Response.
type opaque struct{ http.ResponseWriter }

// wrapResponse returns middleware that replaces the request's response writer w with
// wrap(w).
func wrapResponse(wrap func(http.ResponseWriter) http.ResponseWriter) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			c.SetResponse(wrap(c.Response()))
			return next(c)
		}
	}
}

func TestWrapperWithUnwrap(t *testing.T) {
	h := newHarness(t, echoV5{inner: []echo.MiddlewareFunc{
		wrapResponse(func(w http.ResponseWriter) http.ResponseWriter { return unwrapping{w} }),
	}})
	b := h.Browser()
	r := b.Get("/set", "k", "k", "v", "v")
	if r.Status != http.StatusOK || r.Body != "ok" {
		t.Errorf("Set behind a writer that unwraps answered %d %q", r.Status, r.Body)
	}
	expectCommitted(t, b, r)
}

// TestWrapperWithoutUnwrap: behind a writer that does not unwrap, the session cannot
// reach the response's header at the right time, so the handler API says so.
func TestWrapperWithoutUnwrap(t *testing.T) {
	h := newHarness(t, echoV5{inner: []echo.MiddlewareFunc{
		wrapResponse(func(w http.ResponseWriter) http.ResponseWriter { return opaque{w} }),
	}})
	r := h.Browser().Get("/set", "k", "k", "v", "v")
	if r.Status < 400 || !strings.Contains(r.Body, "does not unwrap") {
		t.Errorf("Set behind a writer that does not unwrap answered %d %q, want an error status and an error that says so", r.Status, r.Body)
	}
	if ck := r.Cookie(adaptertest.CookieName); ck != nil {
		t.Errorf("Set behind a writer that does not unwrap sent Set-Cookie %q", r.Header.Get("Set-Cookie"))
	}
}
