package engine

import (
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"time"
)

// commitLocks is how many locks serialise the commits of one process. Commits of
// the same session take the same lock, so they rarely race each other to the store.
const commitLocks = 1024

// Manager is a middleware's configuration and the state its requests share. A
// framework adapter makes one with NewManager and starts a Session for each request
// with Start.
type Manager struct {
	settings
	store       Store  // Config.Store, bounded by StoreTimeout and behind Config.Cache
	inMemory    bool   // store is a bare MemoryStore, which never waits
	cookieAttrs string // the cookie's attributes after its value and Max-Age
	seed        maphash.Seed
	locks       [commitLocks]sync.Mutex
	// versioned is set when store is a cache kept coherent by the store's changes,
	// or a VersionLoader, which caches by itself: the cookie then carries the session's version after each change, so that an
	// instance whose cache has not yet heard of the client's last change reads the
	// store instead; the client always reads its own writes. An idle slide alone
	// changes no data and sends no cookie for it.
	versioned bool
}

// settings is the part of a Config that the engine reads while it serves requests.
type settings struct {
	CookieName                         string
	CookieSessionOnly                  bool
	RecordDevice                       bool
	DefaultExpiry                      Expiry
	IdleTimeout, RememberedIdleTimeout time.Duration
	StoreTimeout                       time.Duration
	MaxSize                            int
	Logger                             *slog.Logger
	Now                                func() time.Time
}

// NewManager fills the zero fields of cfg from defaults, checks it, and returns the
// Manager of a middleware configured by it. An adapter's Middleware panics with the
// error, as Echo's own middleware does on a configuration that cannot work.
func NewManager[C any](cfg *Config[C], defaults Config[C]) (*Manager, error) {
	if cfg.Store == nil {
		return nil, errors.New("echosess: Config.Store is required")
	}
	cfg.Store = own(cfg.Store)
	if cfg.Cache != nil {
		if err := refusedCache(cfg.Store); err != nil {
			return nil, fmt.Errorf("echosess: Config.Cache must be nil for this store: %w", err)
		}
		cfg.Cache = own(cfg.Cache)
	}
	if cfg.Skipper == nil {
		cfg.Skipper = defaults.Skipper
	}
	fill(&cfg.CookieName, defaults.CookieName)
	fill(&cfg.CookiePath, defaults.CookiePath)
	fill(&cfg.CookieSameSite, defaults.CookieSameSite)
	if cfg.DefaultExpiry.isZero() {
		cfg.DefaultExpiry = defaults.DefaultExpiry
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = defaults.MaxSize
	}
	fill(&cfg.StoreTimeout, defaults.StoreTimeout)
	if cfg.ErrorHandler == nil {
		cfg.ErrorHandler = defaults.ErrorHandler
	}
	fill(&cfg.Logger, defaults.Logger)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = defaults.Now
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	switch now := cfg.Now(); {
	case cfg.IdleTimeout < 0:
		return nil, fmt.Errorf("echosess: Config.IdleTimeout is negative (%v); 0 turns it off", cfg.IdleTimeout)
	case cfg.RememberedIdleTimeout < 0:
		return nil, fmt.Errorf("echosess: Config.RememberedIdleTimeout is negative (%v); 0 turns it off", cfg.RememberedIdleTimeout)
	case !cfg.DefaultExpiry.from(now).After(now):
		return nil, fmt.Errorf("echosess: Config.DefaultExpiry ends every session before it starts (%v)", cfg.DefaultExpiry.from(now))
	}
	attrs, err := cookieAttributes(cfg.CookieName, cfg.CookiePath, cfg.CookieDomain, cfg.CookieSameSite, !cfg.CookieInsecure, !cfg.CookieScriptReadable)
	if err != nil {
		return nil, fmt.Errorf("echosess: invalid cookie configuration: %w", err)
	}
	m := &Manager{
		settings: settings{
			CookieName: cfg.CookieName, CookieSessionOnly: cfg.CookieSessionOnly, RecordDevice: cfg.RecordDevice,
			DefaultExpiry: cfg.DefaultExpiry, IdleTimeout: cfg.IdleTimeout, RememberedIdleTimeout: cfg.RememberedIdleTimeout,
			StoreTimeout: cfg.StoreTimeout, MaxSize: cfg.MaxSize, Logger: cfg.Logger, Now: cfg.Now,
		},
		store: cfg.Store, seed: maphash.MakeSeed(), cookieAttrs: attrs,
	}
	_, m.inMemory = m.store.(*MemoryStore)
	if !m.inMemory && cfg.StoreTimeout > 0 {
		m.store = boundedStore{Store: m.store, timeout: cfg.StoreTimeout}
	}
	if cfg.Cache != nil {
		cache := cfg.Cache
		if _, inMemory := cache.(*MemoryStore); !inMemory && cfg.StoreTimeout > 0 {
			cache = boundedCache{Cache: cache, timeout: cfg.StoreTimeout}
		}
		cached := newCachedStore(m.store, cache, cfg.Logger, cfg.Now)
		m.store, m.inMemory, m.versioned = cached, false, cached.coherent
	} else if _, ok := find[VersionLoader](cfg.Store); ok {
		m.versioned = true
	}
	return m, nil
}

// Framework is what the middleware needs of a framework adapter, whose request
// context is a C, besides the Exchange of each request.
type Framework[C any] struct {
	// Attach keeps m in c, from which the adapter's handler API starts the request's
	// session on its first call.
	Attach func(c C, m *Manager)
	// Started returns the session of c, or nil when the handler never touched it.
	Started func(c C) *Session
	// IsServerError reports whether the framework answers err with a 5xx.
	IsServerError func(err error) bool
}

// Serve returns the middleware of an adapter, as a function of a request and the
// handler after the middleware: configured by cfg, whose zero fields defaults
// fills, it runs the handler and then commits what it left of the request's
// session, and hands a failed commit to cfg.ErrorHandler. A handler that panics,
// or whose error the framework answers with a 5xx, commits nothing: its half-done
// changes must not outlive the failure. A 4xx commits, as for a flash message set
// before a validation error. Serve panics on a configuration that cannot work, as
// Echo's middleware does.
func Serve[C any](cfg Config[C], defaults Config[C], f Framework[C]) func(c C, next func(C) error) error {
	m, err := NewManager(&cfg, defaults)
	if err != nil {
		panic(err.Error())
	}
	return func(c C, next func(C) error) (err error) {
		if cfg.Skipper(c) {
			return next(c)
		}
		f.Attach(c, m)
		returned := false
		defer func() {
			if !returned {
				if s := f.Started(c); s != nil {
					s.abandon() // the handler panicked
				}
			}
		}()
		err = next(c)
		returned = true
		switch s := f.Started(c); {
		case s == nil:
		case err != nil && f.IsServerError(err):
			s.abandon()
		default:
			if cerr := s.Finish(); cerr != nil {
				return cfg.ErrorHandler(c, cerr)
			}
		}
		return err
	}
}

// fill sets *field to def when it is the zero value.
func fill[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

// Start makes s the session of one request, whose exchange is x. Adapters embed a
// Session in the value that implements Exchange, so that one allocation serves both.
func (m *Manager) Start(s *Session, x Exchange) {
	s.m, s.x = m, x
}

// lock locks the commit lock of the session under key and returns it.
func (m *Manager) lock(key string) *sync.Mutex {
	mu := &m.locks[maphash.String(m.seed, key)%commitLocks]
	mu.Lock()
	return mu
}
