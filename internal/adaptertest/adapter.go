// Package adaptertest is the black-box HTTP test suite that every framework adapter
// of echosess runs: one table of middleware tests, one of lifecycle tests under
// concurrent requests, and a linearizability check, each on every store variant.
//
// The suite serves a test app over real HTTP and drives it with browsers that keep
// cookies. An adapter's tests implement Adapter in a thin file, building the app from
// the adapter's Middleware and the suite's routes, and call RunMiddleware,
// RunLifecycle and RunLinearizable. The routes reach the adapter's handler API
// through Ctx, which a Binding of the adapter's functions supplies, so the suite's
// logic exists once for all adapters.
package adaptertest

import (
	"net/http"
	"net/url"
	"reflect"
	"time"

	"github.com/echosess/echosess/internal/engine"
)

// Adapter is a framework adapter under test.
type Adapter interface {
	// Serve returns an app in which every request passes through outside, then the
	// adapter's Middleware configured by cfg, then inside, to the handler of the
	// route that its method and path name. A nil middleware passes requests on.
	Serve(cfg Config, outside, inside Middleware, routes []Route) http.Handler
}

// Config configures the adapter's Middleware in the suite, on the suite's Ctx: an
// adapter turns it into its own with Binding.Session.
type Config = engine.Config[Ctx]

// Handler is a route's handler in the suite.
type Handler func(Ctx) error

// Middleware is a middleware of the suite's app.
type Middleware func(next Handler) Handler

// Route is one route of the suite's app.
type Route struct {
	Method, Path string
	Handler      Handler
}

// Ctx is a request as the suite's handlers and middleware see it: the adapter's
// handler API on the request's context, and the framework calls the routes make.
type Ctx interface {
	// The handler API: Get[string], Get[int], Pop[string], Set, Delete, Clear,
	// Destroy, RenewID, SetExpiry, RememberMe and Save.
	Get(key string) (string, bool, error)
	GetInt(key string) (int, bool, error)
	Pop(key string) (string, bool, error)
	Set(key string, value any) error
	Delete(key string) error
	Clear() error
	Destroy() error
	RenewID() error
	SetExpiry(e engine.Expiry) error
	RememberMe(remember bool) error
	Save() error
	// The introspection calls: IsNew, Keys, Expires and ID.
	IsNew() (bool, error)
	Keys() ([]string, error)
	Expires() (lifetime, idle time.Time, err error)
	ID() string
	// The user sessions: LoginUser, UserID, UserSessions, RevokeSession and
	// RevokeOtherSessions.
	LoginUser(userID string) error
	UserID() (string, error)
	UserSessions() ([]engine.SessionInfo, error)
	RevokeSession(handle string) error
	RevokeOtherSessions() (int, error)
	// DefaultErrorHandler returns what the adapter's default ErrorHandler returns.
	DefaultErrorHandler(err error) error

	// The framework context's own QueryParam, QueryParams, String, Path, Request
	// and SetRequest.
	passedOn
	// Response returns the response writer.
	Response() http.ResponseWriter
	// Value and SetValue read and write the framework context's own store.
	Value(key string) any
	SetValue(key string, value any)

	unwrap() any // the framework's context
}

// passedOn is the part of a framework's request context that Ctx passes on as it
// is.
type passedOn interface {
	QueryParam(name string) string
	QueryParams() url.Values
	String(code int, s string) error
	Path() string
	Request() *http.Request
	SetRequest(r *http.Request)
}

// frameworkContext is what the suite uses of a framework's own request context;
// Echo v4's echo.Context and Echo v5's *echo.Context both have it.
type frameworkContext interface {
	passedOn
	Get(key string) any
	Set(key string, val any)
}

// Binding is an adapter's side of the suite, for an adapter whose handlers take a
// context C and whose framework's handlers and middleware are of type H and M: its
// Middleware, default ErrorHandler and handler API as function values. Its methods
// turn the suite's configuration, middleware and handlers into the adapter's, so
// that an adapter's test file holds a Binding literal and the lines that build its
// app.
type Binding[C frameworkContext, H ~func(C) error, M ~func(H) H] struct {
	Middleware          func(engine.Config[C]) M
	DefaultErrorHandler func(C, error) error

	Get        func(C, string) (string, bool, error)
	GetInt     func(C, string) (int, bool, error)
	Pop        func(C, string) (string, bool, error)
	Set        func(C, string, any) error
	Delete     func(C, string) error
	Clear      func(C) error
	Destroy    func(C) error
	RenewID    func(C) error
	SetExpiry  func(C, engine.Expiry) error
	RememberMe func(C, bool) error
	Save       func(C) error

	IsNew   func(C) (bool, error)
	Keys    func(C) ([]string, error)
	Expires func(C) (time.Time, time.Time, error)
	ID      func(C) string

	LoginUser           func(C, string) error
	UserID              func(C) (string, error)
	UserSessions        func(C) ([]engine.SessionInfo, error)
	RevokeSession       func(C, string) error
	RevokeOtherSessions func(C) (int, error)

	// Response returns the response writer of c's request.
	Response func(C) http.ResponseWriter
}

// Session returns the adapter's Middleware configured by cfg.
func (b *Binding[C, H, M]) Session(cfg Config) M {
	return b.Middleware(convert(cfg, b.Ctx))
}

// Use returns m as a middleware of the adapter's framework.
func (b *Binding[C, H, M]) Use(m Middleware) M {
	if m == nil {
		return func(next H) H { return next }
	}
	return func(next H) H {
		h := m(func(c Ctx) error { return next(c.unwrap().(C)) })
		return func(c C) error { return h(b.Ctx(c)) }
	}
}

// Handle returns h as a handler of the adapter's framework.
func (b *Binding[C, H, M]) Handle(h Handler) H {
	return func(c C) error { return h(b.Ctx(c)) }
}

// Ctx returns the suite's view of c.
func (b *Binding[C, H, M]) Ctx(c C) Ctx { return bound[C, H, M]{passedOn: c, c: c, b: b} }

// convert returns cfg as the configuration of an adapter whose context is C: the
// Skipper and the ErrorHandler see the adapter's context as a Ctx made by wrap, and
// every other field is copied as it is, by reflection, so that a field added to
// engine.Config reaches every adapter under test without a change here.
func convert[C any](cfg Config, wrap func(C) Ctx) engine.Config[C] {
	var out engine.Config[C]
	src, dst := reflect.ValueOf(cfg), reflect.ValueOf(&out).Elem()
	for i := range src.NumField() {
		if f := dst.Field(i); f.Type() == src.Field(i).Type() {
			f.Set(src.Field(i))
		}
	}
	if skip := cfg.Skipper; skip != nil {
		out.Skipper = func(c C) bool { return skip(wrap(c)) }
	}
	if handle := cfg.ErrorHandler; handle != nil {
		out.ErrorHandler = func(c C, err error) error { return handle(wrap(c), err) }
	}
	return out
}

// bound is the Ctx of a Binding: a framework context with the adapter's handler API.
type bound[C frameworkContext, H ~func(C) error, M ~func(H) H] struct {
	passedOn // c
	c        C
	b        *Binding[C, H, M]
}

func (x bound[C, H, M]) Get(key string) (string, bool, error) { return x.b.Get(x.c, key) }
func (x bound[C, H, M]) GetInt(key string) (int, bool, error) { return x.b.GetInt(x.c, key) }
func (x bound[C, H, M]) Pop(key string) (string, bool, error) { return x.b.Pop(x.c, key) }
func (x bound[C, H, M]) Set(key string, value any) error      { return x.b.Set(x.c, key, value) }
func (x bound[C, H, M]) Delete(key string) error              { return x.b.Delete(x.c, key) }
func (x bound[C, H, M]) Clear() error                         { return x.b.Clear(x.c) }
func (x bound[C, H, M]) Destroy() error                       { return x.b.Destroy(x.c) }
func (x bound[C, H, M]) RenewID() error                       { return x.b.RenewID(x.c) }
func (x bound[C, H, M]) SetExpiry(e engine.Expiry) error      { return x.b.SetExpiry(x.c, e) }
func (x bound[C, H, M]) RememberMe(remember bool) error       { return x.b.RememberMe(x.c, remember) }
func (x bound[C, H, M]) Save() error                          { return x.b.Save(x.c) }
func (x bound[C, H, M]) IsNew() (bool, error)                 { return x.b.IsNew(x.c) }
func (x bound[C, H, M]) Keys() ([]string, error)              { return x.b.Keys(x.c) }
func (x bound[C, H, M]) Expires() (time.Time, time.Time, error) {
	return x.b.Expires(x.c)
}
func (x bound[C, H, M]) ID() string { return x.b.ID(x.c) }

func (x bound[C, H, M]) LoginUser(id string) error { return x.b.LoginUser(x.c, id) }
func (x bound[C, H, M]) UserID() (string, error)   { return x.b.UserID(x.c) }
func (x bound[C, H, M]) UserSessions() ([]engine.SessionInfo, error) {
	return x.b.UserSessions(x.c)
}
func (x bound[C, H, M]) RevokeSession(handle string) error { return x.b.RevokeSession(x.c, handle) }
func (x bound[C, H, M]) RevokeOtherSessions() (int, error) { return x.b.RevokeOtherSessions(x.c) }
func (x bound[C, H, M]) DefaultErrorHandler(err error) error {
	return x.b.DefaultErrorHandler(x.c, err)
}

func (x bound[C, H, M]) Response() http.ResponseWriter  { return x.b.Response(x.c) }
func (x bound[C, H, M]) Value(key string) any           { return x.c.Get(key) }
func (x bound[C, H, M]) SetValue(key string, value any) { x.c.Set(key, value) }
func (x bound[C, H, M]) unwrap() any                    { return x.c }
