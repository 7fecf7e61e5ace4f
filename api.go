package echosess

import (
	"time"

	"github.com/labstack/echo/v4"

	"github.com/echosess/echosess/internal/engine"
)

// Get returns the value under key decoded into a T. ok is false when the key is
// absent. A value that does not decode into T gives an error wrapping ErrDecode and
// leaves the session as it was.
func Get[T any](c echo.Context, key string) (value T, ok bool, err error) {
	s, err := session(c)
	if err != nil {
		return value, false, err
	}
	return engine.Get[T](s, key)
}

// Set stores value, encoded as JSON, under key. It returns ErrTooLarge and changes
// nothing when the session would grow past Config.MaxSize. Setting the value that
// key holds, encoded alike, is no change: nothing is written for it.
func Set(c echo.Context, key string, value any) error {
	return with(c, func(s *engine.Session) error { return s.Set(key, value) })
}

// Delete removes key from the session.
func Delete(c echo.Context, key string) error {
	return with(c, func(s *engine.Session) error { return s.Delete(key) })
}

// Pop returns the value under key and removes it, as for a flash message or a
// one-time token. Of concurrent requests popping one value, one gets it: the commit
// of any other fails with ErrConflict. A value that does not decode into T is left in
// place.
func Pop[T any](c echo.Context, key string) (value T, ok bool, err error) {
	s, err := session(c)
	if err != nil {
		return value, false, err
	}
	return engine.Pop[T](s, key)
}

// Clear removes every key this request sees but keeps the session and its token. A
// key that another request commits after this one loaded the session survives.
func Clear(c echo.Context) error {
	return with(c, (*engine.Session).Clear)
}

// Destroy ends the session: the commit deletes it from the store and the cache and
// expires the cookie, even when other requests of the session changed or renewed it
// meanwhile. Values set afterwards start a new session with a new token.
func Destroy(c echo.Context) error {
	return with(c, (*engine.Session).Destroy)
}

// RenewID moves the session's data to a new token and makes the old token worthless,
// and starts the session's lifetime (DefaultExpiry) afresh unless SetExpiry sets
// another. Call it when privileges change, such as at login, to defeat session
// fixation.
func RenewID(c echo.Context) error {
	return with(c, (*engine.Session).RenewID)
}

// SetExpiry sets when this session ends, such as a longer life for "remember me".
// An expiry in the past destroys the session.
func SetExpiry(c echo.Context, e Expiry) error {
	return with(c, func(s *engine.Session) error { return s.SetExpiry(e) })
}

// RememberMe makes this session's cookie persistent, lasting until the session's
// expiry even when Config.CookieSessionOnly sends browser-session cookies, or with
// false returns it to the configured kind. A remembered session follows
// Config.RememberedIdleTimeout, by default none, instead of IdleTimeout, so it lasts
// until its expiry however long it goes unused. Pair it with SetExpiry for its
// lifetime:
//
//	echosess.RememberMe(c, true)
//	echosess.SetExpiry(c, echosess.ExpireIn(30*24*time.Hour))
func RememberMe(c echo.Context, remember bool) error {
	return with(c, func(s *engine.Session) error { return s.RememberMe(remember) })
}

// Save commits the session now rather than when the response is written, for
// handlers that want to act on a failure. A failure is then the handler's to answer:
// the automatic commit retries the failed changes only if the session changes again.
func Save(c echo.Context) error {
	return with(c, (*engine.Session).Save)
}

// IsNew reports whether the session is not stored yet: the request carried no cookie
// that names a live session, or the session ended in this request. It loads the
// session when the request has a well-formed session cookie, as Get would.
func IsNew(c echo.Context) (bool, error) {
	return read(c, (*engine.Session).IsNew)
}

// Keys returns the session's keys in sorted order. It loads the session.
func Keys(c echo.Context) ([]string, error) {
	return read(c, (*engine.Session).Keys)
}

// Expires returns when the stored session ends: lifetime is the end of its lifetime,
// however active it stays; idle is when it ends unless another request touches it
// (lifetime itself without an idle timeout: IdleTimeout, or RememberedIdleTimeout
// for a remembered session). Both are zero for a new session. It loads the session.
func Expires(c echo.Context) (lifetime, idle time.Time, err error) {
	s, err := session(c)
	if err != nil {
		return lifetime, idle, err
	}
	return s.Expires()
}

// ID returns an identifier of the session that is safe to log and to show, derived
// from the store key, never the token; "" for a new session, as IsNew tells it. It
// loads the session when the request has a well-formed session cookie, so the cookie
// of an ended, expired or unknown session gives "". It is "" too when the session
// cannot be loaded: the store failed, or the response went out before any call
// loaded it.
func ID(c echo.Context) string {
	s, err := session(c)
	if err != nil {
		return ""
	}
	return s.ID()
}

// read returns what fn reads from the session of c's request.
func read[T any](c echo.Context, fn func(*engine.Session) (T, error)) (T, error) {
	s, err := session(c)
	if err != nil {
		var zero T
		return zero, err
	}
	return fn(s)
}

// with runs fn on the session of c's request.
func with(c echo.Context, fn func(*engine.Session) error) error {
	s, err := session(c)
	if err != nil {
		return err
	}
	return fn(s)
}
