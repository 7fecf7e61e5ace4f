package redisstore_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/echosess/echosess/redisstore"
	"github.com/echosess/echosess/sessionstore"
)

// invalidations records when a client's cache heard of each key's change, and
// signals each loss of its connection (rueidis reports one as an invalidation of
// every key, after it has emptied the connection's cache).
type invalidations struct {
	mu    sync.Mutex
	heard map[string]time.Time
	lost  chan struct{}
}

func newInvalidations() *invalidations {
	return &invalidations{heard: map[string]time.Time{}, lost: make(chan struct{}, 16)}
}

func (in *invalidations) hook(msgs []rueidis.RedisMessage) {
	now := time.Now()
	if msgs == nil {
		select {
		case in.lost <- struct{}{}:
		default:
		}
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, m := range msgs {
		if key, err := m.ToString(); err == nil {
			if _, ok := in.heard[key]; !ok {
				in.heard[key] = now
			}
		}
	}
}

func (in *invalidations) at(key string) (time.Time, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	t, ok := in.heard[key]
	return t, ok
}

// TestPropagation measures how soon an instance hears of another instance's write:
// instance B has read a session, instance A saves it, and B's client-side cache
// drops its copy when Redis's invalidation arrives, which is logged as the delay
// from the return of A's Save (p50, p99, max). Every write must be heard.
func TestPropagation(t *testing.T) {
	for _, tt := range []struct {
		name  string
		addrs []string
	}{{"single", singleAddrs}, {"cluster", clusterAddrs}} {
		t.Run(tt.name, func(t *testing.T) {
			heard := newInvalidations()
			clientA := newClient(t, tt.addrs, rueidis.ClientOption{})
			clientB := newClient(t, tt.addrs, rueidis.ClientOption{OnInvalidations: heard.hook})
			prefix := newPrefix(t, clientA)
			a := redisstore.New(clientA, redisstore.WithPrefix(prefix))
			b := redisstore.New(clientB, redisstore.WithPrefix(prefix))

			const writers = 4
			var mu sync.Mutex
			saved := map[string]time.Time{}
			end := time.Now().Add(time.Second)
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := 0; time.Now().Before(end); i++ {
						key := fmt.Sprintf("w%d-%d", w, i)
						if _, err := b.Load(t.Context(), key); !errors.Is(err, sessionstore.ErrNotFound) {
							t.Errorf("B's Load(%s) before the write = %v, want ErrNotFound", key, err)
							return
						}
						if err := a.Save(t.Context(), sessionstore.Record{Key: key, Expiry: time.Now().Add(time.Hour)}); err != nil {
							t.Errorf("A's Save(%s): %v", key, err)
							return
						}
						mu.Lock()
						saved[prefix+"s:"+key] = time.Now()
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			var delays []time.Duration
			early := 0 // heard before A's Save returned
			deadline := time.Now().Add(5 * time.Second)
			for key, at := range saved {
				h, ok := heard.at(key)
				for !ok && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond) // waiting on another process, not asserting a time
					h, ok = heard.at(key)
				}
				if !ok {
					t.Fatalf("B never heard of the write of %s", key)
				}
				if h.Before(at) {
					early++
				}
				delays = append(delays, max(h.Sub(at), 0))
			}
			for key := range saved { // and B now reads each write
				if _, err := b.Load(t.Context(), strings.TrimPrefix(key, prefix+"s:")); err != nil {
					t.Fatalf("B's Load(%s) after the write: %v", key, err)
				}
			}
			slices.Sort(delays)
			p := func(q float64) time.Duration { return delays[int(q*float64(len(delays)-1))] }
			t.Logf("%d writes in 1s by %d writers; B heard of %d%% before A's Save returned; delay from A's Save to B's invalidation: p50 %v, p99 %v, max %v",
				len(delays), writers, 100*early/len(delays), p(0.5), p(0.99), delays[len(delays)-1])
		})
	}
}

// TestLostConnectionForgetsCache: when an instance's connection to Redis breaks,
// what it cached through that connection is forgotten, so that a write it could not
// hear of meanwhile is read, not a stale copy.
func TestLostConnectionForgetsCache(t *testing.T) {
	heard := newInvalidations()
	admin := newClient(t, singleAddrs, rueidis.ClientOption{DisableCache: true})
	name := fmt.Sprintf("echosess-test-lost-%d", time.Now().UnixNano())
	clientB := newClient(t, singleAddrs, rueidis.ClientOption{ClientName: name, OnInvalidations: heard.hook})
	prefix := newPrefix(t, admin)
	a := redisstore.New(admin, redisstore.WithPrefix(prefix))
	b := redisstore.New(clientB, redisstore.WithPrefix(prefix))
	ctx := t.Context()

	rec := sessionstore.Record{Key: "k", Expiry: time.Now().Add(time.Hour)}
	if err := a.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Load(ctx, "k"); err != nil || got.Version != 1 {
		t.Fatalf("B's Load = version %d, %v", got.Version, err)
	}

	// Break B's connections, and wait until its client has noticed.
	list, err := admin.Do(ctx, admin.B().ClientList().Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for line := range strings.SplitSeq(list, "\n") {
		if !strings.Contains(line, " name="+name+" ") {
			continue
		}
		id, _, _ := strings.Cut(strings.TrimPrefix(line, "id="), " ")
		if err := admin.Do(ctx, admin.B().Arbitrary("CLIENT", "KILL", "ID", id).Build()).Error(); err != nil {
			t.Fatal(err)
		}
		killed++
	}
	if killed == 0 {
		t.Fatalf("no connection named %s in CLIENT LIST", name)
	}
	select {
	case <-heard.lost:
	case <-time.After(5 * time.Second):
		t.Fatal("B's client did not notice the loss of its connection")
	}

	// A write B cannot hear of, then B's read.
	rec.Version = 1
	if err := a.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Load(ctx, "k"); err != nil || got.Version != 2 {
		t.Fatalf("B's Load after its connection broke = version %d, %v; want 2, not the copy cached before", got.Version, err)
	}
}
