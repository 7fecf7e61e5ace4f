package mysqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/echosess/echosess/internal/engine"
	"github.com/echosess/echosess/internal/stmtcache"
	"github.com/echosess/echosess/sqlstore"

	"github.com/echosess/echosess/internal/db/mysql"
)

// New returns a store on the table that Migrate creates. Open db with DSN: the
// store needs its settings. The store reports every change to the table
// (WatchChanges), so that a cache in front of it stays coherent across app
// instances, reading them on a connection of db's pool that it holds from the first
// watcher until the last one stops or the store is closed; WithPollInterval sets
// how often it reads them.
//
// The store prepares each of its statements on db the first time it runs, and
// keeps them until Close: each call is then one request to the server, where the
// driver would prepare, run and close a statement with arguments, unless the DSN
// sets interpolateParams. A call's context ends its statement, as the driver ends
// one, by closing its connection.
//
// Times are kept to the microsecond, cut rather than rounded (MySQL would round
// where MariaDB cuts), in DATETIME(6) columns, which hold years up to 9999: a later
// time, such as a deadline of a session that never ends, is kept as the last
// microsecond of 9999.
func New(db *sql.DB, opts ...sqlstore.Option) *sqlstore.Store {
	return engine.PublicSQLStore(open(db, opts...)).(*sqlstore.Store)
}

// open returns the engine's store on db, which New hands out as a sqlstore.Store.
func open(db *sql.DB, opts ...sqlstore.Option) *engine.SQLStore {
	stmts := stmtcache.New(db)
	s := engine.NewSQLStore(mysqlQueries{db: db, q: mysql.New(stmts)}, engine.DialectMySQL, opts)
	s.Statements = stmts
	every := cmp.Or(engine.BuildStoreOptions(opts).PollInterval, defaultPollInterval)
	l := mysqlListener{db: db, every: every, maxBatch: maxChangesPerRead, lateCommits: lateCommitBound}
	s.Changes = engine.NewChangeHub(l.run)
	return s
}

// mysqlQueries adapts the generated MySQL queries to engine.SQLQueries.
type mysqlQueries struct {
	db *sql.DB // for the transaction of EndListed
	q  *mysql.Queries
}

// lastDatetime is the latest time a DATETIME(6) holds.
var lastDatetime = time.Date(9999, 12, 31, 23, 59, 59, 999_999_000, time.UTC)

// micro is t as a DATETIME(6) keeps it: cut to the microsecond, and no later than
// lastDatetime, since the driver refuses a later one.
func micro(t time.Time) time.Time {
	if t.After(lastDatetime) {
		return lastDatetime
	}
	return t.Truncate(time.Microsecond)
}

func (a mysqlQueries) Load(ctx context.Context, key string, now time.Time) (engine.SQLRow, bool, error) {
	r, err := a.q.LoadSession(ctx, mysql.LoadSessionParams{SessionKey: key, Now: micro(now)})
	if errors.Is(err, sql.ErrNoRows) {
		return engine.SQLRow{}, false, nil
	}
	if err != nil {
		return engine.SQLRow{}, false, err
	}
	return engine.SQLRow{
		Data: r.Data, Expiry: r.ExpiresAt, Deadline: r.Deadline, Persistent: r.Persistent, Version: r.Version,
		UserID: r.UserID, Created: r.CreatedAt, LastActive: r.UpdatedAt,
		Device: engine.Device{UserAgent: r.FirstUserAgent, IP: r.FirstIp, LastUserAgent: r.LastUserAgent, LastIP: r.LastIp},
	}, true, nil
}

func (a mysqlQueries) Insert(ctx context.Context, key string, row engine.SQLRow, now time.Time) (int64, error) {
	return a.q.InsertSession(ctx, mysql.InsertSessionParams{
		SessionKey:     key,
		Data:           row.Data,
		ExpiresAt:      micro(row.Expiry),
		Deadline:       micro(row.Deadline),
		Persistent:     row.Persistent,
		Now:            micro(now),
		UserID:         row.UserID,
		FirstUserAgent: row.Device.UserAgent,
		FirstIp:        row.Device.IP,
		LastUserAgent:  row.Device.LastUserAgent,
		LastIp:         row.Device.LastIP,
	})
}

func (a mysqlQueries) Update(ctx context.Context, key string, row engine.SQLRow, now time.Time) (int64, error) {
	return a.q.UpdateSession(ctx, mysql.UpdateSessionParams{
		SessionKey:     key,
		Data:           row.Data,
		ExpiresAt:      micro(row.Expiry),
		Deadline:       micro(row.Deadline),
		Persistent:     row.Persistent,
		Now:            micro(now),
		UserID:         row.UserID,
		FirstUserAgent: row.Device.UserAgent,
		FirstIp:        row.Device.IP,
		LastUserAgent:  row.Device.LastUserAgent,
		LastIp:         row.Device.LastIP,
		Version:        row.Version,
	})
}

func (a mysqlQueries) Touch(ctx context.Context, key string, row engine.SQLRow, now time.Time) (int64, error) {
	return a.q.TouchSession(ctx, mysql.TouchSessionParams{
		SessionKey:     key,
		ExpiresAt:      micro(row.Expiry),
		Deadline:       micro(row.Deadline),
		Now:            micro(now),
		Version:        row.Version,
		FirstUserAgent: row.Device.UserAgent,
		FirstIp:        row.Device.IP,
		LastUserAgent:  row.Device.LastUserAgent,
		LastIp:         row.Device.LastIP,
	})
}

func (a mysqlQueries) Delete(ctx context.Context, key string) error {
	return a.q.DeleteSession(ctx, key)
}

func (a mysqlQueries) DeleteExpired(ctx context.Context, now time.Time, limit int) (int64, error) {
	return a.q.DeleteExpiredSessions(ctx, mysql.DeleteExpiredSessionsParams{Now: micro(now), Limit: int32(min(limit, 1<<31-1))})
}

func (a mysqlQueries) ListUser(ctx context.Context, userID string, now time.Time) ([]engine.SQLRow, error) {
	rs, err := a.q.ListUserSessions(ctx, mysql.ListUserSessionsParams{UserID: userID, Now: micro(now)})
	rows := make([]engine.SQLRow, len(rs))
	for i, r := range rs {
		rows[i] = engine.SQLRow{
			Key: r.Key, Data: r.Data, Expiry: r.ExpiresAt, Deadline: r.Deadline, Persistent: r.Persistent, Version: r.Version,
			Created: r.CreatedAt, LastActive: r.UpdatedAt,
			Device: engine.Device{UserAgent: r.FirstUserAgent, IP: r.FirstIp, LastUserAgent: r.LastUserAgent, LastIP: r.LastIp},
		}
	}
	return rows, err
}

// EndListed ends the listed rows in one transaction of two statements, since
// neither server returns the rows that an UPDATE changed: the first locks the rows
// that are live at their listed versions and returns their keys, the second ends
// exactly those.
func (a mysqlQueries) EndListed(ctx context.Context, keys, keyed []string, now time.Time) ([]string, error) {
	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	q := a.q.WithTx(tx)
	locked, err := q.LockListedSessions(ctx, mysql.LockListedSessionsParams{
		SessionKeys: keys, KeyedVersions: strings.Join(keyed, ","), Now: micro(now),
	})
	if err != nil || len(locked) == 0 {
		return nil, err
	}
	_, err = q.EndSessions(ctx, mysql.EndSessionsParams{EndedAt: engine.EndedAt, Now: micro(now), SessionKeys: locked})
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return locked, nil
}
