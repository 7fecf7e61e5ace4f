package bench

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestAppsServeTheSameShape checks that every library's memory, Redis and MySQL app answers
// the five routes alike, so that the benchmarks compare like with like.
func TestAppsServeTheSameShape(t *testing.T) {
	for _, lib := range []string{LibEchosess, LibSCS, LibGorilla, LibEchosessV5, LibGorillaV5} {
		t.Run(lib, func(t *testing.T) {
			testAppShape(t, func() (*App, error) { return NewApp(lib, nil, true) })
		})
	}
	for _, lib := range mysqlLibs {
		t.Run(lib+"/mysql", func(t *testing.T) {
			m := sharedMySQL(t)
			testAppShape(t, func() (*App, error) { return NewMySQLApp(lib, m) })
		})
	}
	for _, lib := range redisLibs {
		t.Run(lib+"/redis", func(t *testing.T) {
			r := testRedis(t)
			testAppShape(t, func() (*App, error) { return NewRedisApp(lib, r) })
		})
	}
}

// testAppShape checks the routes of the app that newApp builds: a first write sets
// the cookie, reads find the session, writes count up.
func testAppShape(t *testing.T, newApp func() (*App, error)) {
	app, err := newApp()
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	serve := func(method, path, cookie string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		rec := httptest.NewRecorder()
		app.Handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s %s: status %d", method, path, rec.Code)
		}
		return rec
	}
	if got := serve(http.MethodGet, PathNone, "").Header().Values("Set-Cookie"); len(got) != 0 {
		t.Errorf("untouched request set %q", got)
	}
	var cookie string
	for _, ck := range serve(http.MethodPost, PathCreate, "").Result().Cookies() {
		if ck.Name == CookieName {
			cookie = ck.Name + "=" + ck.Value
		}
	}
	if cookie == "" {
		t.Fatal("no session cookie after the first write")
	}
	before := app.Count.Snapshot()
	if got := serve(http.MethodGet, PathRead, cookie).Body.String(); got != User {
		t.Errorf("read %q, want %q", got, User)
	}
	// echosess-cache's change listener writes its registration through the same
	// counted pool, at a time of its own: its writes are not the read's.
	if got := app.Count.Snapshot().Sub(before); got.Writes != 0 && app.Lib != LibEchosessCache {
		t.Errorf("a read wrote to the store %d times", got.Writes)
	}
	if got := serve(http.MethodGet, PathCount, cookie).Body.String(); got != "0" {
		t.Errorf("count read %q, want 0", got)
	}
	for _, want := range []string{"1", "2"} {
		rec := serve(http.MethodPost, PathWrite, cookie)
		if got := rec.Body.String(); got != want {
			t.Errorf("write replied %q, want %q", got, want)
		}
		for _, ck := range rec.Result().Cookies() {
			if ck.Name == CookieName {
				cookie = ck.Name + "=" + ck.Value
			}
		}
	}
	if got := serve(http.MethodGet, PathCount, cookie).Body.String(); got != "2" {
		t.Errorf("count read %q after two writes, want 2", got)
	}
}
