package bench

import (
	"context"
	"database/sql"
	"testing"
)

func TestSQLKind(t *testing.T) {
	for _, tc := range []struct {
		stmt string
		want opKind
	}{
		{"SELECT 1", opRead},
		{"  select data FROM t", opRead},
		{"-- name: LoadSession :one\nSELECT data", opRead},
		{"-- a\n-- b\n\tUPDATE t SET x = 1", opWrite},
		{"INSERT INTO t VALUES (1)", opWrite},
		{"delete FROM t", opWrite},
		{"WITH x AS (SELECT 1) DELETE FROM t", opWrite},
		{"SET time_zone = '+00:00'", opOther},
		{"selected", opOther},
		{"BEGIN", opOther},
		{"", opOther},
		{"-- only a comment", opOther},
	} {
		if got := sqlKind(tc.stmt); got != tc.want {
			t.Errorf("sqlKind(%q) = %d, want %d", tc.stmt, got, tc.want)
		}
		if got := sqlKind([]byte(tc.stmt)); got != tc.want {
			t.Errorf("sqlKind([]byte(%q)) = %d, want %d", tc.stmt, got, tc.want)
		}
	}
}

// TestMySQLCounter counts, at the connection, what database/sql and the driver
// send for a call with arguments, which the driver prepares, runs and closes
// (three commands, of which the close gets no reply), and for a statement
// prepared beforehand: one command and one round trip, read or write by the
// statement prepared.
func TestMySQLCounter(t *testing.T) {
	m := sharedMySQL(t)
	n := new(Counter)
	db, err := m.open(m.databases.SCS, n, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // one connection, set up before counting
	ctx := context.Background()
	if err := db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	sel, err := db.PrepareContext(ctx, "SELECT COUNT(*) FROM sessions WHERE token = ?")
	if err != nil {
		t.Fatal(err)
	}
	defer sel.Close()
	upd, err := db.PrepareContext(ctx, "-- name: Touch\nUPDATE sessions SET data = data WHERE token = ?")
	if err != nil {
		t.Fatal(err)
	}
	defer upd.Close()
	var count int
	for _, tc := range []struct {
		name string
		do   func() error
		want Counts
	}{
		{"query with arguments", func() error {
			return db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions WHERE token = ?", "x").Scan(&count)
		}, Counts{Reads: 1, Other: 2, Trips: 2, Cmds: 3}},
		{"exec with arguments", func() error {
			_, err := db.ExecContext(ctx, "DELETE FROM sessions WHERE token = ?", "x")
			return err
		}, Counts{Writes: 1, Other: 2, Trips: 2, Cmds: 3}},
		{"query without arguments", func() error {
			return db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions").Scan(&count)
		}, Counts{Reads: 1, Trips: 1, Cmds: 1}},
		{"prepared select", func() error { return sel.QueryRowContext(ctx, "x").Scan(&count) }, Counts{Reads: 1, Trips: 1, Cmds: 1}},
		{"prepared update", func() error {
			_, err := upd.ExecContext(ctx, "x")
			return err
		}, Counts{Writes: 1, Trips: 1, Cmds: 1}},
	} {
		before := n.Snapshot()
		if err := tc.do(); err != nil && err != sql.ErrNoRows {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := n.Snapshot().Sub(before); got != tc.want {
			t.Errorf("%s: counted %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
