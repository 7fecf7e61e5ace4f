package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/echosess/echosess/internal/engine"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// defaultPollInterval is how often a PostgreSQL store's listener reads the changes
// recorded since its last read, unless WithPollInterval says otherwise: the delay
// after which every instance sees a change is at most this plus one round trip.
const defaultPollInterval = 10 * time.Millisecond

// How the listener finds out that its connection or its registration is gone: a
// read or heartbeat that takes longer than pollTimeout counts as a lost connection
// (at 1 s, a read on a server held to one saturated core timed out once in a
// 5-minute run, emptying the cache for nothing), and it renews its row in
// echosess_listeners every heartbeatEvery. A row not renewed for listenerExpiry,
// the 30 seconds of migration 00006's trigger, is that of an instance that is gone:
// the other listeners delete it. A listener that finds its own row so old, or
// gone, reports the loss.
//
// With each registration and heartbeat, the listener also sets the sequence
// echosess_listened_until, which writers read outside their snapshot (migration
// 00007), to listenedFor past the clock: the trigger records changes until then.
// That is listenerExpiry, for which the listener's row counts, and as much again:
// the listeners set it without a lock, so one may write over another's value with
// one it computed a moment earlier. Writers keep recording for up to listenedFor
// after the last listener's last heartbeat.
const (
	pollTimeout    = 3 * time.Second
	heartbeatEvery = time.Second
	listenerExpiry = 30 * time.Second
	listenedFor    = 2 * listenerExpiry
)

// maxChangesPerRead bounds the changes the listener takes in one read; past it (a
// bulk UPDATE or DELETE by hand), it empties the cache instead of evicting one by one.
const maxChangesPerRead = 10000

// pgListener is the source of a PostgreSQL store's changeHub: one connection of
// its own, outside the pool, that reads what the trigger of migration 00006 records
// in echosess_changes.
type pgListener struct {
	pool     *pgxpool.Pool
	every    time.Duration // between reads
	maxBatch int           // maxChangesPerRead, or fewer in tests
}

// run listens, and reconnects with backoff when the connection is lost, until
// stop is closed.
func (l pgListener) run(h *engine.ChangeHub, stop <-chan struct{}) {
	engine.RunListener(h, stop, engine.DialectPostgres, func(ctx context.Context) error { return l.listen(ctx, h, stop) })
}

// listen connects, registers, reports Watching, and then reads and reports the
// recorded changes every l.every, until the connection fails or ctx ends.
func (l pgListener) listen(ctx context.Context, h *engine.ChangeHub, stop <-chan struct{}) error {
	conn, err := pgx.ConnectConfig(ctx, l.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var triggered bool
	err = conn.QueryRow(ctx, `SELECT EXISTS (
		SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
		WHERE c.relname = 'echosess_sessions' AND c.relnamespace = current_schema()::regnamespace
		AND t.tgname = 'echosess_sessions_changes')`).Scan(&triggered)
	if err != nil {
		return err
	}
	if !triggered {
		return errors.New("the sessions table has no change trigger (migration 00006): run Migrate")
	}
	var id [16]byte
	rand.Read(id[:])
	r := changeReader{conn: conn, id: hex.EncodeToString(id[:]), maxBatch: l.maxBatch}
	if err := r.register(ctx); err != nil {
		return err
	}
	defer r.unregister(ctx)
	if err := awaitEarlierWriters(ctx, conn); err != nil {
		return err
	}
	if err := r.start(ctx); err != nil {
		return err
	}
	h.ReportWatching(stop)
	tick := time.NewTicker(l.every)
	defer tick.Stop()
	lastBeat := time.Now()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		changes, wholesale, err := r.read(ctx)
		switch {
		case err != nil:
			return err
		case wholesale:
			h.ReportLost(stop, errors.New("postgres: the sessions table changed wholesale"))
			h.ReportWatching(stop)
		}
		for _, c := range changes {
			h.ReportChanged(stop, c.key, c.version)
		}
		if time.Since(lastBeat) >= heartbeatEvery {
			if err := r.heartbeat(ctx); err != nil {
				return err
			}
			lastBeat = time.Now()
		}
	}
}

// errLostRegistration is why a listener whose row in echosess_listeners is gone or
// expired starts over.
var errLostRegistration = fmt.Errorf("the listener's row in echosess_listeners was deleted or not renewed for %v, so changes may have gone unread", listenerExpiry)

// change is one row of echosess_changes.
type change struct {
	key     string
	version int64
}

// changeReader reads echosess_changes on one connection, registered under id in
// echosess_listeners. Each read takes exactly the changes of the transactions that
// have ended since the snapshot of the one before: those that the previous snapshot
// saw as running, which are its list of running IDs and every ID from its xmax on.
// So a transaction that commits late, after others that began after it, is read
// all the same, and none is read twice.
type changeReader struct {
	conn     *pgx.Conn
	id       string
	maxBatch int
	snapshot string // of the last read, as pg_snapshot's text
}

// register records r in echosess_listeners, and sets echosess_listened_until,
// which makes the trigger of migration 00007 record the changes: without a
// listener, writers skip that. It also removes the rows of listeners that have not
// renewed theirs for listenerExpiry.
func (r *changeReader) register(ctx context.Context) error {
	_, err := r.conn.Exec(ctx, `WITH gone AS (
		DELETE FROM echosess_listeners WHERE seen_at < now() - make_interval(secs => $2))
	INSERT INTO echosess_listeners (id, horizon) VALUES ($1, pg_snapshot_xmin(pg_current_snapshot()))
	RETURNING setval('echosess_listened_until', ceil(extract(epoch FROM clock_timestamp()) + $3)::bigint)`,
		r.id, listenerExpiry.Seconds(), listenedFor.Seconds())
	if err != nil {
		return fmt.Errorf("register the listener (migration 00007: run Migrate): %w", err)
	}
	return nil
}

// unregister removes r's row from echosess_listeners, if the connection still works.
func (r *changeReader) unregister(ctx context.Context) {
	if r.conn.IsClosed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pollTimeout)
	defer cancel()
	_, _ = r.conn.Exec(ctx, `DELETE FROM echosess_listeners WHERE id = $1`, r.id)
}

// start takes the snapshot from which the reads begin.
func (r *changeReader) start(ctx context.Context) error {
	return r.conn.QueryRow(ctx, "SELECT pg_current_snapshot()::text").Scan(&r.snapshot)
}

// read returns the changes recorded since the last read, or reports wholesale,
// with no changes, when there were more than r.maxBatch or the table was
// truncated: too many to evict one by one. It fails when r's row is gone
// from echosess_listeners, or expired: from then on writers may have recorded
// nothing, and other listeners may have deleted changes that r has not read.
func (r *changeReader) read(ctx context.Context) (changes []change, wholesale bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, pollTimeout)
	defer cancel()
	var snapshot string
	var registered bool
	var keys []string
	var versions []int64
	err = r.conn.QueryRow(ctx, `SELECT pg_current_snapshot()::text,
		EXISTS (SELECT 1 FROM echosess_listeners WHERE id = $2 AND seen_at >= now() - make_interval(secs => $4)),
		coalesce(array_agg(c.key), '{}'), coalesce(array_agg(c.version), '{}')
	FROM (SELECT key, version FROM echosess_changes
		WHERE xid >= pg_snapshot_xmax($1::text::pg_snapshot)
		OR xid = ANY (ARRAY(SELECT pg_snapshot_xip($1::text::pg_snapshot)))
		LIMIT $3) c`, r.snapshot, r.id, r.maxBatch+1, listenerExpiry.Seconds()).Scan(&snapshot, &registered, &keys, &versions)
	switch {
	case err != nil:
		return nil, false, fmt.Errorf("reading the changes: %w", err)
	case !registered:
		return nil, false, errLostRegistration
	}
	r.snapshot = snapshot
	if len(keys) > r.maxBatch {
		return nil, true, nil
	}
	changes = make([]change, len(keys))
	for i, key := range keys {
		if key == "*" {
			return nil, true, nil
		}
		changes[i] = change{key, versions[i]}
	}
	return changes, false, nil
}

// heartbeat renews r's row with the horizon below which r has read every change,
// and echosess_listened_until, removes the rows of listeners gone silent, and
// deletes the changes that every listener left has read, but for those that
// another is deleting: two listeners that delete the same rows at once would
// otherwise wait for each other. It fails when r's row is gone or expired, as read
// does.
func (r *changeReader) heartbeat(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pollTimeout)
	defer cancel()
	var registered bool
	err := r.conn.QueryRow(ctx, `WITH me AS (
		UPDATE echosess_listeners SET horizon = pg_snapshot_xmin($2::text::pg_snapshot), seen_at = now()
		WHERE id = $1 AND seen_at >= now() - make_interval(secs => $3)
		RETURNING setval('echosess_listened_until', ceil(extract(epoch FROM clock_timestamp()) + $4)::bigint)
	), gone AS (
		DELETE FROM echosess_listeners WHERE seen_at < now() - make_interval(secs => $3) AND id <> $1
	), read AS (
		DELETE FROM echosess_changes WHERE ctid = ANY (ARRAY(
			SELECT ctid FROM echosess_changes WHERE xid < (SELECT min(horizon) FROM echosess_listeners
				WHERE seen_at >= now() - make_interval(secs => $3) OR id = $1)
			FOR UPDATE SKIP LOCKED))
	)
	SELECT EXISTS (SELECT 1 FROM me)`, r.id, r.snapshot, listenerExpiry.Seconds(), listenedFor.Seconds()).Scan(&registered)
	switch {
	case err != nil:
		return fmt.Errorf("renewing the listener's registration: %w", err)
	case !registered:
		return errLostRegistration
	}
	return nil
}

// writersTimeout bounds how long a connecting listener waits for the transactions
// that began before it to end (see awaitEarlierWriters).
const writersTimeout = 10 * time.Second

// awaitEarlierWriters waits until every transaction that had begun writing when
// conn's registration committed has ended. Such a transaction may have changed a
// session without recording it, having found no listener; once it has ended, the
// cache, which starts empty at Watching, reads its change from the store. A
// transaction that writes later finds echosess_listened_until set, whatever its
// snapshot, and records its change: its trigger runs after it has changed a row,
// when it has a transaction ID, which is then at least the horizon taken here. So
// only writers are waited for: a transaction that has only read, such as a
// pg_dump, holds no transaction ID.
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
