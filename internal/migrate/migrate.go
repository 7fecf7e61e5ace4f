package migrate

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"

	"github.com/echosess/echosess/internal/engine"
	"github.com/echosess/echosess/migrations"
)

// The dialects, named as the engine names them.
type Dialect = engine.Dialect

const (
	DialectSQLite   = engine.DialectSQLite
	DialectPostgres = engine.DialectPostgres
	DialectMySQL    = engine.DialectMySQL
)

// MigrationTable is goose's version table of the echosess migrations.
const MigrationTable = migrations.Table

// migrationLockID is the PostgreSQL advisory lock that Migrate holds while it runs: the
// eight bytes of "echosess", so it is not the lock of an application's own goose runs.
const migrationLockID int64 = 0x6563686f73657373

// migrationLockWait bounds how long Migrate waits for another session's migration
// lock on PostgreSQL, MySQL or MariaDB, when ctx does not end the wait first.
const migrationLockWait = 10 * time.Minute

// maxMigrateAttempts bounds how often Migrate on SQLite starts over after it found
// another process migrating the same file.
const maxMigrateAttempts = 10

// Run brings the session table of db up to date with the goose migrations of
// dialect that package migrations embeds; sqlitestore.Migrate, pgstore.Migrate and
// mysqlstore.Migrate say how it behaves on each.
func Run(ctx context.Context, db *sql.DB, dialect Dialect) error {
	logger := slog.Default()
	if dialect == DialectMySQL {
		release, err := holdLock(ctx, db, mysqlLock(logger, migrationLockWait))
		if err != nil {
			return fmt.Errorf("echosess: migrate %s: %w", dialect, err)
		}
		defer release()
	}
	for attempt := 1; ; attempt++ {
		p, err := migrationProvider(db, dialect, logger)
		if err != nil {
			return err
		}
		_, err = p.Up(ctx)
		if err == nil {
			return nil
		}
		if dialect == DialectSQLite && attempt < maxMigrateAttempts && migratedConcurrently(ctx, db, err) {
			logger.InfoContext(ctx, "echosess: migrate sqlite: another process is migrating the same database; starting over",
				"attempt", attempt, "error", err)
			select {
			case <-ctx.Done():
				return fmt.Errorf("echosess: migrate %s: %w", dialect, err)
			case <-time.After(time.Duration(attempt) * 10 * time.Millisecond):
			}
			continue
		}
		return explainFailure(ctx, db, dialect, p, err)
	}
}

func migrationProvider(db *sql.DB, dialect Dialect, logger *slog.Logger) (*goose.Provider, error) {
	opts := []goose.ProviderOption{
		goose.WithDisableGlobalRegistry(true), // ignore Go migrations the app registered with goose
	}
	var gooseDialect goose.Dialect
	switch dialect {
	case DialectSQLite:
		store, err := database.NewStore(goose.DialectSQLite3, MigrationTable)
		if err != nil {
			return nil, fmt.Errorf("echosess: migrate %s: %w", dialect, err)
		}
		gooseDialect = goose.DialectCustom
		opts = append(opts, goose.WithStore(sqliteVersions{store}))
	case DialectPostgres:
		gooseDialect = goose.DialectPostgres
		opts = append(opts,
			goose.WithTableName(MigrationTable),
			goose.WithSessionLocker(postgresLock(logger, migrationLockWait)))
	case DialectMySQL: // locked by Run, around all that goose does
		gooseDialect = goose.DialectMySQL
		opts = append(opts, goose.WithTableName(MigrationTable))
	default:
		return nil, fmt.Errorf("echosess: migrate: unknown dialect %q", dialect)
	}
	files, err := fs.Sub(migrations.FS, string(dialect))
	if err != nil {
		return nil, fmt.Errorf("echosess: migrate %s: %w", dialect, err)
	}
	p, err := goose.NewProvider(gooseDialect, db, files, opts...)
	if err != nil {
		return nil, fmt.Errorf("echosess: migrate %s: %w", dialect, err)
	}
	return p, nil
}

// errAppliedMeanwhile is the error with which a migration's transaction rolls back
// when another process applied the same migration after this one listed what was
// applied.
var errAppliedMeanwhile = errors.New("another process applied this migration meanwhile")

// sqliteVersions is goose's SQLite version table, made safe for processes that
// migrate one file at once. Goose reads what is applied before it applies the rest,
// outside the transactions that apply them; each transaction takes SQLite's write
// lock when it begins (SQLiteDSN's BEGIN IMMEDIATE) or fails when another writer
// committed since it read, so checks made inside it see what every other process
// committed. Creating the table again is then a no-op, and recording a migration
// that another process recorded meanwhile rolls it back.
type sqliteVersions struct{ database.Store }

// TableExists reports whether the version table exists.
func (s sqliteVersions) TableExists(ctx context.Context, db database.DBTxConn) (bool, error) {
	var exists bool
	err := db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?)", s.Tablename()).Scan(&exists)
	return exists, err
}

// CreateVersionTable creates the version table unless another process has.
func (s sqliteVersions) CreateVersionTable(ctx context.Context, db database.DBTxConn) error {
	switch exists, err := s.TableExists(ctx, db); {
	case err != nil:
		return err
	case exists:
		return nil
	}
	return s.Store.CreateVersionTable(ctx, db)
}

// Insert records req.Version as applied, unless it is already: then the version
// table's own row 0 is left as it is, and for a migration the transaction that
// applied it again fails with errAppliedMeanwhile.
func (s sqliteVersions) Insert(ctx context.Context, db database.DBTxConn, req database.InsertRequest) error {
	switch m, err := s.GetMigration(ctx, db, req.Version); {
	case err != nil && !errors.Is(err, database.ErrVersionNotFound):
		return err
	case err == nil && m.IsApplied && req.Version == 0:
		return nil
	case err == nil && m.IsApplied:
		return fmt.Errorf("version %d: %w", req.Version, errAppliedMeanwhile)
	}
	return s.Store.Insert(ctx, db, req)
}

// migratedConcurrently reports whether err, the failure of a migration run on SQLite,
// came from another process migrating the same file: SQLite was busy (opening a new
// file switches it to write-ahead logging, which waits for no lock), the migration
// was applied meanwhile, or it failed and is now recorded as applied.
func migratedConcurrently(ctx context.Context, db *sql.DB, err error) bool {
	if code := engine.SQLiteCode(err); code == engine.SQLiteBusy || code == engine.SQLiteLocked {
		return true
	}
	if errors.Is(err, errAppliedMeanwhile) {
		return true
	}
	var partial *goose.PartialError
	if !errors.As(err, &partial) || partial.Failed == nil || partial.Failed.Source == nil {
		return false
	}
	store, serr := database.NewStore(goose.DialectSQLite3, MigrationTable)
	if serr != nil {
		return false
	}
	m, gerr := store.GetMigration(ctx, db, partial.Failed.Source.Version)
	return gerr == nil && m.IsApplied
}

// explainFailure returns the error of a failed migration run. When it failed because
// the goose command applied the echosess migrations with its default version table
// (run without -table echosess_db_version), the error says so and gives the SQL that
// moves the records where Migrate looks for them.
func explainFailure(ctx context.Context, db *sql.DB, dialect Dialect, p *goose.Provider, err error) error {
	var partial *goose.PartialError
	if !errors.As(err, &partial) {
		return fmt.Errorf("echosess: migrate %s: %w", dialect, err)
	}
	gooseDialect := map[Dialect]goose.Dialect{
		DialectSQLite: goose.DialectSQLite3, DialectPostgres: goose.DialectPostgres, DialectMySQL: goose.DialectMySQL,
	}[dialect]
	ours, oerr := database.NewStore(gooseDialect, MigrationTable)
	theirs, terr := database.NewStore(gooseDialect, goose.DefaultTablename)
	if oerr != nil || terr != nil {
		return fmt.Errorf("echosess: migrate %s: %w", dialect, err)
	}
	if exists, terr := tableExists(ctx, db, dialect, goose.DefaultTablename); terr != nil || !exists {
		return fmt.Errorf("echosess: migrate %s: %w", dialect, err)
	}
	var misplaced []string
	for _, src := range p.ListSources() {
		m, err := theirs.GetMigration(ctx, db, src.Version)
		if err != nil || !m.IsApplied {
			continue
		}
		if m, err := ours.GetMigration(ctx, db, src.Version); err == nil && m.IsApplied {
			continue
		}
		misplaced = append(misplaced, fmt.Sprint(src.Version))
	}
	if len(misplaced) == 0 {
		return fmt.Errorf("echosess: migrate %s: %w", dialect, err)
	}
	rows := make([]string, len(misplaced))
	for i, v := range misplaced {
		rows[i] = "(" + v + ", true)"
	}
	fix := fmt.Sprintf("INSERT INTO %s (version_id, is_applied) VALUES %s; DELETE FROM %s WHERE version_id IN (%s);",
		MigrationTable, strings.Join(rows, ", "), goose.DefaultTablename, strings.Join(misplaced, ", "))
	return fmt.Errorf("echosess: migrate %s: %w\n"+
		"goose's default version table %s records echosess migration %s as applied, and %s, where Migrate looks, does not: "+
		"the goose command was run on the echosess migrations without -table %s. The schema is in place; "+
		"to move the record where Migrate finds it, run this SQL on the database, then Migrate again:\n\t%s",
		dialect, err, goose.DefaultTablename, strings.Join(misplaced, ", "), MigrationTable, MigrationTable, fix)
}

// tableExists reports whether the table called name exists where the dialect's
// unqualified names find it.
func tableExists(ctx context.Context, db *sql.DB, dialect Dialect, name string) (bool, error) {
	q := "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?)"
	switch dialect {
	case DialectPostgres:
		q = "SELECT to_regclass($1) IS NOT NULL"
	case DialectMySQL:
		q = "SELECT EXISTS (SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?)"
	}
	var exists bool
	err := db.QueryRowContext(ctx, q, name).Scan(&exists)
	return exists, err
}

// sessionLock is the goose SessionLocker of Migrate on a database server: a lock
// that one session (connection) holds, which the dialect's functions take, name
// the holder of, and release. While another session holds it, SessionLock tries
// again with a growing pause, at most a second, and logs that it waits and which
// session holds the lock, for up to limit or until ctx ends.
type sessionLock struct {
	dialect Dialect
	logger  *slog.Logger
	limit   time.Duration
	// try takes the lock on conn if it is free, and reports whether it did.
	try func(ctx context.Context, conn *sql.Conn) (bool, error)
	// holder describes the session that holds the lock, as far as conn may see it.
	holder func(ctx context.Context, conn *sql.Conn) string
	// release releases the lock on conn, and reports whether conn held it.
	release func(ctx context.Context, conn *sql.Conn) (bool, error)
}

// SessionLock takes the migration lock on conn.
func (l sessionLock) SessionLock(ctx context.Context, conn *sql.Conn) error {
	start := time.Now()
	pause, lastLog := 100*time.Millisecond, time.Time{}
	for {
		locked, err := l.try(ctx, conn)
		if err != nil {
			return fmt.Errorf("take the migration lock: %w", err)
		}
		if locked {
			if !lastLog.IsZero() {
				l.logger.InfoContext(ctx, "echosess: migrate "+string(l.dialect)+": took the migration lock", "waited", time.Since(start).Round(time.Millisecond))
			}
			return nil
		}
		holder := l.holder(ctx, conn)
		if waited := time.Since(start); waited >= l.limit {
			return fmt.Errorf("the migration lock is still held by %s after %v", holder, l.limit)
		}
		if time.Since(lastLog) >= 30*time.Second {
			lastLog = time.Now()
			l.logger.InfoContext(ctx, "echosess: migrate "+string(l.dialect)+": waiting for the migration lock, which another session holds",
				"holder", holder, "waited", time.Since(start).Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the migration lock held by %s: %w", holder, ctx.Err())
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Second)
	}
}

// SessionUnlock releases the migration lock on conn.
func (l sessionLock) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	unlocked, err := l.release(ctx, conn)
	if err != nil {
		return fmt.Errorf("release the migration lock: %w", err)
	}
	if !unlocked {
		return errors.New("release the migration lock: this session did not hold it")
	}
	return nil
}

// postgresLock is the migration lock on PostgreSQL: the session-level advisory lock
// migrationLockID, which belongs to one database.
func postgresLock(logger *slog.Logger, limit time.Duration) sessionLock {
	return sessionLock{
		dialect: DialectPostgres, logger: logger, limit: limit,
		try: func(ctx context.Context, conn *sql.Conn) (locked bool, err error) {
			err = conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", migrationLockID).Scan(&locked)
			return locked, err
		},
		holder: postgresLockHolder,
		release: func(ctx context.Context, conn *sql.Conn) (unlocked bool, err error) {
			err = conn.QueryRowContext(ctx, "SELECT pg_advisory_unlock($1)", migrationLockID).Scan(&unlocked)
			return unlocked, err
		},
	}
}

// holdLock takes lock on a connection of db of its own and returns the function
// that releases it. Migrate on MySQL holds its lock so, around all that goose does,
// rather than through goose's SessionLocker: goose creates its version table before
// it takes that lock (Provider.HasPending), and MySQL commits the CREATE TABLE
// before the row that goose then inserts, so an instance starting meanwhile found
// the table without that row, and failed with "missing zero version migration".
func holdLock(ctx context.Context, db *sql.DB, lock sessionLock) (release func(), err error) {
	if db.Stats().MaxOpenConnections == 1 {
		return nil, errors.New("the migration lock takes a connection of its own while goose migrates on another, " +
			"and db allows only one (SetMaxOpenConns(1))")
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if err := lock.SessionLock(ctx, conn); err != nil {
		conn.Close()
		return nil, err
	}
	return func() {
		if lock.SessionUnlock(context.WithoutCancel(ctx), conn) != nil {
			// Closing the connection releases its lock; back in the pool it would not.
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}, nil
}

// mysqlLockName is the SQL expression of the name of the migration lock on MySQL
// and MariaDB. Their named locks (GET_LOCK) belong to the server, not to a
// database, so the name holds the database's, hashed, since MySQL takes names of at
// most 64 characters: instances of apps in other databases migrate without waiting.
const mysqlLockName = "CONCAT('echosess migrate ', MD5(DATABASE()))"

// mysqlLock is the migration lock on MySQL and MariaDB, whose goose takes none: a
// named lock (GET_LOCK), which belongs to the connection that took it.
func mysqlLock(logger *slog.Logger, limit time.Duration) sessionLock {
	return sessionLock{
		dialect: DialectMySQL, logger: logger, limit: limit,
		try: func(ctx context.Context, conn *sql.Conn) (bool, error) {
			var locked sql.NullInt64 // NULL: an error, such as no database selected
			if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK("+mysqlLockName+", 0)").Scan(&locked); err != nil {
				return false, err
			}
			if !locked.Valid {
				return false, errors.New("GET_LOCK failed; is a database selected?")
			}
			return locked.Int64 == 1, nil
		},
		holder: mysqlLockHolder,
		release: func(ctx context.Context, conn *sql.Conn) (bool, error) {
			var released sql.NullInt64 // 0: another connection's; NULL: nobody's
			err := conn.QueryRowContext(ctx, "SELECT RELEASE_LOCK("+mysqlLockName+")").Scan(&released)
			return released.Int64 == 1, err
		},
	}
}

// mysqlLockHolder describes the connection that holds the migration lock on MySQL
// or MariaDB: its ID and, where this one may see them (the PROCESS privilege, or
// the same user), its user and client host.
func mysqlLockHolder(ctx context.Context, conn *sql.Conn) string {
	var id sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT IS_USED_LOCK("+mysqlLockName+")").Scan(&id); err != nil || !id.Valid {
		return "another session"
	}
	desc := fmt.Sprintf("the connection with ID %d", id.Int64)
	var user, host string
	err := conn.QueryRowContext(ctx, "SELECT USER, HOST FROM information_schema.PROCESSLIST WHERE ID = ?", id.Int64).Scan(&user, &host)
	if err == nil {
		desc += fmt.Sprintf(" (user %s, client %s)", user, host)
	}
	return desc
}

// postgresLockHolder describes the session that holds the migration lock in conn's database
// (an advisory lock belongs to one database), as far as pg_stat_activity shows it to
// this one: its backend's pid, and for a role allowed to see them, its application
// name, user, client address and start.
func postgresLockHolder(ctx context.Context, conn *sql.Conn) string {
	var (
		pid                     int64
		application, user, addr sql.NullString
		since                   sql.NullTime
	)
	err := conn.QueryRowContext(ctx, `
		SELECT a.pid, a.application_name, a.usename, host(a.client_addr), a.backend_start
		FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
			AND l.classid::bigint = $1 AND l.objid::bigint = $2
			AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
		migrationLockID>>32, migrationLockID&0xffffffff).Scan(&pid, &application, &user, &addr, &since)
	if err != nil {
		return "another session"
	}
	desc := fmt.Sprintf("the backend with pid %d", pid)
	var details []string
	if application.String != "" {
		details = append(details, fmt.Sprintf("application_name %q", application.String))
	}
	if user.String != "" {
		details = append(details, "user "+user.String)
	}
	if addr.String != "" {
		details = append(details, "client "+addr.String)
	}
	if since.Valid {
		details = append(details, "connected since "+since.Time.UTC().Format(time.RFC3339))
	}
	if len(details) > 0 {
		desc += " (" + strings.Join(details, ", ") + ")"
	}
	return desc
}
