//go:build unix

package node

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
)

// The loopback system-call floor of this machine, for docs/load.md: what
// one line costs when it travels alone (one write and one read per line)
// against k lines sharing the calls. A line is 300 bytes, about a signed
// gossip line.
//
//	go test -run '^$' -bench Floor -benchtime 2s ./node/
//
// BenchmarkFloorSyscalls calls write and read directly on a connected pair
// of loopback TCP sockets from one goroutine (no poller, no wake-up): the
// kernel's cost alone. BenchmarkFloorHop sends k lines from one goroutine
// to another and back through the Go runtime's poller, as node's writers
// and readers do: each hop is a write, a wake-up of the reading goroutine
// and its reads (the one that returns the lines and the one that finds
// the socket empty); it reports the process CPU (user + system) per hop.

const floorLine = 300

func floorPair(b *testing.B) (w, r *net.TCPConn) {
	b.Helper()
	c, s := tcpPair(b)
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

func floorLines(k int) []byte {
	line := append(bytes.Repeat([]byte("g"), floorLine-1), '\n')
	return bytes.Repeat(line, k)
}

func rawFD(b *testing.B, c *net.TCPConn) int {
	b.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	var fd int
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		b.Fatal(err)
	}
	return fd
}

func BenchmarkFloorSyscalls(b *testing.B) {
	for _, k := range []int{1, 4, 16, 64} {
		b.Run(fmt.Sprintf("lines=%d", k), func(b *testing.B) {
			w, r := floorPair(b)
			wfd, rfd := rawFD(b, w), rawFD(b, r)
			out := floorLines(k)
			in := make([]byte, 64<<10)
			var eagain int
			cpu0 := processCPU()
			b.ResetTimer()
			for range b.N {
				if n, err := syscall.Write(wfd, out); err != nil || n != len(out) {
					b.Fatalf("write: %d, %v", n, err)
				}
				for got := 0; got < len(out); {
					n, err := syscall.Read(rfd, in)
					if errors.Is(err, syscall.EAGAIN) {
						eagain++ // (the data is on its way: loopback delivers it in softirq)
						continue
					}
					if err != nil || n <= 0 {
						b.Fatalf("read: %d, %v", n, err)
					}
					got += n
				}
			}
			b.StopTimer()
			cpu := float64((processCPU() - cpu0).Nanoseconds())
			b.ReportMetric(cpu/float64(b.N), "cpu-ns/op")
			b.ReportMetric(cpu/float64(b.N*k), "cpu-ns/line")
			b.ReportMetric(float64(eagain)/float64(b.N), "eagain/op")
		})
	}
	b.Run("empty-read", func(b *testing.B) {
		_, r := floorPair(b)
		rfd := rawFD(b, r)
		in := make([]byte, 4096)
		cpu0 := processCPU()
		b.ResetTimer()
		for range b.N {
			if _, err := syscall.Read(rfd, in); !errors.Is(err, syscall.EAGAIN) {
				b.Fatalf("read on an empty socket: %v", err)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	})
}

func BenchmarkFloorHop(b *testing.B) {
	for _, k := range []int{1, 4, 16, 64} {
		b.Run(fmt.Sprintf("lines=%d", k), func(b *testing.B) {
			a, c := floorPair(b)
			out := floorLines(k)
			// The echo end reads k lines and writes them back in one
			// write, as a relay forwards what it read.
			go func() {
				buf := make([]byte, len(out))
				for {
					if _, err := io.ReadFull(c, buf); err != nil {
						return
					}
					if _, err := c.Write(buf); err != nil {
						return
					}
				}
			}()
			in := make([]byte, len(out))
			cpu0 := processCPU()
			b.ResetTimer()
			for range b.N {
				if _, err := a.Write(out); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(a, in); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			hops := float64(2 * b.N)
			cpu := float64((processCPU() - cpu0).Nanoseconds())
			b.ReportMetric(cpu/hops, "cpu-ns/hop")
			b.ReportMetric(cpu/(hops*float64(k)), "cpu-ns/line")
		})
	}
}
