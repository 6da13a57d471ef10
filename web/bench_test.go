package web

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/whispernet/whispernet/localnet"
)

// syntheticNet builds a tracker of peers with preferential-attachment
// links and messages, without sockets: the dashboard only reads the
// tracker, so this measures its own cost.
func syntheticNet(peers, links, messages int) *localnet.Network {
	now := time.Now()
	tr := localnet.NewTracker(now)
	rng := rand.New(rand.NewPCG(1, 2))
	addrs := make([]netip.AddrPort, peers)
	var ends []int // one entry per link end: preferential attachment
	for i := range addrs {
		addrs[i] = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(20000+i))
		tr.Started(addrs[i], 3, now)
		if i > 0 {
			j := rng.IntN(i)
			if len(ends) > 0 && rng.IntN(2) == 0 {
				j = ends[rng.IntN(len(ends))]
			}
			tr.Link(addrs[i], addrs[j], true, now)
			tr.Link(addrs[j], addrs[i], true, now)
			ends = append(ends, i, j)
		}
	}
	for range links - (peers - 1) {
		i, j := ends[rng.IntN(len(ends))], rng.IntN(peers)
		if i != j {
			tr.Link(addrs[i], addrs[j], true, now)
			tr.Link(addrs[j], addrs[i], true, now)
			ends = append(ends, i, j)
		}
	}
	for m := range messages {
		o := addrs[rng.IntN(peers)]
		for k, a := range addrs {
			from := o
			if a == o {
				from = a
			}
			tr.Deliver(a, from, o, uint32(m+1), fmt.Sprintf("message %d", m), now, now.Add(time.Duration(k)*time.Microsecond), 1+k%5)
		}
	}
	return &localnet.Network{Tracker: tr}
}

// BenchmarkTick measures one sample of a 1,000-peer network with 3,000
// links and 100 fully spread messages: what the hub spends per Interval
// while a browser watches, the graph unchanged.
func BenchmarkTick(b *testing.B) {
	s := New(syntheticNet(1000, 3000, 100), Options{})
	s.hub.tick(time.Now())
	for b.Loop() {
		s.hub.tick(time.Now())
	}
	// What a graph change costs on the wire.
	b.ReportMetric(float64(len(s.hub.last.graph)), "graph-bytes")
}

func BenchmarkFit(b *testing.B) {
	n := syntheticNet(1000, 3000, 0)
	degs := n.Tracker.Snapshot(time.Now(), false).Degrees
	for b.Loop() {
		fitOf(degs)
	}
}
