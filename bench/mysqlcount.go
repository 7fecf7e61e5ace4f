package bench

import (
	"encoding/binary"
	"net"
	"sync"
)

// mysqlConn is a connection to MySQL or MariaDB that counts in a Counter the
// commands its client sends over it, from the packets written, so that it counts
// whatever the driver sends: a statement prepared, run and closed for one call as
// well as one prepared once.
//
// Every command packet (sequence number 0) is a command; each is a round trip but
// COM_STMT_CLOSE and COM_STMT_SEND_LONG_DATA, which get no reply, and COM_QUIT.
// A query (COM_QUERY) is a read or a write by its first keyword, as on Postgres; a
// prepared statement's execution (COM_STMT_EXECUTE) is a read or a write by the
// statement it runs, which the connection learns from the reply to its prepare
// (COM_STMT_PREPARE), the statement's id; the prepare itself, and any other
// command, is other.
type mysqlConn struct {
	net.Conn
	mu sync.Mutex
	mc mysqlCounter
}

// countMySQL wraps conn so that n counts what is written to it.
func countMySQL(n *Counter, conn net.Conn) net.Conn {
	return &mysqlConn{Conn: conn, mc: mysqlCounter{n: n, stmts: make(map[uint32]opKind)}}
}

// Write counts p before it sends it, as redisConn does.
func (c *mysqlConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.mc.wrote(p)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// Read reads the id of a statement just prepared from the reply.
func (c *mysqlConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.mc.read(p[:n])
	c.mu.Unlock()
	return n, err
}

// Client commands, the first byte of a command packet.
const (
	comQuit         = 0x01
	comQuery        = 0x03
	comStmtPrepare  = 0x16
	comStmtExecute  = 0x17
	comStmtLongData = 0x18
	comStmtClose    = 0x19
)

// mysqlCounter parses the packets that a client writes, however the writes split
// them: a 4-byte header (payload length, little-endian in 3 bytes, and a sequence
// number) and the payload, of which it keeps the start.
type mysqlCounter struct {
	n *Counter

	header  [4]byte
	got     int    // bytes of the header read
	payload int    // bytes of the payload still to read
	head    []byte // the payload's first bytes
	seq     byte

	stmts map[uint32]opKind // the kind of each statement prepared on the connection
	// After a prepare, its reply's first 9 bytes (a header, status 0 and the
	// statement's id) are collected in reply, for the statement of kind preparing.
	// The client reads a reply whole before it sends its next command, so the
	// reply starts with the next byte read.
	preparing opKind
	awaiting  bool
	reply     []byte
}

// headBytes is how much of a payload is kept: the command, a statement's id, and
// enough of a query to find its first keyword after sqlc's "-- name:" line.
const headBytes = 160

func (m *mysqlCounter) wrote(p []byte) {
	for len(p) > 0 {
		if m.got < len(m.header) {
			k := copy(m.header[m.got:], p)
			m.got += k
			p = p[k:]
			if m.got < len(m.header) {
				return
			}
			m.payload = int(m.header[0]) | int(m.header[1])<<8 | int(m.header[2])<<16
			m.seq = m.header[3]
			m.head = m.head[:0]
		}
		k := min(m.payload, len(p))
		if keep := min(k, headBytes-len(m.head)); keep > 0 {
			m.head = append(m.head, p[:keep]...)
		}
		p, m.payload = p[k:], m.payload-k
		if m.payload == 0 {
			m.got = 0
			if m.seq == 0 && len(m.head) > 0 {
				m.command()
			}
		}
	}
}

// command counts the command packet just written.
func (m *mysqlCounter) command() {
	n := m.n
	n.cmds.Add(1)
	kind := opOther
	switch m.head[0] {
	case comQuit, comStmtClose, comStmtLongData: // no reply: no round trip
		if m.head[0] == comStmtClose && len(m.head) >= 5 {
			delete(m.stmts, binary.LittleEndian.Uint32(m.head[1:5]))
		}
		n.other.Add(1)
		return
	case comQuery:
		kind = sqlKind(m.head[1:])
	case comStmtPrepare:
		m.preparing, m.awaiting, m.reply = sqlKind(m.head[1:]), true, m.reply[:0]
	case comStmtExecute:
		if len(m.head) >= 5 {
			kind = max(m.stmts[binary.LittleEndian.Uint32(m.head[1:5])], opOther)
		}
	}
	n.trips.Add(1)
	switch kind {
	case opRead:
		n.reads.Add(1)
	case opWrite:
		n.writes.Add(1)
	default:
		n.other.Add(1)
	}
}

// read takes bytes the client read, for the id of a statement just prepared.
func (m *mysqlCounter) read(p []byte) {
	if !m.awaiting {
		return
	}
	m.reply = append(m.reply, p[:min(len(p), 9-len(m.reply))]...)
	if len(m.reply) < 9 {
		return
	}
	m.awaiting = false
	if m.reply[4] == 0 { // COM_STMT_PREPARE_OK, not an error
		m.stmts[binary.LittleEndian.Uint32(m.reply[5:9])] = m.preparing
	}
}
