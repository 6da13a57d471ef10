package sim

import (
	"net/netip"
	"time"

	"github.com/whispernet/whispernet/peer"
	"github.com/whispernet/whispernet/seed"
	"github.com/whispernet/whispernet/wire"
)

// Phase B: what the records of phase A do to the rest of the world. It
// runs on one goroutine, in node order, with the world's clock set to the
// time of each record.

// collectWorker takes a worker's counts and error.
func (w *world) collectWorker(k *worker) {
	w.events += k.events
	k.events = 0
	for gid, n := range k.copies {
		w.msgs[gid].copies += n
	}
	clear(k.copies)
	if k.err != nil && w.verifyErr == nil {
		w.verifyErr = k.err
	}
}

// applyBatch applies a batch's records in order.
func (w *world) applyBatch(b *batch) {
	fan := b.fan // consumed in order, by applyActions
	for i := range b.recs {
		r := &b.recs[i]
		w.setNow(r.at)
		switch r.kind {
		case recActs:
			if w.cpuOn {
				w.cpuStart(r.node, r.t)
			}
			fan = w.applyActions(r.node, b.acts[r.lo:r.hi], fan)
		case recSeedActs:
			w.applySeedActions(r.node-int32(len(w.peers)), b.sacts[r.lo:r.hi])
		case recPush:
			w.push(w.delay(), r.ev)
		case recTick:
			kind := evTick
			if r.node >= int32(len(w.peers)) {
				kind = evSeedTick
			}
			w.push(r.t, event{kind: kind, node: r.node})
		case recMsg:
			w.freeMsg(r.ev.a)
		case recFreeReq:
			// The peer has copied what it wanted from the reply.
			seed.Release(w.reqs.at(r.ev.a).reply)
			w.reqs.put(r.ev.a)
		case recJoined:
			w.joinedN++
			w.isolated++
		case recClose:
			w.closeEnd(r.ev.a)
		}
	}
}

// delay returns the arrival time of something sent now over a link.
func (w *world) delay() int64 {
	d := ms(w.cfg.Latency)
	if w.cfg.Jitter > 0 {
		d = ms(w.cfg.Latency + time.Duration(w.netRNG.Int64N(int64(w.cfg.Jitter)+1)))
	}
	return w.now + max(d, 1)
}

// applyActions carries out the actions of peer i. A gossip send stands
// for its further ends in fan (see worker.collect); it returns the rest of
// fan.
func (w *world) applyActions(i int32, acts []peer.Action, fan []int32) []int32 {
	for k := range acts {
		a := &acts[k]
		switch a.Kind {
		case peer.Send:
			end := int32(a.Conn - 1)
			if a.Msg.Kind == wire.KindGossip {
				// The sends of one forward share one message.
				h := w.intern(&a.Msg)
				w.send(i, end, h)
				n := fan[0]
				for _, e := range fan[1 : 1+n] {
					w.send(i, e, h)
				}
				fan = fan[1+n:]
			} else {
				w.send(i, end, w.newMsg(&a.Msg))
			}
		case peer.Deliver:
			w.onDeliver(i, a)
		case peer.Dial:
			w.dial(i, a.Addr)
		case peer.Close:
			w.closeEnd(int32(a.Conn - 1))
		case peer.SeedRequest:
			w.seedRequest(i, a.Addr, &a.Msg)
		case peer.Degree:
			w.onDegree(i, a.N)
		case peer.Link:
			w.onLink(i, a.Addr, a.N == 1)
		case peer.Dead:
			w.onDead(i, a.Addr)
		}
	}
	return fan
}

// newMsg stores a one-shot message and returns its handle.
func (w *world) newMsg(m *wire.Message) int32 {
	return w.slab.get(slabMsg{msg: *m, gid: -1})
}

// freeMsg releases a one-shot message; interned ones stay.
func (w *world) freeMsg(h int32) {
	if w.slab.at(h).gid < 0 {
		w.slab.put(h)
	}
}

// intern returns the shared handle of a gossip message at its hop count.
func (w *world) intern(m *wire.Message) int32 {
	gid := w.msgID(m)
	if gid < 0 {
		return w.newMsg(m) // not one of ours (cannot happen): send it as is
	}
	hops := &w.msgs[gid].hops
	for int(m.Hops) >= len(*hops) {
		*hops = append(*hops, -1)
	}
	h := (*hops)[m.Hops]
	if h < 0 {
		h = w.slab.add(slabMsg{msg: *m, gid: gid})
		(*hops)[m.Hops] = h
	}
	return h
}

// msgID returns the id of a gossip message, or -1.
func (w *world) msgID(m *wire.Message) int32 {
	o := w.peerIndex(m.Addr)
	if o < 0 || m.Seq == 0 || int(m.Seq) > len(w.peers[o].pub) {
		return -1
	}
	return w.peers[o].pub[m.Seq-1]
}

// apart reports whether a partition separates peers i and j. Without
// one, it reads neither peer: a send then touches only the link.
func (w *world) apart(i, j int32) bool {
	return w.peersCut && w.peers[i].group != w.peers[j].group
}

// cpuStart charges peer i's CPU for received lines (0 or 1) at the
// current millisecond (see cpuRun); what the peer sends now leaves after
// it (cpuSend).
func (w *world) cpuStart(i int32, received int64) {
	if received > 0 {
		w.cpuRun(i, w.cpuRecv)
	}
}

// cpuSend charges peer i's CPU for one sent line and returns the
// millisecond the line leaves (the current one without the CPU model).
func (w *world) cpuSend(i int32) int64 {
	if !w.cpuOn {
		return w.now
	}
	// Whole milliseconds, rounded up: never before the CPU is done.
	return (w.cpuRun(i, w.cpuSendNs) + 1e6 - 1) / 1e6
}

// cpuRun runs cost ns of peer i's work and returns when it is done. A
// peer is one loop: its work runs in order, from now at the earliest. The
// shared cores are a fluid queue: the work of all peers in a window adds
// to a backlog that the cores drain at their speed (cpuWindow), and every
// line waits for the backlog as it stood at the window's start. So the
// result does not depend on the order in which phase B charges a window.
func (w *world) cpuRun(i int32, cost int64) int64 {
	p := &w.peers[i]
	p.cpuFree = max(w.now*1e6, p.cpuFree) + cost
	w.cpuDemand += cost
	w.cpuLines++
	return p.cpuFree + w.cpuBacklog
}

// cpuWindow updates the cores' backlog at the end of a window that ended
// at millisecond end: the window's work joins it, and the cores worked
// it off since the previous window's end.
func (w *world) cpuWindow(end int64) {
	elapsed := (end - w.cpuLast) * 1e6
	w.cpuLast = end
	w.cpuBacklog = max(0, w.cpuBacklog+w.cpuDemand-int64(len(w.cpuCores))*elapsed)
	w.cpuDemand = 0
	w.cpuMaxBacklog = max(w.cpuMaxBacklog, w.cpuBacklog)
}

// send puts message h on the wire from end (link<<1|side) of peer i.
func (w *world) send(i int32, end int32, h int32) {
	l := &w.links[end>>1]
	side := end & 1
	j := l.peer[side^1]
	if w.apart(i, j) {
		w.freeMsg(h) // cut off by a partition
		return
	}
	if w.loss > 0 && w.netRNG.Float64() < w.loss {
		w.freeMsg(h)
		w.lost++
		return
	}
	at := max(w.delay()+w.cpuSend(i)-w.now, l.last[side])
	l.last[side] = at
	w.push(at, event{kind: evMsg, node: j, a: end ^ 1, b: h})
}

func (w *world) dial(i int32, a netip.AddrPort) {
	j := w.peerIndex(a)
	switch {
	case j < 0:
		// Nobody listens there (peers learn only peers' addresses from
		// the seeds, so this does not happen): refused.
		s := w.strangers.add(a)
		w.push(w.delay(), event{kind: evDialFail, node: i, a: -s - 1})
	case w.apart(i, j):
		w.push(w.now+ms(w.cfg.DialTimeout), event{kind: evDialFail, node: i, a: j})
	default:
		w.push(w.delay(), event{kind: evDialArrive, node: j, a: i})
	}
}

// closeEnd sends the close of one end of a link (already closed by its
// owner) to the other end, which ignores it if it closed too.
func (w *world) closeEnd(end int32) {
	l := &w.links[end>>1]
	side := end & 1
	i, j := l.peer[side], l.peer[side^1]
	if w.apart(i, j) {
		w.ends[end] |= endLost
		return
	}
	at := max(w.delay(), l.last[side])
	l.last[side] = at
	w.push(at, event{kind: evFin, node: j, a: end ^ 1})
}

func (w *world) seedRequest(i int32, to netip.AddrPort, m *wire.Message) {
	k := int32(-1)
	for s := range w.seedAddrs {
		if w.seedAddrs[s] == to {
			k = int32(s)
		}
	}
	r := w.reqs.get(seedReq{peer: i, seed: k, req: *m})
	switch {
	case k < 0:
		w.push(w.delay(), event{kind: evSeedFail, node: i, a: r})
	case w.seeds[k].group != w.peers[i].group:
		w.push(w.now+ms(w.cfg.SeedTimeout), event{kind: evSeedFail, node: i, a: r})
	default:
		w.push(w.delay(), event{kind: evSeedReq, node: w.seedNode(k), a: r})
	}
}

// applySeedActions carries out the actions of seed k.
func (w *world) applySeedActions(k int32, acts []seed.Action) {
	s := &w.seeds[k]
	for i := range acts {
		a := &acts[i]
		switch a.Kind {
		case seed.Relay:
			to := int32(-1)
			for o := range w.seedAddrs {
				if w.seedAddrs[o] == a.Addr {
					to = int32(o)
				}
			}
			if to >= 0 && w.seeds[to].group == s.group {
				w.push(w.delay(), event{kind: evRelay, node: w.seedNode(to), a: k, b: w.newMsg(&a.Msg)})
			}
		case seed.Removed:
			w.onRemoved(k, a.Addr)
		}
	}
}
