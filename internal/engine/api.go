package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// The handler API of the adapters: each adapter's Get, Set, ... find the request's
// Session and call these.

// ErrHeaderWritten means a handler changed the session after the response header was
// written, when the change could no longer reach the client.
var ErrHeaderWritten = errors.New("response header already written; change the session before writing the response")

// Get returns the value under key decoded into a T. ok is false when the key is
// absent. A value that does not decode into T gives an error wrapping ErrDecode and
// leaves the session as it was.
func Get[T any](s *Session, key string) (value T, ok bool, err error) {
	var raw json.RawMessage
	err = s.locked(func() error {
		err := s.load()
		raw, ok = s.data[key]
		return err
	})
	if err != nil || !ok {
		return value, false, err
	}
	if value, err = decode[T](key, raw); err != nil {
		return value, false, fmt.Errorf("echosess: %w", err)
	}
	return value, true, nil
}

// Set stores value, encoded as JSON, under key. It returns ErrTooLarge and changes
// nothing when the session would grow past Config.MaxSize. Setting the value that
// key holds, encoded alike, changes nothing: it writes nothing, and leaves key to
// what another request commits meanwhile.
func (s *Session) Set(key string, value any) error {
	raw, err := json.Marshal(value)
	if err != nil {
		err = fmt.Errorf("encoding %q: %w", key, err)
	}
	return s.locked(func() error {
		if err != nil {
			return err
		}
		if err := checkKey(key, s.m.MaxSize); err != nil {
			return err
		}
		if depth := nesting(raw); depth > maxValueDepth {
			return fmt.Errorf("%w: %q nests %d levels deep, and a store could not decode more than %d", ErrTooLarge, key, depth, maxValueDepth)
		}
		if err := s.prepare(); err != nil {
			return err
		}
		old, had := s.data[key]
		if had && bytes.Equal(old, raw) {
			return nil
		}
		s.changing()
		size := s.size() + len(raw)
		if had {
			size -= len(old)
		} else {
			size += entrySize(key, nil)
		}
		if size > s.m.MaxSize {
			return fmt.Errorf("%w: %q would make the session %d bytes, over the limit of %d", ErrTooLarge, key, size, s.m.MaxSize)
		}
		s.apply(op{key: key, value: raw})
		return nil
	})
}

// Delete removes key from the session.
func (s *Session) Delete(key string) error {
	return s.locked(func() error {
		if err := s.change(); err != nil {
			return err
		}
		if _, ok := s.data[key]; ok {
			s.apply(op{key: key})
		}
		return nil
	})
}

// Pop returns the value under key and removes it, as for a flash message or a
// one-time token. Of concurrent requests popping one value, one gets it: the commit
// of any other fails with ErrConflict. A value that does not decode into T is left in
// place.
func Pop[T any](s *Session, key string) (value T, ok bool, err error) {
	err = s.locked(func() error {
		if err := s.load(); err != nil {
			return err
		}
		raw, found := s.data[key]
		if !found {
			return nil
		}
		v, err := decode[T](key, raw)
		if err != nil {
			return err
		}
		if err := s.change(); err != nil {
			return err
		}
		s.apply(op{key: key, popped: raw})
		value, ok = v, true
		return nil
	})
	if err != nil {
		var zero T
		return zero, false, err
	}
	return value, ok, nil
}

// Clear removes every key this request sees but keeps the session and its token. A
// key that another request commits after this one loaded the session survives.
func (s *Session) Clear() error {
	return s.locked(func() error {
		if err := s.change(); err != nil {
			return err
		}
		for key := range s.data {
			s.ops = append(s.ops, op{key: key})
		}
		s.data, s.lent, s.encoded = nil, false, 0
		return nil
	})
}

// Destroy ends the session: the commit deletes it from the store and the cache and
// expires the cookie, even when other requests of the session changed or renewed it
// meanwhile. Values set afterwards start a new session with a new token.
func (s *Session) Destroy() error {
	return s.locked(func() error {
		if err := s.change(); err != nil {
			return err
		}
		s.endSession()
		return nil
	})
}

// RenewID moves the session's data to a new token and makes the old token worthless,
// and starts the session's lifetime (DefaultExpiry) afresh unless SetExpiry sets
// another. Call it when privileges change, such as at login, to defeat session
// fixation.
func (s *Session) RenewID() error {
	return s.locked(func() error {
		if err := s.change(); err != nil {
			return err
		}
		s.renewID()
		return nil
	})
}

// renewID makes the commit move the session to a new token.
func (s *Session) renewID() {
	if s.phase == stored && s.end == keep {
		s.end = renew // a session not stored yet gets a fresh token when it is
	}
}

// SetExpiry sets when this session ends, such as a longer life for "remember me".
// An expiry in the past destroys the session.
func (s *Session) SetExpiry(e Expiry) error {
	return s.locked(func() error {
		if err := s.change(); err != nil {
			return err
		}
		now := s.m.Now()
		if deadline := e.from(now); deadline.After(now) {
			s.lifetime = deadline
		} else {
			s.endSession()
		}
		return nil
	})
}

// RememberMe makes this session's cookie persistent, lasting until the session's
// expiry even when Config.CookieSessionOnly sends browser-session cookies, or with
// false returns it to the configured kind. A remembered session follows
// Config.RememberedIdleTimeout, by default none, instead of IdleTimeout. Pair it with
// SetExpiry for the remembered session's own lifetime. RenewID starts a session
// afresh, not remembered, unless the same request calls RememberMe.
func (s *Session) RememberMe(remember bool) error {
	return s.locked(func() error {
		if err := s.change(); err != nil {
			return err
		}
		s.remember = &remember
		return nil
	})
}

// Save commits the session now rather than when the response is written, for
// handlers that want to act on a failure. A failure is then the handler's to answer:
// the automatic commit retries the failed changes only if the session changes again.
func (s *Session) Save() error {
	return s.locked(func() error {
		if s.x.Committed() && s.pending() {
			return ErrHeaderWritten
		}
		err := s.commit()
		if err != nil {
			s.held = true
		}
		return err
	})
}

// locked runs fn holding the session's lock. Its error is the handler API's, so it
// names the package.
func (s *Session) locked(fn func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := fn(); err != nil {
		return fmt.Errorf("echosess: %w", err)
	}
	return nil
}
