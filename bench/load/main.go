// Command load drives each library's bench app over real HTTP on loopback: N clients,
// each with a session of its own, send a mix of reads and writes for a fixed time, and
// the command prints requests per second, latency percentiles, errors and store round
// trips per request for each library (and each table size) in turn.
//
// Run it from the bench module:
//
//	go run ./load -store memory -c 8 -d 10s
//	ECHOSESS_POSTGRES_DSN=postgres://... go run ./load -store postgres -rows 100000
//	go run ./load -store postgres -soak -d 20s   # echosess with its cache; exits 1 on any error
//	go run ./load -store postgres -rows 1000,1000000 -rounds 10   # table sizes, interleaved
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
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
	rows        []int
	rounds      int
	writes      float64
	failOnError bool
	soak        bool
	report      time.Duration
}

func main() {
	var o options
	var libs, rows, cpuprofile string
	flag.IntVar(&o.clients, "c", 8, "concurrent clients, each with its own session")
	flag.DurationVar(&o.duration, "d", 10*time.Second, "how long to load each library (with each -rows)")
	flag.StringVar(&libs, "libs", "", "comma-separated libraries: baseline, echosess, echosess-cache, scs, gorilla, baseline-v5, echosess-v5, gorilla-v5 (default: all that run on -store; with -soak, echosess-cache on postgres and echosess on memory)")
	flag.StringVar(&o.store, "store", "memory", "session store: memory or postgres")
	flag.StringVar(&o.dsn, "dsn", os.Getenv(bench.DSNVar), "Postgres DSN for -store postgres; fresh schemas are made and dropped in it")
	flag.StringVar(&rows, "rows", "0", "seed the store with this many other sessions first (e.g. 1000, 100000, 1000000); a comma-separated list compares table sizes, each in a store of its own")
	flag.IntVar(&o.rounds, "rounds", 1, "split -d into this many rounds that take turns across -rows and -libs, so that a change in the machine's load falls on all of them alike")
	flag.Float64Var(&o.writes, "writes", 0.1, "fraction of requests that write the session; the rest read it")
	flag.BoolVar(&o.failOnError, "fail-on-error", false, "exit 1 if any request fails")
	flag.BoolVar(&o.soak, "soak", false, "print heap and RSS at the start and end (and every -report); implies -fail-on-error")
	flag.DurationVar(&o.report, "report", 0, "with -soak, also print heap and RSS at this interval (default: a tenth of -d)")
	flag.StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
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
	if o.soak {
		o.failOnError = true
		if o.report == 0 {
			o.report = o.duration / 10
		}
	}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatal(err)
		}
	}
	errs, err := run(o)
	if cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		fatal(err)
	}
	if errs > 0 && o.failOnError {
		fmt.Fprintf(os.Stderr, "load: %d requests failed\n", errs)
		os.Exit(1)
	}
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
	case store == "postgres":
		return []string{bench.LibEchosess, bench.LibEchosessCache, bench.LibSCS}
	}
	return []string{bench.LibBaseline, bench.LibEchosess, bench.LibSCS, bench.LibGorilla,
		bench.LibBaselineV5, bench.LibEchosessV5, bench.LibGorillaV5}
}

// A target is one library's app, served on loopback with a store seeded with rows
// other sessions, its clients' sessions, and what its rounds have measured so far.
type target struct {
	lib     string
	rows    int
	app     *bench.App
	srv     *http.Server
	tr      *http.Transport
	client  *http.Client
	base    string
	cookies []string

	requests  int64
	errors    int64
	elapsed   time.Duration
	latencies histogram
	store     bench.Counts
	firstErr  error
}

// run loads each library with each table size for o.duration, in o.rounds turns,
// prints a line for each, and returns the number of failed requests.
func run(o options) (int64, error) {
	ctx := context.Background()
	if o.store != "memory" && o.store != "postgres" {
		return 0, fmt.Errorf("unknown -store %q", o.store)
	}
	var targets []*target
	defer func() {
		for _, t := range targets {
			t.close(ctx)
		}
	}()
	for _, rows := range o.rows {
		var pg *bench.Postgres
		if o.store == "postgres" {
			var err error
			if pg, err = openPostgres(ctx, o, rows); err != nil {
				return 0, err
			}
			defer pg.Close()
		}
		for _, lib := range o.libs {
			t, err := newTarget(ctx, o, lib, rows, pg)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", lib, err)
			}
			targets = append(targets, t)
		}
	}
	fmt.Printf("%d clients, %v per library in %d round(s), %.0f%% writes, store %s, GOMAXPROCS %d\n",
		o.clients, o.duration, o.rounds, 100*o.writes, o.store, runtime.GOMAXPROCS(0))
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
	const row = "%-15s %9v %9v %9v %9v %9v %7v %10v %10v %14v\n"
	fmt.Printf(row, "lib", "rows", "requests", "req/s", "p50", "p99", "errors", "reads/req", "writes/req", "roundtrips/req")
	var errs int64
	for _, t := range targets {
		errs += t.errors
		n := float64(max(t.requests, 1))
		fmt.Printf(row, t.lib, t.rows, t.requests, fmt.Sprintf("%.0f", float64(t.requests)/t.elapsed.Seconds()),
			roundLatency(t.latencies.quantile(0.50)), roundLatency(t.latencies.quantile(0.99)), t.errors,
			fmt.Sprintf("%.2f", float64(t.store.Reads)/n), fmt.Sprintf("%.2f", float64(t.store.Writes)/n),
			fmt.Sprintf("%.2f", float64(t.store.Total())/n))
		if t.firstErr != nil {
			fmt.Fprintf(os.Stderr, "%s rows=%d: first error: %v\n", t.lib, t.rows, t.firstErr)
		}
	}
	return errs, nil
}

// openPostgres makes fresh schemas for a store seeded with rows other sessions.
func openPostgres(ctx context.Context, o options, rows int) (*bench.Postgres, error) {
	if o.dsn == "" {
		return nil, errors.New("-store postgres needs -dsn or " + bench.DSNVar)
	}
	pg, err := bench.OpenPostgres(ctx, o.dsn)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := pg.Seed(ctx, rows); err != nil {
		pg.Close()
		return nil, err
	}
	if rows > 0 {
		fmt.Printf("seeded %d rows in each library's table in %v\n", rows, time.Since(start).Round(time.Millisecond))
	}
	return pg, nil
}

func roundLatency(d time.Duration) time.Duration {
	if d > 10*time.Millisecond {
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// newTarget builds lib's app, seeds a memory store, serves the app on loopback and
// gives each client a session.
func newTarget(ctx context.Context, o options, lib string, rows int, pg *bench.Postgres) (*target, error) {
	app, err := bench.NewApp(lib, pg, true)
	if err != nil {
		return nil, err
	}
	t := &target{lib: lib, rows: rows, app: app}
	if pg == nil {
		if err := app.Seed(ctx, rows); err != nil {
			app.Close()
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		app.Close()
		return nil, err
	}
	t.srv = &http.Server{Handler: app.Handler, ReadHeaderTimeout: 10 * time.Second}
	go t.srv.Serve(ln)
	t.base = "http://" + ln.Addr().String()
	t.tr = &http.Transport{MaxIdleConnsPerHost: o.clients, DisableCompression: true}
	t.client = &http.Client{Transport: t.tr, Timeout: 10 * time.Second}
	t.cookies = make([]string, o.clients)
	for i := range t.cookies {
		if t.cookies[i], err = newSession(t.client, t.base); err != nil {
			t.close(ctx)
			return nil, err
		}
	}
	return t, nil
}

func (t *target) close(ctx context.Context) {
	t.srv.Shutdown(ctx)
	t.tr.CloseIdleConnections()
	t.app.Close()
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
	)
	failuresBefore := t.app.Failures.Load()
	countBefore := t.app.Count.Snapshot()
	start := time.Now()
	deadline := start.Add(d)
	for _, cookie := range t.cookies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := new(histogram)
			var owed float64
			var firstErr error
			for time.Now().Before(deadline) {
				owed += o.writes
				write := owed >= 1
				if write {
					owed--
				}
				t0 := time.Now()
				err := do(t.client, t.base, cookie, write)
				h.add(time.Since(t0))
				requests.Add(1)
				if err != nil {
					errs.Add(1)
					if firstErr == nil {
						firstErr = err
					}
				}
			}
			mu.Lock()
			t.latencies.merge(h)
			if t.firstErr == nil {
				t.firstErr = firstErr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	t.elapsed += time.Since(start)
	t.requests += requests.Load()
	t.store = t.store.Add(t.app.Count.Snapshot().Sub(countBefore))
	t.errors += errs.Load() + t.app.Failures.Load() - failuresBefore
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

// do sends one read or write of the client's session and checks the reply.
func do(client *http.Client, base, cookie string, write bool) error {
	method, path := http.MethodGet, bench.PathRead
	if write {
		method, path = http.MethodPost, bench.PathWrite
	}
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Cookie", cookie)
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	switch {
	case err != nil:
		return err
	case res.StatusCode != http.StatusOK:
		return fmt.Errorf("%s %s: status %s: %.200s", method, path, res.Status, body)
	case !write && string(body) != bench.User:
		return fmt.Errorf("%s %s: got %q, want %q", method, path, body, bench.User)
	}
	return nil
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
