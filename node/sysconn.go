package node

import "net"

// countedConn is a connection with no file descriptor (memnet), or one on
// a system without sysConn: its Read and Write calls are counted instead
// of its system calls.
type countedConn struct {
	net.Conn
	cnt *connCounters
}

// wrapConn returns c with its reads and writes counted in cnt: a TCP
// connection's system calls (sysConn), another's Read and Write calls.
func wrapConn(c net.Conn, cnt *connCounters) net.Conn {
	if s := newSysConn(c, cnt); s != nil {
		return s
	}
	return &countedConn{Conn: c, cnt: cnt}
}

func (c *countedConn) Read(b []byte) (int, error) {
	c.cnt.reads.Add(1)
	return c.Conn.Read(b)
}

func (c *countedConn) Write(b []byte) (int, error) {
	c.cnt.writes.Add(1)
	return c.Conn.Write(b)
}
