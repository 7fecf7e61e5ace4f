package core

import (
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// Config configures the middleware of a framework adapter, whose request context is
// a C: echo.Context for Echo v4, *echo.Context for Echo v5. Each adapter names it
// Config and fills zero fields from its DefaultConfig.
type Config[C any] struct {
	// Skipper skips the middleware for a request; its handler then has no session.
	// Default: skip none.
	Skipper func(c C) bool

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

	// ErrorHandler turns a failed commit into the error the middleware returns to the
	// framework. Default: the framework's HTTP error wrapping err, with the status of
	// FailureStatus (409 for ErrSessionEnded and ErrConflict, 500 otherwise).
	ErrorHandler func(c C, err error) error
	// Logger receives commit failures and dropped sessions. Default slog.Default().
	Logger *slog.Logger
	// Now tells the time. Default time.Now; set it in tests.
	Now func() time.Time
}

// Defaults returns the default Config of an adapter whose framework supplies skipper
// and errorHandler.
func Defaults[C any](skipper func(C) bool, errorHandler func(C, error) error) Config[C] {
	return Config[C]{
		Skipper:        skipper,
		CookieName:     "session",
		CookiePath:     "/",
		CookieSameSite: http.SameSiteLaxMode,
		DefaultExpiry:  ExpireIn(24 * time.Hour),
		MaxSize:        64 << 10,
		StoreTimeout:   5 * time.Second,
		ErrorHandler:   errorHandler,
		Now:            time.Now,
	}
}

// FailureStatus is the HTTP status of a response whose commit failed with err: 409
// when a concurrent request of the session won (the session ended, or a popped value
// was taken), since retrying with the cookie the other request set succeeds; 500 for
// a failure of the store.
func FailureStatus(err error) int {
	if errors.Is(err, ErrSessionEnded) || errors.Is(err, ErrConflict) {
		return http.StatusConflict
	}
	return http.StatusInternalServerError
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
