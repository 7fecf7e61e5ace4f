// Package tcpproxy is a TCP proxy for outage tests: it forwards connections to a
// store's server until the test cuts or stalls them. It is no test file so that the
// tests of every module in this repository (the root's, redisstore's) share it.
package tcpproxy

import (
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy forwards TCP connections to a target. Cut closes every connection and
// refuses new ones; Stall stops forwarding bytes, as a network that drops packets
// would; Restore undoes either.
type Proxy struct {
	ln      net.Listener
	network string
	target  string

	mu     sync.Mutex
	cut    bool
	resume chan struct{} // closed when a stall ends; nil when not stalled
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

// New starts a Proxy on a free port of 127.0.0.1 that forwards to target on network
// ("tcp", or "unix" for a socket path), and stops it when the test ends.
func New(t testing.TB, network, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, network: network, target: target, conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr is the address to dial instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut := p.cut
		p.mu.Unlock()
		if cut {
			client.Close()
			continue
		}
		server, err := net.DialTimeout(p.network, p.target, 5*time.Second)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns[client], p.conns[server] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(server, client)
		go p.pipe(client, server)
	}
}

// pipe copies src to dst, holding each chunk while the proxy is stalled.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.conns, dst)
		delete(p.conns, src)
		p.mu.Unlock()
		dst.Close()
		src.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			resume := p.resume
			p.mu.Unlock()
			if resume != nil {
				<-resume
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Cut closes every forwarded connection and refuses new ones until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
	p.endStall()
}

// Stall stops forwarding bytes on every connection, old and new, until Restore.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resume == nil {
		p.resume = make(chan struct{})
	}
}

// Restore forwards connections again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	p.endStall()
}

func (p *Proxy) endStall() {
	if p.resume != nil {
		close(p.resume)
		p.resume = nil
	}
}

func (p *Proxy) close() {
	p.ln.Close()
	p.Cut()
	p.wg.Wait()
}
