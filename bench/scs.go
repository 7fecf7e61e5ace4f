package bench

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"
)

// newSCS returns the SessionManager of every scs app, whose Store the caller sets.
func newSCS() *scs.SessionManager {
	sm := scs.New()
	sm.Lifetime = lifetime
	sm.Cookie.Name = CookieName
	sm.Cookie.Secure = false // the load command speaks plain HTTP
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	return sm
}

// SCSMiddleware runs an scs SessionManager as Echo middleware. Like scs's own
// LoadAndSave for net/http, it loads the session named by the request's cookie before
// the handler runs, and commits it, setting the cookie, just before the response
// header is written or, when the handler wrote nothing, after it returns. It hooks
// into Echo's response instead of wrapping the http.ResponseWriter, which spares scs
// the extra echo.Response that echo.WrapMiddleware would allocate per request.
//
// A failed commit turns the response into a 500 when the header is still unwritten,
// and is counted in failures either way.
func SCSMiddleware(sm *scs.SessionManager, failures *atomic.Int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			res := c.Response()
			res.Header().Add(echo.HeaderVary, "Cookie")
			var token string
			if ck, err := c.Request().Cookie(sm.Cookie.Name); err == nil {
				token = ck.Value
			}
			ctx, err := sm.Load(c.Request().Context(), token)
			if err != nil {
				failures.Add(1)
				return err
			}
			c.SetRequest(c.Request().WithContext(ctx))
			committed := false
			commit := func() error {
				committed = true
				err := scsCommit(ctx, sm, res)
				if err != nil {
					failures.Add(1)
				}
				return err
			}
			res.Before(func() {
				if !committed && commit() != nil {
					res.Status = http.StatusInternalServerError
				}
			})
			herr := next(c)
			if !committed && !res.Committed {
				if err := commit(); err != nil {
					return err
				}
			}
			return herr
		}
	}
}

// scsCommit saves a modified session and writes its cookie, or writes the removal
// cookie of a destroyed one.
func scsCommit(ctx context.Context, sm *scs.SessionManager, w http.ResponseWriter) error {
	switch sm.Status(ctx) {
	case scs.Modified:
		token, expiry, err := sm.Commit(ctx)
		if err != nil {
			return err
		}
		sm.WriteSessionCookie(ctx, w, token, expiry)
	case scs.Destroyed:
		sm.WriteSessionCookie(ctx, w, "", time.Time{})
	}
	return nil
}
