package engine

import "context"

// EndListed ends recs in store with one statement, for the tests of package
// engine_test, which build the public stores.
func EndListed(ctx context.Context, store Store, recs []Record) ([]string, error) {
	return own(store).(batchEnder).endListed(ctx, recs)
}
