// Package echosess keeps key-value sessions for Echo v5 applications.
//
// It is the Echo v5 twin of github.com/echosess/echosess (for Echo v4): every name
// of that package, with the same meaning, on *echo.Context where it takes Echo's
// request context (TestParity checks it), over the same engine and the same stores:
//
//	store := sqlitestore.New(db)
//	e.Use(echosess.Middleware(echosess.Config{Store: store, Cache: echosess.NewMemoryStore()}))
package echosess

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"

	"github.com/echosess/echosess/internal/engine"
)

// Config configures Middleware. Zero fields take their values from DefaultConfig;
// only Store is required.
type Config struct {
	// Skipper skips the middleware for a request; its handler then has no session.
	// Default: middleware.DefaultSkipper, which skips none.
	Skipper func(c *echo.Context) bool

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
	ErrorHandler func(c *echo.Context, err error) error
	// Logger receives commit failures and dropped sessions. Default slog.Default().
	Logger *slog.Logger
	// Now tells the time. Default time.Now; set it in tests.
	Now func() time.Time
}

// DefaultConfig holds the values that Middleware uses for zero fields of Config.
var DefaultConfig = Config(engine.Defaults[*echo.Context](middleware.DefaultSkipper, defaultErrorHandler))

// engine is cfg as the engine takes it. The conversion compiles only while the two
// structs have the same fields, so a field added to one cannot be missed.
func (cfg Config) engine() engine.Config[*echo.Context] { return engine.Config[*echo.Context](cfg) }

func defaultErrorHandler(_ *echo.Context, err error) error {
	return echo.NewHTTPError(engine.FailureStatus(err), "").Wrap(err)
}

// contextKey is where Middleware keeps the request's session in the echo.Context.
const contextKey = "_echosess"

// Middleware returns Echo middleware that gives each request a lazily loaded session.
// It panics on a configuration that cannot work, such as a nil Store, as Echo's
// middleware does.
func Middleware(cfg Config) echo.MiddlewareFunc {
	serve := engine.Serve(cfg.engine(), DefaultConfig.engine(), framework)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error { return serve(c, next) }
	}
}

// framework is what engine.Serve needs of Echo.
var framework = engine.Framework[*echo.Context]{
	Attach:        func(c *echo.Context, m *engine.Manager) { c.Set(contextKey, m) }, // session turns it into a session
	Started:       started,
	IsServerError: isServerError,
}

// started returns the session of c's request, or nil when the handler never touched
// it.
func started(c *echo.Context) *engine.Session {
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
	engine.Session
	c     *echo.Context
	res   *echo.Response
	flush engine.FlushGuard
}

func (s *echoSession) Request() *http.Request { return s.c.Request() }
func (s *echoSession) Header() http.Header    { return s.res.Header() }
func (s *echoSession) Committed() bool        { return s.res.Committed }
func (s *echoSession) Status() int            { return s.res.Status }
func (s *echoSession) RealIP() string         { return s.c.RealIP() }

func (s *echoSession) Before(fn func()) {
	s.res.Before(fn)
	s.flush = engine.FlushGuard{ResponseWriter: s.res.ResponseWriter, Exchange: s}
	s.res.ResponseWriter = &s.flush
}

func (s *echoSession) WriteHeader() {
	if !s.res.Committed {
		s.res.WriteHeader(cmp.Or(s.res.Status, http.StatusOK))
	}
}

func (s *echoSession) Fail(status int) {
	s.res.Status = status
	s.res.ResponseWriter = engine.FailedWriter(s.res.ResponseWriter)
}

// session returns the session of c's request, starting it on first use from the
// manager that Middleware attached to c.
func session(c *echo.Context) (*engine.Session, error) {
	if c == nil {
		return nil, ErrNoMiddleware
	}
	switch v := c.Get(contextKey).(type) {
	case *echoSession:
		return &v.Session, nil
	case *engine.Manager:
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
