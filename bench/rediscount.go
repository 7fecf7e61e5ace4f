package bench

import (
	"bytes"
	"net"
	"strconv"
	"sync"
)

// redisConn is a connection to Redis that counts in a Counter what its client sends
// over it: every command, the store operations they make up, and the round trips
// that carry them. It reads the commands from the bytes written, so it counts what
// any client sends, whatever it batches, pipelines or sends on its own (a
// rueidis client's cache misses and PINGs, a redigo pool's transactions).
type redisConn struct {
	net.Conn
	mu sync.Mutex
	rc redisCounter
}

// countRedis wraps conn so that n counts what is written to it.
func countRedis(n *Counter, conn net.Conn) net.Conn {
	return &redisConn{Conn: conn, rc: redisCounter{n: n}}
}

// Write counts p before it sends it: once sent, the reply may complete the
// request before a count made afterwards, and a snapshot taken then would miss it.
func (c *redisConn) Write(p []byte) (int, error) {
	if len(p) > 0 {
		c.mu.Lock()
		c.rc.wrote(p)
		c.mu.Unlock()
	}
	return c.Conn.Write(p)
}

// redisCounter parses the commands a client writes to Redis, RESP arrays of bulk
// strings, from its stream of writes however they split it, and counts:
//
//   - every command, in Counter.Cmds;
//   - every write to the connection as a round trip: both clients buffer the
//     commands of a request (a transaction, a cache miss's MULTI…EXEC) and write
//     them at once, then wait for the replies. A batch larger than the client's
//     buffer (4 KiB for redigo) would take several writes; the sessions here are
//     far smaller;
//   - store operations: a command, or a whole MULTI…EXEC transaction, is a write if
//     it writes a key, a read if it reads one, and other otherwise (PING, HELLO,
//     CLIENT TRACKING). CLIENT CACHING YES, which rueidis sends before a cached
//     read, belongs to that read and is no operation of its own; so is the PTTL in
//     the read's transaction, which tells rueidis how long it may cache the reply.
type redisCounter struct {
	n *Counter

	line    []byte // the header line being read: "*<args>" or "$<length>"
	args    int    // arguments of the current command not yet read
	arg     int    // index of the argument being read
	payload int    // bytes of the current argument still to read, its CRLF included
	name    []byte // the command's name, upper-cased, and its first argument
	sub     []byte

	inMulti bool
	block   opKind // the strongest kind in the current transaction
}

// opKind is the kind of a store operation; a stronger kind wins in a transaction.
type opKind int

const (
	opNone opKind = iota
	opOther
	opRead
	opWrite
)

// Commands by what they do to keys; the rest are other.
var (
	redisReads = map[string]bool{"GET": true, "MGET": true, "HGET": true, "HGETALL": true, "HMGET": true,
		"ZRANGE": true, "EXISTS": true, "TYPE": true}
	redisWrites = map[string]bool{"SET": true, "SETEX": true, "PSETEX": true, "DEL": true, "UNLINK": true,
		"EXPIRE": true, "PEXPIRE": true, "EXPIREAT": true, "PEXPIREAT": true, "HSET": true, "ZADD": true,
		"ZREM": true, "EVAL": true, "EVALSHA": true}
)

func (r *redisCounter) wrote(p []byte) {
	r.n.trips.Add(1)
	for len(p) > 0 {
		if r.payload > 0 {
			k := min(r.payload, len(p))
			r.keep(p[:k])
			p, r.payload = p[k:], r.payload-k
			if r.payload == 0 {
				r.arg++
				r.args--
				if r.args == 0 {
					r.command()
				}
			}
			continue
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			r.line = append(r.line, p...)
			return
		}
		r.line = append(r.line, p[:i]...)
		p = p[i+1:]
		r.header(bytes.TrimSuffix(r.line, []byte("\r")))
		r.line = r.line[:0]
	}
}

// header takes a header line: an array's length starts a command, a bulk string's
// length starts an argument.
func (r *redisCounter) header(h []byte) {
	if len(h) == 0 {
		return
	}
	n, err := strconv.Atoi(string(h[1:]))
	switch {
	case h[0] == '*' && err == nil && r.args == 0:
		r.args, r.arg = n, 0
		r.name, r.sub = r.name[:0], r.sub[:0]
		if n == 0 {
			r.command()
		}
	case h[0] == '$' && err == nil && r.args > 0:
		r.payload = n + 2
	default: // an inline command, which neither client sends: counted as other
		r.name, r.sub = r.name[:0], r.sub[:0]
		r.command()
	}
}

// keep keeps the command's name and first argument, of the bytes of the argument
// being read (its CRLF included), upper-cased.
func (r *redisCounter) keep(b []byte) {
	const most = 16 // longer names and arguments are kept in part: none matters here
	var to *[]byte
	switch r.arg {
	case 0:
		to = &r.name
	case 1:
		to = &r.sub
	default:
		return
	}
	for _, c := range b {
		if len(*to) >= most || c == '\r' || c == '\n' {
			return
		}
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		*to = append(*to, c)
	}
}

// command counts the command just read, and the operation it ends, if any.
func (r *redisCounter) command() {
	r.n.cmds.Add(1)
	name := string(r.name) // short and not escaping: the conversion allocates nothing
	var kind opKind
	switch {
	case name == "MULTI":
		r.inMulti, r.block = true, opNone
		return
	case name == "EXEC" || name == "DISCARD":
		kind, r.inMulti = max(r.block, opOther), false
	case name == "CLIENT" && string(r.sub) == "CACHING", name == "PTTL" && r.inMulti:
		return
	case redisWrites[name]:
		kind = opWrite
	case redisReads[name]:
		kind = opRead
	default:
		kind = opOther
	}
	if r.inMulti {
		r.block = max(r.block, kind)
		return
	}
	switch kind {
	case opRead:
		r.n.reads.Add(1)
	case opWrite:
		r.n.writes.Add(1)
	default:
		r.n.other.Add(1)
	}
}
