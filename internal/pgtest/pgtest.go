// Package pgtest gives tests a PostgreSQL schema of their own in the database that
// ECHOSESS_POSTGRES_DSN names. It imports nothing of echosess but servicetest, so
// that the stores' own tests can use it too.
package pgtest

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/echosess/echosess/internal/servicetest"
)

// DSN returns ECHOSESS_POSTGRES_DSN, skipping the test when it is not set
// (failing it under CI, which must run the PostgreSQL tests).
func DSN(t testing.TB) string {
	t.Helper()
	return servicetest.DSN(t, "ECHOSESS_POSTGRES_DSN", "PostgreSQL", howToRun)
}

const howToRun = "set ECHOSESS_POSTGRES_DSN to a database they may create schemas in, such as postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// NewSchema creates an empty schema with a random name, to be dropped when the
// test ends, and returns a DSN whose search_path is that schema.
func NewSchema(t testing.TB) string {
	t.Helper()
	dsn := DSN(t)
	schema := "echosess_test_" + RandomHex(t)
	AdminExec(t, dsn, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { AdminExec(t, dsn, "DROP SCHEMA "+schema+" CASCADE") })
	return WithParam(dsn, "search_path", schema)
}

// Open opens a pool on dsn, closed when the test ends.
func Open(t testing.TB, dsn string) *pgxpool.Pool {
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

// AdminExec runs one statement on a connection of its own to dsn.
func AdminExec(t testing.TB, dsn, statement string) {
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

// WithParam sets a connection parameter in a DSN of either form that pgx
// accepts: a postgres:// URL or key=value pairs.
func WithParam(dsn, key, value string) string {
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

// RandomHex returns 12 random hex digits, for names that no other test uses.
var RandomHex = servicetest.RandomHex
