package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// MaxUserIDLen bounds the length of a user ID in bytes.
const MaxUserIDLen = 256

var (
	// ErrInvalidUserID means a user ID is empty, longer than MaxUserIDLen, not
	// valid UTF-8 or holds a NUL byte.
	ErrInvalidUserID = errors.New("invalid user ID")
	// ErrNoUser means the session is bound to no user (BindUser), so it has no
	// user's sessions to list or revoke.
	ErrNoUser = errors.New("session is bound to no user")
	// ErrUnknownSession means a session handle names none of the user's live
	// sessions: it is malformed, unknown, ended, or another user's.
	ErrUnknownSession = errors.New("no such session of this user")
	// errNoUserIndex is the error of the user-session functions on a store that
	// keeps no UserIndex.
	errNoUserIndex = fmt.Errorf("store keeps no user index: %w", errors.ErrUnsupported)
)

// checkUserID returns ErrInvalidUserID for a user ID that cannot be indexed: every
// store must keep it as it is, and PostgreSQL's text holds no NUL byte.
func checkUserID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty", ErrInvalidUserID)
	case len(id) > MaxUserIDLen:
		return fmt.Errorf("%w: %d bytes, over the limit of %d", ErrInvalidUserID, len(id), MaxUserIDLen)
	case !utf8.ValidString(id):
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidUserID)
	case strings.IndexByte(id, 0) >= 0:
		return fmt.Errorf("%w: holds a NUL byte", ErrInvalidUserID)
	}
	return nil
}

// maxDeviceField bounds each field of a recorded Device, in bytes.
const maxDeviceField = 256

// device is d, the recorded client of the session, with this request's user agent
// and IP as the last ones, and as the first ones too when d has none.
func (s *Session) device(d Device) Device {
	ua, ip := deviceField(s.x.Request().UserAgent()), deviceField(s.x.RealIP())
	if d.UserAgent == "" && d.IP == "" {
		d.UserAgent, d.IP = ua, ip
	}
	d.LastUserAgent, d.LastIP = ua, ip
	return d
}

// deviceField makes v, which the client chose, fit for any store: valid UTF-8
// without NUL bytes (which PostgreSQL's text refuses), at most maxDeviceField bytes.
// It reads no more of v than it keeps, so a header of megabytes costs no more than
// one of the limit.
func deviceField(v string) string {
	v = strings.ToValidUTF8(strings.ReplaceAll(cutRunes(v, maxDeviceField), "\x00", ""), "\uFFFD")
	return cutRunes(v, maxDeviceField) // a replacement is longer than the bytes it replaces
}

// cutRunes returns v cut to at most n bytes, before the rune that the cut would split.
func cutRunes(v string, n int) string {
	if len(v) <= n {
		return v
	}
	for i := 1; i < utf8.UTFMax && n > 0 && !utf8.RuneStart(v[n]); i++ {
		n--
	}
	return v[:n]
}

// BindUser binds this session to the user userID, so that it is listed among the
// user's sessions and revoked with them. Bind at login, together with RenewID
// (LoginUser does both); Destroy unbinds, as the session ends. An invalid userID
// fails with ErrInvalidUserID and changes nothing.
func (s *Session) BindUser(userID string) error {
	return s.bind(userID, false)
}

// LoginUser renews the session's token and binds the session to userID: what a
// login handler does once the user has proved who they are. An invalid userID fails
// with ErrInvalidUserID before anything moves: the token and the data stay.
func (s *Session) LoginUser(userID string) error {
	return s.bind(userID, true)
}

// bind binds the session to userID and, with renew, moves it to a new token as
// RenewID does. It checks userID before it changes anything.
func (s *Session) bind(userID string, renew bool) error {
	return s.locked(func() error {
		if err := checkUserID(userID); err != nil {
			return err
		}
		if err := s.change(); err != nil {
			return err
		}
		if renew {
			s.renewID()
		}
		s.user = &userID
		return nil
	})
}

// UserID returns the user this session is bound to, "" when none.
func (s *Session) UserID() (string, error) {
	var id string
	err := s.locked(func() error {
		if err := s.load(); err != nil {
			return err
		}
		id = s.userID()
		return nil
	})
	return id, err
}

// userID is the user the session is bound to, as this request leaves it.
func (s *Session) userID() string {
	switch {
	case s.user != nil:
		return *s.user
	case s.stored():
		return s.base.UserID
	}
	return ""
}

// UserSessions lists the live sessions of the user this session is bound to, this
// one marked Current, with one indexed query of the store.
func (s *Session) UserSessions() ([]SessionInfo, error) {
	var list []SessionInfo
	err := s.locked(func() (err error) {
		user, current, err := s.boundUser()
		if err != nil {
			return err
		}
		list, err = listUserSessions(s.x.Request().Context(), userIndex(s.m.store), user, current)
		return err
	})
	return list, err
}

// RevokeSession ends the session of this session's user that handle names, now and
// for every app instance. It fails with ErrUnknownSession, ending nothing, when
// handle names no live session of the user. Revoking this very session is Destroy.
func (s *Session) RevokeSession(handle string) error {
	return s.locked(func() error {
		user, current, err := s.boundUser()
		if err != nil {
			return err
		}
		if handle == sessionID(current) {
			if err := s.change(); err != nil {
				return err
			}
			s.endSession()
			return nil
		}
		return revokeOne(s.x.Request().Context(), s.m.store, s.m.cas, user, handle)
	})
}

// RevokeOtherSessions ends every session of this session's user but this one ("log
// out everywhere else"), now and for every app instance, and reports how many it
// ended.
func (s *Session) RevokeOtherSessions() (int, error) {
	var n int
	err := s.locked(func() error {
		user, current, err := s.boundUser()
		if err != nil {
			return err
		}
		n, err = revokeAll(s.x.Request().Context(), s.m.store, s.m.cas, user, current)
		return err
	})
	return n, err
}

// boundUser loads the session and returns the user it is bound to and its store
// key, or ErrNoUser.
func (s *Session) boundUser() (user, key string, err error) {
	if err := s.load(); err != nil {
		return "", "", err
	}
	if user = s.userID(); user == "" {
		return "", "", ErrNoUser
	}
	if s.stored() {
		key = s.base.Key
	}
	return user, key, nil
}

// ListUserSessions lists the live sessions bound to userID in store, for code outside
// a request, such as an admin page. store is the Config.Store, or a WithCache of it.
func ListUserSessions(ctx context.Context, store Store, userID string) ([]SessionInfo, error) {
	if err := checkUserID(userID); err != nil {
		return nil, fmt.Errorf("echosess: %w", err)
	}
	list, err := listUserSessions(ctx, userIndex(store), userID, "")
	if err != nil {
		return nil, fmt.Errorf("echosess: %w", err)
	}
	return list, nil
}

// RevokeUserSession ends the session of userID in store that handle names, for code
// outside a request. It fails with ErrUnknownSession, ending nothing, when handle
// names no live session of that user.
func RevokeUserSession(ctx context.Context, store Store, userID, handle string) error {
	if err := checkUserID(userID); err != nil {
		return fmt.Errorf("echosess: %w", err)
	}
	if err := revokeOne(ctx, store, storeCAS(store), userID, handle); err != nil {
		return fmt.Errorf("echosess: %w", err)
	}
	return nil
}

// RevokeUserSessions ends every session bound to userID in store, now and for every
// app instance, and reports how many it ended: the response to a password change, a
// stolen laptop or a locked account. It needs nothing but the store, so a
// password-reset job or an admin tool can call it.
func RevokeUserSessions(ctx context.Context, store Store, userID string) (int, error) {
	if err := checkUserID(userID); err != nil {
		return 0, fmt.Errorf("echosess: %w", err)
	}
	n, err := revokeAll(ctx, store, storeCAS(store), userID, "")
	if err != nil {
		return n, fmt.Errorf("echosess: revoke the user's sessions: %w", err)
	}
	return n, nil
}

// listUserSessions lists the live sessions of user in idx, marking the one under
// current, newest first.
func listUserSessions(ctx context.Context, idx UserIndex, user, current string) ([]SessionInfo, error) {
	recs, err := idx.UserSessions(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("list the user's sessions: %w", err)
	}
	list := make([]SessionInfo, 0, len(recs))
	for _, rec := range recs {
		if renewed(rec) {
			continue // a renewal's link, which its successor stands for
		}
		list = append(list, SessionInfo{
			Handle: sessionID(rec.Key), Created: rec.Created, LastActive: rec.LastActive,
			Expires: rec.Expiry, Device: rec.Device, Current: current != "" && rec.Key == current,
		})
	}
	slices.SortFunc(list, func(a, b SessionInfo) int { return b.Created.Compare(a.Created) })
	return list, nil
}

// userIndex returns the UserIndex of store or of a store it wraps, or one whose
// calls fail with errNoUserIndex.
func userIndex(store Store) UserIndex {
	if idx, ok := find[UserIndex](store); ok {
		return idx
	}
	return noUserIndex{store}
}

// noUserIndex is the UserIndex of a store that has none.
type noUserIndex struct{ Store }

func (noUserIndex) UserSessions(context.Context, string) ([]Record, error) {
	return nil, errNoUserIndex
}

// deletions tells the caches in front of a store of this package, in its process,
// which records were deleted through it: a revocation from outside a request (an
// admin tool calling RevokeUserSessions with the Config.Store) must reach the
// middleware's cache at once, also in front of a store that reports no changes to
// other processes.
type deletions struct {
	mu       sync.Mutex
	watchers map[*func(keys []string)]struct{}
}

// watch calls fn with the keys of each deletion from now on, until stop.
func (d *deletions) watch(fn func(keys []string)) (stop func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.watchers == nil {
		d.watchers = make(map[*func([]string)]struct{})
	}
	p := &fn
	d.watchers[p] = struct{}{}
	return func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		delete(d.watchers, p)
	}
}

// deleted reports the deletion of the records under keys.
func (d *deletions) deleted(keys ...string) {
	if len(keys) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for fn := range d.watchers {
		(*fn)(keys)
	}
}

// deletionReporter is a store of this package, which reports its deletions.
type deletionReporter interface{ deletionsOf() *deletions }
