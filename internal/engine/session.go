package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"time"
)

// Exchange is what the session engine needs of one HTTP exchange. Each framework
// adapter supplies it; the engine knows no framework.
type Exchange interface {
	Request() *http.Request
	// Header is the response header.
	Header() http.Header
	// Committed reports whether the response header has been written.
	Committed() bool
	// Before arranges for fn to run just before the response header is written.
	Before(fn func())
	// Status is the status of the response, as it is being written in a Before hook.
	Status() int
	// WriteHeader writes the response header the framework's way, running its Before
	// hooks, unless it is out already.
	WriteHeader()
	// Fail, called from a Before hook, replaces the response with status and a short
	// error body.
	Fail(status int)
	// RealIP is the client's IP address as the framework finds it (Echo's
	// IPExtractor), for Config.RecordDevice.
	RealIP() string
}

// phase is how far a request has got with its session.
type phase uint8

const (
	unread phase = iota // the store has not been asked
	fresh               // no stored session: a new one, stored once it holds data
	stored              // the session is the stored record in base
)

// ending is what a request's commit does to the stored record besides changing it.
type ending uint8

const (
	keep    ending = iota
	renew          // move the data to a new token and end the old record
	destroy        // end the stored record; values set afterwards start a new session
)

// op is one change a request made to its session's data, replayed in order on the
// stored record when another request committed first.
type op struct {
	key    string
	value  json.RawMessage // the value set; nil for a deletion
	popped json.RawMessage // for Pop: the value taken, which must still be there
}

// session is one request's session: the record it started from and what it changed.
type Session struct {
	m  *Manager
	x  Exchange
	mu sync.Mutex

	phase phase
	token string // the token that names base; "" when fresh
	base  Record // stored: the record as loaded or last committed
	data  map[string]json.RawMessage
	lent  bool // data is the store's copy, lent read-only: copy it before changing it
	// encoded is the length of data encoded as a JSON object, once Set has needed it,
	// kept as data changes so that each Set costs the same however many keys there
	// are; 0 when it is not known.
	encoded int

	// This request's changes since its last commit.
	ops      []op
	end      ending
	lifetime time.Time // the deadline SetExpiry chose; zero when it was not called
	remember *bool     // RememberMe's choice; nil when it was not called
	user     *string   // BindUser's choice; nil when it was not called

	hadCookie  bool  // the request named a session cookie, so an ending must remove it
	hooked     bool  // the commit runs before the response header
	cookieSent bool  // the response header holds a session cookie
	held       bool  // a failed Save holds back the automatic commit until the next change
	abandoned  bool  // the handler failed: commit nothing
	commitErr  error // the automatic commit's failure
	logged     bool  // commitErr has been logged
	// cookieVersion is the session's version that the client's cookie holds: the
	// request's, then the last one this request's commits set (Manager.versioned).
	cookieVersion int64

	values [2]string // the response's own Vary and Cache-Control values; see own
}

// load reads the session from the store the first time it is needed. The first of
// the request's session cookies that names a live session wins. A token the store
// does not know, whose record ended, or whose data does not decode gives a fresh
// session that will get a new token: a client never chooses its own ID.
//
// The response then depends on the cookie, and says so with Vary: Cookie, so a load
// after the header went out fails with ErrHeaderWritten.
func (s *Session) load() error {
	if s.phase != unread {
		return nil
	}
	if s.x.Committed() {
		return ErrHeaderWritten
	}
	req := s.x.Request()
	s.addVary()
	for i := range maxTokens {
		tok, named, ok := requestTokenAt(req.Header, s.m.CookieName, i)
		s.hadCookie = s.hadCookie || named
		if !ok {
			break
		}
		ctx := req.Context()
		rec, lent, err := loadLent(ctx, s.m.store, tok.key(), tok.version)
		now := s.m.Now()
		switch {
		case err == nil && rec.Version < 1:
			// Every stored record has been saved at least once. One whose version says
			// otherwise (a row changed by hand) would fail every compare-and-swap.
			s.m.Logger.WarnContext(ctx, "echosess: dropping a session whose stored version is out of range", "version", rec.Version)
		case err == nil && isLive(rec, now):
			s.phase, s.token, s.base, s.data, s.lent = stored, tok.token, rec, rec.Data, lent
			s.cookieVersion = tok.version
			if s.m.slides(rec, now) {
				s.hook() // a read-only request still moves the idle expiry
			}
			return nil
		case err == nil || errors.Is(err, ErrNotFound):
		case errors.Is(err, ErrDecode):
			s.m.Logger.WarnContext(ctx, "echosess: dropping a session whose data does not decode", "error", err)
		default:
			return fmt.Errorf("load session: %w", err)
		}
	}
	s.phase = fresh
	return nil
}

// isLive reports whether rec is a session at now, rather than expired or the link
// that a renewal leaves behind.
func isLive(rec Record, now time.Time) bool {
	return rec.Expiry.After(now) && !renewed(rec)
}

// renewed reports whether rec is the link that a renewal leaves behind, which holds
// nothing but its successor's key.
func renewed(rec Record) bool {
	if len(rec.Data) != 1 {
		return false
	}
	_, ok := rec.Data[renewedTo]
	return ok
}

// addVary marks the response as one that depends on the session cookie, unless
// its Vary header says so already, as Echo's CSRF middleware makes it.
func (s *Session) addVary() {
	h := s.x.Header()
	switch vary := h["Vary"]; {
	case vary == nil:
		h["Vary"] = s.own(0, "Cookie")
	case !listsCookie(vary):
		h["Vary"] = append(vary, "Cookie")
	}
}

// listsCookie reports whether the Vary header values name Cookie, in any case and
// anywhere in a comma-separated list.
func listsCookie(values []string) bool {
	for _, v := range values {
		for v != "" {
			var name string
			name, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(textproto.TrimString(name), "Cookie") {
				return true
			}
		}
	}
	return false
}

// own returns a header value of the request's own, kept in the session to save an
// allocation: a handler that changes it in place changes no other response.
func (s *Session) own(i int, v string) []string {
	s.values[i] = v
	return s.values[i : i+1 : i+1]
}

// change prepares the session for a change by this request (prepare) and arranges
// its commit (changing).
func (s *Session) change() error {
	if err := s.prepare(); err != nil {
		return err
	}
	s.changing()
	return nil
}

// prepare loads the session for a change that must reach the client: the response
// header must not be out yet.
func (s *Session) prepare() error {
	if s.x.Committed() {
		return ErrHeaderWritten
	}
	return s.load()
}

// changing arranges the commit of a change of this request, which ends the hold of
// a failed Save.
func (s *Session) changing() {
	s.hook()
	s.held = false
}

// hook arranges for the session to be committed just before the response header is
// written. Requests that only read the session never need it.
func (s *Session) hook() {
	if !s.hooked {
		s.hooked = true
		s.x.Before(s.beforeWrite)
	}
}

// size is the length of the session's data encoded as a JSON object.
func (s *Session) size() int {
	if s.encoded == 0 {
		s.encoded = encodedSize(s.data)
	}
	return s.encoded
}

// apply makes one change to the session's data and records it for the commit.
func (s *Session) apply(o op) {
	if s.lent {
		s.data, s.lent = cloneData(s.data), false
	}
	if s.encoded != 0 {
		if old, had := s.data[o.key]; had {
			s.encoded -= entrySize(o.key, old)
		}
		if o.value != nil {
			s.encoded += entrySize(o.key, o.value)
		}
	}
	if o.value == nil {
		delete(s.data, o.key)
	} else {
		if s.data == nil {
			s.data = make(map[string]json.RawMessage)
		}
		s.data[o.key] = o.value
	}
	s.ops = append(s.ops, o)
}

// replay applies ops to data, the data of a record that another request committed
// after this one loaded. A value this request popped must still be there: Pop hands
// out a value once.
func replay(data map[string]json.RawMessage, ops []op) error {
	for _, o := range ops {
		if o.popped != nil && !bytes.Equal(data[o.key], o.popped) {
			return fmt.Errorf("%w: %q was popped by another request", ErrConflict, o.key)
		}
		if o.value == nil {
			delete(data, o.key)
		} else {
			data[o.key] = o.value
		}
	}
	return nil
}

// endSession ends the session for the rest of the request: the commit ends the stored
// record, and values set afterwards start a new session.
func (s *Session) endSession() {
	s.end = destroy
	s.data, s.lent, s.encoded, s.ops, s.lifetime, s.remember, s.user = nil, false, 0, nil, time.Time{}, nil, nil
}

// forget drops the changes once they are committed.
func (s *Session) forget() {
	s.ops, s.end, s.lifetime, s.remember, s.user = s.ops[:0], keep, time.Time{}, nil, nil
}

// pending reports whether the session has changes to commit.
func (s *Session) pending() bool {
	return len(s.ops) > 0 || s.end != keep || !s.lifetime.IsZero() || s.remember != nil || s.user != nil
}

// beforeWrite commits the session just before the response header is written, unless
// the response is a server error: then nothing the handler changed outlives its
// failure. A failed commit replaces the response with an error.
func (s *Session) beforeWrite() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.commitErr != nil {
		return
	}
	if s.x.Status() >= 500 {
		s.abandoned = true
		return
	}
	if s.commitErr = s.commit(); s.commitErr != nil {
		s.dropCookie()
		h := s.x.Header()
		h.Del("Content-Length")
		h.Del("Location")
		h.Set("Content-Type", "text/plain; charset=UTF-8")
		s.noStore()
		s.x.Fail(FailureStatus(s.commitErr))
	}
}

// abandon drops what the request has not committed, and keeps a later Before hook
// from committing it.
func (s *Session) abandon() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.abandoned = true
}

// FlushGuard is the writer that an adapter puts under the framework's response once
// the session must be committed. A handler that flushes before it writes (streaming,
// server-sent events) sends the header, and the frameworks' Flush does not run their
// Before hooks: FlushGuard writes the header through Exchange.WriteHeader first, so
// the commit and its cookie still go out with it. Adapters keep one in their
// per-request value.
type FlushGuard struct {
	http.ResponseWriter
	Exchange Exchange
}

// Flush writes the header the framework's way, then flushes.
func (w *FlushGuard) Flush() {
	w.Exchange.WriteHeader()
	if err := http.NewResponseController(w.ResponseWriter).Flush(); errors.Is(err, http.ErrNotSupported) {
		panic(fmt.Errorf("echosess: response writer %T does not support flushing", w.ResponseWriter))
	}
}

// Unwrap returns the writer under the guard, for http.ResponseController.
func (w *FlushGuard) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Finish commits what is left once the handler has returned, and reports a failed
// commit, whether it happened now or just before the response header, which the
// adapter hands to its ErrorHandler. The failure is logged here.
func (s *Session) Finish() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.commitErr == nil && !s.x.Committed() {
		if s.commitErr = s.commit(); s.commitErr != nil {
			s.noStore()
		}
	}
	if s.commitErr != nil && !s.logged {
		s.logged = true
		s.m.Logger.ErrorContext(s.x.Request().Context(), "echosess: commit failed", "error", s.commitErr)
	}
	return s.commitErr
}
