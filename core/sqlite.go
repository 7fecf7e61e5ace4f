package core

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"time"

	"github.com/echosess/echosess/core/internal/db/sqlite"
)

// SQLiteDSN returns the data source name that opens the SQLite database file at path
// ready for concurrent sessions, for the driver of modernc.org/sqlite:
//
//	import _ "modernc.org/sqlite"
//
//	db, err := sql.Open("sqlite", echosess.SQLiteDSN("sessions.db"))
//
// It turns on write-ahead logging (readers never wait for the writer), a busy timeout
// of 10 seconds (a writer waits for the lock instead of failing with "database is
// locked"), synchronous=NORMAL (safe with WAL, and fast), and BEGIN IMMEDIATE for
// transactions (a transaction takes the write lock up front, never midway). echosess
// does not import the driver itself; the application does.
func SQLiteDSN(path string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(10000)" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)" +
		"&_txlock=immediate"
}

// NewSQLiteStore returns a Store on the table that Migrate(ctx, db, DialectSQLite)
// creates. Open db with SQLiteDSN so that concurrent writers wait for each other
// instead of failing; the store's own writes also take turns in the process, which
// SQLite's single writer lock would otherwise make them poll for. WithClock sets the
// clock the store checks expiry against.
//
// The store prepares each of its statements on db the first time it runs, and keeps
// them until Close. A call's context ends its wait for the store's turn to write and,
// when db has a limit of open connections, for a free connection; a statement, once
// started, runs to its end, since SQLite would not end its wait for a lock sooner.
func NewSQLiteStore(db *sql.DB, opts ...StoreOption) *SQLStore {
	stmts := newStmtCache(db)
	s := newSQLStore(sqliteQueries{sqlite.New(stmts)}, DialectSQLite, opts)
	s.writers = make(chan struct{}, 1)
	s.stmts = stmts
	return s
}

// sqliteQueries adapts the generated SQLite queries, whose times are unix
// milliseconds, to sqlQueries.
type sqliteQueries struct{ q *sqlite.Queries }

func (a sqliteQueries) load(ctx context.Context, key string, now time.Time) (sqlRow, bool, error) {
	r, err := a.q.LoadSession(ctx, sqlite.LoadSessionParams{Key: key, Now: now.UnixMilli()})
	if errors.Is(err, sql.ErrNoRows) {
		return sqlRow{}, false, nil
	}
	if err != nil {
		return sqlRow{}, false, err
	}
	return sqlRow{data: r.Data, expiry: time.UnixMilli(r.ExpiresAt), deadline: time.UnixMilli(r.Deadline), persistent: r.Persistent != 0, version: r.Version}, true, nil
}

func (a sqliteQueries) insert(ctx context.Context, key string, row sqlRow, now time.Time) (int64, error) {
	return a.q.InsertSession(ctx, sqlite.InsertSessionParams{
		Key:        key,
		Data:       row.data,
		ExpiresAt:  row.expiry.UnixMilli(),
		Deadline:   row.deadline.UnixMilli(),
		Persistent: sqliteBool(row.persistent),
		Now:        now.UnixMilli(),
	})
}

func (a sqliteQueries) update(ctx context.Context, key string, row sqlRow, now time.Time) (int64, error) {
	return a.q.UpdateSession(ctx, sqlite.UpdateSessionParams{
		Key:        key,
		Data:       row.data,
		ExpiresAt:  row.expiry.UnixMilli(),
		Deadline:   row.deadline.UnixMilli(),
		Persistent: sqliteBool(row.persistent),
		Now:        now.UnixMilli(),
		Version:    row.version,
	})
}

func (a sqliteQueries) touch(ctx context.Context, key string, row sqlRow, now time.Time) (int64, error) {
	return a.q.TouchSession(ctx, sqlite.TouchSessionParams{
		Key:       key,
		ExpiresAt: row.expiry.UnixMilli(),
		Deadline:  row.deadline.UnixMilli(),
		Now:       now.UnixMilli(),
		Version:   row.version,
	})
}

func (a sqliteQueries) delete(ctx context.Context, key string) error {
	return a.q.DeleteSession(ctx, key)
}

func (a sqliteQueries) deleteExpired(ctx context.Context, now time.Time, limit int) (int64, error) {
	return a.q.DeleteExpiredSessions(ctx, sqlite.DeleteExpiredSessionsParams{Now: now.UnixMilli(), BatchSize: int64(limit)})
}

// sqliteBool is b as SQLite keeps a boolean: 1 or 0.
func sqliteBool(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
