//go:build unix

package web

import (
	"net"
	"syscall"
)

// dialSmallBuffer connects from smallBufferIP with a 4 kB receive buffer.
func dialSmallBuffer(addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: smallBufferIP}, Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		c.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return err
	}}
	return d.Dial("tcp", addr)
}
