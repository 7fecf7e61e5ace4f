package sessionstore

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Cleaner calls a Store's DeleteExpired at a fixed interval in its own goroutine.
// A failed run is logged and the next one goes ahead as planned.
type Cleaner struct {
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// StartCleaner starts a Cleaner that runs until ctx is cancelled or Stop is called.
// A nil logger means slog.Default. It panics on an interval that is not positive, as
// time.NewTicker does, but here rather than in the Cleaner's goroutine.
func StartCleaner(ctx context.Context, store Store, interval time.Duration, logger *slog.Logger) *Cleaner {
	if interval <= 0 {
		panic(fmt.Sprintf("echosess: StartCleaner: the interval must be positive, not %v", interval))
	}
	if logger == nil {
		logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(ctx)
	c := &Cleaner{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
				n, err := store.DeleteExpired(ctx)
				if err != nil && ctx.Err() == nil {
					logger.ErrorContext(ctx, "echosess: deleting expired sessions failed", "error", err)
				} else if n > 0 {
					logger.DebugContext(ctx, "echosess: deleted expired sessions", "count", n)
				}
			}
		}
	}()
	return c
}

// Stop stops the Cleaner and waits for a run in progress to finish.
func (c *Cleaner) Stop() {
	c.once.Do(c.cancel)
	<-c.done
}
