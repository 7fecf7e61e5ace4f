// Package bench compares echosess with the session libraries Echo users would pick
// instead: alexedwards/scs v2 and echo-contrib/session on gorilla/sessions. It builds
// the same small Echo app on each, for the benchmarks in this package and for the load
// command in ./load; the libraries that run on Echo v5 (echosess's v5 adapter and
// echo-contrib/v5's session) have the same app on Echo v5 too (app_v5.go).
package bench

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"github.com/echosess/echosess/sqlitestore"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/echosess/echosess"
	"github.com/echosess/echosess/internal/engine"
	"github.com/labstack/echo-contrib/session"
	"github.com/labstack/echo/v4"
)

// The libraries an app can run on.
const (
	LibBaseline      = "baseline"       // the same routes without sessions: the cost of Echo and the harness
	LibEchosess      = "echosess"       // echosess on its store
	LibEchosessCache = "echosess-cache" // echosess on its store with a MemoryStore as Config.Cache
	LibSCS           = "scs"            // alexedwards/scs v2 through SCSMiddleware
	LibGorilla       = "gorilla"        // echo-contrib/session with GorillaMemStore
)

// LibEchosessNoNotify is echosess on Postgres without a cache, on a schema whose
// change triggers (migration 00006) are dropped (Postgres.DropNotify, which the
// caller runs), for measuring what recording a change costs a write. Its app is
// LibEchosess's.
const LibEchosessNoNotify = "echosess-nonotify"

// The app's routes. Each session holds "user" (a string) and "n" (an int).
const (
	PathRead   = "/read"   // GET: reply with the session's user
	PathCount  = "/n"      // GET: reply with the session's n, in decimal
	PathWrite  = "/write"  // POST: increment n and reply with its new value
	PathCreate = "/create" // POST: start a session with user "alice" and n 0
	PathNone   = "/none"   // GET: reply without touching the session
)

// User is the user that PathCreate puts in every session.
const User = "alice"

// CookieName names the session cookie in every app.
const CookieName = "session"

// lifetime is every session's lifetime.
const lifetime = 24 * time.Hour

// App is one library's app and the counter of its store round trips.
type App struct {
	Lib string
	// Handler is the app's *echo.Echo, of Echo v4 or, for the -v5 libraries, v5.
	Handler http.Handler
	// Count counts the round trips to the session store; nil for the baseline and
	// for memory stores not counted.
	Count *Counter
	// Failures counts commits that failed where the library cannot report them in
	// the response (scs after the header is written).
	Failures atomic.Int64

	seed  func(ctx context.Context, n int) error
	close func()
}

// Close releases what the app holds.
func (a *App) Close() {
	if a.close != nil {
		a.close()
	}
}

// Seed stores n more sessions that no client uses, so that a store holds that many
// records besides the clients' own. Postgres tables are seeded by Postgres.Seed.
func (a *App) Seed(ctx context.Context, n int) error {
	if a.seed == nil {
		return nil
	}
	return a.seed(ctx, n)
}

// NewApp builds lib's app on memory stores, or on Postgres when pg is not nil. With
// count set, a memory store is wrapped so that App.Count counts the calls to it; the
// wrapper hides the store's concrete type, which echosess checks to skip its store
// timeout, so timings are best taken without it. Postgres apps always count, in a
// pgx tracer.
func NewApp(lib string, pg *Postgres, count bool) (*App, error) {
	if isV5(lib) {
		return newAppV5(lib, pg, count)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	a := &App{Lib: lib, Handler: e}
	switch lib {
	case LibBaseline:
		routeBaseline(e)
	case LibEchosess, LibEchosessCache, LibEchosessNoNotify:
		if lib == LibEchosessNoNotify && pg == nil {
			return nil, fmt.Errorf("bench: %s runs on Postgres only", lib)
		}
		var store echosess.Store
		if pg != nil {
			a.Count = pg.EchosessCount // its pool counts the statements
			pgStore := pg.echosessStore()
			a.close = func() { pgStore.Close() } // stops the cache's listening
			store = pgStore
		} else {
			mem := echosess.NewMemoryStore()
			store = a.counted(mem, count)
			a.seed = func(ctx context.Context, n int) error { return seedEchosess(ctx, mem, n) }
		}
		useEchosess(e, lib, store)
	case LibSCS:
		sm := newSCS()
		if pg != nil {
			a.Count = pg.SCSCount // its pool counts the statements
			sm.Store = pgxstore.NewWithCleanupInterval(pg.SCS, 0)
		} else {
			mem := memstore.NewWithCleanupInterval(0)
			sm.Store = mem
			if count {
				a.Count = new(Counter)
				sm.Store = countingSCSStore{Store: mem, n: a.Count}
			}
			a.seed = func(_ context.Context, n int) error { return seedSCS(mem, n) }
		}
		e.Use(SCSMiddleware(sm, &a.Failures))
		routeSCS(e, sm)
	case LibGorilla:
		if pg != nil {
			return nil, fmt.Errorf("bench: %s has no Postgres store here", lib)
		}
		if count {
			a.Count = new(Counter)
		}
		store := NewGorillaMemStore(a.Count)
		a.seed = func(_ context.Context, n int) error { return seedGorilla(store, n) }
		e.Use(session.Middleware(store))
		routeGorilla(e)
	default:
		return nil, fmt.Errorf("bench: unknown library %q", lib)
	}
	return a, nil
}

// NewSQLiteApp builds lib's app, echosess or echosess-cache, on a SQLite store in db.
// With count set, App.Count counts the calls to the store, through a wrapper.
func NewSQLiteApp(lib string, db *sql.DB, count bool) (*App, error) {
	if lib != LibEchosess && lib != LibEchosessCache {
		return nil, fmt.Errorf("bench: %s has no SQLite store here", lib)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	a := &App{Lib: lib, Handler: e}
	store := sqlitestore.New(db)
	a.close = func() { store.Close() }
	useEchosess(e, lib, a.counted(store, count))
	return a, nil
}

// counted returns store, or with count set a wrapper that counts the calls to it in
// a new App.Count.
func (a *App) counted(store echosess.Store, count bool) echosess.Store {
	if !count {
		return store
	}
	a.Count = new(Counter)
	return countingStore{Store: store, n: a.Count}
}

// useEchosess installs echosess on store, with a MemoryStore as Config.Cache for
// echosess-cache, and the app's routes.
func useEchosess(e *echo.Echo, lib string, store echosess.Store) {
	e.Use(echosess.Middleware(echosess.Config(echosessConfig[echo.Context](lib, store))))
	routeEchosess(e)
}

// echosessConfig is the echosess configuration of every echosess app, on Echo v4 or
// v5 (C is the Echo version's context): store, with a MemoryStore as Config.Cache for
// echosess-cache.
func echosessConfig[C any](lib string, store echosess.Store) engine.Config[C] {
	cfg := engine.Config[C]{
		Store:          store,
		CookieName:     CookieName,
		CookieInsecure: true, // the load command speaks plain HTTP
		DefaultExpiry:  echosess.ExpireIn(lifetime),
	}
	if lib == LibEchosessCache {
		cfg.Cache = echosess.NewMemoryStore()
	}
	return cfg
}

func routeBaseline(e *echo.Echo) {
	var n atomic.Int64 // one for all clients: the baseline keeps no sessions
	e.GET(PathRead, func(c echo.Context) error { return c.String(http.StatusOK, User) })
	e.GET(PathCount, func(c echo.Context) error {
		return c.String(http.StatusOK, strconv.FormatInt(n.Load(), 10))
	})
	e.POST(PathWrite, func(c echo.Context) error {
		return c.String(http.StatusOK, strconv.FormatInt(n.Add(1), 10))
	})
	e.POST(PathCreate, func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	e.GET(PathNone, func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
}

func routeEchosess(e *echo.Echo) {
	e.GET(PathRead, func(c echo.Context) error {
		user, ok, err := echosess.Get[string](c, "user")
		if err != nil {
			return err
		}
		if !ok {
			return echo.ErrNotFound
		}
		return c.String(http.StatusOK, user)
	})
	e.GET(PathCount, func(c echo.Context) error {
		n, ok, err := echosess.Get[int](c, "n")
		if err != nil {
			return err
		}
		if !ok {
			return echo.ErrNotFound
		}
		return c.String(http.StatusOK, strconv.Itoa(n))
	})
	e.POST(PathWrite, func(c echo.Context) error {
		n, _, err := echosess.Get[int](c, "n")
		if err != nil {
			return err
		}
		if err := echosess.Set(c, "n", n+1); err != nil {
			return err
		}
		return c.String(http.StatusOK, strconv.Itoa(n+1))
	})
	e.POST(PathCreate, func(c echo.Context) error {
		if err := echosess.Set(c, "user", User); err != nil {
			return err
		}
		if err := echosess.Set(c, "n", 0); err != nil {
			return err
		}
		return c.String(http.StatusOK, "ok")
	})
	e.GET(PathNone, func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
}

func routeSCS(e *echo.Echo, sm *scs.SessionManager) {
	e.GET(PathRead, func(c echo.Context) error {
		user, ok := sm.Get(c.Request().Context(), "user").(string)
		if !ok {
			return echo.ErrNotFound
		}
		return c.String(http.StatusOK, user)
	})
	e.GET(PathCount, func(c echo.Context) error {
		n, ok := sm.Get(c.Request().Context(), "n").(int)
		if !ok {
			return echo.ErrNotFound
		}
		return c.String(http.StatusOK, strconv.Itoa(n))
	})
	e.POST(PathWrite, func(c echo.Context) error {
		ctx := c.Request().Context()
		n := sm.GetInt(ctx, "n") + 1
		sm.Put(ctx, "n", n)
		return c.String(http.StatusOK, strconv.Itoa(n))
	})
	e.POST(PathCreate, func(c echo.Context) error {
		ctx := c.Request().Context()
		sm.Put(ctx, "user", User)
		sm.Put(ctx, "n", 0)
		return c.String(http.StatusOK, "ok")
	})
	e.GET(PathNone, func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
}

func routeGorilla(e *echo.Echo) {
	e.GET(PathRead, func(c echo.Context) error {
		sess, err := session.Get(CookieName, c)
		if err != nil {
			return err
		}
		user, ok := sess.Values["user"].(string)
		if !ok {
			return echo.ErrNotFound
		}
		return c.String(http.StatusOK, user)
	})
	e.GET(PathCount, func(c echo.Context) error {
		sess, err := session.Get(CookieName, c)
		if err != nil {
			return err
		}
		n, ok := sess.Values["n"].(int)
		if !ok {
			return echo.ErrNotFound
		}
		return c.String(http.StatusOK, strconv.Itoa(n))
	})
	e.POST(PathWrite, func(c echo.Context) error {
		sess, err := session.Get(CookieName, c)
		if err != nil {
			return err
		}
		n, _ := sess.Values["n"].(int)
		sess.Values["n"] = n + 1
		if err := sess.Save(c.Request(), c.Response()); err != nil {
			return err
		}
		return c.String(http.StatusOK, strconv.Itoa(n+1))
	})
	e.POST(PathCreate, func(c echo.Context) error {
		sess, err := session.Get(CookieName, c)
		if err != nil {
			return err
		}
		sess.Values["user"] = User
		sess.Values["n"] = 0
		if err := sess.Save(c.Request(), c.Response()); err != nil {
			return err
		}
		return c.String(http.StatusOK, "ok")
	})
	e.GET(PathNone, func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
}

// seedEchosess saves n sessions under random keys.
func seedEchosess(ctx context.Context, store echosess.Store, n int) error {
	exp := time.Now().Add(lifetime)
	for range n {
		rec := echosess.Record{
			Key:      randomID(),
			Data:     map[string]json.RawMessage{"user": json.RawMessage(`"seed"`), "n": json.RawMessage(`0`)},
			Expiry:   exp,
			Deadline: exp,
		}
		if err := store.Save(ctx, rec); err != nil {
			return err
		}
	}
	return nil
}

// seedSCS commits n sessions under random tokens.
func seedSCS(store scs.Store, n int) error {
	exp := time.Now().Add(lifetime)
	b, err := scs.GobCodec{}.Encode(exp, map[string]any{"user": "seed", "n": 0})
	if err != nil {
		return err
	}
	for range n {
		if err := store.Commit(randomID(), b, exp); err != nil {
			return err
		}
	}
	return nil
}

// seedGorilla stores n sessions under random IDs.
func seedGorilla(store *GorillaMemStore, n int) error {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(map[any]any{"user": "seed", "n": 0}); err != nil {
		return err
	}
	it := gorillaItem{data: buf.Bytes(), expiry: time.Now().Add(lifetime)}
	for range n {
		store.mu.Lock()
		store.items[randomID()] = it
		store.mu.Unlock()
	}
	return nil
}
