// Package echosess keeps key-value sessions for Echo applications.
//
// The browser holds only a random token in a cookie; the data lives server-side in a
// Store, under a hash of the token. Middleware loads a request's session the first
// time a handler touches it and commits changes just before the response header is
// written. Handlers use Get, Set, Delete, Pop, Clear, Destroy, RenewID, SetExpiry and
// Save.
package echosess

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// Config configures Middleware. Zero fields take their values from DefaultConfig.
type Config struct {
	// Skipper skips the middleware for a request; its handler then has no session.
	Skipper middleware.Skipper

	// Store keeps the sessions. Required.
	Store Store
	// Cache, if set, is consulted before Store and kept in step with it.
	Cache Cache

	// CookieName names the session cookie. Default "session".
	CookieName string
	// CookiePath is the cookie's Path. Default "/".
	CookiePath string
	// CookieDomain is the cookie's Domain. Default none: the cookie goes back only to
	// the host that set it.
	CookieDomain string
	// CookieSameSite is the cookie's SameSite mode. Default http.SameSiteLaxMode.
	CookieSameSite http.SameSite
	// CookieInsecure drops the Secure attribute, for plain-HTTP sites other than
	// localhost (browsers accept Secure cookies from http://localhost).
	CookieInsecure bool
	// CookieScriptReadable drops the HttpOnly attribute, letting page scripts read the
	// token. Leave it off unless you must.
	CookieScriptReadable bool

	// DefaultExpiry is a new session's lifetime. Default ExpireIn(24 * time.Hour).
	DefaultExpiry Expiry
	// IdleTimeout, if positive, also ends a session after this long without a
	// request that touches it. Each such request pushes the expiry forward (never past
	// the session's own expiry), writing to the store at most once per quarter of
	// the timeout.
	IdleTimeout time.Duration

	// MaxSize bounds a session's encoded size in bytes; Set returns ErrTooLarge past
	// it. Default 64 KiB.
	MaxSize int
	// StoreTimeout bounds each call to Store, on top of the request's context.
	// Default 5 seconds; negative means no bound but the request's. A MemoryStore
	// never waits, so it is not bounded.
	StoreTimeout time.Duration

	// ErrorHandler turns a failed commit into the error the middleware returns to
	// Echo. Default: an *echo.HTTPError wrapping err, with status 409 for
	// ErrSessionEnded and ErrConflict and 500 otherwise.
	ErrorHandler func(c echo.Context, err error) error
	// Logger receives commit failures and dropped sessions. Default slog.Default().
	Logger *slog.Logger
	// Now tells the time. Default time.Now; set it in tests.
	Now func() time.Time
}

// DefaultConfig holds the values that Middleware uses for zero fields of Config.
var DefaultConfig = Config{
	Skipper:        middleware.DefaultSkipper,
	CookieName:     "session",
	CookiePath:     "/",
	CookieSameSite: http.SameSiteLaxMode,
	DefaultExpiry:  ExpireIn(24 * time.Hour),
	MaxSize:        64 << 10,
	StoreTimeout:   5 * time.Second,
	ErrorHandler:   defaultErrorHandler,
	Now:            time.Now,
}

func defaultErrorHandler(_ echo.Context, err error) error {
	return echo.NewHTTPError(failureStatus(err)).SetInternal(err)
}

// Expiry says when a session ends: after a duration (ExpireIn) or at a time (ExpireAt).
type Expiry struct {
	in time.Duration
	at time.Time
}

// ExpireIn ends a session d after it is created or its expiry is set.
func ExpireIn(d time.Duration) Expiry { return Expiry{in: d} }

// ExpireAt ends a session at t.
func ExpireAt(t time.Time) Expiry { return Expiry{at: t} }

func (e Expiry) isZero() bool { return e.in == 0 && e.at.IsZero() }

func (e Expiry) from(now time.Time) time.Time {
	if !e.at.IsZero() {
		return e.at
	}
	return now.Add(e.in)
}

// contextKey is where Middleware keeps the request's session in echo.Context.
const contextKey = "_echosess"

// Middleware returns Echo middleware that gives each request a lazily loaded session.
// It panics if cfg.Store is nil, as Echo's middleware does on invalid configuration.
func Middleware(cfg Config) echo.MiddlewareFunc {
	m := newManager(cfg)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if m.Skipper(c) {
				return next(c)
			}
			c.Set(contextKey, m) // from turns it into a session on first use
			err := next(c)
			s, touched := c.Get(contextKey).(*echoSession)
			if !touched {
				return err
			}
			if cerr := s.finish(); cerr != nil {
				m.Logger.ErrorContext(c.Request().Context(), "echosess: commit failed", "error", cerr)
				return m.ErrorHandler(c, cerr)
			}
			return err
		}
	}
}

// echoSession is a session on an echo.Context, which supplies its exchange.
type echoSession struct {
	session
	c echo.Context
}

func (s *echoSession) Request() *http.Request { return s.c.Request() }
func (s *echoSession) Header() http.Header    { return s.c.Response().Header() }
func (s *echoSession) Committed() bool        { return s.c.Response().Committed }
func (s *echoSession) Before(fn func())       { s.c.Response().Before(fn) }

func (s *echoSession) Fail(status int) {
	res := s.c.Response()
	res.Status = status
	res.Writer = &failedWriter{ResponseWriter: res.Writer}
}

// from returns the session of c's request, creating it on first use from the
// manager that Middleware attached to c.
func from(c echo.Context) (*session, error) {
	if c == nil {
		return nil, ErrNoMiddleware
	}
	switch v := c.Get(contextKey).(type) {
	case *echoSession:
		return &v.session, nil
	case *manager:
		s := &echoSession{c: c}
		s.m, s.x = v, s
		c.Set(contextKey, s)
		return &s.session, nil
	}
	return nil, ErrNoMiddleware
}

// locked runs fn on the session that Middleware attached to c, holding its lock. Its
// error is the handler API's, so it names the package.
func locked(c echo.Context, fn func(*session) error) error {
	s, err := from(c)
	if err == nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		err = fn(s)
	}
	if err != nil {
		return fmt.Errorf("echosess: %w", err)
	}
	return nil
}
