package mysqlstore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/echosess/echosess/internal/mysqltest"
	"github.com/echosess/echosess/mysqlstore"
	"github.com/echosess/echosess/sessionstore"
	"github.com/echosess/echosess/sqlstore"
)

// TestDSN: DSN sets what the store needs over what the DSN it is given says, and
// keeps the rest, whatever the password holds.
func TestDSN(t *testing.T) {
	for _, dsn := range []string{
		"root@tcp(127.0.0.1:3306)/app",
		"root@/",
		"u:p?a/s@tcp(db:3306)/app?loc=Local&parseTime=false&clientFoundRows=true&time_zone=%27-07%3A00%27&timeout=5s",
	} {
		cfg, err := mysql.ParseDSN(mysqlstore.DSN(dsn))
		if err != nil {
			t.Fatalf("DSN(%q): %v", dsn, err)
		}
		orig, _ := mysql.ParseDSN(dsn)
		if !cfg.ParseTime || cfg.Loc != time.UTC || cfg.Params["time_zone"] != "'+00:00'" || cfg.ClientFoundRows {
			t.Errorf("DSN(%q): parseTime %v, loc %v, time_zone %q, clientFoundRows %v; want true, UTC, '+00:00', false",
				dsn, cfg.ParseTime, cfg.Loc, cfg.Params["time_zone"], cfg.ClientFoundRows)
		}
		if cfg.User != orig.User || cfg.Passwd != orig.Passwd || cfg.Addr != orig.Addr || cfg.DBName != orig.DBName || cfg.Timeout != orig.Timeout {
			t.Errorf("DSN(%q) changed the user, password, address, database or timeout: %+v", dsn, cfg)
		}
	}
}

// clock is a store clock that moves only when told to.
type clock struct{ now atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }

func (c *clock) Now() time.Time      { return time.Unix(0, c.now.Load()) }
func (c *clock) set(t time.Time)     { c.now.Store(t.UnixNano()) }
func (c *clock) add(d time.Duration) { c.now.Add(int64(d)) }

// newDB returns a migrated database of its own on ECHOSESS_MYSQL_DSN's server,
// opened with DSN plus extra, and the DSN it was opened with.
func newDB(t *testing.T) (*sql.DB, string) {
	t.Helper()
	dsn := mysqlstore.DSN(mysqltest.NewDatabase(t))
	db := mysqltest.Open(t, dsn)
	if err := mysqlstore.Migrate(context.Background(), db); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db, dsn
}

func record(key string, expiry time.Time) sessionstore.Record {
	return sessionstore.Record{Key: key, Data: map[string]json.RawMessage{"k": json.RawMessage(`"v"`)}, Expiry: expiry, Deadline: expiry.Add(time.Hour)}
}

// stored returns the row's expires_at as the server spells it.
func stored(t *testing.T, db *sql.DB, key string) string {
	t.Helper()
	var s string
	err := db.QueryRow("SELECT DATE_FORMAT(expires_at, '%Y-%m-%d %H:%i:%s.%f') FROM echosess_sessions WHERE `key` = ?", key).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestMicroseconds: a time keeps its microseconds and loses what is below them, cut
// and not rounded (MySQL would round .9999995 up), and expiry is exact to the
// microsecond: a session is live one microsecond before its stored expiry and dead
// at it.
func TestMicroseconds(t *testing.T) {
	ctx := context.Background()
	db, _ := newDB(t)
	start := time.Date(2030, 6, 1, 12, 0, 0, 999_999_999, time.UTC)
	c := newClock(start)
	s := mysqlstore.New(db, sqlstore.WithClock(c.Now))
	expiry := start.Add(time.Minute) // 12:01:00.999999999
	want := time.Date(2030, 6, 1, 12, 1, 0, 999_999_000, time.UTC)
	if err := s.Save(ctx, record("k", expiry)); err != nil {
		t.Fatal(err)
	}
	if got := stored(t, db, "k"); got != "2030-06-01 12:01:00.999999" {
		t.Errorf("expires_at on the server = %s, want 2030-06-01 12:01:00.999999", got)
	}
	rec, err := s.Load(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Expiry.Equal(want) || !rec.Created.Equal(want.Add(-time.Minute)) {
		t.Errorf("Expiry %v, Created %v; want %v, %v", rec.Expiry, rec.Created, want, want.Add(-time.Minute))
	}
	c.set(want.Add(-time.Microsecond))
	if _, err := s.Load(ctx, "k"); err != nil {
		t.Fatalf("Load a microsecond before the expiry: %v", err)
	}
	if err := s.Touch(ctx, sessionstore.Record{Key: "k", Version: 1, Expiry: want.Add(time.Microsecond), Deadline: want.Add(time.Hour)}); err != nil {
		t.Fatalf("Touch a microsecond before the expiry: %v", err)
	}
	c.set(want.Add(time.Microsecond))
	if _, err := s.Load(ctx, "k"); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Fatalf("Load at the touched expiry: %v, want ErrNotFound", err)
	}
	c.add(-1)
	if _, err := s.Load(ctx, "k"); err != nil {
		t.Fatalf("Load a nanosecond before the touched expiry, the same microsecond as the one before it: %v", err)
	}
}

// TestPast2038: times after 2038, where a TIMESTAMP column ends, and up to the last
// microsecond of 9999, are kept and compared like any other; a later one is kept
// as that microsecond, rather than failing the save.
func TestPast2038(t *testing.T) {
	ctx := context.Background()
	db, _ := newDB(t)
	c := newClock(time.Date(2038, 1, 19, 3, 14, 7, 0, time.UTC))
	s := mysqlstore.New(db, sqlstore.WithClock(c.Now))
	for key, expiry := range map[string]time.Time{
		"2039": time.Date(2039, 1, 1, 0, 0, 0, 1000, time.UTC),
		"2106": time.Date(2106, 2, 7, 6, 28, 16, 0, time.UTC), // past unsigned 32-bit seconds
		"9999": time.Date(9999, 12, 31, 23, 59, 59, 999_999_000, time.UTC),
	} {
		if err := s.Save(ctx, record(key, expiry)); err != nil {
			t.Fatalf("Save expiring %v: %v", expiry, err)
		}
		rec, err := s.Load(ctx, key)
		if err != nil || !rec.Expiry.Equal(expiry) {
			t.Fatalf("Load = expiry %v, %v; want %v", rec.Expiry, err, expiry)
		}
	}
	last := time.Date(9999, 12, 31, 23, 59, 59, 999_999_000, time.UTC)
	if rec, err := s.Load(ctx, "9999"); err != nil || !rec.Deadline.Equal(last) {
		t.Fatalf("the deadline an hour past 9999 loads as %v, %v; want %v", rec.Deadline, err, last)
	}
	c.set(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
	if n, err := s.DeleteExpired(ctx); err != nil || n != 1 {
		t.Fatalf("DeleteExpired in 2100 = %d, %v; want 1 (the 2039 session)", n, err)
	}
	if _, err := s.Load(ctx, "2106"); err != nil {
		t.Fatalf("Load in 2100 of the session expiring in 2106: %v", err)
	}
	if _, err := s.Load(ctx, "2039"); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Fatalf("Load in 2100 of the session that expired in 2039: %v, want ErrNotFound", err)
	}
}

// TestTimeZone: the session's times are the same instants through a connection
// whose time_zone is another (overriding DSN's), written there and read here or
// the other way round, and the server holds them as UTC.
func TestTimeZone(t *testing.T) {
	ctx := context.Background()
	db, dsn := newDB(t)
	other := mysqltest.Open(t, dsn+"&time_zone=%27-07%3A00%27")
	var zone string
	if err := other.QueryRow("SELECT @@session.time_zone").Scan(&zone); err != nil || zone != "-07:00" {
		t.Fatalf("the other connection's time_zone = %q, %v; want -07:00", zone, err)
	}
	start := time.Date(2030, 6, 1, 23, 30, 0, 0, time.FixedZone("CEST", 2*3600))
	c := newClock(start)
	here, there := mysqlstore.New(db, sqlstore.WithClock(c.Now)), mysqlstore.New(other, sqlstore.WithClock(c.Now))

	expiry := start.Add(time.Hour)
	if err := there.Save(ctx, record("k", expiry)); err != nil {
		t.Fatal(err)
	}
	if got, want := stored(t, db, "k"), expiry.UTC().Format("2006-01-02 15:04:05.000000"); got != want {
		t.Errorf("expires_at on the server = %s, want UTC %s", got, want)
	}
	rec, err := here.Load(ctx, "k")
	if err != nil || !rec.Expiry.Equal(expiry) || !rec.Created.Equal(start) {
		t.Fatalf("Load through DSN's time_zone = expiry %v, created %v, %v; want %v, %v", rec.Expiry, rec.Created, err, expiry, start)
	}
	rec.Expiry = expiry.Add(time.Hour)
	if err := here.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	c.set(expiry.Add(time.Minute)) // past the first expiry, before the second
	rec, err = there.Load(ctx, "k")
	if err != nil || !rec.Expiry.Equal(expiry.Add(time.Hour)) {
		t.Fatalf("Load through time_zone -07:00 = expiry %v, %v; want %v", rec.Expiry, err, expiry.Add(time.Hour))
	}
}

// TestDSNFoundRows: why DSN turns clientFoundRows off. Through it, saving a new
// session under the key of a live one fails with ErrConflict; through a
// connection that counts found rows, the same save would report success while the
// live session stays as it was.
func TestDSNFoundRows(t *testing.T) {
	ctx := context.Background()
	db, dsn := newDB(t)
	found := mysqltest.Open(t, dsn+"&clientFoundRows=true")
	expiry := time.Now().Add(time.Hour)
	if err := mysqlstore.New(db).Save(ctx, record("k", expiry)); err != nil {
		t.Fatal(err)
	}
	if err := mysqlstore.New(db).Save(ctx, record("k", expiry)); !errors.Is(err, sessionstore.ErrConflict) {
		t.Errorf("a new session over a live one through DSN: %v, want ErrConflict", err)
	}
	if err := mysqlstore.New(found).Save(ctx, record("k", expiry)); err != nil {
		t.Errorf("through clientFoundRows=true: %v; the reason DSN gives for turning it off no longer holds", err)
	}
}
