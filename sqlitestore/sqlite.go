package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/echosess/echosess/internal/engine"
	"github.com/echosess/echosess/internal/stmtcache"
	"github.com/echosess/echosess/sqlstore"

	"github.com/echosess/echosess/internal/db/sqlite"
)

// DSN returns the data source name that opens the SQLite database file at path
// ready for concurrent sessions, for the driver of modernc.org/sqlite:
//
//	import _ "modernc.org/sqlite"
//
//	db, err := sql.Open("sqlite", sqlitestore.DSN("sessions.db"))
//
// It turns on write-ahead logging (readers never wait for the writer), a busy timeout
// of 100 milliseconds (a statement waits that long for another connection's write lock
// before it fails with "database is locked"), synchronous=NORMAL (safe with WAL, and
// fast), and BEGIN IMMEDIATE for transactions (a transaction takes the write lock up
// front, never midway). echosess does not import the driver itself; the application
// does.
//
// The busy timeout is short so that the store's writes honour their deadline: a
// store write that met the lock tries again until its context is done (see
// New), and one busy timeout is the most it overruns the deadline. The
// application's own statements on db get no such retry: they fail with "database is
// locked" once another connection has held the write lock for 100 milliseconds. An
// application that needs a longer wait for its own tables opens a second *sql.DB on
// the same file with a DSN of its own, such as
//
//	"file:sessions.db?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate"
//
// and keeps db for the sessions. Appending a busy timeout to this DSN does not work:
// modernc.org/sqlite (v1.60.1) runs the busy_timeout pragmas before the others, the
// last one given first, so this DSN's, the first, is set last and stays; and it runs
// the _busy_timeout key before every pragma, so this DSN's overrides that too.
func DSN(path string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(" + strconv.FormatInt(sqliteBusySlice.Milliseconds(), 10) + ")" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)" +
		"&_txlock=immediate"
}

// sqliteBusySlice is the busy timeout of DSN: how long one statement waits for
// another connection's write lock. A store write waits for the lock in slices of it
// (retryWhileBusy), so it is also the most a write overruns its deadline. It is long
// enough that SQLite's busy handler tries for the lock nine times, at once and after
// sleeps of 1, 2, 5, 10, 15, 20, 25 and 22 ms, where a store write holds the lock for
// well under a millisecond: a write behind another process's store writes gets it
// within its first slice. And it is a fiftieth of the default StoreTimeout.
const sqliteBusySlice = 100 * time.Millisecond

// sqliteLockWait bounds how long a store write waits for the write lock when its
// context has no deadline: the busy timeout that DSN set before the store
// waited in slices.
const sqliteLockWait = 10 * time.Second

// sqliteRetryPause bounds the pause between two tries of a write that met the lock.
// SQLite's busy handler waits inside each try; the pause only keeps a write whose
// tries fail at once, without the busy handler, from spinning.
const sqliteRetryPause = 16 * time.Millisecond

// retryWhileBusy runs write, a single writing statement that has just failed with
// busy (SQLITE_BUSY: another connection held the database's write lock), again until
// it gets the lock or fails otherwise, or ctx is done. Each try waits up to the busy
// timeout inside SQLite, which ctx cannot interrupt, so it returns at most one busy
// timeout after ctx's deadline. A statement that failed with SQLITE_BUSY wrote
// nothing (outside a transaction SQLite rolls it back), so trying it again is safe.
// A ctx without a deadline waits sqliteLockWait at most.
func retryWhileBusy(ctx context.Context, write func() error, busy error) error {
	giveUp := time.Now().Add(sqliteLockWait)
	_, hasDeadline := ctx.Deadline()
	pause := time.Millisecond
	timer := time.NewTimer(pause)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("another connection held SQLite's write lock until the call's context ended: %w (%w)", ctx.Err(), busy)
		case <-timer.C:
		}
		if !hasDeadline && time.Now().After(giveUp) {
			return fmt.Errorf("another connection held SQLite's write lock for %v: %w", sqliteLockWait, busy)
		}
		err := write()
		switch {
		case err == nil:
			return nil
		case engine.SQLiteCode(err) == engine.SQLiteBusy:
			busy = err
		case ctx.Err() == nil:
			return err
		} // else the statement failed on ctx's end: say why it waited, above
		pause = min(2*pause, sqliteRetryPause)
		timer.Reset(pause)
	}
}

// New returns a store on the table that Migrate creates. Open db with DSN so that concurrent writers wait for each other
// instead of failing; the store's own writes also take turns in the process, which
// SQLite's single writer lock would otherwise make them poll for.
//
// The store prepares each of its statements on db the first time it runs, and keeps
// them until Close. A call's context ends its wait for the store's turn to write, for
// SQLite's write lock and, when db has a limit of open connections, for a free
// connection. A statement, once started, runs to its end, since SQLite would not end
// its wait for a lock sooner; so a write that meets another connection's write lock
// waits for it one busy timeout of the DSN at a time (100 milliseconds with
// DSN), and tries again until the lock is free or the call's context is done,
// then fails with an error that wraps the context's error and SQLITE_BUSY. While it
// waits, it holds the store's turn: a write stuck behind another process's lock holds
// the queue for at most StoreTimeout plus one busy timeout, and the writers queued
// behind it fail at their own deadlines, never later. A call whose context has no
// deadline waits 10 seconds at most, as long as the DSN's former busy timeout.
func New(db *sql.DB, opts ...sqlstore.Option) *sqlstore.Store {
	return engine.PublicSQLStore(open(db, opts...)).(*sqlstore.Store)
}

// open returns the engine's store on db, which New hands out as a sqlstore.Store.
// Its statements run without the cancellation of the call's context
// (stmtcache.NewUncancelled): a primary-key read takes a third longer with a
// context that can be cancelled, and SQLite's interrupt ends neither a wait for a
// lock (busy_timeout) nor an I/O wait, while every statement of the store is short:
// one row, or one bounded batch of DeleteExpired.
func open(db *sql.DB, opts ...sqlstore.Option) *engine.SQLStore {
	stmts := stmtcache.NewUncancelled(db)
	s := engine.NewSQLStore(sqliteQueries{sqlite.New(stmts)}, engine.DialectSQLite, opts)
	s.Writers = make(chan struct{}, 1)
	s.Statements = stmts
	return s
}

// sqliteQueries adapts the generated SQLite queries, whose times are unix
// milliseconds, to sqlQueries.
type sqliteQueries struct{ q *sqlite.Queries }

func (a sqliteQueries) Load(ctx context.Context, key string, now time.Time) (engine.SQLRow, bool, error) {
	r, err := a.q.LoadSession(ctx, sqlite.LoadSessionParams{Key: key, Now: now.UnixMilli()})
	if errors.Is(err, sql.ErrNoRows) {
		return engine.SQLRow{}, false, nil
	}
	if err != nil {
		return engine.SQLRow{}, false, err
	}
	return engine.SQLRow{
		Data: r.Data, Expiry: time.UnixMilli(r.ExpiresAt), Deadline: time.UnixMilli(r.Deadline), Persistent: r.Persistent != 0, Version: r.Version,
		UserID: r.UserID, Created: time.UnixMilli(r.CreatedAt), LastActive: time.UnixMilli(r.UpdatedAt),
		Device: engine.Device{UserAgent: r.FirstUserAgent, IP: r.FirstIp, LastUserAgent: r.LastUserAgent, LastIP: r.LastIp},
	}, true, nil
}

func (a sqliteQueries) Insert(ctx context.Context, key string, row engine.SQLRow, now time.Time) (int64, error) {
	return whileBusy(ctx, a.q, (*sqlite.Queries).InsertSession, sqlite.InsertSessionParams{
		Key:            key,
		Data:           row.Data,
		ExpiresAt:      row.Expiry.UnixMilli(),
		Deadline:       row.Deadline.UnixMilli(),
		Persistent:     sqliteBool(row.Persistent),
		Now:            now.UnixMilli(),
		UserID:         row.UserID,
		FirstUserAgent: row.Device.UserAgent,
		FirstIp:        row.Device.IP,
		LastUserAgent:  row.Device.LastUserAgent,
		LastIp:         row.Device.LastIP,
	})
}

func (a sqliteQueries) Update(ctx context.Context, key string, row engine.SQLRow, now time.Time) (int64, error) {
	return whileBusy(ctx, a.q, (*sqlite.Queries).UpdateSession, sqlite.UpdateSessionParams{
		Key:            key,
		Data:           row.Data,
		ExpiresAt:      row.Expiry.UnixMilli(),
		Deadline:       row.Deadline.UnixMilli(),
		Persistent:     sqliteBool(row.Persistent),
		Now:            now.UnixMilli(),
		UserID:         row.UserID,
		FirstUserAgent: row.Device.UserAgent,
		FirstIp:        row.Device.IP,
		LastUserAgent:  row.Device.LastUserAgent,
		LastIp:         row.Device.LastIP,
		Version:        row.Version,
	})
}

func (a sqliteQueries) Touch(ctx context.Context, key string, row engine.SQLRow, now time.Time) (int64, error) {
	return whileBusy(ctx, a.q, (*sqlite.Queries).TouchSession, sqlite.TouchSessionParams{
		Key:            key,
		ExpiresAt:      row.Expiry.UnixMilli(),
		Deadline:       row.Deadline.UnixMilli(),
		Now:            now.UnixMilli(),
		Version:        row.Version,
		FirstUserAgent: row.Device.UserAgent,
		FirstIp:        row.Device.IP,
		LastUserAgent:  row.Device.LastUserAgent,
		LastIp:         row.Device.LastIP,
	})
}

func (a sqliteQueries) Delete(ctx context.Context, key string) error {
	_, err := whileBusy(ctx, a.q, deleteSession, key)
	return err
}

func (a sqliteQueries) DeleteExpired(ctx context.Context, now time.Time, limit int) (int64, error) {
	return whileBusy(ctx, a.q, (*sqlite.Queries).DeleteExpiredSessions,
		sqlite.DeleteExpiredSessionsParams{Now: now.UnixMilli(), BatchSize: int64(limit)})
}

func (a sqliteQueries) ListUser(ctx context.Context, userID string, now time.Time) ([]engine.SQLRow, error) {
	rs, err := a.q.ListUserSessions(ctx, sqlite.ListUserSessionsParams{UserID: userID, Now: now.UnixMilli()})
	rows := make([]engine.SQLRow, len(rs))
	for i, r := range rs {
		rows[i] = engine.SQLRow{
			Key: r.Key, Data: r.Data, Expiry: time.UnixMilli(r.ExpiresAt), Deadline: time.UnixMilli(r.Deadline), Persistent: r.Persistent != 0, Version: r.Version,
			Created: time.UnixMilli(r.CreatedAt), LastActive: time.UnixMilli(r.UpdatedAt),
			Device: engine.Device{UserAgent: r.FirstUserAgent, IP: r.FirstIp, LastUserAgent: r.LastUserAgent, LastIP: r.LastIp},
		}
	}
	return rows, err
}

// endBatch bounds the keys of one EndSessions statement, whose text has a parameter
// for each: a batch is padded to a power of two, so that the statement cache holds
// at most one text per power up to it.
const endBatch = 64

func (a sqliteQueries) EndListed(ctx context.Context, keys, keyed []string, now time.Time) (ended []string, err error) {
	for len(keys) > 0 {
		n := min(len(keys), endBatch)
		padded := make([]string, 1<<bits.Len(uint(n-1)))
		for i := range padded {
			padded[i] = keys[i%n] // a key twice in IN is the key once
		}
		var done []string
		_, err := whileBusy(ctx, a.q, func(q *sqlite.Queries, ctx context.Context, arg sqlite.EndSessionsParams) (int64, error) {
			done, err = q.EndSessions(ctx, arg)
			return int64(len(done)), err
		}, sqlite.EndSessionsParams{
			EndedAt: engine.EndedAt.UnixMilli(), Now: now.UnixMilli(), Keys: padded,
			KeyedVersions: "," + strings.Join(keyed[:n], ",") + ",",
		})
		if err != nil {
			return ended, err
		}
		ended = append(ended, done...)
		keys, keyed = keys[n:], keyed[n:]
	}
	return ended, nil
}

func deleteSession(q *sqlite.Queries, ctx context.Context, key string) (int64, error) {
	return 0, q.DeleteSession(ctx, key)
}

// whileBusy runs stmt, one of the store's writing statements, and, when it met
// another connection's write lock, runs it again until it gets the lock or ctx is
// done (retryWhileBusy). SQLStore.write calls it in the store's turn to write, which
// it keeps meanwhile. Reads need no such loop: with write-ahead logging they take no
// lock that a writer holds.
func whileBusy[A any](ctx context.Context, q *sqlite.Queries, stmt func(*sqlite.Queries, context.Context, A) (int64, error), arg A) (int64, error) {
	n, err := stmt(q, ctx, arg)
	if err != nil && engine.SQLiteCode(err) == engine.SQLiteBusy {
		err = retryWhileBusy(ctx, func() (err error) {
			n, err = stmt(q, ctx, arg)
			return err
		}, err)
	}
	return n, err
}

// sqliteBool is b as SQLite keeps a boolean: 1 or 0.
func sqliteBool(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
