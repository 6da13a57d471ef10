package node

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/whispernet/whispernet/identity"
	"github.com/whispernet/whispernet/internal/loopback"
	"github.com/whispernet/whispernet/wire"
)

// TestForgedDeadReportsOverTheWire: against running seeds and peers, a
// process on the peers' IP sends every seed a forged dead report about a
// live peer, direct and "relayed". Each seed answers "checking", probes
// the peer, finds it alive, and keeps it listed; no peer is removed, and
// the overlay keeps every link.
func TestForgedDeadReportsOverTheWire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 3)
		c.addPeers(6, nil)
		c.waitConnected()
		victim, reporter := c.peers[1], c.peers[4]
		// The victim registers with a majority of the seeds (2 of 3):
		// those are the seeds a forged report could take it off.
		var seeds []*Seed
		loopback.CheckFor(t, 30*time.Second, "a majority of seeds list the victim", func() error {
			seeds = seeds[:0]
			for _, s := range c.seeds {
				if s.Has(victim.Addr()) {
					seeds = append(seeds, s)
				}
			}
			if len(seeds) < 2 {
				return fmt.Errorf("%d seeds list it", len(seeds))
			}
			return nil
		})
		for _, s := range seeds {
			cl := dialSeed(t, s)
			for _, line := range []string{
				fmt.Sprintf("Dead Node:%s:%s:%s", wire.FormatAddr(victim.Addr()), wire.TimestampOf(time.Now()), wire.FormatAddr(reporter.Addr())),
				fmt.Sprintf("Dead Node:%s:%s:%s:relayed", wire.FormatAddr(victim.Addr()), wire.TimestampOf(time.Now()), wire.FormatAddr(reporter.Addr())),
			} {
				if got, want := cl.ask(line), "ok:checking "+victim.Addr().String(); got != want {
					t.Fatalf("%s: %q -> %q, want %q", s.Addr(), line, got, want)
				}
			}
		}
		// Long enough for every probe to finish or time out.
		time.Sleep(2 * c.seeds[0].cfg.Core.ProbeTimeout)
		synctest.Wait()
		for _, s := range seeds {
			st := s.Stats()
			if !s.Has(victim.Addr()) || st.Refuted < 1 || st.DeadAccepted != 0 {
				t.Errorf("seed %s: lists victim %v, refuted %d, removals %d", s.Addr(), s.Has(victim.Addr()), st.Refuted, st.DeadAccepted)
			}
		}
		if st := victim.Stats(); st.Challenges < uint64(len(seeds)) {
			t.Errorf("victim answered %d challenges, want one per seed that lists it at least", st.Challenges)
		}
	})
}

// TestUnsignedGossipByHand: a person linking with nc and typing classic
// gossip gets one error line saying the network signs, and nothing is
// delivered anywhere.
func TestUnsignedGossipByHand(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 1)
		c.addPeers(2, nil)
		c.waitConnected()
		target := c.peers[0]
		conn, err := c.net.Dial(context.Background(), localhost, target.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		br := bufio.NewReader(conn)
		self := "127.0.0.1:6000"
		ts := wire.TimestampOf(time.Now()).String()
		fmt.Fprintf(conn, "Connection with Peer:%s:4:1\n", self)
		if l, _ := br.ReadString('\n'); !strings.HasPrefix(l, "Connection accepted:") {
			t.Fatalf("handshake answered %q", l)
		}
		fmt.Fprintf(conn, "gossip:%s:1:0:%s:forged by hand\n", self, ts)
		fmt.Fprintf(conn, "gossip:%s:1:0:%s:%s\n", wire.FormatAddr(c.peers[1].Addr()), ts, "forged in another's name")
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("no error line: %v", err)
			}
			if strings.HasPrefix(l, "error:") {
				if !strings.Contains(l, "unsigned gossip refused") {
					t.Fatalf("error line %q", l)
				}
				break
			}
		}
		synctest.Wait()
		c.mu.Lock()
		defer c.mu.Unlock()
		for p, got := range c.delivered {
			for id, n := range got {
				// Nothing from the typed origin; each real message once
				// (the forgery in a peer's name was not a second copy).
				if strings.HasPrefix(id, self) || n != 1 {
					t.Fatalf("%s delivered %s %d times", p, id, n)
				}
			}
		}
		if st := target.Stats(); st.Unsigned != 2 {
			t.Fatalf("unsigned %d, want 2", st.Unsigned)
		}
	})
}

// TestForgedLeaveOverTheWire: a process on a peer's IP types Leaving in
// its name, direct and "relayed", to every seed that verified the peer's
// key: each refuses it and keeps the peer listed. The peer's own (signed)
// leave then removes it from every seed.
func TestForgedLeaveOverTheWire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 3)
		c.addPeers(4, nil)
		c.waitConnected()
		victim := c.peers[1]
		// The victim registers with a majority of the seeds (2 of 3).
		var seeds []*Seed
		loopback.CheckFor(t, 30*time.Second, "a majority of seeds verified the victim", func() error {
			seeds = seeds[:0]
			for _, s := range c.seeds {
				if k, ok := s.Verified(victim.Addr()); ok && k == victim.Key().Public() {
					seeds = append(seeds, s)
				}
			}
			if len(seeds) < 2 {
				return fmt.Errorf("%d seeds verified it", len(seeds))
			}
			return nil
		})
		want := "error:Leaving: " + victim.Addr().String() + " is registered with a key: only a leave signed by it removes it"
		for _, s := range seeds {
			cl := dialSeed(t, s)
			for _, line := range []string{"Leaving:" + wire.FormatAddr(victim.Addr()), "Leaving:" + wire.FormatAddr(victim.Addr()) + ":relayed"} {
				if got := cl.ask(line); got != want {
					t.Fatalf("%s: %q -> %q, want %q", s.Addr(), line, got, want)
				}
			}
		}
		for _, s := range seeds {
			if st := s.Stats(); !s.Has(victim.Addr()) || st.LeaveRefused != 2 || st.Left != 0 {
				t.Fatalf("seed %s after forged leaves: lists victim %v, leave_refused %d, left %d", s.Addr(), s.Has(victim.Addr()), st.LeaveRefused, st.Left)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := victim.Leave(ctx); err != nil {
			t.Fatalf("Leave: %v", err)
		}
		loopback.CheckFor(t, 30*time.Second, "the real leave reached every seed", func() error {
			for _, s := range c.seeds {
				if s.Has(victim.Addr()) {
					return fmt.Errorf("seed %s still lists %s", s.Addr(), victim.Addr())
				}
			}
			return nil
		})
	})
}

// TestSignedRelaysOverTheWire: seeds whose config lists every seed's key.
// A process on the seeds' IP sends each a "relayed" dead report about a
// live peer, unsigned and signed by a key of its own: every seed refuses
// both, probes nothing and keeps the peer. A peer that really crashes is
// removed from every seed: the seeds that probe it relay signed reports,
// which the others believe.
func TestSignedRelaysOverTheWire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 0)
		keys := map[netip.AddrPort]*identity.Key{}
		listed := map[netip.AddrPort]identity.PublicKey{}
		for i := range 3 {
			a := netip.AddrPortFrom(localhost, uint16(9001+i))
			c.addrs = append(c.addrs, a)
			keys[a] = identity.FromSeed([]byte("relay test seed " + a.String()))
			listed[a] = keys[a].Public()
		}
		for _, a := range c.addrs {
			c.startSeedWith(a, func(cfg *SeedConfig) { cfg.Core.Key, cfg.Core.SeedKeys = keys[a], listed })
		}
		c.addPeers(5, nil)
		c.waitConnected()
		victim, reporter := c.peers[1], c.peers[3]
		forger := identity.FromSeed([]byte("forger"))
		for _, s := range c.seeds {
			listed := s.Has(victim.Addr()) // a majority lists it (2 of 3)
			cl := dialSeed(t, s)
			report := wire.Message{Kind: wire.KindDeadNode, Addr: victim.Addr(), Time: wire.TimestampOf(time.Now()), From: reporter.Addr(), Relayed: true}
			signed := report
			wire.SignRelay(&signed, forger)
			for _, m := range []wire.Message{report, signed} {
				want := "error:Dead Node: relay from 127.0.0.1 is not signed by a seed key that config.txt lists there"
				if got := cl.ask(wire.Format(m)); got != want {
					t.Fatalf("%s: %q -> %q, want %q", s.Addr(), wire.Format(m), got, want)
				}
			}
			if st := s.Stats(); s.Has(victim.Addr()) != listed || st.RelayRefused != 2 || st.Probes != 0 {
				t.Fatalf("seed %s: lists victim %v, relay_refused %d, probes %d", s.Addr(), s.Has(victim.Addr()), st.RelayRefused, st.Probes)
			}
		}
		crashed := c.peers[2]
		crashed.Stop()
		loopback.CheckFor(t, 60*time.Second, "the crashed peer is off every seed", func() error {
			for _, s := range c.seeds {
				if s.Has(crashed.Addr()) {
					return fmt.Errorf("seed %s still lists %s", s.Addr(), crashed.Addr())
				}
			}
			return nil
		})
		// The first seed to remove it relays a signed report to the two
		// others; each believes it (whether or not it got there first).
		loopback.CheckFor(t, 30*time.Second, "signed relays believed", func() error {
			believed := uint64(0)
			for _, s := range c.seeds {
				believed += s.Stats().RelaysBelieved
			}
			if believed < 2 {
				return fmt.Errorf("%d signed relays believed, want at least 2", believed)
			}
			return nil
		})
		for _, s := range c.seeds {
			if st := s.Stats(); st.RelayRefused != 2 {
				t.Errorf("seed %s refused %d relays, want only the 2 forged", s.Addr(), st.RelayRefused)
			}
		}
	})
}
