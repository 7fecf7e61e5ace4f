package echosess_test

// A user's sessions at scale (issue 14, item 5): listing a user's sessions costs one
// indexed query whatever the size of the table, and revoking them all that listing
// plus one compare-and-swap by primary key per session (issue 21). The
// benchmarks time ListUserSessions and RevokeUserSessions for a user with 50 sessions
// in tables of 1e3 and 1e6 rows, on the memory store, SQLite and PostgreSQL:
//
//	ECHOSESS_POSTGRES_DSN=... go test -run '^$' -bench 'UserSessions' -benchmem -count 5 .
//
// TestUserSessionQueryPlans proves the "indexed" part: the plan of the listing, as
// the stores send it, reads the user_id index and scans no table. It
// runs with the other tests, on tables of 1e4 (SQLite) and 1e5 rows (PostgreSQL);
// ECHOSESS_USERS_PLAN_ROWS sets another size (BENCHMARKS.md quotes the plans at
// 1e6). The benchmarks check the same plans on their tables of 1e6 rows.
//
// Each table holds rows sessions (scaleUserID): the 50 of the target user, spread
// over the table; of the others, one in five is bound to no user and the rest belong
// to users of 4 sessions each (1e6 rows: 200k users). The SQL tables are seeded with
// one INSERT ... SELECT each; Postgres's is then vacuumed and analyzed, SQLite's WAL
// checkpointed and, as a store's database usually is, left without ANALYZE.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/internal/adaptertest/allstores"
	"github.com/echosess/echosess/pgstore"
	"github.com/echosess/echosess/sqlitestore"
)

const (
	// scaleTarget is the user whose sessions BenchmarkListUserSessions lists.
	scaleTarget = "target"
	// scaleRevokee prefixes the users whose sessions BenchmarkRevokeUserSessions
	// revokes, a new one for each iteration.
	scaleRevokee = "revokee"
	// scaleSessions is how many sessions the target and each revokee have.
	scaleSessions = 50
	// scaleLifetime is the lifetime of every seeded session.
	scaleLifetime = 24 * time.Hour
)

// scaleRows are the sizes of the benchmarks' tables, powers of ten.
var scaleRows = []int{1e3, 1e5, 1e6}

// scaleUserID is the user of the i-th seeded row (1-based) of a table of rows: the
// target for every (rows/50)-th row from the first, so that the target's 50 sessions
// lie spread over the whole table, as sessions created over time would; then none for
// one row in five, and user-<i/5> for the others, so each of those users has 4
// sessions (3 when the target took one). The SQL seeds spell the same rule in SQL.
func scaleUserID(i, rows int) string {
	switch {
	case (i-1)%(rows/scaleSessions) == 0:
		return scaleTarget
	case i%5 == 0:
		return ""
	}
	return "user-" + strconv.Itoa(i/5)
}

// scaleFixture is a store seeded with a table of rows sessions.
type scaleFixture struct {
	store echosess.Store
	// add inserts n live sessions of user, in one statement on the SQL stores.
	add func(ctx context.Context, user string, n int) error
	// revokees counts the users that BenchmarkRevokeUserSessions made.
	revokees int
}

// The fixtures are seeded once per test binary, as the table of 1e6 rows takes
// seconds, and closed by TestMain.
var (
	scaleMu       sync.Mutex
	scaleFixtures = map[string]*scaleFixture{}
	scaleClosers  []func()
)

func TestMain(m *testing.M) {
	code := m.Run()
	scaleMu.Lock()
	for i := len(scaleClosers) - 1; i >= 0; i-- {
		scaleClosers[i]()
	}
	scaleMu.Unlock()
	os.Exit(code)
}

// BenchmarkListUserSessions lists the target user's 50 sessions.
func BenchmarkListUserSessions(b *testing.B) {
	scaleBench(b, func(b *testing.B, f *scaleFixture) {
		ctx := scaleContext(b)
		b.ReportAllocs()
		for b.Loop() {
			list, err := echosess.ListUserSessions(ctx, f.store, scaleTarget)
			if err != nil || len(list) != scaleSessions {
				b.Fatalf("ListUserSessions = %d sessions, %v; want %d", len(list), err, scaleSessions)
			}
		}
	})
}

// BenchmarkRevokeUserSessions revokes all 50 sessions of a user. Before each
// iteration, with the timer stopped, 50 sessions of a new user (revokee-<n>) are
// inserted (one INSERT on the SQL stores), so that the table keeps its size. A new
// user each time, rather than the same one again: PostgreSQL's bitmap index scan
// would otherwise visit every dead row that the earlier iterations left under that
// user until a vacuum, and the revocation would slow down run after run.
func BenchmarkRevokeUserSessions(b *testing.B) {
	scaleBench(b, func(b *testing.B, f *scaleFixture) {
		ctx := scaleContext(b)
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			f.revokees++
			user := scaleRevokee + "-" + strconv.Itoa(f.revokees)
			if err := f.add(ctx, user, scaleSessions); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			n, err := echosess.RevokeUserSessions(ctx, f.store, user)
			if err != nil || n != scaleSessions {
				b.Fatalf("RevokeUserSessions = %d, %v; want %d", n, err, scaleSessions)
			}
		}
	})
}

// scaleBench runs fn on each store and table size.
func scaleBench(b *testing.B, fn func(*testing.B, *scaleFixture)) {
	for _, store := range []string{"memory", "sqlite", "postgres"} {
		b.Run("store="+store, func(b *testing.B) {
			for _, rows := range scaleRows {
				b.Run(fmt.Sprintf("rows=1e%d", len(strconv.Itoa(rows))-1), func(b *testing.B) {
					fn(b, scaleFixtureOf(b, store, rows))
				})
			}
		})
	}
}

// scaleContext returns a context with a deadline far off, as an admin request's
// would have, cancelled when b ends.
func scaleContext(b *testing.B) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	b.Cleanup(cancel)
	return ctx
}

// scaleFixtureOf returns a fixture of store with rows sessions. The SQL fixtures are
// seeded on first use and kept for the run; a memory store is seeded for each
// benchmark and dropped after it, so that its records burden the garbage collector
// of no other benchmark. A table of 1e5 rows or more must pass the plan checks.
func scaleFixtureOf(b *testing.B, store string, rows int) *scaleFixture {
	name := fmt.Sprintf("%s/%d", store, rows)
	scaleMu.Lock()
	defer scaleMu.Unlock()
	if f := scaleFixtures[name]; f != nil {
		return f
	}
	start := time.Now()
	var f *scaleFixture
	switch store {
	case "memory":
		f = memoryScaleFixture(b, rows)
	case "sqlite":
		f = sqliteScaleFixture(b, rows)
	case "postgres":
		f = postgresScaleFixture(b, rows)
	}
	runtime.GC()
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	b.Logf("seeded %s in %v; Go heap %d MiB", name, time.Since(start).Round(time.Millisecond), mem.HeapAlloc>>20)
	if store != "memory" {
		scaleFixtures[name] = f
	}
	return f
}

func memoryScaleFixture(b *testing.B, rows int) *scaleFixture {
	store := echosess.NewMemoryStore()
	exp := time.Now().Add(scaleLifetime)
	save := func(ctx context.Context, user string) error {
		rec := echosess.Record{Key: scaleRandomKey(), Data: map[string]json.RawMessage{}, Expiry: exp, Deadline: exp, UserID: user}
		return store.Save(ctx, rec)
	}
	for i := 1; i <= rows; i++ {
		if err := save(context.Background(), scaleUserID(i, rows)); err != nil {
			b.Fatal(err)
		}
	}
	return &scaleFixture{store: store, add: func(ctx context.Context, user string, n int) error {
		for range n {
			if err := save(ctx, user); err != nil {
				return err
			}
		}
		return nil
	}}
}

func sqliteScaleFixture(b *testing.B, rows int) *scaleFixture {
	dir, err := os.MkdirTemp("", "echosess-users-")
	if err != nil {
		b.Fatal(err)
	}
	scaleClosers = append(scaleClosers, func() { os.RemoveAll(dir) })
	db, err := sql.Open("sqlite", sqlitestore.DSN(filepath.Join(dir, "sessions.db")))
	if err != nil {
		b.Fatal(err)
	}
	scaleClosers = append(scaleClosers, func() { db.Close() })
	ctx := context.Background()
	if err := sqlitestore.Migrate(ctx, db); err != nil {
		b.Fatal(err)
	}
	if err := seedSQLiteScale(ctx, db, rows); err != nil {
		b.Fatal(err)
	}
	if rows >= 1e5 {
		checkSQLitePlans(b, ctx, db)
	}
	store := sqlitestore.New(db)
	scaleClosers = append(scaleClosers, func() { store.Close() })
	return &scaleFixture{store: store, add: func(ctx context.Context, user string, n int) error {
		return addSQLiteScale(ctx, db, user, n)
	}}
}

func postgresScaleFixture(b *testing.B, rows int) *scaleFixture {
	dsn := allstores.PostgresDSN(b)
	ctx := context.Background()
	schema := "echosess_users_" + allstores.RandomHex(b)
	if err := scaleAdminExec(ctx, dsn, "CREATE SCHEMA "+schema); err != nil {
		b.Fatal(err)
	}
	scaleClosers = append(scaleClosers, func() {
		if err := scaleAdminExec(context.Background(), dsn, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	})
	pool, err := pgxpool.New(ctx, allstores.WithPostgresParam(dsn, "search_path", schema))
	if err != nil {
		b.Fatal(err)
	}
	scaleClosers = append(scaleClosers, pool.Close)
	db := stdlib.OpenDBFromPool(pool)
	err = pgstore.Migrate(ctx, db)
	db.Close()
	if err != nil {
		b.Fatal(err)
	}
	if err := seedPostgresScale(ctx, pool, rows); err != nil {
		b.Fatal(err)
	}
	if rows >= 1e5 {
		checkPostgresPlans(b, ctx, pool)
	}
	store := pgstore.New(pool)
	scaleClosers = append(scaleClosers, func() { store.Close() })
	return &scaleFixture{store: store, add: func(ctx context.Context, user string, n int) error {
		return addPostgresScale(ctx, pool, user, n)
	}}
}

// scaleAdminExec runs one statement on a connection of its own to dsn.
func scaleAdminExec(ctx context.Context, dsn, statement string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, statement)
	return err
}

// scaleRandomKey returns a new random store key, 32 random bytes in base64url as the
// engine's keys are.
func scaleRandomKey() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// seedSQLiteScale fills SQLite's empty table with rows sessions (scaleUserID) in one
// statement, and checkpoints the WAL. The rows go in in the order of scaleUserID,
// their keys at random. The seeding connection gets a
// page cache of 256 MiB for the while, as the user_id index, filled in random order,
// would otherwise spill SQLite's default of 2 MiB on every few rows.
func seedSQLiteScale(ctx context.Context, db *sql.DB, rows int) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var cacheSize int
	if err := conn.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&cacheSize); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA cache_size = -262144"); err != nil {
		return err
	}
	defer conn.ExecContext(ctx, "PRAGMA cache_size = "+strconv.Itoa(cacheSize))
	now := time.Now()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?1)
INSERT INTO echosess_sessions (key, data, expires_at, deadline, version, created_at, updated_at, user_id)
SELECT lower(hex(randomblob(22))), X'7B7D', ?2, ?2, 1, ?3 - (i % 86400) * 1000, ?3 - (i % 86400) * 1000,
       CASE WHEN (i - 1) % (?1 / ?4) = 0 THEN ?5 WHEN i % 5 = 0 THEN '' ELSE 'user-' || (i / 5) END
FROM seq`, rows, now.Add(scaleLifetime).UnixMilli(), now.UnixMilli(), scaleSessions, scaleTarget); err != nil {
		return fmt.Errorf("seed sqlite: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}

// addSQLiteScale inserts n live sessions of user in one statement.
func addSQLiteScale(ctx context.Context, db *sql.DB, user string, n int) error {
	if n == 0 {
		return nil
	}
	now := time.Now()
	_, err := db.ExecContext(ctx, `
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?1)
INSERT INTO echosess_sessions (key, data, expires_at, deadline, version, created_at, updated_at, user_id)
SELECT lower(hex(randomblob(22))), X'7B7D', ?2, ?2, 1, ?3, ?3, ?4
FROM seq`, n, now.Add(scaleLifetime).UnixMilli(), now.UnixMilli(), user)
	return err
}

// seedPostgresScale fills Postgres's empty table with rows sessions (scaleUserID) in
// one statement, in key order, and vacuums and analyzes it. The change trigger
// (migration 00006) is off for the while: it would run once per row and take most
// of the seed's time.
func seedPostgresScale(ctx context.Context, pool *pgxpool.Pool, rows int) error {
	now := time.Now()
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "ALTER TABLE echosess_sessions DISABLE TRIGGER echosess_sessions_changes"); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `
INSERT INTO echosess_sessions (key, data, expires_at, deadline, version, created_at, updated_at, user_id)
SELECT rtrim(translate(encode(sha256(('users seed ' || i)::bytea), 'base64'), '+/', '-_'), '='),
       '{}'::bytea, $2, $2, 1, $3::timestamptz - (i % 86400) * interval '1 second',
       $3::timestamptz - (i % 86400) * interval '1 second',
       CASE WHEN (i - 1) % ($1::int / $4::int) = 0 THEN $5::text WHEN i % 5 = 0 THEN '' ELSE 'user-' || (i / 5) END
FROM generate_series(1, $1::int) AS i
ORDER BY 1`, rows, now.Add(scaleLifetime), now, scaleSessions, scaleTarget); err != nil {
		return fmt.Errorf("seed postgres: %w", err)
	}
	if _, err := tx.Exec(ctx, "ALTER TABLE echosess_sessions ENABLE TRIGGER echosess_sessions_changes"); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	_, err = pool.Exec(ctx, "VACUUM ANALYZE echosess_sessions")
	return err
}

// addPostgresScale inserts n live sessions of user in one statement.
func addPostgresScale(ctx context.Context, pool *pgxpool.Pool, user string, n int) error {
	if n == 0 {
		return nil
	}
	now := time.Now()
	_, err := pool.Exec(ctx, `
INSERT INTO echosess_sessions (key, data, expires_at, deadline, version, created_at, updated_at, user_id)
SELECT rtrim(translate(encode(sha256(gen_random_uuid()::text::bytea), 'base64'), '+/', '-_'), '='),
       '{}'::bytea, $2, $2, 1, $3, $3, $4
FROM generate_series(1, $1::int)`, n, now.Add(scaleLifetime), now, user)
	return err
}

// TestUserSessionQueryPlans checks that the SQL stores list a user's sessions
// through the user_id index in a large table: the statement is the one
// sqlc generated (internal/db/*/sessions.sql.go), explained with the target
// user's ID. On PostgreSQL, in a table of 1e5 rows, both the custom plan (the
// parameters' values known) and the generic plan (which a prepared statement may
// switch to) are checked. On SQLite the plan is checked before and after ANALYZE, in
// a table of 1e4 rows: without statistics SQLite plans the same whatever the size,
// and the modernc.org driver, compiled Go, seeds ten times slower under -race. On
// MySQL or MariaDB the plan is checked after ANALYZE TABLE, in a table of 1e5 rows,
// as on PostgreSQL. ECHOSESS_USERS_PLAN_ROWS sets the size of every table.
//
// It also logs the buffers that PostgreSQL's listing reads (EXPLAIN ANALYZE), which
// BENCHMARKS.md compares by size.
func TestUserSessionQueryPlans(t *testing.T) {
	sqliteRows, postgresRows := 10_000, 100_000
	if v := os.Getenv("ECHOSESS_USERS_PLAN_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < scaleSessions || n%scaleSessions != 0 {
			t.Fatalf("ECHOSESS_USERS_PLAN_ROWS=%q: want a multiple of %d rows", v, scaleSessions)
		}
		sqliteRows, postgresRows = n, n
	}
	ctx := context.Background()
	t.Run("sqlite", func(t *testing.T) {
		db := allstores.NewSQLiteDB(t)
		start := time.Now()
		if err := seedSQLiteScale(ctx, db, sqliteRows); err != nil {
			t.Fatal(err)
		}
		t.Logf("seeded %d rows in %v", sqliteRows, time.Since(start).Round(time.Millisecond))
		t.Logf("without ANALYZE:\n%s", checkSQLitePlans(t, ctx, db))
		if _, err := db.ExecContext(ctx, "ANALYZE"); err != nil {
			t.Fatal(err)
		}
		t.Logf("after ANALYZE:\n%s", checkSQLitePlans(t, ctx, db))
	})
	t.Run("mysql", func(t *testing.T) {
		db := allstores.NewMySQLDB(t)
		start := time.Now()
		if err := seedMySQLScale(ctx, db, postgresRows); err != nil {
			t.Fatal(err)
		}
		t.Logf("seeded %d rows in %v", postgresRows, time.Since(start).Round(time.Millisecond))
		t.Logf("after ANALYZE TABLE:\n%s", checkMySQLPlans(t, ctx, db))
	})
	t.Run("postgres", func(t *testing.T) {
		pool := allstores.NewPostgresPool(t)
		start := time.Now()
		if err := seedPostgresScale(ctx, pool, postgresRows); err != nil {
			t.Fatal(err)
		}
		t.Logf("seeded %d rows in %v", postgresRows, time.Since(start).Round(time.Millisecond))
		t.Logf("after VACUUM ANALYZE:\n%s", checkPostgresPlans(t, ctx, pool))
		t.Logf("executed:\n%s", postgresBuffers(t, ctx, pool))
	})
}

// seedMySQLScale fills the empty MySQL table with rows sessions (scaleUserID), at
// most 1e6, in one statement, and analyzes it. The row numbers come from a cross
// join of digits, which both MySQL and MariaDB run (MySQL's recursive CTE stops at
// 1000 rows by default).
func seedMySQLScale(ctx context.Context, db *sql.DB, rows int) error {
	digits := "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4" +
		" UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"
	now := time.Now().UTC()
	_, err := db.ExecContext(ctx, `
INSERT INTO echosess_sessions (`+"`key`"+`, data, expires_at, deadline, version, created_at, updated_at, user_id)
SELECT SUBSTRING(TO_BASE64(UNHEX(SHA2(CONCAT('users seed ', i), 256))), 1, 43), '{}', ?, ?, 1,
       ? - INTERVAL (i % 86400) SECOND, ? - INTERVAL (i % 86400) SECOND,
       CASE WHEN (i - 1) % (? DIV ?) = 0 THEN ? WHEN i % 5 = 0 THEN '' ELSE CONCAT('user-', i DIV 5) END
FROM (SELECT d0.d + 10 * d1.d + 100 * d2.d + 1000 * d3.d + 10000 * d4.d + 100000 * d5.d + 1 AS i
      FROM `+digits+` d0, `+digits+` d1, `+digits+` d2, `+digits+` d3, `+digits+` d4, `+digits+` d5) AS seq
WHERE i <= ?`, now.Add(scaleLifetime), now.Add(scaleLifetime), now, now, rows, scaleSessions, scaleTarget, rows)
	if err != nil {
		return fmt.Errorf("seed mysql: %w", err)
	}
	_, err = db.ExecContext(ctx, "ANALYZE TABLE echosess_sessions")
	return err
}

// checkMySQLPlans fails t unless EXPLAIN of the listing reads the user_id index and
// scans no table, and returns the plan.
func checkMySQLPlans(t testing.TB, ctx context.Context, db *sql.DB) string {
	t.Helper()
	rows, err := db.QueryContext(ctx, "EXPLAIN "+generatedList(t, "mysql"), scaleTarget, time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var report strings.Builder
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		plan := map[string]string{}
		for i, c := range cols {
			plan[c] = vals[i].String
			fmt.Fprintf(&report, "%s=%s ", c, vals[i].String)
		}
		report.WriteString("\n")
		if plan["key"] != "echosess_sessions_user_id_idx" || plan["type"] == "ALL" {
			t.Errorf("mysql ListUserSessions plan: type %s, key %q; want the user_id index", plan["type"], plan["key"])
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return report.String()
}

// generatedList returns the text of the sqlc-generated constant listUserSessions of
// dialect's package in internal/db: the statement the store sends.
func generatedList(t testing.TB, dialect string) string {
	t.Helper()
	path := filepath.Join("internal", "db", dialect, "sessions.sql.go")
	file, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	for _, decl := range file.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.CONST {
			continue
		}
		for _, spec := range gen.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if text, ok := stringConst(vs.Values[i]); ok {
					consts[name.Name] = text
				}
			}
		}
	}
	list := consts["listUserSessions"]
	if !strings.Contains(list, "name: ListUserSessions") {
		t.Fatalf("%s: no listUserSessions query", path)
	}
	return list
}

// stringConst returns the value of expr, a string literal or a sum of them (sqlc
// spells a backquote inside a raw string as ` + "`" + `), and whether it is one.
func stringConst(expr ast.Expr) (string, bool) {
	switch e := expr.(type) {
	case *ast.BasicLit:
		text, err := strconv.Unquote(e.Value)
		return text, e.Kind == token.STRING && err == nil
	case *ast.BinaryExpr:
		x, okX := stringConst(e.X)
		y, okY := stringConst(e.Y)
		return x + y, e.Op == token.ADD && okX && okY
	}
	return "", false
}

// checkSQLitePlans fails t unless EXPLAIN QUERY PLAN of the listing searches the
// user_id index and scans no table, and returns the plans.
func checkSQLitePlans(t testing.TB, ctx context.Context, db *sql.DB) string {
	t.Helper()
	var report strings.Builder
	list := generatedList(t, "sqlite")
	for _, q := range []struct {
		name, sql string
		args      []any
	}{
		{"ListUserSessions", list, []any{scaleTarget, time.Now().UnixMilli()}},
	} {
		rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q.sql, q.args...)
		if err != nil {
			t.Fatalf("%s: %v", q.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notUsed int
			var detail string
			if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		fmt.Fprintf(&report, "sqlite %s: %s\n", q.name, strings.Join(plan, " | "))
		indexed := false
		for _, line := range plan {
			indexed = indexed || strings.Contains(line, "USING INDEX echosess_sessions_user_id_idx")
			if strings.HasPrefix(line, "SCAN ") {
				t.Errorf("sqlite %s scans a table: %q", q.name, line)
			}
		}
		if !indexed {
			t.Errorf("sqlite %s does not use echosess_sessions_user_id_idx: %q", q.name, plan)
		}
	}
	return report.String()
}

// checkPostgresPlans fails t unless the custom and generic plans of the listing
// read the user_id index and scan no table sequentially, and returns the plans.
func checkPostgresPlans(t testing.TB, ctx context.Context, pool *pgxpool.Pool) string {
	t.Helper()
	var report strings.Builder
	list := generatedList(t, "postgres")
	c, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn := c.Hijack() // its prepared statements and settings go with it
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "PREPARE scale_list AS "+list); err != nil {
		t.Fatalf("prepare %s: %v", list, err)
	}
	for _, mode := range []string{"custom", "generic"} {
		if _, err := conn.Exec(ctx, "SET plan_cache_mode = force_"+mode+"_plan"); err != nil {
			t.Fatal(err)
		}
		for _, q := range []struct{ name, explain string }{
			{"ListUserSessions", "EXPLAIN EXECUTE scale_list('" + scaleTarget + "', now())"},
		} {
			rows, err := conn.Query(ctx, q.explain, pgx.QueryExecModeSimpleProtocol)
			if err != nil {
				t.Fatalf("%s: %v", q.explain, err)
			}
			plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatalf("%s: %v", q.explain, err)
			}
			fmt.Fprintf(&report, "postgres %s, %s plan:\n%s\n", q.name, mode, strings.Join(plan, "\n"))
			indexed := false
			for _, line := range plan {
				indexed = indexed || strings.Contains(line, "Scan") && strings.Contains(line, " on echosess_sessions_user_id_idx")
				if strings.Contains(line, "Seq Scan") {
					t.Errorf("postgres %s, %s plan scans the table: %q", q.name, mode, line)
				}
			}
			if !indexed {
				t.Errorf("postgres %s, %s plan does not use echosess_sessions_user_id_idx:\n%s", q.name, mode, strings.Join(plan, "\n"))
			}
		}
	}
	return report.String()
}

// postgresBuffers runs the listing for the target user under EXPLAIN (ANALYZE,
// BUFFERS), and returns its plan with the pages each node read.
func postgresBuffers(t testing.TB, ctx context.Context, pool *pgxpool.Pool) string {
	t.Helper()
	list := generatedList(t, "postgres")
	c, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn := c.Hijack()
	defer conn.Close(ctx)
	var report strings.Builder
	explain := func(name, stmt string) {
		rows, err := conn.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, SUMMARY OFF) "+stmt, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
		if name != "" {
			fmt.Fprintf(&report, "postgres %s:\n%s\n", name, strings.Join(plan, "\n"))
		}
	}
	if _, err := conn.Exec(ctx, "PREPARE scale_list AS "+list); err != nil {
		t.Fatalf("prepare %s: %v", list, err)
	}
	listUser := "EXECUTE scale_list('" + scaleTarget + "', now())"
	explain("", listUser) // the first run reads the pages into the buffers
	explain("ListUserSessions", listUser)
	return report.String()
}
