package engine

import (
	"errors"

	"github.com/echosess/echosess/sessionstore"
)

// The contract of package sessionstore, under the names the engine has always used.
type (
	Record        = sessionstore.Record
	Device        = sessionstore.Device
	Store         = sessionstore.Store
	Toucher       = sessionstore.Toucher
	UserIndex     = sessionstore.UserIndex
	Cache         = sessionstore.Cache
	ChangeFeed    = sessionstore.ChangeFeed
	CacheRefuser  = sessionstore.CacheRefuser
	VersionLoader = sessionstore.VersionLoader
	ChangeWatcher = sessionstore.ChangeWatcher
	SessionInfo   = sessionstore.SessionInfo
)

// The errors of the stores, and those of the middleware and the handler API. Wrapped
// errors keep them reachable with errors.Is. Their texts do not name the package:
// the handler API prefixes "echosess: " once, to whatever error it returns.
var (
	ErrNotFound  = sessionstore.ErrNotFound
	ErrConflict  = sessionstore.ErrConflict
	ErrDecode    = sessionstore.ErrDecode
	ErrStoreFull = sessionstore.ErrStoreFull

	// ErrTooLarge means a key, a value or the whole encoded session is over its limit.
	ErrTooLarge = errors.New("session data too large")
	// ErrInvalidKey means a session key is empty or not valid UTF-8.
	ErrInvalidKey = errors.New("invalid session key")
	// ErrNoMiddleware means a handler API function got a context that the echosess
	// middleware did not wrap.
	ErrNoMiddleware = errors.New("no session on this context; is echosess.Middleware installed?")
	// ErrSessionEnded means a commit found the session it had loaded ended by another
	// request meanwhile (Destroy, RenewID) or expired. The commit wrote nothing and sent
	// no cookie: a request never brings an ended session back or forks it.
	ErrSessionEnded = errors.New("session ended by a concurrent request")
)

// find returns the first of store and the stores it wraps that is a T: a Store that
// wraps another (metrics, tracing, a test's counter) exposes it with a method
// Unwrap() Store, so that the optional interfaces of the store inside (ChangeFeed,
// UserIndex, Toucher's kin) are still found.
func find[T any](store Store) (T, bool) {
	for store != nil {
		if t, ok := store.(T); ok {
			return t, true
		}
		u, ok := store.(interface{ Unwrap() Store })
		if !ok {
			break
		}
		store = u.Unwrap()
	}
	var zero T
	return zero, false
}
