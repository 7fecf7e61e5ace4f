package echosess

import (
	"context"
	"log/slog"
	"time"

	"github.com/echosess/echosess/internal/engine"
	"github.com/echosess/echosess/memstore"
	"github.com/echosess/echosess/sessionstore"
)

// The names below are those of package sessionstore (the contract between the
// middleware and its stores) and of the engine that both Echo adapters share,
// spelled here so that an application needs no other import for them. The stores
// live in packages of their own, so that an application compiles only the database
// driver it uses: memstore (NewMemoryStore here), sqlitestore, pgstore and
// mysqlstore.

// Errors of the middleware, the handler API and the stores, for errors.Is.
var (
	// ErrNotFound means the store holds no live record under the key.
	ErrNotFound = sessionstore.ErrNotFound
	// ErrConflict means a store's compare-and-swap lost to another write.
	ErrConflict = sessionstore.ErrConflict
	// ErrDecode means stored data, or a value read with Get or Pop, does not decode.
	ErrDecode = sessionstore.ErrDecode
	// ErrStoreFull means a store had no room for a session.
	ErrStoreFull = sessionstore.ErrStoreFull

	// ErrSessionEnded means a commit found its session ended by another request
	// meanwhile (Destroy, RenewID) or expired; it wrote nothing.
	ErrSessionEnded = engine.ErrSessionEnded
	// ErrTooLarge means a key, a value or the whole session is over its limit.
	ErrTooLarge = engine.ErrTooLarge
	// ErrInvalidKey means a session key is empty or not valid UTF-8.
	ErrInvalidKey = engine.ErrInvalidKey
	// ErrNoMiddleware means the context passed to the handler API has no session:
	// the middleware is not installed on its route.
	ErrNoMiddleware = engine.ErrNoMiddleware
	// ErrHeaderWritten means a change came after the response header was written,
	// too late for its cookie.
	ErrHeaderWritten = engine.ErrHeaderWritten

	// ErrInvalidUserID means a user ID is empty, longer than MaxUserIDLen bytes, not
	// valid UTF-8 or holds a NUL byte.
	ErrInvalidUserID = engine.ErrInvalidUserID
	// ErrNoUser means the session is bound to no user.
	ErrNoUser = engine.ErrNoUser
	// ErrUnknownSession means a session handle names none of the user's live sessions.
	ErrUnknownSession = engine.ErrUnknownSession
)

// MaxUserIDLen bounds the length of a user ID in bytes.
const MaxUserIDLen = engine.MaxUserIDLen

type (
	// Expiry says when a session ends: ExpireIn or ExpireAt.
	Expiry = engine.Expiry
	// Store keeps session records; see sessionstore.Store.
	Store = sessionstore.Store
	// Record is a session as a Store keeps it; see sessionstore.Record.
	Record = sessionstore.Record
	// Cache is a fast copy of a Store's records; see sessionstore.Cache.
	Cache = sessionstore.Cache
	// Toucher is a Store that can move a record's expiry without rewriting its data.
	Toucher = sessionstore.Toucher
	// ChangeFeed is a Store that reports the changes to its records, so that a cache
	// in front of it stays coherent across app instances.
	ChangeFeed = sessionstore.ChangeFeed
	// ChangeWatcher receives the reports of a ChangeFeed.
	ChangeWatcher = sessionstore.ChangeWatcher
	// CacheRefuser is a Store in front of which Config.Cache may put no cache,
	// such as the Redis store, whose own client-side cache is the coherent one.
	CacheRefuser = sessionstore.CacheRefuser
	// VersionLoader is a Store that answers from a cache of its own, such as the
	// Redis store: the cookie then carries the session's version.
	VersionLoader = sessionstore.VersionLoader
	// UserIndex is a Store that indexes its records by user, for the user-session
	// functions.
	UserIndex = sessionstore.UserIndex
	// SessionInfo describes one of a user's sessions.
	SessionInfo = sessionstore.SessionInfo
	// Device describes the client of a session.
	Device = sessionstore.Device
	// MemoryStore keeps sessions in process memory; see memstore.Store.
	MemoryStore = memstore.Store
	// Cleaner deletes expired sessions in the background.
	Cleaner = sessionstore.Cleaner
)

// ExpireIn ends a session d after it is created or its expiry is set.
func ExpireIn(d time.Duration) Expiry { return engine.ExpireIn(d) }

// ExpireAt ends a session at t.
func ExpireAt(t time.Time) Expiry { return engine.ExpireAt(t) }

// NewMemoryStore returns an empty MemoryStore, as memstore.New does; the options
// (memstore.WithMaxBytes, memstore.WithMaxAge) are that package's.
func NewMemoryStore(opts ...memstore.Option) *MemoryStore { return memstore.New(opts...) }

// WithCache returns a Store that reads through cache and writes through to both,
// as Config.Cache does, for code outside the middleware.
func WithCache(store Store, cache Cache, logger *slog.Logger) Store {
	return engine.WithCache(store, cache, logger)
}

// StartCleaner deletes expired sessions from store every interval until ctx is done
// or Stop is called; see sessionstore.StartCleaner.
func StartCleaner(ctx context.Context, store Store, interval time.Duration, logger *slog.Logger) *Cleaner {
	return sessionstore.StartCleaner(ctx, store, interval, logger)
}

// RevokeUserSessions ends every session bound to userID in store, now and on every
// app instance, and reports how many it ended; it needs only the store.
func RevokeUserSessions(ctx context.Context, store Store, userID string) (int, error) {
	return engine.RevokeUserSessions(ctx, store, userID)
}

// ListUserSessions lists the live sessions bound to userID in store, for code
// outside a request.
func ListUserSessions(ctx context.Context, store Store, userID string) ([]SessionInfo, error) {
	return engine.ListUserSessions(ctx, store, userID)
}

// RevokeUserSession ends the session of userID in store that handle names, for code
// outside a request.
func RevokeUserSession(ctx context.Context, store Store, userID, handle string) error {
	return engine.RevokeUserSession(ctx, store, userID, handle)
}
