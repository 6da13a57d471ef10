package sim_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/whispernet/whispernet/internal/loopback"
	"github.com/whispernet/whispernet/node"
	"github.com/whispernet/whispernet/peer"
	"github.com/whispernet/whispernet/sim"
	"github.com/whispernet/whispernet/wire"
)

// The scenario both runtimes play: 50 peers and 3 seeds with fast timers;
// origins 0..4 publish a message each, twice; peer 7 crashes; the origins
// publish twice more.
const (
	sameSeed    = 42
	samePeers   = 50
	sameSeeds   = 3
	sameOrigins = 5
	sameVictim  = 7
)

// fastCore is the protocol configuration of both runs (the timers of the
// node package's integration tests).
func fastCore(c *peer.Config) {
	c.GossipCount = 0
	c.GossipInterval = 100 * time.Millisecond
	c.LivenessInterval = 300 * time.Millisecond
	c.LivenessMisses = 3
	c.RefreshInterval = time.Second
	c.FillInterval = 100 * time.Millisecond
	c.RetryMin = 50 * time.Millisecond
	c.RetryMax = 500 * time.Millisecond
	c.HandshakeTimeout = time.Second
	c.Target = 3
	c.MaxPeers = 8
	c.Broadcast = peer.Plumtree // the peers' default, and the simulator's
}

// TestSameCodeSameAnswers runs one scenario over TCP (package node, real
// sockets and time) and in the simulator, with the same protocol
// configuration and the same per-peer RNG seeds (so the same capacities),
// and checks both reach the same outcome: every message delivered exactly
// once to every live peer, and the crashed peer gone from every seed.
func TestSameCodeSameAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("real sockets: skipped in -short mode")
	}
	t.Run("tcp", testSameTCP)
	t.Run("sim", testSameSim)
}

func testSameSim(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Peers, cfg.Seeds, cfg.RandSeed = samePeers, sameSeeds, sameSeed
	cfg.JoinOver = 0
	cfg.Origins, cfg.Crash = 0, 0
	fastCore(&cfg.Peer)
	origins := make([]int, sameOrigins)
	for i := range origins {
		origins[i] = i
	}
	for _, at := range []time.Duration{0, 500 * time.Millisecond, 3 * time.Second, 3500 * time.Millisecond} {
		cfg.Steps = append(cfg.Steps, sim.Step{At: at, Kind: sim.StepPublish, Peers: origins})
	}
	cfg.Steps = append(cfg.Steps, sim.Step{At: 1500 * time.Millisecond, Kind: sim.StepCrash, Peers: []int{sameVictim}})
	r, err := sim.Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sim: %d messages, delivery ratio %v, %d duplicates, crashed %d, stale %d, detection %+v",
		r.Messages, r.DeliveryRatio, r.Duplicates, r.Crashed, r.Registry.Stale, r.DetectionS)
	if r.Messages != 4*sameOrigins || r.Complete != r.Messages || r.DeliveryRatio != 1 || r.Duplicates != 0 {
		t.Errorf("%d messages, %d complete, delivery ratio %v, %d duplicates: want %d, all complete, 1, 0",
			r.Messages, r.Complete, r.DeliveryRatio, r.Duplicates, 4*sameOrigins)
	}
	if r.Crashed != 1 || r.Registry.Stale != 0 || r.Undetected != 0 || r.FalsePositives != 0 {
		t.Errorf("crashed %d, stale %d, undetected %d, false positives %d: want 1, 0, 0, 0",
			r.Crashed, r.Registry.Stale, r.Undetected, r.FalsePositives)
	}
}

func testSameTCP(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seeds, seedAddrs := startSeeds(t, ctx)
	var mu sync.Mutex
	index := map[netip.AddrPort]int{}
	got := map[[3]int]int{} // receiver, origin, seq -> deliveries
	peers := make([]*node.Peer, samePeers)
	peerAddrs := make([]netip.AddrPort, samePeers)
	for i := range peers {
		// A port found free may be taken before it is bound (other tests
		// run too): then try another.
		for try := 0; ; try++ {
			a := loopback.FreePorts(t, 1)[0]
			mu.Lock()
			index[a] = i
			mu.Unlock()
			c := node.DefaultPeerConfig()
			c.Core.Self, c.Core.Seeds = a, seedAddrs
			fastCore(&c.Core)
			c.DialTimeout, c.RequestTimeout = time.Second, time.Second
			c.RandSeed = sim.PeerRandSeed(sameSeed, i) // the capacities of the simulated peers
			c.Hooks.Deliver = func(self, from netip.AddrPort, m wire.Message, at time.Time) {
				if from == self {
					return // the origin's own copy
				}
				mu.Lock()
				got[[3]int{index[self], index[m.Addr], int(m.Seq)}]++
				mu.Unlock()
			}
			p, err := node.NewPeer(c)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Start(ctx); errors.Is(err, node.ErrAddrInUse) && try < 5 {
				continue
			} else if err != nil {
				t.Fatal(err)
			}
			peers[i], peerAddrs[i] = p, a
			defer p.Stop()
			break
		}
	}
	live := func(i int) bool { return peers[i] != nil }
	loopback.CheckFor(t, 15*time.Second, "one connected overlay", func() error { return connected(peers, index) })

	publish := func(round int) {
		for o := range sameOrigins {
			if _, ok := peers[o].Publish(fmt.Sprintf("round %d from %d", round, o)); !ok {
				t.Fatalf("peer %d could not publish", o)
			}
		}
	}
	delivered := func(rounds int) error {
		mu.Lock()
		defer mu.Unlock()
		for r := 0; r < samePeers; r++ {
			if !live(r) {
				continue
			}
			for o := range sameOrigins {
				for seq := 1; seq <= rounds; seq++ {
					if n := got[[3]int{r, o, seq}]; o != r && n != 1 {
						return fmt.Errorf("peer %d delivered message %d of peer %d %d times", r, seq, o, n)
					}
				}
			}
		}
		return nil
	}
	publish(1)
	time.Sleep(100 * time.Millisecond)
	publish(2)
	loopback.CheckFor(t, 10*time.Second, "rounds 1 and 2 delivered once to every peer", func() error { return delivered(2) })

	victim := peers[sameVictim]
	peers[sameVictim] = nil
	victim.Stop() // a crash: its sockets close
	loopback.CheckFor(t, 10*time.Second, "the crashed peer gone from every seed", func() error {
		for _, s := range seeds {
			if s.Has(peerAddrs[sameVictim]) {
				return fmt.Errorf("seed %s still lists %s", s.Addr(), peerAddrs[sameVictim])
			}
		}
		return connected(peers, index)
	})
	publish(3)
	time.Sleep(100 * time.Millisecond)
	publish(4)
	loopback.CheckFor(t, 10*time.Second, "rounds 3 and 4 delivered once to every live peer", func() error { return delivered(4) })
	time.Sleep(300 * time.Millisecond) // late duplicates would show now
	if err := delivered(4); err != nil {
		t.Fatal(err)
	}
}

// startSeeds starts the seeds on free loopback ports, trying others when
// one is taken before it is bound.
func startSeeds(t *testing.T, ctx context.Context) ([]*node.Seed, []netip.AddrPort) {
	for try := 0; ; try++ {
		addrs := loopback.FreePorts(t, sameSeeds)
		var seeds []*node.Seed
		var err error
		for _, a := range addrs {
			c := node.DefaultSeedConfig()
			c.Core.Self, c.Core.Seeds = a, addrs
			s, nerr := node.NewSeed(c)
			if nerr != nil {
				t.Fatal(nerr)
			}
			if err = s.Start(ctx); err != nil {
				break
			}
			seeds = append(seeds, s)
		}
		if err == nil {
			t.Cleanup(func() {
				for _, s := range seeds {
					s.Stop()
				}
			})
			return seeds, addrs
		}
		for _, s := range seeds {
			s.Stop()
		}
		if !errors.Is(err, node.ErrAddrInUse) || try == 5 {
			t.Fatal(err)
		}
	}
}

// connected reports an error unless the live peers form one component.
func connected(peers []*node.Peer, index map[netip.AddrPort]int) error {
	parent := make([]int, len(peers))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(x int) int {
		for parent[x] != x {
			x = parent[x]
		}
		return x
	}
	for i, p := range peers {
		if p == nil {
			continue
		}
		var nb []peer.Neighbour
		p.Inspect(func(c *peer.Peer) { nb = c.Neighbours() })
		if len(nb) == 0 {
			return fmt.Errorf("peer %d has no neighbour", i)
		}
		for _, n := range nb {
			if j, ok := index[n.Addr]; ok && peers[j] != nil {
				parent[find(i)] = find(j)
			}
		}
	}
	root := -1
	for i, p := range peers {
		if p == nil {
			continue
		}
		if root < 0 {
			root = find(i)
		} else if find(i) != root {
			return fmt.Errorf("peers %d and %d are in different components", root, i)
		}
	}
	return nil
}
