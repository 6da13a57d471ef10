package memnet

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/nettest"
)

var (
	ip1 = netip.MustParseAddr("127.0.0.1")
	ip2 = netip.MustParseAddr("127.0.0.2")
)

// TestConn runs x/net's conformance suite for net.Conn implementations
// (basic I/O, ping-pong, deadlines in the past and future, closing under
// concurrent use) over a memnet connection.
func TestConn(t *testing.T) {
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		var n Network
		ln, err := n.Listen(netip.AddrPortFrom(ip1, 0))
		if err != nil {
			return nil, nil, nil, err
		}
		c1, err = n.Dial(context.Background(), ip2, netip.MustParseAddrPort(ln.Addr().String()))
		if err != nil {
			return nil, nil, nil, err
		}
		c2, err = ln.Accept()
		if err != nil {
			return nil, nil, nil, err
		}
		return c1, c2, func() { c1.Close(); c2.Close(); ln.Close() }, nil
	})
}

func TestListenDialAddresses(t *testing.T) {
	var n Network
	want := netip.AddrPortFrom(ip1, 4000)
	ln, err := n.Listen(want)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Listen(want); !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("second Listen on %v: %v, want EADDRINUSE", want, err)
	}
	c, err := n.Dial(context.Background(), ip2, want)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	local := c.LocalAddr().(Addr).AddrPort()
	if local.Addr() != ip2 || local.Port() < ephemeralLow || local.Port() > ephemeralHigh {
		t.Errorf("dialled from %v, want 127.0.0.2 with an ephemeral port", local)
	}
	if s.RemoteAddr().String() != local.String() || s.LocalAddr().String() != want.String() || c.RemoteAddr().String() != want.String() {
		t.Errorf("server sees %v -> %v, client %v -> %v", s.RemoteAddr(), s.LocalAddr(), c.LocalAddr(), c.RemoteAddr())
	}
	if _, err := n.Dial(context.Background(), ip2, netip.AddrPortFrom(ip1, 4001)); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial with no listener: %v, want ECONNREFUSED", err)
	}
	ln.Close()
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
	if _, err := n.Dial(context.Background(), ip2, want); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial after the listener closed: %v, want ECONNREFUSED", err)
	}
	// The port is free again; open connections keep working.
	ln2, err := n.Listen(want)
	if err != nil {
		t.Fatalf("Listen after Close: %v", err)
	}
	defer ln2.Close()
	go c.Write([]byte("x"))
	buf := make([]byte, 1)
	if _, err := io.ReadFull(s, buf); err != nil || buf[0] != 'x' {
		t.Errorf("read on an accepted conn after its listener closed: %q, %v", buf, err)
	}
}

func TestUnspecifiedListener(t *testing.T) {
	var n Network
	ln, err := n.Listen(netip.MustParseAddrPort("0.0.0.0:7000"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := n.Dial(context.Background(), netip.Addr{}, netip.MustParseAddrPort("127.0.0.9:7000"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.LocalAddr().(Addr).AddrPort().Addr(); got != netip.MustParseAddr("127.0.0.9") {
		t.Errorf("a dial with no local IP comes from %v, want the remote's IP", got)
	}
}

// TestBackpressure: a writer blocks once the reader's buffer is full, and
// a write deadline ends the wait with a timeout and the count written.
func TestBackpressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := Network{BufSize: 1000}
		c, s := pair(t, &n)
		c.SetWriteDeadline(time.Now().Add(time.Second))
		wrote, err := c.Write(make([]byte, 2500))
		if wrote != 1000 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Write into a full buffer: %d, %v; want 1000 and a deadline error", wrote, err)
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("%v is not a net.Error timeout", err)
		}
		// A reader that drains unblocks the writer.
		c.SetWriteDeadline(time.Time{})
		done := make(chan int)
		go func() {
			k, _ := c.Write(make([]byte, 1500))
			done <- k
		}()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("write of 1500 bytes into a full buffer of 1000 did not block")
		default:
		}
		got, err := io.ReadFull(s, make([]byte, 2500))
		if got != 2500 || err != nil {
			t.Fatalf("read %d, %v", got, err)
		}
		if k := <-done; k != 1500 {
			t.Errorf("wrote %d, want 1500", k)
		}
	})
}

func TestCloseSemantics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n Network
		c, s := pair(t, &n)
		if _, err := c.Write([]byte("bye")); err != nil {
			t.Fatal(err)
		}
		c.Close()
		got, err := io.ReadAll(s)
		if string(got) != "bye" || err != nil {
			t.Errorf("after the peer closed: read %q, %v; want the buffered bytes then EOF", got, err)
		}
		if _, err := s.Write([]byte("x")); !errors.Is(err, syscall.EPIPE) {
			t.Errorf("write to a closed peer: %v, want EPIPE", err)
		}
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
			t.Errorf("read on a closed conn: %v, want net.ErrClosed", err)
		}
		// A Read blocked on an idle conn is woken by its own Close.
		c2, s2 := pair(t, &n)
		defer s2.Close()
		errc := make(chan error)
		go func() { _, err := c2.Read(make([]byte, 1)); errc <- err }()
		synctest.Wait()
		c2.Close()
		if err := <-errc; !errors.Is(err, net.ErrClosed) {
			t.Errorf("blocked read after Close: %v, want net.ErrClosed", err)
		}
	})
}

func TestDialWaitsForBacklog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n Network
		ln, err := n.Listen(netip.AddrPortFrom(ip1, 80))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		for range Backlog {
			if _, err := n.Dial(context.Background(), ip2, netip.AddrPortFrom(ip1, 80)); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := n.Dial(ctx, ip2, netip.AddrPortFrom(ip1, 80)); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("dial past a full backlog: %v, want the context's deadline", err)
		}
	})
}

func pair(t *testing.T, n *Network) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := n.Listen(netip.AddrPortFrom(ip1, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := n.Dial(context.Background(), ip2, ln.Addr().(Addr).AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}
