// Package sessionstore is the contract between echosess and the stores that keep
// its sessions: a Store of Records, the optional interfaces a store may add (Toucher,
// UserIndex, ChangeFeed) and the errors a store returns. It imports no web framework
// and no database driver. An application picks a store from the packages that
// implement it, memstore, sqlitestore, pgstore and mysqlstore, and hands it to the
// middleware of github.com/echosess/echosess (Echo v4) or
// github.com/echosess/echosess/echov5; a store of another database implements Store
// and checks itself with package storetest.
package sessionstore

import (
	"context"
	"encoding/json"
	"time"
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

// VersionLoader is a Store whose Load may answer from a cache of its own that hears of
// other processes' writes only after a moment, as the Redis store's client-side cache
// does. The middleware then carries each session's version in its cookie, as it does
// for a Config.Cache kept coherent by a ChangeFeed, and loads with LoadVersion, so
// that a client reads its own writes on every app instance.
type VersionLoader interface {
	// LoadVersion is Load of a record that the caller saw written at minVersion:
	// a cached copy older than that, or a cached absence, is read again from the
	// store's source.
	LoadVersion(ctx context.Context, key string, minVersion int64) (Record, error)
}

// CacheRefuser is a Store in front of which no Cache may be put. The Redis store is
// one: its loads already come from a client-side cache that Redis keeps coherent
// across app instances, and a second cache in front of it would not hear of other
// instances' writes. Config.Cache fails on such a store; WithCache leaves the cache
// out and logs why.
type CacheRefuser interface {
	// RefuseCache returns why no cache may be put in front of the store, or nil
	// when one may after all.
	RefuseCache() error
}

// ChangeFeed is a Store that reports the changes to its records, including those
// that other processes make, so that a cache in front of it stays coherent across
// app instances. WithCache and Config.Cache watch the feed of any Store that has
// one: a cached record is evicted as soon as its change is reported, and the cache
// is not used while changes may go unreported. The PostgreSQL store is a
// ChangeFeed; storetest.ChangeFeed checks an implementation.
type ChangeFeed interface {
	// WatchChanges starts reporting the changes to the store's records to w, from a
	// goroutine of the store's, and returns the function that stops it. It fails,
	// wrapping errors.ErrUnsupported, when the store cannot report changes (the
	// SQLite store: SQLite notifies no other process). The calls to w are made one
	// at a time, in order, and must return quickly.
	WatchChanges(w ChangeWatcher) (stop func(), err error)
}

// ChangeWatcher receives the reports of a ChangeFeed.
type ChangeWatcher interface {
	// Watching reports that every change from now on will be reported. It comes
	// first, and again after each Lost once the feed has recovered. Changes made
	// before it may have gone unreported.
	Watching()
	// Changed reports that the record under key was written at version, or removed,
	// or changed in a way that kept no version count, when version is 0.
	Changed(key string, version int64)
	// Lost reports that changes may go unreported from now until the next Watching,
	// and why: the feed lost its connection, say, and is reconnecting.
	Lost(err error)
}
