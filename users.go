package echosess

import (
	"github.com/labstack/echo/v4"

	"github.com/echosess/echosess/internal/engine"
)

// The sessions of a user: bind a session at login, list the user's sessions on a
// "your devices" page, revoke one or all but the current one. The store must keep a
// UserIndex, as every store of this package does.

// LoginUser renews the session's token and binds the session to userID: what a
// login handler does once the user has proved who they are. An invalid userID fails
// with ErrInvalidUserID before anything moves: the token and the data stay.
func LoginUser(c echo.Context, userID string) error {
	return with(c, func(s *engine.Session) error { return s.LoginUser(userID) })
}

// BindUser binds the session to the user userID, so that it is listed among the
// user's sessions and revoked with them. Prefer LoginUser, which renews the token
// too; Destroy unbinds, as the session ends.
func BindUser(c echo.Context, userID string) error {
	return with(c, func(s *engine.Session) error { return s.BindUser(userID) })
}

// UserID returns the user the session is bound to, "" when none.
func UserID(c echo.Context) (string, error) {
	return read(c, (*engine.Session).UserID)
}

// UserSessions lists the live sessions of the user the session is bound to, the
// request's own marked Current, newest first. It fails with ErrNoUser on a session
// bound to no user.
func UserSessions(c echo.Context) ([]SessionInfo, error) {
	return read(c, (*engine.Session).UserSessions)
}

// RevokeSession ends the session of the same user that handle (SessionInfo.Handle)
// names, now and on every app instance. A handle of another user's session, or of
// none, fails with ErrUnknownSession and ends nothing. Revoking the request's own
// session is Destroy.
func RevokeSession(c echo.Context, handle string) error {
	return with(c, func(s *engine.Session) error { return s.RevokeSession(handle) })
}

// RevokeOtherSessions ends every session of the user but the request's own ("log
// out everywhere else") and reports how many it ended.
func RevokeOtherSessions(c echo.Context) (int, error) {
	return read(c, (*engine.Session).RevokeOtherSessions)
}
