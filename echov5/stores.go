package echosess

import (
	"context"
	"database/sql"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/echosess/echosess/core"
)

// The names below are package core's, spelled here so that an Echo v5 application
// needs only this package, and with the same meaning as in the Echo v4 package
// (TestParity). Their documentation is in core.

// Errors of the middleware, the handler API and the stores, for errors.Is.
var (
	ErrNotFound      = core.ErrNotFound
	ErrConflict      = core.ErrConflict
	ErrSessionEnded  = core.ErrSessionEnded
	ErrTooLarge      = core.ErrTooLarge
	ErrDecode        = core.ErrDecode
	ErrInvalidKey    = core.ErrInvalidKey
	ErrNoMiddleware  = core.ErrNoMiddleware
	ErrHeaderWritten = core.ErrHeaderWritten
	ErrStoreFull     = core.ErrStoreFull

	ErrInvalidUserID  = core.ErrInvalidUserID
	ErrNoUser         = core.ErrNoUser
	ErrUnknownSession = core.ErrUnknownSession
)

type (
	// Expiry says when a session ends.
	Expiry = core.Expiry
	// Store keeps session records.
	Store = core.Store
	// Record is a session as a Store keeps it.
	Record = core.Record
	// Cache is a fast copy of a Store's records.
	Cache = core.Cache
	// Toucher is a Store that can move a record's expiry without rewriting its data.
	Toucher = core.Toucher
	// ChangeFeed is a Store that reports the changes to its records, so that a cache
	// in front of it stays coherent across app instances.
	ChangeFeed = core.ChangeFeed
	// ChangeWatcher receives the reports of a ChangeFeed.
	ChangeWatcher = core.ChangeWatcher
	// UserIndex is a Store that indexes its records by user, for the user-session
	// functions.
	UserIndex = core.UserIndex
	// SessionInfo describes one of a user's sessions.
	SessionInfo = core.SessionInfo
	// Device describes the client of a session.
	Device = core.Device
	// MemoryStore keeps sessions in process memory.
	MemoryStore = core.MemoryStore
	// SQLStore is a Store kept in SQLite or PostgreSQL.
	SQLStore = core.SQLStore
	// StoreOption configures a store built by this package.
	StoreOption = core.StoreOption
	// Dialect names the SQL database of Migrate.
	Dialect = core.Dialect
	// Cleaner deletes expired sessions in the background.
	Cleaner = core.Cleaner
)

// Dialects of Migrate.
const (
	DialectSQLite   = core.DialectSQLite
	DialectPostgres = core.DialectPostgres
)

// MigrationTable is the goose version table of the echosess migrations.
const MigrationTable = core.MigrationTable

// ExpireIn ends a session d after it is created or its expiry is set.
func ExpireIn(d time.Duration) Expiry { return core.ExpireIn(d) }

// ExpireAt ends a session at t.
func ExpireAt(t time.Time) Expiry { return core.ExpireAt(t) }

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore(opts ...StoreOption) *MemoryStore { return core.NewMemoryStore(opts...) }

// NewSQLiteStore returns a Store on the SQLite table that Migrate creates.
func NewSQLiteStore(db *sql.DB, opts ...StoreOption) *SQLStore {
	return core.NewSQLiteStore(db, opts...)
}

// NewPostgresStore returns a Store on the PostgreSQL table that Migrate creates.
func NewPostgresStore(pool *pgxpool.Pool, opts ...StoreOption) *SQLStore {
	return core.NewPostgresStore(pool, opts...)
}

// SQLiteDSN returns the data source name that opens the SQLite file at path ready for
// concurrent sessions.
func SQLiteDSN(path string) string { return core.SQLiteDSN(path) }

// Migrate brings the session table of db up to date.
func Migrate(ctx context.Context, db *sql.DB, dialect Dialect) error {
	return core.Migrate(ctx, db, dialect)
}

// WithClock makes a store read the time from now instead of time.Now, for tests.
func WithClock(now func() time.Time) StoreOption { return core.WithClock(now) }

// WithMaxBytes bounds the heap that a MemoryStore's records take to about n bytes.
func WithMaxBytes(n int64) StoreOption { return core.WithMaxBytes(n) }

// WithMaxAge sets how long a MemoryStore trusts a record that Put cached.
func WithMaxAge(d time.Duration) StoreOption { return core.WithMaxAge(d) }

// WithPollInterval sets how often a PostgreSQL store that a cache watches reads the
// changes recorded in its table. Default 10 ms.
func WithPollInterval(d time.Duration) StoreOption { return core.WithPollInterval(d) }

// WithCache returns a Store that reads through cache and writes through to both.
func WithCache(store Store, cache Cache, logger *slog.Logger) Store {
	return core.WithCache(store, cache, logger)
}

// StartCleaner deletes expired sessions from store every interval until ctx is done
// or Stop is called.
func StartCleaner(ctx context.Context, store Store, interval time.Duration, logger *slog.Logger) *Cleaner {
	return core.StartCleaner(ctx, store, interval, logger)
}

// RevokeUserSessions ends every session bound to userID in store, now and on every
// app instance, and reports how many it ended; it needs only the store.
func RevokeUserSessions(ctx context.Context, store Store, userID string) (int, error) {
	return core.RevokeUserSessions(ctx, store, userID)
}

// ListUserSessions lists the live sessions bound to userID in store, for code
// outside a request.
func ListUserSessions(ctx context.Context, store Store, userID string) ([]SessionInfo, error) {
	return core.ListUserSessions(ctx, store, userID)
}

// RevokeUserSession ends the session of userID in store that handle names, for code
// outside a request.
func RevokeUserSession(ctx context.Context, store Store, userID, handle string) error {
	return core.RevokeUserSession(ctx, store, userID, handle)
}
