package mysqlstore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"testing"
	"time"

	"github.com/echosess/echosess/internal/mysqltest"
	"github.com/echosess/echosess/mysqlstore"
	"github.com/echosess/echosess/sessionstore"
)

// benchDSNs are the connection settings the benchmarks compare: DSN alone, where the
// driver prepares, runs and closes a statement for each call with arguments that is
// not prepared already, and with interpolateParams, where it sends such a statement
// with its arguments in one round trip. The store prepares its statements once
// either way.
var benchDSNs = []struct{ name, extra string }{
	{"prepared", ""},
	{"interpolated", "&interpolateParams=true"},
}

// BenchmarkLoad loads one live session through the store, and, as the floor, runs
// a SELECT of it through database/sql directly, as a query ("driver") and as a
// statement prepared beforehand ("driver-prepared").
//
//	ECHOSESS_MYSQL_DSN='root@tcp(127.0.0.1:3306)/' go test -run '^$' -bench . -benchmem ./mysqlstore
func BenchmarkLoad(b *testing.B) {
	for _, d := range benchDSNs {
		b.Run(d.name, func(b *testing.B) {
			db := benchDB(b, d.extra)
			s := mysqlstore.New(db)
			ctx := context.Background()
			rec := benchRecord()
			if err := s.Save(ctx, rec); err != nil {
				b.Fatal(err)
			}
			b.Run("store", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.Load(ctx, rec.Key); err != nil {
						b.Fatal(err)
					}
				}
			})
			const load = "SELECT data, expires_at FROM echosess_sessions WHERE `key` = ? AND expires_at > ?"
			b.Run("driver", func(b *testing.B) {
				benchRows(b, func() *sql.Row { return db.QueryRowContext(ctx, load, rec.Key, time.Now()) })
			})
			b.Run("driver-prepared", func(b *testing.B) {
				st := benchPrepare(b, db, load)
				benchRows(b, func() *sql.Row { return st.QueryRowContext(ctx, rec.Key, time.Now()) })
			})
		})
	}
}

// BenchmarkSave saves one session over its last version through the store, and, as
// the floor, runs an UPDATE of its data by key through database/sql directly, as a
// query and as a statement prepared beforehand.
func BenchmarkSave(b *testing.B) {
	for _, d := range benchDSNs {
		b.Run(d.name, func(b *testing.B) {
			db := benchDB(b, d.extra)
			s := mysqlstore.New(db)
			ctx := context.Background()
			rec := benchRecord()
			b.Run("store", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := s.Save(ctx, rec); err != nil {
						b.Fatal(err)
					}
					rec.Version++
				}
			})
			const update = "UPDATE echosess_sessions SET data = ?, version = version + 1 WHERE `key` = ?"
			data := []byte(`{"user":"ada"}`)
			b.Run("driver", func(b *testing.B) {
				benchExec(b, func() (sql.Result, error) { return db.ExecContext(ctx, update, data, rec.Key) })
			})
			b.Run("driver-prepared", func(b *testing.B) {
				st := benchPrepare(b, db, update)
				benchExec(b, func() (sql.Result, error) { return st.ExecContext(ctx, data, rec.Key) })
			})
		})
	}
}

// benchRows runs query, a one-row SELECT of data and expiry, b.N times.
func benchRows(b *testing.B, query func() *sql.Row) {
	b.ReportAllocs()
	var data []byte
	var expiry time.Time
	for b.Loop() {
		if err := query().Scan(&data, &expiry); err != nil {
			b.Fatal(err)
		}
	}
}

// benchExec runs exec b.N times.
func benchExec(b *testing.B, exec func() (sql.Result, error)) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := exec(); err != nil {
			b.Fatal(err)
		}
	}
}

// benchPrepare prepares query on db, closed when b ends.
func benchPrepare(b *testing.B, db *sql.DB, query string) *sql.Stmt {
	b.Helper()
	st, err := db.Prepare(query)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// benchDB returns a migrated database of its own, opened with DSN and extra.
func benchDB(b *testing.B, extra string) *sql.DB {
	b.Helper()
	dsn := mysqlstore.DSN(mysqltest.NewDatabase(b)) + extra
	db := mysqltest.Open(b, dsn)
	if err := mysqlstore.Migrate(context.Background(), db); err != nil {
		b.Fatal(err)
	}
	return db
}

func benchRecord() sessionstore.Record {
	exp := time.Now().Add(time.Hour)
	return sessionstore.Record{Key: "bench-session", Data: map[string]json.RawMessage{"user": json.RawMessage(`"ada"`)}, Expiry: exp, Deadline: exp}
}
