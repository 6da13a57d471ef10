package sim

import (
	"fmt"

	"github.com/whispernet/whispernet/topology"
	"github.com/whispernet/whispernet/wire"
)

// Global events: the formation check, the scenario's plan and its steps.
// They run between windows, on the main goroutine.

func (w *world) probe() {
	if w.formed >= 0 {
		return
	}
	ok := w.settled()
	if !ok && w.now < ms(w.cfg.FormationTimeout) {
		w.pushGlobal(w.now+100, event{kind: evProbe})
		return
	}
	w.formed = w.now
	w.formedOK = ok
	w.lastStep = w.now
	w.plan()
	w.pushGlobal(w.lastStep+1000, event{kind: evSettle})
}

// settled reports whether the overlay has formed: every peer joined,
// none isolated, all in one component, and links have settled: fewer link
// changes over the last Quiet than a hundredth of the links' ends. (A
// few peers short of their target keep finding a partner now and then, at
// 100,000 peers every few milliseconds, so waiting for no change at all
// would measure luck.)
func (w *world) settled() bool {
	if w.joinedN < w.cfg.Peers || w.isolated > 0 {
		return false
	}
	changes := 0
	for b := (w.now - ms(w.cfg.Quiet)) / 100; b <= w.now/100; b++ {
		if b >= 0 && int(b) < len(w.linkHist) {
			changes += w.linkHist[b]
		}
	}
	if 100*changes > w.linkEnds {
		return false
	}
	return w.components() == 1
}

// components counts the connected components of the live peers.
func (w *world) components() int {
	f := topology.NewForest(len(w.peers))
	n := 0
	for j := range w.peers {
		if w.peers[j].state != psAlive {
			continue
		}
		n++
		for _, i := range w.peers[j].in {
			if w.peers[i].state != psAlive {
				continue
			}
			if f.Union(i, int32(j)) {
				n--
			}
		}
	}
	return n
}

// plan schedules the gossip plan, the midway crash and the steps.
func (w *world) plan() {
	interval := ms(w.cfg.Peer.GossipInterval)
	origins := w.pick(w.cfg.Origins, 0, nil)
	for _, o := range origins {
		w.peers[o].origin = true
		off := w.scenRNG.Int64N(interval)
		for k := 0; k < w.cfg.Messages; k++ {
			at := w.now + off + int64(k)*interval
			w.push(at, event{kind: evPublish, node: o, a: int32(k + 1)})
			w.lastStep = max(w.lastStep, at)
		}
	}
	if w.cfg.Crash > 0 {
		at := w.now + int64(w.cfg.Messages)*interval/2
		w.pushGlobal(at, event{kind: evMidCrash})
		w.lastStep = max(w.lastStep, at)
	}
	for i, s := range w.cfg.Steps {
		at := w.now + ms(s.At)
		w.pushGlobal(at, event{kind: evStep, a: int32(i)})
		w.lastStep = max(w.lastStep, at)
	}
}

// pick chooses count peers (or fraction of the live ones) at random among
// the live, unfrozen ones, avoiding gossip origins while others are left.
// explicit, if not empty, is returned as is.
func (w *world) pick(count int, fraction float64, explicit []int) []int32 {
	if len(explicit) > 0 {
		out := make([]int32, len(explicit))
		for i, p := range explicit {
			out[i] = int32(p)
		}
		return out
	}
	var plain, origins []int32
	for i := range w.peers {
		p := &w.peers[i]
		if p.state != psAlive {
			continue
		}
		if p.origin {
			origins = append(origins, int32(i))
		} else {
			plain = append(plain, int32(i))
		}
	}
	if count == 0 {
		count = int(fraction*float64(len(plain)+len(origins)) + 0.5)
	}
	var out []int32
	for _, pool := range [][]int32{plain, origins} {
		for len(out) < count && len(pool) > 0 {
			k := w.scenRNG.IntN(len(pool))
			out = append(out, pool[k])
			pool[k] = pool[len(pool)-1]
			pool = pool[:len(pool)-1]
		}
	}
	return out
}

// inline runs fn as phase A on the main worker and applies what it
// recorded at once: global events call the cores this way.
func (w *world) inline(fn func(k *worker)) {
	k := w.main
	b := w.pipe.batch()
	b.end = w.windowEnd
	k.out = b
	k.setNow(w.now)
	fn(k)
	w.applyBatch(b)
	w.pipe.release(b)
	w.collectWorker(k)
}

func (w *world) step(s Step) {
	switch s.Kind {
	case StepCrash:
		w.crashSome(w.pick(s.Count, s.Fraction, s.Peers))
	case StepFreeze:
		for _, i := range w.pick(s.Count, s.Fraction, s.Peers) {
			w.freeze(i)
		}
	case StepThaw:
		for i := range w.peers {
			if w.peers[i].state == psFrozen {
				w.thaw(int32(i))
			}
		}
	case StepJoin:
		for range s.Count {
			i := int32(w.nextIndex)
			w.nextIndex++
			w.push(w.now, event{kind: evJoin, node: i})
		}
	case StepPartition:
		w.nextGrp++
		if s.Seeds {
			for k := range w.seeds {
				w.seeds[k].group = w.nextGrp
			}
			return
		}
		var group []int32
		if len(s.Peers) > 0 {
			group = w.pick(0, 0, s.Peers)
		} else {
			// Any live peer, origins included: a partition is about
			// places, not roles.
			for i := range w.peers {
				if w.peers[i].state != psIdle && w.peers[i].state != psCrashed {
					group = append(group, int32(i))
				}
			}
			n := s.Count
			if n == 0 {
				n = int(s.Fraction*float64(len(group)) + 0.5)
			}
			for k := 0; k < n && k < len(group); k++ {
				j := k + w.scenRNG.IntN(len(group)-k)
				group[k], group[j] = group[j], group[k]
			}
			group = group[:min(n, len(group))]
		}
		for _, i := range group {
			w.peers[i].group = w.nextGrp
		}
		w.peersCut = w.peersCut || len(group) > 0
	case StepHeal:
		w.peersCut = false
		for i := range w.peers {
			w.peers[i].group = 0
		}
		for k := range w.seeds {
			w.seeds[k].group = 0
		}
	case StepLoss:
		w.loss = s.Fraction
	case StepPublish:
		for _, o := range w.pick(s.Count, s.Fraction, s.Peers) {
			if w.peers[o].state == psAlive {
				text := fmt.Sprintf("%s:%s:step", wire.TimestampOf(w.nowT), wire.FormatAddr(w.addrs[o]))
				w.inline(func(k *worker) { k.publish(o, text) })
			}
		}
	}
}

func (w *world) crashSome(victims []int32) {
	for _, i := range victims {
		w.crash(i)
	}
}

// crash stops peer i as the TCP runtime does when its process dies: the
// core closes every connection and the peer is gone.
func (w *world) crash(i int32) {
	p := &w.peers[i]
	if p.state != psAlive && p.state != psFrozen {
		return
	}
	w.failed(i, true)
	if p.state == psFrozen {
		p.deferred = nil
	}
	w.inline(func(k *worker) {
		p.state = psAlive // let the closes be carried out
		k.peer(i).Stop(k.nowT)
		k.collect(i, false)
	})
	p.state = psCrashed
	w.isolatedGone(i)
}

func (w *world) freeze(i int32) {
	p := &w.peers[i]
	if p.state != psAlive {
		return
	}
	w.failed(i, false)
	p.state = psFrozen
	w.isolatedGone(i)
}

func (w *world) thaw(i int32) {
	p := &w.peers[i]
	p.state = psAlive
	if p.degree == 0 {
		w.isolated++
	}
	if f := p.fail; f >= 0 {
		w.failures[f].thawed = true
	}
	held := p.deferred
	p.deferred = nil
	p.timer = -1
	w.inline(func(k *worker) {
		for _, ev := range held {
			k.handle(ev)
			k.events-- // counted when it first arrived
		}
		k.reschedule(i)
	})
}

// isolatedGone keeps the isolated count when peer i stops being live.
func (w *world) isolatedGone(i int32) {
	if w.peers[i].degree == 0 {
		w.isolated--
	}
}
