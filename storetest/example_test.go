package storetest_test

import (
	"testing"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/storetest"
)

// A Store of your own, checked against the contract the middleware relies on. Run it
// under go test -race, and once more behind a cache with echosess.WithCache.
func ExampleRun() {
	// In a file such as mystore_test.go:
	_ = func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) echosess.Store {
			return echosess.NewMemoryStore() // your store here, empty for each subtest
		})
	}
}
