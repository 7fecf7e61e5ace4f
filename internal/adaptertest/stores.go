package adaptertest

import (
	"testing"
	"time"

	"github.com/echosess/echosess/internal/engine"
	"github.com/echosess/echosess/memstore"
)

// StoreFactory makes an empty store that tells time with now.
type StoreFactory func(t *testing.T, now func() time.Time) engine.Store

// Variant is a store set-up that the middleware tests run on.
type Variant struct {
	Name     string
	NewStore StoreFactory
	Cached   bool // put a MemoryStore cache in front of the store
	// Coherent lets the middleware see the store's ChangeFeed or VersionLoader
	// through the suite's CountingStore, so that a cache is kept coherent by the
	// store's reports, or the store loads at the version the client saw, and the
	// cookie carries the session's version.
	Coherent bool
}

// NewMemoryStore is the StoreFactory of a MemoryStore.
func NewMemoryStore(t *testing.T, now func() time.Time) engine.Store {
	return memstore.New(memstore.WithClock(now))
}
