package sessionstore

import "errors"

// Errors of the stores, for errors.Is. Their texts do not name the package: the
// caller that reports them adds that once.
var (
	// ErrNotFound means the store holds no live record under the key: it never existed,
	// was deleted, or has expired.
	ErrNotFound = errors.New("session not found")
	// ErrConflict means a Save lost a compare-and-swap: the stored version was not the
	// one the record was loaded at.
	ErrConflict = errors.New("session was changed concurrently")
	// ErrDecode means stored data, or a value read with Get or Pop, does not decode.
	ErrDecode = errors.New("cannot decode session data")
	// ErrStoreFull means a Save would take the store past its bound (memstore's
	// WithMaxBytes) and nothing it may evict makes room: it stored nothing.
	ErrStoreFull = errors.New("session store is full")
)
