// Package echosess keeps key-value sessions for Echo v5 applications.
//
// It is the Echo v5 twin of github.com/echosess/echosess (for Echo v4): the same
// Middleware, Config and handler API (Get, Set, Delete, Pop, Clear, Destroy,
// RenewID, SetExpiry, Save) on *echo.Context, over the same engine and the same
// stores, which live in github.com/echosess/echosess/core:
//
//	store := core.NewSQLiteStore(db)
//	e.Use(echosess.Middleware(echosess.Config{Store: store, Cache: core.NewMemoryStore()}))
package echosess

import (
	"cmp"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"

	"github.com/echosess/echosess/core"
)

// Config configures Middleware. Zero fields take their values from DefaultConfig.
type Config = core.Config[*echo.Context]

// DefaultConfig holds the values that Middleware uses for zero fields of Config.
var DefaultConfig = core.Defaults[*echo.Context](middleware.DefaultSkipper, defaultErrorHandler)

func defaultErrorHandler(_ *echo.Context, err error) error {
	return echo.NewHTTPError(core.FailureStatus(err), "").Wrap(err)
}

// contextKey is where Middleware keeps the request's session in the echo.Context.
const contextKey = "_echosess"

// Middleware returns Echo middleware that gives each request a lazily loaded session.
// It panics on a configuration that cannot work, such as a nil Store, as Echo's
// middleware does.
func Middleware(cfg Config) echo.MiddlewareFunc {
	serve := core.Serve(cfg, DefaultConfig, framework)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error { return serve(c, next) }
	}
}

// framework is what core.Serve needs of Echo.
var framework = core.Framework[*echo.Context]{
	Attach:        func(c *echo.Context, m *core.Manager) { c.Set(contextKey, m) }, // session turns it into a session
	Started:       started,
	IsServerError: isServerError,
}

// started returns the session of c's request, or nil when the handler never touched
// it.
func started(c *echo.Context) *core.Session {
	if s, ok := c.Get(contextKey).(*echoSession); ok {
		return &s.Session
	}
	return nil
}

// isServerError reports whether Echo answers err with a 5xx.
func isServerError(err error) bool {
	code := echo.StatusCode(err)
	return code == 0 || code >= 500
}

// echoSession is a session on an echo.Context, which supplies its exchange through
// the *echo.Response under whatever writers wrap it (c.JSON's delayed status, the
// automatic HEAD handler, other middleware).
type echoSession struct {
	core.Session
	c     *echo.Context
	res   *echo.Response
	flush core.FlushGuard
}

func (s *echoSession) Request() *http.Request { return s.c.Request() }
func (s *echoSession) Header() http.Header    { return s.res.Header() }
func (s *echoSession) Committed() bool        { return s.res.Committed }
func (s *echoSession) Status() int            { return s.res.Status }
func (s *echoSession) RealIP() string         { return s.c.RealIP() }

func (s *echoSession) Before(fn func()) {
	s.res.Before(fn)
	s.flush = core.FlushGuard{ResponseWriter: s.res.ResponseWriter, Exchange: s}
	s.res.ResponseWriter = &s.flush
}

func (s *echoSession) WriteHeader() {
	if !s.res.Committed {
		s.res.WriteHeader(cmp.Or(s.res.Status, http.StatusOK))
	}
}

func (s *echoSession) Fail(status int) {
	s.res.Status = status
	s.res.ResponseWriter = core.FailedWriter(s.res.ResponseWriter)
}

// session returns the session of c's request, starting it on first use from the
// manager that Middleware attached to c.
func session(c *echo.Context) (*core.Session, error) {
	if c == nil {
		return nil, ErrNoMiddleware
	}
	switch v := c.Get(contextKey).(type) {
	case *echoSession:
		return &v.Session, nil
	case *core.Manager:
		res, err := echo.UnwrapResponse(c.Response())
		if err != nil {
			return nil, fmt.Errorf("echosess: the response writer %T does not unwrap to *echo.Response: %w", c.Response(), err)
		}
		s := &echoSession{c: c, res: res}
		v.Start(&s.Session, s)
		c.Set(contextKey, s)
		return &s.Session, nil
	}
	return nil, ErrNoMiddleware
}

// The errors of the middleware, the handler API and the stores, for errors.Is.
var (
	ErrNotFound      = core.ErrNotFound
	ErrConflict      = core.ErrConflict
	ErrSessionEnded  = core.ErrSessionEnded
	ErrTooLarge      = core.ErrTooLarge
	ErrDecode        = core.ErrDecode
	ErrInvalidKey    = core.ErrInvalidKey
	ErrNoMiddleware  = core.ErrNoMiddleware
	ErrHeaderWritten = core.ErrHeaderWritten

	ErrInvalidUserID  = core.ErrInvalidUserID
	ErrNoUser         = core.ErrNoUser
	ErrUnknownSession = core.ErrUnknownSession
)
