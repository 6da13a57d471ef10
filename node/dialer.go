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

func (d *dialer) dial(ctx context.Context, remote netip.AddrPort) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	return d.tr.Dial(ctx, d.local, remote)
}
