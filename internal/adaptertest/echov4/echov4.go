// Package echov4 is the Echo v4 adapter, the root package echosess, under the test
// suite of package adaptertest: its Binding and its Adapter. It is no test file so
// that the tests of other modules in this repository (the redisstore module's) run
// the suite's tables through the adapter too.
package echov4

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/internal/adaptertest"
	"github.com/echosess/echosess/internal/engine"
)

// Binding binds the suite to package echosess's Middleware and handler API.
var Binding = &adaptertest.Binding[echo.Context, echo.HandlerFunc, echo.MiddlewareFunc]{
	Middleware: func(cfg engine.Config[echo.Context]) echo.MiddlewareFunc {
		return echosess.Middleware(echosess.Config(cfg))
	},
	DefaultErrorHandler: echosess.DefaultConfig.ErrorHandler,
	Get:                 echosess.Get[string], GetInt: echosess.Get[int], Pop: echosess.Pop[string],
	Set: echosess.Set, Delete: echosess.Delete, Clear: echosess.Clear, Destroy: echosess.Destroy,
	RenewID: echosess.RenewID, SetExpiry: echosess.SetExpiry, RememberMe: echosess.RememberMe, Save: echosess.Save,
	IsNew: echosess.IsNew, Keys: echosess.Keys, Expires: echosess.Expires, ID: echosess.ID,
	LoginUser: echosess.LoginUser, UserID: echosess.UserID, UserSessions: echosess.UserSessions,
	RevokeSession: echosess.RevokeSession, RevokeOtherSessions: echosess.RevokeOtherSessions,
	Response: func(c echo.Context) http.ResponseWriter { return c.Response() },
}

// Adapter is the adaptertest.Adapter of Echo v4.
type Adapter struct{}

// Serve returns the app of NewApp.
func (Adapter) Serve(cfg adaptertest.Config, outside, inside adaptertest.Middleware, routes []adaptertest.Route) http.Handler {
	return NewApp(cfg, outside, inside, routes)
}

// NewApp returns the app of Serve as an *echo.Echo, for tests that add routes.
func NewApp(cfg adaptertest.Config, outside, inside adaptertest.Middleware, routes []adaptertest.Route) *echo.Echo {
	e := echo.New()
	e.Use(Binding.Use(outside), Binding.Session(cfg), Binding.Use(inside))
	for _, r := range routes {
		e.Add(r.Method, r.Path, Binding.Handle(r.Handler))
	}
	return e
}
