package echosess

import (
	"hash/maphash"
	"log/slog"
	"sync"
)

// commitLocks is how many locks serialise the commits of one process. Commits of
// the same session take the same lock, so they rarely race each other to the store.
const commitLocks = 1024

// manager is a Middleware's configuration and the state its requests share.
type manager struct {
	Config
	store       Store  // Config.Store, bounded by StoreTimeout and behind Config.Cache
	inMemory    bool   // store is a bare MemoryStore, which never waits
	cookieAttrs string // the cookie's attributes after its value and Max-Age
	seed        maphash.Seed
	locks       [commitLocks]sync.Mutex
}

// newManager checks cfg, fills its zero fields from DefaultConfig and builds the
// store chain. It panics on a configuration that cannot work.
func newManager(cfg Config) *manager {
	if cfg.Store == nil {
		panic("echosess: Config.Store is required")
	}
	d := DefaultConfig
	if cfg.Skipper == nil {
		cfg.Skipper = d.Skipper
	}
	if cfg.CookieName == "" {
		cfg.CookieName = d.CookieName
	}
	if cfg.CookiePath == "" {
		cfg.CookiePath = d.CookiePath
	}
	if cfg.CookieSameSite == 0 {
		cfg.CookieSameSite = d.CookieSameSite
	}
	if cfg.DefaultExpiry.isZero() {
		cfg.DefaultExpiry = d.DefaultExpiry
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = d.MaxSize
	}
	if cfg.StoreTimeout == 0 {
		cfg.StoreTimeout = d.StoreTimeout
	}
	if cfg.ErrorHandler == nil {
		cfg.ErrorHandler = d.ErrorHandler
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = d.Now
	}
	m := &manager{Config: cfg, store: cfg.Store, seed: maphash.MakeSeed(), cookieAttrs: cookieAttributes(cfg)}
	_, m.inMemory = m.store.(*MemoryStore)
	if !m.inMemory && cfg.StoreTimeout > 0 {
		m.store = boundedStore{Store: m.store, timeout: cfg.StoreTimeout}
	}
	if cfg.Cache != nil {
		m.store = newCachedStore(m.store, cfg.Cache, cfg.Logger, cfg.Now)
		m.inMemory = false
	}
	return m
}

// lock locks the commit lock of the session under key and returns it.
func (m *manager) lock(key string) *sync.Mutex {
	mu := &m.locks[maphash.String(m.seed, key)%commitLocks]
	mu.Lock()
	return mu
}
