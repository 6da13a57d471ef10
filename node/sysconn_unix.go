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
	return &sysConn{Conn: c, rc: rc, cnt: cnt}
}

// Read reads what the socket holds, waiting for data if it holds none.
func (c *sysConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	var n int
	var err error
	if rerr := c.rc.Read(func(fd uintptr) bool {
		for {
			n, err = syscall.Read(int(fd), b)
			c.cnt.reads.Add(1)
			if !errors.Is(err, syscall.EINTR) {
				return !errors.Is(err, syscall.EAGAIN)
			}
		}
	}); rerr != nil {
		return 0, rerr // closed, or the deadline passed
	}
	switch {
	case err != nil:
		return 0, os.NewSyscallError("read", err)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write writes all of b, waiting while the socket's buffer is full; it
// reports how much was written before an error or the deadline.
func (c *sysConn) Write(b []byte) (int, error) {
	var n int
	var err error
	if werr := c.rc.Write(func(fd uintptr) bool {
		for n < len(b) {
			m, e := syscall.Write(int(fd), b[n:])
			c.cnt.writes.Add(1)
			switch {
			case errors.Is(e, syscall.EINTR):
			case errors.Is(e, syscall.EAGAIN):
				return false // wait until the socket takes more
			case e != nil:
				err = e
				return true
			default:
				n += m
			}
		}
		return true
	}); werr != nil {
		return n, werr
	}
	if err != nil {
		return n, os.NewSyscallError("write", err)
	}
	return n, nil
}
