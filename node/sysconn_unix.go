//go:build unix

package node

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// sysConn is a TCP connection read and written through its raw file
// descriptor (syscall.RawConn), so that every system call is counted, the
// reads that find the socket empty (EAGAIN) included: what a delivered
// message costs in system calls is the first thing to know about its CPU
// (docs/load.md). Reads and writes wait in the runtime's poller as those of
// a net.Conn do, deadlines included.
type sysConn struct {
	net.Conn
	rc  syscall.RawConn
	cnt *connCounters

	// The callbacks handed to rc, made once (a closure per call would be
	// allocated per system call), and their arguments and results: Read
	// is called by one goroutine at a time (the reader), Write by one (the
	// writer), as tconn does.
	readFn, writeFn func(fd uintptr) bool
	rb, wb          []byte
	rn, wn          int
	rerr, werr      error
}

// newSysConn wraps c if it has a file descriptor (nil if not).
func newSysConn(c net.Conn, cnt *connCounters) net.Conn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	s := &sysConn{Conn: c, rc: rc, cnt: cnt}
	s.readFn, s.writeFn = s.read, s.write
	return s
}

// read is the read callback: one read system call (again after EINTR);
// false (wait for data) when the socket is empty.
func (c *sysConn) read(fd uintptr) bool {
	for {
		c.rn, c.rerr = syscall.Read(int(fd), c.rb)
		c.cnt.reads.Add(1)
		if !errors.Is(c.rerr, syscall.EINTR) {
			return !errors.Is(c.rerr, syscall.EAGAIN)
		}
	}
}

// Read reads what the socket holds, waiting for data if it holds none.
func (c *sysConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.rb = b
	err := c.rc.Read(c.readFn)
	n, rerr := c.rn, c.rerr
	c.rb, c.rerr = nil, nil
	switch {
	case err != nil:
		return 0, err // closed, or the deadline passed
	case rerr != nil:
		return 0, os.NewSyscallError("read", rerr)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// write is the write callback: write system calls until all of c.wb is
// written or one fails; false (wait) when the socket is full.
func (c *sysConn) write(fd uintptr) bool {
	for c.wn < len(c.wb) {
		m, err := syscall.Write(int(fd), c.wb[c.wn:])
		c.cnt.writes.Add(1)
		switch {
		case errors.Is(err, syscall.EINTR):
		case errors.Is(err, syscall.EAGAIN):
			return false // wait until the socket takes more
		case err != nil:
			c.werr = err
			return true
		default:
			c.wn += m
		}
	}
	return true
}

// Write writes all of b, waiting while the socket's buffer is full; it
// reports how much was written before an error or the deadline.
func (c *sysConn) Write(b []byte) (int, error) {
	c.wb, c.wn, c.werr = b, 0, nil
	err := c.rc.Write(c.writeFn)
	n, werr := c.wn, c.werr
	c.wb, c.werr = nil, nil
	switch {
	case err != nil:
		return n, err
	case werr != nil:
		return n, os.NewSyscallError("write", werr)
	}
	return n, nil
}
