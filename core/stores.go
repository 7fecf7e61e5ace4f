package core

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Errors returned by the middleware, the handler API and the stores. Wrapped errors
// keep them reachable with errors.Is. Their texts do not name the package: the
// handler API prefixes "echosess: " once, to whatever error it returns.
var (
	// ErrNotFound means the store holds no live record under the key: it never existed,
	// was deleted, or has expired.
	ErrNotFound = errors.New("session not found")
	// ErrConflict means a Save lost a compare-and-swap: the stored version was not the
	// one the record was loaded at.
	ErrConflict = errors.New("session was changed concurrently")
	// ErrTooLarge means a key, a value or the whole encoded session is over its limit.
	ErrTooLarge = errors.New("session data too large")
	// ErrDecode means stored data, or a value read with Get or Pop, does not decode.
	ErrDecode = errors.New("cannot decode session data")
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

// Record is a session as a Store keeps it.
type Record struct {
	// Key identifies the record: a hash of the session token, never the token itself.
	Key string
	// Data maps session keys to their JSON-encoded values.
	Data map[string]json.RawMessage
	// Expiry is when the record stops being live. Stores never return an expired record.
	Expiry time.Time
	// Deadline is the absolute expiry that an idle-timeout slide never moves Expiry past.
	Deadline time.Time
	// Persistent marks a session whose cookie outlives the browser (RememberMe) even
	// when the middleware sends browser-session cookies (Config.CookieSessionOnly).
	Persistent bool
	// Version counts the saves of the record: 0 for one never saved.
	Version int64
	// UserID is the user the session is bound to (BindUser), "" when none. A
	// UserIndex lists and deletes records by it.
	UserID string
	// Created and LastActive are when the record was first saved and last written
	// (a change or an idle slide). The store keeps them from its own clock: a Save
	// ignores what rec holds.
	Created, LastActive time.Time
	// Device is what the middleware recorded of the client, with
	// Config.RecordDevice: at the session's creation and at its last write.
	Device Device
}

// Device describes the client of a session, for a "your devices" page.
type Device struct {
	// UserAgent and IP are those of the request that created the session.
	UserAgent, IP string
	// LastUserAgent and LastIP are those of the request that last wrote it.
	LastUserAgent, LastIP string
}

// Store keeps session records. Implementations must be safe for concurrent use; the
// storetest package checks one against this contract. A Store that wraps another
// (for metrics or tracing) should have a method Unwrap() Store that returns it, so
// that the optional interfaces of the inner store (ChangeFeed, UserIndex) keep
// working through the wrapper.
type Store interface {
	// Load returns the live record under key, or ErrNotFound. The returned Data is
	// the caller's to keep and modify.
	Load(ctx context.Context, key string) (Record, error)
	// Save writes rec under rec.Key with Version rec.Version+1, provided the stored
	// version is still rec.Version (0: no live record exists). Otherwise it writes
	// nothing and returns ErrConflict. The store must not retain rec.Data itself.
	Save(ctx context.Context, rec Record) error
	// Delete removes the record under key. Deleting a missing record is not an error.
	Delete(ctx context.Context, key string) error
	// DeleteExpired removes expired records and reports how many it removed.
	DeleteExpired(ctx context.Context) (int64, error)
}

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

// Toucher is a Store that can move a record's expiry without rewriting its data. The
// middleware uses it for the idle-timeout slide; a Store without it gets a Save of
// the whole record instead.
type Toucher interface {
	// Touch is Save of a record whose Data and UserID are unchanged since it was
	// loaded at rec.Version: it writes rec.Expiry, rec.Deadline and rec.Device as
	// version rec.Version+1, keeping the stored data and user, provided the live
	// stored version is still rec.Version, and returns ErrConflict otherwise. It may
	// ignore rec.Data and rec.UserID.
	Touch(ctx context.Context, rec Record) error
}

// UserIndex is a Store that indexes its records by Record.UserID, so that a user's
// sessions are listed with one indexed query, whatever the number of sessions in the
// store. The middleware's user-session functions (UserSessions, RevokeSession,
// RevokeOtherSessions, RevokeUserSessions) need it; every store of this package has
// it, and storetest.UserIndex checks an implementation. Revocation ends each listed
// session by a compare-and-swap Save, as Destroy does, so that it wins over a
// renewal in flight.
type UserIndex interface {
	// UserSessions returns the live records bound to userID, in any order, with
	// their Data: the link that a renewal leaves behind, which stays bound to the
	// user, is told by it. A record whose data does not decode may come with nil Data.
	UserSessions(ctx context.Context, userID string) ([]Record, error)
}

// Cache is a fast copy of a Store's records, such as a MemoryStore. Put overwrites
// unconditionally: the Store behind it decides conflicts.
type Cache interface {
	// Load returns the live record under key, or ErrNotFound.
	Load(ctx context.Context, key string) (Record, error)
	// Put stores a copy of rec, unless the cache holds a newer version of it or has
	// seen it deleted.
	Put(ctx context.Context, rec Record) error
	// Delete forgets the record under key.
	Delete(ctx context.Context, key string) error
}
