package mysqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/echosess/echosess/internal/engine"
	"github.com/echosess/echosess/sqlstore"
)

// defaultPollInterval is how often a MySQL store's listener reads the changes
// recorded since its last read, unless WithPollInterval says otherwise: the delay
// after which every instance sees a change is at most this plus one round trip.
const defaultPollInterval = 10 * time.Millisecond

// WithPollInterval sets how often a MySQL store that a cache watches reads the
// changes that every process made to its table (see sqlstore.Store.WatchChanges),
// which bounds how long another instance may serve a session from its cache after
// a change. Each read is one query that returns nothing when nothing changed.
// Default 10 ms.
func WithPollInterval(d time.Duration) sqlstore.Option {
	return func(o *engine.StoreOptions) { o.PollInterval = d }
}

// How the listener finds out that its connection or its registration is gone: a
// statement that takes longer than pollTimeout counts as a lost connection, and it
// renews its row in echosess_listeners every heartbeatEvery. A row not renewed for
// listenerExpiry, the 30 seconds of migration 00002's triggers, is that of an
// instance that is gone: the other listeners delete it, and the triggers record
// nothing for it. A listener that finds its own row so old, or gone, starts over.
const (
	pollTimeout    = 3 * time.Second
	heartbeatEvery = time.Second
	listenerExpiry = 30 * time.Second
)

// maxChangesPerRead bounds the changes the listener takes in one read, and
// maxGaps the ids it waits for (see changeReader); past either (a bulk UPDATE or
// DELETE by hand), it starts over, which empties the cache, instead of evicting one
// by one.
const (
	maxChangesPerRead = 10000
	maxGaps           = 1000
)

// lateCommitBound is how long the listener waits for a change whose id it has seen
// skipped: the change of a transaction that has not committed yet, or of none (a
// rollback). A transaction that commits a change to a session later than this after
// making it goes unread, and other instances may serve the session from their
// caches until their max age.
const lateCommitBound = 30 * time.Second

// How long a new listener waits for the transactions that wrote before it
// registered (awaitEarlierWriters): at most writersTimeout where the server shows
// them, and earlierWritersGrace where it does not.
const (
	writersTimeout      = 10 * time.Second
	earlierWritersGrace = time.Second
)

// trxListAge is how old what information_schema.INNODB_TRX shows may be, with a
// margin: InnoDB refreshes it when it is read and more than 0.1 seconds old.
const trxListAge = 150 * time.Millisecond

// cleanupBatch bounds the changes that one heartbeat deletes.
const cleanupBatch = 10000

// mysqlListener is the source of a MySQL store's ChangeHub: one connection of the
// pool, held while it listens, that reads what the triggers of migration 00002
// record in echosess_changes.
type mysqlListener struct {
	db          *sql.DB
	every       time.Duration // between reads
	maxBatch    int           // maxChangesPerRead, or fewer in tests
	lateCommits time.Duration // lateCommitBound, or less in tests
}

// run listens, and reconnects with backoff when the connection is lost, until
// stop is closed.
func (l mysqlListener) run(h *engine.ChangeHub, stop <-chan struct{}) {
	engine.RunListener(h, stop, engine.DialectMySQL, func(ctx context.Context) error { return l.listen(ctx, h, stop) })
}

// errStartOver is why a listener that read more changes, or waits for more skipped
// ids, than it takes starts over.
var errStartOver = errors.New("the sessions table changed wholesale")

// listen takes a connection, registers, waits for the writers that may not have
// seen it register, reports Watching, and then reads and reports the recorded
// changes every l.every, until the connection fails or ctx ends.
func (l mysqlListener) listen(ctx context.Context, h *engine.ChangeHub, stop <-chan struct{}) error {
	if l.db.Stats().MaxOpenConnections == 1 {
		return errors.New("the listener holds a connection of its own, and the database handle allows only one (SetMaxOpenConns(1))")
	}
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var triggers int
	err = conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.TRIGGERS
		WHERE EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = 'echosess_sessions'
		AND TRIGGER_NAME IN ('echosess_sessions_changes_insert', 'echosess_sessions_changes_update', 'echosess_sessions_changes_delete')`).Scan(&triggers)
	if err != nil {
		return err
	}
	if triggers != 3 {
		return errors.New("the sessions table lacks the change triggers of migration 00002: run Migrate")
	}
	var id [16]byte
	rand.Read(id[:])
	r := &changeReader{conn: conn, id: hex.EncodeToString(id[:]), maxBatch: l.maxBatch, lateCommits: l.lateCommits}
	defer r.close()
	if err := r.register(ctx); err != nil {
		return err
	}
	defer r.unregister(ctx)
	if err := awaitEarlierWriters(ctx, conn); err != nil {
		return err
	}
	h.ReportWatching(stop)
	tick := time.NewTicker(l.every)
	defer tick.Stop()
	lastBeat := time.Now()
	// The reads and heartbeats run to their end when ctx ends, which the loop then
	// sees: the driver ends a statement by closing the connection, on which r
	// could then not remove its row.
	poll := context.WithoutCancel(ctx)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		// The heartbeat, which finds out whether r's row is gone, comes before the
		// read: the row can only have gone while r was silent for listenerExpiry.
		if time.Since(lastBeat) >= heartbeatEvery {
			if err := r.heartbeat(poll); err != nil {
				return err
			}
			lastBeat = time.Now()
		}
		changes, err := r.read(poll)
		if err != nil {
			return err
		}
		for _, c := range changes {
			h.ReportChanged(stop, c.key, c.version)
		}
	}
}

// errLostRegistration is why a listener whose row in echosess_listeners is gone or
// expired starts over.
var errLostRegistration = fmt.Errorf("the listener's row in echosess_listeners was deleted or not renewed for %v, so changes may have gone unrecorded", listenerExpiry)

// change is one row of echosess_changes.
type change struct {
	key     string
	version int64
}

// changeReader reads echosess_changes on one connection, registered under id in
// echosess_listeners.
//
// A change's id is taken when the trigger runs, and the transactions commit in
// another order: one that commits after others that took higher ids shows its row
// only then. So the reader reads every row above the highest id it has read, and
// also each lower id that it has not read yet, a gap, until it has read it or
// lateCommits has passed since it found the gap: a transaction's late commit, or
// none (a rollback).
type changeReader struct {
	conn        *sql.Conn
	id          string
	maxBatch    int
	lateCommits time.Duration
	last        uint64               // the highest id read
	gaps        map[uint64]time.Time // the ids below last not read, and when to stop waiting for each
	// readNew is read's statement when there are no gaps, prepared once on conn:
	// otherwise the driver prepares, runs and closes it on every poll.
	readNew *sql.Stmt
}

// close closes r's prepared statement, before its connection goes back to the pool.
func (r *changeReader) close() {
	if r.readNew != nil {
		r.readNew.Close()
	}
}

// register records r in echosess_listeners, which makes the triggers record the
// changes, removes the rows of listeners that have not renewed theirs for
// listenerExpiry, and takes the highest id so far as read: the cache starts empty.
func (r *changeReader) register(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pollTimeout)
	defer cancel()
	if _, err := r.conn.ExecContext(ctx, "DELETE FROM echosess_listeners WHERE seen_at < UTC_TIMESTAMP(6) - INTERVAL ? MICROSECOND",
		listenerExpiry.Microseconds()); err != nil {
		return fmt.Errorf("register the listener (migration 00002: run Migrate): %w", err)
	}
	if _, err := r.conn.ExecContext(ctx, "INSERT INTO echosess_listeners (id, horizon, seen_at) VALUES (?, 0, UTC_TIMESTAMP(6))", r.id); err != nil {
		return fmt.Errorf("register the listener: %w", err)
	}
	r.gaps = map[uint64]time.Time{}
	return r.conn.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0) FROM echosess_changes").Scan(&r.last)
}

// unregister removes r's row from echosess_listeners, if the connection still works.
func (r *changeReader) unregister(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pollTimeout)
	defer cancel()
	_, _ = r.conn.ExecContext(ctx, "DELETE FROM echosess_listeners WHERE id = ?", r.id)
}

// read returns the changes recorded since the last read: the rows above r.last and
// those of r's gaps. It fails with errStartOver when there are more than r.maxBatch,
// or more than maxGaps ids to wait for.
func (r *changeReader) read(ctx context.Context) ([]change, error) {
	ctx, cancel := context.WithTimeout(ctx, pollTimeout)
	defer cancel()
	const query = "SELECT id, `key`, version FROM echosess_changes WHERE id > ?"
	const order = " ORDER BY id LIMIT ?"
	var rows *sql.Rows
	var err error
	if len(r.gaps) == 0 {
		if r.readNew == nil {
			if r.readNew, err = r.conn.PrepareContext(ctx, query+order); err != nil {
				return nil, fmt.Errorf("reading the changes: %w", err)
			}
		}
		rows, err = r.readNew.QueryContext(ctx, r.last, r.maxBatch+1)
	} else {
		args := []any{r.last}
		for id := range r.gaps {
			args = append(args, id)
		}
		gaps := " OR id IN (?" + strings.Repeat(", ?", len(r.gaps)-1) + ")"
		rows, err = r.conn.QueryContext(ctx, query+gaps+order, append(args, r.maxBatch+1)...)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the changes: %w", err)
	}
	defer rows.Close()
	now := time.Now()
	var changes []change
	for rows.Next() {
		var id uint64
		var c change
		if err := rows.Scan(&id, &c.key, &c.version); err != nil {
			return nil, fmt.Errorf("reading the changes: %w", err)
		}
		if len(changes) == r.maxBatch {
			return nil, errStartOver
		}
		changes = append(changes, c)
		if _, ok := r.gaps[id]; ok {
			delete(r.gaps, id)
			continue
		}
		if id-r.last-1 > maxGaps-uint64(len(r.gaps)) {
			return nil, errStartOver
		}
		for skipped := r.last + 1; skipped < id; skipped++ {
			r.gaps[skipped] = now.Add(r.lateCommits)
		}
		r.last = id
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the changes: %w", err)
	}
	for id, until := range r.gaps {
		if now.After(until) {
			delete(r.gaps, id)
		}
	}
	return changes, nil
}

// horizon is the id below which r has read every change it will: its lowest gap,
// or the id after the highest it read.
func (r *changeReader) horizon() uint64 {
	h := r.last + 1
	for id := range r.gaps {
		h = min(h, id)
	}
	return h
}

// heartbeat renews r's row with its horizon, removes the rows of listeners gone
// silent, and deletes the changes that every listener left has read, at most
// cleanupBatch of them. It fails when r's row is gone or expired.
func (r *changeReader) heartbeat(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pollTimeout)
	defer cancel()
	res, err := r.conn.ExecContext(ctx, `UPDATE echosess_listeners SET horizon = ?, seen_at = UTC_TIMESTAMP(6)
		WHERE id = ? AND seen_at >= UTC_TIMESTAMP(6) - INTERVAL ? MICROSECOND`, r.horizon(), r.id, listenerExpiry.Microseconds())
	if err != nil {
		return fmt.Errorf("renewing the listener's registration: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return errLostRegistration
	}
	if _, err := r.conn.ExecContext(ctx, "DELETE FROM echosess_listeners WHERE seen_at < UTC_TIMESTAMP(6) - INTERVAL ? MICROSECOND",
		listenerExpiry.Microseconds()); err != nil {
		return fmt.Errorf("removing the listeners gone silent: %w", err)
	}
	_, err = r.conn.ExecContext(ctx, `DELETE FROM echosess_changes
		WHERE id < (SELECT MIN(horizon) FROM echosess_listeners WHERE seen_at >= UTC_TIMESTAMP(6) - INTERVAL ? MICROSECOND)
		ORDER BY id LIMIT ?`, listenerExpiry.Microseconds(), cleanupBatch)
	if err != nil {
		return fmt.Errorf("deleting the changes every listener has read: %w", err)
	}
	return nil
}

// awaitEarlierWriters waits until every transaction that had changed a row when
// conn's registration took effect has ended. Such a transaction may have changed a
// session without recording it, having found no listener; once it has ended, the
// cache, which starts empty at Watching, reads its change from the store. A later
// write finds the registration, whatever its transaction's snapshot
// (echosess_listeners is a MEMORY table), and records its change.
//
// InnoDB lists its open transactions (information_schema.INNODB_TRX) to a user with
// the PROCESS privilege, but not the tables they changed: the listener waits for
// those of the connections whose default database is the store's, or none, and so
// not for another application's on the same server. For a user without the
// privilege it waits earlierWritersGrace instead, which a single statement, as the
// store writes, takes far less than. InnoDB refreshes what the table shows at most
// every 0.1 seconds, so the listener reads it trxListAge after registering: a
// transaction that had begun a moment before might be missing from an older list.
func awaitEarlierWriters(ctx context.Context, conn *sql.Conn) error {
	var registered time.Time // the server's clock, in the connection's zone, to the second as INNODB_TRX
	if err := conn.QueryRowContext(ctx, "SELECT NOW()").Scan(&registered); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(trxListAge):
	}
	wait, cancel := context.WithTimeout(ctx, writersTimeout)
	defer cancel()
	for pause := time.Millisecond; ; pause = min(2*pause, 100*time.Millisecond) {
		var open sql.NullString // the open transactions, described
		err := conn.QueryRowContext(wait, `SELECT GROUP_CONCAT(CONCAT('connection ', p.ID, ' (', p.USER, '@', p.HOST,
			', started ', t.trx_started, ')') SEPARATOR ', ')
			FROM information_schema.INNODB_TRX t JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
			WHERE t.trx_started <= ? AND t.trx_rows_modified > 0 AND p.ID <> CONNECTION_ID()
			AND (p.DB = DATABASE() OR p.DB IS NULL)`, registered).Scan(&open)
		switch {
		case err != nil && wait.Err() != nil && ctx.Err() == nil:
			return fmt.Errorf("a transaction that wrote before the listener registered is still open after %v", writersTimeout)
		case err != nil && conn.PingContext(wait) == nil: // no PROCESS privilege
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(earlierWritersGrace):
				return nil
			}
		case err != nil:
			return err
		case !open.Valid:
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wait.Done():
			return fmt.Errorf("transactions that wrote before the listener registered are still open after %v: %s", writersTimeout, open.String)
		case <-time.After(pause):
		}
	}
}
