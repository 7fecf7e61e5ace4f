package storetest_test

import (
	"testing"

	"github.com/echosess/echosess/memstore"
	"github.com/echosess/echosess/sessionstore"
	"github.com/echosess/echosess/storetest"
)

// A Store of your own, checked against the contract the middleware relies on. Run it
// under go test -race, and once more behind a cache with echosess.WithCache. The
// test imports neither Echo adapter.
func ExampleRun() {
	// In a file such as mystore_test.go:
	_ = func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) sessionstore.Store {
			return memstore.New() // your store here, empty for each subtest
		})
	}
}
