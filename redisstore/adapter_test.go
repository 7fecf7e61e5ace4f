package redisstore_test

import (
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/echosess/echosess/internal/adaptertest"
	"github.com/echosess/echosess/internal/adaptertest/echov4"
	"github.com/echosess/echosess/internal/engine"
	"github.com/echosess/echosess/redisstore"
)

// The black-box tables of package adaptertest (middleware, lifecycle,
// linearizability, hardening, user sessions) through the Echo v4 adapter, on a
// Redis single node and a Cluster.

// variants are the store set-ups of the tables here: each store has a client of its
// own, its own key prefix, and the tables' fake clock, from which Redis gives the
// records their lifetimes. They are Coherent: the middleware sees that the store is
// a VersionLoader, and the cookie carries the session's version.
var variants = []adaptertest.Variant{
	{Name: "redis", NewStore: redisFactory(singleAddrs, rueidis.ClientModeStandalone), Coherent: true},
	{Name: "redis-cluster", NewStore: redisFactory(clusterAddrs, rueidis.ClientModeCluster), Coherent: true},
}

func redisFactory(addrs []string, mode rueidis.ClientMode) adaptertest.StoreFactory {
	return func(t *testing.T, now func() time.Time) engine.Store {
		client := newClient(t, addrs, rueidis.ClientOption{})
		if client.Mode() != mode {
			t.Fatalf("the Redis at %v is a %s, want a %s", addrs, client.Mode(), mode)
		}
		return redisstore.New(client, redisstore.WithPrefix(newPrefix(t, client)), redisstore.WithClock(now))
	}
}

func TestMiddleware(t *testing.T)   { adaptertest.RunMiddleware(t, echov4.Adapter{}, variants) }
func TestLifecycle(t *testing.T)    { adaptertest.RunLifecycle(t, echov4.Adapter{}, variants) }
func TestLinearizable(t *testing.T) { adaptertest.RunLinearizable(t, echov4.Adapter{}, variants) }
func TestHardening(t *testing.T)    { adaptertest.RunHardening(t, echov4.Adapter{}, variants) }
func TestUserSessions(t *testing.T) { adaptertest.RunUsers(t, echov4.Adapter{}, variants) }
