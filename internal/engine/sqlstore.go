package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// SQLStore is a Store kept in an SQL database: SQLite (sqlitestore), PostgreSQL
// (pgstore) or MySQL and MariaDB (mysqlstore). The table comes from Migrate. Every statement passes the store's
// clock as "now", so expired rows are filtered in SQL and never returned. An SQLStore
// is safe for concurrent use. It does not own the database handle; Close releases
// the statements it prepared there.
type SQLStore struct {
	Queries SQLQueries
	now     func() time.Time
	dialect Dialect
	batch   int
	// Writers, when not nil, admits one writing statement at a time: SQLite has a
	// single writer, and Writers that take turns here finish sooner and more fairly
	// than Writers that poll the database lock.
	Writers chan struct{}
	// Statements, when not nil, holds the statements the store prepared, for Close.
	Statements io.Closer
	// Changes, when not nil, reports the Changes to the table (WatchChanges).
	Changes *ChangeHub
	deletions
}

// Dialect names an SQL database that echosess keeps sessions in.
type Dialect string

// The dialects of the SQL stores and their migrations.
const (
	DialectSQLite   Dialect = "sqlite"
	DialectPostgres Dialect = "postgres"
	DialectMySQL    Dialect = "mysql" // MySQL 8 and MariaDB 10.11
)

// SQLRow is a session row, in the Go types the store logic works with.
type SQLRow struct {
	Key        string // only in a listing
	Data       []byte
	Expiry     time.Time
	Deadline   time.Time
	Persistent bool
	Version    int64
	UserID     string
	Created    time.Time
	LastActive time.Time
	Device     Device
}

// record is the record of row under key, with data.
func (row SQLRow) record(key string, data map[string]json.RawMessage) Record {
	return Record{
		Key: key, Data: data, Expiry: row.Expiry, Deadline: row.Deadline, Persistent: row.Persistent,
		Version: row.Version, UserID: row.UserID, Created: row.Created, LastActive: row.LastActive, Device: row.Device,
	}
}

// SQLQueries is what SQLStore needs from a database: the sqlc-generated queries of one
// engine, behind a thin adapter that converts to and from Go types. The adapters
// (sqliteQueries, postgresQueries) hold no logic of their own.
type SQLQueries interface {
	// Load returns the row under key that is live at now; found is false when there
	// is none.
	Load(ctx context.Context, key string, now time.Time) (row SQLRow, found bool, err error)
	// Insert writes row as version 1 unless a row live at now holds key, and reports
	// the rows affected.
	Insert(ctx context.Context, key string, row SQLRow, now time.Time) (int64, error)
	// Update writes row as version row.version+1 if the row under key is live at now
	// and at row.version, and reports the rows affected.
	Update(ctx context.Context, key string, row SQLRow, now time.Time) (int64, error)
	// Touch writes row's expiry and deadline, but not its data, as version
	// row.version+1 if the row under key is live at now and at row.version, and
	// reports the rows affected.
	Touch(ctx context.Context, key string, row SQLRow, now time.Time) (int64, error)
	// Delete removes the row under key, if any.
	Delete(ctx context.Context, key string) error
	// DeleteExpired removes at most limit rows that have expired at now.
	DeleteExpired(ctx context.Context, now time.Time, limit int) (int64, error)
	// ListUser returns the rows bound to userID that are live at now, with their
	// keys.
	ListUser(ctx context.Context, userID string, now time.Time) ([]SQLRow, error)
	// EndListed saves the rows under keys that are live at now and at the version
	// that the matching keyed gives (key:version), expired at endedAt, without data
	// or user, in one statement, and returns the keys it ended.
	EndListed(ctx context.Context, keys, keyed []string, now time.Time) ([]string, error)
}

func NewSQLStore(q SQLQueries, dialect Dialect, opts []StoreOption) *SQLStore {
	o := BuildStoreOptions(opts)
	return &SQLStore{Queries: q, now: o.now, dialect: dialect, batch: max(1, o.deleteBatch)}
}

// Load returns the live record under key, or ErrNotFound. Data that does not decode
// gives an error wrapping ErrDecode.
func (s *SQLStore) Load(ctx context.Context, key string) (Record, error) {
	row, found, err := s.Queries.Load(ctx, key, s.now())
	if err != nil {
		return Record{}, fmt.Errorf("%s: load session: %w", s.dialect, err)
	}
	if !found {
		return Record{}, ErrNotFound
	}
	data, err := decodeData(row.Data)
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
	row := SQLRow{Data: data, Expiry: rec.Expiry, Deadline: rec.Deadline, Persistent: rec.Persistent, Version: rec.Version,
		UserID: rec.UserID, Device: rec.Device}
	if rec.Version == 0 {
		return s.swap(ctx, "save", rec.Key, row, s.Queries.Insert)
	}
	return s.swap(ctx, "save", rec.Key, row, s.Queries.Update)
}

// Touch writes rec.Expiry and rec.Deadline as version rec.Version+1 in a single
// statement that leaves the stored data alone, provided the live row is still at
// rec.Version. Otherwise it writes nothing and returns ErrConflict. It ignores
// rec.Data, so an idle-timeout slide neither encodes nor sends the session's data.
func (s *SQLStore) Touch(ctx context.Context, rec Record) error {
	row := SQLRow{Expiry: rec.Expiry, Deadline: rec.Deadline, Version: rec.Version, Device: rec.Device}
	return s.swap(ctx, "touch", rec.Key, row, s.Queries.Touch)
}

// swap runs stmt, a compare-and-swap of row under key, when the store admits a
// writer, and returns ErrConflict when it affected no row. op names the operation
// in errors.
func (s *SQLStore) swap(ctx context.Context, op, key string, row SQLRow,
	stmt func(ctx context.Context, key string, row SQLRow, now time.Time) (int64, error)) error {
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
	if err := s.write(ctx, func() error { return s.Queries.Delete(ctx, key) }); err != nil {
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
			n, err = s.Queries.DeleteExpired(ctx, s.now(), s.batch)
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
	rows, err := s.Queries.ListUser(ctx, userID, s.now())
	if err != nil {
		return nil, fmt.Errorf("%s: list user sessions: %w", s.dialect, err)
	}
	recs := make([]Record, len(rows))
	for i, row := range rows {
		data, _ := decodeData(row.Data)
		row.UserID = userID
		recs[i] = row.record(row.Key, data)
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
		ended, err = s.Queries.EndListed(ctx, keys, keyed, s.now())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: end sessions: %w", s.dialect, err)
	}
	return ended, nil
}

// write runs fn, one writing statement, when the store admits a writer.
func (s *SQLStore) write(ctx context.Context, fn func() error) error {
	if s.Writers != nil {
		select {
		case s.Writers <- struct{}{}:
			defer func() { <-s.Writers }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return fn()
}

// WatchChanges reports the changes to a PostgreSQL or MySQL store's table, made by
// any process, to w; see ChangeFeed and sqlstore.Store.WatchChanges. A SQLite store
// reports no changes: it fails with an error wrapping errors.ErrUnsupported.
func (s *SQLStore) WatchChanges(w ChangeWatcher) (stop func(), err error) {
	if s.Changes == nil {
		return nil, fmt.Errorf("%s: %w", s.dialect, errUnsupportedFeed)
	}
	return s.Changes.watch(w)
}

// Close stops a PostgreSQL or MySQL store's listening for changes (WatchChanges),
// and closes the statements that a SQLite store prepared on its database, so that
// an application that drops the store but keeps the database leaks none; closing
// the database closes them too. Close does not close the database or pool, which the
// application owns, and a store used after Close runs its statements unprepared.
// pgx prepares and caches a Postgres store's statements per connection of its pool.
func (s *SQLStore) Close() error {
	if s.Changes != nil {
		s.Changes.close()
	}
	if s.Statements == nil {
		return nil
	}
	return s.Statements.Close()
}

func (s *SQLStore) deletionsOf() *deletions { return &s.deletions }

// SQLite's primary result codes that the store and Migrate act on.
const (
	SQLiteBusy   = 5 // SQLITE_BUSY: another connection holds a lock that is needed
	SQLiteLocked = 6 // SQLITE_LOCKED: a conflict within the same connection or cache
)

// SQLiteCode returns SQLite's primary result code in err, the low byte of the
// extended code that the driver's error reports (modernc.org/sqlite's *sqlite.Error
// has a Code() int; echosess does not import the driver), or 0 when err holds none.
func SQLiteCode(err error) int {
	var coded interface{ Code() int }
	if errors.As(err, &coded) {
		return coded.Code() & 0xff
	}
	return 0
}
