package node

import (
	"context"
	"net"
	"net/netip"
)

// Transport is how seeds and peers reach the network: the two calls the
// runtime makes. TCP is the real one; package node/memnet is an in-memory
// twin with the same semantics (its *memnet.Network satisfies Transport),
// on which the runtime's own tests run with no sockets and, under
// testing/synctest, no real time.
type Transport interface {
	// Listen binds addr (port 0: a free port, reported by the
	// listener's Addr). An address in use fails with an error wrapping
	// syscall.EADDRINUSE.
	Listen(addr netip.AddrPort) (net.Listener, error)
	// Dial connects to remote from the IP local, so that the remote end
	// sees the address the node announces; ctx bounds the attempt.
	Dial(ctx context.Context, local netip.Addr, remote netip.AddrPort) (net.Conn, error)
}

// TCP is the Transport over the host's TCP stack. Its zero value is ready
// to use.
type TCP struct{}

// Listen binds a TCP listener on addr.
func (TCP) Listen(addr netip.AddrPort) (net.Listener, error) {
	return net.Listen("tcp", addr.String())
}

// Dial opens a TCP connection to remote from local (any port).
func (TCP) Dial(ctx context.Context, local netip.Addr, remote netip.AddrPort) (net.Conn, error) {
	d := net.Dialer{Control: bindAddressNoPort}
	if local.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: local.AsSlice()}
	}
	return d.DialContext(ctx, "tcp", remote.String())
}
