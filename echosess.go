// Package echosess keeps key-value sessions for Echo applications.
//
// The browser holds only a random token in a cookie; the data lives server-side in a
// Store, under a hash of the token. Middleware loads a request's session the first
// time a handler touches it and commits changes just before the response header is
// written. Handlers use Get, Set, Delete, Pop, Clear, Destroy, RenewID, SetExpiry and
// Save.
package echosess

import (
	"hash/maphash"
	"log/slog"
	"net/http"
	"strings"
	"sync"
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
	// Echo. Default: an *echo.HTTPError with status 500 wrapping err.
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
	return echo.NewHTTPError(http.StatusInternalServerError).SetInternal(err)
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
	if cfg.Store == nil {
		panic("echosess: Config.Store is required")
	}
	d := DefaultConfig
	if cfg.Skipper == nil {
		cfg.Skipper = d.Skipper
	}
	if cfg.CookieName == "" {
		cfg.CookieName = d.CookieName
	}
	if cfg.CookiePath == "" {
		cfg.CookiePath = d.CookiePath
	}
	if cfg.CookieSameSite == 0 {
		cfg.CookieSameSite = d.CookieSameSite
	}
	if cfg.DefaultExpiry.isZero() {
		cfg.DefaultExpiry = d.DefaultExpiry
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = d.MaxSize
	}
	if cfg.StoreTimeout == 0 {
		cfg.StoreTimeout = d.StoreTimeout
	}
	if cfg.ErrorHandler == nil {
		cfg.ErrorHandler = d.ErrorHandler
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = d.Now
	}
	m := &manager{Config: cfg, store: cfg.Store, seed: maphash.MakeSeed(), cookieAttrs: cookieAttributes(cfg)}
	if _, inMemory := m.store.(*MemoryStore); !inMemory && cfg.StoreTimeout > 0 {
		m.store = boundedStore{Store: m.store, timeout: cfg.StoreTimeout}
	}
	if cfg.Cache != nil {
		m.store = WithCache(m.store, cfg.Cache, cfg.Logger)
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if cfg.Skipper(c) {
				return next(c)
			}
			c.Set(contextKey, m) // from turns it into a session on first use
			err := next(c)
			s, touched := c.Get(contextKey).(*session)
			if !touched {
				return err
			}
			if cerr := s.finish(); cerr != nil {
				cfg.Logger.ErrorContext(c.Request().Context(), "echosess: saving the session failed", "error", cerr)
				return cfg.ErrorHandler(c, cerr)
			}
			return err
		}
	}
}

// commitLocks is how many locks serialise the commits of one process. Commits of
// the same session take the same lock, so they never race each other to the store.
const commitLocks = 1024

// manager is a Middleware's configuration and the state its requests share.
type manager struct {
	Config
	store       Store  // Config.Store, bounded by StoreTimeout and behind Config.Cache
	cookieAttrs string // the cookie's attributes after its value and Max-Age
	seed        maphash.Seed
	locks       [commitLocks]sync.Mutex
}

// cookieAttributes spells the attributes of the session cookie that cfg configures,
// in the form of a Set-Cookie header after the name and value. It panics on a cookie
// name that no browser would accept.
func cookieAttributes(cfg Config) string {
	ck := http.Cookie{
		Name:     cfg.CookieName,
		Value:    "v",
		Path:     cfg.CookiePath,
		Domain:   cfg.CookieDomain,
		Secure:   !cfg.CookieInsecure,
		HttpOnly: !cfg.CookieScriptReadable,
		SameSite: cfg.CookieSameSite,
	}
	if err := ck.Valid(); err != nil {
		panic("echosess: invalid cookie configuration: " + err.Error())
	}
	return strings.TrimPrefix(ck.String(), cfg.CookieName+"=v")
}

// lock locks the commit lock of the session under key and returns it.
func (m *manager) lock(key string) *sync.Mutex {
	mu := &m.locks[maphash.String(m.seed, key)%commitLocks]
	mu.Lock()
	return mu
}
