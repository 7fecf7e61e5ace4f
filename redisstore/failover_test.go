package redisstore_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/rueidis"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/redisstore"
)

// failoverSession is a browser's session in TestClusterFailover.
type failoverSession struct {
	name   string
	cookie *http.Cookie
	master string // the address of the master that holds it
	acked  int    // the value of the last write answered 200
	// ackedAfterCrash: the write that set acked came after the crash of the master,
	// so the master that answered is one Redis keeps.
	ackedAfterCrash bool
}

// TestClusterFailover: a master of a Cluster crashes. Through the middleware, writes
// to the sessions on its slots answer 5xx until its replica has taken over, never a
// 200 for a write that is then lost, and succeed after; the sessions on the other
// masters answer 200 throughout. It logs how many of the writes the master
// acknowledged just before it crashed are lost with it, Redis replicating
// asynchronously.
func TestClusterFailover(t *testing.T) {
	t.Parallel()
	// Without cluster-require-full-coverage no, every master refuses commands (CLUSTERDOWN)
	// from when the others declare the dead one failed until its replica takes over.
	cluster := startCluster(t, 7100, "--cluster-require-full-coverage", "no")
	store := redisstore.New(cluster.client(rueidis.ClientOption{}))
	e := echo.New()
	// A short StoreTimeout: a read of a session on a dead master is retried by
	// rueidis until the replica takes over or the timeout passes.
	e.Use(echosess.Middleware(echosess.Config{Store: store, StoreTimeout: 300 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)}))
	e.POST("/", func(c echo.Context) error {
		v, err := strconv.Atoi(c.QueryParam("v"))
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest)
		}
		if err := echosess.Set(c, "name", c.QueryParam("name")); err != nil {
			return err
		}
		if err := echosess.Set(c, "v", v); err != nil {
			return err
		}
		return c.NoContent(http.StatusOK)
	})
	e.GET("/", func(c echo.Context) error {
		v, _, err := echosess.Get[int](c, "v")
		if err != nil {
			return err
		}
		return c.String(http.StatusOK, strconv.Itoa(v))
	})
	serve := func(s *failoverSession, method string, v int) (status int, body string) {
		target := "/"
		if method == http.MethodPost {
			target = fmt.Sprintf("/?v=%d&name=%s", v, s.name)
		}
		req := httptest.NewRequest(method, target, nil)
		if s.cookie != nil {
			req.AddCookie(s.cookie)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		for _, c := range rec.Result().Cookies() {
			if c.Name == "session" {
				s.cookie = c
			}
		}
		return rec.Code, rec.Body.String()
	}
	// write sends s the next value, through a POST, and returns its status.
	next := 0
	write := func(s *failoverSession) (status, v int) {
		next++
		status, _ = serve(s, http.MethodPost, next)
		return status, next
	}

	// Sessions until each master holds a few, found by the names in their data.
	replicaOf := cluster.masters()
	var sessions []*failoverSession
	byName := map[string]*failoverSession{}
	for counts := map[string]int{}; len(counts) < 3 || slices.Min(slices.Collect(maps.Values(counts))) < 3; {
		if len(sessions) >= 200 {
			t.Fatalf("200 sessions and still not 3 on each master: %v", counts)
		}
		for range 6 {
			s := &failoverSession{name: "s" + strconv.Itoa(len(sessions))}
			if status, v := write(s); status != http.StatusOK {
				t.Fatalf("creating a session answered %d", status)
			} else {
				s.acked = v
			}
			sessions = append(sessions, s)
			byName[s.name] = s
		}
		clear(counts)
		for master := range replicaOf {
			for _, key := range cluster.keysOn(master, "echosess:s:") {
				data, err := cluster.do(master, "HGET", key, "d").ToString()
				if err != nil {
					t.Fatal(err)
				}
				var d struct{ Name string }
				if err := json.Unmarshal([]byte(data), &d); err != nil || byName[d.Name] == nil {
					t.Fatalf("record %s holds %q (%v)", key, data, err)
				}
				byName[d.Name].master = master
				counts[master]++
			}
		}
	}
	var victim string
	for master := range replicaOf {
		victim = max(victim, master)
	}
	replica := replicaOf[victim]
	if replica == "" {
		t.Fatalf("no replica of %s: %v\n%s", victim, replicaOf, cluster.info(victim, "", "CLUSTER NODES"))
	}
	onVictim := 0
	for _, s := range sessions {
		if s.master == victim {
			onVictim++
		}
	}

	for range 3 { // all is well before the crash
		for _, s := range sessions {
			if status, v := write(s); status != http.StatusOK {
				t.Fatalf("a write before the crash answered %d", status)
			} else {
				s.acked = v
			}
		}
	}

	cluster.kill(victim)
	crashed := time.Now()
	t.Logf("killed master %s, which holds %d of %d sessions; its replica is %s", victim, onVictim, len(sessions), replica)
	var promoted time.Duration // since the crash, once the replica is seen as a master
	failures := 0              // 5xx answers to writes of sessions on the dead master
	deadline := time.Now().Add(15 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("15 s after the crash, writes of sessions on the dead master still fail (%d so far)", failures)
		}
		allOK := true
		for _, s := range sessions {
			status, v := write(s)
			switch {
			case s.master != victim:
				if status != http.StatusOK {
					t.Fatalf("a write of a session on a live master answered %d %v after the crash", status, time.Since(crashed))
				}
				s.acked = v
			case status == http.StatusOK:
				s.acked, s.ackedAfterCrash = v, true
				if promoted == 0 && cluster.role(replica) != "master" {
					t.Fatalf("a write of a session on the dead master answered 200 before its replica took over")
				}
			case status >= 500:
				failures++
				allOK = false
			default:
				t.Fatalf("a write of a session on the dead master answered %d", status)
			}
		}
		if promoted == 0 && cluster.role(replica) == "master" {
			promoted = time.Since(crashed)
			// The writes the old master acknowledged last, before the crash, that the
			// replica did not have.
			var lost []string
			before := 0
			for _, s := range sessions {
				if s.master != victim || s.ackedAfterCrash {
					continue
				}
				before++
				var status int
				var body string
				cluster.waitFor(10*time.Second, "a read of a session on the new master", func() bool {
					status, body = serve(s, http.MethodGet, 0)
					return status == http.StatusOK
				})
				if body != strconv.Itoa(s.acked) {
					lost = append(lost, fmt.Sprintf("%s reads %s, not %d", s.name, body, s.acked))
				}
			}
			t.Logf("lost to the crash: %d of the %d writes the old master acknowledged last %v", len(lost), before, lost)
		}
		if promoted > 0 && allOK {
			break
		}
	}
	t.Logf("the replica took over %v after the crash, and writes of its sessions succeed again after %v; %d writes answered 5xx meanwhile",
		promoted.Round(time.Millisecond), time.Since(crashed).Round(time.Millisecond), failures)

	for _, s := range sessions {
		if status, body := serve(s, http.MethodGet, 0); status != http.StatusOK || body != strconv.Itoa(s.acked) {
			t.Errorf("session %s reads %d %q, want 200 %q, its last write answered 200", s.name, status, body, strconv.Itoa(s.acked))
		}
	}
}
