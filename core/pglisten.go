package core

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// changeChannel is the channel on which the trigger of migration 00003 notifies
// the changes to the sessions table. A payload is "<schema> <key> <version>", with
// "*" for key and 0 for version after a TRUNCATE.
const changeChannel = "echosess_sessions"

// How the listener of a PostgreSQL store finds out that its connection is gone
// when the network drops packets rather than the connection: it pings the server
// after listenCheck without a notification, and gives the ping pingTimeout. So a
// silent loss goes unnoticed for at most about 3 seconds, which the cache's age
// (WithMaxAge) bounds as well.
const (
	listenCheck = 2 * time.Second
	pingTimeout = time.Second
)

// The backoff of the listener's reconnection: it doubles from the first delay up
// to the last.
const (
	reconnectFirst = 100 * time.Millisecond
	reconnectMax   = 5 * time.Second
)

// pgListener is the source of a PostgreSQL store's changeHub: one connection of
// its own, outside the pool, that LISTENs on changeChannel.
type pgListener struct {
	pool         *pgxpool.Pool
	probeChannel string // where probe sends; "" for changeChannel (tests change it)
}

// run listens, and reconnects with backoff when the connection is lost, until
// stop is closed.
func (l pgListener) run(h *changeHub, stop <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-stop
		cancel()
	}()
	delay := reconnectFirst
	for {
		start := time.Now()
		err := l.listen(ctx, h, stop)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > reconnectMax {
			delay = reconnectFirst // it was up for a while: this is a new outage
		}
		h.reportLost(stop, fmt.Errorf("postgres: listening for session changes: %w; reconnecting in %v", err, delay))
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, reconnectMax)
	}
}

// listen connects, LISTENs, reports Watching, and reports each notification until
// the connection fails or ctx ends.
func (l pgListener) listen(ctx context.Context, h *changeHub, stop <-chan struct{}) error {
	conn, err := pgx.ConnectConfig(ctx, l.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var schema string
	var triggered bool
	err = conn.QueryRow(ctx, `SELECT current_schema(), EXISTS (
		SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
		WHERE c.relname = 'echosess_sessions' AND c.relnamespace = current_schema()::regnamespace
		AND t.tgname = 'echosess_sessions_notify')`).Scan(&schema, &triggered)
	if err != nil {
		return err
	}
	if !triggered {
		return errors.New("the sessions table has no change trigger (migration 00003): run Migrate")
	}
	if err := register(ctx, conn); err != nil {
		return err
	}
	defer unregister(ctx, conn)
	if _, err := conn.Exec(ctx, "LISTEN "+changeChannel); err != nil {
		return err
	}
	if err := l.probe(ctx, conn, schema); err != nil {
		return err
	}
	if err := awaitEarlierWriters(ctx, conn); err != nil {
		return err
	}
	h.reportWatching(stop)
	for {
		wait, cancel := context.WithTimeout(ctx, listenCheck)
		n, err := conn.WaitForNotification(wait)
		quiet := wait.Err() != nil
		cancel()
		switch {
		case err == nil:
			key, version, ok := parseChange(n.Payload, schema)
			switch {
			case !ok:
			case key == "*": // a TRUNCATE removed every record
				h.reportLost(stop, errors.New("postgres: the sessions table was truncated"))
				h.reportWatching(stop)
			default:
				h.reportChanged(stop, key, version)
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case quiet && !conn.IsClosed():
			// No notification for a while: make sure the connection is still there,
			// and still registered.
			ping, cancel := context.WithTimeout(ctx, pingTimeout)
			var missing bool
			err = conn.QueryRow(ping, `WITH added AS (INSERT INTO echosess_listeners (pid) VALUES (pg_backend_pid())
				ON CONFLICT (pid) DO NOTHING RETURNING pid) SELECT EXISTS (SELECT 1 FROM added)`).Scan(&missing)
			cancel()
			switch {
			case err != nil:
				return fmt.Errorf("no answer to a ping: %w", err)
			case missing:
				return errors.New("the listener's row in echosess_listeners was deleted, so changes may have gone unreported")
			}
		default:
			return err
		}
	}
}

// register records conn in echosess_listeners, whose rows make the trigger of
// migration 00005 notify the changes: without any, writers skip the notification,
// whose commits PostgreSQL serializes. It also removes the rows of listeners that
// are gone without removing their own (a crash).
func register(ctx context.Context, conn *pgx.Conn) error {
	_, err := conn.Exec(ctx, `DELETE FROM echosess_listeners WHERE pid NOT IN (SELECT pid FROM pg_stat_activity)`)
	if err == nil {
		_, err = conn.Exec(ctx, `INSERT INTO echosess_listeners (pid) VALUES (pg_backend_pid())
			ON CONFLICT (pid) DO UPDATE SET started_at = now()`)
	}
	if err != nil {
		return fmt.Errorf("register the listener (migration 00005: run Migrate): %w", err)
	}
	return nil
}

// unregister removes conn's row from echosess_listeners, if conn still works.
func unregister(ctx context.Context, conn *pgx.Conn) {
	if conn.IsClosed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pingTimeout)
	defer cancel()
	_, _ = conn.Exec(ctx, `DELETE FROM echosess_listeners WHERE pid = pg_backend_pid()`)
}

// writersTimeout bounds how long a connecting listener waits for the transactions
// that began before it to end (see awaitEarlierWriters).
const writersTimeout = 10 * time.Second

// awaitEarlierWriters waits until every transaction that had begun writing when
// conn's registration committed has ended. Such a transaction may have changed a
// session without a notification, having found echosess_listeners empty; once it
// has ended, the cache, which starts empty at Watching, reads its change from the
// store. A transaction that writes later finds the row and notifies: its trigger
// runs after it has changed a row, when it has a transaction ID, which is then at
// least the horizon taken here.
func awaitEarlierWriters(ctx context.Context, conn *pgx.Conn) error {
	var horizon string
	if err := conn.QueryRow(ctx, "SELECT pg_snapshot_xmax(pg_current_snapshot())::text").Scan(&horizon); err != nil {
		return err
	}
	wait, cancel := context.WithTimeout(ctx, writersTimeout)
	defer cancel()
	for pause := time.Millisecond; ; pause = min(2*pause, 100*time.Millisecond) {
		var done bool
		err := conn.QueryRow(wait, "SELECT pg_snapshot_xmin(pg_current_snapshot()) >= $1::text::xid8", horizon).Scan(&done)
		switch {
		case err != nil && wait.Err() != nil && ctx.Err() == nil:
			return fmt.Errorf("a transaction that began before the listener registered is still open after %v", writersTimeout)
		case err != nil:
			return err
		case done:
			return nil
		}
		select {
		case <-wait.Done():
		case <-time.After(pause):
		}
	}
}

// probeTimeout is how long the listener waits for its probe (see probe).
const probeTimeout = 5 * time.Second

// probe sends a notification from a connection of the pool and waits until conn
// hears it: LISTEN can succeed on a connection that never hears anything, as
// through PgBouncer in transaction pooling mode, whose server connections change
// hands between transactions. The probe's version, -1, is no change to anyone.
func (l pgListener) probe(ctx context.Context, conn *pgx.Conn, schema string) error {
	var token [16]byte
	rand.Read(token[:])
	payload := schema + " probe-" + hex.EncodeToString(token[:]) + " -1"
	channel := cmp.Or(l.probeChannel, changeChannel)
	if _, err := l.pool.Exec(ctx, "SELECT pg_notify($1, $2)", channel, payload); err != nil {
		return fmt.Errorf("send a probe notification: %w", err)
	}
	wait, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	for {
		n, err := conn.WaitForNotification(wait)
		switch {
		case err == nil && n.Payload == payload:
			return nil
		case err == nil: // a change from before Watching, which the cache's emptying covers
		case wait.Err() != nil && ctx.Err() == nil:
			return fmt.Errorf("the listening connection did not hear a notification sent through the pool within %v: "+
				"LISTEN does not work through this connection (PgBouncer in transaction pooling mode?); "+
				"give the store a pool that reaches PostgreSQL directly, or in session pooling mode", probeTimeout)
		default:
			return err
		}
	}
}

// parseChange parses the payload of a notification of changeChannel, and reports
// whether it is about the table in schema.
func parseChange(payload, schema string) (key string, version int64, ok bool) {
	rest, v, found := cutLast(payload)
	if !found {
		return "", 0, false
	}
	s, key, found := cutLast(rest)
	if !found || s != schema {
		return "", 0, false
	}
	version, err := strconv.ParseInt(v, 10, 64)
	return key, version, err == nil && version >= 0 // -1: another instance's probe
}

// cutLast cuts s around its last space.
func cutLast(s string) (before, after string, found bool) {
	i := strings.LastIndexByte(s, ' ')
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}
