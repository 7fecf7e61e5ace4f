// Package exampletest holds the tests of the example commands, example/ on Echo v4
// and echov5/example/ on Echo v5, so that both run the same ones: SeedPages and
// CSRF walk the pages in-process, Browser and BrowserSessions drive the built
// command in headless Chromium over the Chrome DevTools Protocol.
package exampletest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/echosess/echosess/internal/engine"
)

const (
	testTimeout = 60 * time.Second // the whole browser session
	stepTimeout = 15 * time.Second // one browser step
)

// What the examples show, and where: the seed's two pages and texts, then the
// login, logout and sessions pages.
const (
	cookieName   = "SESSION_COOKIE"
	noValue      = "No value set. Go to /set to set a value" // / without a value
	value        = "something"                               // / after /set
	loginPath    = "/login"
	logoutPath   = "/logout"
	sessionsPath = "/sessions"
	nameField    = "name"
	csrfField    = "_csrf"
)

// postPaths are the example's form posts, each of which wants the CSRF token.
var postPaths = []string{loginPath, logoutPath, sessionsPath + "/revoke", sessionsPath + "/revoke-others"}

// client is a cookie jar's HTTP client of the app at base.
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

// serve serves app for the test and returns its base URL.
func serve(t *testing.T, app http.Handler) string {
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	return srv.URL
}

// newClient returns a client of the app at base with a cookie jar of its own.
func newClient(t *testing.T, base string) *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, base: base, http: &http.Client{Jar: jar}}
}

// do sends req, follows the redirects, and returns where it ended, its status and
// its body.
func (cl *client) do(req *http.Request) (path string, status int, body string) {
	cl.t.Helper()
	resp, err := cl.http.Do(req)
	if err != nil {
		cl.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		cl.t.Fatal(err)
	}
	return resp.Request.URL.Path, resp.StatusCode, string(b)
}

// get GETs path and wants it to end with a 200 at wantPath.
func (cl *client) get(path, wantPath string) string {
	cl.t.Helper()
	req, err := http.NewRequest(http.MethodGet, cl.base+path, nil)
	if err != nil {
		cl.t.Fatal(err)
	}
	at, status, body := cl.do(req)
	if status != http.StatusOK || at != wantPath {
		cl.t.Fatalf("GET %s ended at %s with %d, want %s with 200", path, at, status, wantPath)
	}
	return body
}

// post POSTs form to path with the header h.
func (cl *client) post(path string, form url.Values, h http.Header) (at string, status int, body string) {
	cl.t.Helper()
	req, err := http.NewRequest(http.MethodPost, cl.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		cl.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range h {
		req.Header[k] = v
	}
	return cl.do(req)
}

// submit POSTs form with the CSRF token of the page at formPath, as a browser that
// sends no Sec-Fetch-Site does, and wants it to end with a 200 at wantPath.
func (cl *client) submit(formPath, path string, form url.Values, wantPath string) string {
	cl.t.Helper()
	form.Set(csrfField, csrfToken(cl.t, cl.get(formPath, formPath)))
	at, status, body := cl.post(path, form, nil)
	if status != http.StatusOK || at != wantPath {
		cl.t.Fatalf("POST %s ended at %s with %d (%s), want %s with 200", path, at, status, body, wantPath)
	}
	return body
}

var csrfInput = regexp.MustCompile(`<input type="hidden" name="` + csrfField + `" value="([^"]+)">`)

// csrfToken returns the CSRF token of the form on page.
func csrfToken(t *testing.T, page string) string {
	t.Helper()
	m := csrfInput.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no %s field in the page:\n%s", csrfField, page)
	}
	return m[1]
}

// SeedPages walks the seed's pages of app with a cookie jar, in-process, then logs
// out through the form of /logout.
func SeedPages(t *testing.T, app http.Handler) {
	cl := newClient(t, serve(t, app))
	steps := []struct{ path, want string }{
		{"/", noValue},
		{"/set", value},
		{"/", value},
	}
	for _, step := range steps {
		if got := cl.get(step.path, "/"); got != step.want {
			t.Fatalf("GET %s shows %q, want %q", step.path, got, step.want)
		}
	}
	if got := cl.submit(logoutPath, logoutPath, url.Values{}, "/"); got != noValue {
		t.Fatalf("after logging out, / shows %q, want %q", got, noValue)
	}
}

// CSRF logs two clients in as ada through the form of app, then posts to each of
// the app's forms as a forger would, with the first client's cookies: without the
// token, with a wrong one, and, as a browser does for another site's form, with
// the right one and Sec-Fetch-Site: cross-site. Each is refused, and both sessions
// are still logged in as ada.
func CSRF(t *testing.T, app http.Handler) {
	base := serve(t, app)
	cl, other := newClient(t, base), newClient(t, base)
	other.submit(loginPath, loginPath, url.Values{nameField: {"ada"}}, sessionsPath)
	cl.submit(loginPath, loginPath, url.Values{nameField: {"ada"}}, sessionsPath)
	page := cl.get(sessionsPath, sessionsPath)
	token := csrfToken(t, page)
	handle := handleInput.FindStringSubmatch(page)
	if handle == nil {
		t.Fatalf("no revoke button for the other session in\n%s", page)
	}
	forgeries := []struct {
		name   string
		token  string
		header http.Header
		status int
	}{
		{"no token", "", nil, http.StatusBadRequest},
		{"wrong token", token + "x", nil, http.StatusForbidden},
		{"cross-site", token, http.Header{"Sec-Fetch-Site": {"cross-site"}}, http.StatusForbidden},
	}
	for _, path := range postPaths {
		for _, f := range forgeries {
			form := url.Values{nameField: {"mallory"}, "handle": {handle[1]}}
			if f.token != "" {
				form.Set(csrfField, f.token)
			}
			if _, status, _ := cl.post(path, form, f.header); status != f.status {
				t.Errorf("POST %s with %s: %d, want %d", path, f.name, status, f.status)
			}
		}
	}
	for _, c := range []*client{cl, other} {
		page := c.get(sessionsPath, sessionsPath)
		if !strings.Contains(page, "Signed in as ada") || strings.Count(page, `<li class="session`) != 2 {
			t.Errorf("after the forged posts a sessions page reads\n%s\nwant ada signed in twice", page)
		}
	}
}

var handleInput = regexp.MustCompile(`name="handle" value="([^"]+)"`)

// OpenStore opens the stores of the example's -store flag but PostgreSQL with
// openStore, the example's, and wants an error for a name it does not know.
func OpenStore(t *testing.T, openStore func(ctx context.Context, kind, dsn string) (engine.Store, func(), error)) {
	for kind, dsn := range map[string]string{"memory": "", "sqlite": filepath.Join(t.TempDir(), "s.db")} {
		store, closeStore, err := openStore(t.Context(), kind, dsn)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if _, err := store.DeleteExpired(t.Context()); err != nil {
			t.Errorf("%s: %v", kind, err)
		}
		closeStore()
	}
	if _, _, err := openStore(t.Context(), "mysql", ""); err == nil || !strings.Contains(err.Error(), "sqlite, memory or postgres") {
		t.Errorf("openStore of an unknown store: %v, want an error that names the known ones", err)
	}
}

// Browser drives the example binary bin in the headless Chromium chrome, end to
// end, on a SQLite file that outlives a restart of the app. ECHOSESS_SCREENSHOT_DIR,
// if set, receives the screenshot instead of the test's temp dir, so that it outlives
// the test.
func Browser(t *testing.T, chrome, bin string) {
	x := startExample(t, bin)
	ctx, dir, base, app := x.ctx, x.dir, x.base, x.app
	b := startBrowser(ctx, t, chrome, dir)

	b.open(t, base+"/")
	b.wantText(t, "first visit", noValue)
	if ck := b.cookie(t, base); ck != nil {
		t.Errorf("a visitor who never wrote got a %s cookie", cookieName)
	}

	b.open(t, base+"/set")
	if loc := run(t, b, "location", chromedp.Location()); loc != base+"/" {
		t.Errorf("after /set the browser is at %q, want %q", loc, base+"/")
	}
	b.wantText(t, "after /set", value)

	b.do(t, "reload", chromedp.Reload())
	b.wantText(t, "after reload", value) // the Secure cookie came back over plain http

	ck := b.cookie(t, base)
	if ck == nil {
		t.Fatalf("no %s cookie in the browser after /set", cookieName)
	}
	checkCookie(t, ck)
	jsCookies := run(t, b, "document.cookie", chromedp.Evaluate[string](`document.cookie`))
	if strings.Contains(jsCookies, cookieName) {
		t.Errorf("document.cookie = %q: the session cookie is visible to scripts", jsCookies)
	}
	firstToken := ck.Value

	b.open(t, base+logoutPath)
	b.submit(t, "log out", "#logout", base, "/")
	b.wantText(t, "after logging out", noValue)
	if ck := b.cookie(t, base); ck != nil {
		t.Errorf("the %s cookie is still in the browser after logging out", cookieName)
	}

	b.open(t, base+"/set")
	b.wantText(t, "after the second /set", value)
	ck = b.cookie(t, base)
	if ck == nil {
		t.Fatalf("no %s cookie in the browser after the second /set", cookieName)
	}
	if ck.Value == firstToken {
		t.Error("the session after logging out reuses the destroyed session's token")
	}

	app.stop(t)
	startApp(ctx, t, bin, x.listen, x.db, x.log) // stopped at cleanup
	b.open(t, base+"/")
	b.wantText(t, "after the restart", value) // the session outlived the process, in the SQLite file
	if after := b.cookie(t, base); after == nil || after.Value != ck.Value {
		t.Error("the browser's session cookie changed across the restart")
	}

	shot := run(t, b, "screenshot", chromedp.FullScreenshot(100))
	shotDir := os.Getenv("ECHOSESS_SCREENSHOT_DIR")
	if shotDir == "" {
		shotDir = dir
	} else if err := os.MkdirAll(shotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(shotDir, "browser.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// example is the example command of a browser test, running on a SQLite file in dir.
type example struct {
	ctx        context.Context // the whole browser test's
	dir        string
	base       string // the URL the browser opens
	listen, db string
	log        string
	app        *app
}

// startExample starts the example binary bin on a free port, with a new SQLite file.
func startExample(t *testing.T, bin string) *example {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	x := &example{
		ctx: ctx, dir: dir,
		// localhost, not 127.0.0.1: browsers treat http://localhost as a secure
		// context, so they store and send the Secure cookie over plain http.
		base:   fmt.Sprintf("http://localhost:%d", port),
		listen: fmt.Sprintf("127.0.0.1:%d", port),
		db:     filepath.Join(dir, "sessions.db"),
		log:    filepath.Join(dir, "app.log"),
	}
	logOnFailure(t, "example app", x.log)
	x.app = startApp(ctx, t, bin, x.listen, x.db, x.log)
	return x
}

// checkCookie checks the session cookie's attributes as the browser stored them.
func checkCookie(t *testing.T, ck *network.Cookie) {
	t.Helper()
	if !ck.HTTPOnly {
		t.Error("session cookie is not HttpOnly")
	}
	if !ck.Secure {
		t.Error("session cookie is not Secure")
	}
	if ck.SameSite != network.CookieSameSiteLax {
		t.Errorf("session cookie SameSite = %q, want Lax", ck.SameSite)
	}
	if ck.Path != "/" {
		t.Errorf("session cookie Path = %q, want /", ck.Path)
	}
	if ck.Domain != "localhost" {
		t.Errorf("session cookie Domain = %q, want host-only localhost", ck.Domain)
	}
	if ck.Session {
		t.Error("session cookie has no Max-Age/Expires; want one that follows the session's expiry")
	} else if exp := time.Unix(int64(ck.Expires), 0); time.Until(exp) < 50*time.Minute || time.Until(exp) > 61*time.Minute {
		t.Errorf("session cookie expires at %v, want about an hour from now", exp)
	}
}

// Chromium finds the browser to drive: ECHOSESS_CHROMIUM, or chromium,
// chromium-browser, google-chrome or google-chrome-stable on PATH. Without one it
// skips the test, or fails it when ECHOSESS_BROWSER=1 or CI=true demands one;
// ECHOSESS_BROWSER=0 skips it outside CI.
func Chromium(t *testing.T) string {
	t.Helper()
	demand := os.Getenv("ECHOSESS_BROWSER")
	ci := os.Getenv("CI") == "true"
	if demand == "0" && !ci {
		t.Skip("ECHOSESS_BROWSER=0")
	}
	if p := os.Getenv("ECHOSESS_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("ECHOSESS_CHROMIUM: %v", err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const missing = "no Chromium found (set ECHOSESS_CHROMIUM, or install it with .ci/browser.sh)"
	if demand == "1" || ci {
		t.Fatal(missing)
	}
	t.Skip(missing)
	return ""
}

// Build builds the package in the test's working directory (the example command
// under test) into a temp dir and returns the binary's path.
func Build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "example")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// logOnFailure logs the last lines of the file at path if the test fails.
func logOnFailure(t *testing.T, what, path string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		out, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		t.Logf("%s output (%s, last lines):\n%s", what, path, strings.Join(lines, "\n"))
	})
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// app is a running example process.
type app struct {
	cmd     *exec.Cmd
	exited  chan struct{} // closed once the process has been waited for
	waitErr error
}

// startApp runs the example binary on listen and db, appending its output to logPath,
// and returns once it accepts connections. The process is stopped at cleanup.
func startApp(ctx context.Context, t *testing.T, bin, listen, db, logPath string) *app {
	t.Helper()
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-addr", listen, "-dsn", db)
	cmd.Dir = filepath.Dir(db) // nothing lands in the source tree
	cmd.Stdout, cmd.Stderr = logFile, logFile
	err = cmd.Start()
	logFile.Close()
	if err != nil {
		t.Fatal(err)
	}
	a := &app{cmd: cmd, exited: make(chan struct{})}
	go func() {
		a.waitErr = cmd.Wait()
		close(a.exited)
	}()
	t.Cleanup(func() { a.stop(t) })

	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		conn, err := net.DialTimeout("tcp", listen, time.Second)
		if err == nil {
			conn.Close()
			return a
		}
		select {
		case <-a.exited:
			out, _ := os.ReadFile(logPath)
			t.Fatalf("example app exited before listening: %v\n%s", a.waitErr, out)
		case <-ctx.Done():
			t.Fatalf("example app never accepted on %s: %v", listen, err)
		case <-tick.C:
		}
	}
}

// stop ends the process, politely first, and waits for it.
func (a *app) stop(t *testing.T) {
	t.Helper()
	select {
	case <-a.exited:
		return
	default:
	}
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		a.cmd.Process.Kill()
	}
	select {
	case <-a.exited:
	case <-time.After(10 * time.Second):
		a.cmd.Process.Kill()
		<-a.exited
	}
	var exit *exec.ExitError
	if a.waitErr != nil && !errors.As(a.waitErr, &exit) {
		t.Errorf("waiting for the example app: %v", a.waitErr)
	}
}

// browser is one headless Chromium tab.
type browser struct {
	ctx context.Context
}

// startBrowser launches Chromium under ctx with a fresh profile in dir; it is
// closed at cleanup.
func startBrowser(ctx context.Context, t *testing.T, chrome, dir string) *browser {
	t.Helper()
	profile := filepath.Join(dir, "profile")
	if err := os.Mkdir(profile, 0o700); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "chromium.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	logOnFailure(t, "chromium", logPath)
	t.Cleanup(func() { logFile.Close() })
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chrome),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // CI runs as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(800, 600),
		chromedp.CombinedOutput(logFile),
	)
	t.Cleanup(cancelAlloc) // waits for the browser to exit
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	// The first action starts the browser, bound to ctx for its whole life.
	if err := chromedp.Do(tabCtx); err != nil {
		t.Fatalf("starting %s: %v", chrome, err)
	}
	return &browser{ctx: tabCtx}
}

// run runs one action with a step timeout and returns its value.
func run[T any](t *testing.T, b *browser, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (b *browser) do(t *testing.T, what string, a chromedp.Action[chromedp.Void]) {
	t.Helper()
	run(t, b, what, a)
}

// open navigates to url and waits for the page (after any redirect) to load.
func (b *browser) open(t *testing.T, url string) {
	t.Helper()
	b.do(t, "open "+url, chromedp.Navigate(url))
}

// wantText checks that the page's visible text is exactly want; when says at
// which step.
func (b *browser) wantText(t *testing.T, when, want string) {
	t.Helper()
	got := run(t, b, "page text", chromedp.Evaluate[string](`document.body.innerText`))
	if got != want {
		t.Errorf("%s: page text = %q, want %q", when, got, want)
	}
}

// cookie returns the browser's session cookie for base, or nil.
func (b *browser) cookie(t *testing.T, base string) *network.Cookie {
	t.Helper()
	res := run(t, b, "get cookies", func(ctx context.Context, tab *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, tab, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
	})
	for _, ck := range res.Cookies {
		if ck.Name == cookieName {
			return ck
		}
	}
	return nil
}

// BrowserSessions drives the example's user pages in two browser contexts that
// share no cookies, two devices of one user: both log in as ada; the first revokes
// the second, whose next page load is logged out; the second logs in again, the
// first logs out everywhere else, then logs out itself. Each step is a form post.
func BrowserSessions(t *testing.T, chrome, bin string) {
	x := startExample(t, bin)
	base := x.base
	laptop := startBrowser(x.ctx, t, chrome, x.dir)
	phoneCtx, cancelPhone := chromedp.NewContext(laptop.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancelPhone)
	if err := chromedp.Do(phoneCtx); err != nil { // its tab, bound to phoneCtx for its whole life
		t.Fatalf("opening a second browser context: %v", err)
	}
	phone := &browser{ctx: phoneCtx}

	laptop.login(t, base, "ada")
	phone.login(t, base, "ada")
	if ck, other := laptop.cookie(t, base), phone.cookie(t, base); ck == nil || other == nil || ck.Value == other.Value {
		t.Fatal("the two browser contexts do not hold two sessions")
	}
	laptop.open(t, base+sessionsPath)
	laptop.wantSessions(t, "both logged in", 2)
	if n := run(t, laptop, "current sessions", chromedp.Evaluate[int](`document.querySelectorAll('li.session.current').length`)); n != 1 {
		t.Errorf("%d sessions marked as this device, want 1", n)
	}

	laptop.submit(t, "revoke the phone", `li.session:not(.current) button.revoke`, base, sessionsPath)
	laptop.wantSessions(t, "after revoking the phone", 1)
	phone.open(t, base+sessionsPath)
	phone.wantPath(t, "the revoked phone", base, loginPath)

	phone.login(t, base, "ada")
	laptop.open(t, base+sessionsPath)
	laptop.wantSessions(t, "the phone logged in again", 2)
	laptop.submit(t, "log out everywhere else", `#revoke-others`, base, sessionsPath)
	laptop.wantSessions(t, "after logging out everywhere else", 1)
	phone.open(t, base+sessionsPath)
	phone.wantPath(t, "the phone, logged out everywhere else", base, loginPath)
	laptop.open(t, base+sessionsPath)
	laptop.wantPath(t, "the laptop", base, sessionsPath)

	laptop.submit(t, "log out", `#logout`, base, "/")
	laptop.open(t, base+sessionsPath)
	laptop.wantPath(t, "the laptop, logged out", base, loginPath)
}

// login logs the browser in as name through the login form.
func (b *browser) login(t *testing.T, base, name string) {
	t.Helper()
	b.open(t, base+loginPath)
	b.do(t, "type the name", chromedp.SetValue(`input[name=`+nameField+`]`, name))
	b.submit(t, "log in", `#login`, base, sessionsPath)
}

// wantSessions checks that the sessions page lists n sessions.
func (b *browser) wantSessions(t *testing.T, when string, n int) {
	t.Helper()
	if got := run(t, b, "sessions", chromedp.Evaluate[int](`document.querySelectorAll('li.session').length`)); got != n {
		t.Errorf("%s: the sessions page lists %d sessions, want %d", when, got, n)
	}
}

// submit clicks the form button sel and waits for the page that the post leads
// to, which must be base+path with a 200.
func (b *browser) submit(t *testing.T, what, sel, base, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(sel))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if resp.Status != http.StatusOK || resp.URL != base+path {
		t.Fatalf("%s: ended at %s with %d, want %s with 200", what, resp.URL, resp.Status, base+path)
	}
}

// wantPath checks that the browser is at base+path.
func (b *browser) wantPath(t *testing.T, when, base, path string) {
	t.Helper()
	if loc := run(t, b, "location", chromedp.Location()); loc != base+path {
		t.Errorf("%s: the browser is at %q, want %q", when, loc, base+path)
	}
}
