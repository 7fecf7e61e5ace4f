package bench

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/echosess/echosess"
	"github.com/jackc/pgx/v5"
)

// Counter counts what an app asks of its session store, by kind, and the round
// trips that takes. Every call to a store and every SQL statement is one round trip
// of its own; on Redis, where a client sends several commands in one round trip,
// redisCounter counts the round trips apart. The zero Counter is ready to use; a
// nil *Counter counts nothing.
type Counter struct {
	reads, writes, other, trips, cmds atomic.Int64
	// batched is set when a round trip may carry several commands: the counter
	// counts them at the connection (redisConn).
	batched bool
}

// Counts is a snapshot of a Counter.
type Counts struct {
	Reads  int64 // loads: SELECT, Find, Load; on Redis GET or HGETALL
	Writes int64 // saves and deletes: INSERT, UPDATE, DELETE, Commit, Save; on Redis a write command or a transaction that writes
	Other  int64 // anything else that crossed to the store, such as BEGIN or COMMIT, or Redis's PING
	Trips  int64 // round trips that carried them
	Cmds   int64 // commands sent: statements, calls, or Redis commands (MULTI and EXEC included)
}

// Total is the number of round trips.
func (c Counts) Total() int64 { return c.Trips }

// Sub returns what was counted between snapshot o and c.
func (c Counts) Sub(o Counts) Counts {
	return Counts{Reads: c.Reads - o.Reads, Writes: c.Writes - o.Writes, Other: c.Other - o.Other,
		Trips: c.Trips - o.Trips, Cmds: c.Cmds - o.Cmds}
}

// Add returns the sum of c and o.
func (c Counts) Add(o Counts) Counts {
	return Counts{Reads: c.Reads + o.Reads, Writes: c.Writes + o.Writes, Other: c.Other + o.Other,
		Trips: c.Trips + o.Trips, Cmds: c.Cmds + o.Cmds}
}

// Snapshot returns the counts so far.
func (c *Counter) Snapshot() Counts {
	if c == nil {
		return Counts{}
	}
	return Counts{Reads: c.reads.Load(), Writes: c.writes.Load(), Other: c.other.Load(),
		Trips: c.trips.Load(), Cmds: c.cmds.Load()}
}

// Batched reports whether a round trip may carry several commands, so that the
// commands are worth reporting apart.
func (c *Counter) Batched() bool { return c != nil && c.batched }

// one counts a call or statement of the given kind, which is a command and a round
// trip of its own.
func (c *Counter) one(kind *atomic.Int64) {
	kind.Add(1)
	c.cmds.Add(1)
	c.trips.Add(1)
}

func (c *Counter) read() {
	if c != nil {
		c.one(&c.reads)
	}
}

func (c *Counter) write() {
	if c != nil {
		c.one(&c.writes)
	}
}

// sql counts one statement sent to Postgres, a round trip of its own, by its kind.
func (c *Counter) sql(stmt string) {
	if c == nil {
		return
	}
	switch sqlKind(stmt) {
	case opRead:
		c.one(&c.reads)
	case opWrite:
		c.one(&c.writes)
	default:
		c.one(&c.other)
	}
}

// sqlKind classifies a statement by its first keyword after any leading "--"
// comment lines (sqlc puts its query name there): SELECT reads; INSERT, UPDATE,
// DELETE, MERGE and WITH write; anything else is other. It takes the text as a
// string or as bytes, as a connection sends it, and allocates nothing.
func sqlKind[T string | []byte](stmt T) opKind {
	i := 0
	for {
		for i < len(stmt) && (stmt[i] == ' ' || stmt[i] == '\t' || stmt[i] == '\n' || stmt[i] == '\r') {
			i++
		}
		if i+1 >= len(stmt) || stmt[i] != '-' || stmt[i+1] != '-' {
			break
		}
		for i < len(stmt) && stmt[i] != '\n' {
			i++
		}
	}
	var word [6]byte
	n := 0
	for ; i < len(stmt) && n < len(word); i++ {
		c := stmt[i]
		if c|0x20 < 'a' || c|0x20 > 'z' {
			break
		}
		word[n] = c | 0x20
		n++
	}
	if i < len(stmt) && n == len(word) && stmt[i]|0x20 >= 'a' && stmt[i]|0x20 <= 'z' {
		return opOther // a longer word
	}
	switch string(word[:n]) {
	case "select":
		return opRead
	case "insert", "update", "delete", "merge", "with":
		return opWrite
	}
	return opOther
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
	} else if t.n != nil {
		t.n.one(&t.n.other)
	}
	return ctx
}

func (queryCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (queryCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}
