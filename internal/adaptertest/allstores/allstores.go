// Package allstores has the store variants of the adapter tables (package
// adaptertest) on the SQL databases, and the helpers that open them, apart from
// adaptertest itself, so that a module whose tests run the tables on a store of its
// own (redisstore) does not require the SQL drivers.
package allstores

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/echosess/echosess/internal/adaptertest"
	"github.com/echosess/echosess/internal/engine"
	"github.com/echosess/echosess/internal/mysqltest"
	"github.com/echosess/echosess/internal/pgtest"
	"github.com/echosess/echosess/mysqlstore"
	"github.com/echosess/echosess/pgstore"
	"github.com/echosess/echosess/sqlitestore"
	"github.com/echosess/echosess/sqlstore"
)

// Variants lists the store set-ups that the adapter tables run on in the root and
// echov5 modules: the memory store and each SQL database, bare and behind a cache.
var Variants = []adaptertest.Variant{
	{Name: "memory", NewStore: adaptertest.NewMemoryStore},
	{Name: "memory+cache", NewStore: adaptertest.NewMemoryStore, Cached: true},
	{Name: "sqlite", NewStore: NewSQLiteStore},
	{Name: "sqlite+cache", NewStore: NewSQLiteStore, Cached: true},
	{Name: "postgres", NewStore: NewPostgresStore},
	{Name: "postgres+cache", NewStore: NewPostgresStore, Cached: true},
	{Name: "postgres+coherent", NewStore: NewPostgresStore, Cached: true, Coherent: true},
	{Name: "mysql", NewStore: NewMySQLStore},
	{Name: "mysql+cache", NewStore: NewMySQLStore, Cached: true},
	{Name: "mysql+coherent", NewStore: NewMySQLStore, Cached: true, Coherent: true},
}

// NewSQLiteStore is the StoreFactory of a SQLite sqlstore.Store on a new SQLite database.
func NewSQLiteStore(t *testing.T, now func() time.Time) engine.Store {
	return sqlitestore.New(NewSQLiteDB(t), sqlstore.WithClock(now))
}

// NewPostgresStore is the StoreFactory of a PostgreSQL sqlstore.Store on a new PostgreSQL schema
// (see NewPostgresPool), closed when the test ends.
func NewPostgresStore(t *testing.T, now func() time.Time) engine.Store {
	s := pgstore.New(NewPostgresPool(t), sqlstore.WithClock(now))
	t.Cleanup(func() { s.Close() })
	return s
}

// NewMySQLStore is the StoreFactory of a MySQL sqlstore.Store on a new MySQL or
// MariaDB database (see NewMySQLDB), closed when the test ends.
func NewMySQLStore(t *testing.T, now func() time.Time) engine.Store {
	s := mysqlstore.New(NewMySQLDB(t), sqlstore.WithClock(now))
	t.Cleanup(func() { s.Close() })
	return s
}

// NewSQLiteDB returns a migrated SQLite database in a new temporary file, opened the
// way sqlitestore.DSN documents. It is closed when the test ends.
func NewSQLiteDB(t testing.TB) *sql.DB {
	t.Helper()
	db := OpenSQLite(t, filepath.Join(t.TempDir(), "sessions.db"))
	if err := sqlitestore.Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	return db
}

// OpenSQLite opens the SQLite file at path with sqlitestore.DSN, closing it when the test ends.
func OpenSQLite(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", sqlitestore.DSN(path))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close sqlite: %v", err)
		}
	})
	return db
}

// NewPostgresPool returns a pool on a new, migrated schema of the PostgreSQL database
// that ECHOSESS_POSTGRES_DSN names; the schema is dropped when the test ends. Without
// the variable the test is skipped, or fails when CI=true.
func NewPostgresPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return NewPostgresPools(t, 1)[0]
}

// NewPostgresPools returns n pools on one new, migrated schema, as n app instances
// would have.
func NewPostgresPools(t testing.TB, n int) []*pgxpool.Pool {
	t.Helper()
	dsn := NewPostgresSchema(t)
	pools := make([]*pgxpool.Pool, n)
	for i := range pools {
		pools[i] = OpenPostgres(t, dsn)
	}
	db := stdlib.OpenDBFromPool(pools[0])
	defer db.Close()
	if err := pgstore.Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate postgres: %v", err)
	}
	return pools
}

// NewMySQLDB returns a handle on a new, migrated database of the MySQL or MariaDB
// server that ECHOSESS_MYSQL_DSN names, opened with mysqlstore.DSN; the database is
// dropped when the test ends. Without the variable the test is skipped, or fails
// when CI=true.
func NewMySQLDB(t testing.TB) *sql.DB {
	t.Helper()
	return NewMySQLDBs(t, 1)[0]
}

// NewMySQLDBs returns n handles on one new, migrated database, as n app instances
// would have.
func NewMySQLDBs(t testing.TB, n int) []*sql.DB {
	t.Helper()
	dsn := mysqlstore.DSN(mysqltest.NewDatabase(t))
	dbs := make([]*sql.DB, n)
	for i := range dbs {
		dbs[i] = mysqltest.Open(t, dsn)
	}
	if err := mysqlstore.Migrate(context.Background(), dbs[0]); err != nil {
		t.Fatalf("migrate mysql: %v", err)
	}
	return dbs
}

// The MySQL helpers of package mysqltest, under the names the suite's tests use.
var (
	MySQLDSN         = mysqltest.DSN
	NewMySQLDatabase = mysqltest.NewDatabase
	OpenMySQL        = mysqltest.Open
)

// The PostgreSQL helpers of package pgtest, under the names the suite's tests use.
var (
	PostgresDSN       = pgtest.DSN
	NewPostgresSchema = pgtest.NewSchema
	OpenPostgres      = pgtest.Open
	AdminExec         = pgtest.AdminExec
	WithPostgresParam = pgtest.WithParam
	RandomHex         = pgtest.RandomHex
)
