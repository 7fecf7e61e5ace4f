package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// Revocation is logout done from elsewhere, and logout wins: a session that a revoke
// call reports as ended stays ended, and so does every session renewed from it, even
// by a renewal that commits while the call runs. Each session is ended as Destroy
// ends it (end): by a compare-and-swap at the version last read, following the link
// that a renewal leaves behind to its successor.

// casFunc runs write against base and, each time write reports a lost
// compare-and-swap, against the record as reloaded: Manager.cas, or storeCAS
// outside a request.
type casFunc func(ctx context.Context, base Record, reread bool, write func(base Record) (lost bool, err error)) error

// storeCAS is the casFunc of code outside a request, such as an admin tool.
func storeCAS(store Store) casFunc {
	return func(ctx context.Context, base Record, reread bool, write func(Record) (bool, error)) error {
		return casLoop(ctx, store, base, reread, write)
	}
}

// end ends the session whose stored record is base, whatever was committed to it
// since base was read, and the sessions that renewals made of it meanwhile: it saves
// the record expired at its version (the compare-and-swap delete of the Store
// contract), following a renewal's link to its successor. With a user, it ends only
// a record still bound to that user: a browser that logged in as someone else since
// holds that user's session now. It reports whether it ended a live session rather
// than finding it ended or rebound already, and tells the caches of this process
// that watch the store (deletions).
func end(ctx context.Context, store Store, base Record, user string, cas casFunc) (ended bool, err error) {
	for range maxSaveAttempts {
		var successor string
		err := cas(ctx, base, false, func(base Record) (lost bool, err error) {
			if user != "" && base.UserID != user {
				return false, nil
			}
			if renewed(base) {
				successor = linkTarget(base)
				return false, nil
			}
			if err := store.Save(ctx, endRecord(base)); err != nil {
				return errors.Is(err, ErrConflict), err
			}
			ended = true
			return false, nil
		})
		switch {
		case errors.Is(err, ErrSessionEnded):
			return false, nil // ended already
		case err != nil:
			return false, err
		case ended:
			reportDeleted(store, base.Key)
			return true, nil
		case successor == "":
			return false, nil
		}
		if base, err = store.Load(ctx, successor); errors.Is(err, ErrNotFound) {
			return false, nil
		} else if err != nil {
			return false, fmt.Errorf("load its renewal: %w", err)
		}
	}
	return false, ErrConflict
}

// linkTarget is the key of the successor that the renewal link rec names.
func linkTarget(rec Record) string {
	key, _ := strconv.Unquote(string(rec.Data[renewedTo]))
	return key
}

// reportDeleted tells the caches of this process in front of store, or of a store it
// wraps, that the records under keys are gone.
func reportDeleted(store Store, keys ...string) {
	if r, ok := find[deletionReporter](store); ok {
		if d := r.deletionsOf(); d != nil {
			d.deleted(keys...)
		}
	}
}

// revokeOne ends the session of user that handle names, found in a listing of the
// user's records, renewal links included: a handle from a page listed before a
// renewal still ends the renewed session. It fails with ErrUnknownSession when handle
// names no live session of the user.
func revokeOne(ctx context.Context, store Store, cas casFunc, user, handle string) error {
	recs, err := userIndex(store).UserSessions(ctx, user)
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	for _, rec := range recs {
		if handle == "" || sessionID(rec.Key) != handle {
			continue
		}
		ended, err := end(ctx, store, rec, user, cas)
		switch {
		case err != nil:
			return fmt.Errorf("revoke session: %w", err)
		case !ended:
			return ErrUnknownSession
		}
		return nil
	}
	return ErrUnknownSession
}

// revokeAll ends every session of user but the one under keep ("" for none) and the
// ones renewed from it or it was renewed from, and reports how many live sessions it
// ended. Each session is ended from its listed record on (end), so a renewal that
// commits while the call runs is followed to its successor, and the sessions of the
// browser that holds keep are spared however often another tab renews them.
func revokeAll(ctx context.Context, store Store, cas casFunc, user, keep string) (int, error) {
	recs, err := userIndex(store).UserSessions(ctx, user)
	if err != nil {
		return 0, fmt.Errorf("list the user's sessions: %w", err)
	}
	next := make(map[string]string) // a listed link's successor
	listed := make(map[string]bool, len(recs))
	for _, rec := range recs {
		listed[rec.Key] = true
		if renewed(rec) {
			next[rec.Key] = linkTarget(rec)
		}
	}
	mine := make(map[string]bool) // keep and its renewals
	for key := keep; key != "" && !mine[key]; key = next[key] {
		mine[key] = true
	}
	// spared reports whether the chain of renewals from key reaches keep's.
	spared := func(key string) bool {
		for hops := 0; key != "" && hops <= len(next); hops++ {
			if mine[key] {
				return true
			}
			key = next[key]
		}
		return false
	}
	var targets []Record
	for _, rec := range recs {
		if spared(rec.Key) || listed[next[rec.Key]] {
			continue // the browser's own, or a link to a record ended in its own turn
		}
		targets = append(targets, rec)
	}
	n, rest, err := endListed(ctx, store, targets)
	if err != nil {
		return n, fmt.Errorf("end sessions: %w", err)
	}
	for _, rec := range rest {
		ended, err := end(ctx, store, rec, user, cas)
		if err != nil {
			return n, fmt.Errorf("end session: %w", err)
		}
		if ended {
			n++
		}
	}
	return n, nil
}

// batchEnder is a store of this package, or a wrapper of one, that ends many listed
// records with one statement.
type batchEnder interface {
	// endListed ends each of recs, as end does, if it is still live at its
	// version, and returns the keys it ended. It fails with an error wrapping
	// errors.ErrUnsupported when the store it wraps is no batchEnder.
	endListed(ctx context.Context, recs []Record) ([]string, error)
}

// endListed ends with one statement, where store can, the records among targets
// that are no renewal links and have not changed since they were listed, and
// reports how many it ended; rest is what is left for end, one by one.
func endListed(ctx context.Context, store Store, targets []Record) (n int, rest []Record, err error) {
	e, ok := find[batchEnder](store)
	if !ok || len(targets) < 2 {
		return 0, targets, nil
	}
	var plain []Record
	for _, rec := range targets {
		if renewed(rec) {
			rest = append(rest, rec)
		} else {
			plain = append(plain, rec)
		}
	}
	keys, err := e.endListed(ctx, plain)
	if errors.Is(err, errors.ErrUnsupported) {
		return 0, targets, nil
	}
	if err != nil {
		return 0, nil, err
	}
	reportDeleted(store, keys...)
	done := make(map[string]bool, len(keys))
	for _, key := range keys {
		done[key] = true
	}
	for _, rec := range plain {
		if !done[rec.Key] {
			rest = append(rest, rec) // changed since the listing: end follows it
		}
	}
	return len(keys), rest, nil
}
