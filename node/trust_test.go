package node

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

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
		for _, s := range c.seeds {
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
		for _, s := range c.seeds {
			st := s.Stats()
			if !s.Has(victim.Addr()) || st.Refuted < 1 || st.DeadAccepted != 0 {
				t.Errorf("seed %s: lists victim %v, refuted %d, removals %d", s.Addr(), s.Has(victim.Addr()), st.Refuted, st.DeadAccepted)
			}
		}
		if st := victim.Stats(); st.Challenges < 3 {
			t.Errorf("victim answered %d challenges, want one per seed at least", st.Challenges)
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
