package engine

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
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

// maxTokens is how many session cookies of one request the middleware tries, in
// order, for one that names a live session: a stale cookie at a more specific Path,
// or one from a sibling subdomain, must not log the user out.
const maxTokens = 3

// maxCookiePairs is net/http's bound on the cookies of a request: past it, net/http
// reads none, and neither does the middleware.
const maxCookiePairs = 3000

// requestToken is a well-formed session token of a request, and the version of
// the session that the cookie carried, if any (see Manager.versioned).
type requestToken struct {
	token   string
	raw     [32]byte
	version int64
}

// tokenLen is the length of an encoded token.
const tokenLen = 43

// parseCookieValue decodes a session cookie's value: a token, or a token, a dot and
// the session's version in decimal (a dot is no letter of tokenEncoding).
func parseCookieValue(v string) (raw [32]byte, version int64, ok bool) {
	if len(v) > tokenLen {
		digits := v[tokenLen+1:]
		if v[tokenLen] != '.' || len(digits) == 0 || len(digits) > 18 {
			return raw, 0, false
		}
		for i := range len(digits) {
			if digits[i] < '0' || digits[i] > '9' {
				return raw, 0, false
			}
			version = version*10 + int64(digits[i]-'0')
		}
		v = v[:tokenLen]
	}
	raw, ok = parseToken(v)
	return raw, version, ok
}

// requestTokenAt finds the i-th (from 0) well-formed session token in a request's
// Cookie headers without parsing the cookies it has no use for, and reports whether
// a cookie of that name was sent before it, or at all when there is no such token.
// The load asks for the next one only when a token names no live session, so the
// usual request scans its header once.
func requestTokenAt(h http.Header, name string, i int) (tok requestToken, named, ok bool) {
	lines := h["Cookie"]
	if length := len(lines); length > 1 || length == 1 && len(lines[0]) >= maxCookiePairs {
		pairs := 0 // shorter headers cannot hold more pairs than bytes
		for _, line := range lines {
			if pairs += strings.Count(line, ";") + 1; pairs > maxCookiePairs {
				return tok, false, false
			}
		}
	}
	for _, line := range lines {
		for line != "" {
			var pair string
			pair, line, _ = strings.Cut(line, ";")
			// Trim as net/http's cookie parser does: spaces and tabs, not \v or U+00A0.
			k, value, found := strings.Cut(textproto.TrimString(pair), "=")
			if !found || textproto.TrimString(k) != name {
				continue
			}
			named = true
			if len(value) > 1 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1]
			}
			if raw, version, wellFormed := parseCookieValue(value); wellFormed {
				if i == 0 {
					return requestToken{value[:tokenLen], raw, version}, true, true
				}
				i--
			}
		}
	}
	return tok, named, false
}

// key is the store key of the token.
func (t *requestToken) key() string { return storeKey(t.raw) }

// cookieAttributes spells the attributes of the session cookie, in the form of a
// Set-Cookie header after the name and value. It fails on a cookie that browsers
// would reject or weaken.
func cookieAttributes(name, path, domain string, sameSite http.SameSite, secure, httpOnly bool) (string, error) {
	ck := http.Cookie{Name: name, Value: "v", Path: path, Domain: domain, Secure: secure, HttpOnly: httpOnly, SameSite: sameSite}
	if err := ck.Valid(); err != nil {
		return "", err
	}
	switch {
	case !strings.HasPrefix(path, "/"):
		return "", fmt.Errorf("path %q does not start with /", path)
	case sameSite < http.SameSiteDefaultMode || sameSite > http.SameSiteNoneMode:
		return "", fmt.Errorf("unknown SameSite value %d", sameSite)
	case sameSite == http.SameSiteNoneMode && !secure:
		return "", errors.New("SameSite=None needs Secure: browsers reject it without (CookieInsecure is set)")
	case strings.HasPrefix(name, "__Secure-") && !secure:
		return "", fmt.Errorf("a %q cookie needs Secure (CookieInsecure is set)", name)
	case strings.HasPrefix(name, "__Host-") && (!secure || domain != "" || path != "/"):
		return "", fmt.Errorf("a %q cookie needs Secure, no Domain and Path=/", name)
	}
	return strings.TrimPrefix(ck.String(), name+"=v"), nil
}

// setCookie puts the session cookie in the response header, replacing one that an
// earlier commit of this request put there: the token, followed by the session's
// version when the manager is versioned, until expiry when persistent and until the
// browser closes otherwise, or with an empty token, its removal. A response that
// sets the cookie is never cached.
func (s *Session) setCookie(token string, version int64, persistent bool, expiry time.Time, now time.Time) {
	s.dropCookie()
	maxAge := 0 // Max-Age=0 removes the cookie
	if token != "" {
		maxAge = max(1, int((expiry.Sub(now)+time.Second-1)/time.Second))
	}
	name, attrs := s.m.CookieName, s.m.cookieAttrs
	var b strings.Builder
	b.Grow(len(name) + len(token) + len(attrs) + 52)
	b.WriteString(name)
	b.WriteByte('=')
	b.WriteString(token)
	if token != "" && s.m.versioned {
		b.WriteByte('.')
		var digits [20]byte
		b.Write(strconv.AppendInt(digits[:0], version, 10))
	}
	if persistent {
		b.WriteString("; Max-Age=")
		var digits [20]byte
		b.Write(strconv.AppendInt(digits[:0], int64(maxAge), 10))
	}
	b.WriteString(attrs)
	h := s.x.Header()
	h.Add("Set-Cookie", b.String())
	s.noStore()
	s.cookieSent = true
}

// noStore keeps shared caches from storing the response, which sets the cookie or
// failed.
func (s *Session) noStore() {
	s.x.Header()["Cache-Control"] = s.own(1, "no-store")
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
