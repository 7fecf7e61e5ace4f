package core

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/echosess/echosess/internal/db/postgres"
)

// NewPostgresStore returns a Store on the table that Migrate(ctx, db, DialectPostgres)
// creates, in the schema the pool's search_path names first. WithClock sets the clock
// the store checks expiry against. The store reports every change to the table
// (WatchChanges), so that a cache in front of it stays coherent across app
// instances; WithPollInterval sets how often it reads them, and Close stops that.
func NewPostgresStore(pool *pgxpool.Pool, opts ...StoreOption) *SQLStore {
	s := newSQLStore(postgresQueries{postgres.New(pool)}, DialectPostgres, opts)
	every := cmp.Or(buildStoreOptions(opts).pollInterval, defaultPollInterval)
	s.changes = newChangeHub(pgListener{pool: pool, every: every, maxBatch: maxChangesPerRead}.run)
	return s
}

// postgresQueries adapts the generated PostgreSQL queries to sqlQueries.
type postgresQueries struct{ q *postgres.Queries }

func (a postgresQueries) load(ctx context.Context, key string, now time.Time) (sqlRow, bool, error) {
	r, err := a.q.LoadSession(ctx, postgres.LoadSessionParams{Key: key, Now: now})
	if errors.Is(err, pgx.ErrNoRows) {
		return sqlRow{}, false, nil
	}
	// A time that is no time.Time ('infinity', set by hand) makes a corrupt row: a
	// lost session, as for data that does not decode.
	if scan := (pgx.ScanArgError{}); errors.As(err, &scan) && (scan.FieldName == "expires_at" || scan.FieldName == "deadline") {
		return sqlRow{}, false, fmt.Errorf("%w: %s: %w", ErrDecode, scan.FieldName, scan.Err)
	}
	if err != nil {
		return sqlRow{}, false, err
	}
	return sqlRow{
		data: r.Data, expiry: r.ExpiresAt, deadline: r.Deadline, persistent: r.Persistent, version: r.Version,
		userID: r.UserID, created: r.CreatedAt, lastActive: r.UpdatedAt,
		device: Device{UserAgent: r.FirstUserAgent, IP: r.FirstIp, LastUserAgent: r.LastUserAgent, LastIP: r.LastIp},
	}, true, nil
}

func (a postgresQueries) insert(ctx context.Context, key string, row sqlRow, now time.Time) (int64, error) {
	return a.q.InsertSession(ctx, postgres.InsertSessionParams{
		Key:            key,
		Data:           row.data,
		ExpiresAt:      row.expiry,
		Deadline:       row.deadline,
		Persistent:     row.persistent,
		Now:            now,
		UserID:         row.userID,
		FirstUserAgent: row.device.UserAgent,
		FirstIp:        row.device.IP,
		LastUserAgent:  row.device.LastUserAgent,
		LastIp:         row.device.LastIP,
	})
}

func (a postgresQueries) update(ctx context.Context, key string, row sqlRow, now time.Time) (int64, error) {
	return a.q.UpdateSession(ctx, postgres.UpdateSessionParams{
		Key:            key,
		Data:           row.data,
		ExpiresAt:      row.expiry,
		Deadline:       row.deadline,
		Persistent:     row.persistent,
		Now:            now,
		UserID:         row.userID,
		FirstUserAgent: row.device.UserAgent,
		FirstIp:        row.device.IP,
		LastUserAgent:  row.device.LastUserAgent,
		LastIp:         row.device.LastIP,
		Version:        row.version,
	})
}

func (a postgresQueries) touch(ctx context.Context, key string, row sqlRow, now time.Time) (int64, error) {
	return a.q.TouchSession(ctx, postgres.TouchSessionParams{
		Key:            key,
		ExpiresAt:      row.expiry,
		Deadline:       row.deadline,
		Now:            now,
		Version:        row.version,
		FirstUserAgent: row.device.UserAgent,
		FirstIp:        row.device.IP,
		LastUserAgent:  row.device.LastUserAgent,
		LastIp:         row.device.LastIP,
	})
}

func (a postgresQueries) delete(ctx context.Context, key string) error {
	return a.q.DeleteSession(ctx, key)
}

func (a postgresQueries) deleteExpired(ctx context.Context, now time.Time, limit int) (int64, error) {
	return a.q.DeleteExpiredSessions(ctx, postgres.DeleteExpiredSessionsParams{Now: now, BatchSize: int32(min(limit, math.MaxInt32))})
}

func (a postgresQueries) listUser(ctx context.Context, userID string, now time.Time) ([]sqlRow, error) {
	rs, err := a.q.ListUserSessions(ctx, postgres.ListUserSessionsParams{UserID: userID, Now: now})
	rows := make([]sqlRow, len(rs))
	for i, r := range rs {
		rows[i] = sqlRow{
			key: r.Key, data: r.Data, expiry: r.ExpiresAt, deadline: r.Deadline, persistent: r.Persistent, version: r.Version,
			created: r.CreatedAt, lastActive: r.UpdatedAt,
			device: Device{UserAgent: r.FirstUserAgent, IP: r.FirstIp, LastUserAgent: r.LastUserAgent, LastIP: r.LastIp},
		}
	}
	return rows, err
}

func (a postgresQueries) endListed(ctx context.Context, keys, keyed []string, now time.Time) ([]string, error) {
	return a.q.EndSessions(ctx, postgres.EndSessionsParams{EndedAt: endedAt, Now: now, Keys: keys, KeyedVersions: keyed})
}
