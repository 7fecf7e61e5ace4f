package core

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// tokenEncoding encodes tokens and store keys. Being strict, it gives each token
// exactly one spelling.
var tokenEncoding = base64.RawURLEncoding.Strict()

// newToken draws a session token and returns it with its store key.
func newToken() (token, key string) {
	var raw [32]byte
	rand.Read(raw[:])
	var b [43]byte
	tokenEncoding.Encode(b[:], raw[:])
	return string(b[:]), storeKey(raw)
}

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

// requestToken finds the session token in a request's Cookie headers without parsing
// the cookies it has no use for. It returns the first well-formed token under name,
// and whether any cookie of that name was sent at all.
func requestToken(h http.Header, name string) (token, key string, named bool) {
	for _, line := range h["Cookie"] {
		for line != "" {
			var pair string
			pair, line, _ = strings.Cut(line, ";")
			// Trim as net/http's cookie parser does: spaces and tabs, not \v or U+00A0.
			n, value, ok := strings.Cut(textproto.TrimString(pair), "=")
			if !ok || textproto.TrimString(n) != name {
				continue
			}
			named = true
			if len(value) > 1 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1]
			}
			if raw, ok := parseToken(value); ok {
				return value, storeKey(raw), true
			}
		}
	}
	return "", "", named
}

// cookieAttributes spells the attributes of the session cookie, in the form of a
// Set-Cookie header after the name and value. It fails on a cookie that no browser
// would accept.
func cookieAttributes(name, path, domain string, sameSite http.SameSite, secure, httpOnly bool) (string, error) {
	ck := http.Cookie{Name: name, Value: "v", Path: path, Domain: domain, Secure: secure, HttpOnly: httpOnly, SameSite: sameSite}
	if err := ck.Valid(); err != nil {
		return "", err
	}
	return strings.TrimPrefix(ck.String(), name+"=v"), nil
}

// setCookie puts the session cookie in the response header, replacing one that an
// earlier commit of this request put there: the token, until expiry when persistent
// and until the browser closes otherwise, or with an empty token, its removal. A
// response that sets the cookie is never cached.
func (s *Session) setCookie(token string, persistent bool, expiry time.Time, now time.Time) {
	s.dropCookie()
	maxAge := 0 // Max-Age=0 removes the cookie
	if token != "" {
		maxAge = max(1, int((expiry.Sub(now)+time.Second-1)/time.Second))
	}
	name, attrs := s.m.CookieName, s.m.cookieAttrs
	var b strings.Builder
	b.Grow(len(name) + len(token) + len(attrs) + 32)
	b.WriteString(name)
	b.WriteByte('=')
	b.WriteString(token)
	if persistent {
		b.WriteString("; Max-Age=")
		var digits [20]byte
		b.Write(strconv.AppendInt(digits[:0], int64(maxAge), 10))
	}
	b.WriteString(attrs)
	h := s.x.Header()
	h.Add("Set-Cookie", b.String())
	noStore(h)
	s.cookieSent = true
}

// noStore keeps shared caches from storing a response that sets the cookie or failed.
// Each response gets a value of its own: a handler may change its header in place.
func noStore(h http.Header) {
	h["Cache-Control"] = []string{"no-store"}
}

// dropCookie removes the session cookie that an earlier commit of this request put
// in the response header.
func (s *Session) dropCookie() {
	if !s.cookieSent {
		return
	}
	s.cookieSent = false
	h := s.x.Header()
	name := s.m.CookieName
	kept := h.Values("Set-Cookie")[:0]
	for _, v := range h.Values("Set-Cookie") {
		if !(strings.HasPrefix(v, name) && len(v) > len(name) && v[len(name)] == '=') {
			kept = append(kept, v)
		}
	}
	if len(kept) == 0 {
		h.Del("Set-Cookie")
	} else {
		h["Set-Cookie"] = kept
	}
}

// FailedWriter returns the writer that stands in for w after a failed commit: it
// sends a short error body instead of the handler's.
func FailedWriter(w http.ResponseWriter) http.ResponseWriter {
	return &failedWriter{ResponseWriter: w}
}

// failedWriter is the writer of FailedWriter.
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
