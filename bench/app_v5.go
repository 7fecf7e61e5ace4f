package bench

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"

	echosess "github.com/echosess/echosess/echov5"
	"github.com/echosess/echosess/internal/engine"
	"github.com/labstack/echo-contrib/v5/session"
	"github.com/labstack/echo/v5"
)

// The libraries on Echo v5, each beside its Echo v4 twin, on memory stores.
const (
	LibBaselineV5 = "baseline-v5" // the same routes on Echo v5 without sessions
	LibEchosessV5 = "echosess-v5" // echosess's v5 adapter (echov5) on its MemoryStore
	LibGorillaV5  = "gorilla-v5"  // echo-contrib/v5's session with GorillaMemStore
)

// isV5 reports whether lib's app runs on Echo v5.
func isV5(lib string) bool {
	return lib == LibBaselineV5 || lib == LibEchosessV5 || lib == LibGorillaV5
}

// isBaseline reports whether lib is a baseline app, without sessions, of Echo v4 or v5.
func isBaseline(lib string) bool { return lib == LibBaseline || lib == LibBaselineV5 }

// newAppV5 is NewApp for the libraries on Echo v5: the same app on the same stores.
func newAppV5(lib string, pg *Postgres, count bool) (*App, error) {
	if pg != nil {
		return nil, fmt.Errorf("bench: %s runs on memory stores only here", lib)
	}
	e := echo.New()
	a := &App{Lib: lib, Handler: e}
	switch lib {
	case LibBaselineV5:
		routeBaselineV5(e)
	case LibEchosessV5:
		mem := engine.NewMemoryStore()
		a.seed = func(ctx context.Context, n int) error { return seedEchosess(ctx, mem, n) }
		e.Use(echosess.Middleware(echosess.Config(echosessConfig[*echo.Context](lib, a.counted(mem, count)))))
		routeEchosessV5(e)
	case LibGorillaV5:
		if count {
			a.Count = new(Counter)
		}
		store := NewGorillaMemStore(a.Count)
		a.seed = func(_ context.Context, n int) error { return seedGorilla(store, n) }
		e.Use(session.Middleware(store))
		routeGorillaV5(e)
	}
	return a, nil
}

func routeBaselineV5(e *echo.Echo) {
	var n atomic.Int64 // one for all clients: the baseline keeps no sessions
	e.GET(PathRead, func(c *echo.Context) error { return c.String(http.StatusOK, User) })
	e.GET(PathCount, func(c *echo.Context) error {
		return c.String(http.StatusOK, strconv.FormatInt(n.Load(), 10))
	})
	e.POST(PathWrite, func(c *echo.Context) error {
		return c.String(http.StatusOK, strconv.FormatInt(n.Add(1), 10))
	})
	e.POST(PathCreate, func(c *echo.Context) error { return c.String(http.StatusOK, "ok") })
	e.GET(PathNone, func(c *echo.Context) error { return c.String(http.StatusOK, "ok") })
}

func routeEchosessV5(e *echo.Echo) {
	e.GET(PathRead, func(c *echo.Context) error {
		user, ok, err := echosess.Get[string](c, "user")
		if err != nil {
			return err
		}
		if !ok {
			return echo.ErrNotFound
		}
		return c.String(http.StatusOK, user)
	})
	e.GET(PathCount, func(c *echo.Context) error {
		n, ok, err := echosess.Get[int](c, "n")
		if err != nil {
			return err
		}
		if !ok {
			return echo.ErrNotFound
		}
		return c.String(http.StatusOK, strconv.Itoa(n))
	})
	e.POST(PathWrite, func(c *echo.Context) error {
		n, _, err := echosess.Get[int](c, "n")
		if err != nil {
			return err
		}
		if err := echosess.Set(c, "n", n+1); err != nil {
			return err
		}
		return c.String(http.StatusOK, strconv.Itoa(n+1))
	})
	e.POST(PathCreate, func(c *echo.Context) error {
		if err := echosess.Set(c, "user", User); err != nil {
			return err
		}
		if err := echosess.Set(c, "n", 0); err != nil {
			return err
		}
		return c.String(http.StatusOK, "ok")
	})
	e.GET(PathNone, func(c *echo.Context) error { return c.String(http.StatusOK, "ok") })
}

func routeGorillaV5(e *echo.Echo) {
	e.GET(PathRead, func(c *echo.Context) error {
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
	e.GET(PathCount, func(c *echo.Context) error {
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
	e.POST(PathWrite, func(c *echo.Context) error {
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
	e.POST(PathCreate, func(c *echo.Context) error {
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
	e.GET(PathNone, func(c *echo.Context) error { return c.String(http.StatusOK, "ok") })
}
