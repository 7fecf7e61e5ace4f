package echosess_test

import (
	"testing"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/storetest"
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) echosess.Store { return echosess.NewMemoryStore() })
}

func TestMemoryStoreBehindCache(t *testing.T) {
	storetest.Run(t, func(t *testing.T) echosess.Store {
		return echosess.WithCache(echosess.NewMemoryStore(), echosess.NewMemoryStore(), nil)
	})
}
