package core

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// SQLStore is a Store kept in an SQL database: SQLite (NewSQLiteStore) or PostgreSQL
// (NewPostgresStore). The table comes from Migrate. Every statement passes the store's
// clock as "now", so expired rows are filtered in SQL and never returned. An SQLStore
// is safe for concurrent use. It does not own the database handle; Close releases
// the statements it prepared there.
type SQLStore struct {
	q       sqlQueries
	now     func() time.Time
	dialect Dialect
	batch   int
	// writers, when not nil, admits one writing statement at a time: SQLite has a
	// single writer, and writers that take turns here finish sooner and more fairly
	// than writers that poll the database lock.
	writers chan struct{}
	// stmts, when not nil, holds the statements the store prepared, for Close.
	stmts io.Closer
	// changes, when not nil, reports the changes to the table (WatchChanges).
	changes *changeHub
	deletions
}

// sqlRow is a session row, in the Go types the store logic works with.
type sqlRow struct {
	key        string // only in a listing
	data       []byte
	expiry     time.Time
	deadline   time.Time
	persistent bool
	version    int64
	userID     string
	created    time.Time
	lastActive time.Time
	device     Device
}

// record is the record of row under key, with data.
func (row sqlRow) record(key string, data map[string]json.RawMessage) Record {
	return Record{
		Key: key, Data: data, Expiry: row.expiry, Deadline: row.deadline, Persistent: row.persistent,
		Version: row.version, UserID: row.userID, Created: row.created, LastActive: row.lastActive, Device: row.device,
	}
}

// sqlQueries is what SQLStore needs from a database: the sqlc-generated queries of one
// engine, behind a thin adapter that converts to and from Go types. The adapters
// (sqliteQueries, postgresQueries) hold no logic of their own.
type sqlQueries interface {
	// load returns the row under key that is live at now; found is false when there
	// is none.
	load(ctx context.Context, key string, now time.Time) (row sqlRow, found bool, err error)
	// insert writes row as version 1 unless a row live at now holds key, and reports
	// the rows affected.
	insert(ctx context.Context, key string, row sqlRow, now time.Time) (int64, error)
	// update writes row as version row.version+1 if the row under key is live at now
	// and at row.version, and reports the rows affected.
	update(ctx context.Context, key string, row sqlRow, now time.Time) (int64, error)
	// touch writes row's expiry and deadline, but not its data, as version
	// row.version+1 if the row under key is live at now and at row.version, and
	// reports the rows affected.
	touch(ctx context.Context, key string, row sqlRow, now time.Time) (int64, error)
	// delete removes the row under key, if any.
	delete(ctx context.Context, key string) error
	// deleteExpired removes at most limit rows that have expired at now.
	deleteExpired(ctx context.Context, now time.Time, limit int) (int64, error)
	// listUser returns the rows bound to userID that are live at now, with their
	// keys.
	listUser(ctx context.Context, userID string, now time.Time) ([]sqlRow, error)
	// endListed saves the rows under keys that are live at now and at the version
	// that the matching keyed gives (key:version), expired at endedAt, without data
	// or user, in one statement, and returns the keys it ended.
	endListed(ctx context.Context, keys, keyed []string, now time.Time) ([]string, error)
}

func newSQLStore(q sqlQueries, dialect Dialect, opts []StoreOption) *SQLStore {
	o := buildStoreOptions(opts)
	return &SQLStore{q: q, now: o.now, dialect: dialect, batch: max(1, o.deleteBatch)}
}

// Load returns the live record under key, or ErrNotFound. Data that does not decode
// gives an error wrapping ErrDecode.
func (s *SQLStore) Load(ctx context.Context, key string) (Record, error) {
	row, found, err := s.q.load(ctx, key, s.now())
	if err != nil {
		return Record{}, fmt.Errorf("%s: load session: %w", s.dialect, err)
	}
	if !found {
		return Record{}, ErrNotFound
	}
	data, err := decodeData(row.data)
	if err != nil {
		return Record{}, fmt.Errorf("%w: %s: stored session: %w", ErrDecode, s.dialect, err)
	}
	return row.record(key, data), nil
}

// Save writes rec as version rec.Version+1 in a single statement, provided the stored
// version is still rec.Version (0: no live row; an expired row is replaced). Otherwise
// it writes nothing and returns ErrConflict. Data whose values are not valid JSON gives
// an error wrapping ErrDecode.
func (s *SQLStore) Save(ctx context.Context, rec Record) error {
	data, err := encodeData(rec.Data)
	if err != nil {
		return err
	}
	row := sqlRow{data: data, expiry: rec.Expiry, deadline: rec.Deadline, persistent: rec.Persistent, version: rec.Version,
		userID: rec.UserID, device: rec.Device}
	if rec.Version == 0 {
		return s.swap(ctx, "save", rec.Key, row, s.q.insert)
	}
	return s.swap(ctx, "save", rec.Key, row, s.q.update)
}

// Touch writes rec.Expiry and rec.Deadline as version rec.Version+1 in a single
// statement that leaves the stored data alone, provided the live row is still at
// rec.Version. Otherwise it writes nothing and returns ErrConflict. It ignores
// rec.Data, so an idle-timeout slide neither encodes nor sends the session's data.
func (s *SQLStore) Touch(ctx context.Context, rec Record) error {
	row := sqlRow{expiry: rec.Expiry, deadline: rec.Deadline, version: rec.Version, device: rec.Device}
	return s.swap(ctx, "touch", rec.Key, row, s.q.touch)
}

// swap runs stmt, a compare-and-swap of row under key, when the store admits a
// writer, and returns ErrConflict when it affected no row. op names the operation
// in errors.
func (s *SQLStore) swap(ctx context.Context, op, key string, row sqlRow,
	stmt func(ctx context.Context, key string, row sqlRow, now time.Time) (int64, error)) error {
	var n int64
	err := s.write(ctx, func() (err error) {
		n, err = stmt(ctx, key, row, s.now())
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: %s session: %w", s.dialect, op, err)
	}
	if n == 0 {
		return ErrConflict
	}
	return nil
}

// Delete removes the record under key. Deleting a missing record is not an error.
func (s *SQLStore) Delete(ctx context.Context, key string) error {
	if err := s.write(ctx, func() error { return s.q.delete(ctx, key) }); err != nil {
		return fmt.Errorf("%s: delete session: %w", s.dialect, err)
	}
	s.deleted(key)
	return nil
}

// DeleteExpired removes expired records and reports how many it removed. It deletes
// in batches of at most 1000 rows, one short statement each, through the index on the
// expiry, so that it never holds locks for long; it returns when a batch comes back
// short or ctx is done.
func (s *SQLStore) DeleteExpired(ctx context.Context) (int64, error) {
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("%s: delete expired sessions: %w", s.dialect, err)
		}
		var n int64
		err := s.write(ctx, func() (err error) {
			n, err = s.q.deleteExpired(ctx, s.now(), s.batch)
			return err
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("%s: delete expired sessions: %w", s.dialect, err)
		}
		if n < int64(s.batch) {
			return total, nil
		}
	}
}

// UserSessions returns the live records bound to userID in one statement through
// the index on the user. A record whose data does not decode is listed with nil
// Data, so that it can still be revoked.
func (s *SQLStore) UserSessions(ctx context.Context, userID string) ([]Record, error) {
	rows, err := s.q.listUser(ctx, userID, s.now())
	if err != nil {
		return nil, fmt.Errorf("%s: list user sessions: %w", s.dialect, err)
	}
	recs := make([]Record, len(rows))
	for i, row := range rows {
		data, _ := decodeData(row.data)
		row.userID = userID
		recs[i] = row.record(row.key, data)
	}
	return recs, nil
}

// endListed ends the records of recs that are still live at their versions in one
// statement, as Save of each expired at its version would, and returns their keys.
func (s *SQLStore) endListed(ctx context.Context, recs []Record) ([]string, error) {
	keys, keyed := make([]string, len(recs)), make([]string, len(recs))
	for i, rec := range recs {
		keys[i], keyed[i] = rec.Key, rec.Key+":"+strconv.FormatInt(rec.Version, 10)
	}
	var ended []string
	err := s.write(ctx, func() (err error) {
		ended, err = s.q.endListed(ctx, keys, keyed, s.now())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: end sessions: %w", s.dialect, err)
	}
	return ended, nil
}

// write runs fn, one writing statement, when the store admits a writer.
func (s *SQLStore) write(ctx context.Context, fn func() error) error {
	if s.writers != nil {
		select {
		case s.writers <- struct{}{}:
			defer func() { <-s.writers }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return fn()
}

// WatchChanges reports the changes to a PostgreSQL store's table, made by any
// process, to w; see ChangeFeed. The trigger of migrations 00006 and 00007 records
// each change, whatever the writer's isolation level and snapshot, in a table that
// the store reads every WithPollInterval (10 ms), on one connection of its own,
// opened with the pool's configuration but outside the pool, from the first watcher
// until the last one stops or the store is closed; it reconnects with backoff when
// the connection is lost. A SQLite store reports no changes: it fails with an error
// wrapping errors.ErrUnsupported.
func (s *SQLStore) WatchChanges(w ChangeWatcher) (stop func(), err error) {
	if s.changes == nil {
		return nil, fmt.Errorf("%s: %w", s.dialect, errUnsupportedFeed)
	}
	return s.changes.watch(w)
}

// Close stops a PostgreSQL store's listening for changes (WatchChanges), and closes
// the statements that a SQLite store prepared on its database, so that an
// application that drops the store but keeps the database leaks none; closing the
// database closes them too. Close does not close the database or pool, which the
// application owns, and a store used after Close runs its statements unprepared.
// pgx prepares and caches a Postgres store's statements per connection of its pool.
func (s *SQLStore) Close() error {
	if s.changes != nil {
		s.changes.close()
	}
	if s.stmts == nil {
		return nil
	}
	return s.stmts.Close()
}

func (s *SQLStore) deletionsOf() *deletions { return &s.deletions }
