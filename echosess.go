// Package echosess keeps key-value sessions for Echo v4 applications.
//
// The browser holds only a random token in a cookie; the data lives server-side in a
// Store, under a hash of the token. Middleware loads a request's session the first
// time a handler touches it and commits changes just before the response header is
// written. Handlers use Get, Set, Delete, Pop, Clear, Destroy, RenewID, SetExpiry and
// Save.
//
// The stores live in packages of their own, which know no Echo version: memstore
// (NewMemoryStore here), sqlitestore, pgstore and mysqlstore, on the contract of
// package sessionstore, whose names this package spells again (Store, Record,
// ErrNotFound, ...). The Echo v5 adapter, github.com/echosess/echosess/echov5, has the same API.
package echosess

import (
	"cmp"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/echosess/echosess/internal/engine"
)

// Config configures Middleware. Zero fields take their values from DefaultConfig;
// only Store is required.
type Config struct {
	// Skipper skips the middleware for a request; its handler then has no session.
	// Default: middleware.DefaultSkipper, which skips none.
	Skipper func(c echo.Context) bool

	// Store keeps the sessions. Required.
	Store Store
	// Cache, if set, is consulted before Store and kept in step with it (see
	// WithCache). Middleware panics on a Cache in front of a store that refuses one
	// (a CacheRefuser, such as the Redis store, which caches coherently itself).
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
	// CookieSessionOnly sends browser-session cookies, without Max-Age or Expires:
	// the browser forgets the session when it closes, while the server-side expiry
	// still ends it. RememberMe makes one session's cookie persistent. Default false:
	// the cookie's Max-Age follows the session's expiry.
	CookieSessionOnly bool

	// DefaultExpiry is a new session's lifetime, and a renewed one's. Default
	// ExpireIn(24 * time.Hour).
	DefaultExpiry Expiry
	// IdleTimeout, if positive, also ends a session after this long without a
	// request that touches it: no sooner than IdleTimeout after the last such
	// request, no later than 1¼ times it, and never past the session's own expiry.
	// The store is written at most once per quarter of the timeout. A remembered
	// session (RememberMe) follows RememberedIdleTimeout instead. Default 0: off.
	IdleTimeout time.Duration
	// RememberedIdleTimeout is the IdleTimeout of remembered sessions (RememberMe),
	// which a user chose to keep longer than a visit. Default 0: none, so a
	// remembered session lasts until its own expiry (SetExpiry), however long it goes
	// unused; set it to end those that go unused for long.
	RememberedIdleTimeout time.Duration

	// RecordDevice records the user agent and IP address (Echo's RealIP, which
	// follows Echo's IPExtractor) of the request that creates a session and of the
	// last one that writes it, for UserSessions' "your devices" listing. Default
	// false: a session holds nothing about its client that the application did not
	// put there.
	RecordDevice bool

	// MaxSize bounds a session's encoded size in bytes; Set returns ErrTooLarge past
	// it. Default 64 KiB.
	MaxSize int
	// StoreTimeout bounds each call to Store and Cache, on top of the request's
	// context; a commit's calls run on a context the client cannot cancel, so that
	// a closed tab cannot stop a logout halfway, and are bounded by it alone.
	// Negative means no bound. A MemoryStore never waits, so it is not bounded.
	// Default 5 seconds.
	StoreTimeout time.Duration

	// ErrorHandler turns a failed commit into the error the middleware returns to
	// Echo. Default: an *echo.HTTPError wrapping err, with status 409 for
	// ErrSessionEnded and ErrConflict (a concurrent request of the session won) and
	// 500 otherwise.
	ErrorHandler func(c echo.Context, err error) error
	// Logger receives commit failures and dropped sessions. Default slog.Default().
	Logger *slog.Logger
	// Now tells the time. Default time.Now; set it in tests.
	Now func() time.Time
}

// DefaultConfig holds the values that Middleware uses for zero fields of Config.
var DefaultConfig = Config(engine.Defaults[echo.Context](middleware.DefaultSkipper, defaultErrorHandler))

// engine is cfg as the engine takes it. The conversion compiles only while the two
// structs have the same fields, so a field added to one cannot be missed.
func (cfg Config) engine() engine.Config[echo.Context] { return engine.Config[echo.Context](cfg) }

func defaultErrorHandler(_ echo.Context, err error) error {
	return echo.NewHTTPError(engine.FailureStatus(err)).SetInternal(err)
}

// contextKey is where Middleware keeps the request's session in echo.Context.
const contextKey = "_echosess"

// Middleware returns Echo middleware that gives each request a lazily loaded session.
// It panics on a configuration that cannot work, such as a nil Store, as Echo's
// middleware does.
func Middleware(cfg Config) echo.MiddlewareFunc {
	serve := engine.Serve(cfg.engine(), DefaultConfig.engine(), framework)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error { return serve(c, next) }
	}
}

// framework is what engine.Serve needs of Echo.
var framework = engine.Framework[echo.Context]{
	Attach:        func(c echo.Context, m *engine.Manager) { c.Set(contextKey, m) }, // session turns it into a session
	Started:       started,
	IsServerError: isServerError,
}

// started returns the session of c's request, or nil when the handler never touched
// it.
func started(c echo.Context) *engine.Session {
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
	engine.Session
	c     echo.Context
	flush engine.FlushGuard
}

func (s *echoSession) Request() *http.Request { return s.c.Request() }
func (s *echoSession) Header() http.Header    { return s.c.Response().Header() }
func (s *echoSession) Committed() bool        { return s.c.Response().Committed }
func (s *echoSession) Status() int            { return s.c.Response().Status }
func (s *echoSession) RealIP() string         { return s.c.RealIP() }

func (s *echoSession) Before(fn func()) {
	res := s.c.Response()
	res.Before(fn)
	s.flush = engine.FlushGuard{ResponseWriter: res.Writer, Exchange: s}
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
	res.Writer = engine.FailedWriter(res.Writer)
}

// session returns the session of c's request, starting it on first use from the
// manager that Middleware attached to c.
func session(c echo.Context) (*engine.Session, error) {
	if c == nil {
		return nil, ErrNoMiddleware
	}
	switch v := c.Get(contextKey).(type) {
	case *echoSession:
		return &v.Session, nil
	case *engine.Manager:
		s := &echoSession{c: c}
		v.Start(&s.Session, s)
		c.Set(contextKey, s)
		return &s.Session, nil
	}
	return nil, ErrNoMiddleware
}
