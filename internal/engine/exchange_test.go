package engine

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// testConfig configures the sessions of the package's own tests.
type testConfig = Config[*testExchange]

// testExchange is an Exchange over an httptest.ResponseRecorder. It stands in for a
// framework adapter in the package's own tests.
type testExchange struct {
	Session
	req       *http.Request
	rec       *httptest.ResponseRecorder
	w         http.ResponseWriter // rec, or what Fail put in its place
	status    int
	before    []func()
	committed bool
}

// newTestExchange starts the session of req under a manager made from cfg.
func newTestExchange(t *testing.T, cfg testConfig, req *http.Request) *testExchange {
	t.Helper()
	m, err := NewManager(&cfg, Defaults[*testExchange](nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	x := &testExchange{req: req, rec: httptest.NewRecorder()}
	x.w = x.rec
	m.Start(&x.Session, x)
	return x
}

func (x *testExchange) Request() *http.Request { return x.req }
func (x *testExchange) Header() http.Header    { return x.rec.Header() }
func (x *testExchange) Committed() bool        { return x.committed }
func (x *testExchange) Before(fn func())       { x.before = append(x.before, fn) }

func (x *testExchange) Status() int { return x.status }

func (x *testExchange) RealIP() string { return x.req.RemoteAddr }

func (x *testExchange) WriteHeader() {
	if !x.committed {
		x.respondHeader(x.status)
	}
}

func (x *testExchange) Fail(status int) {
	x.status = status
	x.w = FailedWriter(x.w)
}

// respond writes the response as a framework does: the Before hooks run first, and
// may change the status and the writer.
func (x *testExchange) respond(status int, body string) error {
	x.respondHeader(status)
	_, err := io.WriteString(x.w, body)
	return err
}

func (x *testExchange) respondHeader(status int) {
	x.status = status
	for _, fn := range x.before {
		fn()
	}
	x.committed = true
	x.rec.WriteHeader(x.status)
}
