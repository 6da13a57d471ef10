package node

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/whispernet/whispernet/node/memnet"
	"github.com/whispernet/whispernet/peer"
	"github.com/whispernet/whispernet/wire"
)

// handNeighbour is a neighbour driven by hand over memnet: it dials the
// peer under test, handshakes as a big peer (so that it is the peer's
// parent: its link is eager and gossip is pushed on it), and then reads
// only when told to.
type handNeighbour struct {
	t    *testing.T
	c    net.Conn
	br   *bufio.Reader
	self netip.AddrPort
}

func dialHand(t *testing.T, tr *memnet.Network, self, to netip.AddrPort) *handNeighbour {
	t.Helper()
	c, err := tr.Dial(context.Background(), self.Addr(), to)
	if err != nil {
		t.Fatal(err)
	}
	h := &handNeighbour{t: t, c: c, br: bufio.NewReaderSize(c, 64<<10), self: self}
	h.write(fmt.Sprintf("Connection with Peer:%s:%d:50:0", wire.FormatIP(self.Addr()), self.Port()))
	if got := h.read(); !strings.HasPrefix(got, "Connection accepted:") {
		t.Fatalf("handshake answered %q", got)
	}
	return h
}

func (h *handNeighbour) write(line string) {
	h.t.Helper()
	if _, err := h.c.Write([]byte(line + "\n")); err != nil {
		h.t.Fatalf("write %q: %v", line, err)
	}
}

func (h *handNeighbour) read() string {
	h.t.Helper()
	h.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := h.br.ReadString('\n')
	if err != nil {
		h.t.Fatalf("read: %v (got %q)", err, l)
	}
	return strings.TrimSuffix(l, "\n")
}

// loadPeer starts a peer of target 1 whose seed is down (it keeps
// retrying it, which does not matter here) on tr.
func loadPeer(t *testing.T, tr *memnet.Network, queueLen int, hooks Hooks) *Peer {
	t.Helper()
	self := netip.AddrPortFrom(localhost, 20001)
	cfg := fastPeerConfig(self, []netip.AddrPort{netip.AddrPortFrom(localhost, 9001)})
	cfg.Core.GossipCount = 0
	cfg.Core.Target = 1
	cfg.QueueLen = queueLen
	cfg.Transport = tr
	cfg.Hooks = hooks
	p, err := NewPeer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

// TestSlowReaderStaysLinked: a neighbour that stops reading until its
// queue is full (gossip is being demoted to announcements), yet answers
// liveness in time, stays linked, is never reported, and receives every
// message published after it reads again, whole.
func TestSlowReaderStaysLinked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &memnet.Network{BufSize: 4 << 10}
		var mu sync.Mutex
		var links, deaths []string
		p := loadPeer(t, tr, 8, Hooks{
			Link: func(_, other netip.AddrPort, up bool, _ time.Time) {
				mu.Lock()
				defer mu.Unlock()
				links = append(links, fmt.Sprintf("%s up=%v", other, up))
			},
			Dead: func(_, dead netip.AddrPort, _ time.Time) {
				mu.Lock()
				defer mu.Unlock()
				deaths = append(deaths, dead.String())
			},
		})
		h := dialHand(t, tr, netip.AddrPortFrom(localhost, 20002), p.Addr())

		// Not reading: publish until the peer's queue to h is full and
		// gossip is demoted (all in no time: the liveness verdict, 3 ×
		// 300 ms, is far off).
		published := 0
		for p.Stats().Demoted == 0 {
			if published == 5000 {
				t.Fatalf("5000 messages published and none demoted: %+v", p.Stats())
			}
			if _, ok := p.Publish(fmt.Sprintf("before %d", published)); !ok {
				t.Fatal("peer stopped")
			}
			published++
			synctest.Wait() // the writer fills the transport's buffer, then blocks
		}
		synctest.Wait()
		before := published

		// Read again, answering every liveness request at once.
		got := map[uint32]bool{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				h.c.SetReadDeadline(time.Now().Add(3 * time.Second))
				l, err := h.br.ReadString('\n')
				if err != nil {
					return // the deadline after the last message
				}
				m, err := wire.Parse(strings.TrimSuffix(l, "\n"))
				if err != nil {
					t.Errorf("unparsable line %q", l)
					continue
				}
				switch m.Kind {
				case wire.KindLivenessRequest:
					h.write(wire.Format(wire.Message{Kind: wire.KindLivenessReply, Time: m.Time, Addr: m.Addr, From: h.self}))
				case wire.KindGossip:
					mu.Lock()
					got[m.Seq] = true
					mu.Unlock()
				}
			}
		}()
		// Every later message arrives, pushed whole.
		const later = 50
		for i := range later {
			time.Sleep(20 * time.Millisecond)
			p.Publish(fmt.Sprintf("after %d", i))
		}
		// Longer than the liveness verdict: the link must survive it.
		time.Sleep(2 * time.Second)
		mu.Lock()
		defer mu.Unlock()
		for s := uint32(before + 1); s <= uint32(before+later); s++ {
			if !got[s] {
				t.Errorf("message %d (published after the neighbour read again) never arrived", s)
			}
		}
		if len(deaths) > 0 {
			t.Errorf("neighbour declared dead: %v", deaths)
		}
		if want := []string{"127.0.0.1:20002 up=true"}; fmt.Sprint(links) != fmt.Sprint(want) {
			t.Errorf("link events %v, want %v (never down)", links, want)
		}
		st := p.Stats()
		if st.SlowCloses != 0 {
			t.Errorf("%d slow closes", st.SlowCloses)
		}
		t.Logf("%d published before reading again, %d demoted, stats %+v", before, st.Demoted, st)
		mu.Unlock()
		h.c.Close() // (the peer probes it, finds it gone and reports it)
		<-done
		mu.Lock()
	})
}

// TestLivenessReplyAheadOfGossip: a liveness request that arrives while
// thousands of gossip lines wait in the queue to the same neighbour is
// answered ahead of them: the reply waits for at most the one batch of
// gossip already being written (writeChunk), not for the backlog.
func TestLivenessReplyAheadOfGossip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &memnet.Network{BufSize: 4 << 10}
		p := loadPeer(t, tr, 4096, Hooks{})
		h := dialHand(t, tr, netip.AddrPortFrom(localhost, 20002), p.Addr())
		const n = 3000 // about 300 KB of gossip: several write chunks
		for i := range n {
			p.Publish(fmt.Sprintf("backlog %d", i))
		}
		synctest.Wait()
		if st := p.Stats(); st.Demoted != 0 || st.QueueDrops != 0 {
			t.Fatalf("the backlog did not fit the queue: %+v", st)
		}
		req := wire.Message{Kind: wire.KindLivenessRequest, Time: wire.TimestampOf(time.Now()), Addr: h.self}
		h.write(wire.Format(req))
		synctest.Wait()
		gossip, bytes := 0, 0
		for {
			l := h.read()
			m, err := wire.Parse(l)
			if err != nil {
				t.Fatalf("unparsable line %q", l)
			}
			if m.Kind == wire.KindLivenessReply {
				if m.Time != req.Time {
					t.Errorf("reply %q does not echo the request's timestamp", l)
				}
				break
			}
			if m.Kind == wire.KindGossip {
				gossip++
				bytes += len(l) + 1
			}
		}
		// Ahead of it at most what the transport holds and the chunk the
		// writer was writing (a line may overrun the chunk by its length).
		if limit := 4<<10 + writeChunk + wire.MaxLineLen; bytes > limit || gossip >= n {
			t.Errorf("%d gossip lines (%d bytes) came before the liveness reply; want at most %d bytes", gossip, bytes, limit)
		}
		t.Logf("%d of %d gossip lines (%d bytes) ahead of the reply", gossip, n, bytes)
	})
}

// TestOverloadNoFalseDeaths: eight peers with tiny queues and transport
// buffers gossip 30 messages each as fast as they can, and one of them
// is frozen for a while (its loop stops: its queues fill, its neighbours'
// writes block). Nobody is declared dead, no link is closed for
// slowness, and every message reaches every peer exactly once.
func TestOverloadNoFalseDeaths(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 3)
		c.net.BufSize = 1 << 10
		const msgs = 30
		c.addPeers(8, func(cfg *PeerConfig) {
			cfg.QueueLen = 4
			cfg.Core.GossipCount = msgs
			cfg.Core.GossipInterval = 5 * time.Millisecond
		})
		time.Sleep(1600 * time.Millisecond) // the first messages are out
		c.peers[3].Freeze()
		time.Sleep(500 * time.Millisecond) // less than the liveness verdict (900 ms)
		c.peers[3].Thaw()
		time.Sleep(10 * time.Second)

		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.dead) > 0 {
			t.Errorf("false deaths: %v", c.dead)
		}
		for _, p := range c.peers {
			got := c.delivered[p.Addr()]
			for _, o := range c.peers {
				for s := 1; s <= msgs; s++ {
					if k := fmt.Sprintf("%s/%d", o.Addr(), s); got[k] != 1 {
						t.Errorf("%s has %s %d times", p.Addr(), k, got[k])
					}
				}
			}
		}
		var demoted, slow uint64
		for _, p := range c.peers {
			st := p.Stats()
			demoted += st.Demoted
			slow += st.SlowCloses
			var s peer.Stats = st.Stats
			if s.DeadReported != 0 {
				t.Errorf("%s reported %d dead", p.Addr(), s.DeadReported)
			}
		}
		if slow != 0 {
			t.Errorf("%d slow closes", slow)
		}
		t.Logf("%d lines demoted to announcements", demoted)
	})
}
