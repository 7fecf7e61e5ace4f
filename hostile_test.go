package echosess_test

// Oversized and hostile input: each gets a clear error or a fresh session, nothing
// huge reaches the store, memory stays bounded, and the session's other keys stay.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/internal/adaptertest"
	"github.com/echosess/echosess/internal/adaptertest/allstores"
	"github.com/echosess/echosess/memstore"
	"github.com/labstack/echo/v4"
)

const (
	mib            = 1 << 20
	hostileMaxSize = 4 << 10 // Config.MaxSize of the hostile apps
)

// hostileApp is the harness's app served in process, so that requests can carry
// what net/http's server would refuse to read (as a proxy with larger limits could
// forward it).
type hostileApp struct {
	t     *testing.T
	e     *echo.Echo
	store *adaptertest.CountingStore
	sizes *sizeStore
	logs  *syncBuffer
}

func newHostileApp(t *testing.T, v adaptertest.Variant) *hostileApp {
	t.Helper()
	clk := adaptertest.NewClock()
	a := &hostileApp{t: t, logs: new(syncBuffer)}
	a.sizes = &sizeStore{Store: v.NewStore(t, clk.Now)}
	a.store = &adaptertest.CountingStore{Store: a.sizes}
	cfg := adaptertest.Config{
		Store:   a.store,
		Now:     clk.Now,
		MaxSize: hostileMaxSize,
		Logger:  slog.New(slog.NewTextHandler(a.logs, nil)),
	}
	if v.Cached {
		cfg.Cache = echosess.NewMemoryStore(memstore.WithClock(clk.Now))
	}
	a.e = newApp(cfg, nil, nil, adaptertest.Routes())
	a.e.POST("/setraw", func(c echo.Context) error {
		body, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		return adaptertest.Reply(c, "ok", true, echosess.Set(c, c.QueryParam("k"), json.RawMessage(body)))
	})
	a.e.GET("/getany", func(c echo.Context) error {
		v, ok, err := echosess.Get[any](c, c.QueryParam("k"))
		return adaptertest.Reply(c, fmt.Sprintf("%T", v), ok, err)
	})
	return a
}

// do serves one request in process; cookie is the whole Cookie header.
func (a *hostileApp) do(method, path, cookie string, body []byte, query ...string) adaptertest.Response {
	a.t.Helper()
	q := url.Values{}
	for i := 0; i+1 < len(query); i += 2 {
		q.Set(query[i], query[i+1])
	}
	req := httptest.NewRequest(method, path+"?"+q.Encode(), bytes.NewReader(body))
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	rec := httptest.NewRecorder()
	a.e.ServeHTTP(rec, req)
	return adaptertest.Response{Status: rec.Code, Body: rec.Body.String(), Header: rec.Header()}
}

// get serves a GET and fails the test on a status other than 200 or 418 (the
// routes' answer to an error from the handler API).
func (a *hostileApp) get(path, cookie string, query ...string) adaptertest.Response {
	a.t.Helper()
	r := a.do(http.MethodGet, path, cookie, nil, query...)
	if r.Status != http.StatusOK && r.Status != http.StatusTeapot {
		a.t.Fatalf("GET %s: %d %.200q", path, r.Status, r.Body)
	}
	return r
}

// newSession starts a session holding keep=me and returns its Cookie header.
func (a *hostileApp) newSession() string {
	a.t.Helper()
	r := a.get("/set", "", "k", "keep", "v", "me")
	ck := r.Cookie(cookieName)
	if r.Body != "ok" || ck == nil {
		a.t.Fatalf("starting a session: %q, Set-Cookie %q", r.Body, r.Header.Get("Set-Cookie"))
	}
	return cookieName + "=" + ck.Value
}

// checkIntact fails the test unless the session under cookie still holds keep=me,
// and checks that the store never received a record over MaxSize.
func (a *hostileApp) checkIntact(cookie string) {
	a.t.Helper()
	if r := a.get("/get", cookie, "k", "keep"); r.Body != "me" {
		a.t.Fatalf("the session's other key: keep = %.200q", r.Body)
	}
	if n := a.sizes.max.Load(); n > hostileMaxSize {
		a.t.Fatalf("the store was sent a record of %d bytes, over MaxSize %d", n, hostileMaxSize)
	}
}

// sizeStore remembers the largest record saved through it, counted as keys plus values.
type sizeStore struct {
	echosess.Store
	max atomic.Int64
}

func (s *sizeStore) Save(ctx context.Context, rec echosess.Record) error {
	var n int64
	for k, v := range rec.Data {
		n += int64(len(k) + len(v))
	}
	for {
		old := s.max.Load()
		if n <= old || s.max.CompareAndSwap(old, n) {
			break
		}
	}
	return s.Store.Save(ctx, rec)
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var hostileTests = []struct {
	name string
	fn   func(*testing.T, *hostileApp)
}{
	{"HugeCookieHeader", testHugeCookieHeader},
	{"ThousandsOfCookies", testThousandsOfCookies},
	{"HugeKey", testHugeKey},
	{"ValueOverLimit", testValueOverLimit},
	{"DeeplyNestedJSON", testDeeplyNestedJSON},
	{"InvalidUTF8Keys", testInvalidUTF8Keys},
	{"OddKeys", testOddKeys},
}

// TestHostileInput runs each hostile input on every store variant.
func TestHostileInput(t *testing.T) {
	for _, v := range allstores.Variants {
		t.Run(v.Name, func(t *testing.T) {
			for _, tt := range hostileTests {
				t.Run(tt.name, func(t *testing.T) { tt.fn(t, newHostileApp(t, v)) })
			}
		})
	}
}

// testHugeCookieHeader sends a Cookie header of 1 MiB: the request gets a fresh
// session without a single store call, and a write gets a new token.
func testHugeCookieHeader(t *testing.T, a *hostileApp) {
	cookie := a.newSession()
	before := a.store.Calls()
	for _, huge := range []string{
		cookieName + "=" + strings.Repeat("A", mib),
		strings.Repeat("x=y; ", mib/5),
		cookieName + "=" + strings.Repeat(`"`, mib),
		strings.Repeat(cookieName+"=;", mib/9),
	} {
		if r := a.get("/get", huge, "k", "keep"); r.Status != http.StatusOK || r.Body != "<absent>" {
			t.Fatalf("1 MiB Cookie header: %d %.200q, want a fresh session", r.Status, r.Body)
		}
		if n := a.store.Calls() - before; n != 0 {
			t.Fatalf("a 1 MiB Cookie header without a token cost %d store calls", n)
		}
	}
	huge := cookieName + "=" + strings.Repeat("A", mib)
	r := a.get("/set", huge, "k", "a", "v", "1")
	ck := r.Cookie(cookieName)
	if r.Body != "ok" || ck == nil || len(ck.Value) != 43 {
		t.Fatalf("write with a 1 MiB cookie: %q, Set-Cookie %.200q", r.Body, r.Header.Get("Set-Cookie"))
	}
	// Past 3000 cookies net/http reads none of a request's cookies, and neither does
	// the middleware, after one count of the separators: the token after a megabyte
	// of other cookies is not read, at no store call. Within the limit it is.
	before = a.store.Calls()
	if r := a.get("/get", strings.Repeat("x=y; ", mib/5)+cookie, "k", "keep"); r.Body != "<absent>" || a.store.Calls() != before {
		t.Fatalf("token after 1 MiB of other cookies: keep = %.200q after %d store calls, want none read", r.Body, a.store.Calls()-before)
	}
	if r := a.get("/get", strings.Repeat("x=y; ", 2999)+cookie, "k", "keep"); r.Body != "me" {
		t.Fatalf("token after 2,999 other cookies: keep = %.200q", r.Body)
	}
	a.checkIntact(cookie)
}

// TestHugeCookieOverHTTP sends huge Cookie headers to a real server. One of 1 MiB
// fits net/http's default limit (1 MiB plus 4 KiB of slack) and gets a fresh session
// without a store call; one of 2 MiB is refused with 431 before the middleware runs.
func TestHugeCookieOverHTTP(t *testing.T) {
	a := newHostileApp(t, adaptertest.Variant{Name: "memory", NewStore: adaptertest.NewMemoryStore})
	srv := httptest.NewServer(a.e)
	defer srv.Close()
	for _, c := range []struct {
		size   int
		status int
		body   string
	}{
		{mib, http.StatusOK, "<absent>"},
		{2 * mib, http.StatusRequestHeaderFieldsTooLarge, ""},
	} {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/get?k=a", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Cookie", cookieName+"="+strings.Repeat("A", c.size))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != c.status || c.body != "" && string(body) != c.body {
			t.Fatalf("%d MiB Cookie header over HTTP: %s %.100q, want %d %q", c.size/mib, res.Status, body, c.status, c.body)
		}
	}
	if n := a.store.Calls(); n != 0 {
		t.Fatalf("huge Cookie headers cost %d store calls", n)
	}
}

// testThousandsOfCookies sends thousands of cookies: malformed session cookies cost
// no store call, and however many well-formed tokens a request carries it costs at
// most three loads, one for each of the first three. More than 3000 cookies in all
// are read as none, as net/http reads them.
func testThousandsOfCookies(t *testing.T, a *hostileApp) {
	const n = 2000
	cookie := a.newSession()
	var others, garbage, unknown strings.Builder
	for i := range n {
		fmt.Fprintf(&others, "c%d=v%d; ", i, i)
		fmt.Fprintf(&garbage, "%s=garbage%d; ", cookieName, i)
		// Well-formed tokens that were never issued.
		fmt.Fprintf(&unknown, "%s=%043d; ", cookieName, i)
	}

	before := a.store.Calls()
	r := a.get("/get", others.String()+garbage.String(), "k", "keep")
	if r.Body != "<absent>" || a.store.Calls() != before {
		t.Fatalf("%d malformed session cookies: %q after %d store calls", n, r.Body, a.store.Calls()-before)
	}
	r = a.get("/set", others.String()+garbage.String(), "k", "a", "v", "1")
	if ck := r.Cookie(cookieName); ck == nil || strings.Contains(garbage.String(), "="+ck.Value+";") {
		t.Fatalf("write with %d malformed session cookies: Set-Cookie %.200q", n, r.Header.Get("Set-Cookie"))
	}

	loads := a.store.Loads.Load()
	if r := a.get("/get", garbage.String()+cookie, "k", "keep"); r.Body != "me" {
		t.Fatalf("the token after %d malformed session cookies: keep = %q", n, r.Body)
	}
	a.get("/get", unknown.String()+cookie, "k", "keep")
	if got := a.store.Loads.Load() - loads; got > 1+3 {
		t.Fatalf("two requests with up to %d well-formed tokens each cost %d store loads, want at most 1+3", n+1, got)
	}
	a.checkIntact(cookie)
}

// testHugeKey uses a 1 MiB key with every handler API function.
func testHugeKey(t *testing.T, a *hostileApp) {
	cookie := a.newSession()
	key := strings.Repeat("k", mib)
	if r := a.get("/set", cookie, "k", key, "v", "1"); r.Body != "ErrTooLarge" {
		t.Fatalf("Set with a 1 MiB key: %.200q, want ErrTooLarge", r.Body)
	}
	for _, path := range []string{"/get", "/pop", "/delete"} {
		if r := a.get(path, cookie, "k", key); r.Status != http.StatusOK {
			t.Fatalf("%s with a 1 MiB key: %d %.200q", path, r.Status, r.Body)
		}
	}
	a.checkIntact(cookie)
}

// testValueOverLimit sets values over MaxSize, alone and together with the others.
func testValueOverLimit(t *testing.T, a *hostileApp) {
	cookie := a.newSession()
	for _, size := range []int{mib, hostileMaxSize} {
		if r := a.get("/set", cookie, "k", "big", "v", strings.Repeat("x", size)); r.Body != "ErrTooLarge" {
			t.Fatalf("Set of a %d-byte value: %.200q, want ErrTooLarge", size, r.Body)
		}
	}
	if r := a.do(http.MethodPost, "/setraw", cookie, []byte(`"`+strings.Repeat("x", mib)+`"`), "k", "big"); r.Body != "ErrTooLarge" {
		t.Fatalf("Set of a 1 MiB json.RawMessage: %d %.200q, want ErrTooLarge", r.Status, r.Body)
	}
	// Values that fit one by one until the session is full.
	part := strings.Repeat("y", hostileMaxSize/4)
	full := false
	for i := range 8 {
		r := a.get("/set", cookie, "k", fmt.Sprint("part", i), "v", part)
		if r.Body == "ErrTooLarge" {
			full = true
			break
		}
		if r.Body != "ok" {
			t.Fatalf("Set of part%d: %q", i, r.Body)
		}
	}
	if !full {
		t.Fatalf("8 values of %d bytes fit in a session of at most %d", len(part), hostileMaxSize)
	}
	if r := a.get("/get", cookie, "k", "part0"); r.Body != part {
		t.Fatal("a value set before the session filled up was lost")
	}
	a.checkIntact(cookie)
}

// testDeeplyNestedJSON sets deeply nested JSON as a value: too deep for encoding/json
// is an error from Set, deep but valid is stored and read back.
func testDeeplyNestedJSON(t *testing.T, a *hostileApp) {
	cookie := a.newSession()
	nested := func(depth int) []byte {
		return []byte(strings.Repeat("[", depth) + strings.Repeat("]", depth))
	}
	for _, bad := range [][]byte{nested(100_000), nested(20_000), []byte("[[[["), []byte("{")} {
		r := a.do(http.MethodPost, "/setraw", cookie, bad, "k", "deep")
		if r.Status != http.StatusTeapot || r.Body == "ok" {
			t.Fatalf("Set of %d bytes of bad JSON: %d %.200q, want an error", len(bad), r.Status, r.Body)
		}
	}
	if r := a.get("/get", cookie, "k", "deep"); r.Body != "<absent>" {
		t.Fatalf("a rejected value was stored: deep = %.200q", r.Body)
	}
	if r := a.do(http.MethodPost, "/setraw", cookie, nested(1000), "k", "deep"); r.Body != "ok" {
		t.Fatalf("Set of JSON nested 1000 deep: %d %.200q", r.Status, r.Body)
	}
	if r := a.get("/getany", cookie, "k", "deep"); r.Body != "[]interface {}" {
		t.Fatalf("Get[any] of JSON nested 1000 deep: %.200q", r.Body)
	}
	if r := a.get("/get", cookie, "k", "deep"); r.Body != "ErrDecode" {
		t.Fatalf("Get[string] of JSON nested 1000 deep: %.200q, want ErrDecode", r.Body)
	}
	a.checkIntact(cookie)
}

// testInvalidUTF8Keys uses keys that are not UTF-8: Set refuses them, reads and
// deletes find nothing, and nothing is written.
func testInvalidUTF8Keys(t *testing.T, a *hostileApp) {
	cookie := a.newSession()
	saves := a.store.Saves.Load()
	for _, key := range []string{"bad\xff", "\xc3\x28", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", strings.Repeat("\xff", 1000)} {
		if r := a.get("/set", cookie, "k", key, "v", "1"); r.Body != "ErrInvalidKey" {
			t.Fatalf("Set with key %q: %q, want ErrInvalidKey", key, r.Body)
		}
		for _, path := range []string{"/get", "/pop", "/delete"} {
			if r := a.get(path, cookie, "k", key); r.Status != http.StatusOK {
				t.Fatalf("%s with key %q: %d %q", path, key, r.Status, r.Body)
			}
		}
	}
	if n := a.store.Saves.Load() - saves; n != 0 {
		t.Fatalf("requests with invalid keys wrote the session %d times", n)
	}
	// A value that is not UTF-8 is stored as JSON stores it: with U+FFFD.
	if r := a.get("/set", cookie, "k", "v", "v", "bad\xff"); r.Body != "ok" {
		t.Fatalf("Set of a non-UTF-8 value: %q", r.Body)
	}
	if r := a.get("/get", cookie, "k", "v"); !utf8.ValidString(r.Body) || !strings.HasPrefix(r.Body, "bad") {
		t.Fatalf("non-UTF-8 value read back as %q", r.Body)
	}
	a.checkIntact(cookie)
}

// testOddKeys stores valid keys that need escaping or are otherwise unusual, and reads
// them back from the store.
func testOddKeys(t *testing.T, a *hostileApp) {
	cookie := a.newSession()
	keys := []string{"\x00", "a\"b", `\`, "\u2028", "<script>", "💥", " ", "é", "\x7f", `{"keep":"x"}`, "keep ", "KEEP"}
	for i, key := range keys {
		if r := a.get("/set", cookie, "k", key, "v", fmt.Sprint(i)); r.Body != "ok" {
			t.Fatalf("Set with key %q: %q", key, r.Body)
		}
	}
	for i, key := range keys {
		if r := a.get("/get", cookie, "k", key); r.Body != fmt.Sprint(i) {
			t.Fatalf("key %q read back as %q, want %d", key, r.Body, i)
		}
	}
	a.checkIntact(cookie)
}

// TestHostileInputMemory repeats every hostile input and checks that the heap that
// survives a collection does not grow with the number of rounds: nothing holds on to
// the megabytes that each round sends.
func TestHostileInputMemory(t *testing.T) {
	a := newHostileApp(t, adaptertest.Variant{Name: "memory", NewStore: adaptertest.NewMemoryStore})
	round := func() {
		for _, tt := range hostileTests {
			tt.fn(t, a)
		}
	}
	round() // warm up: allocate what is allocated once
	heap := func() (live, total uint64) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc, ms.TotalAlloc
	}
	const rounds = 10
	live0, total0 := heap()
	for range rounds {
		round()
	}
	live1, total1 := heap()
	perRound := (total1 - total0) / rounds
	t.Logf("live heap %.1f MiB before %d rounds, %.1f MiB after; %.1f MiB allocated per round",
		float64(live0)/mib, rounds, float64(live1)/mib, float64(perRound)/mib)
	if live1 > live0+8*mib {
		t.Errorf("the live heap grew by %.1f MiB over %d rounds", float64(live1-live0)/mib, rounds)
	}
	if perRound > 512*mib {
		t.Errorf("one round of hostile requests allocated %.0f MiB", float64(perRound)/mib)
	}
}

// TestMemoryPerSession measures the heap that a MemoryStore, as a store or as a
// Config.Cache, holds per small session: it keeps every session until it expires, so
// this is the price of each live session.
func TestMemoryPerSession(t *testing.T) {
	const n = 20_000
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	store := echosess.NewMemoryStore()
	expiry := time.Now().Add(time.Hour)
	before := heap()
	for i := range n {
		rec := echosess.Record{
			Key:    fmt.Sprintf("%043d", i), // as long as a real store key
			Data:   map[string]json.RawMessage{"user": json.RawMessage(`"alice"`), "n": json.RawMessage(`0`)},
			Expiry: expiry, Deadline: expiry,
		}
		if err := store.Save(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
	}
	per := float64(heap()-before) / n
	runtime.KeepAlive(store)
	t.Logf("%.0f bytes of heap per session holding user and n", per)
	if per > 4<<10 {
		t.Errorf("%.0f bytes per small session", per)
	}
}
