package pgstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/echosess/echosess/internal/engine"
	"github.com/echosess/echosess/sqlstore"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/echosess/echosess/internal/db/postgres"
)

// New returns a store on the table that Migrate creates, in the schema the pool's
// search_path names first. The store reports every change to the table
// (WatchChanges), so that a cache in front of it stays coherent across app
// instances; WithPollInterval sets how often it reads them, and Close stops that.
func New(pool *pgxpool.Pool, opts ...sqlstore.Option) *sqlstore.Store {
	return engine.PublicSQLStore(open(pool, opts...)).(*sqlstore.Store)
}

// open returns the engine's store on pool, which New hands out as a sqlstore.Store.
func open(pool *pgxpool.Pool, opts ...sqlstore.Option) *engine.SQLStore {
	s := engine.NewSQLStore(postgresQueries{postgres.New(pool)}, engine.DialectPostgres, opts)
	every := cmp.Or(engine.BuildStoreOptions(opts).PollInterval, defaultPollInterval)
	s.Changes = engine.NewChangeHub(pgListener{pool: pool, every: every, maxBatch: maxChangesPerRead}.run)
	return s
}

// postgresQueries adapts the generated PostgreSQL queries to engine.SQLQueries.
type postgresQueries struct{ q *postgres.Queries }

func (a postgresQueries) Load(ctx context.Context, key string, now time.Time) (engine.SQLRow, bool, error) {
	r, err := a.q.LoadSession(ctx, postgres.LoadSessionParams{Key: key, Now: now})
	if errors.Is(err, pgx.ErrNoRows) {
		return engine.SQLRow{}, false, nil
	}
	// A time that is no time.Time ('infinity', set by hand) makes a corrupt row: a
	// lost session, as for data that does not decode.
	if scan := (pgx.ScanArgError{}); errors.As(err, &scan) && (scan.FieldName == "expires_at" || scan.FieldName == "deadline") {
		return engine.SQLRow{}, false, fmt.Errorf("%w: %s: %w", engine.ErrDecode, scan.FieldName, scan.Err)
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

func (a postgresQueries) Insert(ctx context.Context, key string, row engine.SQLRow, now time.Time) (int64, error) {
	return a.q.InsertSession(ctx, postgres.InsertSessionParams{
		Key:            key,
		Data:           row.Data,
		ExpiresAt:      row.Expiry,
		Deadline:       row.Deadline,
		Persistent:     row.Persistent,
		Now:            now,
		UserID:         row.UserID,
		FirstUserAgent: row.Device.UserAgent,
		FirstIp:        row.Device.IP,
		LastUserAgent:  row.Device.LastUserAgent,
		LastIp:         row.Device.LastIP,
	})
}

func (a postgresQueries) Update(ctx context.Context, key string, row engine.SQLRow, now time.Time) (int64, error) {
	return a.q.UpdateSession(ctx, postgres.UpdateSessionParams{
		Key:            key,
		Data:           row.Data,
		ExpiresAt:      row.Expiry,
		Deadline:       row.Deadline,
		Persistent:     row.Persistent,
		Now:            now,
		UserID:         row.UserID,
		FirstUserAgent: row.Device.UserAgent,
		FirstIp:        row.Device.IP,
		LastUserAgent:  row.Device.LastUserAgent,
		LastIp:         row.Device.LastIP,
		Version:        row.Version,
	})
}

func (a postgresQueries) Touch(ctx context.Context, key string, row engine.SQLRow, now time.Time) (int64, error) {
	return a.q.TouchSession(ctx, postgres.TouchSessionParams{
		Key:            key,
		ExpiresAt:      row.Expiry,
		Deadline:       row.Deadline,
		Now:            now,
		Version:        row.Version,
		FirstUserAgent: row.Device.UserAgent,
		FirstIp:        row.Device.IP,
		LastUserAgent:  row.Device.LastUserAgent,
		LastIp:         row.Device.LastIP,
	})
}

func (a postgresQueries) Delete(ctx context.Context, key string) error {
	return a.q.DeleteSession(ctx, key)
}

func (a postgresQueries) DeleteExpired(ctx context.Context, now time.Time, limit int) (int64, error) {
	return a.q.DeleteExpiredSessions(ctx, postgres.DeleteExpiredSessionsParams{Now: now, BatchSize: int32(min(limit, math.MaxInt32))})
}

func (a postgresQueries) ListUser(ctx context.Context, userID string, now time.Time) ([]engine.SQLRow, error) {
	rs, err := a.q.ListUserSessions(ctx, postgres.ListUserSessionsParams{UserID: userID, Now: now})
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

func (a postgresQueries) EndListed(ctx context.Context, keys, keyed []string, now time.Time) ([]string, error) {
	return a.q.EndSessions(ctx, postgres.EndSessionsParams{EndedAt: engine.EndedAt, Now: now, Keys: keys, KeyedVersions: keyed})
}
