//go:build linux

package node

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// waitReadable waits until the socket under c holds n bytes (FIONREAD).
func waitReadable(t *testing.T, c net.Conn, n int) {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		var got int
		var ierr error
		if err := rc.Control(func(fd uintptr) {
			got, ierr = unixIoctlInt(int(fd), syscall.TIOCINQ)
		}); err != nil || ierr != nil {
			t.Fatal(err, ierr)
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes readable, want %d", got, n)
		}
		time.Sleep(time.Millisecond) // (polling a precondition, not asserting time)
	}
}

func unixIoctlInt(fd int, req uintptr) (int, error) {
	var v int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(&v))); e != 0 {
		return 0, e
	}
	return int(v), nil
}

func TestSysConnCountsSystemCalls(t *testing.T) {
	c, s := tcpPair(t)
	var wc, rc connCounters
	w, r := wrapConn(c, &wc), wrapConn(s, &rc)
	if _, ok := w.(*sysConn); !ok {
		t.Fatalf("a TCP connection is wrapped as %T, want *sysConn", w)
	}
	lines := []byte("gossip:a\ngossip:b\ngossip:c\n")
	if n, err := w.Write(lines); err != nil || n != len(lines) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if got := wc.writes.Load(); got != 1 {
		t.Errorf("one Write of three lines took %d write calls, want 1", got)
	}
	waitReadable(t, s, len(lines))
	buf := make([]byte, 4096)
	n, err := r.Read(buf)
	if err != nil || !bytes.Equal(buf[:n], lines) {
		t.Fatalf("Read = %q, %v; want %q", buf[:n], err, lines)
	}
	if got := rc.reads.Load(); got != 1 {
		t.Errorf("a Read of what the socket held took %d read calls, want 1", got)
	}
	// Nothing to read: one call finds the socket empty, then the poller
	// waits, until the deadline here.
	r.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := r.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read of an empty socket past its deadline: %v", err)
	}
	if got := rc.reads.Load(); got != 2 {
		t.Errorf("after a Read that found nothing: %d read calls, want 2", got)
	}
	r.SetReadDeadline(time.Time{})
	w.Close()
	if _, err := r.Read(buf); !errors.Is(err, io.EOF) {
		t.Fatalf("Read after the other end closed: %v, want io.EOF", err)
	}
	if _, err := r.Read(buf); !errors.Is(err, io.EOF) {
		t.Fatalf("second Read after the other end closed: %v, want io.EOF", err)
	}
	r.Close()
	if _, err := r.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after Close: %v, want net.ErrClosed", err)
	}
	if _, err := r.Write(lines); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v, want net.ErrClosed", err)
	}
}
