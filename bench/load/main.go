// Command load drives each library's bench app over real HTTP on loopback: N clients,
// each with a session of its own, send a mix of reads and writes for a fixed time, and
// the command prints requests per second, latency percentiles, errors and store round
// trips per request for each library (and each table size) in turn.
//
// With -instances N on Postgres, MySQL or Redis, each library's app runs in N processes of
// this command on the same schemas or key prefix, each client sends each request to
// one of them at random, and reads ask for the session's n: a read older than the
// client's last acknowledged write counts as stale, and in the next column too when
// the instance that acknowledged that write served it.
//
// The last three columns are CPU time per request: the client's (this process,
// which in process also serves the app), the instances', and that of the database:
// on Postgres every postgres process on the machine, on MySQL every mariadbd or
// mysqld, on Redis the redis-server that listens on -redis's port. The CPU is shared, so they tell where the time goes
// when requests per second stop growing.
//
// Run it from the bench module:
//
//	go run ./load -store memory -c 8 -d 10s
//	ECHOSESS_POSTGRES_DSN=postgres://... go run ./load -store postgres -rows 100000
//	go run ./load -store postgres -soak -d 20s   # echosess with its cache; exits 1 on any error
//	go run ./load -store postgres -rows 1000,1000000 -rounds 10   # table sizes, interleaved
//	go run ./load -store postgres -instances 2 -rounds 3   # two app processes per library
//	go run ./load -store postgres -libs echosess,echosess-nonotify -writes 1   # the trigger's cost
//	go run ./load -store redis -instances 2 -rounds 3   # on the Redis at 127.0.0.1:6379
//	ECHOSESS_MYSQL_DSN='root@tcp(127.0.0.1:3306)/' go run ./load -store mysql -instances 2
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/echosess/echosess/bench"
)

// options are the command's flags.
type options struct {
	clients     int
	duration    time.Duration
	libs        []string
	store       string
	dsn         string
	redisAddr   string
	mysqlDSN    string
	rows        []int
	rounds      int
	writes      float64
	failOnError bool
	staleOK     bool
	soak        bool
	report      time.Duration
	instances   int
	cpuprofile  string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == serveFlag {
		if err := serveMain(os.Args[1:]); err != nil {
			fatal(err)
		}
		return
	}
	var o options
	var libs, rows string
	flag.IntVar(&o.clients, "c", 8, "concurrent clients, each with its own session")
	flag.DurationVar(&o.duration, "d", 10*time.Second, "how long to load each library (with each -rows)")
	flag.StringVar(&libs, "libs", "", "comma-separated libraries: baseline, echosess, echosess-cache, echosess-nonotify (postgres: echosess on a schema without the change triggers), scs, scs-interpolated (mysql: scs with interpolateParams=true), gorilla, baseline-v5, echosess-v5, gorilla-v5 (default: all that run on -store, but echosess-nonotify; with -soak, echosess-cache on postgres and echosess on memory)")
	flag.StringVar(&o.store, "store", "memory", "session store: memory, postgres, mysql or redis")
	flag.StringVar(&o.dsn, "dsn", os.Getenv(bench.DSNVar), "Postgres DSN for -store postgres; fresh schemas are made and dropped in it")
	flag.StringVar(&o.mysqlDSN, "mysql", os.Getenv(bench.MySQLDSNVar), "MySQL or MariaDB DSN for -store mysql, of a user who may create databases; fresh ones are made and dropped on it")
	flag.StringVar(&o.redisAddr, "redis", bench.RedisAddr(), "Redis address for -store redis; the run's keys get a fresh prefix and are deleted at the end")
	flag.StringVar(&rows, "rows", "0", "seed the store with this many other sessions first (e.g. 1000, 100000, 1000000); a comma-separated list compares table sizes, each in a store of its own")
	flag.IntVar(&o.rounds, "rounds", 1, "split -d into this many rounds that take turns across -rows and -libs, so that a change in the machine's load falls on all of them alike")
	flag.Float64Var(&o.writes, "writes", 0.1, "fraction of requests that write the session; the rest read it")
	flag.BoolVar(&o.failOnError, "fail-on-error", false, "exit 1 if any request fails or any read is stale")
	flag.BoolVar(&o.staleOK, "stale-elsewhere-ok", false, "with -fail-on-error, pass stale reads that an instance other than the writer's served (a client-side cache, such as rueidis's behind echosess's Redis store, may serve one until Redis's invalidation of the write reaches it)")
	flag.BoolVar(&o.soak, "soak", false, "print heap and RSS at the start and end (and every -report); implies -fail-on-error")
	flag.DurationVar(&o.report, "report", 0, "with -soak, also print heap and RSS at this interval (default: a tenth of -d)")
	flag.IntVar(&o.instances, "instances", 1, "with -store postgres, mysql or redis, serve each library's app from this many processes on the same schemas, databases or key prefix, send each request to one at random, and check that no read is older than the client's last write")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run to this file (with -instances, each instance's to this file with .<lib>.<i> appended)")
	flag.Parse()

	o.libs = defaultLibs(o.store, o.soak)
	if libs != "" {
		o.libs = strings.Split(libs, ",")
	}
	for _, r := range strings.Split(rows, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil || n < 0 {
			fatal(fmt.Errorf("bad -rows %q", rows))
		}
		o.rows = append(o.rows, n)
	}
	if o.rounds < 1 {
		fatal(errors.New("-rounds must be at least 1"))
	}
	if o.instances < 1 || o.instances > 1 && o.store == "memory" {
		fatal(errors.New("-instances must be 1, or more with -store postgres, mysql or redis"))
	}
	if o.soak && o.instances > 1 {
		fatal(errors.New("-soak reports this process's memory: it does not combine with -instances"))
	}
	if o.soak {
		o.failOnError = true
		if o.report == 0 {
			o.report = o.duration / 10
		}
	}
	stopProfile, err := startCPUProfile(o.cpuprofile)
	if err != nil {
		fatal(err)
	}
	results, err := run(o)
	stopProfile()
	if err != nil {
		fatal(err)
	}
	var errs, stale, atWriter int64
	for _, r := range results {
		errs += r.errors
		stale += max(r.stale, 0)
		atWriter += max(r.staleAtWriter, 0)
	}
	if (errs > 0 || atWriter > 0 || stale > 0 && !o.staleOK) && o.failOnError {
		fmt.Fprintf(os.Stderr, "load: %d requests failed, %d reads were stale (%d of them at the writer)\n", errs, stale, atWriter)
		os.Exit(1)
	}
}

// startCPUProfile starts a CPU profile to file, unless file is empty, and returns
// the function that stops it.
func startCPUProfile(file string) (stop func(), err error) {
	if file == "" {
		return func() {}, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "load:", err)
	os.Exit(1)
}

func defaultLibs(store string, soak bool) []string {
	switch {
	case soak && store == "postgres":
		return []string{bench.LibEchosessCache}
	case soak:
		return []string{bench.LibEchosess}
	case store == "postgres", store == "mysql":
		return []string{bench.LibEchosess, bench.LibEchosessCache, bench.LibSCS}
	case store == "redis":
		return []string{bench.LibEchosess, bench.LibSCS, bench.LibGorilla}
	}
	return []string{bench.LibBaseline, bench.LibEchosess, bench.LibSCS, bench.LibGorilla,
		bench.LibBaselineV5, bench.LibEchosessV5, bench.LibGorillaV5}
}

// A target is one library's app, served on loopback with a store seeded with rows
// other sessions (in this process, or in instances of this command), its clients'
// sessions, and what its rounds have measured so far.
type target struct {
	lib      string
	rows     int
	bases    []string // the app's base URLs: one, or one per instance
	tr       *http.Transport
	client   *http.Client
	sessions []session
	// checkN makes reads ask for n (PathCount) and check it against the session's
	// last acknowledged write, and writes check that their reply is newer.
	checkN bool
	// counts returns what the app has used so far, summed over its instances.
	counts func() (usage, error)
	stop   func() // stops the app's servers

	requests      int64
	errors        int64
	stale         int64
	staleAtWriter int64 // stale reads that the writer's instance served
	elapsed       time.Duration
	latencies     histogram // of every request
	writes        histogram // of the writes alone
	store         bench.Counts
	cpu           cpuUse
	firstErr      error
}

// usage is what an app has used so far: its store round trips, its failed commits
// and, when it runs as instances, their CPU time.
type usage struct {
	store    bench.Counts
	failures int64
	cpu      time.Duration
}

// cpuUse is the CPU time that a library's load took: the client's (this process,
// which also serves the app when it runs in process), the instances', and
// PostgreSQL's (every process of the server, on this machine; -1 where unknown).
type cpuUse struct{ client, app, db time.Duration }

// A session is one client's session: the Cookie header that names it, as the latest
// response that set the session cookie left it, the n of its last acknowledged
// write (0 when it was created), and the index of the base that acknowledged it.
type session struct {
	cookie string
	acked  int
	writer int
}

// A result is what run measured of one library and table size.
type result struct {
	lib    string
	rows   int
	errors int64
	stale  int64 // -1 when not checked
	// staleAtWriter counts the stale reads that the instance which acknowledged the
	// client's last write served; -1 when not checked.
	staleAtWriter int64
}

// run loads each library with each table size for o.duration, in o.rounds turns,
// prints a line for each, and returns what it measured.
func run(o options) ([]result, error) {
	ctx := context.Background()
	if !slices.Contains([]string{"memory", "postgres", "mysql", "redis"}, o.store) {
		return nil, fmt.Errorf("unknown -store %q", o.store)
	}
	var targets []*target
	var pgs []*bench.Postgres
	var rd *bench.Redis // the run's key prefix on -store redis
	var my *bench.MySQL // the run's databases on -store mysql
	defer func() {
		for _, t := range targets {
			t.stop()
		}
		for _, pg := range pgs {
			pg.Close() // drops the schemas, once no instance uses them
		}
		if rd != nil {
			if err := rd.Close(); err != nil { // deletes the keys
				fmt.Fprintln(os.Stderr, "load: deleting the Redis keys:", err)
			}
		}
		if my != nil {
			if err := my.Close(); err != nil { // drops the databases
				fmt.Fprintln(os.Stderr, "load: dropping the MySQL databases:", err)
			}
		}
	}()
	if o.store == "redis" {
		if slices.ContainsFunc(o.rows, func(n int) bool { return n > 0 }) {
			return nil, errors.New("-rows: Redis is not seeded here")
		}
		var err error
		if rd, err = bench.OpenRedis(ctx, o.redisAddr); err != nil {
			return nil, err
		}
	}
	if o.store == "mysql" {
		if slices.ContainsFunc(o.rows, func(n int) bool { return n > 0 }) {
			return nil, errors.New("-rows: MySQL is not seeded here")
		}
		if o.mysqlDSN == "" {
			return nil, errors.New("-store mysql needs -mysql or " + bench.MySQLDSNVar)
		}
		var err error
		if my, err = bench.OpenMySQL(ctx, o.mysqlDSN); err != nil {
			return nil, err
		}
	}
	for _, rows := range o.rows {
		var shared *bench.Postgres // one pair of schemas for the libraries that can share one
		for _, lib := range o.libs {
			if lib == bench.LibEchosessNoNotify && o.store != "postgres" {
				return nil, fmt.Errorf("%s runs on -store postgres only", lib)
			}
			var pg *bench.Postgres
			if o.store == "postgres" {
				// echosess-nonotify's schema has no change triggers, which a cache
				// needs: it gets schemas of its own.
				own := lib == bench.LibEchosessNoNotify
				if own || shared == nil {
					var err error
					if pg, err = openPostgres(ctx, o, rows, own); err != nil {
						return nil, fmt.Errorf("%s: %w", lib, err)
					}
					pgs = append(pgs, pg)
					if !own {
						shared = pg
					}
				}
				if !own {
					pg = shared
				}
			}
			t, err := newTarget(ctx, o, lib, rows, stores{pg, rd, my})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", lib, err)
			}
			targets = append(targets, t)
		}
	}
	fmt.Printf("%d clients, %v per library in %d round(s), %.0f%% writes, store %s, %d instance(s) per library, GOMAXPROCS %d\n",
		o.clients, o.duration, o.rounds, 100*o.writes, o.store, o.instances, runtime.GOMAXPROCS(0))
	if o.soak {
		for _, t := range targets {
			printMemory(t.lib, "start")
		}
	}
	slice := o.duration / time.Duration(o.rounds)
	for range o.rounds {
		for _, t := range targets {
			t.load(o, slice)
		}
	}
	if o.soak {
		for _, t := range targets {
			printMemory(t.lib, "end")
		}
	}
	const row = "%-17s %9v %9v %9v %9v %9v %9v %9v %7v %7v %9v %10v %10v %14v %11v %8v %8v\n"
	fmt.Printf(row, "lib", "rows", "requests", "req/s", "p50", "p99", "write p50", "write p99", "errors", "stale", "at writer", "reads/req", "writes/req", "roundtrips/req",
		"client µs/req", "app µs/req", "db µs/req")
	var results []result
	for _, t := range targets {
		r := result{lib: t.lib, rows: t.rows, errors: t.errors, stale: -1, staleAtWriter: -1}
		stale, atWriter := "-", "-"
		if t.checkN {
			r.stale, r.staleAtWriter = t.stale, t.staleAtWriter
			stale, atWriter = strconv.FormatInt(t.stale, 10), strconv.FormatInt(t.staleAtWriter, 10)
		}
		results = append(results, r)
		n := float64(max(t.requests, 1))
		fmt.Printf(row, t.lib, t.rows, t.requests, fmt.Sprintf("%.0f", float64(t.requests)/t.elapsed.Seconds()),
			roundLatency(t.latencies.quantile(0.50)), roundLatency(t.latencies.quantile(0.99)),
			roundLatency(t.writes.quantile(0.50)), roundLatency(t.writes.quantile(0.99)), t.errors, stale, atWriter,
			fmt.Sprintf("%.2f", float64(t.store.Reads)/n), fmt.Sprintf("%.2f", float64(t.store.Writes)/n),
			fmt.Sprintf("%.2f", float64(t.store.Total())/n),
			perRequest(t.cpu.client, n), perRequest(t.cpu.app, n), perRequest(t.cpu.db, n))
		if t.firstErr != nil {
			fmt.Fprintf(os.Stderr, "%s rows=%d: first error: %v\n", t.lib, t.rows, t.firstErr)
		}
	}
	return results, nil
}

// openPostgres makes fresh schemas for a store seeded with rows other sessions;
// with noNotify, for echosess-nonotify, its echosess schema has no change triggers.
func openPostgres(ctx context.Context, o options, rows int, noNotify bool) (*bench.Postgres, error) {
	if o.dsn == "" {
		return nil, errors.New("-store postgres needs -dsn or " + bench.DSNVar)
	}
	pg, err := bench.OpenPostgres(ctx, o.dsn)
	if err != nil {
		return nil, err
	}
	if noNotify {
		if err := pg.DropNotify(ctx); err != nil {
			pg.Close()
			return nil, err
		}
	}
	start := time.Now()
	if err := pg.Seed(ctx, rows); err != nil {
		pg.Close()
		return nil, err
	}
	if rows > 0 {
		which := "each library's table"
		if noNotify {
			which = bench.LibEchosessNoNotify + "'s tables"
		}
		fmt.Printf("seeded %d rows in %s in %v\n", rows, which, time.Since(start).Round(time.Millisecond))
	}
	return pg, nil
}

// perRequest formats the CPU time d spent on n requests, in microseconds per
// request, or "-" where it was not measured.
func perRequest(d time.Duration, n float64) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(d.Microseconds())/n)
}

func roundLatency(d time.Duration) time.Duration {
	if d > 10*time.Millisecond {
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// stores are where an app keeps its sessions: in Postgres schemas, under a Redis
// key prefix, in MySQL databases, or, when all are nil, in memory.
type stores struct {
	pg    *bench.Postgres
	redis *bench.Redis
	mysql *bench.MySQL
}

// newApp builds lib's app on st.
func (st stores) newApp(lib string) (*bench.App, error) {
	switch {
	case st.redis != nil:
		return bench.NewRedisApp(lib, st.redis)
	case st.mysql != nil:
		return bench.NewMySQLApp(lib, st.mysql)
	}
	return bench.NewApp(lib, st.pg, true)
}

// newTarget builds lib's app, seeds a memory store, serves the app on loopback (in
// this process, or in o.instances processes on st) and gives each client a session.
func newTarget(ctx context.Context, o options, lib string, rows int, st stores) (*target, error) {
	// The baseline keeps a count per process, not per session: nothing to check.
	t := &target{lib: lib, rows: rows, checkN: o.instances > 1 && lib != bench.LibBaseline}
	var err error
	if o.instances > 1 {
		err = t.startInstances(o, st)
	} else {
		err = t.serveHere(ctx, st)
	}
	if err != nil {
		return nil, err
	}
	t.tr = &http.Transport{MaxIdleConnsPerHost: o.clients, DisableCompression: true}
	t.client = &http.Client{Transport: t.tr, Timeout: 10 * time.Second}
	stop := t.stop
	t.stop = func() {
		stop()
		t.tr.CloseIdleConnections()
	}
	t.sessions = make([]session, o.clients)
	for i := range t.sessions {
		t.sessions[i].writer = i % len(t.bases)
		if t.sessions[i].cookie, err = newSession(t.client, t.bases[t.sessions[i].writer]); err != nil {
			t.stop()
			return nil, err
		}
	}
	return t, nil
}

// serveHere builds t's app in this process, seeds a memory store, and serves it on
// loopback.
func (t *target) serveHere(ctx context.Context, st stores) error {
	app, err := st.newApp(t.lib)
	if err != nil {
		return err
	}
	if st.pg == nil && st.mysql == nil {
		if err := app.Seed(ctx, t.rows); err != nil {
			app.Close()
			return err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		app.Close()
		return err
	}
	srv := &http.Server{Handler: app.Handler, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.bases = []string{"http://" + ln.Addr().String()}
	t.counts = func() (usage, error) { return usage{app.Count.Snapshot(), app.Failures.Load(), 0}, nil }
	t.stop = func() {
		srv.Shutdown(ctx)
		app.Close()
	}
	return nil
}

// load runs the clients against t for d and adds what they measured to t.
func (t *target) load(o options, d time.Duration) {
	stopReports := reportMemory(t.lib, o)
	defer stopReports()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		requests atomic.Int64
		errs     atomic.Int64
		stale    atomic.Int64
		atWriter atomic.Int64
	)
	before, countErr := t.counts()
	clientBefore, dbBefore := bench.CPUTime(), dbCPU(o)
	start := time.Now()
	deadline := start.Add(d)
	for i := range t.sessions {
		wg.Add(1)
		go func(s *session) {
			defer wg.Done()
			h, hw := new(histogram), new(histogram)
			var owed float64
			var firstErr error
			for time.Now().Before(deadline) {
				owed += o.writes
				write := owed >= 1
				if write {
					owed--
				}
				b := 0
				if len(t.bases) > 1 {
					b = rand.IntN(len(t.bases))
				}
				writer := s.writer
				t0 := time.Now()
				old, err := do(t.client, t.bases[b], s, write, t.checkN)
				took := time.Since(t0)
				h.add(took)
				if write {
					hw.add(took)
				}
				requests.Add(1)
				if old {
					stale.Add(1)
					if b == writer {
						atWriter.Add(1)
					}
				}
				if write && err == nil {
					s.writer = b
				}
				if err != nil {
					errs.Add(1)
					if firstErr == nil {
						firstErr = err
					}
				}
			}
			mu.Lock()
			t.latencies.merge(h)
			t.writes.merge(hw)
			if t.firstErr == nil {
				t.firstErr = firstErr
			}
			mu.Unlock()
		}(&t.sessions[i])
	}
	wg.Wait()
	t.elapsed += time.Since(start)
	t.requests += requests.Load()
	t.stale += stale.Load()
	t.staleAtWriter += atWriter.Load()
	t.errors += errs.Load()
	clientAfter, dbAfter := bench.CPUTime(), dbCPU(o)
	after, err := t.counts()
	if err = errors.Join(countErr, err); err != nil {
		t.errors++ // the round trips of this round go uncounted
		if t.firstErr == nil {
			t.firstErr = err
		}
		return
	}
	t.store = t.store.Add(after.store.Sub(before.store))
	t.errors += after.failures - before.failures
	t.cpu.client += clientAfter - clientBefore
	t.cpu.app += after.cpu - before.cpu
	if dbBefore < 0 || dbAfter < 0 || t.cpu.db < 0 {
		t.cpu.db = -1
	} else {
		t.cpu.db += dbAfter - dbBefore
	}
}

// dbCPU returns the CPU time that the database of -store has used so far, or -1
// where it is not measured (the memory store, or no /proc).
func dbCPU(o options) time.Duration {
	switch o.store {
	case "postgres":
		return processCPU(func(name, _ string) bool { return name == "postgres" })
	case "mysql":
		return processCPU(func(name, _ string) bool { return name == "mariadbd" || name == "mysqld" })
	case "redis":
		// Other Redis servers may run beside it, such as a Cluster's nodes: only the
		// one whose title (redis-server 127.0.0.1:6379) names the port counts.
		_, port, _ := net.SplitHostPort(o.redisAddr)
		return processCPU(func(name, cmdline string) bool {
			return name == "redis-server" && strings.HasSuffix(strings.TrimRight(cmdline, "\x00 "), ":"+port)
		})
	}
	return -1
}

// newSession creates a session and returns the Cookie header that names it.
func newSession(client *http.Client, base string) (string, error) {
	res, err := client.Post(base+bench.PathCreate, "", nil)
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("creating a session: status %s", res.Status)
	}
	for _, ck := range res.Cookies() {
		if ck.Name == bench.CookieName {
			return ck.Name + "=" + ck.Value, nil
		}
	}
	return bench.CookieName + "=none", nil // the baseline sets no cookie
}

// do sends one read or write of session s to base, checks the reply, and keeps the
// session cookie that the response sets, as a browser would: echosess with a
// coherent cache puts the session's version in it, which changes with each write.
// With checkN, a read asks for n (PathCount) and do reports it as stale when it is
// older than s's last acknowledged write; a write is stale when its reply is not
// newer, for it then started from an older n. Without checkN, a read asks for the
// user (PathRead), and nothing is stale.
func do(client *http.Client, base string, s *session, write, checkN bool) (stale bool, err error) {
	method, path := http.MethodGet, bench.PathRead
	switch {
	case write:
		method, path = http.MethodPost, bench.PathWrite
	case checkN:
		path = bench.PathCount
	}
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Cookie", s.cookie)
	res, err := client.Do(req)
	if err != nil {
		return false, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if len(res.Header["Set-Cookie"]) > 0 {
		keepCookie(s, res)
	}
	switch {
	case err != nil:
		return false, err
	case res.StatusCode != http.StatusOK:
		return false, fmt.Errorf("%s %s: status %s: %.200s", method, path, res.Status, body)
	case !write && !checkN:
		if string(body) != bench.User {
			return false, fmt.Errorf("%s %s: got %q, want %q", method, path, body, bench.User)
		}
		return false, nil
	case !checkN:
		return false, nil
	}
	n, err := strconv.Atoi(string(body))
	if err != nil {
		return false, fmt.Errorf("%s %s: got %q, want a number", method, path, body)
	}
	if !write {
		return n < s.acked, nil
	}
	stale = n <= s.acked
	s.acked = n // acknowledged, stale or not: a lost update counts once
	return stale, nil
}

// keepCookie makes s name its session by the session cookie that res sets, if it
// sets one to a value.
func keepCookie(s *session, res *http.Response) {
	for _, ck := range res.Cookies() {
		if ck.Name == bench.CookieName && ck.Value != "" && ck.MaxAge >= 0 {
			s.cookie = ck.Name + "=" + ck.Value
		}
	}
}

// reportMemory prints heap and RSS every o.report during a soak, until the returned
// function is called.
func reportMemory(lib string, o options) (stop func()) {
	if !o.soak || o.report <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(o.report)
		defer t.Stop()
		start := time.Now()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				printMemory(lib, time.Since(start).Round(time.Second).String())
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// printMemory prints the live heap after a collection and the process's resident set.
// It collects twice, so that what sync.Pools kept through the first is gone too.
func printMemory(lib, when string) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("memory lib=%s at=%s heap_alloc=%.1fMiB rss=%s goroutines=%d\n",
		lib, when, float64(ms.HeapAlloc)/(1<<20), rss(), runtime.NumGoroutine())
}

// rss returns VmRSS from /proc/self/status, or "?" where there is none.
func rss() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.Join(strings.Fields(v), "")
		}
	}
	return "?"
}
