package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"

	"github.com/echosess/echosess/internal/pgtest"
)

// TestSQLiteVersionsAppliedMeanwhile: on SQLite, goose reads what is applied before
// the transactions that apply the rest, so a process that migrates at the same time
// as another may find a migration it meant to apply recorded by the other when its
// transaction runs. The version table then rolls that transaction back with
// errAppliedMeanwhile (Migrate starts over and finds nothing to do) rather than let
// a migration run twice, and creating the table or its row 0 again changes nothing.
// unshipped is a migration version beyond those that ship.
const unshipped = 1 << 40

func TestSQLiteVersionsAppliedMeanwhile(t *testing.T) {
	ctx := context.Background()
	db := openSQLite(t, true)
	inner, err := database.NewStore(goose.DialectSQLite3, MigrationTable)
	if err != nil {
		t.Fatal(err)
	}
	versions := sqliteVersions{inner}
	rows := func() int {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+MigrationTable).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := rows()

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := versions.CreateVersionTable(ctx, tx); err != nil {
		t.Fatalf("creating the version table again: %v", err)
	}
	if err := versions.Insert(ctx, tx, database.InsertRequest{Version: 0}); err != nil {
		t.Fatalf("recording version 0 again: %v", err)
	}
	if err := versions.Insert(ctx, tx, database.InsertRequest{Version: 1}); !errors.Is(err, errAppliedMeanwhile) {
		t.Fatalf("recording the applied migration 1 again: %v, want errAppliedMeanwhile", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := versions.Insert(ctx, db, database.InsertRequest{Version: 0}); err != nil {
		t.Fatal(err)
	}
	if got := rows(); got != before {
		t.Fatalf("the version table has %d rows, want the %d it had", got, before)
	}
	if err := versions.Insert(ctx, db, database.InsertRequest{Version: unshipped}); err != nil {
		t.Fatalf("recording a new version: %v", err)
	}
	if got := rows(); got != before+1 {
		t.Fatalf("a new version made %d rows, want %d", got, before+1)
	}
	if !migratedConcurrently(ctx, db, &goose.PartialError{Failed: &goose.MigrationResult{Source: &goose.Source{Version: 1}}, Err: errors.New("table exists")}) {
		t.Error("a failed migration that is now recorded as applied is not taken for another process's")
	}
	if migratedConcurrently(ctx, db, &goose.PartialError{Failed: &goose.MigrationResult{Source: &goose.Source{Version: unshipped + 1}}, Err: errors.New("syntax error")}) {
		t.Error("a failed migration that is not recorded is taken for another process's")
	}
}

// TestLockHolderOfThisDatabase: an advisory lock belongs to one database, so the
// session that Migrate names while it waits for the migration lock is the holder in
// its own database, never one that holds the same lock in another database on the
// same server (another app's Migrate there, or a test run's).
func TestLockHolderOfThisDatabase(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	holdLock := func(app string) (conn *pgx.Conn, dbDSN string) {
		name := "echosess_test_" + pgtest.RandomHex(t)
		pgtest.AdminExec(t, dsn, "CREATE DATABASE "+name)
		t.Cleanup(func() { pgtest.AdminExec(t, dsn, "DROP DATABASE "+name+" WITH (FORCE)") })
		dbDSN = pgtest.WithParam(dsn, "dbname", name)
		conn, err := pgx.Connect(ctx, pgtest.WithParam(dbDSN, "application_name", app))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(ctx) })
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLockID); err != nil {
			t.Fatal(err)
		}
		return conn, dbDSN
	}
	elsewhere, _ := holdLock("elsewhere")
	ours, dbDSN := holdLock("ours")
	db := stdlib.OpenDBFromPool(pgtest.Open(t, dbDSN))
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	if got := postgresLockHolder(ctx, conn); !strings.Contains(got, fmt.Sprintf("pid %d", ours.PgConn().PID())) {
		t.Errorf("postgresLockHolder = %q, want the pid %d of the holder in this database", got, ours.PgConn().PID())
	}
	if _, err := ours.Exec(ctx, "SELECT pg_advisory_unlock($1)", migrationLockID); err != nil {
		t.Fatal(err)
	}
	if got := postgresLockHolder(ctx, conn); got != "another session" {
		t.Errorf("with the lock free in this database, postgresLockHolder = %q, want %q (pid %d holds it in another database)",
			got, "another session", elsewhere.PgConn().PID())
	}
}

// openSQLite opens a new SQLite file as sqlitestore.DSN does, closed when t ends,
// migrated unless told otherwise.
func openSQLite(t *testing.T, migrate bool) *sql.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sessions.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(100)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if migrate {
		if err := Run(context.Background(), db, DialectSQLite); err != nil {
			t.Fatal(err)
		}
	}
	return db
}
