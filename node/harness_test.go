package node

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/whispernet/whispernet/eventlog"
	"github.com/whispernet/whispernet/internal/loopback"
	"github.com/whispernet/whispernet/node/memnet"
	"github.com/whispernet/whispernet/wire"
)

// cluster is a network of seeds and peers on an in-memory network, for
// tests of the runtime. Seeds listen on 127.0.0.1:9001 and up, peers on
// 127.0.0.1:20001 and up: nothing is bound on the host, so no port has to
// be found free. Run it inside synctest.Test and its timers run on the
// bubble's clock.
type cluster struct {
	t     *testing.T
	net   memnet.Network
	ctx   context.Context
	log   *eventlog.Writer
	dir   string
	seeds []*Seed
	addrs []netip.AddrPort // seed addresses
	peers []*Peer

	mu        sync.Mutex
	delivered map[netip.AddrPort]map[string]int // receiver -> "origin/seq" -> count
	dead      map[netip.AddrPort][]netip.AddrPort
}

// fastPeerConfig is a peer with loopback timers that generates three
// messages 100 ms apart, the first 1.5 s after it starts.
func fastPeerConfig(self netip.AddrPort, seeds []netip.AddrPort) PeerConfig {
	cfg := DefaultPeerConfig()
	loopback.FastTimers(&cfg.Core)
	cfg.DialTimeout, cfg.RequestTimeout = loopback.Timeout, loopback.Timeout
	cfg.Core.Self = self
	cfg.Core.Seeds = seeds
	cfg.Core.GossipInterval = 100 * time.Millisecond
	cfg.Core.GossipCount = 3
	cfg.Core.GossipDelay = 1500 * time.Millisecond
	cfg.Core.Target = 3
	cfg.Core.MaxPeers = 8
	return cfg
}

func newCluster(t *testing.T, nSeeds int) *cluster {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	lw, err := eventlog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, ctx: ctx, log: lw, dir: dir, delivered: map[netip.AddrPort]map[string]int{}, dead: map[netip.AddrPort][]netip.AddrPort{}}
	for i := range nSeeds {
		c.addrs = append(c.addrs, netip.AddrPortFrom(localhost, uint16(9001+i)))
	}
	for _, a := range c.addrs {
		c.startSeed(a)
	}
	t.Cleanup(func() {
		cancel()
		for _, p := range c.peers {
			p.Stop()
		}
		for _, s := range c.seeds {
			s.Stop()
		}
		lw.Close()
	})
	return c
}

func (c *cluster) startSeed(a netip.AddrPort) *Seed {
	return c.startSeedWith(a, nil)
}

// startSeedWith starts the seed at a, tweaked by mod (nil: as is).
func (c *cluster) startSeedWith(a netip.AddrPort, mod func(*SeedConfig)) *Seed {
	cfg := DefaultSeedConfig()
	cfg.Core.Self = a
	cfg.Core.Seeds = c.addrs
	cfg.Log = c.log
	cfg.Transport = &c.net
	cfg.RandSeed = uint64(a.Port())
	// A frozen peer holds a probe for the whole timeout: keep it within
	// the tests' removal deadlines, as the peers' fast timers are.
	cfg.Core.ProbeTimeout = 500 * time.Millisecond
	if mod != nil {
		mod(&cfg)
	}
	s, err := NewSeed(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := s.Start(c.ctx); err != nil {
		c.t.Fatal(err)
	}
	c.seeds = append(c.seeds, s)
	return s
}

// addPeers starts n peers with the fast test timers, each with its own
// fixed RNG seed.
//
// Peers start 20 ms apart, as peers join a real network: eight peers of
// target 3 started in the same millisecond can form two full islands of
// four (each a complete graph, nobody with a free slot), which no rule of
// the protocol mends (seen about once in 60 runs).
func (c *cluster) addPeers(n int, tweak func(*PeerConfig)) {
	for i := range n {
		if i > 0 {
			time.Sleep(20 * time.Millisecond)
		}
		a := netip.AddrPortFrom(localhost, uint16(20001+len(c.peers)))
		cfg := fastPeerConfig(a, c.addrs)
		cfg.Log = c.log
		cfg.Transport = &c.net
		cfg.RandSeed = uint64(a.Port())
		cfg.Hooks.Deliver = func(self, from netip.AddrPort, m wire.Message, at time.Time) {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.delivered[self] == nil {
				c.delivered[self] = map[string]int{}
			}
			c.delivered[self][fmt.Sprintf("%s/%d", m.Addr, m.Seq)]++
		}
		cfg.Hooks.Dead = func(self, dead netip.AddrPort, at time.Time) {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.dead[self] = append(c.dead[self], dead)
		}
		if tweak != nil {
			tweak(&cfg)
		}
		p, err := NewPeer(cfg)
		if err != nil {
			c.t.Fatal(err)
		}
		if err := p.Start(c.ctx); err != nil {
			c.t.Fatal(err)
		}
		c.peers = append(c.peers, p)
	}
}

var localhost = netip.MustParseAddr("127.0.0.1")

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
