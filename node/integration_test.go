package node

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/whispernet/whispernet/internal/loopback"
	"github.com/whispernet/whispernet/peer"
)

func TestGossipReachesEveryPeerOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 3)
		c.addPeers(8, nil)
		const msgs = 3
		defer func() {
			if !t.Failed() {
				return
			}
			for _, p := range c.peers {
				p.Inspect(func(core *peer.Peer) {
					t.Logf("%s target %d stats %+v", p.Addr(), core.Target(), core.Stats())
					for _, n := range core.Neighbours() {
						t.Logf("    %s eager %v parent %v child %v", n.Addr, n.Eager, n.Parent, n.Child)
					}
				})
			}
		}()
		loopback.CheckFor(t, 15*time.Second, "all messages delivered", func() error {
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, p := range c.peers {
				got := c.delivered[p.Addr()]
				for _, o := range c.peers {
					for s := 1; s <= msgs; s++ {
						k := fmt.Sprintf("%s/%d", o.Addr(), s)
						if got[k] != 1 {
							return fmt.Errorf("%s has %s %d times", p.Addr(), k, got[k])
						}
					}
				}
			}
			return nil
		})
		for _, p := range c.peers {
			var deg int
			p.Inspect(func(core *peer.Peer) { deg = core.Degree() })
			t.Logf("%s degree %d", p.Addr(), deg)
		}
	})
}

// neighbours returns p's neighbour addresses.
func neighbours(p *Peer) map[netip.AddrPort]bool {
	out := map[netip.AddrPort]bool{}
	p.Inspect(func(core *peer.Peer) {
		for _, n := range core.Neighbours() {
			out[n.Addr] = true
		}
	})
	return out
}

// waitStable waits until every peer has at least one neighbour and all
// gossip is done being generated.
func (c *cluster) waitConnected() {
	loopback.CheckFor(c.t, 10*time.Second, "every peer connected", func() error {
		for _, p := range c.peers {
			if len(neighbours(p)) == 0 {
				return fmt.Errorf("%s has no neighbour", p.Addr())
			}
		}
		return nil
	})
}

// checkGone waits until no seed lists a.
func (c *cluster) checkGone(a netip.AddrPort, within time.Duration) {
	c.t.Helper()
	loopback.CheckFor(c.t, within, fmt.Sprintf("%s removed from every seed", a), func() error {
		for _, s := range c.seeds {
			if s.Has(a) {
				return fmt.Errorf("seed %s still lists %s", s.Addr(), a)
			}
		}
		return nil
	})
}

// checkReplaced checks that every former neighbour of gone declared it dead
// and then refilled: it is back at its target, or no other peer with a
// free slot is left for it to link to.
func (c *cluster) checkReplaced(gone *Peer, former map[netip.AddrPort]bool) {
	c.t.Helper()
	loopback.CheckFor(c.t, 5*time.Second, "former neighbours replaced "+gone.Addr().String(), func() error {
		// c.mu is not held while peers are inspected: their loops take it
		// in the Deliver and Dead hooks.
		c.mu.Lock()
		for f := range former {
			if !slices.Contains(c.dead[f], gone.Addr()) {
				c.mu.Unlock()
				return fmt.Errorf("%s did not declare %s dead", f, gone.Addr())
			}
		}
		c.mu.Unlock()
		free := map[netip.AddrPort]bool{}
		for _, p := range c.peers {
			if p == gone {
				continue
			}
			p.Inspect(func(core *peer.Peer) {
				if core.Degree() < core.Target() {
					free[p.Addr()] = true
				}
			})
		}
		for f := range former {
			if !free[f] {
				continue
			}
			var nb map[netip.AddrPort]bool
			for _, p := range c.peers {
				if p.Addr() == f {
					nb = neighbours(p)
				}
			}
			for o := range free {
				if o != f && !nb[o] {
					return fmt.Errorf("%s is short of its target while %s has a free slot", f, o)
				}
			}
		}
		return nil
	})
}

func TestKilledPeerIsRemovedAndReplaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 3)
		c.addPeers(8, nil)
		c.waitConnected()
		victim := c.peers[2]
		former := neighbours(victim)
		start := time.Now()
		victim.Stop()
		// Budget: misses × interval to notice, plus 2 s to reach the seeds.
		c.checkGone(victim.Addr(), 3*300*time.Millisecond+2*time.Second)
		t.Logf("killed peer gone from every seed after %v", time.Since(start))
		c.checkReplaced(victim, former)
	})
}

func TestFrozenPeerIsRemovedAndReplaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 3)
		c.addPeers(8, nil)
		c.waitConnected()
		victim := c.peers[5]
		former := neighbours(victim)
		start := time.Now()
		victim.Freeze()
		c.checkGone(victim.Addr(), 3*300*time.Millisecond+2*time.Second)
		t.Logf("frozen peer gone from every seed after %v", time.Since(start))
		c.checkReplaced(victim, former)
		victim.Thaw()
	})
}

func TestSeedRestartHealedByReregistration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 3)
		c.addPeers(8, nil)
		c.waitConnected()
		old := c.seeds[0]
		before := old.Peers()
		if len(before) == 0 {
			t.Fatalf("seed %s has no registrations before the restart", old.Addr())
		}
		old.Stop()
		fresh := c.startSeed(old.Addr())
		if n := len(fresh.Peers()); n != 0 {
			t.Fatalf("restarted seed starts with %d peers, want 0", n)
		}
		quorum := len(c.addrs)/2 + 1
		loopback.CheckFor(t, 5*time.Second, "registrations healed", func() error {
			live := c.seeds[1:]
			for _, p := range c.peers {
				n := 0
				for _, s := range live {
					if s.Has(p.Addr()) {
						n++
					}
				}
				var regs []netip.AddrPort
				p.Inspect(func(core *peer.Peer) { regs = core.RegisteredSeeds() })
				if n < quorum {
					return fmt.Errorf("%s is listed by %d seeds, want >= %d", p.Addr(), n, quorum)
				}
				if slices.Contains(regs, fresh.Addr()) && !fresh.Has(p.Addr()) {
					return fmt.Errorf("%s counts on %s, which does not list it", p.Addr(), fresh.Addr())
				}
			}
			if len(fresh.Peers()) == 0 {
				return fmt.Errorf("restarted seed relearned nobody")
			}
			return nil
		})
	})
}
