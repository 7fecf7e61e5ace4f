package redisstore_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/echosess/echosess"
)

// The fault tests' tools: a small Echo v4 app, and a redis-server of a test's own.

// app is a small Echo v4 application on the echosess middleware, written as a user
// would write it: its handlers return the handler API's errors, so a session that
// cannot be loaded is Echo's 500, and a commit that fails is the middleware's 500.
// It keeps every error that reaches Echo's error handler, and what the middleware
// logs.
type app struct {
	srv    *httptest.Server
	client *http.Client

	mu   sync.Mutex
	errs []error
	log  bytes.Buffer
}

// newApp serves an app with the middleware configured by cfg, until the test ends.
func newApp(t *testing.T, cfg echosess.Config) *app {
	t.Helper()
	a := &app{client: &http.Client{Timeout: 10 * time.Second}} // a hung request fails the test
	cfg.CookieInsecure = true
	cfg.Logger = slog.New(slog.NewTextHandler(a, nil))
	e := echo.New()
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		a.mu.Lock()
		a.errs = append(a.errs, err)
		a.mu.Unlock()
		e.DefaultHTTPErrorHandler(err, c)
	}
	e.Use(echosess.Middleware(cfg))
	e.GET("/noop", func(c echo.Context) error { return c.String(http.StatusOK, "noop") })
	e.GET("/get", func(c echo.Context) error {
		v, ok, err := echosess.Get[string](c, c.QueryParam("k"))
		if err != nil {
			return err
		}
		if !ok {
			return c.String(http.StatusNotFound, "absent")
		}
		return c.String(http.StatusOK, v)
	})
	e.POST("/set", func(c echo.Context) error {
		v := c.QueryParam("v")
		if n := c.QueryParam("n"); n != "" { // a value of n bytes, too long for a URL
			size, err := strconv.Atoi(n)
			if err != nil {
				return echo.ErrBadRequest
			}
			v = strings.Repeat("x", size)
		}
		err := echosess.Set(c, c.QueryParam("k"), v)
		if errors.Is(err, echosess.ErrTooLarge) {
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge).SetInternal(err)
		}
		if err != nil {
			return err
		}
		return c.String(http.StatusOK, "ok")
	})
	a.srv = httptest.NewServer(e)
	t.Cleanup(a.srv.Close)
	return a
}

// Write takes the middleware's log lines.
func (a *app) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.log.Write(p)
}

// call sends a request of method for path with the session cookie, if any, and
// returns the response's status and body and the session cookie it set, if any. A
// request that gets no response (a panic in a handler closes the connection)
// fails the test.
func (a *app) call(t *testing.T, method, path, cookie string) (status int, body, set string) {
	t.Helper()
	req, err := http.NewRequest(method, a.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "session", Value: cookie})
	}
	res, err := a.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	for _, ck := range res.Cookies() {
		if ck.Name == "session" {
			set = ck.Value
		}
	}
	return res.StatusCode, string(b), set
}

// lastErr returns the last error that reached Echo's error handler.
func (a *app) lastErr() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.errs) == 0 {
		return nil
	}
	return a.errs[len(a.errs)-1]
}

// logged returns what the middleware has logged.
func (a *app) logged() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.log.String()
}

// startRedis starts a redis-server of the test's own, keeping nothing on disk, on a
// free port of 127.0.0.1 with the given extra arguments, and stops it when the test
// ends. It returns the server's address. Without redis-server the test fails under
// CI=true and is skipped otherwise.
func startRedis(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server: %v", err)
		}
		t.Skipf("no redis-server (%v)", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	var out bytes.Buffer
	cmd := exec.Command(bin, append([]string{"--bind", "127.0.0.1", "--port", port, "--dir", dir,
		"--save", "", "--appendonly", "no"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatalf("redis-server %v exited: %v\n%s", args, cmd.ProcessState, out.String())
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
	}
	cmd.Process.Kill()
	<-exited
	t.Fatalf("redis-server %v does not answer on %s:\n%s", args, addr, out.String())
	return ""
}
