package echosess_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/labstack/echo/v4"
	"github.com/pressly/goose/v3"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/internal/adaptertest/allstores"
	"github.com/echosess/echosess/migrations"
	"github.com/echosess/echosess/mysqlstore"
	"github.com/echosess/echosess/pgstore"
	"github.com/echosess/echosess/sqlitestore"
)

// migrationBackend is a fresh, unmigrated database of one dialect.
type migrationBackend struct {
	dialect string // the folder of its migrations
	goose   goose.Dialect
	migrate func(ctx context.Context, db *sql.DB) error
	open    func(t *testing.T) (*sql.DB, echosess.Store)
}

var migrationBackends = []migrationBackend{
	{"sqlite", goose.DialectSQLite3, sqlitestore.Migrate, func(t *testing.T) (*sql.DB, echosess.Store) {
		db := allstores.OpenSQLite(t, filepath.Join(t.TempDir(), "sessions.db"))
		return db, sqlitestore.New(db)
	}},
	{"postgres", goose.DialectPostgres, pgstore.Migrate, func(t *testing.T) (*sql.DB, echosess.Store) {
		pool := allstores.OpenPostgres(t, allstores.NewPostgresSchema(t))
		db := stdlib.OpenDBFromPool(pool)
		t.Cleanup(func() { db.Close() })
		return db, pgstore.New(pool)
	}},
	{"mysql", goose.DialectMySQL, mysqlstore.Migrate, func(t *testing.T) (*sql.DB, echosess.Store) {
		db := allstores.OpenMySQL(t, mysqlstore.DSN(allstores.NewMySQLDatabase(t)))
		return db, mysqlstore.New(db)
	}},
}

// shippedVersions lists the versions of the migrations in migrations/ of db's
// dialect, which Migrate applies.
func shippedVersions(t *testing.T, db *sql.DB) []int64 {
	t.Helper()
	dialect := "sqlite"
	switch db.Driver().(type) {
	case *stdlib.Driver:
		dialect = "postgres"
	case *mysql.MySQLDriver:
		dialect = "mysql"
	}
	dir := filepath.Join("migrations", dialect)
	files, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations in %s: %v", dir, err)
	}
	var versions []int64
	for _, f := range files {
		v, err := strconv.ParseInt(strings.SplitN(filepath.Base(f), "_", 2)[0], 10, 64)
		if err != nil {
			t.Fatalf("migration %s: %v", f, err)
		}
		versions = append(versions, v)
	}
	return versions
}

// wantAllApplied fails the test unless every shipped migration, and no other, is
// recorded as applied in db.
func wantAllApplied(t *testing.T, db *sql.DB, when string) {
	t.Helper()
	if got, want := appliedVersions(t, db), shippedVersions(t, db); !slices.Equal(got, want) {
		t.Fatalf("applied versions %s = %v, want %v", when, got, want)
	}
}

// appliedVersions lists the migration versions that the echosess version table
// records as applied.
func appliedVersions(t *testing.T, db *sql.DB) []int64 {
	t.Helper()
	rows, err := db.QueryContext(context.Background(),
		"SELECT version_id FROM "+migrations.Table+" WHERE is_applied AND version_id > 0 ORDER BY id")
	if err != nil {
		t.Fatalf("read %s: %v", migrations.Table, err)
	}
	defer rows.Close()
	var versions []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return versions
}

// wantWorkingStore checks that s can save and load a session.
func wantWorkingStore(t *testing.T, s echosess.Store) {
	t.Helper()
	ctx := context.Background()
	rec := sessionRecord("migrated-"+allstores.RandomHex(t), time.Now().Add(time.Hour), 0, "k", "v")
	if err := s.Save(ctx, rec); err != nil {
		t.Fatalf("Save on the migrated table: %v", err)
	}
	if got, err := s.Load(ctx, rec.Key); err != nil || string(got.Data["k"]) != `"v"` {
		t.Fatalf("Load on the migrated table = %v, %v", got.Data, err)
	}
}

func TestMigrateTwiceIsNoOp(t *testing.T) {
	for _, b := range migrationBackends {
		t.Run(string(b.dialect), func(t *testing.T) {
			ctx := context.Background()
			db, store := b.open(t)
			for range 2 {
				if err := b.migrate(ctx, db); err != nil {
					t.Fatalf("Migrate: %v", err)
				}
			}
			wantAllApplied(t, db, "after two runs")
			wantWorkingStore(t, store)
		})
	}
}

func TestMigrateDownThenUp(t *testing.T) {
	for _, b := range migrationBackends {
		t.Run(string(b.dialect), func(t *testing.T) {
			ctx := context.Background()
			db, store := b.open(t)
			if err := b.migrate(ctx, db); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			wantWorkingStore(t, store)

			// The shipped folder, driven by goose itself, on the table Migrate made.
			p, err := goose.NewProvider(b.goose, db, os.DirFS(filepath.Join("migrations", string(b.dialect))),
				goose.WithTableName(migrations.Table), goose.WithDisableGlobalRegistry(true))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.DownTo(ctx, 0); err != nil {
				t.Fatalf("down: %v", err)
			}
			if v, err := p.GetDBVersion(ctx); err != nil || v != 0 {
				t.Fatalf("version after down = %d, %v; want 0", v, err)
			}
			if _, err := store.Load(ctx, "any"); err == nil || errors.Is(err, echosess.ErrNotFound) {
				t.Fatalf("Load after down: err = %v, want a missing-table error", err)
			}
			if _, err := p.Up(ctx); err != nil {
				t.Fatalf("up: %v", err)
			}
			wantWorkingStore(t, store)
			if err := b.migrate(ctx, db); err != nil {
				t.Fatalf("Migrate after goose up: %v", err)
			}
		})
	}
}

// TestPostgresMigrateConcurrently starts several app instances at once on one empty
// database: the advisory lock lets exactly one of them apply the migration.
func TestPostgresMigrateConcurrently(t *testing.T) {
	ctx := context.Background()
	dsn := allstores.NewPostgresSchema(t)
	const instances = 4
	dbs := make([]*sql.DB, instances)
	for i := range dbs {
		dbs[i] = stdlib.OpenDBFromPool(allstores.OpenPostgres(t, dsn))
		t.Cleanup(func() { dbs[i].Close() })
	}
	var wg sync.WaitGroup
	for _, db := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := pgstore.Migrate(ctx, db); err != nil {
				t.Errorf("Migrate: %v", err)
			}
		}()
	}
	wg.Wait()
	wantAllApplied(t, dbs[0], "")
}

// TestMySQLMigrateConcurrently starts several app instances at once on one empty
// database: the named lock lets exactly one of them apply the migrations, where
// goose alone, which takes no lock on MySQL, would have several create the table.
func TestMySQLMigrateConcurrently(t *testing.T) {
	ctx := context.Background()
	dsn := mysqlstore.DSN(allstores.NewMySQLDatabase(t))
	const instances = 4
	dbs := make([]*sql.DB, instances)
	for i := range dbs {
		dbs[i] = allstores.OpenMySQL(t, dsn)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, db := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := mysqlstore.Migrate(ctx, db); err != nil {
				t.Errorf("Migrate: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	wantAllApplied(t, dbs[0], "")
}

// gooseCLI returns the goose command: the binary that ECHOSESS_GOOSE names (.ci/sql.sh
// installs it with the line of gooseDoc), or else the version pinned in tools/go.mod,
// built for this test.
func gooseCLI(t *testing.T) string {
	t.Helper()
	if path := os.Getenv("ECHOSESS_GOOSE"); path != "" {
		return path
	}
	if testing.Short() {
		t.Skip("building the goose command takes a while; set ECHOSESS_GOOSE or drop -short")
	}
	path := filepath.Join(t.TempDir(), "goose")
	cmd := exec.Command("go", "build", "-modfile=tools/go.mod", "-tags="+gooseBuildTags, "-o", path, "github.com/pressly/goose/v3/cmd/goose")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build goose: %v\n%s", err, out)
	}
	return path
}

// gooseBuildTags leaves out the goose drivers that echosess has no use for; the
// install line of gooseDoc uses the same list (TestGooseInstallLine).
const gooseBuildTags = "no_clickhouse,no_libsql,no_mssql,no_vertica,no_ydb"

func runGoose(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("goose %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// gooseDoc is the page that tells users how to install and run the goose command.
var gooseDoc = filepath.Join("docs", "migrations.md")

// gooseDocBlock returns the lines of the code block in gooseDoc that follows the
// comment line "<!-- name: ...", as .ci/sql.sh finds them.
func gooseDocBlock(t *testing.T, name string) []string {
	t.Helper()
	text, err := os.ReadFile(gooseDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(text), "\n<!-- "+name+":")
	_, block, ok2 := strings.Cut(after, "\n```sh\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 || strings.TrimSpace(block) == "" {
		t.Fatalf("%s has no sh block after <!-- %s: -->", gooseDoc, name)
	}
	return strings.Split(strings.TrimSpace(block), "\n")
}

// docGoose runs, with the goose command bin, the goose commands of gooseDoc that use
// driver, on db instead of the database they name, and then goose status, which
// must show every migration applied. It fails the test unless gooseDoc runs up on
// driver.
func docGoose(t *testing.T, bin, driver, db string) {
	t.Helper()
	var up []string
	for _, line := range gooseDocBlock(t, "goose-commands") {
		args := strings.Fields(line)
		if len(args) < 2 || args[0] != "goose" {
			t.Fatalf("%s: %q is not a goose command", gooseDoc, line)
		}
		args = args[1:]
		i := slices.Index(args, driver)
		if i < 0 || i+2 >= len(args) {
			continue
		}
		args[i+1] = db // the page's "$DATABASE_URL" or ./sessions.db
		runGoose(t, bin, args...)
		if args[len(args)-1] == "up" {
			up = args
		}
	}
	if up == nil {
		t.Fatalf("%s runs no goose up on %s", gooseDoc, driver)
	}
	wantApplied(t, runGoose(t, bin, append(up[:len(up)-1:len(up)-1], "status")...))
}

// TestGooseCLI runs the goose commands of gooseDoc, from the root of the repository,
// and checks that Migrate and the stores agree with what they did.
func TestGooseCLI(t *testing.T) {
	bin := gooseCLI(t)
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "cli.db")
		docGoose(t, bin, "sqlite3", path)

		db := allstores.OpenSQLite(t, path)
		if err := sqlitestore.Migrate(context.Background(), db); err != nil {
			t.Fatalf("Migrate after goose up: %v", err)
		}
		wantAllApplied(t, db, "")
		wantWorkingStore(t, sqlitestore.New(db))
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := newPostgresDatabase(t)
		docGoose(t, bin, "postgres", dsn)

		pool := allstores.OpenPostgres(t, dsn)
		db := stdlib.OpenDBFromPool(pool)
		defer db.Close()
		if err := pgstore.Migrate(context.Background(), db); err != nil {
			t.Fatalf("Migrate after goose up: %v", err)
		}
		wantAllApplied(t, db, "")
		wantWorkingStore(t, pgstore.New(pool))
	})
	t.Run("mysql", func(t *testing.T) {
		dsn := allstores.NewMySQLDatabase(t)
		docGoose(t, bin, "mysql", dsn)

		db := allstores.OpenMySQL(t, mysqlstore.DSN(dsn))
		if err := mysqlstore.Migrate(context.Background(), db); err != nil {
			t.Fatalf("Migrate after goose up: %v", err)
		}
		wantAllApplied(t, db, "")
		wantWorkingStore(t, mysqlstore.New(db))
	})
}

// TestGooseInstallLine checks that gooseDoc installs the goose version pinned in
// tools/go.mod, which the tests build when ECHOSESS_GOOSE is unset, with the same
// drivers left out. CI runs the line itself (.ci/sql.sh).
func TestGooseInstallLine(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join("tools", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	_, version, _ := strings.Cut(string(mod), "\tgithub.com/pressly/goose/v3 ")
	version, _, _ = strings.Cut(version, " ")
	want := "go install -tags=" + gooseBuildTags + " github.com/pressly/goose/v3/cmd/goose@" + version
	if got := gooseDocBlock(t, "goose-install"); len(got) != 1 || got[0] != want {
		t.Errorf("%s installs goose with\n\t%s\nwant\n\t%s", gooseDoc, strings.Join(got, "\n\t"), want)
	}
}

// wantApplied checks goose status output: every migration applied, none pending.
func wantApplied(t *testing.T, status string) {
	t.Helper()
	if !strings.Contains(status, "00001_create_echosess_sessions.sql") || strings.Contains(status, "Pending") {
		t.Fatalf("goose status does not show the migration applied:\n%s", status)
	}
}

// newPostgresDatabase creates an empty database, dropped when the test ends, and
// returns its DSN.
func newPostgresDatabase(t *testing.T) string {
	t.Helper()
	dsn := allstores.PostgresDSN(t)
	name := "echosess_test_" + allstores.RandomHex(t)
	allstores.AdminExec(t, dsn, "CREATE DATABASE "+name)
	t.Cleanup(func() { allstores.AdminExec(t, dsn, "DROP DATABASE "+name+" WITH (FORCE)") })
	return allstores.WithPostgresParam(dsn, "dbname", name)
}

// logRecorder is a slog.Handler that hands each record to the test, for tests that
// watch what Migrate logs with slog.Default.
type logRecorder struct{ records chan slog.Record }

// recordDefaultLog makes slog.Default log to a logRecorder until the test ends.
func recordDefaultLog(t *testing.T) *logRecorder {
	old := slog.Default()
	h := &logRecorder{records: make(chan slog.Record, 1000)}
	slog.SetDefault(slog.New(h))
	t.Cleanup(func() { slog.SetDefault(old) })
	return h
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.records <- r.Clone():
	default: // a test that does not read them does not block the logger
	}
	return nil
}

// await returns the next record whose message contains msg, failing the test when
// none comes.
func (h *logRecorder) await(t *testing.T, msg string) slog.Record {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case r := <-h.records:
			if strings.Contains(r.Message, msg) {
				return r
			}
		case <-timeout:
			t.Fatalf("nothing logged %q", msg)
		}
	}
}

// count returns how many of the records logged so far contain msg.
func (h *logRecorder) count(msg string) int {
	n := 0
	for {
		select {
		case r := <-h.records:
			if strings.Contains(r.Message, msg) {
				n++
			}
		default:
			return n
		}
	}
}

// TestSQLiteMigrateConcurrently (issue 11, rule 6): two processes, each with a
// *sql.DB of its own, start migrating one fresh SQLite file at the same moment; both
// succeed and the migration is applied once. Without the retry of Migrate, about one
// round in seven failed: "database is locked (SQLITE_BUSY)" while the new file
// switched to write-ahead logging, or "table echosess_sessions already exists".
func TestSQLiteMigrateConcurrently(t *testing.T) {
	logs := recordDefaultLog(t)
	const rounds = 12
	for round := range rounds {
		path := filepath.Join(t.TempDir(), "sessions.db")
		dbs := []*sql.DB{allstores.OpenSQLite(t, path), allstores.OpenSQLite(t, path)}
		start := make(chan struct{})
		errs := make(chan error, len(dbs))
		for _, db := range dbs {
			go func() {
				<-start
				errs <- sqlitestore.Migrate(context.Background(), db)
			}()
		}
		close(start)
		for range dbs {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: Migrate: %v", round, err)
			}
		}
		for _, db := range dbs {
			if got, want := appliedVersions(t, db), shippedVersions(t, db); !slices.Equal(got, want) {
				t.Fatalf("round %d: applied versions = %v, want %v", round, got, want)
			}
			wantWorkingStore(t, sqlitestore.New(db))
		}
	}
	t.Logf("in %d rounds Migrate started over %d times", rounds, logs.count("starting over"))
}

// TestMigrateAfterGooseWithoutTable (issue 11, rule 6): after the goose command ran
// the echosess migrations without -table echosess_db_version, so that goose's own
// goose_db_version records them, Migrate fails with an error that says so and gives
// the SQL that fixes it; after that SQL, Migrate succeeds and the application's
// goose_db_version no longer claims the echosess versions.
func TestMigrateAfterGooseWithoutTable(t *testing.T) {
	for _, b := range migrationBackends {
		t.Run(string(b.dialect), func(t *testing.T) {
			ctx := context.Background()
			db, store := b.open(t)
			// What `goose -dir migrations/<dialect> <driver> <database> up` does.
			cli, err := goose.NewProvider(b.goose, db, os.DirFS(filepath.Join("migrations", string(b.dialect))),
				goose.WithDisableGlobalRegistry(true), goose.WithSlog(slog.New(slog.DiscardHandler)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cli.Up(ctx); err != nil {
				t.Fatalf("goose up without -table: %v", err)
			}

			err = b.migrate(ctx, db)
			if err == nil {
				t.Fatal("Migrate after goose up without -table: no error, and no record of the migration in " + migrations.Table)
			}
			msg := err.Error()
			for _, want := range []string{"goose_db_version", "without -table " + migrations.Table, "already exists"} {
				if !strings.Contains(msg, want) {
					t.Errorf("the error does not say %q:\n%s", want, msg)
				}
			}
			_, fix, ok := strings.Cut(msg, "then Migrate again:\n\t")
			if !ok {
				t.Fatalf("the error gives no SQL to run:\n%s", msg)
			}
			for _, stmt := range strings.Split(fix, ";") { // one at a time, as database/sql runs them
				if strings.TrimSpace(stmt) == "" {
					continue
				}
				if _, err := db.ExecContext(ctx, stmt); err != nil {
					t.Fatalf("the SQL that the error gives: %v\n%s", err, fix)
				}
			}
			if err := b.migrate(ctx, db); err != nil {
				t.Fatalf("Migrate after the fix: %v", err)
			}
			wantAllApplied(t, db, "after the fix")
			if v, err := cli.GetDBVersion(ctx); err != nil || v != 0 {
				t.Fatalf("goose_db_version still records version %d (%v), want 0", v, err)
			}
			wantWorkingStore(t, store)
		})
	}
}

// echosessLockID is the advisory lock that Migrate holds on PostgreSQL: the eight
// bytes of "echosess".
const echosessLockID int64 = 0x6563686f73657373

// TestPostgresMigrateWaitsForLock (issue 11, rule 15): while another session holds
// the migration lock, Migrate logs that it waits and which session holds it, and
// goes on once the lock is free; a Migrate whose context ends while it waits fails
// with an error naming the holder.
func TestPostgresMigrateWaitsForLock(t *testing.T) {
	ctx := context.Background()
	dsn := allstores.NewPostgresSchema(t)
	holder, err := pgx.Connect(ctx, allstores.WithPostgresParam(dsn, "application_name", "deploy-job-7"))
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_lock($1)", echosessLockID); err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDBFromPool(allstores.OpenPostgres(t, dsn))
	defer db.Close()
	logs := recordDefaultLog(t)
	wantHolder := func(r slog.Record) {
		t.Helper()
		var who string
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "holder" {
				who = a.Value.String()
			}
			return true
		})
		if !strings.Contains(who, fmt.Sprintf("pid %d", holder.PgConn().PID())) || !strings.Contains(who, `"deploy-job-7"`) {
			t.Errorf("the log names the holder as %q, want its pid %d and application_name", who, holder.PgConn().PID())
		}
	}

	cancelled, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- pgstore.Migrate(cancelled, db) }()
	wantHolder(logs.await(t, "waiting for the migration lock"))
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", holder.PgConn().PID())) {
		t.Fatalf("Migrate cancelled while it waited: %v, want context.Canceled and the holder's pid", err)
	}

	go func() { done <- pgstore.Migrate(ctx, db) }()
	wantHolder(logs.await(t, "waiting for the migration lock"))
	select {
	case err := <-done:
		t.Fatalf("Migrate returned while another session held the lock: %v", err)
	default:
	}
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_unlock($1)", echosessLockID); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Migrate once the lock was free: %v", err)
	}
	logs.await(t, "took the migration lock")
	wantAllApplied(t, db, "")
}

// TestMySQLMigrateWaitsForLock: while another connection holds the migration lock
// of the database, Migrate logs that it waits and which connection holds it, does
// nothing to the database, and goes on once the lock is free; a Migrate whose
// context ends while it waits fails with an error naming the holder. The lock of
// another database does not hold it up.
func TestMySQLMigrateWaitsForLock(t *testing.T) {
	ctx := context.Background()
	dsn := mysqlstore.DSN(allstores.NewMySQLDatabase(t))
	elsewhere := allstores.OpenMySQL(t, mysqlstore.DSN(allstores.NewMySQLDatabase(t)))
	lock := func(db *sql.DB) (*sql.Conn, int64) {
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		var locked, id int64
		err = conn.QueryRowContext(ctx, "SELECT GET_LOCK(CONCAT('echosess migrate ', MD5(DATABASE())), 0), CONNECTION_ID()").Scan(&locked, &id)
		if err != nil || locked != 1 {
			t.Fatalf("take the migration lock: %d, %v", locked, err)
		}
		return conn, id
	}
	lock(elsewhere)
	holder, holderID := lock(allstores.OpenMySQL(t, dsn))
	db := allstores.OpenMySQL(t, dsn)
	logs := recordDefaultLog(t)
	wantHolder := func(r slog.Record) {
		t.Helper()
		var who string
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "holder" {
				who = a.Value.String()
			}
			return true
		})
		if !strings.Contains(who, fmt.Sprintf("ID %d ", holderID)) || !strings.Contains(who, "user root") {
			t.Errorf("the log names the holder as %q, want its ID %d and user", who, holderID)
		}
	}

	cancelled, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mysqlstore.Migrate(cancelled, db) }()
	wantHolder(logs.await(t, "waiting for the migration lock"))
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), fmt.Sprintf("ID %d ", holderID)) {
		t.Fatalf("Migrate cancelled while it waited: %v, want context.Canceled and the holder's ID", err)
	}

	go func() { done <- mysqlstore.Migrate(ctx, db) }()
	wantHolder(logs.await(t, "waiting for the migration lock"))
	select {
	case err := <-done:
		t.Fatalf("Migrate returned while another connection held the lock: %v", err)
	default:
	}
	// Nothing before the lock: goose creates its version table before it takes a
	// lock of its own, and an instance that started meanwhile found it empty.
	var tables int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()").Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("while Migrate waited for the lock, the database held %d tables (%v), want none", tables, err)
	}
	var released int64
	if err := holder.QueryRowContext(ctx, "SELECT RELEASE_LOCK(CONCAT('echosess migrate ', MD5(DATABASE())))").Scan(&released); err != nil || released != 1 {
		t.Fatalf("release the lock: %d, %v", released, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Migrate once the lock was free: %v", err)
	}
	logs.await(t, "took the migration lock")
	wantAllApplied(t, db, "")
}

// TestMigrateUpgradesFirstSchema (issue 14): a database of the first version, with
// a live session in its table, upgrades in place. The session keeps working,
// unbound, and can then be bound and listed like a new one.
func TestMigrateUpgradesFirstSchema(t *testing.T) {
	for _, b := range migrationBackends {
		t.Run(string(b.dialect), func(t *testing.T) {
			ctx := context.Background()
			db, store := b.open(t)
			p, err := goose.NewProvider(b.goose, db, os.DirFS(filepath.Join("migrations", string(b.dialect))),
				goose.WithTableName(migrations.Table), goose.WithDisableGlobalRegistry(true))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.UpTo(ctx, 1); err != nil {
				t.Fatalf("up to the first schema: %v", err)
			}
			// The first version's store wrote rows like this one: no user, no device.
			token, key := firstVersionToken(t)
			now, expiry := time.Now(), time.Now().Add(time.Hour)
			insert := `INSERT INTO echosess_sessions (key, data, expires_at, deadline, version, created_at, updated_at) VALUES ($1, $2, $3, $4, 1, $5, $5)`
			args := []any{key, []byte(`{"name":"ada"}`), expiry, expiry, now}
			switch b.dialect {
			case "sqlite":
				insert = strings.NewReplacer("$1", "?", "$2", "?", "$3", "?", "$4", "?", "$5", "?").Replace(insert)
				args = []any{key, []byte(`{"name":"ada"}`), expiry.UnixMilli(), expiry.UnixMilli(), now.UnixMilli(), now.UnixMilli()}
			case "mysql": // its first schema is the whole table
				insert = quoteKey(strings.NewReplacer("$1", "?", "$2", "?", "$3", "?", "$4", "?", "$5", "?").Replace(insert))
				args = []any{key, []byte(`{"name":"ada"}`), expiry, expiry, now, now}
			}
			if _, err := db.ExecContext(ctx, insert, args...); err != nil {
				t.Fatalf("insert a first-version row: %v", err)
			}
			if err := b.migrate(ctx, db); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			wantAllApplied(t, db, "after the upgrade")

			e := echo.New()
			e.Use(echosess.Middleware(echosess.Config{Store: store, CookieInsecure: true}))
			e.GET("/", func(c echo.Context) error {
				name, _, err := echosess.Get[string](c, "name")
				if err != nil {
					return err
				}
				user, err := echosess.UserID(c)
				if err != nil {
					return err
				}
				return c.String(http.StatusOK, name+" user="+user)
			})
			e.GET("/login", func(c echo.Context) error { return echosess.LoginUser(c, "ada") })
			e.GET("/sessions", func(c echo.Context) error {
				list, err := echosess.UserSessions(c)
				if err != nil {
					return err
				}
				return c.String(http.StatusOK, fmt.Sprint(len(list)))
			})
			get := func(path, cookie string) (string, string) {
				req := httptest.NewRequest(http.MethodGet, path, nil)
				req.Header.Set("Cookie", cookie)
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, req)
				set := ""
				for _, ck := range rec.Result().Cookies() {
					set = ck.Name + "=" + ck.Value
				}
				return rec.Body.String(), set
			}
			if body, _ := get("/", "session="+token); body != "ada user=" {
				t.Fatalf("the first-version session after the upgrade reads %q, want %q", body, "ada user=")
			}
			_, renewed := get("/login", "session="+token)
			if renewed == "" || renewed == "session="+token {
				t.Fatalf("login of the upgraded session set cookie %q, want a renewed one", renewed)
			}
			if body, _ := get("/sessions", renewed); body != "1" {
				t.Errorf("ada's sessions after the login: %q, want 1", body)
			}
			if body, _ := get("/", renewed); body != "ada user=ada" {
				t.Errorf("after login the session reads %q, want %q", body, "ada user=ada")
			}
		})
	}
}

// firstVersionToken returns a session token and its store key, as every version of
// the middleware derives them: the SHA-256 of the token's 32 bytes, base64url.
func firstVersionToken(t *testing.T) (token, key string) {
	var raw [32]byte
	rand.Read(raw[:])
	sum := sha256.Sum256(raw[:])
	return base64.RawURLEncoding.EncodeToString(raw[:]), base64.RawURLEncoding.EncodeToString(sum[:])
}
