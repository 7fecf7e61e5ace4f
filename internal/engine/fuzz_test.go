package engine

// Fuzz targets for every parser of outside input: the cookie and its token, a stored
// record's bytes, and the typed decoding of Get and Pop. Their seed corpora live in
// testdata/fuzz; `go test` runs the seeds, `go test -fuzz` searches further (see
// RELIABILITY.md and .ci/reliability.sh).

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzNow is the fixed time of every fuzzed request.
var fuzzNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fuzzToken is the token of the one live session in the fuzzed stores.
var fuzzToken = base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))

func fuzzKey() string {
	raw, _ := parseToken(fuzzToken)
	return storeKey(raw)
}

// FuzzParseToken checks that parseToken accepts exactly the canonical base64url
// encodings of 32 bytes, so that one session has one token and no other string,
// and that parseCookieValue accepts exactly such a token, alone or followed by a dot
// and 1 to 18 decimal digits, the session's version.
func FuzzParseToken(f *testing.F) {
	f.Add(fuzzToken)
	f.Add("")
	f.Add(fuzzToken[:42])
	f.Add(fuzzToken + "A")
	f.Add(fuzzToken[:42] + "B") // non-zero padding bits
	f.Add(strings.Repeat("/", 43))
	f.Add(strings.Repeat("=", 43))
	f.Add(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 32)))
	f.Add(fuzzToken + ".7")
	f.Add(fuzzToken + ".")
	f.Add(fuzzToken + ".-1")
	f.Add(fuzzToken + ".1234567890123456789")
	f.Add(fuzzToken + "x12")
	f.Fuzz(func(t *testing.T, v string) {
		_, version, cookieOK := parseCookieValue(v)
		wantVersion, wantOK := int64(0), false
		if m := cookieValuePattern.FindStringSubmatch(v); m != nil {
			_, wantOK = parseToken(m[1])
			if m[2] != "" {
				wantVersion, _ = strconv.ParseInt(m[2], 10, 64)
			}
		}
		if cookieOK != wantOK || cookieOK && version != wantVersion {
			t.Fatalf("parseCookieValue(%q) = version %d, ok %v; want %d, %v", v, version, cookieOK, wantVersion, wantOK)
		}

		raw, ok := parseToken(v)
		want := false
		if b, err := base64.RawURLEncoding.DecodeString(v); err == nil && len(b) == 32 {
			want = base64.RawURLEncoding.EncodeToString(b) == v
		}
		if ok != want {
			t.Fatalf("parseToken(%q) ok = %v, want %v", v, ok, want)
		}
		if ok && base64.RawURLEncoding.EncodeToString(raw[:]) != v {
			t.Fatalf("parseToken(%q) = %x, which encodes differently", v, raw)
		}
	})
}

// cookieValuePattern is the form of a session cookie's value: a token of 43
// characters, and optionally a dot and the session's version.
var cookieValuePattern = regexp.MustCompile(`^(.{43})(?:\.([0-9]{1,18}))?$`)

// fuzzStore is a Store that counts its calls.
type fuzzStore struct {
	Store
	loads, saves atomic.Int64
}

func (s *fuzzStore) Load(ctx context.Context, key string) (Record, error) {
	s.loads.Add(1)
	return s.Store.Load(ctx, key)
}

func (s *fuzzStore) Save(ctx context.Context, rec Record) error {
	s.saves.Add(1)
	return s.Store.Save(ctx, rec)
}

// fuzzRequest runs handler on the session of a GET with the given Cookie header, as
// an adapter's middleware would, and returns the recorded response.
func fuzzRequest(t *testing.T, cfg testConfig, cookie string, handler func(x *testExchange) error) *httptest.ResponseRecorder {
	t.Helper()
	cfg.Now = func() time.Time { return fuzzNow }
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	x := newTestExchange(t, cfg, req)
	if err := handler(x); err != nil {
		t.Fatalf("Cookie %q: handler returned %v", cookie, err)
	}
	if err := x.Finish(); err != nil {
		t.Fatalf("Cookie %q: commit failed: %v", cookie, err)
	}
	return x.rec
}

// responseToken returns the session token the response sets, or "".
func responseToken(rec *httptest.ResponseRecorder) string {
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == "session" {
			return ck.Value
		}
	}
	return ""
}

// FuzzCookieHeader sends any Cookie header through the middleware. The request must
// get the one live session when one of its first maxTokens well-formed session
// cookies names it, and a new session otherwise; the store is asked once for each of
// those tokens up to the live one, and never for anything else; a new session never
// takes a token from the request.
func FuzzCookieHeader(f *testing.F) {
	other := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	for _, seed := range []string{
		"",
		"session=" + fuzzToken,
		"session=" + fuzzToken + ".1",
		"session=" + other + ".3; session=" + fuzzToken + ".99",
		"session=" + other,
		"session=garbage",
		`session="` + fuzzToken + `"`,
		"session=" + other + "; session=" + fuzzToken,
		"session=x; a=b; session=" + fuzzToken,
		"SESSION=" + fuzzToken,
		"session=" + fuzzToken[:42] + "B",
		"session=" + fuzzToken + "; session=" + fuzzToken,
		strings.Repeat("session=a;", 50),
		"session=" + other + "; session=" + other + "; session=" + other + "; session=" + fuzzToken,
		"session=" + other + "; session=" + other + "; session=" + fuzzToken,
		strings.Repeat(";", 3001) + "session=" + fuzzToken,
		"session=\x00\xff" + fuzzToken,
		";;;=;=session;session=;",
	} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, cookie string, write bool) {
		mem := NewMemoryStore(WithClock(func() time.Time { return fuzzNow }))
		if err := mem.Save(context.Background(), Record{
			Key:    fuzzKey(),
			Data:   map[string]json.RawMessage{"k": json.RawMessage(`"live"`)},
			Expiry: fuzzNow.Add(time.Hour), Deadline: fuzzNow.Add(time.Hour),
		}); err != nil {
			t.Fatal(err)
		}
		store := &fuzzStore{Store: mem}
		var got string
		rec := fuzzRequest(t, testConfig{Store: store}, cookie, func(x *testExchange) error {
			v, _, err := Get[string](&x.Session, "k")
			if err != nil {
				return err
			}
			got = v
			if write {
				if err := x.Set("w", 1); err != nil {
					return err
				}
			}
			return x.respond(http.StatusOK, v)
		})

		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Cookie", cookie)
		presented := req.CookiesNamed("session")
		var tried []string // the well-formed tokens the middleware tries, in order
		adopted := false
		for _, ck := range presented {
			if _, _, ok := parseCookieValue(ck.Value); ok && len(tried) < maxTokens && !adopted {
				tried = append(tried, ck.Value)
				adopted = ck.Value[:tokenLen] == fuzzToken
			}
		}

		if rec.Code != http.StatusOK {
			t.Fatalf("Cookie %q: status %d", cookie, rec.Code)
		}
		if loads := store.loads.Load(); loads != int64(len(tried)) {
			t.Fatalf("Cookie %q (tokens %q): %d store loads, want %d", cookie, tried, loads, len(tried))
		}
		if adopted != (got == "live") {
			t.Fatalf("Cookie %q (tokens %q): read %q", cookie, tried, got)
		}
		token := responseToken(rec)
		switch {
		case !write && (token != "" || store.saves.Load() != 0):
			t.Fatalf("Cookie %q: a read-only request set cookie %q after %d saves", cookie, token, store.saves.Load())
		case write && adopted && token != "":
			t.Fatalf("Cookie %q: a write to the live session changed its token to %q", cookie, token)
		case write && !adopted:
			if _, ok := parseToken(token); !ok {
				t.Fatalf("Cookie %q: a new session got token %q", cookie, token)
			}
			for _, ck := range presented {
				if ck.Value == token {
					t.Fatalf("Cookie %q: the new session took the client's token", cookie)
				}
			}
		}
	})
}

// rowQueries serves one live row holding data, as a database whose data column was
// overwritten would.
type rowQueries struct{ data []byte }

func (q rowQueries) Load(_ context.Context, _ string, now time.Time) (SQLRow, bool, error) {
	return SQLRow{Data: q.data, Expiry: now.Add(time.Hour), Deadline: now.Add(time.Hour), Version: 1}, true, nil
}

func (rowQueries) Insert(context.Context, string, SQLRow, time.Time) (int64, error) { return 1, nil }
func (rowQueries) Update(context.Context, string, SQLRow, time.Time) (int64, error) { return 1, nil }
func (rowQueries) Touch(context.Context, string, SQLRow, time.Time) (int64, error)  { return 1, nil }
func (rowQueries) Delete(context.Context, string) error                             { return nil }
func (rowQueries) DeleteExpired(context.Context, time.Time, int) (int64, error)     { return 0, nil }
func (rowQueries) ListUser(context.Context, string, time.Time) ([]SQLRow, error)    { return nil, nil }
func (rowQueries) EndListed(context.Context, []string, []string, time.Time) ([]string, error) {
	return nil, nil
}

// FuzzStoredData decodes any bytes as a stored data column. The SQL store must return
// an error wrapping ErrDecode or a record that can be saved back unchanged; the
// middleware must treat an undecodable row as a lost session: no error, nothing read,
// a new token on write and a warning logged.
func FuzzStoredData(f *testing.F) {
	for _, seed := range []string{
		`{}`, `null`, `{"a":"1","b":{"c":[1,2,3]}}`, `{"a":1,"a":2}`, `[]`, `"str"`, `1`, ``,
		`{"a":`, `{"a":1}x`, `{"a":1} `, "{\"\xff\":1}", `{"a":"\ud800"}`, `{"a":1e999}`,
		strings.Repeat("[", 20000) + strings.Repeat("]", 20000),
		`{"a":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`,
		"\x00\x01\x02", `{"__proto__":{}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		store := NewSQLStore(rowQueries{data: data}, DialectSQLite, []StoreOption{WithClock(func() time.Time { return fuzzNow })})
		got, err := store.Load(context.Background(), "key")
		if err != nil {
			if !errors.Is(err, ErrDecode) {
				t.Fatalf("Load(%q): %v, want ErrDecode", data, err)
			}
		} else {
			if got.Data == nil {
				t.Fatalf("Load(%q): nil Data", data)
			}
			enc, err := encodeData(got.Data)
			if err != nil {
				t.Fatalf("Load(%q) gave data that does not encode: %v", data, err)
			}
			again, err := NewSQLStore(rowQueries{data: enc}, DialectSQLite, nil).Load(context.Background(), "key")
			if err != nil || len(again.Data) != len(got.Data) {
				t.Fatalf("Load(%q) re-encoded as %q: %d keys, %v; want %d keys", data, enc, len(again.Data), err, len(got.Data))
			}
		}

		var logged bytes.Buffer
		cfg := testConfig{Store: store, Logger: slog.New(slog.NewTextHandler(&logged, nil))}
		var read bool
		rec := fuzzRequest(t, cfg, "session="+fuzzToken, func(x *testExchange) error {
			_, ok, gerr := Get[json.RawMessage](&x.Session, "a")
			if gerr != nil && !errors.Is(gerr, ErrDecode) {
				return gerr
			}
			read = ok
			if err := x.Set("w", 1); err != nil {
				return err
			}
			return x.respond(http.StatusOK, "")
		})
		if rec.Code != http.StatusOK {
			t.Fatalf("data %q: status %d", data, rec.Code)
		}
		if err != nil {
			token := responseToken(rec)
			if read || token == "" || token == fuzzToken {
				t.Fatalf("data %q (%v): read %v, token %q; want a new session", data, err, read, token)
			}
			if !strings.Contains(logged.String(), "does not decode") {
				t.Fatalf("data %q (%v): no warning logged, log %q", data, err, logged.String())
			}
		}
	})
}

// fuzzPoint is a struct target for FuzzGet.
type fuzzPoint struct {
	X, Y  int
	Name  string            `json:"name"`
	Tags  []string          `json:"tags,omitempty"`
	Next  *fuzzPoint        `json:"next"`
	Attrs map[string]any    `json:"attrs"`
	Raw   json.RawMessage   `json:"raw"`
	When  time.Time         `json:"when"`
	Sub   map[string][]bool `json:"sub"`
}

// FuzzGet stores any bytes as one value of a session and reads it back with Get and
// Pop into several types. Each read must succeed or fail with ErrDecode, valid JSON
// must read back as json.RawMessage, a Pop must remove the value exactly when it
// succeeds, and the session's other key must stay as it was.
func FuzzGet(f *testing.F) {
	for _, seed := range []string{
		`"s"`, `1`, `-1.5e3`, `true`, `null`, `[1,2]`, `{"a":1}`, `{"X":1,"name":"n","next":{"Y":2}}`,
		`"2026-01-02T03:04:05Z"`, `{"when":"not a time"}`, `[true,"x",null]`, `99999999999999999999`,
		`"\u00e9\ud800"`, `{`, ``, "\xff", strings.Repeat(`{"next":`, 3000) + `{}` + strings.Repeat(`}`, 3000),
		strings.Repeat("[", 11000) + strings.Repeat("]", 11000),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		mem := NewMemoryStore(WithClock(func() time.Time { return fuzzNow }))
		if err := mem.Save(context.Background(), Record{
			Key:    fuzzKey(),
			Data:   map[string]json.RawMessage{"f": value, "keep": json.RawMessage(`"me"`)},
			Expiry: fuzzNow.Add(time.Hour), Deadline: fuzzNow.Add(time.Hour),
		}); err != nil {
			t.Fatal(err)
		}
		check := func(what string, err error) {
			if err != nil && !errors.Is(err, ErrDecode) {
				t.Fatalf("%s of %q: %v, want nil or ErrDecode", what, value, err)
			}
		}
		rec := fuzzRequest(t, testConfig{Store: mem}, "session="+fuzzToken, func(x *testExchange) error {
			_, _, err := Get[string](&x.Session, "f")
			check("Get[string]", err)
			_, _, err = Get[int](&x.Session, "f")
			check("Get[int]", err)
			_, _, err = Get[uint8](&x.Session, "f")
			check("Get[uint8]", err)
			_, _, err = Get[float64](&x.Session, "f")
			check("Get[float64]", err)
			_, _, err = Get[bool](&x.Session, "f")
			check("Get[bool]", err)
			_, _, err = Get[[]int](&x.Session, "f")
			check("Get[[]int]", err)
			_, _, err = Get[[2]string](&x.Session, "f")
			check("Get[[2]string]", err)
			_, _, err = Get[map[string]int](&x.Session, "f")
			check("Get[map[string]int]", err)
			_, _, err = Get[*fuzzPoint](&x.Session, "f")
			check("Get[*fuzzPoint]", err)
			_, _, err = Get[time.Time](&x.Session, "f")
			check("Get[time.Time]", err)
			_, _, err = Get[json.Number](&x.Session, "f")
			check("Get[json.Number]", err)
			_, _, err = Get[any](&x.Session, "f")
			check("Get[any]", err)
			raw, ok, err := Get[json.RawMessage](&x.Session, "f")
			check("Get[json.RawMessage]", err)
			if json.Valid(value) && (!ok || !json.Valid(raw)) {
				t.Fatalf("Get[json.RawMessage] of valid JSON %q: %q, %v, %v", value, raw, ok, err)
			}
			_, popped, err := Pop[fuzzPoint](&x.Session, "f")
			check("Pop[fuzzPoint]", err)
			_, ok, err = Get[json.RawMessage](&x.Session, "f")
			if present := ok || errors.Is(err, ErrDecode); popped == present {
				t.Fatalf("Pop[fuzzPoint] of %q reported %v, but afterwards the key is present: %v", value, popped, present)
			}
			keep, ok, err := Get[string](&x.Session, "keep")
			if keep != "me" || !ok || err != nil {
				t.Fatalf("after reading %q: keep = %q, %v, %v", value, keep, ok, err)
			}
			return x.respond(http.StatusOK, "")
		})
		if rec.Code != http.StatusOK {
			t.Fatalf("value %q: status %d", value, rec.Code)
		}
		stored, err := mem.Load(context.Background(), fuzzKey())
		if err != nil || string(stored.Data["keep"]) != `"me"` {
			t.Fatalf("value %q: stored keep = %q, %v", value, stored.Data["keep"], err)
		}
	})
}

// FuzzQuotedLen checks that the session size limit counts a key exactly as
// encoding/json spells it.
func FuzzQuotedLen(f *testing.F) {
	for _, k := range []string{"a", "ü✓", "\"\\\n\r\t\b\f", "\x01\x1f<>&\u2028\u2029"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if !utf8.ValidString(key) {
			return
		}
		b, err := json.Marshal(key)
		if err != nil {
			t.Fatal(err)
		}
		if got := quotedLen(key); got != len(b) {
			t.Fatalf("quotedLen(%q) = %d, encoding/json spells it in %d bytes", key, got, len(b))
		}
	})
}
