package redisstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/echosess/echosess/redisstore"
	"github.com/echosess/echosess/sessionstore"
)

// TestReplicaAcks: with WithReplicaAcks a write succeeds once as many replicas as
// asked have it, and otherwise fails with ErrNotReplicated, having taken place on the
// master.
func TestReplicaAcks(t *testing.T) {
	ctx := t.Context()
	rec := func(key string) sessionstore.Record {
		return sessionstore.Record{Key: key, Expiry: time.Now().Add(time.Hour)}
	}
	t.Run("enough replicas", func(t *testing.T) { // the Cluster: a replica for each master
		client := newClient(t, clusterAddrs, rueidis.ClientOption{})
		store := redisstore.New(client, redisstore.WithPrefix(newPrefix(t, client)), redisstore.WithReplicaAcks(1, 5*time.Second))
		r := rec("k")
		r.UserID = "ada" // on a Cluster, the user's index is a write of its own
		if err := store.Save(ctx, r); err != nil {
			t.Fatalf("Save: %v", err)
		}
		r.Version = 1
		if err := store.Touch(ctx, r); err != nil {
			t.Fatalf("Touch: %v", err)
		}
		if err := store.Save(ctx, r); !errors.Is(err, sessionstore.ErrConflict) {
			t.Fatalf("Save at an old version = %v, want ErrConflict", err)
		}
		if recs, err := store.UserSessions(ctx, "ada"); err != nil || len(recs) != 1 || recs[0].Version != 2 {
			t.Fatalf("UserSessions = %+v, %v; want the record at version 2", recs, err)
		}
		if err := store.Delete(ctx, "k"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := store.Load(ctx, "k"); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Fatalf("Load after Delete = %v, want ErrNotFound", err)
		}
	})
	for _, tt := range []struct {
		name  string
		addrs []string
		acks  int
	}{
		{"no replica", singleAddrs, 1},        // the single node has none
		{"too few replicas", clusterAddrs, 2}, // each master of the Cluster has one
	} {
		t.Run(tt.name, func(t *testing.T) {
			client := newClient(t, tt.addrs, rueidis.ClientOption{})
			store := redisstore.New(client, redisstore.WithPrefix(newPrefix(t, client)),
				redisstore.WithReplicaAcks(tt.acks, 20*time.Millisecond))
			err := store.Save(ctx, rec("k"))
			if !errors.Is(err, redisstore.ErrNotReplicated) {
				t.Fatalf("Save = %v, want ErrNotReplicated", err)
			}
			t.Log(err)
			if got, err := store.Load(ctx, "k"); err != nil || got.Version != 1 {
				t.Fatalf("Load = version %d, %v; want 1, the master ran the Save", got.Version, err)
			}
			if err := store.Delete(ctx, "k"); !errors.Is(err, redisstore.ErrNotReplicated) {
				t.Fatalf("Delete = %v, want ErrNotReplicated", err)
			}
			if _, err := store.Load(ctx, "k"); !errors.Is(err, sessionstore.ErrNotFound) {
				t.Fatalf("Load after Delete = %v, want ErrNotFound", err)
			}
		})
	}
	for _, bad := range []struct {
		n       int
		timeout time.Duration
	}{{-1, time.Second}, {1, 0}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("WithReplicaAcks(%d, %v) did not panic", bad.n, bad.timeout)
				}
			}()
			redisstore.WithReplicaAcks(bad.n, bad.timeout)
		}()
	}
}

// ackWriter saves one record with its store again and again, each Save at the
// version the last one made, until a Save fails.
type ackWriter struct {
	store *redisstore.Store
	key   string
	acked atomic.Int64  // the version of the last Save that succeeded
	err   error         // the error that stopped it
	warm  chan struct{} // closed after 20 Saves succeeded
	// cutAcked is closed once 2 Saves sent after the replication cut succeeded.
	cutAcked chan struct{}
	done     chan struct{} // closed when it stops
}

// ackWriters are the writers of a test on one master: six of each store.
type ackWriters struct {
	cut          atomic.Bool // set once the master sends its writes to no replica
	plain, acked []*ackWriter
}

// startWriters starts writers on records of master, for each of the two stores, and
// waits until each has saved a few times.
func startWriters(t *testing.T, cluster *testCluster, master string, plain, acked *redisstore.Store) *ackWriters {
	t.Helper()
	ws := &ackWriters{}
	for i := 0; len(ws.plain) < 6 || len(ws.acked) < 6; i++ {
		key := master + "-" + strconv.Itoa(i)
		if len(ws.plain) < 6 && cluster.masterOf("plain:s:"+key) == master {
			ws.plain = append(ws.plain, ws.start(plain, key))
		}
		if len(ws.acked) < 6 && cluster.masterOf("acked:s:"+key) == master {
			ws.acked = append(ws.acked, ws.start(acked, key))
		}
	}
	for _, w := range ws.all() {
		select {
		case <-w.warm:
		case <-w.done:
			t.Fatalf("a Save before the crash: %v", w.err)
		case <-time.After(10 * time.Second): // a guard against a hang, never reached
			t.Fatal("the writers did not get going")
		}
	}
	return ws
}

func (ws *ackWriters) all() []*ackWriter { return append(slices.Clip(ws.plain), ws.acked...) }

func (ws *ackWriters) start(store *redisstore.Store, key string) *ackWriter {
	w := &ackWriter{store: store, key: key, warm: make(chan struct{}), cutAcked: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		rec := sessionstore.Record{Key: key, Expiry: time.Now().Add(time.Hour)}
		afterCut := 0
		for {
			cut := ws.cut.Load()
			rec.Data = map[string]json.RawMessage{"n": json.RawMessage(strconv.FormatInt(rec.Version, 10))}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			w.err = w.store.Save(ctx, rec)
			cancel()
			if w.err != nil {
				return
			}
			rec.Version++
			w.acked.Store(rec.Version)
			if rec.Version == 20 {
				close(w.warm)
			}
			if cut {
				if afterCut++; afterCut == 2 {
					close(w.cutAcked)
				}
			}
		}
	}()
	return w
}

// wait waits until each of writers has stopped.
func wait(t *testing.T, writers []*ackWriter) {
	t.Helper()
	for _, w := range writers {
		select {
		case <-w.done:
		case <-time.After(10 * time.Second): // a guard against a hang, never reached
			t.Fatalf("a writer saved on for 10 s: last %v", w.err)
		}
	}
}

// lost returns the writers whose acknowledged version their store no longer has,
// reading each once the client finds the new master.
func lost(cluster *testCluster, writers []*ackWriter) (lost []string) {
	for _, w := range writers {
		var rec sessionstore.Record
		var err error
		cluster.waitFor(10*time.Second, "a Load on the new master", func() bool {
			rec, err = w.store.Load(context.Background(), w.key)
			return err == nil || errors.Is(err, sessionstore.ErrNotFound)
		})
		if rec.Version < w.acked.Load() {
			lost = append(lost, fmt.Sprintf("%s at version %d, not %d", w.key, rec.Version, w.acked.Load()))
		}
	}
	return lost
}

// TestReplicaAcksFailover: Saves go on without pause to records on one master of a
// Cluster, through a store without WithReplicaAcks and one with it, when the master
// crashes. After its replica takes over, the store with the option has every
// version it acknowledged. The test logs what the store without it lost; to make a
// loss certain rather than a matter of timing, its second case cuts the master's
// link to its replica before the crash.
func TestReplicaAcksFailover(t *testing.T) {
	t.Parallel()
	cluster := startCluster(t, 7110, "--cluster-require-full-coverage", "no")
	client := cluster.client(rueidis.ClientOption{})
	plain := redisstore.New(client, redisstore.WithPrefix("plain:"))
	acked := redisstore.New(client, redisstore.WithPrefix("acked:"), redisstore.WithReplicaAcks(1, time.Second))
	replicaOf := cluster.masters()
	masters := slices.Sorted(maps.Keys(replicaOf))

	// The new Cluster has no script cached: the first Save with the option runs
	// the script by its SHA1, which fails, and then by its source.
	fresh := masters[2]
	key := strings.TrimPrefix(cluster.keyOf(fresh, "acked:s:"), "acked:s:")
	if err := acked.Save(t.Context(), sessionstore.Record{Key: key, Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("the first Save: %v", err)
	}
	if stats := cluster.info(fresh, "commandstats", ""); !strings.Contains(stats, "cmdstat_eval:calls=1,") {
		t.Fatalf("the first Save ran no EVAL:\n%s", stats)
	}

	t.Run("crash", func(t *testing.T) {
		master, replica := masters[0], replicaOf[masters[0]]
		ws := startWriters(t, cluster, master, plain, acked)
		cluster.kill(master)
		wait(t, ws.all())
		cluster.waitTakeover(replica)
		if lost := lost(cluster, ws.acked); len(lost) > 0 {
			t.Errorf("with WithReplicaAcks, the crash lost acknowledged writes: %v", lost)
		}
		lost := lost(cluster, ws.plain)
		t.Logf("without WithReplicaAcks, the crash lost %d of %d acknowledged writes %v", len(lost), len(ws.plain), lost)
	})

	t.Run("replication cut", func(t *testing.T) {
		master, replica := masters[1], replicaOf[masters[1]]
		ws := startWriters(t, cluster, master, plain, acked)
		// The replica pauses and the master drops its link: what the master runs
		// from now on reaches no replica, until the master crashes.
		cluster.pause(replica)
		if n, err := cluster.do(master, "CLIENT", "KILL", "TYPE", "replica").AsInt64(); err != nil || n != 1 {
			t.Fatalf("CLIENT KILL TYPE replica = %d, %v", n, err)
		}
		ws.cut.Store(true)
		for _, w := range ws.plain {
			select {
			case <-w.cutAcked:
			case <-w.done:
				t.Fatalf("a Save of the store without WithReplicaAcks after the cut: %v", w.err)
			case <-time.After(10 * time.Second): // a guard against a hang, never reached
				t.Fatal("no Saves after the cut")
			}
		}
		wait(t, ws.acked)
		for _, w := range ws.acked {
			if !errors.Is(w.err, redisstore.ErrNotReplicated) {
				t.Fatalf("a Save of the store with WithReplicaAcks after the cut = %v, want ErrNotReplicated", w.err)
			}
		}
		cluster.kill(master)
		wait(t, ws.all())
		cluster.resume(replica)
		cluster.waitTakeover(replica)
		if lost := lost(cluster, ws.acked); len(lost) > 0 {
			t.Errorf("with WithReplicaAcks, the crash lost acknowledged writes: %v", lost)
		}
		// Each writer of the store without the option had Saves acknowledged after
		// the cut, which only the dead master had.
		if lost := lost(cluster, ws.plain); len(lost) != len(ws.plain) {
			t.Errorf("without WithReplicaAcks, the crash lost %d of %d acknowledged writes, want all: %v", len(lost), len(ws.plain), lost)
		} else {
			t.Logf("without WithReplicaAcks, the crash lost %d of %d acknowledged writes %v", len(lost), len(ws.plain), lost)
		}
	})
}

// BenchmarkSave: a Save on the Cluster, without and with WithReplicaAcks(1, ...), one
// at a time.
func BenchmarkSave(b *testing.B) {
	client := newClient(b, clusterAddrs, rueidis.ClientOption{})
	for _, bm := range []struct {
		name string
		opts []redisstore.Option
	}{
		{"cluster", nil},
		{"cluster-acks", []redisstore.Option{redisstore.WithReplicaAcks(1, 5*time.Second)}},
	} {
		b.Run(bm.name, func(b *testing.B) {
			store := redisstore.New(client, append(bm.opts, redisstore.WithPrefix(newPrefix(b, client)))...)
			rec := sessionstore.Record{Key: "k", Expiry: time.Now().Add(time.Hour),
				Data: map[string]json.RawMessage{"user": json.RawMessage(`"ada"`)}}
			for b.Loop() {
				if err := store.Save(b.Context(), rec); err != nil {
					b.Fatal(err)
				}
				rec.Version++
			}
		})
	}
}
