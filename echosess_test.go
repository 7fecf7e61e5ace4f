package echosess_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/internal/adaptertest"
	"github.com/echosess/echosess/internal/adaptertest/allstores"
	"github.com/echosess/echosess/internal/adaptertest/echov4"
	"github.com/echosess/echosess/memstore"
)

// The Echo v4 adapter under the test suite of package adaptertest, which every
// adapter runs.

// v4 binds the suite to this package's Middleware and handler API, and echoV4 is
// the suite's Adapter of Echo v4; both live in package echov4, which the tests of
// the store modules use too.
var v4 = echov4.Binding

type echoV4 = echov4.Adapter

// newApp returns the app of echoV4's Serve as an *echo.Echo, for tests that add routes.
var newApp = echov4.NewApp

// newHarness starts the suite's test app on Echo v4.
func newHarness(t *testing.T, v adaptertest.Variant, configure func(*adaptertest.Config)) *adaptertest.Harness {
	t.Helper()
	return adaptertest.NewHarness(t, echoV4{}, v, configure)
}

const cookieName = adaptertest.CookieName

func TestMiddleware(t *testing.T)       { adaptertest.RunMiddleware(t, echoV4{}, allstores.Variants) }
func TestLifecycle(t *testing.T)        { adaptertest.RunLifecycle(t, echoV4{}, allstores.Variants) }
func TestLinearizable(t *testing.T)     { adaptertest.RunLinearizable(t, echoV4{}, allstores.Variants) }
func TestSkipper(t *testing.T)          { adaptertest.RunSkipper(t, echoV4{}) }
func TestMiddlewarePanics(t *testing.T) { adaptertest.RunBadConfig(t, v4) }
func TestHardening(t *testing.T)        { adaptertest.RunHardening(t, echoV4{}, allstores.Variants) }
func TestUserSessions(t *testing.T)     { adaptertest.RunUsers(t, echoV4{}, allstores.Variants) }

func TestNoMiddleware(t *testing.T) {
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
	adaptertest.RunNoMiddleware(t, v4, c)
}

// keyRecorder remembers every key that reaches a store.
type keyRecorder struct {
	echosess.Store
	mu   sync.Mutex
	keys []string
}

func (s *keyRecorder) note(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, key)
}

func (s *keyRecorder) Load(ctx context.Context, key string) (echosess.Record, error) {
	s.note(key)
	return s.Store.Load(ctx, key)
}

func (s *keyRecorder) Save(ctx context.Context, rec echosess.Record) error {
	s.note(rec.Key)
	return s.Store.Save(ctx, rec)
}

func (s *keyRecorder) Delete(ctx context.Context, key string) error {
	s.note(key)
	return s.Store.Delete(ctx, key)
}

func TestStoreNeverSeesToken(t *testing.T) {
	rec := &keyRecorder{}
	h := newHarness(t, adaptertest.Variant{Name: "recorded", NewStore: func(t *testing.T, now func() time.Time) echosess.Store {
		rec.Store = echosess.NewMemoryStore(memstore.WithClock(now))
		return rec
	}}, nil)
	b := h.Browser()
	var tokens []string
	for _, path := range []string{"/set?k=a&v=1", "/renew", "/set?k=b&v=2", "/get?k=a", "/destroy"} {
		r := b.Get(path)
		if ck := r.Cookie(cookieName); ck != nil && ck.Value != "" {
			tokens = append(tokens, ck.Value)
		}
	}
	if len(tokens) < 2 || len(rec.keys) < 4 {
		t.Fatalf("flow issued %d tokens and made %d store calls; want at least 2 and 4", len(tokens), len(rec.keys))
	}
	for _, key := range rec.keys {
		for _, tok := range tokens {
			if strings.Contains(key, tok) {
				t.Fatalf("the store saw key %q, which holds token %q", key, tok)
			}
		}
	}
}
