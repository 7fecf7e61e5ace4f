package echosess_test

// Two app instances on one PostgreSQL or MySQL database, each with its own pool,
// store, MemoryStore cache and middleware, as behind a load balancer without sticky
// sessions: what one instance changes, the other's cache must not serve.

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/internal/adaptertest/allstores"
	"github.com/echosess/echosess/internal/tcpproxy"
	"github.com/echosess/echosess/mysqlstore"
	"github.com/echosess/echosess/pgstore"
	"github.com/echosess/echosess/sqlstore"
)

// propagationBound is how long the tests give a change on one instance to reach
// the other's cache. On this machine it takes about 5 ms, half the store's poll
// interval (TestCoherentCachePropagation); the bound is for a loaded CI box.
const propagationBound = 5 * time.Second

// feedStore is an instance's SQL store that counts the loads reaching it,
// and can hold back the changes it reports to the cache, as a slow change feed
// would be held. Embedding the store keeps its ChangeFeed and Toucher.
type feedStore struct {
	*sqlstore.Store
	loads atomic.Int64

	mu   sync.Mutex
	held chan struct{} // closed to release held reports; nil when not holding
}

func (s *feedStore) Load(ctx context.Context, key string) (echosess.Record, error) {
	s.loads.Add(1)
	return s.Store.Load(ctx, key)
}

func (s *feedStore) WatchChanges(w echosess.ChangeWatcher) (func(), error) {
	return s.Store.WatchChanges(heldWatcher{w, s})
}

// hold holds back the changes reported from now on until release is called.
func (s *feedStore) hold() (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	held := make(chan struct{})
	s.held = held
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.held = nil
			close(held)
		})
	}
}

type heldWatcher struct {
	echosess.ChangeWatcher
	s *feedStore
}

func (w heldWatcher) Changed(key string, version int64) {
	w.s.mu.Lock()
	held := w.s.held
	w.s.mu.Unlock()
	if held != nil {
		<-held
	}
	w.ChangeWatcher.Changed(key, version)
}

// instance is one app instance of a coherence test.
type instance struct {
	*outageApp
	store *feedStore
	logs  *syncBuffer
}

func newInstance(t *testing.T, s *sqlstore.Store) *instance {
	t.Helper()
	store := &feedStore{Store: s}
	t.Cleanup(func() { store.Close() })
	logs := &syncBuffer{}
	app := newOutageApp(t, echosess.Config{
		Store:  store,
		Cache:  echosess.NewMemoryStore(),
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	return &instance{outageApp: app, store: store, logs: logs}
}

// do sends a request with the session cookie *cookie, and replaces it with the one
// the response sets; it fails the test on a transport error.
func (in *instance) do(t *testing.T, method, path string, cookie *string) (int, string) {
	t.Helper()
	status, body, set, err := in.call(context.Background(), method, path, *cookie)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if set != "" {
		*cookie = cookieName + "=" + set
	}
	return status, body
}

// read returns what the session of cookie holds under k, "absent" when nothing.
func (in *instance) read(t *testing.T, k, cookie string) string {
	t.Helper()
	_, body := in.do(t, http.MethodGet, "/read?k="+k, &cookie)
	return body
}

// write sets k to v in the session of *cookie, which it updates.
func (in *instance) write(t *testing.T, k, v string, cookie *string) {
	t.Helper()
	if status, body := in.do(t, http.MethodPost, "/write?k="+k+"&v="+v, cookie); status != http.StatusOK {
		t.Fatalf("write %s=%s: %d %q", k, v, status, body)
	}
}

// cached reports whether the instance serves a read of the session of cookie from
// its cache: a second read reaches the store no more.
func (in *instance) cached(t *testing.T, cookie string) bool {
	in.read(t, "k", cookie)
	before := in.store.loads.Load()
	in.read(t, "k", cookie)
	return in.store.loads.Load() == before
}

// waitCached waits until the instance serves the session of cookie from its cache,
// which it does once it listens for the store's changes.
func (in *instance) waitCached(t *testing.T, cookie string) {
	t.Helper()
	waitFor(t, propagationBound, "the instance serves the session from its cache", func() bool { return in.cached(t, cookie) })
}

// postgresInstances returns two app instances on one new schema.
func postgresInstances(t *testing.T) (a, b *instance) {
	pools := allstores.NewPostgresPools(t, 2)
	return newInstance(t, pgstore.New(pools[0])), newInstance(t, pgstore.New(pools[1]))
}

// mysqlInstances returns two app instances on one new MySQL database.
func mysqlInstances(t *testing.T) (a, b *instance) {
	dbs := allstores.NewMySQLDBs(t, 2)
	return newInstance(t, mysqlstore.New(dbs[0])), newInstance(t, mysqlstore.New(dbs[1]))
}

func TestCoherentCache(t *testing.T) {
	allstores.PostgresDSN(t)
	testCoherentCache(t, postgresInstances)
	t.Run("ChangesInSQL", testPostgresChangesInSQL)
	t.Run("ChangesFromOlderSnapshots", testPostgresOlderSnapshots)
	t.Run("ListenerOutage", testListenerOutage)
}

// TestMySQLCoherentCache is TestCoherentCache on MySQL or MariaDB.
func TestMySQLCoherentCache(t *testing.T) {
	allstores.MySQLDSN(t)
	testCoherentCache(t, mysqlInstances)
	t.Run("ChangesInSQL", testMySQLChangesInSQL)
	t.Run("ChangesFromOlderSnapshots", testMySQLOlderSnapshots)
	t.Run("ListenerOutage", testMySQLListenerOutage)
}

// testCoherentCache runs the tests of two instances that need no SQL of their own
// on the instances that twoInstances returns.
func testCoherentCache(t *testing.T, twoInstances func(t *testing.T) (a, b *instance)) {
	// A logout on A ends the session for every holder of its token on B, whose
	// cache held it.
	t.Run("LogoutOnOtherInstance", func(t *testing.T) {
		a, b := twoInstances(t)
		var cookie string
		a.write(t, "k", "v", &cookie)
		b.waitCached(t, cookie)
		other := cookie // another holder of the token: a second device, a thief
		if status, body := a.do(t, http.MethodPost, "/logout", &cookie); status != http.StatusOK {
			t.Fatalf("logout: %d %q", status, body)
		}
		d := waitFor(t, propagationBound, "B finds no session", func() bool { return b.read(t, "k", other) == "absent" })
		t.Logf("B found the session gone %v after the logout's response", d)
	})

	// RenewID on A: the new token works on B at once, the old one dies there.
	t.Run("RenewIDOnOtherInstance", func(t *testing.T) {
		a, b := twoInstances(t)
		var cookie string
		a.write(t, "k", "v", &cookie)
		b.waitCached(t, cookie)
		old := cookie
		if status, body := a.do(t, http.MethodPost, "/renew", &cookie); status != http.StatusOK || cookie == old {
			t.Fatalf("renew: %d %q, cookie renewed: %v", status, body, cookie != old)
		}
		if got := b.read(t, "k", cookie); got != "v" {
			t.Fatalf("the renewed token on B reads %q, want %q", got, "v")
		}
		d := waitFor(t, propagationBound, "B finds no session under the old token", func() bool { return b.read(t, "k", old) == "absent" })
		t.Logf("B found the old token dead %v after the renewal's response", d)
	})

	// The writer reads its own write on B at once, even while B has not heard of
	// it: the cookie carries the version, and B's cached copy is older. Another
	// holder of the token, whose cookie does not, is served B's cached copy until
	// the change is reported.
	t.Run("WriterReadsOwnWrite", func(t *testing.T) {
		a, b := twoInstances(t)
		var cookie string
		a.write(t, "k", "v1", &cookie)
		b.waitCached(t, cookie)
		other := cookie
		release := b.store.hold()
		defer release()
		a.write(t, "k", "v2", &cookie)
		if got := b.read(t, "k", cookie); got != "v2" {
			t.Fatalf("the writer reads %q on B, want its own write %q", got, "v2")
		}
		if got := b.read(t, "k", other); got != "v1" && got != "v2" {
			t.Fatalf("another holder reads %q on B", got)
		}
		release()
		waitFor(t, propagationBound, "another holder reads the write on B", func() bool { return b.read(t, "k", other) == "v2" })
	})

	// An instance's own writes stay in its cache, although their reports come back
	// to it, often before the write's fill of the cache.
	t.Run("OwnWritesStayCached", func(t *testing.T) {
		a, _ := twoInstances(t)
		var cookie string
		a.write(t, "k", "v0", &cookie)
		a.waitCached(t, cookie)
		for i := range 20 {
			a.write(t, "k", fmt.Sprint("v", i+1), &cookie)
			before := a.store.loads.Load()
			if got := a.read(t, "k", cookie); got != fmt.Sprint("v", i+1) {
				t.Fatalf("A reads %q after its write %d", got, i+1)
			}
			if loads := a.store.loads.Load() - before; loads != 0 {
				t.Fatalf("the read after write %d went to the store (%d loads)", i+1, loads)
			}
		}
	})

	// Two tabs of one session write at once, one through each instance: no write is
	// lost, and each instance reads them all.
	t.Run("ConcurrentWritersLoseNothing", func(t *testing.T) {
		a, b := twoInstances(t)
		var cookie string
		a.write(t, "start", "0", &cookie)
		const writes = 25
		var wg sync.WaitGroup
		for i, in := range []*instance{a, b} {
			tab := cookie
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range writes {
					k := fmt.Sprintf("t%d-%d", i, j)
					if status, body, set, err := in.call(context.Background(), http.MethodPost, "/write?k="+k+"&v=x", tab); err != nil || status != http.StatusOK {
						t.Errorf("write %s: %d %q %v", k, status, body, err)
						return
					} else if set != "" {
						tab = cookieName + "=" + set
					}
				}
			}()
		}
		wg.Wait()
		for _, in := range []*instance{a, b} {
			waitFor(t, propagationBound, "every write is read back", func() bool {
				for i := range 2 {
					for j := range writes {
						if in.read(t, fmt.Sprintf("t%d-%d", i, j), cookie) != "x" {
							return false
						}
					}
				}
				return true
			})
		}
	})

}

// testPostgresChangesInSQL: changes made in SQL, outside the library, reach B's
// cache too: an UPDATE that keeps the version, and a TRUNCATE.
func testPostgresChangesInSQL(t *testing.T) {
	pools := allstores.NewPostgresPools(t, 2)
	a, b := newInstance(t, pgstore.New(pools[0])), newInstance(t, pgstore.New(pools[1]))
	var cookie string
	a.write(t, "k", "v", &cookie)
	b.waitCached(t, cookie)
	if _, err := pools[0].Exec(context.Background(), `UPDATE echosess_sessions SET data = convert_to('{"k":"edited"}', 'UTF8')`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, propagationBound, "B reads the edited row", func() bool { return b.read(t, "k", cookie) == "edited" })
	b.waitCached(t, cookie)
	if _, err := pools[0].Exec(context.Background(), `TRUNCATE echosess_sessions`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, propagationBound, "B finds the truncated session gone", func() bool { return b.read(t, "k", cookie) == "absent" })
}

// testPostgresOlderSnapshots: a REPEATABLE READ transaction whose snapshot
// predates every listener, and so sees none, deletes a session after B has begun
// to listen and to serve it from its cache: B hears of it all the same, and finds
// the session gone.
func testPostgresOlderSnapshots(t *testing.T) {
	ctx := context.Background()
	pools := allstores.NewPostgresPools(t, 2)
	store := pgstore.New(pools[0])
	t.Cleanup(func() { store.Close() })
	a := &instance{outageApp: newOutageApp(t, echosess.Config{Store: store})} // no cache: nothing listens
	var cookie string
	a.write(t, "k", "v", &cookie)
	conn, err := pools[0].Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	old, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Rollback(ctx)
	if _, err := old.Exec(ctx, "SELECT 1 FROM echosess_sessions"); err != nil { // takes the snapshot
		t.Fatal(err)
	}
	b := newInstance(t, pgstore.New(pools[1]))
	b.waitCached(t, cookie)
	if tag, err := old.Exec(ctx, "DELETE FROM echosess_sessions"); err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("delete in the old snapshot: %v, %d rows", err, tag.RowsAffected())
	}
	if err := old.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	d := waitFor(t, propagationBound, "B finds the deleted session gone", func() bool { return b.read(t, "k", cookie) == "absent" })
	t.Logf("B found the session gone %v after the old transaction's commit", d)
}

// testListenerOutage cuts B's listening connection, and only it, with the TCP proxy
// of the outage tests: while B cannot hear changes, it serves no read from its
// cache, so a change on A is read at once; once B listens again it starts with an
// empty cache, and uses it again.
func testListenerOutage(t *testing.T) {
	pools := allstores.NewPostgresPools(t, 2)
	a := newInstance(t, pgstore.New(pools[0]))

	// B's pool connects directly, except that while throughProxy is set new
	// connections go through the proxy: only the listener's, which B opens when its
	// middleware starts, after the pool's connections are open.
	cfg := pools[1].Config()
	network, target := pgconn.NetworkAddress(cfg.ConnConfig.Host, cfg.ConnConfig.Port)
	proxy := tcpproxy.New(t, network, target)
	var throughProxy atomic.Bool
	cfg.MinConns, cfg.MaxConns = 4, 4
	cfg.ConnConfig.DialFunc = func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		if throughProxy.Load() {
			return d.DialContext(ctx, "tcp", proxy.Addr())
		}
		return d.DialContext(ctx, network, target)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	var conns []*pgxpool.Conn
	for range 4 {
		c, err := pool.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Release()
	}
	throughProxy.Store(true)
	b := newInstance(t, pgstore.New(pool))

	var cookie string
	a.write(t, "k", "v1", &cookie)
	b.waitCached(t, cookie)
	other := cookie

	proxy.Cut()
	waitFor(t, propagationBound, "B logs that it lost the listener", func() bool {
		return strings.Contains(b.logs.String(), "reading from the store until they resume")
	})
	a.write(t, "k", "v2", &cookie)
	if got := b.read(t, "k", other); got != "v2" {
		t.Fatalf("during the outage B reads %q, want %q", got, "v2")
	}
	if b.cached(t, other) {
		t.Fatal("during the outage B serves reads from its cache")
	}
	a.write(t, "k", "v3", &cookie)
	if got := b.read(t, "k", other); got != "v3" {
		t.Fatalf("during the outage B reads %q, want %q", got, "v3")
	}

	proxy.Restore()
	d := waitFor(t, 3*propagationBound, "B serves from its cache again", func() bool { return b.cached(t, other) })
	t.Logf("B used its cache again %v after the restore", d)
	if logs := b.logs.String(); !strings.Contains(logs, "reconnecting in") || !strings.Contains(logs, "change reports resumed") {
		t.Errorf("B's log does not show the reconnection:\n%s", logs)
	}
	a.write(t, "k", "v4", &cookie)
	waitFor(t, propagationBound, "B reads the change after the outage", func() bool { return b.read(t, "k", other) == "v4" })
}

// testMySQLChangesInSQL: changes made in SQL, outside the library, reach B's cache
// too: an UPDATE that keeps the version, and a DELETE. (A TRUNCATE fires no
// trigger on MySQL, and goes unreported.)
func testMySQLChangesInSQL(t *testing.T) {
	dbs := allstores.NewMySQLDBs(t, 2)
	a, b := newInstance(t, mysqlstore.New(dbs[0])), newInstance(t, mysqlstore.New(dbs[1]))
	var cookie string
	a.write(t, "k", "v", &cookie)
	b.waitCached(t, cookie)
	if _, err := dbs[0].Exec(`UPDATE echosess_sessions SET data = '{"k":"edited"}'`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, propagationBound, "B reads the edited row", func() bool { return b.read(t, "k", cookie) == "edited" })
	b.waitCached(t, cookie)
	if _, err := dbs[0].Exec(`DELETE FROM echosess_sessions`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, propagationBound, "B finds the deleted session gone", func() bool { return b.read(t, "k", cookie) == "absent" })
}

// testMySQLOlderSnapshots: a REPEATABLE READ transaction whose snapshot predates
// every listener deletes a session after B has begun to listen and to serve it
// from its cache: the trigger finds B's registration all the same (a MEMORY table,
// which no snapshot holds), and B finds the session gone.
func testMySQLOlderSnapshots(t *testing.T) {
	ctx := context.Background()
	dbs := allstores.NewMySQLDBs(t, 2)
	a := &instance{outageApp: newOutageApp(t, echosess.Config{Store: mysqlstore.New(dbs[0])})} // no cache: nothing listens
	var cookie string
	a.write(t, "k", "v", &cookie)
	old, err := dbs[0].BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Rollback()
	var n int
	if err := old.QueryRowContext(ctx, "SELECT COUNT(*) FROM echosess_listeners").Scan(&n); err != nil || n != 0 { // takes the snapshot
		t.Fatalf("listeners before B: %d, %v", n, err)
	}
	if err := old.QueryRowContext(ctx, "SELECT COUNT(*) FROM echosess_sessions").Scan(&n); err != nil {
		t.Fatal(err)
	}
	b := newInstance(t, mysqlstore.New(dbs[1]))
	b.waitCached(t, cookie)
	res, err := old.ExecContext(ctx, "DELETE FROM echosess_sessions")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("delete in the old snapshot: %d rows", n)
	}
	if err := old.Commit(); err != nil {
		t.Fatal(err)
	}
	d := waitFor(t, propagationBound, "B finds the deleted session gone", func() bool { return b.read(t, "k", cookie) == "absent" })
	t.Logf("B found the session gone %v after the old transaction's commit", d)
}

// testMySQLListenerOutage cuts B's connections to the server, its listener's among
// them, with the TCP proxy of the outage tests: B's listener holds a connection of
// B's pool, so the listener's alone cannot be cut. While B cannot hear changes it
// serves no read from its cache: a read fails, and never returns what the session
// held before a change on A. Once the connections are back, B starts with an empty
// cache, reads the change, and uses its cache again.
func testMySQLListenerOutage(t *testing.T) {
	dsn := mysqlstore.DSN(allstores.NewMySQLDatabase(t))
	direct := allstores.OpenMySQL(t, dsn)
	if err := mysqlstore.Migrate(context.Background(), direct); err != nil {
		t.Fatal(err)
	}
	a := newInstance(t, mysqlstore.New(direct))
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := tcpproxy.New(t, cfg.Net, cfg.Addr)
	cfg.DialFunc = func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", proxy.Addr())
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	proxied := sql.OpenDB(connector)
	t.Cleanup(func() { proxied.Close() })
	b := newInstance(t, mysqlstore.New(proxied))

	var cookie string
	a.write(t, "k", "v1", &cookie)
	b.waitCached(t, cookie)
	other := cookie

	proxy.Cut()
	waitFor(t, propagationBound, "B logs that it lost the listener", func() bool {
		return strings.Contains(b.logs.String(), "reading from the store until they resume")
	})
	a.write(t, "k", "v2", &cookie)
	if status, body := b.do(t, http.MethodGet, "/read?k=k", &other); status < 500 {
		t.Fatalf("during the outage B answers %d %q, want a 5xx", status, body)
	}

	proxy.Restore()
	waitFor(t, 3*propagationBound, "B reads again", func() bool {
		status, body := b.do(t, http.MethodGet, "/read?k=k", &other)
		if status == http.StatusOK && body != "v2" {
			t.Fatalf("after the outage B reads %q, want %q", body, "v2")
		}
		return status == http.StatusOK
	})
	d := waitFor(t, 3*propagationBound, "B serves from its cache again", func() bool { return b.cached(t, other) })
	t.Logf("B used its cache again %v after the restore", d)
	if logs := b.logs.String(); !strings.Contains(logs, "reconnecting in") || !strings.Contains(logs, "change reports resumed") {
		t.Errorf("B's log does not show the reconnection:\n%s", logs)
	}
	a.write(t, "k", "v3", &cookie)
	waitFor(t, propagationBound, "B reads the change after the outage", func() bool { return b.read(t, "k", other) == "v3" })
}

// TestCoherentCachePropagation measures the delay from a write's Save returning on
// one instance to the other instance's cache hearing of it, under load: 4 clients
// writing as fast as they can through instance A for a second.
func TestCoherentCachePropagation(t *testing.T) {
	allstores.PostgresDSN(t)
	pools := allstores.NewPostgresPools(t, 2)
	testPropagation(t, pgstore.New(pools[0]), pgstore.New(pools[1]))
}

// TestMySQLCoherentCachePropagation is TestCoherentCachePropagation on MySQL or
// MariaDB.
func TestMySQLCoherentCachePropagation(t *testing.T) {
	allstores.MySQLDSN(t)
	dbs := allstores.NewMySQLDBs(t, 2)
	testPropagation(t, mysqlstore.New(dbs[0]), mysqlstore.New(dbs[1]))
}

// testPropagation measures the delay from a Save's return on an instance whose
// store is written to the report of its change by listener, another instance's
// store on the same table.
func testPropagation(t *testing.T, written, listener *sqlstore.Store) {
	writer := &timedStore{Store: written, saved: map[string]time.Time{}}
	t.Cleanup(func() { writer.Close() })
	a := newOutageApp(t, echosess.Config{Store: writer, Cache: echosess.NewMemoryStore()})
	t.Cleanup(func() { listener.Close() })
	heard := &timedWatcher{watching: make(chan struct{}), heard: map[string]time.Time{}}
	stop, err := listener.WatchChanges(heard)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	<-heard.watching

	const clients = 4
	end := time.Now().Add(time.Second)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cookie := ""
			for i := 0; time.Now().Before(end); i++ {
				status, _, set, err := a.call(context.Background(), http.MethodPost, fmt.Sprintf("/write?k=c%d&v=%d", c, i), cookie)
				if err != nil || status != http.StatusOK {
					t.Errorf("write: %d %v", status, err)
					return
				}
				if set != "" {
					cookie = cookieName + "=" + set
				}
			}
		}()
	}
	wg.Wait()
	saved := writer.writes()
	var delays []time.Duration
	waitFor(t, propagationBound, "every write is heard", func() bool {
		delays = delays[:0]
		for change, at := range saved {
			h, ok := heard.at(change)
			if !ok {
				return false
			}
			delays = append(delays, max(h.Sub(at), 0))
		}
		return true
	})
	slices.Sort(delays)
	p := func(q float64) time.Duration { return delays[int(q*float64(len(delays)-1))] }
	t.Logf("%d writes in 1s by %d clients; delay from Save to the other instance's report: p50 %v, p99 %v, max %v",
		len(delays), clients, p(0.5), p(0.99), delays[len(delays)-1])
}

// timedStore records when each of its saves returned, by key and version written.
type timedStore struct {
	*sqlstore.Store
	mu    sync.Mutex
	saved map[string]time.Time
}

func (s *timedStore) Save(ctx context.Context, rec echosess.Record) error {
	err := s.Store.Save(ctx, rec)
	if err == nil {
		s.mu.Lock()
		s.saved[fmt.Sprintf("%s@%d", rec.Key, rec.Version+1)] = time.Now()
		s.mu.Unlock()
	}
	return err
}

func (s *timedStore) writes() map[string]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.saved)
}

// timedWatcher records when it heard of each change.
type timedWatcher struct {
	watching chan struct{}
	once     sync.Once
	mu       sync.Mutex
	heard    map[string]time.Time
}

func (w *timedWatcher) Watching()  { w.once.Do(func() { close(w.watching) }) }
func (w *timedWatcher) Lost(error) {}
func (w *timedWatcher) Changed(key string, version int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.heard[fmt.Sprintf("%s@%d", key, version)] = time.Now()
}

func (w *timedWatcher) at(change string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.heard[change]
	return t, ok
}
