package peer

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/whispernet/whispernet/identity"
	"github.com/whispernet/whispernet/seed"
	"github.com/whispernet/whispernet/wire"
)

// miniNet wires peers and one seed together through a synchronous message
// pump in virtual time: a Send is delivered to the other end's Receive, a
// Dial opens both ends with fresh ConnIDs, a SeedRequest is answered by
// seed.Handle. Every line crosses the "wire" as text (Format, then Parse).
type miniNet struct {
	t      testing.TB
	now    time.Time
	seed   *seed.Seed
	peers  map[netip.AddrPort]*Peer
	order  []*Peer                 // deterministic iteration
	ends   map[end]end             // each connection end → the other end
	nextID ConnID                  // ConnIDs are unique across the network
	queue  []func()                // pending deliveries, FIFO
	down   map[netip.AddrPort]bool // crashed peers: dials to them fail
	got    map[netip.AddrPort]map[msgKey]int
	deads  []string
	degree map[netip.AddrPort]int // last degree action per peer
}

type end struct {
	peer netip.AddrPort
	id   ConnID
}

type msgKey struct {
	origin netip.AddrPort
	seq    uint32
}

func newMiniNet(t testing.TB, n int, cfgMod func(*Config)) *miniNet {
	seedAddr := netip.MustParseAddrPort("127.0.0.1:8080")
	scfg := seed.DefaultConfig()
	// The pump does not carry the seed's probes (the node runtime's and
	// the seed package's tests do): the classic registry.
	scfg.Probe = false
	scfg.Self = seedAddr
	scfg.Seeds = []netip.AddrPort{seedAddr}
	s, err := seed.New(scfg, rand.New(rand.NewPCG(7, 7)))
	if err != nil {
		t.Fatal(err)
	}
	net := &miniNet{t: t, now: base, seed: s, peers: make(map[netip.AddrPort]*Peer), ends: make(map[end]end),
		down: make(map[netip.AddrPort]bool), got: make(map[netip.AddrPort]map[msgKey]int), degree: make(map[netip.AddrPort]int)}
	for i := 0; i < n; i++ {
		cfg := DefaultConfig()
		cfg.Self = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(5001+i))
		cfg.Seeds = []netip.AddrPort{seedAddr}
		cfg.Target = n - 1
		if cfgMod != nil {
			cfgMod(&cfg)
		}
		p, err := New(cfg, rand.New(rand.NewPCG(uint64(i), 42)))
		if err != nil {
			t.Fatal(err)
		}
		net.peers[cfg.Self] = p
		net.order = append(net.order, p)
		net.got[cfg.Self] = make(map[msgKey]int)
	}
	return net
}

func wireCopy(t testing.TB, m wire.Message) wire.Message {
	t.Helper()
	line := wire.Format(m)
	out, err := wire.Parse(line)
	if err != nil {
		t.Fatalf("line %q does not parse: %v", line, err)
	}
	return out
}

// collect turns p's actions into queued deliveries.
func (n *miniNet) collect(p *Peer) {
	self := p.Self()
	for _, a := range p.Ready() {
		switch a.Kind {
		case Dial:
			to := a.Addr
			if q := n.peers[to]; q == nil || n.down[to] {
				n.queue = append(n.queue, func() { p.DialFailed(n.now, to); n.collect(p) })
				continue
			}
			q := n.peers[to]
			n.nextID++
			outID := n.nextID
			n.nextID++
			inID := n.nextID
			n.ends[end{self, outID}] = end{to, inID}
			n.ends[end{to, inID}] = end{self, outID}
			remote := netip.AddrPortFrom(self.Addr(), uint16(40000+inID))
			// The listener sees the connection before the dialer writes.
			n.queue = append(n.queue, func() {
				if n.down[to] {
					delete(n.ends, end{self, outID})
					delete(n.ends, end{to, inID})
					p.DialFailed(n.now, to)
					n.collect(p)
					return
				}
				q.Opened(n.now, inID, remote, false)
				n.collect(q)
				p.Opened(n.now, outID, to, true)
				n.collect(p)
			})
		case Send:
			other, ok := n.ends[end{self, a.Conn}]
			if !ok {
				continue // the other side already closed it
			}
			m := wireCopy(n.t, a.Msg)
			q := n.peers[other.peer]
			n.queue = append(n.queue, func() {
				if !n.down[other.peer] {
					q.Receive(n.now, other.id, m)
					n.collect(q)
				}
			})
		case Close:
			other, ok := n.ends[end{self, a.Conn}]
			if !ok {
				continue
			}
			delete(n.ends, end{self, a.Conn})
			delete(n.ends, other)
			q := n.peers[other.peer]
			n.queue = append(n.queue, func() { q.Closed(n.now, other.id); n.collect(q) })
		case SeedRequest:
			req := wireCopy(n.t, a.Msg)
			to := a.Addr
			n.queue = append(n.queue, func() {
				reply := wireCopy(n.t, n.seed.Handle(n.now, self.Addr(), req))
				n.seed.Ready()
				p.SeedReply(n.now, to, req, reply)
				n.collect(p)
			})
		case Deliver:
			if a.Addr != self {
				n.got[self][msgKey{a.Msg.Addr, a.Msg.Seq}]++
			}
		case Degree:
			n.degree[self] = a.N
		case Dead:
			n.deads = append(n.deads, fmt.Sprintf("%s declared %s dead at +%v", self, a.Addr, n.now.Sub(base)))
		}
	}
}

func (n *miniNet) drain() {
	for steps := 0; len(n.queue) > 0; steps++ {
		if steps > 1_000_000 {
			n.t.Fatal("message pump does not settle")
		}
		f := n.queue[0]
		n.queue = n.queue[1:]
		f()
	}
}

// run advances virtual time from deadline to deadline until end.
func (n *miniNet) run(until time.Time) {
	for iter := 0; ; iter++ {
		if iter > 100_000 {
			n.t.Fatal("too many timer steps: a deadline does not move")
		}
		n.drain()
		next := time.Time{}
		for _, p := range n.order {
			if n.down[p.Self()] {
				continue
			}
			if d := p.NextDeadline(); !d.IsZero() && (next.IsZero() || d.Before(next)) {
				next = d
			}
		}
		if next.IsZero() || next.After(until) {
			n.now = until
			return
		}
		if next.After(n.now) {
			n.now = next
		}
		for _, p := range n.order {
			if n.down[p.Self()] {
				continue
			}
			if d := p.NextDeadline(); !d.IsZero() && !d.After(n.now) {
				p.Tick(n.now)
				n.collect(p)
			}
		}
		n.seed.Tick(n.now)
		n.seed.Ready()
	}
}

// crash takes p down: its connections close at the other ends, dials to it
// fail from now on.
func (n *miniNet) crash(a netip.AddrPort) {
	n.down[a] = true
	for e, other := range n.ends {
		if e.peer == a {
			delete(n.ends, e)
			delete(n.ends, other)
			q := n.peers[other.peer]
			id := other.id
			n.queue = append(n.queue, func() { q.Closed(n.now, id); n.collect(q) })
		}
	}
	n.drain()
}

// TestMiniNetwork: three peers and a seed. Every peer links to both others
// and delivers each of their GossipCount messages exactly once.
func TestMiniNetwork(t *testing.T) {
	net := newMiniNet(t, 3, nil)
	for i, p := range net.order {
		net.now = base.Add(time.Duration(i) * 100 * time.Millisecond)
		p.Start(net.now)
		net.collect(p)
		net.drain()
	}
	net.run(base.Add(2 * time.Minute))
	if len(net.deads) > 0 {
		t.Errorf("no peer should be declared dead: %v", net.deads)
	}
	for _, p := range net.order {
		self := p.Self()
		if p.Degree() != 2 || net.degree[self] != 2 {
			t.Errorf("%s: degree %d (last action %d), want 2", self, p.Degree(), net.degree[self])
		}
		if st := p.Stats(); st.Generated != 10 {
			t.Errorf("%s generated %d messages, want 10", self, st.Generated)
		}
		net.checkOnce(p, net.order, 10)
		if len(net.got[self]) != 20 {
			t.Errorf("%s delivered %d distinct messages, want 20", self, len(net.got[self]))
		}
	}
	if net.seed.Len() != 3 {
		t.Errorf("seed lists %d peers, want 3", net.seed.Len())
	}
}

// TestMiniNetworkCrash: in a network of four, one peer crashes. Its
// neighbours redial it, fail, report it to the seed, which removes it; the
// survivors keep gossiping among themselves.
func TestMiniNetworkCrash(t *testing.T) {
	net := newMiniNet(t, 4, func(c *Config) { c.Target = 2; c.GossipCount = 20 })
	for _, p := range net.order {
		p.Start(net.now)
		net.collect(p)
	}
	net.run(base.Add(30 * time.Second))
	victim := net.order[0].Self()
	if !net.seed.Has(victim) {
		t.Fatalf("%s not registered", victim)
	}
	net.crash(victim)
	net.run(base.Add(3 * time.Minute))
	if net.seed.Has(victim) {
		t.Errorf("the seed still lists the crashed %s", victim)
	}
	if len(net.deads) == 0 {
		t.Errorf("nobody declared %s dead", victim)
	}
	for _, d := range net.deads {
		t.Log(d)
	}
	for _, p := range net.order[1:] {
		for _, nb := range p.Neighbours() {
			if nb.Addr == victim {
				t.Errorf("%s still links to the crashed %s", p.Self(), victim)
			}
		}
		if p.Degree() == 0 {
			t.Errorf("%s is isolated", p.Self())
		}
		net.checkOnce(p, net.order[1:], 20)
	}
}

// connected reports whether the neighbour links of peers form one
// connected graph.
// without returns peers without p.
func without(peers []*Peer, p *Peer) []*Peer {
	var out []*Peer
	for _, q := range peers {
		if q != p {
			out = append(out, q)
		}
	}
	return out
}

func connected(peers []*Peer) bool {
	if len(peers) == 0 {
		return true
	}
	seen := map[netip.AddrPort]bool{peers[0].Self(): true}
	byAddr := make(map[netip.AddrPort]*Peer)
	for _, p := range peers {
		byAddr[p.Self()] = p
	}
	queue := []*Peer{peers[0]}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, nb := range p.Neighbours() {
			if q := byAddr[nb.Addr]; q != nil && !seen[nb.Addr] {
				seen[nb.Addr] = true
				queue = append(queue, q)
			}
		}
	}
	return len(seen) == len(peers)
}

// TestMiniNetworkNewcomersJoinOverlay: three peers of target 2 form a
// triangle, so every one of them is full. Two newcomers then start at once
// and see each other (free) and the full triangle. Each makes its first
// link into the overlay (a full peer, asked with :isolated, takes it
// beyond its target) before linking to the other newcomer, so no island
// of two newcomers forms: the five peers are one connected overlay and
// every peer delivers every other peer's messages exactly once.
func TestMiniNetworkNewcomersJoinOverlay(t *testing.T) {
	net := newMiniNet(t, 5, func(c *Config) { c.Target = 2 })
	old, newcomers := net.order[:3], net.order[3:]
	for _, p := range old {
		p.Start(net.now)
		net.collect(p)
		net.drain()
	}
	// Before anyone gossips (GossipDelay 5s), once the degrees have
	// reached the seed.
	net.run(base.Add(2 * time.Second))
	for _, p := range old {
		if p.Degree() != 2 {
			t.Fatalf("%s: degree %d before the newcomers, want 2 (the triangle)", p.Self(), p.Degree())
		}
	}
	for _, p := range newcomers {
		p.Start(net.now)
		net.collect(p)
	}
	net.run(base.Add(2 * time.Minute))
	if len(net.deads) > 0 {
		t.Errorf("no peer should be declared dead: %v", net.deads)
	}
	if !connected(net.order) {
		for _, p := range net.order {
			t.Logf("%s: %v", p.Self(), p.Neighbours())
		}
		t.Fatal("the overlay is split")
	}
	isOld := make(map[netip.AddrPort]bool)
	for _, p := range old {
		isOld[p.Self()] = true
	}
	for _, p := range newcomers {
		intoOverlay := false
		for _, nb := range p.Neighbours() {
			intoOverlay = intoOverlay || isOld[nb.Addr]
		}
		if !intoOverlay {
			t.Errorf("newcomer %s has no link into the triangle: %v", p.Self(), p.Neighbours())
		}
	}
	for _, p := range net.order {
		self := p.Self()
		if d := p.Degree(); d < 1 || d > p.cfg.MaxPeers || net.degree[self] != d {
			t.Errorf("%s: degree %d (last action %d)", self, d, net.degree[self])
		}
		net.checkOnce(p, net.order, 10)
		if len(net.got[self]) != 40 {
			t.Errorf("%s delivered %d distinct messages, want 40", self, len(net.got[self]))
		}
	}
}

// form starts the peers gap apart (all at once for 0), runs the network
// for 30 s more and returns how many links it has.
func (n *miniNet) form(gap time.Duration) (links int) {
	for _, p := range n.order {
		p.Start(n.now)
		n.collect(p)
		if gap > 0 {
			n.run(n.now.Add(gap))
		}
	}
	n.run(n.now.Add(30 * time.Second))
	for _, p := range n.order {
		links += p.Degree()
	}
	return links / 2
}

// checkOnce checks that p delivered messages 1..count of every origin in
// origins but itself exactly once.
func (n *miniNet) checkOnce(p *Peer, origins []*Peer, count uint32) {
	n.t.Helper()
	for _, q := range origins {
		if q == p {
			continue
		}
		for seq := uint32(1); seq <= count; seq++ {
			if c := n.got[p.Self()][msgKey{q.Self(), seq}]; c != 1 {
				n.t.Errorf("%s delivered %s #%d %d times, want once", p.Self(), q.Self(), seq, c)
			}
		}
	}
}

// sumStats adds up the counters of the live peers.
func (n *miniNet) sumStats() (s Stats) {
	for _, p := range n.order {
		if n.down[p.Self()] {
			continue
		}
		st := p.Stats()
		s.Forwarded += st.Forwarded
		s.Duplicates += st.Duplicates
		s.GraftSent += st.GraftSent
		s.GraftServed += st.GraftServed
		s.IHaveSent += st.IHaveSent
		s.PruneSent += st.PruneSent
	}
	return s
}

// publishAndCheck has origin publish one message, runs the network for
// two seconds and checks that every other live peer delivered it exactly
// once. It returns the change in the summed counters.
func (n *miniNet) publishAndCheck(origin *Peer, text string) Stats {
	n.t.Helper()
	before := n.sumStats()
	m := origin.Publish(n.now, text)
	n.collect(origin)
	n.run(n.now.Add(2 * time.Second))
	for _, p := range n.order {
		if p == origin || n.down[p.Self()] {
			continue
		}
		if c := n.got[p.Self()][msgKey{m.Addr, m.Seq}]; c != 1 {
			n.t.Errorf("%q: %s delivered it %d times, want once", text, p.Self(), c)
		}
	}
	after := n.sumStats()
	return Stats{
		Forwarded: after.Forwarded - before.Forwarded, Duplicates: after.Duplicates - before.Duplicates,
		GraftSent: after.GraftSent - before.GraftSent, GraftServed: after.GraftServed - before.GraftServed,
		IHaveSent: after.IHaveSent - before.IHaveSent, PruneSent: after.PruneSent - before.PruneSent,
	}
}

// TestMiniNetworkPlumtree: twelve peers of degree 4 join one after the
// other. Each peer's parent link (to its biggest neighbour bigger than
// itself) is eager, the others lazy. While peers join, a peer that finds a
// bigger neighbour moves to it and its old parent link stays eager until a
// duplicate prunes it, so the first message meets a few duplicates. From
// then on every message, whatever its origin, costs exactly one copy per
// peer (11) and no duplicate, while both ends of every other link announce
// it. A crashed interior peer splits the tree; its children take their
// biggest remaining neighbour as parent, and the next message still
// reaches every live peer exactly once.
func TestMiniNetworkPlumtree(t *testing.T) {
	const n = 12
	net := newMiniNet(t, n, func(c *Config) { c.Target = 4; c.GossipCount = 0 })
	links := net.form(time.Second)
	if !connected(net.order) {
		t.Fatal("overlay is not connected")
	}

	first := net.publishAndCheck(net.order[0], "first")
	if first.PruneSent == 0 || first.PruneSent > first.Duplicates {
		t.Errorf("first message: %d duplicates, %d prunes", first.Duplicates, first.PruneSent)
	}
	for i := 1; i < 6; i++ {
		origin := net.order[(i*5)%n]
		d := net.publishAndCheck(origin, fmt.Sprintf("message %d", i))
		if d.Forwarded != n-1 || d.Duplicates != 0 || d.GraftSent != 0 || d.PruneSent != 0 {
			t.Errorf("message %d from %s: %d copies, %d duplicates, %d grafts, %d prunes; want %d, 0, 0, 0",
				i, origin.Self(), d.Forwarded, d.Duplicates, d.GraftSent, d.PruneSent, n-1)
		}
		// Every peer announces it on each of its lazy links (it came on
		// an eager one): both ends of every link off the tree.
		if want := uint64(2*links - 2*(n-1)); d.IHaveSent != want {
			t.Errorf("message %d: %d announcements, want 2×(links − tree links) = %d", i, d.IHaveSent, want)
		}
	}

	// Crash the peer with the most tree (eager) links whose loss leaves
	// the overlay connected (a cut vertex's loss would split it, and no
	// repair could reach the other part).
	var victim *Peer
	most := -1
	for _, p := range net.order {
		if !connected(without(net.order, p)) {
			continue
		}
		eager := 0
		for _, c := range p.neighbours {
			if !c.lazy {
				eager++
			}
		}
		if eager > most {
			victim, most = p, eager
		}
	}
	if most < 2 {
		t.Fatalf("no interior tree node (most eager links %d)", most)
	}
	net.crash(victim.Self())
	var origin *Peer
	for _, p := range net.order {
		if p != victim {
			origin = p
			break
		}
	}
	d := net.publishAndCheck(origin, "after the crash")
	t.Logf("links %d; first message %+v; after the crash %+v", links, first, d)
}

// TestMiniNetworkFlood: the same network in flood mode costs a flood per
// message, every time.
func TestMiniNetworkFlood(t *testing.T) {
	const n = 12
	net := newMiniNet(t, n, func(c *Config) { c.Target = 4; c.GossipCount = 0; c.Broadcast = Flood })
	links := net.form(0)
	for i := range 3 {
		d := net.publishAndCheck(net.order[i], fmt.Sprintf("flood %d", i))
		if d.Forwarded != uint64(2*links-(n-1)) || d.Duplicates != uint64(2*links-2*(n-1)) || d.PruneSent != 0 || d.IHaveSent != 0 {
			t.Errorf("message %d: %+v; want %d copies, %d duplicates, no prune or ihave", i, d, 2*links-(n-1), 2*links-2*(n-1))
		}
	}
}

// BenchmarkBroadcast publishes one message per op on a formed 60-peer
// network with power-law capacities and delivers it everywhere (every line
// formatted and parsed), in both modes. It reports what each message
// costs: copies, duplicates, and message IDs announced on lazy links (60
// peers, about 140 links: flooding 277 copies of which 218 duplicates;
// Plumtree 59 copies and 218 announced IDs, batched into ihave lines).
func BenchmarkBroadcast(b *testing.B) {
	for _, sign := range []bool{false, true} {
		for _, mode := range []Broadcast{Flood, Plumtree} {
			name := mode.String()
			if sign {
				name += "/signed"
			}
			b.Run(name, func(b *testing.B) { benchBroadcast(b, mode, sign) })
		}
	}
}

// benchBroadcast publishes from each of 60 peers in turn. Signed, the
// peers share one identity.Cache, as the peers of one process do.
func benchBroadcast(b *testing.B, mode Broadcast, sign bool) {
	cache := identity.NewCache(identity.DefaultCacheSize)
	{
		{
			const n = 60
			net := newMiniNet(b, n, func(c *Config) {
				c.Target = 0
				c.GossipCount = 0
				c.Broadcast = mode
				c.Sign = sign
				c.Verifier = cache
			})
			net.form(100 * time.Millisecond)
			before := net.sumStats()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				o := net.order[i%n]
				o.Publish(net.now, "bench")
				net.collect(o)
				net.drain()
				// 200 ms of every peer's timers: the lazy flushes, and
				// liveness for both modes alike.
				net.run(net.now.Add(200 * time.Millisecond))
			}
			b.StopTimer()
			after := net.sumStats()
			b.ReportMetric(float64(after.Forwarded-before.Forwarded)/float64(b.N), "copies/msg")
			b.ReportMetric(float64(after.Duplicates-before.Duplicates)/float64(b.N), "dups/msg")
			b.ReportMetric(float64(after.IHaveSent-before.IHaveSent)/float64(b.N), "ihave-ids/msg")
			if sign {
				st := cache.Stats()
				b.ReportMetric(float64(st.Misses)/float64(b.N), "verifies/msg")
			}
		}
	}
}
