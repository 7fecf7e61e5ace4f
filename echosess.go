// Package echosess keeps key-value sessions for Echo v4 applications.
//
// The browser holds only a random token in a cookie; the data lives server-side in a
// Store, under a hash of the token. Middleware loads a request's session the first
// time a handler touches it and commits changes just before the response header is
// written. Handlers use Get, Set, Delete, Pop, Clear, Destroy, RenewID, SetExpiry and
// Save.
//
// The engine and the stores live in package core, which knows no Echo version and
// which the Echo v5 adapter (github.com/echosess/echosess/echov5) shares; this
// package names them again, so that a v4 application needs only this import.
package echosess

import (
	"cmp"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/echosess/echosess/core"
)

// Config configures Middleware. Zero fields take their values from DefaultConfig.
type Config = core.Config[echo.Context]

// DefaultConfig holds the values that Middleware uses for zero fields of Config.
var DefaultConfig = core.Defaults[echo.Context](middleware.DefaultSkipper, defaultErrorHandler)

func defaultErrorHandler(_ echo.Context, err error) error {
	return echo.NewHTTPError(core.FailureStatus(err)).SetInternal(err)
}

// contextKey is where Middleware keeps the request's session in echo.Context.
const contextKey = "_echosess"

// Middleware returns Echo middleware that gives each request a lazily loaded session.
// It panics on a configuration that cannot work, such as a nil Store, as Echo's
// middleware does.
func Middleware(cfg Config) echo.MiddlewareFunc {
	serve := core.Serve(cfg, DefaultConfig, framework)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error { return serve(c, next) }
	}
}

// framework is what core.Serve needs of Echo.
var framework = core.Framework[echo.Context]{
	Attach:        func(c echo.Context, m *core.Manager) { c.Set(contextKey, m) }, // session turns it into a session
	Started:       started,
	IsServerError: isServerError,
}

// started returns the session of c's request, or nil when the handler never touched
// it.
func started(c echo.Context) *core.Session {
	if s, ok := c.Get(contextKey).(*echoSession); ok {
		return &s.Session
	}
	return nil
}

// isServerError reports whether Echo answers err with a 5xx.
func isServerError(err error) bool {
	var he *echo.HTTPError
	return !errors.As(err, &he) || he.Code >= 500
}

// echoSession is a session on an echo.Context, which supplies its exchange.
type echoSession struct {
	core.Session
	c     echo.Context
	flush core.FlushGuard
}

func (s *echoSession) Request() *http.Request { return s.c.Request() }
func (s *echoSession) Header() http.Header    { return s.c.Response().Header() }
func (s *echoSession) Committed() bool        { return s.c.Response().Committed }
func (s *echoSession) Status() int            { return s.c.Response().Status }
func (s *echoSession) RealIP() string         { return s.c.RealIP() }

func (s *echoSession) Before(fn func()) {
	res := s.c.Response()
	res.Before(fn)
	s.flush = core.FlushGuard{ResponseWriter: res.Writer, Exchange: s}
	res.Writer = &s.flush
}

func (s *echoSession) WriteHeader() {
	if res := s.c.Response(); !res.Committed {
		res.WriteHeader(cmp.Or(res.Status, http.StatusOK))
	}
}

func (s *echoSession) Fail(status int) {
	res := s.c.Response()
	res.Status = status
	res.Writer = core.FailedWriter(res.Writer)
}

// session returns the session of c's request, starting it on first use from the
// manager that Middleware attached to c.
func session(c echo.Context) (*core.Session, error) {
	if c == nil {
		return nil, ErrNoMiddleware
	}
	switch v := c.Get(contextKey).(type) {
	case *echoSession:
		return &v.Session, nil
	case *core.Manager:
		s := &echoSession{c: c}
		v.Start(&s.Session, s)
		c.Set(contextKey, s)
		return &s.Session, nil
	}
	return nil, ErrNoMiddleware
}
