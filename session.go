package echosess

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// ErrHeaderWritten means a handler changed the session after the response header was
// written, when the change could no longer reach the client.
var ErrHeaderWritten = errors.New("echosess: response header already written; change the session before writing the response")

// maxSaveAttempts bounds how often a commit retries after losing a compare-and-swap.
const maxSaveAttempts = 32

// session is one request's view of its session: what it loaded, what it changed, and
// what the commit still has to do.
type session struct {
	cfg *manager
	c   echo.Context
	mu  sync.Mutex

	identified bool // the cookie has been read
	hooked     bool // the commit is hooked into the response
	loaded     bool // the record has been read, or the session is known to be new
	hadCookie  bool // the request carried a cookie with our name

	token    string // the client's token; "" until the session is stored under one
	key      string // the store key derived from token
	version  int64
	expiry   time.Time
	deadline time.Time
	data     map[string]json.RawMessage
	shared   bool // data is the store's own copy, lent read-only: copy it before changing it

	// This request's own changes, re-applied if a concurrent request saved first.
	changes   map[string]json.RawMessage // nil value: deleted
	cleared   bool
	expirySet bool
	slid      bool

	dirty        bool   // the record must be written
	cookieDirty  bool   // the cookie must be sent again
	expireCookie bool   // send a removal cookie when the session ends without a token
	sentCookie   bool   // this request's response header holds a session cookie
	oldKey       string // a record to delete at commit (destroyed or renewed)
	commitErr    error
}

// from returns the session of c's request, creating it on first use from the
// manager that Middleware attached to c.
func from(c echo.Context) (*session, error) {
	if c == nil {
		return nil, ErrNoMiddleware
	}
	switch v := c.Get(contextKey).(type) {
	case *session:
		return v, nil
	case *manager:
		s := &session{cfg: v, c: c}
		c.Set(contextKey, s)
		return s, nil
	}
	return nil, ErrNoMiddleware
}

// locked runs fn on the session that Middleware attached to c, holding its lock.
func locked(c echo.Context, fn func(*session) error) error {
	s, err := from(c)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return fn(s)
}

// Get returns the value under key decoded into a T. ok is false when the key is
// absent. A value that does not decode into T gives an error wrapping ErrDecode and
// leaves the session as it was.
func Get[T any](c echo.Context, key string) (value T, ok bool, err error) {
	var raw json.RawMessage
	err = locked(c, func(s *session) error {
		err := s.load()
		raw, ok = s.data[key]
		return err
	})
	if err != nil || !ok {
		return value, false, err
	}
	value, err = decode[T](key, raw)
	return value, err == nil, err
}

// Set stores value, encoded as JSON, under key. It returns ErrTooLarge and changes
// nothing when the session would grow past Config.MaxSize.
func Set(c echo.Context, key string, value any) error {
	raw, err := json.Marshal(value)
	if err != nil {
		err = fmt.Errorf("echosess: encoding %q: %w", key, err)
	}
	return locked(c, func(s *session) error {
		if err != nil {
			return err
		}
		if err := s.checkKey(key); err != nil {
			return err
		}
		if err := s.change(); err != nil {
			return err
		}
		size := encodedSize(s.data) + len(raw)
		if old, had := s.data[key]; had {
			size -= len(old)
		} else {
			size += entrySize(key, nil)
		}
		if size > s.cfg.MaxSize {
			return fmt.Errorf("%w: %q would make the session %d bytes, over the limit of %d", ErrTooLarge, key, size, s.cfg.MaxSize)
		}
		s.own()
		if s.data == nil {
			s.data = make(map[string]json.RawMessage)
		}
		s.data[key] = raw
		s.record(key, raw)
		return nil
	})
}

// Delete removes key from the session.
func Delete(c echo.Context, key string) error {
	return locked(c, func(s *session) error { return s.delete(key) })
}

// Pop returns the value under key and removes it, as for a flash message. A value
// that does not decode into T is left in place.
func Pop[T any](c echo.Context, key string) (value T, ok bool, err error) {
	err = locked(c, func(s *session) error {
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
		value, ok = v, true
		return s.delete(key)
	})
	if err != nil {
		var zero T
		return zero, false, err
	}
	return value, ok, nil
}

// Clear removes every key but keeps the session and its token.
func Clear(c echo.Context) error {
	return locked(c, func(s *session) error {
		if err := s.change(); err != nil || len(s.data) == 0 {
			return err
		}
		s.data, s.shared = nil, false
		s.changes = nil
		s.cleared = true
		s.dirty = true
		return nil
	})
}

// Destroy ends the session: the commit deletes it from the store and the cache and
// expires the cookie. Values set afterwards start a new session with a new token.
func Destroy(c echo.Context) error {
	return locked(c, func(s *session) error {
		if err := s.checkWritable(); err != nil {
			return err
		}
		s.hook()
		s.identify()
		s.destroy()
		return nil
	})
}

// RenewID moves the session's data to a new token and makes the old token worthless.
// Call it when privileges change, such as at login, to defeat session fixation.
func RenewID(c echo.Context) error {
	return locked(c, func(s *session) error {
		if err := s.change(); err != nil || s.key == "" {
			return err // a session not stored yet gets a fresh token when it is
		}
		if s.oldKey == "" {
			s.oldKey = s.key
		}
		s.token, s.key, s.version = "", "", 0
		s.dirty = true
		return nil
	})
}

// SetExpiry sets when this session ends, such as a longer life for "remember me".
// An expiry in the past destroys the session.
func SetExpiry(c echo.Context, e Expiry) error {
	return locked(c, func(s *session) error {
		if err := s.change(); err != nil {
			return err
		}
		now := s.cfg.Now()
		s.deadline = e.from(now)
		if !s.deadline.After(now) {
			s.destroy()
			return nil
		}
		s.expiry = s.idleExpiry(now)
		s.expirySet = true
		s.dirty = true
		s.cookieDirty = true
		return nil
	})
}

// Save commits the session now rather than when the response is written, for
// handlers that want to act on a failure. A failure is then the handler's to answer:
// the automatic commit retries the failed changes only if the session changes again.
func Save(c echo.Context) error {
	return locked(c, func(s *session) error {
		err := s.commit()
		if err != nil {
			s.dirty = false
		}
		return err
	})
}

func decode[T any](key string, raw json.RawMessage) (T, error) {
	var v T
	if p, ok := any(&v).(*string); ok && plainString(raw) {
		*p = string(raw[1 : len(raw)-1])
		return v, nil
	}
	return unmarshal[T](key, raw)
}

// unmarshal decodes raw with encoding/json. Kept apart from decode so that the value
// decode returns does not escape to the heap on its fast path.
func unmarshal[T any](key string, raw json.RawMessage) (T, error) {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("%w: %q as %T: %w", ErrDecode, key, v, err)
	}
	return v, nil
}

// plainString reports whether raw is a JSON string that decodes to its own bytes
// between the quotes: no escapes, no control characters, valid UTF-8.
func plainString(raw []byte) bool {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return false
	}
	body := raw[1 : len(raw)-1]
	for _, b := range body {
		if b < 0x20 || b == '"' || b == '\\' {
			return false
		}
	}
	return utf8.Valid(body)
}

func (s *session) checkKey(key string) error {
	switch {
	case key == "" || !utf8.ValidString(key):
		return fmt.Errorf("%w: %q", ErrInvalidKey, key)
	case len(key) > s.cfg.MaxSize:
		return fmt.Errorf("%w: a key of %d bytes", ErrTooLarge, len(key))
	}
	return nil
}

// encodedSize is the length of data encoded as a JSON object.
func encodedSize(data map[string]json.RawMessage) int {
	n := 2
	for k, v := range data {
		n += entrySize(k, v)
	}
	return n
}

func entrySize(key string, value json.RawMessage) int {
	return quotedLen(key) + len(value) + 2 // colon and comma
}

// quotedLen is the length of key as encoding/json quotes it.
func quotedLen(key string) int {
	n := 2
	for _, r := range key {
		switch {
		case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t' || r == '\b' || r == '\f':
			n += 2
		case r < 0x20 || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029':
			n += 6 // \u00XX
		default:
			n += utf8.RuneLen(r)
		}
	}
	return n
}

// identify reads the session token from the request's Cookie headers, without
// parsing the cookies it has no use for. It never calls the store, and ignores
// cookies that are not well-formed tokens.
// The response now depends on the session, and says so with Vary: Cookie.
func (s *session) identify() {
	if s.identified {
		return
	}
	s.identified = true
	if h := s.c.Response().Header(); h[echo.HeaderVary] == nil {
		h[echo.HeaderVary] = varyCookie
	} else {
		h.Add(echo.HeaderVary, "Cookie")
	}
	for _, line := range s.c.Request().Header["Cookie"] {
		for line != "" {
			var pair string
			pair, line, _ = strings.Cut(line, ";")
			// Trim as net/http's cookie parser does: spaces and tabs, not \v or U+00A0.
			name, value, ok := strings.Cut(textproto.TrimString(pair), "=")
			if !ok || textproto.TrimString(name) != s.cfg.CookieName {
				continue
			}
			s.hadCookie = true
			if len(value) > 1 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1]
			}
			if raw, ok := parseToken(value); ok {
				s.token, s.key = value, storeKey(raw)
				return
			}
		}
	}
}

// varyCookie is the Vary header of a response without one. Header.Add appends to
// a copy, so sharing it is safe.
var varyCookie = []string{"Cookie"}

// load reads the session from the store the first time it is needed. A token the
// store does not know, or whose record does not decode, yields a new session that will
// get a new token: a client never chooses its own session ID.
func (s *session) load() error {
	if s.loaded {
		return nil
	}
	s.identify()
	now := s.cfg.Now()
	if s.key != "" {
		rec, shared, err := loadLent(s.c.Request().Context(), s.cfg.store, s.key)
		switch {
		case err == nil && rec.Expiry.After(now):
			s.adopt(rec, now)
			s.shared = shared
			s.loaded = true
			return nil
		case err == nil || errors.Is(err, ErrNotFound):
		case errors.Is(err, ErrDecode):
			s.cfg.Logger.WarnContext(s.c.Request().Context(), "echosess: dropping a session whose data does not decode", "error", err)
		default:
			return fmt.Errorf("echosess: loading session: %w", err)
		}
	}
	s.startFresh(now)
	return nil
}

// startFresh makes the session a new, empty one that no token names yet.
func (s *session) startFresh(now time.Time) {
	s.loaded = true
	s.token, s.key, s.version, s.data, s.shared = "", "", 0, nil, false
	s.deadline = s.cfg.DefaultExpiry.from(now)
	s.expiry = s.idleExpiry(now)
}

// forgetChanges drops this request's record of its changes, once they are stored or
// abandoned.
func (s *session) forgetChanges() {
	s.dirty, s.changes, s.cleared, s.expirySet, s.slid = false, nil, false, false, false
}

// adopt takes rec as the session's stored state and slides its idle expiry.
func (s *session) adopt(rec Record, now time.Time) {
	s.version, s.expiry, s.deadline, s.data = rec.Version, rec.Expiry, rec.Deadline, rec.Data
	if s.cfg.IdleTimeout <= 0 {
		return
	}
	// Slide once a quarter of the timeout has passed since the last slide, and for the
	// final stretch up to the deadline.
	next := s.idleExpiry(now)
	if next.Sub(s.expiry) >= s.cfg.IdleTimeout/4 || next.After(s.expiry) && next.Equal(s.deadline) {
		s.hook()
		s.expiry = next
		s.slid = true
		s.dirty = true
		s.cookieDirty = true
	}
}

// idleExpiry is the expiry of a session used at now: its deadline, or sooner when an
// idle timeout ends it first.
func (s *session) idleExpiry(now time.Time) time.Time {
	if s.cfg.IdleTimeout > 0 {
		if idle := now.Add(s.cfg.IdleTimeout); s.deadline.IsZero() || idle.Before(s.deadline) {
			return idle
		}
	}
	return s.deadline
}

func (s *session) checkWritable() error {
	if s.c.Response().Committed {
		return ErrHeaderWritten
	}
	return nil
}

// change prepares the session for a change by this request.
func (s *session) change() error {
	if err := s.checkWritable(); err != nil {
		return err
	}
	s.hook()
	return s.load()
}

// hook arranges for the session to be committed just before the response header is
// written. Requests that only read the session never need it.
func (s *session) hook() {
	if !s.hooked {
		s.hooked = true
		s.c.Response().Before(s.beforeWrite)
	}
}

func (s *session) delete(key string) error {
	if err := s.change(); err != nil {
		return err
	}
	if _, ok := s.data[key]; !ok {
		return nil
	}
	s.own()
	delete(s.data, key)
	s.record(key, nil)
	return nil
}

// record notes this request's change to key; a nil raw is a deletion. Only a stored
// session can lose a compare-and-swap and need its changes re-applied.
func (s *session) record(key string, raw json.RawMessage) {
	s.dirty = true
	if s.key == "" {
		return
	}
	if s.changes == nil {
		s.changes = make(map[string]json.RawMessage)
	}
	s.changes[key] = raw
}

// destroy turns the session into a new, empty one and schedules the deletion of the
// stored record.
func (s *session) destroy() {
	if s.key != "" && s.oldKey == "" {
		s.oldKey = s.key
	}
	s.startFresh(s.cfg.Now())
	s.forgetChanges()
	s.expireCookie, s.cookieDirty = s.hadCookie, s.hadCookie
}

// beforeWrite commits the session just before the response header is written. A
// failed commit replaces the response with a 500.
func (s *session) beforeWrite() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.commitErr != nil {
		return
	}
	if s.commitErr = s.commit(); s.commitErr != nil {
		res := s.c.Response()
		h := res.Header()
		s.removeCookieHeader()
		h.Del(echo.HeaderContentLength)
		h.Del(echo.HeaderLocation)
		h.Set(echo.HeaderContentType, echo.MIMETextPlainCharsetUTF8)
		res.Status = http.StatusInternalServerError
		res.Writer = &failedWriter{ResponseWriter: res.Writer}
	}
}

// finish commits what is left once the handler has returned.
func (s *session) finish() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.commitErr == nil && !s.c.Response().Committed {
		s.commitErr = s.commit()
	}
	return s.commitErr
}

// commit writes the session's changes to the store and sets the cookie to match.
func (s *session) commit() error {
	if !s.loaded {
		return nil
	}
	now := s.cfg.Now()
	ctx := s.c.Request().Context()
	if s.dirty {
		var err error
		switch {
		case s.key != "":
			err = s.update(ctx, now)
		case len(s.data) > 0:
			err = s.create(ctx)
		}
		if err != nil {
			return err
		}
		s.forgetChanges()
	}
	if s.oldKey != "" {
		if err := s.cfg.store.Delete(ctx, s.oldKey); err != nil {
			return fmt.Errorf("echosess: deleting old session: %w", err)
		}
		s.oldKey = ""
		s.expireCookie = s.hadCookie
		s.cookieDirty = s.cookieDirty || s.hadCookie
	}
	s.writeCookie(now)
	return nil
}

// create stores the session under a new token.
func (s *session) create(ctx context.Context) error {
	for range 3 {
		var raw [32]byte
		rand.Read(raw[:])
		key := storeKey(raw)
		given, err := saveGiven(ctx, s.cfg.store, s.recordAt(key, 0))
		if errors.Is(err, ErrConflict) {
			continue // another session already has this key: draw again
		}
		if err != nil {
			return fmt.Errorf("echosess: creating session: %w", err)
		}
		var token [43]byte
		tokenEncoding.Encode(token[:], raw[:])
		s.token, s.key, s.version, s.shared = string(token[:]), key, 1, given
		s.cookieDirty = true
		return nil
	}
	return fmt.Errorf("echosess: creating session: %w", ErrConflict)
}

// update saves the session over its stored version. When another request saved in
// between, it reloads the record and re-applies only this request's changes.
func (s *session) update(ctx context.Context, now time.Time) error {
	mu := s.cfg.lock(s.key)
	defer mu.Unlock()
	for attempt := 1; ; attempt++ {
		given, err := saveGiven(ctx, s.cfg.store, s.recordAt(s.key, s.version))
		if err == nil {
			s.shared = given
			s.version++
			return nil
		}
		if !errors.Is(err, ErrConflict) || attempt == maxSaveAttempts {
			return fmt.Errorf("echosess: saving session: %w", err)
		}
		if attempt > 2 {
			backoff := time.Duration(mathrand.Int64N(int64(attempt) * int64(100*time.Microsecond)))
			select {
			case <-ctx.Done():
				return fmt.Errorf("echosess: saving session: %w", ctx.Err())
			case <-time.After(backoff):
			}
		}
		rec, err := s.cfg.store.Load(ctx, s.key)
		if errors.Is(err, ErrNotFound) {
			// Destroyed or expired meanwhile: this request's changes start a new session.
			s.rebase(Record{Expiry: s.expiry, Deadline: s.deadline}, now)
			s.token, s.key, s.version = "", "", 0
			if len(s.data) == 0 {
				return nil
			}
			return s.create(ctx)
		}
		if err != nil {
			return fmt.Errorf("echosess: reloading session: %w", err)
		}
		s.rebase(rec, now)
		if size := encodedSize(s.data); size > s.cfg.MaxSize {
			return fmt.Errorf("%w: merged session is %d bytes, over the limit of %d", ErrTooLarge, size, s.cfg.MaxSize)
		}
	}
}

// rebase re-applies this request's changes on top of rec.
func (s *session) rebase(rec Record, now time.Time) {
	data := rec.Data
	if data == nil || s.cleared {
		data = make(map[string]json.RawMessage, len(s.changes))
	}
	for k, v := range s.changes {
		if v == nil {
			delete(data, k)
		} else {
			data[k] = v
		}
	}
	s.data, s.shared, s.version = data, false, rec.Version
	if !s.expirySet {
		s.deadline = rec.Deadline
		if !s.slid {
			s.expiry = rec.Expiry
		} else if next := s.idleExpiry(now); next.After(rec.Expiry) {
			s.expiry = next
		}
	}
}

func (s *session) recordAt(key string, version int64) Record {
	return Record{Key: key, Data: s.data, Expiry: s.expiry, Deadline: s.deadline, Version: version}
}

// writeCookie sends the session cookie, or its removal, when it has changed.
func (s *session) writeCookie(now time.Time) {
	if !s.cookieDirty || s.c.Response().Committed {
		return
	}
	s.cookieDirty = false
	maxAge := 0 // Max-Age=0 removes the cookie
	switch {
	case s.token != "":
		maxAge = max(1, int((s.expiry.Sub(now)+time.Second-1)/time.Second))
	case !s.expireCookie:
		return
	}
	s.removeCookieHeader()
	var b strings.Builder
	b.Grow(len(s.cfg.CookieName) + len(s.token) + len(s.cfg.cookieAttrs) + 32)
	b.WriteString(s.cfg.CookieName)
	b.WriteByte('=')
	b.WriteString(s.token)
	b.WriteString("; Max-Age=")
	var digits [20]byte
	b.Write(strconv.AppendInt(digits[:0], int64(maxAge), 10))
	b.WriteString(s.cfg.cookieAttrs)
	h := s.c.Response().Header()
	h.Add(echo.HeaderSetCookie, b.String())
	h[echo.HeaderCacheControl] = noStore
	s.sentCookie = true
}

// noStore is the Cache-Control header of a response that sets the cookie.
var noStore = []string{"no-store"}

// removeCookieHeader drops a session cookie that an earlier commit of this request
// put in the response header.
func (s *session) removeCookieHeader() {
	if !s.sentCookie {
		return
	}
	s.sentCookie = false
	h := s.c.Response().Header()
	name := s.cfg.CookieName
	kept := h.Values(echo.HeaderSetCookie)[:0]
	for _, v := range h.Values(echo.HeaderSetCookie) {
		if !(strings.HasPrefix(v, name) && len(v) > len(name) && v[len(name)] == '=') {
			kept = append(kept, v)
		}
	}
	if len(kept) == 0 {
		h.Del(echo.HeaderSetCookie)
	} else {
		h[echo.HeaderSetCookie] = kept
	}
}

// tokenEncoding encodes tokens and store keys. Being strict, it gives each token
// exactly one spelling.
var tokenEncoding = base64.RawURLEncoding.Strict()

// parseToken decodes a cookie value that is a well-formed session token.
func parseToken(v string) (raw [32]byte, ok bool) {
	if len(v) != tokenEncoding.EncodedLen(len(raw)) {
		return raw, false
	}
	var src [43]byte // decoding from a copy on the stack saves an allocation
	copy(src[:], v)
	n, err := tokenEncoding.Decode(raw[:], src[:])
	return raw, err == nil && n == len(raw)
}

// storeKey derives the store key from a token, so that the store never holds a
// token a client could present.
func storeKey(raw [32]byte) string {
	sum := sha256.Sum256(raw[:])
	var key [43]byte
	tokenEncoding.Encode(key[:], sum[:])
	return string(key[:])
}

// failedWriter stands in for the response writer after a failed commit: it sends a
// short error body instead of the handler's.
type failedWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *failedWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.wrote = true
		if _, err := w.ResponseWriter.Write([]byte("session could not be saved\n")); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (w *failedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// own makes the session's data its own to change, copying it if the store lent it.
func (s *session) own() {
	if s.shared {
		s.data, s.shared = cloneData(s.data), false
	}
}
