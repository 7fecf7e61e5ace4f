package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// errStoreClosed is the Lost of the watchers that a store's Close leaves.
var errStoreClosed = errors.New("store is closed")

// errUnsupportedFeed is the error of WatchChanges on a store that reports no changes.
var errUnsupportedFeed = fmt.Errorf("store reports no changes: %w", errors.ErrUnsupported)

// ChangeHub fans the reports of one source, such as one listening connection, out
// to the watchers of a store, so that a process needs one source however many
// caches watch the store. The source runs from the first watcher to the last one's
// stop, or until close.
type ChangeHub struct {
	// run is the source: it reports through the hub until stop is closed.
	run func(h *ChangeHub, stop <-chan struct{})

	mu       sync.Mutex // held while watchers are called, so each sees reports in order
	watchers map[*hubWatcher]struct{}
	watching bool          // the source reports every change now
	stop     chan struct{} // closed to stop the running source; nil when none runs
	done     chan struct{} // closed when the running source has returned
	closed   bool
}

// hubWatcher is one watcher's place in the hub, which its stop function removes.
type hubWatcher struct{ w ChangeWatcher }

func NewChangeHub(run func(h *ChangeHub, stop <-chan struct{})) *ChangeHub {
	return &ChangeHub{run: run, watchers: make(map[*hubWatcher]struct{})}
}

// watch adds w and starts the source if it is the first watcher. A watcher that
// joins while the source reports every change hears Watching at once.
func (h *ChangeHub) watch(w ChangeWatcher) (stop func(), err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errStoreClosed
	}
	hw := &hubWatcher{w}
	h.watchers[hw] = struct{}{}
	if h.watching {
		w.Watching()
	}
	if h.stop == nil {
		h.stop, h.done = make(chan struct{}), make(chan struct{})
		go func(stop <-chan struct{}, done chan<- struct{}) {
			defer close(done)
			h.run(h, stop)
		}(h.stop, h.done)
	}
	var once sync.Once
	return func() { once.Do(func() { h.leave(hw) }) }, nil
}

// leave removes hw, and stops the source, waiting for it, when no watcher is left.
func (h *ChangeHub) leave(hw *hubWatcher) {
	h.mu.Lock()
	delete(h.watchers, hw)
	if len(h.watchers) > 0 {
		h.mu.Unlock()
		return
	}
	done := h.halt()
	h.mu.Unlock()
	<-done
}

// close stops the source for good, waits for it, and tells the watchers left that
// changes go unreported from now on.
func (h *ChangeHub) close() {
	h.mu.Lock()
	h.closed = true
	done := h.halt()
	for hw := range h.watchers {
		hw.w.Lost(errStoreClosed)
	}
	h.watchers = map[*hubWatcher]struct{}{}
	h.mu.Unlock()
	<-done
}

// halt signals the running source to stop, under h.mu, and returns what is closed
// once it has.
func (h *ChangeHub) halt() <-chan struct{} {
	if h.stop == nil {
		done := make(chan struct{})
		close(done)
		return done
	}
	close(h.stop)
	done := h.done
	h.stop, h.done, h.watching = nil, nil, false
	return done
}

// The reports of the source, which hold h.mu while the watchers are called. A
// source that was stopped reports nothing more: its reports may race with a new
// source's.

func (h *ChangeHub) ReportWatching(stop <-chan struct{}) {
	if h.lockRunning(stop) {
		defer h.mu.Unlock()
		h.watching = true
		for hw := range h.watchers {
			hw.w.Watching()
		}
	}
}

func (h *ChangeHub) ReportChanged(stop <-chan struct{}, key string, version int64) {
	if h.lockRunning(stop) {
		defer h.mu.Unlock()
		for hw := range h.watchers {
			hw.w.Changed(key, version)
		}
	}
}

func (h *ChangeHub) ReportLost(stop <-chan struct{}, err error) {
	if h.lockRunning(stop) {
		defer h.mu.Unlock()
		h.watching = false
		for hw := range h.watchers {
			hw.w.Lost(err)
		}
	}
}

// The backoff of a listener's reconnection (RunListener): it doubles from the first
// delay up to the last.
const (
	ReconnectFirst = 100 * time.Millisecond
	ReconnectMax   = 5 * time.Second
)

// RunListener is the source of a hub whose store listens on a connection of its
// own: it runs listen, which reports Watching and the changes through h, until stop
// is closed, which ends listen's ctx. When listen fails, it reports the failure as
// Lost and runs listen again after a delay that doubles from ReconnectFirst up to
// ReconnectMax, and starts from ReconnectFirst again after a listen that ran longer
// than ReconnectMax.
func RunListener(h *ChangeHub, stop <-chan struct{}, dialect Dialect, listen func(ctx context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-stop
		cancel()
	}()
	delay := ReconnectFirst
	for {
		start := time.Now()
		err := listen(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > ReconnectMax {
			delay = ReconnectFirst // it was up for a while: this is a new outage
		}
		h.ReportLost(stop, fmt.Errorf("%s: listening for session changes: %w; reconnecting in %v", dialect, err, delay))
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, ReconnectMax)
	}
}

// lockRunning locks h.mu and reports whether the source that stop belongs to is
// still running; it leaves h.mu unlocked when not.
func (h *ChangeHub) lockRunning(stop <-chan struct{}) bool {
	h.mu.Lock()
	select {
	case <-stop:
		h.mu.Unlock()
		return false
	default:
		return true
	}
}
