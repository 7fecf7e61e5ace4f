package sessionstore

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestStartCleanerInterval: an interval that is not positive fails in StartCleaner's
// caller, where it can be recovered, not later in the Cleaner's goroutine, which
// would take the process down (rule 13 of issue 11); a positive one starts and stops.
func TestStartCleanerInterval(t *testing.T) {
	for _, interval := range []time.Duration{0, -time.Second} {
		t.Run(interval.String(), func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "interval must be positive") {
					t.Fatalf("recovered %v, want a panic about the interval", r)
				}
			}()
			StartCleaner(context.Background(), emptyStore{}, interval, nil)
			t.Fatal("StartCleaner returned")
		})
	}
	StartCleaner(context.Background(), emptyStore{}, time.Hour, nil).Stop()
}

// emptyStore is a Store that holds nothing.
type emptyStore struct{}

func (emptyStore) Load(context.Context, string) (Record, error) { return Record{}, ErrNotFound }
func (emptyStore) Save(context.Context, Record) error           { return nil }
func (emptyStore) Delete(context.Context, string) error         { return nil }
func (emptyStore) DeleteExpired(context.Context) (int64, error) { return 0, nil }
