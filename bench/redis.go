package bench

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	scsredis "github.com/alexedwards/scs/redisstore"
	"github.com/boj/redistore"
	"github.com/gomodule/redigo/redis"
	"github.com/gorilla/sessions"
	"github.com/labstack/echo-contrib/session"
	"github.com/labstack/echo/v4"
	"github.com/redis/rueidis"

	"github.com/echosess/echosess/redisstore"
)

// RedisAddrVar names the environment variable with the address of the Redis that
// the Redis cases use, DefaultRedisAddr when it is unset.
const RedisAddrVar = "ECHOSESS_REDIS_ADDR"

// DefaultRedisAddr is the Redis single node that .ci/redis.sh starts.
const DefaultRedisAddr = "127.0.0.1:6379"

// RedisAddr returns the address in RedisAddrVar, or DefaultRedisAddr.
func RedisAddr() string {
	if addr := os.Getenv(RedisAddrVar); addr != "" {
		return addr
	}
	return DefaultRedisAddr
}

// Redis is a key prefix on one Redis server, under which each library keeps its
// sessions under a prefix of its own (Prefix+"echosess:", "scs:" and "gorilla:").
// OpenRedis makes a fresh prefix, whose keys its Close deletes; OpenRedisPrefix
// uses one made elsewhere, such as by another process, and its Close leaves them.
type Redis struct {
	Addr, Prefix string
	owned        bool
}

// OpenRedis checks that the Redis at addr answers and returns a fresh prefix on it.
func OpenRedis(ctx context.Context, addr string) (*Redis, error) {
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		return nil, fmt.Errorf("bench: Redis at %s: %w", addr, err)
	}
	defer client.Close()
	if err := client.Do(ctx, client.B().Ping().Build()).Error(); err != nil {
		return nil, fmt.Errorf("bench: Redis at %s: %w", addr, err)
	}
	var suffix [4]byte
	rand.Read(suffix[:])
	return &Redis{Addr: addr, Prefix: "bench_" + hex.EncodeToString(suffix[:]) + ":", owned: true}, nil
}

// OpenRedisPrefix returns the prefix that OpenRedis made, on the Redis at addr.
func OpenRedisPrefix(addr, prefix string) *Redis { return &Redis{Addr: addr, Prefix: prefix} }

// Close deletes the keys under r's prefix when OpenRedis made it.
func (r *Redis) Close() error {
	if !r.owned {
		return nil
	}
	ctx := context.Background()
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{r.Addr}, DisableCache: true})
	if err != nil {
		return err
	}
	defer client.Close()
	var cursor uint64
	for {
		entry, err := client.Do(ctx, client.B().Scan().Cursor(cursor).Match(r.Prefix+"*").Count(1000).Build()).AsScanEntry()
		if err != nil {
			return err
		}
		if len(entry.Elements) > 0 {
			if err := client.Do(ctx, client.B().Unlink().Key(entry.Elements...).Build()).Error(); err != nil {
				return err
			}
		}
		if cursor = entry.Cursor; cursor == 0 {
			return nil
		}
	}
}

// redisPool is the redigo pool of scs's and gorilla's Redis stores, as scs's
// documentation sets one up, whose connections count in n what they send. It
// borrows a connection without the PING of redistore.NewRediStore's pool, which
// would add a round trip to every request.
func redisPool(addr string, n *Counter) *redis.Pool {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countRedis(n, conn), nil
	}
	return &redis.Pool{
		MaxIdle:     10,
		IdleTimeout: 240 * time.Second,
		Dial:        func() (redis.Conn, error) { return redis.Dial("tcp", addr, redis.DialContextFunc(dial)) },
	}
}

// NewRedisApp builds lib's app (echosess, scs or gorilla) on its Redis store under
// its own prefix of r; App.Count counts every command that the app's client sends,
// and the round trips, at the connection. The baseline, without sessions, is
// there too, so that a load on Redis can show what HTTP costs alone.
//
//   - echosess: redisstore on a rueidis client with its defaults, client-side
//     caching on;
//   - scs: scs's redisstore on a redigo pool (redisPool);
//   - gorilla: echo-contrib/session on boj/redistore, on the same kind of pool. Its
//     cookie holds the session's ID signed by securecookie, with a key made from the
//     prefix, so that every instance of a run reads the others' cookies.
func NewRedisApp(lib string, r *Redis) (*App, error) {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	a := &App{Lib: lib, Handler: e, Count: &Counter{batched: true}}
	switch lib {
	case LibBaseline:
		a.Count = nil // no store
		routeBaseline(e)
	case LibEchosess:
		client, err := rueidis.NewClient(rueidis.ClientOption{
			InitAddress: []string{r.Addr},
			DialCtxFn: func(ctx context.Context, addr string, d *net.Dialer, _ *tls.Config) (net.Conn, error) {
				conn, err := d.DialContext(ctx, "tcp", addr)
				if err != nil {
					return nil, err
				}
				return countRedis(a.Count, conn), nil
			},
		})
		if err != nil {
			return nil, err
		}
		a.close = client.Close
		useEchosess(e, lib, redisstore.New(client, redisstore.WithPrefix(r.Prefix+"echosess:")))
	case LibSCS:
		pool := redisPool(r.Addr, a.Count)
		a.close = func() { pool.Close() }
		sm := newSCS()
		sm.Store = scsredis.NewWithPrefix(pool, r.Prefix+"scs:")
		e.Use(SCSMiddleware(sm, &a.Failures))
		routeSCS(e, sm)
	case LibGorilla:
		pool := redisPool(r.Addr, a.Count)
		hashKey := sha256.Sum256([]byte(r.Prefix))
		store, err := redistore.NewRediStoreWithPool(pool, hashKey[:])
		if err != nil {
			pool.Close()
			return nil, err
		}
		a.close = func() { store.Close() }
		store.SetKeyPrefix(r.Prefix + "gorilla:")
		store.Options = &sessions.Options{Path: "/", MaxAge: int(lifetime / time.Second), HttpOnly: true, SameSite: http.SameSiteLaxMode}
		e.Use(session.Middleware(store))
		routeGorilla(e)
	default:
		return nil, fmt.Errorf("bench: %s has no Redis store here", lib)
	}
	return a, nil
}
