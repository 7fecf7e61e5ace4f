package echosess_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/echosess/echosess"
)

// newSQLiteDB returns a migrated SQLite database in a new temporary file, opened the
// way SQLiteDSN documents. It is closed when the test ends.
func newSQLiteDB(t testing.TB) *sql.DB {
	t.Helper()
	db := openSQLite(t, filepath.Join(t.TempDir(), "sessions.db"))
	if err := echosess.Migrate(context.Background(), db, echosess.DialectSQLite); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	return db
}

// openSQLite opens the SQLite file at path with SQLiteDSN, closing it when the test ends.
func openSQLite(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", echosess.SQLiteDSN(path))
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

// newPostgresPool returns a pool on a new, migrated schema of the PostgreSQL database
// that ECHOSESS_POSTGRES_DSN names; the schema is dropped when the test ends. Without
// the variable the test is skipped, or fails when CI=true.
func newPostgresPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool := openPostgres(t, newPostgresSchema(t))
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	if err := echosess.Migrate(context.Background(), db, echosess.DialectPostgres); err != nil {
		t.Fatalf("migrate postgres: %v", err)
	}
	return pool
}

// postgresDSN returns ECHOSESS_POSTGRES_DSN, skipping the test when it is not set
// (failing it under CI, which must run the PostgreSQL tests).
func postgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("ECHOSESS_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("ECHOSESS_POSTGRES_DSN is not set; CI must run the PostgreSQL tests")
		}
		t.Skip("ECHOSESS_POSTGRES_DSN is not set")
	}
	return dsn
}

// newPostgresSchema creates an empty schema with a random name, to be dropped when the
// test ends, and returns a DSN whose search_path is that schema.
func newPostgresSchema(t testing.TB) string {
	t.Helper()
	dsn := postgresDSN(t)
	schema := "echosess_test_" + randomHex(t)
	adminExec(t, dsn, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { adminExec(t, dsn, "DROP SCHEMA "+schema+" CASCADE") })
	return withPostgresParam(dsn, "search_path", schema)
}

// openPostgres opens a pool on dsn, closed when the test ends.
func openPostgres(t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(pool.Close)
	if err := pool.Ping(ctx); err != nil {
		t.Fatalf("ping postgres: %v", err)
	}
	return pool
}

// adminExec runs one statement on a connection of its own to dsn.
func adminExec(t testing.TB, dsn, statement string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to postgres: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, statement); err != nil {
		t.Fatalf("%s: %v", statement, err)
	}
}

// withPostgresParam sets a connection parameter in a DSN of either form that pgx
// accepts: a postgres:// URL or key=value pairs.
func withPostgresParam(dsn, key, value string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			q := u.Query()
			q.Set(key, value)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return dsn + " " + key + "=" + value
}

func randomHex(t testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
