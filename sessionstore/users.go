package sessionstore

import "time"

// SessionInfo describes one of a user's sessions, for a "your devices" page, as the
// middleware's UserSessions and ListUserSessions list them.
type SessionInfo struct {
	// Handle names the session to RevokeSession. It is stable for the session's
	// life and not secret: neither the token nor the store key can be recovered from
	// it, and it revokes nothing but a session of the same user. It is the
	// session's ID (the middleware's ID function).
	Handle string
	// Created is when the session was created (or renewed, as at login), LastActive
	// when it was last written: a change, or with Config.IdleTimeout the idle
	// slide, at most a quarter of the timeout apart. Expires is its current expiry.
	Created, LastActive, Expires time.Time
	// Device is what Config.RecordDevice recorded of its client; empty without it.
	Device Device
	// Current marks the session of the request that listed the sessions.
	Current bool
}
