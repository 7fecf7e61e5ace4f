package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/echosess/echosess/redisstore"
	"github.com/echosess/echosess/sessionstore"
	"github.com/echosess/echosess/storetest"
)

// Where the tests find Redis, and how they connect to it (client_test.go).
var (
	singleAddrs  = redisstore.SingleAddrs
	clusterAddrs = redisstore.ClusterAddrs
	newClient    = redisstore.NewClient
)

var prefixes atomic.Int64

// newPrefix returns a key prefix that no other store of this run uses, and deletes
// its keys when the test ends.
func newPrefix(t testing.TB, client rueidis.Client) string {
	prefix := fmt.Sprintf("echosess-test-%d-%d:", time.Now().UnixNano(), prefixes.Add(1))
	t.Cleanup(func() {
		ctx := context.Background()
		for _, node := range client.Nodes() {
			var cursor uint64
			for {
				entry, err := node.Do(ctx, node.B().Scan().Cursor(cursor).Match(prefix+"*").Count(1000).Build()).AsScanEntry()
				if err != nil {
					break // a replica, or a node gone: its keys expire with their records
				}
				dels := make(rueidis.Commands, len(entry.Elements))
				for i, key := range entry.Elements {
					dels[i] = client.B().Del().Key(key).Build()
				}
				client.DoMulti(ctx, dels...)
				if cursor = entry.Cursor; cursor == 0 {
					break
				}
			}
		}
	})
	return prefix
}

func TestStore(t *testing.T) {
	for _, tt := range []struct {
		name  string
		addrs []string
		mode  rueidis.ClientMode
		opts  []redisstore.Option
	}{
		{"single", singleAddrs, rueidis.ClientModeStandalone, nil},
		{"cluster", clusterAddrs, rueidis.ClientModeCluster, nil},
		// Every write of the store goes with a WAIT on a connection of its own.
		{"cluster-acks", clusterAddrs, rueidis.ClientModeCluster, []redisstore.Option{redisstore.WithReplicaAcks(1, 5*time.Second)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			client := newClient(t, tt.addrs, rueidis.ClientOption{})
			if client.Mode() != tt.mode {
				t.Fatalf("the Redis at %v is a %s, want a %s", tt.addrs, client.Mode(), tt.mode)
			}
			newStore := func(t *testing.T) sessionstore.Store {
				return redisstore.New(client, append(tt.opts, redisstore.WithPrefix(newPrefix(t, client)))...)
			}
			storetest.Run(t, newStore)
		})
	}
}

// TestForeignValue: a value under a session key that is no record, or a record
// whose data is not JSON, gives an error wrapping ErrDecode, never a panic or a
// session; a Save does not overwrite it, and a listing leaves it out.
func TestForeignValue(t *testing.T) {
	client := newClient(t, singleAddrs, rueidis.ClientOption{})
	prefix := newPrefix(t, client)
	store := redisstore.New(client, redisstore.WithPrefix(prefix))
	ctx := t.Context()
	expiry := time.Now().Add(time.Hour)
	ms := fmt.Sprint(expiry.UnixMilli())
	set := func(cmd rueidis.Completed) {
		t.Helper()
		if err := client.Do(ctx, cmd).Error(); err != nil {
			t.Fatal(err)
		}
	}
	set(client.B().Set().Key(prefix + "s:string").Value("not a session").Build())
	set(client.B().Hset().Key(prefix+"s:baddata").FieldValue().FieldValue("v", "1").FieldValue("e", ms).
		FieldValue("dl", ms).FieldValue("c", ms).FieldValue("a", ms).FieldValue("u", "ada").FieldValue("d", "{not json").Build())
	set(client.B().Hset().Key(prefix+"s:badversion").FieldValue().FieldValue("v", "x").FieldValue("e", ms).Build())
	set(client.B().Zadd().Key(prefix+"u:ada").ScoreMember().ScoreMember(float64(expiry.UnixMilli()), "baddata").
		ScoreMember(float64(expiry.UnixMilli()), "string").Build())

	for _, key := range []string{"string", "baddata", "badversion"} {
		if _, err := store.Load(ctx, key); !errors.Is(err, sessionstore.ErrDecode) {
			t.Errorf("Load(%s) error = %v, want ErrDecode", key, err)
		}
	}
	for _, key := range []string{"string", "badversion"} {
		err := store.Save(ctx, sessionstore.Record{Key: key, Expiry: expiry})
		if !errors.Is(err, sessionstore.ErrDecode) {
			t.Errorf("Save(%s) error = %v, want ErrDecode", key, err)
		}
	}
	if got, err := client.Do(ctx, client.B().Get().Key(prefix+"s:string").Build()).ToString(); err != nil || got != "not a session" {
		t.Errorf("after a Save the foreign value is %q, %v", got, err)
	}
	if recs, err := store.UserSessions(ctx, "ada"); err != nil || len(recs) != 0 {
		t.Errorf("UserSessions = %+v, %v; want none: no value under the index is a record", recs, err)
	}
}

// TestWarmLoad: a Load of a cached record makes no round trip to Redis.
func TestWarmLoad(t *testing.T) {
	client := newClient(t, singleAddrs, rueidis.ClientOption{})
	admin := newClient(t, singleAddrs, rueidis.ClientOption{DisableCache: true})
	store := redisstore.New(client, redisstore.WithPrefix(newPrefix(t, client)))
	ctx := t.Context()
	if err := store.Save(ctx, sessionstore.Record{Key: "k", Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Load(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	hmgets := func() string {
		info, err := admin.Do(ctx, admin.B().Info().Section("commandstats").Build()).ToString()
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(info, "\r\n") {
			if strings.HasPrefix(line, "cmdstat_hmget:") {
				calls, _, _ := strings.Cut(strings.TrimPrefix(line, "cmdstat_hmget:"), ",")
				return calls
			}
		}
		t.Fatal("no HMGET in the command stats")
		return ""
	}
	before := hmgets()
	for range 100 {
		if got, err := store.Load(ctx, "k"); err != nil || got.Version != 1 {
			t.Fatalf("Load = version %d, %v", got.Version, err)
		}
	}
	if after := hmgets(); after != before {
		t.Fatalf("100 warm loads made Redis run HMGET: %s before, %s after; want none", before, after)
	}
}

// TestClock: with WithClock a record lives in Redis for its expiry minus the store's
// time, and a Load tells expiry by the store's clock, even while Redis still holds
// the key.
func TestClock(t *testing.T) {
	client := newClient(t, singleAddrs, rueidis.ClientOption{})
	prefix := newPrefix(t, client)
	now := time.Now().Add(-time.Hour) // the store's clock runs an hour behind Redis's
	store := redisstore.New(client, redisstore.WithPrefix(prefix), redisstore.WithClock(func() time.Time { return now }))
	ctx := t.Context()
	if err := store.Save(ctx, sessionstore.Record{Key: "k", Expiry: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	pttl, err := client.Do(ctx, client.B().Pttl().Key(prefix+"s:k").Build()).AsInt64()
	if err != nil || pttl <= 59_000 || pttl > 60_000 {
		t.Fatalf("PTTL = %d, %v; want the minute the store's clock gives the record", pttl, err)
	}
	if _, err := store.Load(ctx, "k"); err != nil {
		t.Fatalf("Load: %v", err)
	}
	now = now.Add(time.Minute)
	if _, err := store.Load(ctx, "k"); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Fatalf("Load at the record's expiry by the store's clock = %v, want ErrNotFound", err)
	}
}
