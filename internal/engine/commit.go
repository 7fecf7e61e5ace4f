package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"strconv"
	"time"
)

// maxSaveAttempts bounds how often a commit retries after losing a compare-and-swap.
const maxSaveAttempts = 32

// renewedTo is the session key under which the record that RenewID ended keeps the
// store key of the record that replaced it, until the old record would have expired.
// Set rejects the empty key, so no session's own data holds it. A request that loaded
// the session before the renewal and then destroys it follows the link: logout wins
// over a concurrent login. The link stays bound to the session's user, so that
// revoking the user's sessions reaches the successor, however late it is listed.
const renewedTo = ""

// EndedAt is the expiry of a record that a commit ended: saving a record expired at
// its version is the compare-and-swap delete of the Store contract.
var EndedAt = time.Unix(0, 0).UTC()

// endRecord is the record that ends rec when saved at rec's version: no data, no user,
// expired at endedAt.
func endRecord(rec Record) Record {
	return Record{Key: rec.Key, Expiry: EndedAt, Deadline: EndedAt, Version: rec.Version}
}

// commit writes the request's changes to the store as one transaction and sets the
// cookie to match. It changes the session only once everything has succeeded, so a
// failure leaves it as it was.
//
// Every write is a compare-and-swap on the version the request loaded. When another
// request committed first, the commit reloads the record and replays this request's
// changes on it; when the record has ended meanwhile (Destroy, RenewID, expiry), it
// writes nothing and fails with ErrSessionEnded.
func (s *Session) commit() error {
	if s.phase == unread || s.held || s.abandoned {
		return nil
	}
	now := s.m.Now()
	if !s.pending() && !(s.phase == stored && s.m.slides(s.base, now)) {
		return nil
	}
	ctx := s.m.commitContext(s.x.Request().Context())

	token, rec, given := s.token, s.base, false
	var err error
	switch {
	case s.end == destroy:
		if s.phase == stored {
			err = s.m.destroy(ctx, s.base)
		}
		token, rec = "", Record{}
		if err == nil && s.worthStoring() {
			token, rec, given, err = s.create(ctx, now)
		}
	case s.phase == fresh:
		if s.worthStoring() {
			token, rec, given, err = s.create(ctx, now)
		}
	case s.end == renew:
		token, rec, err = s.renew(ctx, now)
	default:
		rec, given, err = s.update(ctx, now)
	}
	if err != nil {
		return err
	}

	switch persistent := s.m.persistent(rec); {
	case token != "" && (token != s.token || rec.Persistent != s.base.Persistent || persistent && !rec.Expiry.Equal(s.base.Expiry) ||
		s.m.versioned && s.pending() && rec.Version != s.cookieVersion):
		s.setCookie(token, rec.Version, persistent, rec.Expiry, now)
		s.cookieVersion = rec.Version
	case token == "" && s.end == destroy:
		s.dropCookie()
		if s.hadCookie {
			s.setCookie("", 0, true, time.Time{}, now)
		}
	}
	s.phase, s.token, s.base, s.data, s.lent = fresh, token, rec, rec.Data, given
	s.encoded = 0 // a replay may have made other data
	if token != "" {
		s.phase = stored
	}
	s.forget()
	return nil
}

// worthStoring reports whether a session not stored yet has something to store: data,
// or a user to be bound to.
func (s *Session) worthStoring() bool { return len(s.data) > 0 || s.user != nil }

// create stores the session's data under a new token.
func (s *Session) create(ctx context.Context, now time.Time) (token string, rec Record, given bool, err error) {
	rec, err = s.next(Record{}, now)
	if err != nil {
		return "", Record{}, false, err
	}
	token, rec.Key = newToken()
	if given, err = saveGiven(ctx, s.m.store, rec); err != nil {
		return "", Record{}, false, fmt.Errorf("create session: %w", err)
	}
	rec.Version = 1
	return token, rec, given, nil
}

// update saves the request's changes over the stored record, or when only the idle
// expiry moves, touches it. A slide that another request made meanwhile is not made
// again.
func (s *Session) update(ctx context.Context, now time.Time) (rec Record, given bool, err error) {
	// A slide alone reads the record again first: of concurrent requests that all
	// found the expiry due, only the first then writes it.
	err = s.m.cas(ctx, s.base, !s.pending(), func(base Record) (lost bool, err error) {
		if renewed(base) {
			return false, ErrSessionEnded
		}
		if !s.pending() && !s.m.slides(base, now) {
			rec = base
			return false, nil
		}
		next, err := s.next(base, now)
		if err != nil {
			return false, err
		}
		if s.pending() {
			given, err = saveGiven(ctx, s.m.store, next)
		} else {
			err = touch(ctx, s.m.store, next)
		}
		if err != nil {
			return errors.Is(err, ErrConflict), fmt.Errorf("update session: %w", err)
		}
		next.Version++
		rec = next
		return false, nil
	})
	if errors.Is(err, ErrSessionEnded) && !s.pending() {
		return s.base, s.lent, nil // a read-only request has nothing to lose
	}
	return rec, given, err
}

// renew moves the session to a new token. It writes the new record first, which no
// client can name yet, and then ends the old one with a compare-and-swap that leaves
// a link to the new one: the renewal takes effect there, and holds every change
// committed to the old record before it. A failure removes the new record again.
func (s *Session) renew(ctx context.Context, now time.Time) (token string, rec Record, err error) {
	token, key := newToken()
	var version int64 // the new record's stored version
	err = s.m.cas(ctx, s.base, false, func(base Record) (lost bool, err error) {
		if renewed(base) {
			return false, ErrSessionEnded
		}
		next, err := s.next(base, now)
		if err != nil {
			return false, err
		}
		next.Key, next.Version = key, version
		if err := s.m.store.Save(ctx, next); err != nil {
			return false, fmt.Errorf("renew session: %w", err)
		}
		version++
		next.Version = version
		rec = next
		link := Record{
			Key:      base.Key,
			Data:     map[string]json.RawMessage{renewedTo: json.RawMessage(strconv.Quote(key))},
			Expiry:   base.Expiry,
			Deadline: base.Deadline,
			Version:  base.Version,
			UserID:   base.UserID, // so that revoking the user's sessions finds the link
		}
		if err := s.m.store.Save(ctx, link); err != nil {
			return errors.Is(err, ErrConflict), fmt.Errorf("renew session: end the old record: %w", err)
		}
		return false, nil
	})
	if err != nil {
		if version > 0 {
			if derr := s.m.store.Delete(ctx, key); derr != nil {
				s.m.Logger.WarnContext(ctx, "echosess: removing the record of a failed renewal failed", "error", derr)
			}
		}
		return "", Record{}, err
	}
	return token, rec, nil
}

// next is the record that this request's changes make of base. Its data is the
// request's own view when base is the record the request loaded, and otherwise base's
// data with the request's changes replayed. A new lifetime (SetExpiry, a renewal, a
// new session) and the idle slide set its expiry.
func (s *Session) next(base Record, now time.Time) (Record, error) {
	rec := base
	if base.Key == s.base.Key && base.Version == s.base.Version {
		rec.Data = s.data
	} else {
		rec.Data = cloneData(base.Data)
		if err := replay(rec.Data, s.ops); err != nil {
			return Record{}, err
		}
		if size := encodedSize(rec.Data); size > s.m.MaxSize {
			return Record{}, fmt.Errorf("%w: merged session is %d bytes, over the limit of %d", ErrTooLarge, size, s.m.MaxSize)
		}
	}
	switch {
	case !s.lifetime.IsZero():
		rec.Deadline = s.lifetime
	case base.Key == "" || s.end == renew:
		rec.Deadline = s.m.DefaultExpiry.from(now)
	}
	switch {
	case s.remember != nil:
		rec.Persistent = *s.remember
	case s.end == renew:
		rec.Persistent = false // a renewal starts afresh, like its lifetime
	}
	if s.user != nil {
		rec.UserID = *s.user
	}
	if s.m.RecordDevice {
		rec.Device = s.device(base.Device)
	}
	if !rec.Deadline.Equal(base.Deadline) || rec.Persistent != base.Persistent || s.m.slides(base, now) {
		rec.Expiry = s.m.idleExpiry(now, rec)
	}
	return rec, nil
}

// destroy ends the stored record base whatever other requests committed to it since
// it was loaded, and ends the records that renewals made of it meanwhile.
func (m *Manager) destroy(ctx context.Context, base Record) error {
	if _, err := end(ctx, m.store, base, "", m.cas); err != nil {
		return fmt.Errorf("destroy session: %w", err)
	}
	return nil
}

// cas runs write against base, the record a request loaded, as casLoop does, holding
// the lock of the session's key: within the process, commits of one session take
// turns, so they rarely lose at all.
func (m *Manager) cas(ctx context.Context, base Record, reread bool, write func(base Record) (lost bool, err error)) error {
	mu := m.lock(base.Key)
	defer mu.Unlock()
	return casLoop(ctx, m.store, base, reread, write)
}

// casLoop runs write against base, and again against the record as reloaded from
// store each time write reports that it lost a compare-and-swap, up to
// maxSaveAttempts times; with reread, it reloads before the first write too. Once the
// record is gone, it returns ErrSessionEnded.
func casLoop(ctx context.Context, store Store, base Record, reread bool, write func(base Record) (lost bool, err error)) error {
	for attempt := 1; ; attempt++ {
		var newer int64 // the version the store must have passed, once a write lost
		if !reread {
			lost, err := write(base)
			if !lost || attempt == maxSaveAttempts {
				return err
			}
			newer = base.Version + 1
		}
		reread = false
		if attempt > 2 {
			backoff := time.Duration(mathrand.Int64N(int64(attempt) * int64(100*time.Microsecond)))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
		}
		var err error
		base, _, err = loadLent(ctx, store, base.Key, newer)
		switch {
		case errors.Is(err, ErrNotFound):
			return ErrSessionEnded
		case err != nil:
			return fmt.Errorf("reload session: %w", err)
		}
	}
}

// commitContext is the context of a commit: the request's values without its
// cancellation, so that a client that goes away cannot stop a logout halfway. Each
// store call of the commit is still bounded by StoreTimeout (boundedStore), counted
// from the call rather than from the commit's start, so that a commit that waited
// for the session's lock behind others of its process keeps its whole bound.
func (m *Manager) commitContext(ctx context.Context) context.Context {
	if m.inMemory {
		return ctx // a MemoryStore neither waits nor reads ctx
	}
	return context.WithoutCancel(ctx)
}

// persistent reports whether the cookie of rec carries a Max-Age.
func (m *Manager) persistent(rec Record) bool {
	return !m.CookieSessionOnly || rec.Persistent
}

// idleTimeout is the idle timeout of rec: RememberedIdleTimeout when it is
// remembered (RememberMe), IdleTimeout otherwise.
func (m *Manager) idleTimeout(rec Record) time.Duration {
	if rec.Persistent {
		return m.RememberedIdleTimeout
	}
	return m.IdleTimeout
}

// slides reports whether a request at now must move rec's idle expiry: when less than
// its idle timeout is left before it, short of the deadline.
func (m *Manager) slides(rec Record, now time.Time) bool {
	idle := m.idleTimeout(rec)
	if idle <= 0 {
		return false
	}
	want := now.Add(idle)
	if !rec.Deadline.IsZero() && rec.Deadline.Before(want) {
		want = rec.Deadline
	}
	return rec.Expiry.Before(want)
}

// idleExpiry is the expiry of rec used at now: its deadline, or with an idle
// timeout, now plus 1¼ times the timeout when that comes first. The extra quarter is
// the slack that lets requests within a quarter of the timeout of the last write skip
// the write, while the session still lasts a whole timeout after each of them.
func (m *Manager) idleExpiry(now time.Time, rec Record) time.Time {
	if idle := m.idleTimeout(rec); idle > 0 {
		if expiry := now.Add(idle + idle/4); rec.Deadline.IsZero() || expiry.Before(rec.Deadline) {
			return expiry
		}
	}
	return rec.Deadline
}
