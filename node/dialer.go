package node

import (
	"context"
	"net"
	"net/netip"
	"time"
)

// dialer dials from one local IP through a Transport, each attempt bounded
// by timeout. On Linux, TCP leaves the source port to connect(): binding a
// port first (bind-before-connect) makes the kernel search the ephemeral
// range under a lock on every dial, which starves a process that dials
// thousands of times (see bindAddressNoPort).
type dialer struct {
	tr      Transport
	local   netip.Addr
	timeout time.Duration
}

func newDialer(tr Transport, local netip.Addr, timeout time.Duration) *dialer {
	if tr == nil {
		tr = TCP{}
	}
	return &dialer{tr: tr, local: local, timeout: timeout}
}

// dial connects to remote within the timeout plus extra.
func (d *dialer) dial(ctx context.Context, remote netip.AddrPort, extra time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout+extra)
	defer cancel()
	return d.tr.Dial(ctx, d.local, remote)
}

// sourceIP is the address a node's outgoing connections come from. A node
// that listens on one address dials from it. One that listens on every
// address (0.0.0.0, [::]) dials from the address it advertises when that
// address is this machine's, so that the IP checks of its neighbours and
// seeds see what it claims; otherwise (behind NAT, where the advertised
// address belongs to the router) the kernel picks, and the NAT rewrites it.
func sourceIP(listen, advertised netip.Addr) netip.Addr {
	if !listen.IsUnspecified() {
		return listen
	}
	if isLocal(advertised) {
		return advertised
	}
	return netip.Addr{}
}

// isLocal reports whether ip is assigned to one of this machine's
// interfaces.
func isLocal(ip netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if x, ok := netip.AddrFromSlice(n.IP); ok && x.Unmap() == ip.Unmap() {
				return true
			}
		}
	}
	return false
}
