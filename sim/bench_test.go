package sim

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// benchConfig is the default scenario at n peers with o origins.
func benchConfig(n, o int) Config {
	c := DefaultConfig()
	c.Peers, c.Origins = n, o
	return c
}

// BenchmarkEventLoop runs the default scenario on 2,000 peers (10 messages
// from each of 20 origins, 1% crashing) and reports simulated events per
// second of wall time.
func BenchmarkEventLoop(b *testing.B) {
	cfg := benchConfig(2000, 20)
	var events uint64
	start := time.Now()
	for b.Loop() {
		r, err := Run(context.Background(), cfg, nil)
		if err != nil {
			b.Fatal(err)
		}
		events += r.Events
	}
	b.ReportMetric(float64(events)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkPeerMemory measures the heap a simulated peer holds at the end
// of the default scenario (formed overlay, every peer's message list full
// of the 100 origins' windows), protocol core and driver state together.
func BenchmarkPeerMemory(b *testing.B) {
	const n = 10000
	cfg := benchConfig(n, 100)
	var perPeer float64
	for b.Loop() {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		var at runtime.MemStats
		_, err := Run(context.Background(), cfg, func(p Progress) {
			if p.Phase == "done" {
				runtime.GC() // the world is still alive here
				runtime.ReadMemStats(&at)
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		perPeer = float64(at.HeapAlloc-before.HeapAlloc) / n
	}
	b.ReportMetric(perPeer, "bytes/peer")
}
