package echosess_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/internal/adaptertest"
)

// migrationBackend is a fresh, unmigrated database of one dialect.
type migrationBackend struct {
	dialect echosess.Dialect
	goose   goose.Dialect
	open    func(t *testing.T) (*sql.DB, echosess.Store)
}

var migrationBackends = []migrationBackend{
	{echosess.DialectSQLite, goose.DialectSQLite3, func(t *testing.T) (*sql.DB, echosess.Store) {
		db := adaptertest.OpenSQLite(t, filepath.Join(t.TempDir(), "sessions.db"))
		return db, echosess.NewSQLiteStore(db)
	}},
	{echosess.DialectPostgres, goose.DialectPostgres, func(t *testing.T) (*sql.DB, echosess.Store) {
		pool := adaptertest.OpenPostgres(t, adaptertest.NewPostgresSchema(t))
		db := stdlib.OpenDBFromPool(pool)
		t.Cleanup(func() { db.Close() })
		return db, echosess.NewPostgresStore(pool)
	}},
}

// appliedVersions lists the migration versions that the echosess version table
// records as applied.
func appliedVersions(t *testing.T, db *sql.DB) []int64 {
	t.Helper()
	rows, err := db.QueryContext(context.Background(),
		"SELECT version_id FROM "+echosess.MigrationTable+" WHERE is_applied AND version_id > 0 ORDER BY id")
	if err != nil {
		t.Fatalf("read %s: %v", echosess.MigrationTable, err)
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
	rec := sessionRecord("migrated-"+adaptertest.RandomHex(t), time.Now().Add(time.Hour), 0, "k", "v")
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
				if err := echosess.Migrate(ctx, db, b.dialect); err != nil {
					t.Fatalf("Migrate: %v", err)
				}
			}
			if got := appliedVersions(t, db); len(got) != 1 || got[0] != 1 {
				t.Fatalf("applied versions after two runs = %v, want [1]", got)
			}
			wantWorkingStore(t, store)
		})
	}
}

func TestMigrateDownThenUp(t *testing.T) {
	for _, b := range migrationBackends {
		t.Run(string(b.dialect), func(t *testing.T) {
			ctx := context.Background()
			db, store := b.open(t)
			if err := echosess.Migrate(ctx, db, b.dialect); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			wantWorkingStore(t, store)

			// The shipped folder, driven by goose itself, on the table Migrate made.
			p, err := goose.NewProvider(b.goose, db, os.DirFS(filepath.Join("core", "migrations", string(b.dialect))),
				goose.WithTableName(echosess.MigrationTable), goose.WithDisableGlobalRegistry(true))
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
			if err := echosess.Migrate(ctx, db, b.dialect); err != nil {
				t.Fatalf("Migrate after goose up: %v", err)
			}
		})
	}
}

func TestMigrateUnknownDialect(t *testing.T) {
	db := adaptertest.OpenSQLite(t, filepath.Join(t.TempDir(), "sessions.db"))
	if err := echosess.Migrate(context.Background(), db, "oracle"); err == nil {
		t.Fatal("Migrate with an unknown dialect: no error")
	}
}

// TestPostgresMigrateConcurrently starts several app instances at once on one empty
// database: the advisory lock lets exactly one of them apply the migration.
func TestPostgresMigrateConcurrently(t *testing.T) {
	ctx := context.Background()
	dsn := adaptertest.NewPostgresSchema(t)
	const instances = 4
	dbs := make([]*sql.DB, instances)
	for i := range dbs {
		dbs[i] = stdlib.OpenDBFromPool(adaptertest.OpenPostgres(t, dsn))
		t.Cleanup(func() { dbs[i].Close() })
	}
	var wg sync.WaitGroup
	for _, db := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := echosess.Migrate(ctx, db, echosess.DialectPostgres); err != nil {
				t.Errorf("Migrate: %v", err)
			}
		}()
	}
	wg.Wait()
	if got := appliedVersions(t, dbs[0]); len(got) != 1 || got[0] != 1 {
		t.Fatalf("applied versions = %v, want [1]", got)
	}
}

// gooseCLI returns the goose command pinned in tools/go.mod: the binary that
// ECHOSESS_GOOSE names (.ci/sql.sh builds it), or else one built for this test.
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

// gooseBuildTags leaves out the goose drivers that echosess has no use for; .ci/sql.sh
// and docs/stores.md use the same list.
const gooseBuildTags = "no_clickhouse,no_libsql,no_mssql,no_mysql,no_vertica,no_ydb"

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

// TestGooseCLI runs the goose command on the shipped migration folders, as the docs
// tell users to, and checks that Migrate and the stores agree with what it did.
func TestGooseCLI(t *testing.T) {
	bin := gooseCLI(t)
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "cli.db")
		args := []string{"-dir", "core/migrations/sqlite", "-table", echosess.MigrationTable, "sqlite3", path}
		runGoose(t, bin, append(args, "up")...)
		wantApplied(t, runGoose(t, bin, append(args, "status")...))

		db := adaptertest.OpenSQLite(t, path)
		if err := echosess.Migrate(context.Background(), db, echosess.DialectSQLite); err != nil {
			t.Fatalf("Migrate after goose up: %v", err)
		}
		if got := appliedVersions(t, db); len(got) != 1 {
			t.Fatalf("applied versions = %v, want one", got)
		}
		wantWorkingStore(t, echosess.NewSQLiteStore(db))
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := newPostgresDatabase(t)
		args := []string{"-dir", "core/migrations/postgres", "-table", echosess.MigrationTable, "postgres", dsn}
		runGoose(t, bin, append(args, "up")...)
		wantApplied(t, runGoose(t, bin, append(args, "status")...))

		pool := adaptertest.OpenPostgres(t, dsn)
		db := stdlib.OpenDBFromPool(pool)
		defer db.Close()
		if err := echosess.Migrate(context.Background(), db, echosess.DialectPostgres); err != nil {
			t.Fatalf("Migrate after goose up: %v", err)
		}
		if got := appliedVersions(t, db); len(got) != 1 {
			t.Fatalf("applied versions = %v, want one", got)
		}
		wantWorkingStore(t, echosess.NewPostgresStore(pool))
	})
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
	dsn := adaptertest.PostgresDSN(t)
	name := "echosess_test_" + adaptertest.RandomHex(t)
	adaptertest.AdminExec(t, dsn, "CREATE DATABASE "+name)
	t.Cleanup(func() { adaptertest.AdminExec(t, dsn, "DROP DATABASE "+name+" WITH (FORCE)") })
	return adaptertest.WithPostgresParam(dsn, "dbname", name)
}
