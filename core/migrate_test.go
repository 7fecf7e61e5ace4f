package core

import (
	"context"
	"errors"
	"testing"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
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
