package core

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Dialect names an SQL database that echosess keeps sessions in.
type Dialect string

// The dialects that Migrate and the SQL stores support.
const (
	// DialectSQLite is SQLite, opened through modernc.org/sqlite (see SQLiteDSN).
	DialectSQLite Dialect = "sqlite"
	// DialectPostgres is PostgreSQL. For Migrate, turn a pgx pool into a *sql.DB
	// with stdlib.OpenDBFromPool from github.com/jackc/pgx/v5/stdlib.
	DialectPostgres Dialect = "postgres"
)

// MigrationTable is the table in which goose records which of the echosess migrations
// a database has. It is not goose's default, so the echosess schema and an
// application's own goose migrations never mix; pass it to the goose command with
// -table echosess_db_version.
const MigrationTable = "echosess_db_version"

// migrationLockID is the PostgreSQL advisory lock that Migrate holds while it runs: the
// eight bytes of "echosess", so it is not the lock of an application's own goose runs.
const migrationLockID int64 = 0x6563686f73657373

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// Migrate brings the session table of db up to date with the goose migrations that
// ship in this package (the same files as the migrations folder of the repository).
// Running it again when nothing is pending changes nothing. On PostgreSQL it holds an
// advisory lock while it runs, so several instances of an app starting at once
// migrate exactly once; the others wait for it and then find nothing to do.
func Migrate(ctx context.Context, db *sql.DB, dialect Dialect) error {
	p, err := migrationProvider(db, dialect)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("echosess: migrate %s: %w", dialect, err)
	}
	return nil
}

func migrationProvider(db *sql.DB, dialect Dialect) (*goose.Provider, error) {
	opts := []goose.ProviderOption{
		goose.WithTableName(MigrationTable),
		goose.WithDisableGlobalRegistry(true), // ignore Go migrations the app registered with goose
	}
	var gooseDialect goose.Dialect
	switch dialect {
	case DialectSQLite:
		gooseDialect = goose.DialectSQLite3
	case DialectPostgres:
		gooseDialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker(
			lock.WithLockID(migrationLockID),
			lock.WithLockTimeout(1, 600), // try every second, for up to 10 minutes
		)
		if err != nil {
			return nil, fmt.Errorf("echosess: migrate %s: %w", dialect, err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	default:
		return nil, fmt.Errorf("echosess: migrate: unknown dialect %q", dialect)
	}
	files, err := fs.Sub(migrationFiles, "migrations/"+string(dialect))
	if err != nil {
		return nil, fmt.Errorf("echosess: migrate %s: %w", dialect, err)
	}
	p, err := goose.NewProvider(gooseDialect, db, files, opts...)
	if err != nil {
		return nil, fmt.Errorf("echosess: migrate %s: %w", dialect, err)
	}
	return p, nil
}
