// Command load drives each library's bench app over real HTTP on loopback: N clients,
// each with a session of its own, send a mix of reads and writes for a fixed time, and
// the command prints requests per second, latency percentiles, errors and store round
// trips per request for each library in turn.
//
// Run it from the bench module:
//
//	go run ./load -store memory -c 8 -d 10s
//	ECHOSESS_POSTGRES_DSN=postgres://... go run ./load -store postgres -rows 100000
//	go run ./load -store postgres -soak -d 20s   # echosess with its cache; exits 1 on any error
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
	rows        int
	writes      float64
	failOnError bool
	soak        bool
	report      time.Duration
}

func main() {
	var o options
	var libs, cpuprofile string
	flag.IntVar(&o.clients, "c", 8, "concurrent clients, each with its own session")
	flag.DurationVar(&o.duration, "d", 10*time.Second, "how long to load each library")
	flag.StringVar(&libs, "libs", "", "comma-separated libraries: baseline, echosess, echosess-cache, scs, gorilla (default: all that run on -store; with -soak, echosess-cache on postgres and echosess on memory)")
	flag.StringVar(&o.store, "store", "memory", "session store: memory or postgres")
	flag.StringVar(&o.dsn, "dsn", os.Getenv(bench.DSNVar), "Postgres DSN for -store postgres; a fresh schema is made and dropped in it")
	flag.IntVar(&o.rows, "rows", 0, "seed the store with this many other sessions first (e.g. 1000, 100000, 1000000)")
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
	return []string{bench.LibBaseline, bench.LibEchosess, bench.LibSCS, bench.LibGorilla}
}

// result is what one library's run measured.
type result struct {
	lib       string
	requests  int64
	errors    int64
	elapsed   time.Duration
	latencies histogram
	store     bench.Counts
}

// run loads each library in turn, printing a line for each, and returns the number
// of failed requests.
func run(o options) (int64, error) {
	ctx := context.Background()
	var pg *bench.Postgres
	switch o.store {
	case "memory":
	case "postgres":
		if o.dsn == "" {
			return 0, errors.New("-store postgres needs -dsn or " + bench.DSNVar)
		}
		var err error
		if pg, err = bench.OpenPostgres(ctx, o.dsn); err != nil {
			return 0, err
		}
		defer pg.Close()
		start := time.Now()
		if err := pg.Seed(ctx, o.rows); err != nil {
			return 0, err
		}
		if o.rows > 0 {
			fmt.Printf("seeded %d rows in each library's table in %v\n", o.rows, time.Since(start).Round(time.Millisecond))
		}
	default:
		return 0, fmt.Errorf("unknown -store %q", o.store)
	}
	fmt.Printf("%d clients, %v per library, %.0f%% writes, store %s, %d seeded sessions, GOMAXPROCS %d\n",
		o.clients, o.duration, 100*o.writes, o.store, o.rows, runtime.GOMAXPROCS(0))
	const row = "%-15s %9v %9v %9v %9v %7v %10v %10v %14v\n"
	var errs int64
	for i, lib := range o.libs {
		r, err := runLib(ctx, o, lib, pg)
		if err != nil {
			return errs, fmt.Errorf("%s: %w", lib, err)
		}
		errs += r.errors
		if i == 0 || o.soak {
			fmt.Printf(row, "lib", "requests", "req/s", "p50", "p99", "errors", "reads/req", "writes/req", "roundtrips/req")
		}
		n := float64(max(r.requests, 1))
		fmt.Printf(row, r.lib, r.requests, fmt.Sprintf("%.0f", float64(r.requests)/r.elapsed.Seconds()),
			roundLatency(r.latencies.quantile(0.50)), roundLatency(r.latencies.quantile(0.99)), r.errors,
			fmt.Sprintf("%.2f", float64(r.store.Reads)/n), fmt.Sprintf("%.2f", float64(r.store.Writes)/n),
			fmt.Sprintf("%.2f", float64(r.store.Total())/n))
	}
	return errs, nil
}

func roundLatency(d time.Duration) time.Duration {
	if d > 10*time.Millisecond {
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// runLib serves lib's app on loopback and loads it for o.duration.
func runLib(ctx context.Context, o options, lib string, pg *bench.Postgres) (*result, error) {
	app, err := bench.NewApp(lib, pg, true)
	if err != nil {
		return nil, err
	}
	defer app.Close()
	if pg == nil {
		if err := app.Seed(ctx, o.rows); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: app.Echo, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Shutdown(ctx)
	base := "http://" + ln.Addr().String()

	tr := &http.Transport{MaxIdleConnsPerHost: o.clients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	cookies := make([]string, o.clients)
	for i := range cookies {
		if cookies[i], err = newSession(client, base); err != nil {
			return nil, err
		}
	}

	r := &result{lib: lib}
	if o.soak {
		printMemory(lib, "start")
	}
	stopReports := reportMemory(lib, o)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		requests atomic.Int64
		errs     atomic.Int64
		firstErr atomic.Value
	)
	failuresBefore := app.Failures.Load()
	countBefore := app.Count.Snapshot()
	start := time.Now()
	deadline := start.Add(o.duration)
	for _, cookie := range cookies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := new(histogram)
			var owed float64
			for time.Now().Before(deadline) {
				owed += o.writes
				write := owed >= 1
				if write {
					owed--
				}
				t0 := time.Now()
				err := do(client, base, cookie, write)
				h.add(time.Since(t0))
				requests.Add(1)
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
			mu.Lock()
			r.latencies.merge(h)
			mu.Unlock()
		}()
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	stopReports()
	r.requests = requests.Load()
	r.store = app.Count.Snapshot().Sub(countBefore)
	r.errors = errs.Load() + app.Failures.Load() - failuresBefore
	if err, ok := firstErr.Load().(error); ok {
		fmt.Fprintf(os.Stderr, "%s: first error: %v\n", lib, err)
	}
	if o.soak {
		printMemory(lib, "end")
	}
	return r, nil
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
