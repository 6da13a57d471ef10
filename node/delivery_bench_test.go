package node

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/whispernet/whispernet/eventlog"
	"github.com/whispernet/whispernet/identity"
	"github.com/whispernet/whispernet/peer"
	"github.com/whispernet/whispernet/wire"
)

// The delivery benchmark's workload: a Plumtree peer with six neighbours
// (its parent, one child, four lazy links), as a peer of the 500-peer
// classic network sees it. Every delivery is one fresh signed gossip line
// from the parent, forwarded to the child and announced to the four lazy
// neighbours; every benchRound deliveries the lazy flush sends one ihave
// line to each lazy neighbour, and each lazy neighbour announces the same
// messages back in one ihave line: 4 IDs sent and 4 received per delivery,
// about what a 500-peer run measures (docs/measurements.md).
const (
	benchOrigins = 256
	benchSeqs    = 32 // messages per origin: benchOrigins × benchSeqs fresh deliveries per peer
	benchLazy    = 4
	benchRound   = 8
)

type benchSet struct {
	lines  []string // signed gossip lines, in delivery order
	ihaves []string // ihave line i announces lines[i*benchRound:(i+1)*benchRound]
	cache  *identity.Cache
}

var (
	benchOnce sync.Once
	benchData benchSet
)

// deliverySet signs the messages once per process and verifies each once
// through the cache the peers use, as the first of a process's peers to
// receive a message does: every later peer finds it there.
func deliverySet(b *testing.B) *benchSet {
	benchOnce.Do(func() {
		s := &benchData
		s.cache = identity.NewCache(identity.DefaultCacheSize)
		keys := make([]*identity.Key, benchOrigins)
		origins := make([]netip.AddrPort, benchOrigins)
		for o := range origins {
			origins[o] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(o / 250), byte(1 + o%250)}), 5000)
			keys[o] = peer.DerivedKey(origins[o])
		}
		ts := wire.TimestampOf(time.Now())
		var ids []wire.MsgID
		for i := range benchOrigins * benchSeqs {
			o := i % benchOrigins
			m := wire.Message{Kind: wire.KindGossip, Addr: origins[o], Seq: uint32(1 + i/benchOrigins), Hops: 3, Time: ts,
				Text: fmt.Sprintf("%d.%d.%d.%d:5000 message %d", 10, 1, o/250, 1+o%250, i/benchOrigins)}
			wire.SignGossip(&m, keys[o])
			wire.VerifyGossip(&m, s.cache)
			s.lines = append(s.lines, wire.Format(m))
			ids = append(ids, wire.MsgID{Origin: m.Addr, Seq: m.Seq})
			if len(ids) == benchRound {
				s.ihaves = append(s.ihaves, wire.Format(wire.Message{Kind: wire.KindIHave, IDs: ids}))
				ids = nil
			}
		}
	})
	return &benchData
}

// discardConn is a connection nobody reads: the benchmark's links have no
// writer goroutine, and the loop's queues are emptied by hand.
type discardConn struct{ net.Conn }

func (discardConn) Close() error { return nil }

// benchPeer is a runtime peer, never started (no socket, no goroutine of
// its own), with its neighbours linked by hand.
type benchPeer struct {
	p      *Peer
	parent peer.ConnID
	lazy   [benchLazy]peer.ConnID
	tcs    []*tconn
}

func newBenchPeer(b *testing.B, s *benchSet, log *eventlog.Writer) *benchPeer {
	self := netip.MustParseAddrPort("127.0.0.1:5000")
	cfg := DefaultPeerConfig()
	cfg.Core.Self = self
	cfg.Core.Seeds = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:4000")}
	cfg.Core.Target = 2 + benchLazy
	cfg.Core.GossipCount = 0
	cfg.Core.Key = peer.DerivedKey(self)
	cfg.Core.Verifier = s.cache
	// The lazy flush is due at once; the benchmark calls it every
	// benchRound deliveries (the loop's timer would, every 100 ms).
	cfg.Core.LazyInterval = time.Nanosecond
	cfg.Log = log
	cfg.RandSeed = 1
	cfg.Hooks.Deliver = func(self, from netip.AddrPort, m wire.Message, at time.Time) {}
	p, err := NewPeer(cfg)
	if err != nil {
		b.Fatal(err)
	}
	clear(p.seeds) // seed requests are not carried out: no dials
	now := time.Now()
	p.core.Start(now)
	p.core.Ready()
	bp := &benchPeer{p: p}
	for i := range 2 + benchLazy {
		a := netip.AddrPortFrom(self.Addr(), uint16(6001+i))
		capacity := 3
		if i == 0 {
			capacity = 100 // bigger than the peer: its parent
		}
		id := peer.ConnID(i + 1)
		tc := &tconn{c: discardConn{}, wake: make(chan struct{}, 1), closed: make(chan struct{}),
			gossipMax: 1 << 20, ctrlMax: 1 << 20, stall: time.Minute, counters: &p.cnt}
		p.conns[id] = tc
		bp.tcs = append(bp.tcs, tc)
		key := peer.DerivedKey(a)
		p.core.Opened(now, id, netip.AddrPortFrom(a.Addr(), uint16(40000+i)), false)
		p.core.Receive(now, id, wire.Message{Kind: wire.KindConnect, Addr: a, Cap: capacity, Auth: &wire.Auth{Key: key.Public()}, Text: "dialler-nonce-0123456"})
		for _, act := range p.core.Ready() {
			if act.Kind == peer.Send && act.Msg.Kind == wire.KindConnectAccepted {
				p.core.Receive(now, id, wire.Message{Kind: wire.KindConnectProof, Auth: &wire.Auth{Sig: wire.SignChallenge(key, act.Msg.Text, a)}})
			}
		}
		switch {
		case i == 0:
			bp.parent = id
		case i == 1:
			p.core.Receive(now, id, wire.Message{Kind: wire.KindGraft}) // a bare graft: our child
		default:
			bp.lazy[i-2] = id
		}
		p.core.Ready()
	}
	if d := p.core.Degree(); d != 2+benchLazy {
		b.Fatalf("benchmark peer has %d neighbours, want %d", d, 2+benchLazy)
	}
	return bp
}

// receive hands line, read from connection id, to the loop as the
// connection's reader does: gossip in a batch, any other line alone.
func (bp *benchPeer) receive(b *testing.B, id peer.ConnID, line string) {
	m, err := wire.Parse(line)
	if err != nil {
		b.Fatal(err)
	}
	if m.Kind == wire.KindGossip {
		batch := batchPool.Get().(*[]wire.Message)
		*batch = append(*batch, m)
		bp.p.handle(event{kind: evGossip, id: id, batch: batch, at: time.Now()})
	} else {
		ctl := m
		bp.p.handle(event{kind: evLine, id: id, msg: &ctl, at: time.Now()})
	}
	bp.p.apply(time.Now())
}

// BenchmarkDelivery is the user-space work of one delivered message in a
// runtime peer, without sockets: the received signed gossip line parsed,
// its signature found in the process's verify cache, the core's Receive,
// the forward encoded and queued for the child, the announcements
// (ihave IDs) sent and received, and the outputfile.log line. One op is
// one delivery. What the benchmark leaves out: the system calls, the
// reader's copy of each line out of its buffer, the writer and reader
// goroutines' wake-ups, and net's tracker (localnet's
// BenchmarkTrackerDeliver).
func BenchmarkDelivery(b *testing.B) {
	s := deliverySet(b)
	log := eventlog.New(io.Discard, io.Discard)
	defer log.Close()
	var bp *benchPeer
	next := len(s.lines) // index of the next line for bp; a new peer when all are delivered
	var sum peer.Stats   // of the peers done with
	add := func(st peer.Stats) {
		sum.Received += st.Received
		sum.Forwarded += st.Forwarded
		sum.IHaveSent += st.IHaveSent
	}
	// Process CPU (every goroutine's, the eventlog writer's and the
	// garbage collector's included) while the timer runs: on a shared
	// machine a steadier figure than ns/op, which is wall clock.
	var cpu, cpu0 time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if next == len(s.lines) {
			b.StopTimer()
			if bp != nil {
				cpu += processCPU() - cpu0
				add(bp.p.core.Stats())
			}
			bp, next = newBenchPeer(b, s, log), 0
			cpu0 = processCPU()
			b.StartTimer()
		}
		bp.receive(b, bp.parent, s.lines[next])
		next++
		if next%benchRound == 0 {
			bp.p.core.Tick(time.Now()) // the lazy flush: one ihave line per lazy link
			bp.p.apply(time.Now())
			for _, id := range bp.lazy {
				bp.receive(b, id, s.ihaves[next/benchRound-1])
			}
			if len(bp.tcs[1].gossip) != benchRound || len(bp.tcs[2].ctrl) != 1 {
				b.Fatalf("%d lines queued for the child, %d for a lazy link; want %d and one ihave", len(bp.tcs[1].gossip), len(bp.tcs[2].ctrl), benchRound)
			}
			for _, tc := range bp.tcs {
				clear(tc.ctrl)
				clear(tc.gossip)
				tc.ctrl, tc.gossip = tc.ctrl[:0], tc.gossip[:0]
			}
		}
	}
	b.StopTimer()
	cpu += processCPU() - cpu0
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	add(bp.p.core.Stats())
	if sum.Received != uint64(b.N) || sum.Forwarded != uint64(b.N) || sum.IHaveSent != uint64(benchLazy*b.N) {
		b.Fatalf("%d lines: %d deliveries, %d forwards, %d IDs announced; want one delivery and forward and %d IDs a line", b.N, sum.Received, sum.Forwarded, sum.IHaveSent, benchLazy)
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
