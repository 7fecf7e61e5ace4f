package core

import (
	"errors"
	"fmt"
	"sync"
)

// ChangeFeed is a Store that reports the changes to its records, including those
// that other processes make, so that a cache in front of it stays coherent across
// app instances. WithCache and Config.Cache watch the feed of any Store that has
// one: a cached record is evicted as soon as its change is reported, and the cache
// is not used while changes may go unreported. The PostgreSQL store is a
// ChangeFeed; storetest.ChangeFeed checks an implementation.
type ChangeFeed interface {
	// WatchChanges starts reporting the changes to the store's records to w, from a
	// goroutine of the store's, and returns the function that stops it. It fails,
	// wrapping errors.ErrUnsupported, when the store cannot report changes (the
	// SQLite store: SQLite notifies no other process). The calls to w are made one
	// at a time, in order, and must return quickly.
	WatchChanges(w ChangeWatcher) (stop func(), err error)
}

// ChangeWatcher receives the reports of a ChangeFeed.
type ChangeWatcher interface {
	// Watching reports that every change from now on will be reported. It comes
	// first, and again after each Lost once the feed has recovered. Changes made
	// before it may have gone unreported.
	Watching()
	// Changed reports that the record under key was written at version, or removed,
	// or changed in a way that kept no version count, when version is 0.
	Changed(key string, version int64)
	// Lost reports that changes may go unreported from now until the next Watching,
	// and why: the feed lost its connection, say, and is reconnecting.
	Lost(err error)
}

// errStoreClosed is the Lost of the watchers that a store's Close leaves.
var errStoreClosed = errors.New("store is closed")

// errUnsupportedFeed is the error of WatchChanges on a store that reports no changes.
var errUnsupportedFeed = fmt.Errorf("store reports no changes: %w", errors.ErrUnsupported)

// changeHub fans the reports of one source, such as one listening connection, out
// to the watchers of a store, so that a process needs one source however many
// caches watch the store. The source runs from the first watcher to the last one's
// stop, or until close.
type changeHub struct {
	// run is the source: it reports through the hub until stop is closed.
	run func(h *changeHub, stop <-chan struct{})

	mu       sync.Mutex // held while watchers are called, so each sees reports in order
	watchers map[*hubWatcher]struct{}
	watching bool          // the source reports every change now
	stop     chan struct{} // closed to stop the running source; nil when none runs
	done     chan struct{} // closed when the running source has returned
	closed   bool
}

// hubWatcher is one watcher's place in the hub, which its stop function removes.
type hubWatcher struct{ w ChangeWatcher }

func newChangeHub(run func(h *changeHub, stop <-chan struct{})) *changeHub {
	return &changeHub{run: run, watchers: make(map[*hubWatcher]struct{})}
}

// watch adds w and starts the source if it is the first watcher. A watcher that
// joins while the source reports every change hears Watching at once.
func (h *changeHub) watch(w ChangeWatcher) (stop func(), err error) {
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
func (h *changeHub) leave(hw *hubWatcher) {
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
func (h *changeHub) close() {
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
func (h *changeHub) halt() <-chan struct{} {
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

func (h *changeHub) reportWatching(stop <-chan struct{}) {
	if h.lockRunning(stop) {
		defer h.mu.Unlock()
		h.watching = true
		for hw := range h.watchers {
			hw.w.Watching()
		}
	}
}

func (h *changeHub) reportChanged(stop <-chan struct{}, key string, version int64) {
	if h.lockRunning(stop) {
		defer h.mu.Unlock()
		for hw := range h.watchers {
			hw.w.Changed(key, version)
		}
	}
}

func (h *changeHub) reportLost(stop <-chan struct{}, err error) {
	if h.lockRunning(stop) {
		defer h.mu.Unlock()
		h.watching = false
		for hw := range h.watchers {
			hw.w.Lost(err)
		}
	}
}

// lockRunning locks h.mu and reports whether the source that stop belongs to is
// still running; it leaves h.mu unlocked when not.
func (h *changeHub) lockRunning(stop <-chan struct{}) bool {
	h.mu.Lock()
	select {
	case <-stop:
		h.mu.Unlock()
		return false
	default:
		return true
	}
}
