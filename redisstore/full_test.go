package redisstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/redisstore"
	"github.com/echosess/echosess/sessionstore"
)

// Redis at maxmemory: under noeviction it refuses writes, which the store reports as
// ErrStoreFull; under an LRU policy it evicts live sessions without a word.

// startLimited starts a redis-server of the test's own with the given maxmemory
// policy, a single node or a Cluster of one node, and returns a client of it and a
// function that sets its maxmemory to what it uses now plus headroom (which may be
// negative). Call that once
// the client has saved a session: an empty server's use differs between versions
// and modes, and the client's connection and the store's scripts take some.
func startLimited(t *testing.T, policy string, cluster bool) (rueidis.Client, func(headroom int64)) {
	t.Helper()
	args := []string{"--maxmemory-policy", policy}
	if cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	}
	addr := startRedis(t, args...)
	admin := newClient(t, []string{addr}, rueidis.ClientOption{ForceSingleClient: true, DisableCache: true})
	do := func(cmd rueidis.Completed) string {
		t.Helper()
		s, err := admin.Do(context.Background(), cmd).ToString()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if cluster {
		do(admin.B().ClusterAddslotsrange().StartSlotEndSlot().StartSlotEndSlot(0, 16383).Build())
		waitUntil(t, "the Cluster is up", func() bool {
			return strings.Contains(do(admin.B().ClusterInfo().Build()), "cluster_state:ok")
		})
	}
	client := newClient(t, []string{addr}, rueidis.ClientOption{})
	if want := map[bool]rueidis.ClientMode{false: rueidis.ClientModeStandalone, true: rueidis.ClientModeCluster}[cluster]; client.Mode() != want {
		t.Fatalf("the client of %s is a %s, want a %s", addr, client.Mode(), want)
	}
	return client, func(headroom int64) {
		t.Helper()
		used := infoField(t, do(admin.B().Info().Section("memory").Build()), "used_memory")
		do(admin.B().ConfigSet().ParameterValue().ParameterValue("maxmemory", strconv.FormatInt(used+headroom, 10)).Build())
	}
}

// infoField returns the integer field name of an INFO reply.
func infoField(t *testing.T, info, name string) int64 {
	t.Helper()
	for line := range strings.SplitSeq(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("INFO %s: %v", name, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in INFO", name)
	return 0
}

// fill saves sessions of 8 KiB, bound to a user, until a Save fails or limit are
// saved, and returns the keys it saved and the error.
func fill(ctx context.Context, store *redisstore.Store, limit int) ([]string, error) {
	pad := json.RawMessage(`"` + strings.Repeat("x", 8<<10) + `"`)
	var keys []string
	for i := range limit {
		rec := sessionstore.Record{Key: fmt.Sprint("fill-", i), UserID: "filler", Expiry: time.Now().Add(time.Hour),
			Data: map[string]json.RawMessage{"pad": pad}}
		if err := store.Save(ctx, rec); err != nil {
			return keys, err
		}
		keys = append(keys, rec.Key)
	}
	return keys, nil
}

// TestStoreFull: with maxmemory and the noeviction policy, a Save or Touch that
// Redis refuses returns an error that wraps ErrStoreFull and keeps Redis's message,
// and writes nothing; the sessions saved before read as they were, and still end.
// Reads are served while Redis is full, though rueidis fills its client-side cache
// in a transaction, which Redis refuses then. Through the middleware, a write to a
// session answers 500 and leaves the session as it was.
func TestStoreFull(t *testing.T) {
	for _, cluster := range []bool{false, true} {
		name := "single"
		if cluster {
			name = "cluster"
		}
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			client, limit := startLimited(t, "noeviction", cluster)
			store := redisstore.New(client)
			a := newApp(t, echosess.Config{Store: store})
			status, body, cookie := a.call(t, http.MethodPost, "/set?k=a&v=1", "")
			if status != http.StatusOK || cookie == "" {
				t.Fatalf("new session: %d %q, cookie %q", status, body, cookie)
			}
			limit(256 << 10)

			keys, err := fill(ctx, store, 1000)
			if !errors.Is(err, sessionstore.ErrStoreFull) || !strings.Contains(err.Error(), "OOM command not allowed") {
				t.Fatalf("filling the store: %d sessions saved, then %v; want ErrStoreFull with Redis's OOM message", len(keys), err)
			}
			if len(keys) == 0 {
				t.Fatal("no session fit in the store")
			}
			t.Logf("%d sessions of 8 KiB saved, then: %v", len(keys), err)
			// Redis is just over its limit, and could fall under it as it shrinks a
			// client's buffers: hold it over, for the writes below to be refused.
			limit(-64 << 10)
			if _, err := store.Load(ctx, fmt.Sprint("fill-", len(keys))); !errors.Is(err, sessionstore.ErrNotFound) {
				t.Fatalf("Load of the session whose Save was refused: %v, want ErrNotFound", err)
			}
			// The next Save is refused at its first write: on a Cluster, in the user
			// index's script, which runs first.
			err = store.Save(ctx, sessionstore.Record{Key: "over", UserID: "filler", Expiry: time.Now().Add(time.Hour)})
			if !errors.Is(err, sessionstore.ErrStoreFull) || cluster && !strings.Contains(err.Error(), "index: ") {
				t.Fatalf("a Save over the limit: %v; want ErrStoreFull, from the index's script on a Cluster", err)
			}
			last, err := store.Load(ctx, keys[len(keys)-1])
			if err != nil || last.Version != 1 || len(last.Data["pad"]) != 8<<10+2 {
				t.Fatalf("Load of the last session saved: version %d, %d bytes of data, %v", last.Version, len(last.Data["pad"]), err)
			}
			touched := last
			touched.Expiry = touched.Expiry.Add(time.Hour)
			if err := store.Touch(ctx, touched); !errors.Is(err, sessionstore.ErrStoreFull) {
				t.Fatalf("Touch on a full store: %v, want ErrStoreFull", err)
			}
			if got, err := store.Load(ctx, last.Key); err != nil || got.Version != 1 || !got.Expiry.Equal(last.Expiry) {
				t.Fatalf("Load after a refused Touch: version %d, expiry %v, %v; want it unchanged", got.Version, got.Expiry, err)
			}

			status, body, set := a.call(t, http.MethodPost, "/set?k=a&v=2", cookie)
			if err := a.lastErr(); status != http.StatusInternalServerError || set != "" || !errors.Is(err, echosess.ErrStoreFull) {
				t.Fatalf("a write to a session in a full store: %d %q, cookie %q, error %v; want 500 and ErrStoreFull", status, body, set, err)
			}
			if status, body, _ := a.call(t, http.MethodGet, "/get?k=a", cookie); status != http.StatusOK || body != "1" {
				t.Fatalf("a read of the session after its refused write: %d %q, want 1", status, body)
			}

			// Sessions still end: DEL is no write that Redis refuses when full.
			if err := store.Delete(ctx, keys[0]); err != nil {
				t.Fatalf("Delete on a full store: %v", err)
			}
			if _, err := store.Load(ctx, keys[0]); !errors.Is(err, sessionstore.ErrNotFound) {
				t.Fatalf("Load after Delete: %v, want ErrNotFound", err)
			}
		})
	}
}

// TestEvictionLosesSessions: under an LRU maxmemory policy Redis makes room by
// evicting keys, live sessions among them, and tells no one: a session whose Save
// succeeded later loads as ErrNotFound, and its user is signed out. This is why the
// documentation recommends noeviction, under which a Save fails with ErrStoreFull
// instead and no session is lost.
func TestEvictionLosesSessions(t *testing.T) {
	for _, policy := range []string{"allkeys-lru", "volatile-lru"} {
		t.Run(policy, func(t *testing.T) {
			ctx := t.Context()
			client, limit := startLimited(t, policy, false)
			store := redisstore.New(client)
			if err := store.Save(ctx, sessionstore.Record{Key: "first", Expiry: time.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			limit(256 << 10)
			keys, err := fill(ctx, store, 100) // 800 KiB into 256 KiB of room
			if err != nil {
				t.Fatalf("filling the store: %d sessions saved, then %v; want every Save to succeed", len(keys), err)
			}
			lost := 0
			for _, key := range keys {
				_, err := store.Load(ctx, key)
				if errors.Is(err, sessionstore.ErrNotFound) {
					lost++
				} else if err != nil {
					t.Fatalf("Load(%s): %v", key, err)
				}
			}
			info, err := client.Do(ctx, client.B().Info().Section("stats").Build()).ToString()
			if err != nil {
				t.Fatal(err)
			}
			evicted := infoField(t, info, "evicted_keys")
			if lost == 0 || evicted == 0 {
				t.Fatalf("%d of %d saved sessions are gone, %d keys evicted; want sessions evicted", lost, len(keys), evicted)
			}
			t.Logf("%s: %d of %d saved sessions are gone, with no error; %d keys evicted", policy, lost, len(keys), evicted)
		})
	}
}
