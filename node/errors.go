package node

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// ErrAddrInUse is returned by Start when the node's port is taken.
var ErrAddrInUse = errors.New("address already in use")

// listenError turns a listen failure into one line a person can act on.
func listenError(role string, a netip.AddrPort, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%s %s: %w (is another seed or peer running there? pick another port)", role, a, ErrAddrInUse)
	}
	if errors.Is(err, syscall.EADDRNOTAVAIL) {
		return fmt.Errorf("%s %s: this machine has no address %s", role, a, a.Addr())
	}
	return fmt.Errorf("%s %s: %w", role, a, err)
}

// ErrStopped is returned by calls on a peer that has stopped.
var ErrStopped = errors.New("stopped")

// Listen binds addr on tr (nil: TCP) and words a failure as the runtime
// does (role is "peer" or "seed"), for a caller that binds the socket
// before it builds the runtime, to learn the port that port 0 picked.
func Listen(tr Transport, role string, addr netip.AddrPort) (net.Listener, error) {
	if tr == nil {
		tr = TCP{}
	}
	ln, err := tr.Listen(addr)
	if err != nil {
		return nil, listenError(role, addr, err)
	}
	return ln, nil
}
