package node

import (
	"net"
	"net/netip"
	"time"
)

// newDialer returns a dialer whose connections come from ip, so that the
// remote end sees the address the node announces. On Linux the source port
// is left to connect(): binding a port first (bind-before-connect) makes the
// kernel search the ephemeral range under a lock on every dial, which
// starves a process that dials thousands of times.
func newDialer(ip netip.Addr, timeout time.Duration) *net.Dialer {
	return &net.Dialer{
		Timeout:   timeout,
		LocalAddr: &net.TCPAddr{IP: ip.AsSlice()},
		Control:   bindAddressNoPort,
	}
}
