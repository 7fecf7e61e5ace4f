package engine

import (
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// Config configures the middleware of a framework adapter, whose request context is
// a C: echo.Context for Echo v4, *echo.Context for Echo v5. Each adapter declares a
// Config struct of its own with the same fields, documented there for its users,
// and converts it to this one; the conversion compiles only while the fields agree.
type Config[C any] struct {
	Skipper func(c C) bool

	Store Store
	Cache Cache

	CookieName           string
	CookiePath           string
	CookieDomain         string
	CookieSameSite       http.SameSite
	CookieInsecure       bool
	CookieScriptReadable bool
	CookieSessionOnly    bool

	DefaultExpiry         Expiry
	IdleTimeout           time.Duration
	RememberedIdleTimeout time.Duration

	RecordDevice bool

	MaxSize      int
	StoreTimeout time.Duration

	ErrorHandler func(c C, err error) error
	Logger       *slog.Logger
	Now          func() time.Time
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
