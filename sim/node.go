package sim

import (
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/whispernet/whispernet/peer"
	"github.com/whispernet/whispernet/seed"
	"github.com/whispernet/whispernet/wire"
)

// A window runs in two phases (see world.loop for why by node at all).
//
// Phase A calls the protocol cores: a worker takes a run of nodes and, for
// each, feeds its events and due timers to its core in time order,
// keeping what came out (actions, events to schedule) as records in a
// batch. It touches only the node's own state (its core, its timer, its
// ends of links) and state nobody changes during the window.
//
// Phase B applies the records, batch after batch in node order, on one
// goroutine: sends (with the network's random delays and losses), new
// events, measurements. So everything shared changes in one fixed order,
// whatever the number of workers, and phase A of the next batches runs
// meanwhile on the other cores.
//
// Within a node nothing depends on phase B of its own earlier events: the
// lookahead keeps every consequence for other nodes out of the window, and
// the node's own state is kept up to date in phase A.

// recKind says what a record asks phase B to do.
type recKind uint8

const (
	recActs     recKind = iota + 1 // apply peer actions acts[lo:hi] of node
	recSeedActs                    // apply seed actions sacts[lo:hi] of seed node
	recPush                        // schedule ev one network delay later
	recTick                        // schedule node's tick at millisecond t
	recMsg                         // one-shot message ev.a arrived: free it
	recFreeReq                     // free seed request ev.a
	recJoined                      // node joined
	recClose                       // node's end ev.a closed as its owner died: tell the other side
)

type rec struct {
	kind   recKind
	node   int32
	at     int64 // the millisecond it happened
	lo, hi int32 // action range
	t      int64 // recTick
	ev     event
}

// batch is what phase A made of a run of nodes.
type batch struct {
	recs []rec
	acts []peer.Action
	// fan holds, for each gossip send in acts, the number of further ends
	// the same copy goes to, then those ends (see collect).
	fan   []int32
	sacts []seed.Action
	evs   []timed // the run's events
	end   int64   // the window's end
	done  chan struct{}
}

func (b *batch) reset() {
	b.recs, b.acts, b.sacts, b.fan = b.recs[:0], b.acts[:0], b.sacts[:0], b.fan[:0]
}

// worker runs phase A. Each has its own clock: different workers are at
// different times of the window.
type worker struct {
	w       *world
	now     int64
	nowT    time.Time
	out     *batch
	scratch []peer.Action // the actions of the last call into a peer (see peer)
	events  uint64
	copies  []int64 // copies of each gossip message received
	// received marks the call collect is about to record as a received
	// line's, which the CPU model charges (rec.t of recActs).
	received bool
	err      error
}

func (k *worker) setNow(t int64) {
	if t != k.now || k.nowT.IsZero() {
		k.now = t
		k.nowT = epoch.Add(time.Duration(t) * time.Millisecond)
	}
}

func (k *worker) rec(r rec) {
	r.at = k.now
	k.out.recs = append(k.out.recs, r)
}

// push asks phase B to schedule ev one network delay from now.
func (k *worker) push(ev event) { k.rec(rec{kind: recPush, ev: ev}) }

// runNodes runs phase A for evs, which are sorted by node and belong to
// the window ending at end.
func (k *worker) runNodes(evs []timed, end int64) {
	for i := 0; i < len(evs); {
		node := evs[i].ev.node
		for ; i < len(evs) && evs[i].ev.node == node; i++ {
			e := &evs[i]
			k.runTimers(node, e.at)
			k.setNow(e.at)
			k.handle(e.ev)
		}
		k.runTimers(node, end)
	}
}

// runTimers runs node's ticks due before millisecond limit that were
// scheduled within the window (and so are not in the queue).
func (k *worker) runTimers(node int32, limit int64) {
	w := k.w
	if node < int32(len(w.peers)) {
		p := &w.peers[node]
		for p.state == psAlive && p.timer >= 0 && p.timer < limit {
			k.setNow(p.timer)
			k.events++
			p.timer = -1
			k.peer(node).Tick(k.nowT)
			k.collect(node, false)
		}
		return
	}
	s := &w.seeds[node-int32(len(w.peers))]
	for s.timer >= 0 && s.timer < limit {
		k.setNow(s.timer)
		k.events++
		s.timer = -1
		s.core.Tick(k.nowT)
		k.collectSeed(node)
	}
}

func (k *worker) handle(ev event) {
	k.events++
	w := k.w
	switch ev.kind {
	case evMsg:
		k.onMsg(ev)
	case evTick:
		p := &w.peers[ev.node]
		if p.timer != k.now || p.state != psAlive {
			return // superseded by an earlier tick, or frozen or crashed
		}
		p.timer = -1
		k.peer(ev.node).Tick(k.nowT)
		k.collect(ev.node, false)
	case evJoin:
		k.join(ev.node)
	case evDialArrive:
		k.onDialArrive(ev)
	case evDialDone:
		k.onDialDone(ev)
	case evDialFail:
		if k.hold(ev) {
			return
		}
		addr := w.addrs[max(ev.a, 0)]
		if ev.a < 0 {
			addr = *w.strangers.at(-ev.a - 1)
		}
		k.peer(ev.node).DialFailed(k.nowT, addr)
		k.collect(ev.node, false)
	case evFin:
		k.onFin(ev)
	case evSeedReq:
		r := w.reqs.at(ev.a)
		s := &w.seeds[r.seed]
		r.reply = s.core.Handle(k.nowT, w.addrs[r.peer].Addr(), r.req)
		k.collectSeed(ev.node)
		k.push(event{kind: evSeedReply, node: r.peer, a: ev.a})
	case evSeedReply, evSeedFail:
		k.onSeedReply(ev)
	case evRelay:
		s := &w.seeds[ev.node-int32(len(w.peers))]
		s.core.Handle(k.nowT, w.seeds[ev.a].addr.Addr(), w.slab.at(ev.b).msg)
		k.rec(rec{kind: recMsg, ev: event{a: ev.b}})
		k.collectSeed(ev.node)
	case evSeedTick:
		s := &w.seeds[ev.node-int32(len(w.peers))]
		if s.timer != k.now {
			return
		}
		s.timer = -1
		s.core.Tick(k.nowT)
		k.collectSeed(ev.node)
	case evPublish:
		if w.peers[ev.node].state == psAlive {
			// The classic text <timestamp>:<IP>:<PORT>:<Msg#>.
			k.publish(ev.node, peer.GeneratedText(k.nowT, w.addrs[ev.node], int(ev.a)))
		} // a crashed or frozen origin never publishes it
	default:
		panic(fmt.Sprintf("sim: event kind %d at a node", ev.kind))
	}
}

// hold keeps an event for a frozen peer until it thaws, and drops one for
// a crashed peer. It reports whether the event was taken care of.
func (k *worker) hold(ev event) bool {
	p := &k.w.peers[ev.node]
	switch p.state {
	case psAlive:
		return false
	case psFrozen:
		p.deferred = append(p.deferred, ev)
	}
	return true
}

func (k *worker) join(i int32) {
	w := k.w
	p := &w.peers[i]
	cfg := w.cfg.Peer
	cfg.Self, cfg.Seeds = w.addrs[i], w.seedAddrs
	rs := PeerRandSeed(w.cfg.RandSeed, int(i))
	core, err := peer.New(cfg, peer.NewRand(rs))
	if err != nil {
		panic(err) // the template was checked in newWorld
	}
	p.core, p.state, p.joined = core, psAlive, k.now
	k.rec(rec{kind: recJoined, node: i})
	k.peer(i).Start(k.nowT)
	k.collect(i, false)
}

func (k *worker) publish(o int32, text string) {
	k.peer(o).Publish(k.nowT, text) // phase B registers the message at its Deliver
	k.collect(o, false)
}

// peer returns peer i's core, ready for a call: its actions go to the
// worker's scratch buffer (Peer.Outbox), which stays in this core's
// caches, and collect packs them into the batch.
func (k *worker) peer(i int32) *peer.Peer {
	c := k.w.peers[i].core
	k.scratch = k.scratch[:0]
	c.Outbox(&k.scratch)
	return c
}

// collect records the actions of peer i's last call (see peer) and
// reschedules its timer. After a
// received message, a peer that only forwarded it or answered (actions
// Send, Deliver, Log and Duplicate) cannot have brought its next deadline
// forward: asking it would cost as much as the message, on the hottest
// path of a run, so it is skipped (tests check this after every such
// message).
//
// The actions go into the batch packed: the sends of one forward, which
// differ only in their connection, become one action and the other ends
// (batch.fan). A batch crosses from this core to phase B's, and a flood's
// sends are most of what it carries.
func (k *worker) collect(i int32, received bool) {
	w := k.w
	b := k.out
	acts := k.scratch
	more := !received
	if len(acts) > 0 {
		lo := int32(len(b.acts))
		count := -1 // index in b.fan of the open forward's count, -1 if none
		for j := range acts {
			a := &acts[j]
			switch a.Kind {
			case peer.Send:
				if a.Msg.Kind == wire.KindGossip {
					if count >= 0 && sameCopy(&b.acts[len(b.acts)-1].Msg, &a.Msg) {
						b.fan[count]++
						b.fan = append(b.fan, int32(a.Conn-1))
						continue
					}
					count = len(b.fan)
					b.fan = append(b.fan, 0)
					b.acts = append(b.acts, *a)
					continue
				}
			case peer.Deliver, peer.Log, peer.Duplicate:
			case peer.Close:
				// The core forgot the connection: so does its end, at once.
				end := int32(a.Conn - 1)
				w.ends[end] &^= endOpen
				more = true
			default:
				more = true
			}
			count = -1
			b.acts = append(b.acts, *a)
		}
		r := rec{kind: recActs, node: i, lo: lo, hi: int32(len(b.acts))}
		if k.received {
			r.t = 1
		}
		k.rec(r)
	} else if k.received && w.cpuOn {
		k.rec(rec{kind: recActs, node: i, lo: int32(len(b.acts)), hi: int32(len(b.acts)), t: 1})
	}
	k.received = false
	if more {
		k.reschedule(i)
	} else if w.cfg.verify {
		k.verifyTimer(i)
	}
}

// sameCopy reports whether two gossip messages are the same copy: the same
// message at the same hop count, what world.intern shares one handle by.
func sameCopy(a, b *wire.Message) bool {
	return a.Addr == b.Addr && a.Seq == b.Seq && a.Hops == b.Hops
}

// reschedule makes sure a tick is scheduled for peer i's next deadline:
// in this window, runTimers runs it; later, phase B queues it. A tick
// scheduled earlier than needed stays: it finds nothing to do.
func (k *worker) reschedule(i int32) {
	p := &k.w.peers[i]
	if p.state != psAlive {
		return
	}
	d := p.core.NextDeadline()
	if d.IsZero() {
		return
	}
	t := max(tickOf(d), k.now+1)
	if p.timer < 0 || t < p.timer {
		p.timer = t
		if t >= k.out.end {
			k.rec(rec{kind: recTick, node: i, t: t})
		}
	}
}

// verifyTimer checks that peer i's tick is not scheduled after its next
// deadline.
func (k *worker) verifyTimer(i int32) {
	p := &k.w.peers[i]
	d := p.core.NextDeadline()
	if d.IsZero() || k.err != nil {
		return
	}
	if t := max(tickOf(d), k.now+1); p.timer < 0 || t < p.timer {
		k.err = fmt.Errorf("sim: peer %d: a message that only made it forward moved its deadline to %d ms, before its tick at %d ms", i, t, p.timer)
	}
}

// collectSeed records seed node s's actions and reschedules its timer.
func (k *worker) collectSeed(node int32) {
	w := k.w
	s := &w.seeds[node-int32(len(w.peers))]
	if acts := s.core.Ready(); len(acts) > 0 {
		b := k.out
		lo := int32(len(b.sacts))
		b.sacts = append(b.sacts, acts...)
		k.rec(rec{kind: recSeedActs, node: node, lo: lo, hi: int32(len(b.sacts))})
	}
	if d := s.core.NextDeadline(); !d.IsZero() {
		t := max(tickOf(d), k.now+1)
		if s.timer < 0 || t < s.timer {
			s.timer = t
			if t >= k.out.end {
				k.rec(rec{kind: recTick, node: node, t: t})
			}
		}
	}
}

func (k *worker) onMsg(ev event) {
	w := k.w
	p := &w.peers[ev.node]
	if e := &w.ends[ev.a]; p.state != psAlive || *e&endOpen == 0 {
		if p.state == psAlive && *e&endLost != 0 {
			// The receiver closed this end and its close was lost in a
			// partition: the sender learns now, as from a TCP reset.
			*e &^= endLost
			k.push(event{kind: evFin, node: w.links[ev.a>>1].peer[ev.a&1^1], a: ev.a ^ 1})
		}
		k.rec(rec{kind: recMsg, ev: event{a: ev.b}})
		return
	}
	sm := w.slab.at(ev.b)
	m := sm.msg
	if gid := sm.gid; gid >= 0 {
		// An interned gossip message: count the copy here (phase B would
		// have nothing else to do with it).
		for int(gid) >= len(k.copies) {
			k.copies = append(k.copies, 0)
		}
		k.copies[gid]++
	} else {
		k.rec(rec{kind: recMsg, ev: event{a: ev.b}})
	}
	k.peer(ev.node).Receive(k.nowT, connID(ev.a), m)
	k.received = true // for the CPU model (collect)
	k.collect(ev.node, true)
}

func (k *worker) onDialArrive(ev event) {
	w := k.w
	j, i, l := ev.node, ev.a, ev.b
	if l < 0 {
		k.push(event{kind: evDialFail, node: i, a: j}) // refused
		return
	}
	// The listener's kernel accepts the connection (a frozen peer's too).
	in := event{kind: evDialDone, node: j, a: l<<1 | 1}
	if !k.hold(in) {
		k.peer(j).Opened(k.nowT, connID(l<<1|1), remoteAddr(w.addrs[i], l), false)
		k.collect(j, false)
	}
	k.push(event{kind: evDialDone, node: i, a: l << 1})
}

// remoteAddr is the socket address a listener sees for link l from a
// peer: its IP and some ephemeral port.
func remoteAddr(from netip.AddrPort, l int32) netip.AddrPort {
	return netip.AddrPortFrom(from.Addr(), uint16(32768+l%28000))
}

func (k *worker) onDialDone(ev event) {
	w := k.w
	p := &w.peers[ev.node]
	l := &w.links[ev.a>>1]
	switch {
	case ev.a&1 == 1: // a thawed listener learns of an accepted connection
		if !k.hold(ev) {
			k.peer(ev.node).Opened(k.nowT, connID(ev.a), remoteAddr(w.addrs[l.peer[0]], ev.a>>1), false)
			k.collect(ev.node, false)
		}
	case p.state == psCrashed:
		// The dialer is gone: its kernel resets the connection.
		w.ends[ev.a] &^= endOpen
		k.rec(rec{kind: recClose, ev: event{a: ev.a}})
	case !k.hold(ev):
		k.peer(ev.node).Opened(k.nowT, connID(ev.a), w.addrs[l.peer[1]], true)
		k.collect(ev.node, false)
	}
}

func (k *worker) onFin(ev event) {
	w := k.w
	e := &w.ends[ev.a]
	if *e&endOpen == 0 {
		return
	}
	if k.hold(ev) {
		if w.peers[ev.node].state == psCrashed {
			*e &^= endOpen
		}
		return
	}
	*e &^= endOpen
	k.peer(ev.node).Closed(k.nowT, connID(ev.a))
	k.collect(ev.node, false)
}

func (k *worker) onSeedReply(ev event) {
	w := k.w
	if k.hold(ev) {
		if w.peers[ev.node].state == psCrashed {
			k.rec(rec{kind: recFreeReq, ev: event{a: ev.a}})
		}
		return
	}
	r := w.reqs.at(ev.a)
	if ev.kind == evSeedFail {
		addr := netip.AddrPort{} // not a seed: the core ignores it
		if r.seed >= 0 {
			addr = w.seedAddrs[r.seed]
		}
		k.peer(ev.node).SeedFailed(k.nowT, addr, r.req)
	} else {
		k.peer(ev.node).SeedReply(k.nowT, w.seedAddrs[r.seed], r.req, r.reply)
	}
	k.rec(rec{kind: recFreeReq, ev: event{a: ev.a}})
	k.collect(ev.node, false)
}

// pipeline runs the windows' phase A on worker goroutines and phase B on
// the caller's.
type pipeline struct {
	w       *world
	workers []*worker
	jobs    chan *batch
	wg      sync.WaitGroup
	free    []*batch
	chunk   int // events per batch, at least
}

// ahead is how many batches may wait for phase B, per worker.
const ahead = 4

func newPipeline(w *world, workers int) *pipeline {
	p := &pipeline{w: w, chunk: 256}
	if w.cfg.chunk > 0 {
		p.chunk = w.cfg.chunk
	}
	if workers > 1 {
		p.jobs = make(chan *batch, ahead*workers)
		for range workers {
			k := &worker{w: w}
			p.workers = append(p.workers, k)
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				for b := range p.jobs {
					k.out = b
					k.runNodes(b.evs, b.end)
					close(b.done)
					// Closing done readied phase B's goroutine on this
					// P, where it would wait for the next preemption
					// while this worker went on: yield, so that phase B
					// keeps up and the workers never run out of batches
					// (100,000 peers: 117 s -> 108 s).
					runtime.Gosched()
				}
			}()
		}
	}
	return p
}

func (p *pipeline) close() {
	if p.jobs != nil {
		close(p.jobs)
		p.wg.Wait()
		p.jobs = nil
	}
}

func (p *pipeline) batch() *batch {
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		return b
	}
	return &batch{}
}

// run runs a window's events, sorted by node.
func (p *pipeline) run(evs []timed, end int64) {
	w := p.w
	if p.jobs == nil || len(evs) < 2*p.chunk {
		b := p.batch()
		b.evs, b.end = evs, end
		k := w.main
		k.out = b
		k.runNodes(evs, end)
		w.applyBatch(b)
		p.release(b)
		w.collectWorker(k)
		return
	}
	// Cut the window into runs of whole nodes; hand them out in order,
	// at most limit ahead of phase B, whose buffers are reused.
	var cuts []int
	for lo := 0; lo < len(evs); {
		hi := min(lo+p.chunk, len(evs))
		for hi < len(evs) && evs[hi].ev.node == evs[hi-1].ev.node {
			hi++
		}
		cuts = append(cuts, hi)
		lo = hi
	}
	limit := ahead * len(p.workers)
	queued := make([]*batch, 0, limit)
	lo, next := 0, 0
	for applied := 0; applied < len(cuts); applied++ {
		for ; next < len(cuts) && next < applied+limit; next++ {
			b := p.batch()
			b.evs, b.end, b.done = evs[lo:cuts[next]], end, make(chan struct{})
			lo = cuts[next]
			queued = append(queued, b)
			p.jobs <- b
		}
		b := queued[0]
		queued = queued[1:]
		<-b.done
		w.applyBatch(b)
		p.release(b)
	}
	for _, k := range p.workers {
		w.collectWorker(k)
	}
}

func (p *pipeline) release(b *batch) {
	b.reset()
	b.evs, b.done = nil, nil
	p.free = append(p.free, b)
}
