package sim

import (
	"math/bits"
	"net/netip"
	"slices"

	"github.com/whispernet/whispernet/peer"
)

// msgInfo follows one published gossip message.
type msgInfo struct {
	origin   int32
	created  int64    // millisecond of publication
	hops     []int32  // interned slab handle by hop count, -1 if none yet
	got      []uint64 // bitset of the peers that delivered it
	copies   int64    // copies that reached a live peer, duplicates included
	receipts int32    // first receipts (the origin's own excluded)
	last     int64    // millisecond of the last first receipt
	lastHops int32    // links crossed by that receipt
	maxHops  int32    // the most links any first receipt crossed
}

// failure follows one crashed or frozen peer until it is detected.
type failure struct {
	peer     int32
	at       int64 // millisecond of the crash or freeze
	crash    bool
	thawed   bool
	hadNbrs  bool    // someone had a link to it
	waiting  []int32 // peers with a link to it that have not declared it dead
	lastDecl int64   // millisecond of the last declaration
	nbrDone  int64   // millisecond every neighbour had declared it, -1
	seeds    uint64  // seeds still listing it (bit k: seed k)
	hadSeeds bool
	seedLast int64 // millisecond of the last removal by a seed
	seedDone int64 // millisecond no seed listed it any more, -1
}

// stats are the measurements a run collects as it goes.
type stats struct {
	events         uint64
	done           bool
	formedOK       bool // formed by the criterion, not by the timeout
	msgs           []msgInfo
	failures       []failure
	lost           uint64   // messages lost to the loss rate
	duplicates     uint64   // second deliveries of a message to a peer (must stay 0)
	falsePositives int      // live peers declared dead
	falseRemovals  int      // live peers removed by a seed
	hist           []uint64 // first receipts by delay in milliseconds
	words          int      // bitset words per message
	linkHist       []int    // Link actions by 100 ms of virtual time
	linkEnds       int      // links up, counted at both ends
}

func (w *world) initStats(n int) {
	w.words = (n + 63) / 64
}

// newGossip registers the message origin o is about to publish and
// returns its id.
func (w *world) newGossip(o int32) int32 {
	w.msgs = append(w.msgs, msgInfo{origin: o, created: w.now, got: make([]uint64, w.words), last: -1})
	return int32(len(w.msgs) - 1)
}

func (w *world) onDeliver(i int32, a *peer.Action) {
	if a.Addr == w.addrs[i] {
		// The origin's own copy, emitted before the message's sends: the
		// moment to start following it.
		p := &w.peers[i]
		if int(a.Msg.Seq) == len(p.pub)+1 {
			p.pub = append(p.pub, w.newGossip(i))
		}
		return
	}
	gid := w.msgID(&a.Msg)
	if gid < 0 {
		return
	}
	m := &w.msgs[gid]
	word, bit := i/64, uint64(1)<<(i%64)
	if m.got[word]&bit != 0 {
		w.duplicates++
		return
	}
	m.got[word] |= bit
	m.receipts++
	d := w.now - m.created
	for int(d) >= len(w.hist) {
		w.hist = append(w.hist, 0)
	}
	w.hist[d]++
	hops := int32(a.Msg.Hops) + 1
	m.maxHops = max(m.maxHops, hops)
	if w.now > m.last || w.now == m.last && hops > m.lastHops {
		m.last, m.lastHops = w.now, hops
	}
}

func (w *world) onDegree(i int32, n int) {
	p := &w.peers[i]
	if p.state == psAlive {
		switch {
		case p.degree == 0 && n > 0:
			w.isolated--
		case p.degree > 0 && n == 0:
			w.isolated++
		}
	}
	p.degree = int32(n)
}

func (w *world) onLink(i int32, a netip.AddrPort, up bool) {
	j := w.peerIndex(a)
	if j < 0 {
		return
	}
	b := int(w.now / 100)
	for len(w.linkHist) <= b {
		w.linkHist = append(w.linkHist, 0)
	}
	w.linkHist[b]++
	if up {
		w.linkEnds++
	} else {
		w.linkEnds--
	}
	q := &w.peers[j]
	if up {
		q.in = append(q.in, i)
	} else if k := slices.Index(q.in, i); k >= 0 {
		q.in = slices.Delete(q.in, k, k+1)
	}
}

func (w *world) onDead(i int32, a netip.AddrPort) {
	j := w.peerIndex(a)
	if j < 0 {
		return
	}
	q := &w.peers[j]
	if q.state == psAlive {
		w.falsePositives++
		return
	}
	if q.fail < 0 {
		return
	}
	f := &w.failures[q.fail]
	if k := slices.Index(f.waiting, i); k >= 0 {
		f.waiting = slices.Delete(f.waiting, k, k+1)
		f.lastDecl = max(f.lastDecl, w.now)
		if len(f.waiting) == 0 && f.nbrDone < 0 {
			f.nbrDone = f.lastDecl
		}
	}
}

func (w *world) onRemoved(k int32, a netip.AddrPort) {
	j := w.peerIndex(a)
	if j >= 0 && w.peers[j].state == psAlive {
		w.falseRemovals++ // as onDead counts false positives
	}
	if j < 0 || w.peers[j].fail < 0 {
		return
	}
	f := &w.failures[w.peers[j].fail]
	if f.thawed || f.seeds&(1<<k) == 0 {
		return
	}
	f.seeds &^= 1 << k
	f.seedLast = max(f.seedLast, w.now)
	if f.seeds == 0 {
		f.seedDone = f.seedLast
	}
}

// failed starts following peer i, which crashes or freezes now.
func (w *world) failed(i int32, crash bool) {
	p := &w.peers[i]
	if p.fail >= 0 && !w.failures[p.fail].thawed {
		return // frozen, now crashed: detection counts from the freeze
	}
	f := failure{peer: i, at: w.now, crash: crash, waiting: slices.Clone(p.in), lastDecl: w.now, nbrDone: -1, seedDone: -1}
	f.hadNbrs = len(f.waiting) > 0
	for k := range w.seeds {
		if w.seeds[k].core.Has(w.addrs[i]) {
			f.seeds |= 1 << k
		}
	}
	f.hadSeeds = f.seeds != 0
	p.fail = int32(len(w.failures))
	w.failures = append(w.failures, f)
}

// pendingNeighbours returns the peers of f.waiting that could still
// declare it dead (live ones).
func (w *world) pendingNeighbours(f *failure) int {
	n := 0
	for _, j := range f.waiting {
		if w.peers[j].state == psAlive {
			n++
		}
	}
	return n
}

// settle ends the run once every message has reached every live peer and
// every failure has been detected, or once Settle has passed after the
// last planned event.
func (w *world) settle() {
	if w.now >= w.lastStep+ms(w.cfg.Settle) {
		w.done = true
		return
	}
	w.pushGlobal(w.now+1000, event{kind: evSettle})
	if w.now < w.lastStep {
		return
	}
	for fi := range w.failures {
		f := &w.failures[fi]
		if f.thawed {
			continue
		}
		if f.nbrDone < 0 && w.pendingNeighbours(f) > 0 || f.seedDone < 0 && f.hadSeeds {
			return
		}
	}
	live := w.liveMask()
	for gi := range w.msgs {
		if !w.complete(&w.msgs[gi], live) {
			return
		}
	}
	w.done = true
}

// liveMask returns the bitset of the peers alive throughout: joined at the
// start, never crashed or frozen.
func (w *world) liveMask() []uint64 {
	mask := make([]uint64, w.words)
	for i := 0; i < w.cfg.Peers; i++ {
		if p := &w.peers[i]; p.state == psAlive && p.fail < 0 {
			mask[i/64] |= 1 << (i % 64)
		}
	}
	return mask
}

// complete reports whether every peer of live but the origin delivered m.
func (w *world) complete(m *msgInfo, live []uint64) bool {
	o := m.origin
	for k, lw := range live {
		if k == int(o/64) {
			lw &^= 1 << (o % 64)
		}
		if lw&^m.got[k] != 0 {
			return false
		}
	}
	return true
}

// delivered counts the peers of live but the origin that delivered m, and
// the peers of live but the origin.
func (w *world) delivered(m *msgInfo, live []uint64) (got, want int) {
	o := m.origin
	for k, lw := range live {
		if k == int(o/64) {
			lw &^= 1 << (o % 64)
		}
		got += bits.OnesCount64(lw & m.got[k])
		want += bits.OnesCount64(lw)
	}
	return got, want
}
