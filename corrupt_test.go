package echosess_test

// Corrupted stored data: a row whose data column no longer decodes, or whose version
// or expiry is out of the range echosess writes, is a lost session, never a panic or
// an error page, and no other session notices.

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/internal/adaptertest"
	"github.com/echosess/echosess/internal/adaptertest/allstores"
	"github.com/echosess/echosess/memstore"
	"github.com/echosess/echosess/mysqlstore"
	"github.com/echosess/echosess/pgstore"
	"github.com/echosess/echosess/sqlitestore"
)

// corruptData are data columns that do not decode as a session.
var corruptData = []struct {
	name string
	data []byte
}{
	{"binary", []byte("\x00\xff\xfe garbage \x01")},
	{"empty", []byte{}},
	{"truncated", []byte(`{"keep":"me","n":`)},
	{"array", []byte(`[1,2,3]`)},
	{"string", []byte(`"keep"`)},
	{"bad value", []byte(`{"keep":tru}`)},
	{"trailing", []byte(`{"keep":"me"} {}`)},
	{"nested too deep", []byte(`{"keep":` + strings.Repeat("[", 200_000) + strings.Repeat("]", 200_000) + `}`)},
}

// corruptor writes data into the data column of the row under key.
type corruptor func(t *testing.T, key string, data []byte)

func TestCorruptedSQLiteRow(t *testing.T) {
	var db *sql.DB
	newStore := func(t *testing.T, now func() time.Time) echosess.Store {
		db = allstores.NewSQLiteDB(t)
		return sqlitestore.New(db, memstore.WithClock(now))
	}
	testCorruptedRow(t, newStore, func(t *testing.T, key string, data []byte) {
		res, err := db.ExecContext(context.Background(), "UPDATE echosess_sessions SET data = ? WHERE key = ?", data, key)
		checkOneRow(t, res, err)
	})
}

func TestCorruptedPostgresRow(t *testing.T) {
	var pool *pgxpool.Pool
	newStore := func(t *testing.T, now func() time.Time) echosess.Store {
		pool = allstores.NewPostgresPool(t)
		return pgstore.New(pool, memstore.WithClock(now))
	}
	testCorruptedRow(t, newStore, func(t *testing.T, key string, data []byte) {
		tag, err := pool.Exec(context.Background(), "UPDATE echosess_sessions SET data = $1 WHERE key = $2", data, key)
		if err != nil || tag.RowsAffected() != 1 {
			t.Fatalf("corrupting the row: %v, %d rows", err, tag.RowsAffected())
		}
	})
}

func TestCorruptedMySQLRow(t *testing.T) {
	allstores.MySQLDSN(t)
	var db *sql.DB
	newStore := func(t *testing.T, now func() time.Time) echosess.Store {
		db = allstores.NewMySQLDB(t)
		return mysqlstore.New(db, memstore.WithClock(now))
	}
	testCorruptedRow(t, newStore, func(t *testing.T, key string, data []byte) {
		res, err := db.ExecContext(context.Background(), "UPDATE echosess_sessions SET data = ? WHERE `key` = ?", data, key)
		checkOneRow(t, res, err)
	})
}

func checkOneRow(t *testing.T, res sql.Result, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("corrupting the row: %v", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("corrupting the row: %d rows, %v", n, err)
	}
}

// testCorruptedRow overwrites one session's data column with each of corruptData and
// checks that the session is lost, as testLostRow does.
func testCorruptedRow(t *testing.T, newStore adaptertest.StoreFactory, corrupt corruptor) {
	for _, c := range corruptData {
		t.Run(c.name, func(t *testing.T) {
			testLostRow(t, newStore, func(t *testing.T, key string) { corrupt(t, key, c.data) }, "does not decode")
		})
	}
}

// outOfRange are updates that put a session row's columns out of the range that
// echosess ever writes.
var outOfRange = []struct {
	name, set    string
	warning      string // what the warning says
	postgresOnly bool   // only PostgreSQL's column types can hold the value
}{
	{"version 0", "version = 0", "version is out of range", false},
	{"negative version", "version = -5", "version is out of range", false},
	{"expiry infinity", "expires_at = 'infinity'", "does not decode", true},
	{"deadline infinity", "deadline = '-infinity'", "does not decode", true},
}

// TestOutOfRangeRow (issue 11, rule 6): a row whose version or expiry is out of the
// range echosess writes is a lost session with a warning, like a row whose data does
// not decode, and never an error page.
func TestOutOfRangeRow(t *testing.T) {
	for _, c := range outOfRange {
		if !c.postgresOnly {
			t.Run("sqlite/"+c.name, func(t *testing.T) {
				var db *sql.DB
				newStore := func(t *testing.T, now func() time.Time) echosess.Store {
					db = allstores.NewSQLiteDB(t)
					return sqlitestore.New(db, memstore.WithClock(now))
				}
				testLostRow(t, newStore, func(t *testing.T, key string) {
					res, err := db.ExecContext(context.Background(), "UPDATE echosess_sessions SET "+c.set+" WHERE key = ?", key)
					checkOneRow(t, res, err)
				}, c.warning)
			})
			t.Run("mysql/"+c.name, func(t *testing.T) {
				var db *sql.DB
				newStore := func(t *testing.T, now func() time.Time) echosess.Store {
					db = allstores.NewMySQLDB(t)
					return mysqlstore.New(db, memstore.WithClock(now))
				}
				testLostRow(t, newStore, func(t *testing.T, key string) {
					res, err := db.ExecContext(context.Background(), "UPDATE echosess_sessions SET "+c.set+" WHERE `key` = ?", key)
					checkOneRow(t, res, err)
				}, c.warning)
			})
		}
		t.Run("postgres/"+c.name, func(t *testing.T) {
			var pool *pgxpool.Pool
			newStore := func(t *testing.T, now func() time.Time) echosess.Store {
				pool = allstores.NewPostgresPool(t)
				return pgstore.New(pool, memstore.WithClock(now))
			}
			testLostRow(t, newStore, func(t *testing.T, key string) {
				tag, err := pool.Exec(context.Background(), "UPDATE echosess_sessions SET "+c.set+" WHERE key = $1", key)
				if err != nil || tag.RowsAffected() != 1 {
					t.Fatalf("changing the row: %v, %d rows", err, tag.RowsAffected())
				}
			}, c.warning)
		})
	}
}

// testLostRow changes one session's row with change and checks that its next
// request finds a new, empty session (a warning logged that contains warning, a new
// token on write, the old token dead, nothing at ErrorHandler) while another session
// carries on.
func testLostRow(t *testing.T, newStore adaptertest.StoreFactory, change func(t *testing.T, key string), warning string) {
	rec := &keyRecorder{}
	logs := new(syncBuffer)
	h := newHarness(t, adaptertest.Variant{Name: "recorded", NewStore: func(t *testing.T, now func() time.Time) echosess.Store {
		rec.Store = newStore(t, now)
		return rec
	}}, func(cfg *adaptertest.Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	bystander := h.Browser()
	bystander.Set("mine", "intact")
	victim := h.Browser()
	victim.Set("keep", "me")
	oldToken := victim.SessionCookie(cookieName).Value
	change(t, rec.keys[len(rec.keys)-1])

	if r := victim.Get("/get", "k", "keep"); r.Status != http.StatusOK || r.Body != "<absent>" {
		t.Fatalf("the changed session's read answered %d %q, want 200 and a new, empty session", r.Status, r.Body)
	}
	if !strings.Contains(logs.String(), warning) || !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("no warning %q logged for the changed row; log:\n%s", warning, logs.String())
	}
	r := victim.Get("/set", "k", "after", "v", "1")
	ck := r.Cookie(cookieName)
	if r.Status != http.StatusOK || ck == nil || ck.Value == oldToken || len(ck.Value) != 43 {
		t.Fatalf("write after the change: %d %q, Set-Cookie %q; want a new token", r.Status, r.Body, r.Header.Get("Set-Cookie"))
	}
	if got := victim.Value("after"); got != "1" {
		t.Fatalf("the new session lost its write: after = %q", got)
	}
	if got := h.WithCookie(cookieName, oldToken).Value("keep"); got != "<absent>" {
		t.Fatalf("the changed session's token still reads keep = %q", got)
	}
	if got := bystander.Value("mine"); got != "intact" {
		t.Fatalf("another session read mine = %q", got)
	}
	bystander.Set("mine", "still")
	if got := bystander.Value("mine"); got != "still" {
		t.Fatalf("another session cannot write: mine = %q", got)
	}
	select {
	case err := <-h.Errors:
		t.Fatalf("the changed row reached ErrorHandler: %v", err)
	default:
	}
}
