package redisstore

import (
	"os"
	"testing"

	"github.com/redis/rueidis"
)

// Where the tests find Redis: a single node, and a Cluster (.ci/redis.sh starts both).
var (
	singleAddrs  = []string{"127.0.0.1:6379"}
	clusterAddrs = []string{"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"}
)

// newClient connects to the Redis at addrs, closing the client when the test ends.
// Without it the test fails under CI=true and is skipped otherwise.
func newClient(t testing.TB, addrs []string, opt rueidis.ClientOption) rueidis.Client {
	t.Helper()
	opt.InitAddress = addrs
	client, err := rueidis.NewClient(opt)
	if err == nil {
		err = client.Do(t.Context(), client.B().Ping().Build()).Error()
		if err != nil {
			client.Close()
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis at %v: %v", addrs, err)
		}
		t.Skipf("no Redis at %v (%v); `bash .ci/redis.sh` starts it and runs these tests", addrs, err)
	}
	t.Cleanup(client.Close)
	return client
}

// The same, for the package's external tests.
var (
	SingleAddrs  = singleAddrs
	ClusterAddrs = clusterAddrs
	NewClient    = newClient
)
