package redisstore_test

import (
	"bufio"
	"cmp"
	"context"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

// testCluster is a Redis Cluster of three masters with a replica each, on ports of
// its own, that a test starts so that it may stop, pause and kill its servers (the
// shared Cluster on 7000-7005 is never touched). Its node timeout is a second, so a
// replica takes over a dead master in about two.
type testCluster struct {
	t       *testing.T
	dir     string
	servers map[string]*testServer // by address
}

// testServer is one redis-server process of a testCluster.
type testServer struct {
	addr   string
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited
	admin  rueidis.Client
}

// clusterNode is a node as CLUSTER NODES lists it.
type clusterNode struct {
	id, addr string
	master   bool
	masterID string // a replica's master
	failed   bool
	slots    [][2]int // the ranges of slots it serves
}

// startCluster starts six servers on ports firstPort to firstPort+5 in t's temporary
// directory, makes them a Cluster with redis-cli, and waits until every node sees it
// whole and every replica is in sync. Every server is killed when the test ends.
// Without redis-server or redis-cli the test fails under CI=true and is skipped
// otherwise. extra are further arguments of every redis-server.
func startCluster(t *testing.T, firstPort int, extra ...string) *testCluster {
	t.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s: %v", bin, err)
			}
			t.Skipf("%s: %v; the failover tests start a Cluster of their own", bin, err)
		}
	}
	c := &testCluster{t: t, dir: t.TempDir(), servers: map[string]*testServer{}}
	t.Cleanup(c.stop)
	var addrs []string
	for port := firstPort; port < firstPort+6; port++ {
		addrs = append(addrs, c.serve(port, extra).addr)
	}
	create := exec.Command("redis-cli", append(append([]string{"--cluster", "create"}, addrs...),
		"--cluster-replicas", "1", "--cluster-yes")...)
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// Up: every node sees the same three masters holding slots, each with a replica
	// that is in sync with it...
	c.waitFor(20*time.Second, "the Cluster to come up", func() bool {
		var first map[string]string
		for addr := range c.servers {
			if !strings.Contains(c.info(addr, "", "CLUSTER INFO"), "cluster_state:ok") {
				return false
			}
			replicaOf := c.mastersSeenBy(addr)
			if first == nil {
				first = replicaOf
			}
			if len(replicaOf) != 3 || !maps.Equal(replicaOf, first) || slices.Contains(slices.Collect(maps.Values(replicaOf)), "") {
				return false
			}
		}
		for master, replica := range first {
			info := c.info(replica, "replication", "")
			host, port, _ := net.SplitHostPort(master)
			if !strings.Contains(info, "master_link_status:up") || !strings.Contains(info, "master_host:"+host+"\r\n") ||
				!strings.Contains(info, "master_port:"+port+"\r\n") {
				return false
			}
		}
		return true
	})
	// ... and that the master streams its writes to. After a full sync the master
	// holds them back until the replica's first acknowledgement, which replicas
	// send once a second: a write and a WAIT for it tell that it does.
	for master := range c.masters() {
		probe := c.keyOf(master, "probe-")
		admin := c.servers[master].admin
		c.waitFor(10*time.Second, master+" to stream to its replica", func() bool {
			conn, release := admin.Dedicate()
			defer release()
			res := conn.DoMulti(t.Context(), conn.B().Incr().Key(probe).Build(), conn.B().Wait().Numreplicas(1).Timeout(100).Build())
			n, err := res[1].AsInt64()
			return res[0].Error() == nil && err == nil && n == 1
		})
		c.do(master, "DEL", probe)
	}
	return c
}

// serve starts a cluster-enabled redis-server on port and waits until it answers.
func (c *testCluster) serve(port int, extra []string) *testServer {
	t := c.t
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Fatalf("port %d is taken; the test starts a Cluster of its own there", port)
	}
	p := strconv.Itoa(port)
	args := append([]string{"--bind", "127.0.0.1", "--port", p, "--daemonize", "no",
		"--dir", c.dir, "--logfile", filepath.Join(c.dir, p+".log"),
		"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(c.dir, "nodes-"+p+".conf"),
		"--cluster-node-timeout", "1000", "--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0"}, extra...)
	s := &testServer{addr: addr, cmd: exec.Command("redis-server", args...), exited: make(chan struct{})}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("redis-server on port %d: %v", port, err)
	}
	c.servers[addr] = s
	go func() { s.cmd.Wait(); close(s.exited) }()
	c.waitFor(10*time.Second, "redis-server on port "+p, func() bool {
		select {
		case <-s.exited:
			log, _ := os.ReadFile(filepath.Join(c.dir, p+".log"))
			t.Fatalf("redis-server on port %d exited:\n%s", port, log)
		default:
		}
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
	var err error
	s.admin, err = rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, ForceSingleClient: true,
		DisableCache: true, DisableRetry: true})
	if err != nil {
		t.Fatalf("connect to %s: %v", addr, err)
	}
	return s
}

// stop kills every server still running and waits for it to exit.
func (c *testCluster) stop() {
	for _, s := range c.servers {
		if s.admin != nil {
			s.admin.Close()
		}
		s.cmd.Process.Signal(syscall.SIGCONT) // a paused server cannot die of SIGKILL until it runs
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// client returns a cluster client of the test's, closed when it ends.
func (c *testCluster) client(opt rueidis.ClientOption) rueidis.Client {
	c.t.Helper()
	for addr := range c.servers {
		opt.InitAddress = append(opt.InitAddress, addr)
	}
	client, err := rueidis.NewClient(opt)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(client.Close)
	return client
}

// kill kills the server at addr, as a crash would, and waits until it is gone.
func (c *testCluster) kill(addr string) {
	s := c.servers[addr]
	if err := s.cmd.Process.Kill(); err != nil {
		c.t.Fatal(err)
	}
	<-s.exited
}

// pause stops the server at addr (SIGSTOP) until resume: it keeps its sockets but
// reads, answers and sends nothing.
func (c *testCluster) pause(addr string) {
	if err := c.servers[addr].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		c.t.Fatal(err)
	}
}

func (c *testCluster) resume(addr string) {
	if err := c.servers[addr].cmd.Process.Signal(syscall.SIGCONT); err != nil {
		c.t.Fatal(err)
	}
}

// do runs a command on the server at addr alone, failing the test on an error.
func (c *testCluster) do(addr string, cmd ...string) *rueidis.RedisMessage {
	c.t.Helper()
	admin := c.servers[addr].admin
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msg, err := admin.Do(ctx, admin.B().Arbitrary(cmd...).Build()).ToMessage()
	if err != nil {
		c.t.Fatalf("%s on %s: %v", strings.Join(cmd, " "), addr, err)
	}
	return &msg
}

// info returns INFO section of the server at addr, or the reply of cmd when given.
func (c *testCluster) info(addr, section, cmd string) string {
	c.t.Helper()
	args := []string{"INFO", section}
	if cmd != "" {
		args = strings.Fields(cmd)
	}
	s, err := c.do(addr, args...).ToString()
	if err != nil {
		c.t.Fatal(err)
	}
	return strings.TrimPrefix(s, "txt:") // RESP3 gives INFO and CLUSTER NODES as verbatim text
}

// role returns the role of the server at addr: "master" or "slave".
func (c *testCluster) role(addr string) string {
	c.t.Helper()
	for line := range strings.SplitSeq(c.info(addr, "replication", ""), "\r\n") {
		if v, ok := strings.CutPrefix(line, "role:"); ok {
			return v
		}
	}
	c.t.Fatalf("no role in INFO replication of %s", addr)
	return ""
}

// running returns the address of a server that runs.
func (c *testCluster) running() string {
	for addr, s := range c.servers {
		select {
		case <-s.exited:
		default:
			return addr
		}
	}
	c.t.Fatal("no server runs")
	return ""
}

// nodes returns the nodes of the Cluster as the server at addr lists them.
func (c *testCluster) nodes(addr string) []clusterNode {
	c.t.Helper()
	var nodes []clusterNode
	sc := bufio.NewScanner(strings.NewReader(c.info(addr, "", "CLUSTER NODES")))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 {
			continue
		}
		nodeAddr, _, _ := strings.Cut(f[1], "@")
		flags := strings.Split(f[2], ",")
		nodes = append(nodes, clusterNode{id: f[0], addr: nodeAddr, master: slices.Contains(flags, "master"),
			masterID: strings.Trim(f[3], "-"), failed: slices.Contains(flags, "fail")})
		for _, r := range f[8:] {
			if strings.HasPrefix(r, "[") {
				continue // a slot being imported or migrated
			}
			from, to, _ := strings.Cut(r, "-")
			lo, err := strconv.Atoi(from)
			hi, err2 := strconv.Atoi(cmp.Or(to, from))
			if err != nil || err2 != nil {
				c.t.Fatalf("CLUSTER NODES lists slots %q", r)
			}
			n := &nodes[len(nodes)-1]
			n.slots = append(n.slots, [2]int{lo, hi})
		}
	}
	return nodes
}

// masters returns the addresses of the live masters that serve slots, with the
// address of each one's replica ("" for none), as a running server sees them.
func (c *testCluster) masters() (replicaOf map[string]string) {
	c.t.Helper()
	return c.mastersSeenBy(c.running())
}

func (c *testCluster) mastersSeenBy(addr string) (replicaOf map[string]string) {
	c.t.Helper()
	nodes := c.nodes(addr)
	replicaOf = map[string]string{}
	for _, m := range nodes {
		if !m.master || m.failed || len(m.slots) == 0 {
			continue
		}
		replicaOf[m.addr] = ""
		for _, r := range nodes {
			if r.masterID == m.id && !r.failed {
				replicaOf[m.addr] = r.addr
			}
		}
	}
	return replicaOf
}

// masterOf returns the address of the master that serves key.
func (c *testCluster) masterOf(key string) string {
	c.t.Helper()
	addr := c.running()
	slot, err := c.do(addr, "CLUSTER", "KEYSLOT", key).AsInt64()
	if err != nil {
		c.t.Fatal(err)
	}
	for _, n := range c.nodes(addr) {
		for _, r := range n.slots {
			if n.master && !n.failed && int(slot) >= r[0] && int(slot) <= r[1] {
				return n.addr
			}
		}
	}
	c.t.Fatalf("no master serves slot %d of %q", slot, key)
	return ""
}

// keyOf returns a key under prefix that the master at addr serves.
func (c *testCluster) keyOf(master, prefix string) string {
	c.t.Helper()
	for i := 0; ; i++ {
		if key := prefix + strconv.Itoa(i); c.masterOf(key) == master {
			return key
		}
	}
}

// waitTakeover waits until replica has taken over its dead master: it is a master,
// and every running node sees the Cluster whole again.
func (c *testCluster) waitTakeover(replica string) {
	c.t.Helper()
	c.waitFor(15*time.Second, replica+" to take over", func() bool {
		if c.role(replica) != "master" {
			return false
		}
		for addr, s := range c.servers {
			select {
			case <-s.exited:
				continue
			default:
			}
			if !strings.Contains(c.info(addr, "", "CLUSTER INFO"), "cluster_state:ok") {
				return false
			}
		}
		return true
	})
}

// waitFor polls done until it reports true, failing the test after timeout. It is
// for waiting on the servers, processes outside the test's control.
func (c *testCluster) waitFor(timeout time.Duration, what string, done func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for !done() {
		if time.Now().After(deadline) {
			c.t.Fatalf("waited %v for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// keysOn returns the keys under prefix that the master at addr holds.
func (c *testCluster) keysOn(addr, prefix string) []string {
	c.t.Helper()
	var keys []string
	cursor := "0"
	for {
		reply, err := c.do(addr, "SCAN", cursor, "MATCH", prefix+"*", "COUNT", "1000").ToArray()
		if err != nil || len(reply) != 2 {
			c.t.Fatalf("SCAN on %s: %v", addr, err)
		}
		page, err := reply[1].AsStrSlice()
		if err != nil {
			c.t.Fatal(err)
		}
		keys = append(keys, page...)
		if cursor, _ = reply[0].ToString(); cursor == "0" {
			return keys
		}
	}
}
