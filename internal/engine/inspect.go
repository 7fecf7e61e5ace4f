package engine

import (
	"crypto/sha256"
	"slices"
	"time"
)

// Introspection: what a handler may read about its session besides the values. Each
// call loads the session only when it must, as Get would, and changes nothing.

// IsNew reports whether the session is not stored yet: the request carried no
// session cookie that names a live session, or the session ended in this request. It
// loads the session when the request has a well-formed session cookie.
func (s *Session) IsNew() (bool, error) {
	var isNew bool
	err := s.locked(func() error {
		err := s.load()
		isNew = !s.stored()
		return err
	})
	return isNew, err
}

// Keys returns the session's keys in sorted order. It loads the session.
func (s *Session) Keys() ([]string, error) {
	var keys []string
	err := s.locked(func() error {
		if err := s.load(); err != nil {
			return err
		}
		keys = make([]string, 0, len(s.data))
		for k := range s.data {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return nil
	})
	return keys, err
}

// Expires returns when the stored session ends: lifetime is the end of its lifetime
// (DefaultExpiry, SetExpiry), however active it stays; idle is when it ends unless
// another request touches it, which is lifetime when the session has no idle timeout
// (IdleTimeout, or RememberedIdleTimeout when it is remembered). Both are zero for a
// new session. They are the stored times: a SetExpiry of this request shows once it
// is committed. It loads the session.
func (s *Session) Expires() (lifetime, idle time.Time, err error) {
	err = s.locked(func() error {
		if err := s.load(); err != nil {
			return err
		}
		if s.stored() {
			lifetime, idle = s.base.Deadline, s.base.Expiry
		}
		return nil
	})
	return lifetime, idle, err
}

// ID returns an identifier of the session that is safe to show and to log: a hash
// of the store key, from which neither the token nor the key can be recovered. It is
// "" for a new session, as IsNew tells it: it loads the session when the request has
// a well-formed session cookie, so the cookie of a session that ended, expired or
// never was gives "", and a malformed one gives "" without a store call. It is ""
// too when the session cannot be loaded: the store failed, or the response header
// went out before anything loaded it.
func (s *Session) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.load() != nil || !s.stored() {
		return ""
	}
	return sessionID(s.base.Key)
}

// stored reports whether the session is a stored one that this request has not
// ended.
func (s *Session) stored() bool {
	return s.phase == stored && s.end != destroy
}

// sessionID derives the public identifier of the record under key.
func sessionID(key string) string {
	if key == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("echosess session id\x00" + key))
	return tokenEncoding.EncodeToString(sum[:12])
}
