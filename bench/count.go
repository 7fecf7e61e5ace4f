package bench

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/echosess/echosess"
	"github.com/jackc/pgx/v5"
)

// Counter counts the round trips an app makes to its session store, by kind. The
// zero Counter is ready to use; a nil *Counter counts nothing.
type Counter struct {
	reads, writes, other atomic.Int64
}

// Counts is a snapshot of a Counter.
type Counts struct {
	Reads  int64 // loads: SELECT, Find, Load
	Writes int64 // saves and deletes: INSERT, UPDATE, DELETE, Commit, Save
	Other  int64 // anything else that crossed to the store, such as BEGIN or COMMIT
}

// Total is the number of round trips.
func (c Counts) Total() int64 { return c.Reads + c.Writes + c.Other }

// Sub returns the round trips made between snapshot o and c.
func (c Counts) Sub(o Counts) Counts {
	return Counts{Reads: c.Reads - o.Reads, Writes: c.Writes - o.Writes, Other: c.Other - o.Other}
}

// Add returns the sum of c and o.
func (c Counts) Add(o Counts) Counts {
	return Counts{Reads: c.Reads + o.Reads, Writes: c.Writes + o.Writes, Other: c.Other + o.Other}
}

// Snapshot returns the counts so far.
func (c *Counter) Snapshot() Counts {
	if c == nil {
		return Counts{}
	}
	return Counts{Reads: c.reads.Load(), Writes: c.writes.Load(), Other: c.other.Load()}
}

func (c *Counter) read() {
	if c != nil {
		c.reads.Add(1)
	}
}

func (c *Counter) write() {
	if c != nil {
		c.writes.Add(1)
	}
}

// sql counts one statement sent to Postgres, classified by its first keyword after
// any leading "--" comment lines (sqlc puts its query name there).
func (c *Counter) sql(stmt string) {
	if c == nil {
		return
	}
	s := strings.TrimSpace(stmt)
	for strings.HasPrefix(s, "--") {
		_, rest, _ := strings.Cut(s, "\n")
		s = strings.TrimSpace(rest)
	}
	word, _, _ := strings.Cut(s, " ")
	switch strings.ToLower(word) {
	case "select":
		c.reads.Add(1)
	case "insert", "update", "delete", "merge", "with":
		c.writes.Add(1)
	default:
		c.other.Add(1)
	}
}

// countingStore counts the calls that echosess makes to its Store.
type countingStore struct {
	echosess.Store
	n *Counter
}

func (s countingStore) Load(ctx context.Context, key string) (echosess.Record, error) {
	s.n.read()
	return s.Store.Load(ctx, key)
}

func (s countingStore) Save(ctx context.Context, rec echosess.Record) error {
	s.n.write()
	return s.Store.Save(ctx, rec)
}

func (s countingStore) Delete(ctx context.Context, key string) error {
	s.n.write()
	return s.Store.Delete(ctx, key)
}

// countingSCSStore counts the calls that scs makes to its Store.
type countingSCSStore struct {
	scs.Store
	n *Counter
}

func (s countingSCSStore) Find(token string) ([]byte, bool, error) {
	s.n.read()
	return s.Store.Find(token)
}

func (s countingSCSStore) Commit(token string, b []byte, expiry time.Time) error {
	s.n.write()
	return s.Store.Commit(token, b, expiry)
}

func (s countingSCSStore) Delete(token string) error {
	s.n.write()
	return s.Store.Delete(token)
}

// queryCounter is a pgx tracer that counts every statement a pool sends. A batch
// counts once, as the single round trip it is, under the kind of its first statement.
type queryCounter struct{ n *Counter }

func (t queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	t.n.sql(d.SQL)
	return ctx
}

func (queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (t queryCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	if d.Batch != nil && len(d.Batch.QueuedQueries) > 0 {
		t.n.sql(d.Batch.QueuedQueries[0].SQL)
	} else {
		t.n.other.Add(1)
	}
	return ctx
}

func (queryCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (queryCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}
