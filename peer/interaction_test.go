package peer_test

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/whispernet/whispernet/internal/script"
	"github.com/whispernet/whispernet/peer"
	"github.com/whispernet/whispernet/seed"
	"github.com/whispernet/whispernet/wire"
)

// TestInteraction runs the multi-peer scripts of testdata/net, in the
// manner of raft's rafttest interaction tests: several peer cores and seed
// cores joined by an in-memory queue of connections, lines and seed
// requests, which the script delivers step by step or until the network is
// quiet. Nothing moves the clock but tick. Commands:
//
//	add-seeds N                       seeds s1..sN (10.0.1.i:8080), probing off
//	add-peers N [target=K] [maxpeers=M] [gossip=D count=C]
//	                                  peers p1.. (10.0.0.i:5000), started now
//	deliver [N]                       deliver the N oldest pending events
//	                                  (default: those pending now)
//	stabilize                         deliver until nothing is pending
//	tick +D                           move the clock on by D, then Tick
//	                                  every live peer and seed
//	publish pI TEXT                   pI publishes TEXT
//	crash pI                          pI stops dead: its links close
//	neighbours | delivered | seeds    print the overlay, what each message
//	                                  reached, and each seed's registry
//
// deliver, stabilize, tick and publish print each event as it is
// delivered (from -> to, what) and the notable actions it causes: a
// delivery to the application, a death declared, a link up or down.
// Lines longer than 96 bytes are cut (signatures make them long).
func TestInteraction(t *testing.T) {
	script.Run(t, "testdata/net/*.txt", func(t *testing.T) func(*script.Case) []string {
		e := &env{t: t, clock: script.NewClock(time.Unix(1764072000, 0).UTC()), byAddr: map[netip.AddrPort]string{}}
		return e.run
	})
}

// env is the network: cores, links and the pending events.
type env struct {
	t      *testing.T
	clock  script.Clock
	peers  []*node
	seeds  []*seedNode
	byAddr map[netip.AddrPort]string // address -> p1, s1...
	queue  []event
	nextID peer.ConnID
	out    []string
	got    map[key][]string // message -> receivers, in delivery order
}

type key struct {
	origin string
	seq    uint32
}

type node struct {
	name    string
	addr    netip.AddrPort
	core    *peer.Peer
	crashed bool
	links   map[peer.ConnID]*link
}

type seedNode struct {
	name string
	addr netip.AddrPort
	core *seed.Seed
}

// link is one connection; each end has its own ConnID.
type link struct {
	a, b       *node
	ida, idb   peer.ConnID
	closedA    bool // a's end is closed (a closed it or crashed)
	closedB    bool
	dialer     *node
	dialTarget netip.AddrPort
}

type evKind uint8

const (
	evConnect   evKind = iota // a dial reaches its target
	evLine                    // a line reaches the other end of a link
	evClose                   // the other end learns its link closed
	evSeedReq                 // a request reaches a seed
	evSeedReply               // a seed's reply reaches the peer
	evRelay                   // a seed's relay reaches another seed
)

type event struct {
	kind  evKind
	from  string
	to    *node
	seed  *seedNode
	l     *link
	req   wire.Message
	msg   wire.Message
	relay string // the relaying seed's name
}

func (e *env) run(c *script.Case) []string {
	e.out = nil
	kv := c.KeyValues()
	switch c.Cmd {
	case "add-seeds":
		n := e.atoi(c, 0)
		for range n {
			k := len(e.seeds) + 1
			a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(k)}), 8080)
			e.seeds = append(e.seeds, &seedNode{name: "s" + strconv.Itoa(k), addr: a})
			e.byAddr[a] = "s" + strconv.Itoa(k)
		}
		var all []netip.AddrPort
		for _, s := range e.seeds {
			all = append(all, s.addr)
		}
		for i, s := range e.seeds {
			cfg := seed.DefaultConfig()
			cfg.Probe = false
			cfg.Self, cfg.Seeds = s.addr, all
			core, err := seed.New(cfg, seed.NewRand(uint64(i+1)))
			if err != nil {
				return c.Fail(e.t, "%v", err)
			}
			s.core = core
		}
	case "add-peers":
		if len(e.seeds) == 0 {
			return c.Fail(e.t, "add-seeds first")
		}
		n := e.atoi(c, 0)
		for range n {
			k := len(e.peers) + 1
			cfg := peer.DefaultConfig()
			cfg.Self = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(k)}), 5000)
			for _, s := range e.seeds {
				cfg.Seeds = append(cfg.Seeds, s.addr)
			}
			cfg.GossipCount, cfg.Target, cfg.MaxPeers = 0, 2, 8
			if v, ok := kv["target"]; ok {
				cfg.Target, _ = strconv.Atoi(v)
			}
			if v, ok := kv["maxpeers"]; ok {
				cfg.MaxPeers, _ = strconv.Atoi(v)
			}
			core, err := peer.New(cfg, peer.NewRand(peer.DeriveSeed(1, uint64(k))))
			if err != nil {
				return c.Fail(e.t, "%v", err)
			}
			p := &node{name: "p" + strconv.Itoa(k), addr: cfg.Self, core: core, links: map[peer.ConnID]*link{}}
			e.peers = append(e.peers, p)
			e.byAddr[p.addr] = p.name
			core.Start(e.clock.Now)
			e.collect(p)
		}
		e.pending()
	case "deliver":
		n := len(e.queue)
		if len(c.Args) > 0 {
			n = min(e.atoi(c, 0), n)
		}
		for range n {
			e.step()
		}
		e.pending()
	case "stabilize":
		for steps := 0; len(e.queue) > 0; steps++ {
			if steps == 100000 {
				return c.Fail(e.t, "still %d events pending after %d steps", len(e.queue), steps)
			}
			e.step()
		}
	case "tick":
		if _, err := e.clock.Move(c.Args, nil); err != nil {
			return c.Fail(e.t, "%v", err)
		}
		for _, s := range e.seeds {
			s.core.Tick(e.clock.Now)
			e.collectSeed(s)
		}
		for _, p := range e.peers {
			if !p.crashed {
				p.core.Tick(e.clock.Now)
				e.collect(p)
			}
		}
		e.pending()
	case "publish":
		p := e.peer(c, 0)
		if p == nil {
			return e.out
		}
		m := p.core.Publish(e.clock.Now, strings.Join(c.Args[1:], " "))
		e.printf("%s published %s/%d", p.name, p.name, m.Seq)
		e.collect(p)
		e.pending()
	case "crash":
		p := e.peer(c, 0)
		if p == nil {
			return e.out
		}
		p.crashed = true
		for _, id := range slices.Sorted(maps.Keys(p.links)) {
			e.closeEnd(p, id)
		}
		e.pending()
	case "neighbours":
		for _, p := range e.peers {
			if p.crashed {
				e.printf("%s: crashed", p.name)
				continue
			}
			var nb []string
			for _, n := range p.core.Neighbours() {
				nb = append(nb, e.name(n.Addr))
			}
			slices.Sort(nb)
			e.printf("%s: target %d, neighbours %s", p.name, p.core.Target(), strings.Join(nb, " "))
		}
	case "delivered":
		for _, k := range slices.SortedFunc(maps.Keys(e.got), func(a, b key) int {
			return strings.Compare(fmt.Sprintf("%s/%06d", a.origin, a.seq), fmt.Sprintf("%s/%06d", b.origin, b.seq))
		}) {
			rs := slices.Clone(e.got[k])
			slices.Sort(rs)
			e.printf("%s/%d: %d peers: %s", k.origin, k.seq, len(rs), strings.Join(rs, " "))
		}
	case "seeds":
		for _, s := range e.seeds {
			var ps []string
			for _, a := range s.core.Peers() {
				ps = append(ps, e.name(a))
			}
			slices.Sort(ps)
			e.printf("%s: %s", s.name, strings.Join(ps, " "))
		}
	default:
		return c.Fail(e.t, "unknown command %q", c.Cmd)
	}
	return e.out
}

// step delivers the oldest pending event.
func (e *env) step() {
	ev := e.queue[0]
	e.queue = e.queue[1:]
	now := e.clock.Now
	switch ev.kind {
	case evConnect:
		l := ev.l
		if l.b == nil || l.b.crashed {
			e.printf("%s -> %s: dial fails", l.dialer.name, e.name(l.dialTarget))
			l.dialer.core.DialFailed(now, l.dialTarget)
			e.collect(l.dialer)
			return
		}
		e.printf("%s -> %s: connected", l.a.name, l.b.name)
		l.a.links[l.ida], l.b.links[l.idb] = l, l
		l.b.core.Opened(now, l.idb, l.a.addr, false)
		e.collect(l.b)
		if !l.closedA {
			l.a.core.Opened(now, l.ida, l.b.addr, true)
			e.collect(l.a)
		}
	case evLine:
		to, id, closed := ev.to, ev.l.idb, ev.l.closedB
		if to == ev.l.a {
			id, closed = ev.l.ida, ev.l.closedA
		}
		if closed || to.crashed {
			return // the line died with the connection
		}
		e.printf("%s -> %s: %s", ev.from, to.name, line(&ev.msg))
		to.core.Receive(now, id, ev.msg)
		e.collect(to)
	case evClose:
		to, id, closed := ev.to, ev.l.idb, ev.l.closedB
		if to == ev.l.a {
			id, closed = ev.l.ida, ev.l.closedA
		}
		if closed || to.crashed {
			return
		}
		e.printf("%s -> %s: closed", ev.from, to.name)
		e.closeEnd(to, id)
		to.core.Closed(now, id)
		e.collect(to)
	case evSeedReq:
		if ev.to.crashed {
			return
		}
		reply := ev.seed.core.Handle(now, ev.to.addr.Addr(), ev.req)
		e.printf("%s -> %s: %s", ev.to.name, ev.seed.name, line(&ev.req))
		e.queue = append(e.queue, event{kind: evSeedReply, to: ev.to, seed: ev.seed, req: ev.req, msg: reply})
		e.collectSeed(ev.seed)
	case evSeedReply:
		if ev.to.crashed {
			return
		}
		e.printf("%s -> %s: %s", ev.seed.name, ev.to.name, line(&ev.msg))
		ev.to.core.SeedReply(now, ev.seed.addr, ev.req, ev.msg)
		e.collect(ev.to)
	case evRelay:
		e.printf("%s -> %s: %s", ev.relay, ev.seed.name, line(&ev.msg))
		reply := ev.seed.core.Handle(now, ev.msg.Addr.Addr(), ev.msg)
		seed.Release(reply)
		e.collectSeed(ev.seed)
	}
}

// closeEnd closes p's end of link id, and tells the other end.
func (e *env) closeEnd(p *node, id peer.ConnID) {
	l := p.links[id]
	if l == nil {
		return
	}
	delete(p.links, id)
	other := l.b
	if p == l.a {
		l.closedA = true
	} else {
		l.closedB = true
		other = l.a
	}
	e.queue = append(e.queue, event{kind: evClose, from: p.name, to: other, l: l})
}

// collect carries out p's actions: queues what goes on the network and
// prints what the application would see.
func (e *env) collect(p *node) {
	for _, a := range p.core.Ready() {
		switch a.Kind {
		case peer.Dial:
			e.nextID++
			ida := e.nextID
			e.nextID++
			l := &link{a: p, ida: ida, idb: e.nextID, dialer: p, dialTarget: a.Addr}
			for _, q := range e.peers {
				if q.addr == a.Addr {
					l.b = q
				}
			}
			e.queue = append(e.queue, event{kind: evConnect, l: l})
		case peer.Send:
			l := p.links[a.Conn]
			if l == nil {
				e.t.Errorf("%s sends on unknown conn %d", p.name, a.Conn)
				continue
			}
			to := l.b
			if p == l.b {
				to = l.a
			}
			e.queue = append(e.queue, event{kind: evLine, from: p.name, to: to, l: l, msg: a.Msg})
		case peer.Close:
			e.closeEnd(p, a.Conn)
		case peer.SeedRequest:
			for _, s := range e.seeds {
				if s.addr == a.Addr {
					e.queue = append(e.queue, event{kind: evSeedReq, to: p, seed: s, req: a.Msg})
				}
			}
		case peer.Deliver:
			if a.Addr == p.addr {
				continue // the origin's own copy
			}
			if e.got == nil {
				e.got = map[key][]string{}
			}
			k := key{e.name(a.Msg.Addr), a.Msg.Seq}
			e.got[k] = append(e.got[k], p.name)
			e.printf("  %s delivers %s/%d from %s", p.name, k.origin, k.seq, e.name(a.Addr))
		case peer.Dead:
			e.printf("  %s declares %s dead", p.name, e.name(a.Addr))
		case peer.Link:
			if a.N == 1 {
				e.printf("  %s link up %s", p.name, e.name(a.Addr))
			} else {
				e.printf("  %s link down %s", p.name, e.name(a.Addr))
			}
		}
	}
}

func (e *env) collectSeed(s *seedNode) {
	for _, a := range s.core.Ready() {
		switch a.Kind {
		case seed.Relay:
			for _, o := range e.seeds {
				if o.addr == a.Addr {
					e.queue = append(e.queue, event{kind: evRelay, seed: o, msg: a.Msg, relay: s.name})
				}
			}
		case seed.Removed:
			e.printf("  %s removes %s", s.name, e.name(a.Addr))
		}
	}
}

func (e *env) pending() {
	if len(e.queue) > 0 {
		e.printf("(%d pending)", len(e.queue))
	}
}

func (e *env) printf(format string, args ...any) { e.out = append(e.out, fmt.Sprintf(format, args...)) }

func (e *env) name(a netip.AddrPort) string {
	if n, ok := e.byAddr[a]; ok {
		return n
	}
	return a.String()
}

func (e *env) peer(c *script.Case, i int) *node {
	if i < len(c.Args) {
		for _, p := range e.peers {
			if p.name == c.Args[i] && !p.crashed {
				return p
			}
		}
	}
	c.Fail(e.t, "no live peer named in %q", c.Line)
	return nil
}

func (e *env) atoi(c *script.Case, i int) int {
	if i < len(c.Args) {
		if n, err := strconv.Atoi(c.Args[i]); err == nil {
			return n
		}
	}
	c.Fail(e.t, "argument %d is not a number", i+1)
	return 0
}

// line is m as it goes on the wire, cut at 96 bytes.
func line(m *wire.Message) string {
	s := string(m.Append(nil))
	if len(s) > 96 {
		s = s[:96] + "..."
	}
	return s
}
