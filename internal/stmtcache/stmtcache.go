// Package stmtcache is the database handle that an SQL store's generated queries
// run on through database/sql: it prepares each query the first time it runs and
// reuses the statement from then on, so that the database parses a query once per
// connection rather than on every call, and, where the driver would otherwise
// prepare, run and close a statement for each call with arguments (MySQL's), sends
// one request rather than three. A *sql.Stmt prepares itself again on each
// connection of the pool that it meets, so a connection that the pool closes and
// replaces costs one more prepare, never an error.
package stmtcache

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
)

// Cache holds the prepared statements of one store on db.
type Cache struct {
	db     *sql.DB
	stmts  sync.Map   // query text -> *sql.Stmt
	mu     sync.Mutex // held to add a statement and to close
	closed atomic.Bool
	// statementContext is the context a statement runs with, given the call's.
	statementContext func(context.Context) context.Context
}

// New returns an empty Cache on db, whose statements run with the call's context.
func New(db *sql.DB) *Cache {
	return &Cache{db: db, statementContext: func(ctx context.Context) context.Context { return ctx }}
}

// NewUncancelled is New, but for a statement whose cancellation could only cost
// time: each runs without the cancellation of the call's context, unless that
// context is done already (the statement fails at once) or db has a limit of open
// connections (the wait for a free one must end with the context). For a context
// that can be cancelled, database/sql and the driver each start a goroutine per
// statement to watch it.
func NewUncancelled(db *sql.DB) *Cache {
	return &Cache{db: db, statementContext: func(ctx context.Context) context.Context {
		if ctx.Done() == nil || ctx.Err() != nil || db.Stats().MaxOpenConnections > 0 {
			return ctx
		}
		return context.WithoutCancel(ctx)
	}}
}

// stmt returns the prepared statement of query, preparing it on first use. It returns
// nil when query cannot be prepared, for instance before Migrate has created the
// table, or after Close; the caller then runs query unprepared, which reports why it
// fails, and the next call tries to prepare it again. It prepares without holding the
// lock, so that a call waiting for a connection holds up no other.
func (c *Cache) stmt(ctx context.Context, query string) *sql.Stmt {
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

// Prepared returns the texts of the statements prepared so far, for tests.
func (c *Cache) Prepared() map[string]*sql.Stmt {
	m := map[string]*sql.Stmt{}
	c.stmts.Range(func(q, st any) bool {
		m[q.(string)] = st.(*sql.Stmt)
		return true
	})
	return m
}

// Close closes the prepared statements; queries run after it go unprepared.
func (c *Cache) Close() error {
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

func (c *Cache) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.ExecContext(c.statementContext(ctx), args...)
	}
	return c.db.ExecContext(c.statementContext(ctx), query, args...)
}

func (c *Cache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryRowContext(c.statementContext(ctx), args...)
	}
	return c.db.QueryRowContext(c.statementContext(ctx), query, args...)
}

func (c *Cache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryContext(c.statementContext(ctx), args...)
	}
	return c.db.QueryContext(c.statementContext(ctx), query, args...)
}

// PrepareContext completes the generated DBTX; the store's queries do not use it.
func (c *Cache) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return c.db.PrepareContext(ctx, query)
}
