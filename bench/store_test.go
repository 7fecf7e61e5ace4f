package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"github.com/echosess/echosess/mysqlstore"
	"github.com/echosess/echosess/pgstore"
	"github.com/echosess/echosess/sqlitestore"
	"github.com/echosess/echosess/sqlstore"
	"testing"
	"time"

	"github.com/echosess/echosess"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The store benchmarks time one Load or one Save of an SQL store beside its floor: the
// same statement through the bare driver, with nothing of echosess around it, so that
// every run shows the gap between the two.
//
//	lib=floor             the statement prepared once, run with context.Background()
//	lib=floor-deadline    the same with a context that has a deadline, as echosess's
//	                      stores get it from the middleware (Config.StoreTimeout)
//	lib=floor-unprepared  the statement parsed on every call (pgx: QueryExecModeExec;
//	                      MySQL: database/sql's call with arguments, which the driver
//	                      prepares, runs and closes: two round trips and three commands)
//	lib=echosess          the store's Load or Save, with a context that has a deadline
//
// The statements are those of queries/ (which sqlc turns into internal/db), spelled
// again here.
const (
	sqliteLoad = `SELECT data, expires_at, deadline, version, persistent
FROM echosess_sessions
WHERE key = ?1 AND expires_at > ?2`
	sqliteUpdate = `UPDATE echosess_sessions
SET data       = ?1,
    expires_at = ?2,
    deadline   = ?3,
    persistent = ?4,
    version    = version + 1,
    updated_at = ?5
WHERE key = ?6 AND version = ?7 AND expires_at > ?5`
	postgresLoad = `SELECT data, expires_at, deadline, version, persistent
FROM echosess_sessions
WHERE key = $1 AND expires_at > $2`
	postgresUpdate = `UPDATE echosess_sessions
SET data       = $1,
    expires_at = $2,
    deadline   = $3,
    persistent = $4,
    version    = version + 1,
    updated_at = $5
WHERE key = $6 AND version = $7 AND expires_at > $5`
	mysqlLoad = `SELECT data, expires_at, deadline, version, persistent, user_id, created_at, updated_at,
       first_user_agent, first_ip, last_user_agent, last_ip
FROM echosess_sessions
WHERE ` + "`key`" + ` = ? AND expires_at > ?`
	mysqlUpdate = `UPDATE echosess_sessions
SET data             = ?,
    expires_at       = ?,
    deadline         = ?,
    persistent       = ?,
    version          = version + 1,
    updated_at       = ?,
    user_id          = ?,
    first_user_agent = ?,
    first_ip         = ?,
    last_user_agent  = ?,
    last_ip          = ?
WHERE ` + "`key`" + ` = ? AND version = ? AND expires_at > ?`
)

// storeData is the session the store benchmarks read and write, and storeJSON its
// encoding as the stores keep it.
var (
	storeData = map[string]json.RawMessage{"user": json.RawMessage(`"` + User + `"`), "n": json.RawMessage(`0`)}
	storeJSON = []byte(`{"n":0,"user":"` + User + `"}`)
)

// BenchmarkStoreLoad reads a live session.
func BenchmarkStoreLoad(b *testing.B) {
	b.Run("store=sqlite", func(b *testing.B) {
		db, rec := sqliteSession(b)
		b.Run("lib=floor", func(b *testing.B) { sqliteFloorLoad(b, context.Background(), db, rec.Key, true) })
		b.Run("lib=floor-deadline", func(b *testing.B) { sqliteFloorLoad(b, deadline(b), db, rec.Key, true) })
		b.Run("lib=floor-unprepared", func(b *testing.B) { sqliteFloorLoad(b, context.Background(), db, rec.Key, false) })
		b.Run("lib=echosess", func(b *testing.B) { storeLoad(b, newSQLiteStore(b, db), rec.Key) })
	})
	b.Run("store=postgres", func(b *testing.B) {
		pool, rec := postgresSession(b)
		b.Run("lib=floor", func(b *testing.B) { postgresFloorLoad(b, context.Background(), pool, rec.Key, true) })
		b.Run("lib=floor-deadline", func(b *testing.B) { postgresFloorLoad(b, deadline(b), pool, rec.Key, true) })
		b.Run("lib=floor-unprepared", func(b *testing.B) { postgresFloorLoad(b, context.Background(), pool, rec.Key, false) })
		b.Run("lib=echosess", func(b *testing.B) { storeLoad(b, pgstore.New(pool), rec.Key) })
	})
	b.Run("store=mysql", func(b *testing.B) {
		db, rec := mysqlSession(b)
		b.Run("lib=floor", func(b *testing.B) { mysqlFloorLoad(b, context.Background(), db, rec.Key, true) })
		b.Run("lib=floor-deadline", func(b *testing.B) { mysqlFloorLoad(b, deadline(b), db, rec.Key, true) })
		b.Run("lib=floor-unprepared", func(b *testing.B) { mysqlFloorLoad(b, context.Background(), db, rec.Key, false) })
		b.Run("lib=echosess", func(b *testing.B) { storeLoad(b, newMySQLStore(b, db), rec.Key) })
	})
}

// BenchmarkStoreSave writes a live session at its version: an UPDATE that compares
// and swaps the version.
func BenchmarkStoreSave(b *testing.B) {
	b.Run("store=sqlite", func(b *testing.B) {
		db, rec := sqliteSession(b)
		version := &rec.Version // the row's version, moved by every save
		b.Run("lib=floor", func(b *testing.B) { sqliteFloorSave(b, context.Background(), db, rec, version, true) })
		b.Run("lib=floor-deadline", func(b *testing.B) { sqliteFloorSave(b, deadline(b), db, rec, version, true) })
		b.Run("lib=floor-unprepared", func(b *testing.B) { sqliteFloorSave(b, context.Background(), db, rec, version, false) })
		b.Run("lib=echosess", func(b *testing.B) { storeSave(b, newSQLiteStore(b, db), rec, version) })
	})
	b.Run("store=postgres", func(b *testing.B) {
		pool, rec := postgresSession(b)
		version := &rec.Version
		b.Run("lib=floor", func(b *testing.B) { postgresFloorSave(b, context.Background(), pool, rec, version, true) })
		b.Run("lib=floor-deadline", func(b *testing.B) { postgresFloorSave(b, deadline(b), pool, rec, version, true) })
		b.Run("lib=floor-unprepared", func(b *testing.B) { postgresFloorSave(b, context.Background(), pool, rec, version, false) })
		b.Run("lib=echosess", func(b *testing.B) { storeSave(b, pgstore.New(pool), rec, version) })
	})
	b.Run("store=mysql", func(b *testing.B) {
		db, rec := mysqlSession(b)
		version := &rec.Version
		b.Run("lib=floor", func(b *testing.B) { mysqlFloorSave(b, context.Background(), db, rec, version, true) })
		b.Run("lib=floor-deadline", func(b *testing.B) { mysqlFloorSave(b, deadline(b), db, rec, version, true) })
		b.Run("lib=floor-unprepared", func(b *testing.B) { mysqlFloorSave(b, context.Background(), db, rec, version, false) })
		b.Run("lib=echosess", func(b *testing.B) { storeSave(b, newMySQLStore(b, db), rec, version) })
	})
}

// deadline returns a context with a deadline far off, like the one that the
// middleware gives each store call, cancelled when b ends.
func deadline(b *testing.B) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	b.Cleanup(cancel)
	return ctx
}

// newSQLiteStore returns echosess's SQLite store on db, closed when b ends.
func newSQLiteStore(b *testing.B, db *sql.DB) *sqlstore.Store {
	s := sqlitestore.New(db)
	b.Cleanup(func() { s.Close() })
	return s
}

// sqliteSession returns a new SQLite database holding one live session.
func sqliteSession(b *testing.B) (*sql.DB, echosess.Record) {
	db := newSQLiteDB(b)
	return db, saveSession(b, newSQLiteStore(b, db))
}

// postgresSession returns the run's echosess pool, holding one more live session, or
// skips b without a DSN.
func postgresSession(b *testing.B) (*pgxpool.Pool, echosess.Record) {
	pool := sharedPostgres(b).Echosess
	return pool, saveSession(b, pgstore.New(pool))
}

// mysqlSession returns a pool on the run's echosess database, not counted, closed
// when b ends, holding one more live session; it skips b without a DSN.
func mysqlSession(b *testing.B) (*sql.DB, echosess.Record) {
	db, err := sharedMySQL(b).OpenEchosessDB()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db, saveSession(b, newMySQLStore(b, db))
}

// newMySQLStore returns echosess's MySQL store on db, closed when b ends.
func newMySQLStore(b *testing.B, db *sql.DB) *sqlstore.Store {
	s := mysqlstore.New(db)
	b.Cleanup(func() { s.Close() })
	return s
}

// saveSession saves a new session of storeData in store and returns it as saved.
func saveSession(b *testing.B, store echosess.Store) echosess.Record {
	exp := time.Now().Add(lifetime).Truncate(time.Millisecond)
	rec := echosess.Record{Key: randomID(), Data: storeData, Expiry: exp, Deadline: exp}
	if err := store.Save(context.Background(), rec); err != nil {
		b.Fatal(err)
	}
	rec.Version = 1
	return rec
}

func storeLoad(b *testing.B, store echosess.Store, key string) {
	ctx := deadline(b)
	b.ReportAllocs()
	for b.Loop() {
		rec, err := store.Load(ctx, key)
		if err != nil || len(rec.Data) != len(storeData) {
			b.Fatalf("Load = %v, %v", rec, err)
		}
	}
}

func storeSave(b *testing.B, store echosess.Store, rec echosess.Record, version *int64) {
	ctx := deadline(b)
	b.ReportAllocs()
	for b.Loop() {
		rec.Version = *version
		if err := store.Save(ctx, rec); err != nil {
			b.Fatal(err)
		}
		*version++
	}
}

// sqliteFloorLoad runs the SELECT through database/sql, prepared once or parsed on
// every call.
func sqliteFloorLoad(b *testing.B, ctx context.Context, db *sql.DB, key string, prepared bool) {
	query := func(args ...any) *sql.Row { return db.QueryRowContext(ctx, sqliteLoad, args...) }
	if prepared {
		stmt := prepareStmt(b, db, sqliteLoad)
		query = func(args ...any) *sql.Row { return stmt.QueryRowContext(ctx, args...) }
	}
	b.ReportAllocs()
	for b.Loop() {
		var data []byte
		var expiry, deadline, version, persistent int64
		if err := query(key, time.Now().UnixMilli()).Scan(&data, &expiry, &deadline, &version, &persistent); err != nil {
			b.Fatal(err)
		}
	}
}

// sqliteFloorSave runs the UPDATE through database/sql, as sqliteFloorLoad.
func sqliteFloorSave(b *testing.B, ctx context.Context, db *sql.DB, rec echosess.Record, version *int64, prepared bool) {
	exec := func(args ...any) (sql.Result, error) { return db.ExecContext(ctx, sqliteUpdate, args...) }
	if prepared {
		stmt := prepareStmt(b, db, sqliteUpdate)
		exec = func(args ...any) (sql.Result, error) { return stmt.ExecContext(ctx, args...) }
	}
	expiry, deadline := rec.Expiry.UnixMilli(), rec.Deadline.UnixMilli()
	b.ReportAllocs()
	for b.Loop() {
		res, err := exec(storeJSON, expiry, deadline, 0, time.Now().UnixMilli(), rec.Key, *version)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := res.RowsAffected(); n != 1 || err != nil {
			b.Fatalf("UPDATE affected %d rows, %v", n, err)
		}
		*version++
	}
}

// sqlitePrepare prepares query on db (SQLite or MySQL), closed when b ends.
func prepareStmt(b *testing.B, db *sql.DB, query string) *sql.Stmt {
	stmt, err := db.PrepareContext(context.Background(), query)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stmt.Close() })
	return stmt
}

// postgresFloorLoad runs the SELECT through pgx: with pgx's default, which prepares a
// statement once per connection and caches it, or unprepared, with the mode that has
// the server parse it on every call.
func postgresFloorLoad(b *testing.B, ctx context.Context, pool *pgxpool.Pool, key string, prepared bool) {
	query := func(args ...any) pgx.Row { return pool.QueryRow(ctx, postgresLoad, args...) }
	if !prepared {
		query = func(args ...any) pgx.Row {
			return pool.QueryRow(ctx, postgresLoad, append([]any{pgx.QueryExecModeExec}, args...)...)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		var data []byte
		var expiry, deadline time.Time
		var version int64
		var persistent bool
		if err := query(key, time.Now()).Scan(&data, &expiry, &deadline, &version, &persistent); err != nil {
			b.Fatal(err)
		}
	}
}

// postgresFloorSave runs the UPDATE through pgx, prepared or not as postgresFloorLoad.
func postgresFloorSave(b *testing.B, ctx context.Context, pool *pgxpool.Pool, rec echosess.Record, version *int64, prepared bool) {
	exec := func(args ...any) (pgconn.CommandTag, error) { return pool.Exec(ctx, postgresUpdate, args...) }
	if !prepared {
		exec = func(args ...any) (pgconn.CommandTag, error) {
			return pool.Exec(ctx, postgresUpdate, append([]any{pgx.QueryExecModeExec}, args...)...)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		tag, err := exec(storeJSON, rec.Expiry, rec.Deadline, false, time.Now(), rec.Key, *version)
		if err != nil {
			b.Fatal(err)
		}
		if tag.RowsAffected() != 1 {
			b.Fatalf("UPDATE affected %d rows", tag.RowsAffected())
		}
		*version++
	}
}

// mysqlFloorLoad runs the SELECT through database/sql, prepared once, or as a call
// with arguments, which the driver prepares, runs and closes.
func mysqlFloorLoad(b *testing.B, ctx context.Context, db *sql.DB, key string, prepared bool) {
	query := func(args ...any) *sql.Row { return db.QueryRowContext(ctx, mysqlLoad, args...) }
	if prepared {
		stmt := prepareStmt(b, db, mysqlLoad)
		query = func(args ...any) *sql.Row { return stmt.QueryRowContext(ctx, args...) }
	}
	b.ReportAllocs()
	for b.Loop() {
		var data []byte
		var expiry, deadline, created, updated time.Time
		var version int64
		var persistent bool
		var user, firstAgent, firstIP, lastAgent, lastIP string
		now := time.Now().UTC().Truncate(time.Microsecond)
		if err := query(key, now).Scan(&data, &expiry, &deadline, &version, &persistent, &user, &created, &updated,
			&firstAgent, &firstIP, &lastAgent, &lastIP); err != nil {
			b.Fatal(err)
		}
	}
}

// mysqlFloorSave runs the UPDATE through database/sql, as mysqlFloorLoad.
func mysqlFloorSave(b *testing.B, ctx context.Context, db *sql.DB, rec echosess.Record, version *int64, prepared bool) {
	exec := func(args ...any) (sql.Result, error) { return db.ExecContext(ctx, mysqlUpdate, args...) }
	if prepared {
		stmt := prepareStmt(b, db, mysqlUpdate)
		exec = func(args ...any) (sql.Result, error) { return stmt.ExecContext(ctx, args...) }
	}
	expiry, deadline := rec.Expiry.UTC(), rec.Deadline.UTC()
	b.ReportAllocs()
	for b.Loop() {
		now := time.Now().UTC().Truncate(time.Microsecond)
		res, err := exec(storeJSON, expiry, deadline, false, now, "", "", "", "", "", rec.Key, *version, now)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := res.RowsAffected(); n != 1 || err != nil {
			b.Fatalf("UPDATE affected %d rows, %v", n, err)
		}
		*version++
	}
}
