package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
)

// stmtCache is the database handle that the SQLite store's generated queries run on.
// It prepares each query the first time it runs and reuses the statement from then
// on, so that SQLite parses a query once per connection rather than on every call. A
// *sql.Stmt prepares itself again on each connection of the pool that it meets, so a
// connection that the pool closes and replaces costs one more parse, never an error.
// It runs the statements without the cancellation of their context where that could
// only cost time (statementContext).
type stmtCache struct {
	db     *sql.DB
	stmts  sync.Map   // query text -> *sql.Stmt
	mu     sync.Mutex // held to add a statement and to close
	closed atomic.Bool
}

func newStmtCache(db *sql.DB) *stmtCache { return &stmtCache{db: db} }

// stmt returns the prepared statement of query, preparing it on first use. It returns
// nil when query cannot be prepared, for instance before Migrate has created the
// table, or after Close; the caller then runs query unprepared, which reports why it
// fails, and the next call tries to prepare it again. It prepares without holding the
// lock, so that a call waiting for a connection holds up no other.
func (c *stmtCache) stmt(ctx context.Context, query string) *sql.Stmt {
	if st, ok := c.stmts.Load(query); ok {
		return st.(*sql.Stmt)
	}
	if c.closed.Load() {
		return nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		st.Close()
		return nil
	}
	if first, loaded := c.stmts.LoadOrStore(query, st); loaded { // prepared meanwhile
		st.Close()
		return first.(*sql.Stmt)
	}
	return st
}

// Close closes the prepared statements; queries run after it go unprepared.
func (c *stmtCache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed.Store(true)
	var errs []error
	c.stmts.Range(func(query, st any) bool {
		errs = append(errs, st.(*sql.Stmt).Close())
		c.stmts.Delete(query)
		return true
	})
	return errors.Join(errs...)
}

// statementContext returns the context to run one of the store's statements with:
// ctx without its cancellation, when cancelling could only cost time. For a context
// that can be cancelled, database/sql and the driver each start a goroutine per
// statement to watch it, and a primary-key read takes a third longer. Yet
// SQLite ends neither a wait for a lock (busy_timeout) nor an I/O wait when a
// statement is interrupted, and every statement of the store is short: one row, or
// one bounded batch of DeleteExpired. A context that is already done is kept, so the
// statement fails at once, and so is every context when the pool has a limit
// (SetMaxOpenConns): the wait for a free connection must end with ctx.
func (c *stmtCache) statementContext(ctx context.Context) context.Context {
	if ctx.Done() == nil || ctx.Err() != nil || c.db.Stats().MaxOpenConnections > 0 {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

func (c *stmtCache) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.ExecContext(c.statementContext(ctx), args...)
	}
	return c.db.ExecContext(c.statementContext(ctx), query, args...)
}

func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryRowContext(c.statementContext(ctx), args...)
	}
	return c.db.QueryRowContext(c.statementContext(ctx), query, args...)
}

// QueryContext and PrepareContext complete sqlite.DBTX; the store's queries use
// neither, so they go to the database as they are.
func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return c.db.QueryContext(ctx, query, args...)
}

func (c *stmtCache) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return c.db.PrepareContext(ctx, query)
}
