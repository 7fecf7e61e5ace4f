// Package mysqltest gives tests a MySQL or MariaDB database of their own on the
// server that ECHOSESS_MYSQL_DSN names. It imports nothing of echosess but
// servicetest, so that the stores' own tests can use it too.
package mysqltest

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/echosess/echosess/internal/servicetest"
)

// DSN returns ECHOSESS_MYSQL_DSN, a DSN of github.com/go-sql-driver/mysql, skipping
// the test when it is not set (failing it under CI, which must run the MySQL tests).
func DSN(t testing.TB) string {
	t.Helper()
	return servicetest.DSN(t, "ECHOSESS_MYSQL_DSN", "MySQL", howToRun)
}

const howToRun = "set ECHOSESS_MYSQL_DSN to a user who may create databases, such as root@tcp(127.0.0.1:3306)/"

// NewDatabase creates an empty database with a random name, to be dropped when the
// test ends, and returns the DSN of ECHOSESS_MYSQL_DSN with that database selected.
func NewDatabase(t testing.TB) string {
	t.Helper()
	dsn := DSN(t)
	name := "echosess_test_" + servicetest.RandomHex(t)
	AdminExec(t, dsn, "CREATE DATABASE "+name)
	t.Cleanup(func() { AdminExec(t, dsn, "DROP DATABASE "+name) })
	return WithDatabase(t, dsn, name)
}

// WithDatabase returns dsn with the database name selected.
func WithDatabase(t testing.TB, dsn, name string) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("ECHOSESS_MYSQL_DSN: %v", err)
	}
	cfg.DBName = name
	return cfg.FormatDSN()
}

// Open opens dsn, closed when the test ends.
func Open(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatalf("open mysql: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("ping mysql: %v", err)
	}
	return db
}

// AdminExec runs one statement on a connection of its own to dsn.
func AdminExec(t testing.TB, dsn, statement string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatalf("open mysql: %v", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, statement); err != nil {
		t.Fatalf("%s: %v", statement, err)
	}
}
