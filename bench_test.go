package whispernet_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/whispernet/whispernet/node/memnet"
)

// BenchmarkPublishReceive is one message from publish to the other node's
// Messages channel, over memnet (no sockets) between two linked nodes: the
// library's whole path, the wire encoding included.
func BenchmarkPublishReceive(b *testing.B) {
	for _, size := range []int{16, 1024, 2048, 3072, 4096, 64 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			net := startNetwork(b, 2, new(memnet.Network), nil)
			ctx := context.Background()
			data := make([]byte, size)
			for i := range data {
				data[i] = byte(i) // binary: travels as gossip64
			}
			from, to := net.nodes[0], net.nodes[1].Messages()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			cpu0 := processCPU()
			for b.Loop() {
				if err := from.Publish(ctx, data); err != nil {
					b.Fatal(err)
				}
				<-to
			}
			// Process CPU per message (both nodes, the seed idle) is
			// robust to a busy machine; ns/op is wall clock.
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// processCPU is the process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
