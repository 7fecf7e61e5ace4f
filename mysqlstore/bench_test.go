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
// driver prepares, runs and closes a statement for each call with arguments, and
// with interpolateParams, where it sends the statement with its arguments in one
// round trip.
var benchDSNs = []struct{ name, extra string }{
	{"prepared", ""},
	{"interpolated", "&interpolateParams=true"},
}

// BenchmarkLoad loads one live session through the store, and, as the floor, runs
// the same SELECT through database/sql directly ("driver").
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
			b.Run("driver", func(b *testing.B) {
				b.ReportAllocs()
				var data []byte
				var expiry time.Time
				for b.Loop() {
					err := db.QueryRowContext(ctx, "SELECT data, expires_at FROM echosess_sessions WHERE `key` = ? AND expires_at > ?",
						rec.Key, time.Now()).Scan(&data, &expiry)
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkSave saves one session over its last version through the store, and, as
// the floor, runs an UPDATE of its data by key through database/sql directly.
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
			b.Run("driver", func(b *testing.B) {
				b.ReportAllocs()
				data := []byte(`{"user":"ada"}`)
				for b.Loop() {
					if _, err := db.ExecContext(ctx, "UPDATE echosess_sessions SET data = ?, version = version + 1 WHERE `key` = ?", data, rec.Key); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
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
