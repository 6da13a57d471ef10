// Package memnet is an in-memory network with the semantics of TCP on
// loopback: listeners bound to an address and port, dials that are refused
// when nobody listens, and connections whose two directions are bounded
// buffers, so that a writer blocks once the reader stops reading, as a TCP
// sender does once the receiver's window and its own send buffer are full.
//
// It is the runtime's in-memory twin of TCP (the shape of tailscale's
// net/memnet and memberlist's MockTransport): tests of package node run
// whole seeds and peers on a Network with no ports to find, no sockets
// and, under testing/synctest, no real time.
//
// The zero value of Network is a valid, empty network.
package memnet

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
)

// DefaultBufSize is each direction's buffer when Network.BufSize is zero.
// A loopback TCP connection holds more before its writer blocks (send
// buffer plus receive window, a few hundred KiB on Linux); a smaller
// figure makes backpressure show sooner, which is what tests look for.
const DefaultBufSize = 64 << 10

// Backlog bounds the connections dialled to a listener and not yet
// accepted; a further Dial waits, as a SYN does once the accept queue is
// full.
const Backlog = 128

// ephemeralLow and ephemeralHigh are the ports handed out for port 0 and
// for the local end of a dial: Linux's default ephemeral range.
const (
	ephemeralLow  = 32768
	ephemeralHigh = 60999
)

// Network is a set of listeners and the connections between them.
type Network struct {
	// BufSize bounds each direction of each connection, in bytes
	// (0: DefaultBufSize). Set it before first use.
	BufSize int

	mu        sync.Mutex
	listeners map[netip.AddrPort]*Listener
	used      map[netip.AddrPort]int // ports taken by listeners and by dialled local ends
	next      uint16                 // next ephemeral port to try
}

// Addr is a memnet address: an IP and port.
type Addr netip.AddrPort

// Network returns "memnet".
func (Addr) Network() string { return "memnet" }

// String returns the address as ip:port.
func (a Addr) String() string { return netip.AddrPort(a).String() }

// AddrPort returns the address as a netip.AddrPort.
func (a Addr) AddrPort() netip.AddrPort { return netip.AddrPort(a) }

// Listen binds addr. Port 0 picks a free port, reported by the listener's
// Addr. An address in use fails with an error that wraps
// syscall.EADDRINUSE, as TCP's does. An unspecified IP (0.0.0.0 or ::)
// accepts dials to any IP at that port.
func (n *Network) Listen(addr netip.AddrPort) (net.Listener, error) {
	if !addr.Addr().IsValid() {
		return nil, fmt.Errorf("memnet: listen %v: invalid address", addr)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.init()
	if addr.Port() == 0 {
		p, err := n.freePortLocked(addr.Addr())
		if err != nil {
			return nil, fmt.Errorf("memnet: listen %v: %w", addr, err)
		}
		addr = netip.AddrPortFrom(addr.Addr(), p)
	}
	if _, ok := n.listeners[addr]; ok || n.used[addr] > 0 {
		return nil, fmt.Errorf("memnet: listen %v: %w", addr, syscall.EADDRINUSE)
	}
	l := &Listener{net: n, addr: addr, backlog: make(chan *Conn, Backlog), closed: make(chan struct{})}
	n.listeners[addr] = l
	n.used[addr]++
	return l, nil
}

// Dial connects from the IP local (an ephemeral port is picked; an invalid
// or unspecified IP dials from remote's IP, as loopback does) to remote.
// With no listener there, it fails with an error that wraps
// syscall.ECONNREFUSED. It waits while the listener's backlog is full,
// until ctx ends.
func (n *Network) Dial(ctx context.Context, local netip.Addr, remote netip.AddrPort) (net.Conn, error) {
	if !local.IsValid() || local.IsUnspecified() {
		local = remote.Addr()
	}
	n.mu.Lock()
	n.init()
	l := n.listeners[remote]
	if l == nil {
		unspec := netip.IPv4Unspecified()
		if remote.Addr().Is6() && !remote.Addr().Is4In6() {
			unspec = netip.IPv6Unspecified()
		}
		l = n.listeners[netip.AddrPortFrom(unspec, remote.Port())]
	}
	if l == nil {
		n.mu.Unlock()
		return nil, &net.OpError{Op: "dial", Net: "memnet", Addr: Addr(remote), Err: syscall.ECONNREFUSED}
	}
	port, err := n.freePortLocked(local)
	if err != nil {
		n.mu.Unlock()
		return nil, &net.OpError{Op: "dial", Net: "memnet", Addr: Addr(remote), Err: err}
	}
	laddr := netip.AddrPortFrom(local, port)
	n.used[laddr]++
	n.mu.Unlock()

	size := n.BufSize
	if size <= 0 {
		size = DefaultBufSize
	}
	release := func() { n.release(laddr) }
	client, server := newPair(laddr, remote, size, release)
	select {
	case l.backlog <- server:
		// Close may have drained the backlog before the send: then
		// nobody will accept server.
		select {
		case <-l.closed:
		default:
			return client, nil
		}
	case <-l.closed:
	case <-ctx.Done():
		client.Close()
		server.Close()
		return nil, &net.OpError{Op: "dial", Net: "memnet", Addr: Addr(remote), Err: ctx.Err()}
	}
	client.Close()
	server.Close()
	return nil, &net.OpError{Op: "dial", Net: "memnet", Addr: Addr(remote), Err: syscall.ECONNREFUSED}
}

func (n *Network) init() {
	if n.listeners == nil {
		n.listeners = make(map[netip.AddrPort]*Listener)
		n.used = make(map[netip.AddrPort]int)
		n.next = ephemeralLow
	}
}

// freePortLocked returns a port not in use on ip; n.mu is held.
func (n *Network) freePortLocked(ip netip.Addr) (uint16, error) {
	for range ephemeralHigh - ephemeralLow + 1 {
		p := n.next
		if n.next++; n.next > ephemeralHigh {
			n.next = ephemeralLow
		}
		if n.used[netip.AddrPortFrom(ip, p)] == 0 {
			return p, nil
		}
	}
	return 0, syscall.EADDRNOTAVAIL
}

func (n *Network) release(a netip.AddrPort) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.used[a]--; n.used[a] <= 0 {
		delete(n.used, a)
	}
}

// Listener is a bound memnet address; it implements net.Listener.
type Listener struct {
	net     *Network
	addr    netip.AddrPort
	backlog chan *Conn
	closed  chan struct{}
	once    sync.Once
}

// Accept waits for the next dialled connection. After Close it fails with
// an error that wraps net.ErrClosed.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.backlog:
		return c, nil
	case <-l.closed:
		return nil, &net.OpError{Op: "accept", Net: "memnet", Addr: Addr(l.addr), Err: net.ErrClosed}
	}
}

// Close unbinds the address; connections dialled and not yet accepted are
// reset.
func (l *Listener) Close() error {
	l.once.Do(func() {
		l.net.mu.Lock()
		if l.net.listeners[l.addr] == l {
			delete(l.net.listeners, l.addr)
		}
		l.net.mu.Unlock()
		l.net.release(l.addr)
		close(l.closed)
		for {
			select {
			case c := <-l.backlog:
				c.Close()
			default:
				return
			}
		}
	})
	return nil
}

// Addr returns the bound address (a memnet.Addr).
func (l *Listener) Addr() net.Addr { return Addr(l.addr) }
