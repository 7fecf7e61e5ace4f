package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/echosess/echosess/bench"
)

// serveFlag, first on the command line, runs the command as one instance of a
// library's app (serveMain) rather than as the load's client. The parent passes it
// with the schemas or the Redis key prefix to serve on; it is not in the usage.
const serveFlag = "-serve"

// pathCounts is the route, outside the app, on which an instance replies with its
// store round trips and failed commits so far: "reads writes other trips commands
// failures cpu".
const pathCounts = "/_load/counts"

// How long an instance may take to start, and to stop before it is killed.
const (
	startTimeout = 30 * time.Second
	stopTimeout  = 5 * time.Second
)

// serveMain is an instance's main: it opens pools on the schemas that its parent
// made (the DSN is in bench.DSNVar, so that no password shows in the process
// list), or on its MySQL databases (the DSN in bench.MySQLDSNVar), or clients of
// the Redis at -redis under the parent's key prefix, builds
// the library's app on them, listens on a free loopback port, prints the address
// on stdout, and serves until its stdin closes, which it does when the parent
// exits however it exits, or until SIGTERM or SIGINT.
//
//	load -serve <lib> -schemas <echosess>,<scs> [-cpuprofile file]
//	load -serve <lib> -redis <addr> -prefix <prefix> [-cpuprofile file]
//	load -serve <lib> -mysql-databases <echosess>,<scs> [-cpuprofile file]
func serveMain(args []string) error {
	fs := flag.NewFlagSet("load "+serveFlag, flag.ContinueOnError)
	lib := fs.String(serveFlag[1:], "", "the library whose app to serve")
	schemaList := fs.String("schemas", "", "the Postgres schemas to serve on: echosess,scs")
	redisAddr := fs.String("redis", "", "the Redis to serve on, instead of Postgres")
	prefix := fs.String("prefix", "", "with -redis, the run's key prefix")
	mysqlDatabases := fs.String("mysql-databases", "", "the MySQL databases to serve on, instead of Postgres: echosess,scs")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the instance to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var st stores
	switch {
	case *redisAddr != "":
		st.redis = bench.OpenRedisPrefix(*redisAddr, *prefix)
	case *mysqlDatabases != "":
		databases, err := bench.ParseMySQLDatabases(*mysqlDatabases)
		if err != nil {
			return err
		}
		dsn := os.Getenv(bench.MySQLDSNVar)
		if dsn == "" {
			return errors.New(serveFlag + " needs " + bench.MySQLDSNVar)
		}
		st.mysql = bench.OpenMySQLDatabases(dsn, databases)
	}
	stopProfile, err := startCPUProfile(*cpuprofile)
	if err != nil {
		return err
	}
	defer stopProfile()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	if st.redis == nil && st.mysql == nil {
		schemas, err := bench.ParsePostgresSchemas(*schemaList)
		if err != nil {
			return err
		}
		dsn := os.Getenv(bench.DSNVar)
		if dsn == "" {
			return errors.New(serveFlag + " needs " + bench.DSNVar)
		}
		if st.pg, err = bench.OpenPostgresSchemas(ctx, dsn, schemas); err != nil {
			return err
		}
		defer st.pg.Close()
	}
	app, err := st.newApp(*lib)
	if err != nil {
		return err
	}
	defer app.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: withCounts(app), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Println(ln.Addr())
	select {
	case <-ctx.Done():
	case err := <-served:
		return err
	}
	shutdown, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// withCounts serves app, and pathCounts beside it.
func withCounts(app *bench.App) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != pathCounts {
			app.Handler.ServeHTTP(w, r)
			return
		}
		c := app.Count.Snapshot()
		fmt.Fprintf(w, "%d %d %d %d %d %d %d", c.Reads, c.Writes, c.Other, c.Trips, c.Cmds, app.Failures.Load(), bench.CPUTime())
	})
}

// An instance is a child process that serves a library's app (serveMain).
type instance struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.Closer
	base   string        // its base URL
	exited chan struct{} // closed when it has exited, and err is set
	err    error
}

// startInstances starts o.instances processes of this command that serve t's app on
// st's schemas, databases or Redis prefix, and sets t's bases, counts and stop.
func (t *target) startInstances(o options, st stores) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var ins []*instance
	t.stop = func() {
		for _, in := range ins {
			in.stopAsync()
		}
		for _, in := range ins {
			if err := in.wait(); err != nil {
				fmt.Fprintf(os.Stderr, "load: %s: %v\n", in.name, err)
			}
		}
	}
	for i := range o.instances {
		in, err := startInstance(exe, o, t.lib, i, st)
		if err != nil {
			t.stop()
			return err
		}
		ins = append(ins, in)
		t.bases = append(t.bases, in.base)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	t.counts = func() (usage, error) {
		var sum usage
		for _, in := range ins {
			u, err := in.counts(client)
			if err != nil {
				return sum, err
			}
			sum = usage{sum.store.Add(u.store), sum.failures + u.failures, sum.cpu + u.cpu}
		}
		return sum, nil
	}
	return nil
}

// startInstance starts instance i of lib's app on st, and waits until it listens.
func startInstance(exe string, o options, lib string, i int, st stores) (*instance, error) {
	in := &instance{name: fmt.Sprintf("%s instance %d", lib, i), exited: make(chan struct{})}
	args := []string{serveFlag, lib}
	switch {
	case st.redis != nil:
		args = append(args, "-redis", st.redis.Addr, "-prefix", st.redis.Prefix)
	case st.mysql != nil:
		args = append(args, "-mysql-databases", st.mysql.Databases().String())
	default:
		args = append(args, "-schemas", st.pg.Schemas().String())
	}
	if o.cpuprofile != "" {
		args = append(args, "-cpuprofile", fmt.Sprintf("%s.%s.%d", o.cpuprofile, lib, i))
	}
	in.cmd = exec.Command(exe, args...)
	in.cmd.Env = append(os.Environ(), bench.DSNVar+"="+o.dsn, bench.MySQLDSNVar+"="+o.mysqlDSN)
	in.cmd.Stderr = os.Stderr
	addr := make(chan string, 1)
	in.cmd.Stdout = &addrWriter{addr: addr, rest: os.Stderr}
	// The instance serves until this pipe closes: when stop closes it, or when this
	// process exits, however it does, and the kernel closes it.
	stdin, err := in.cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	in.stdin = stdin
	if err := in.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		in.err = in.cmd.Wait()
		close(in.exited)
	}()
	timeout := time.NewTimer(startTimeout)
	defer timeout.Stop()
	select {
	case a := <-addr:
		in.base = "http://" + strings.TrimSpace(a)
		return in, nil
	case <-in.exited:
		return nil, fmt.Errorf("%s exited before it listened: %v", in.name, in.err)
	case <-timeout.C:
		in.stopAsync()
		in.wait()
		return nil, fmt.Errorf("%s did not listen within %v", in.name, startTimeout)
	}
}

// stopAsync asks the instance to stop, by closing its stdin.
func (in *instance) stopAsync() { in.stdin.Close() }

// wait waits for the instance to exit after stopAsync, and kills it when it takes
// longer than stopTimeout.
func (in *instance) wait() error {
	timeout := time.NewTimer(stopTimeout)
	defer timeout.Stop()
	select {
	case <-in.exited:
		return in.err
	case <-timeout.C:
		in.cmd.Process.Kill()
		<-in.exited
		return fmt.Errorf("killed after it did not stop within %v", stopTimeout)
	}
}

// counts fetches the instance's store round trips, failed commits and CPU time so far.
func (in *instance) counts(client *http.Client) (usage, error) {
	var u usage
	res, err := client.Get(in.base + pathCounts)
	if err != nil {
		return u, fmt.Errorf("%s: %w", in.name, err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err == nil && res.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %s", res.Status)
	}
	if err == nil {
		_, err = fmt.Sscan(string(body), &u.store.Reads, &u.store.Writes, &u.store.Other, &u.store.Trips, &u.store.Cmds, &u.failures, &u.cpu)
	}
	if err != nil {
		return u, fmt.Errorf("%s: counts: %w", in.name, err)
	}
	return u, nil
}

// addrWriter is an instance's stdout: it sends the first line, the address the
// instance listens on, to addr, and writes the rest to rest. The exec package
// writes to it from one goroutine.
type addrWriter struct {
	addr chan<- string
	rest io.Writer
	line []byte
	sent bool
}

func (w *addrWriter) Write(p []byte) (int, error) {
	if w.sent {
		return w.rest.Write(p)
	}
	w.line = append(w.line, p...)
	i := bytes.IndexByte(w.line, '\n')
	if i < 0 {
		return len(p), nil
	}
	w.sent = true
	w.addr <- string(w.line[:i])
	if rest := w.line[i+1:]; len(rest) > 0 {
		w.rest.Write(rest)
	}
	return len(p), nil
}
