// Candidates: the known peers, and choosing which to dial so the degree target holds.

package peer

import (
	"net/netip"
	"time"

	"github.com/whispernet/whispernet/topology"
	"github.com/whispernet/whispernet/wire"
)

// Candidate is a known peer: one a seed listed, that this peer may link to.
type Candidate struct {
	Addr netip.AddrPort
	// Cap and Degree are its capacity and degree as the seed last listed
	// them.
	Cap, Degree int
	// Failures counts the dials to it that failed in a row.
	Failures int
}

// Candidates returns the known peers (neighbours among them), in no
// particular order; at most Config.MaxKnown.
func (p *Peer) Candidates() []Candidate {
	out := make([]Candidate, len(p.known))
	for i, k := range p.known {
		out[i] = Candidate{Addr: k.addr, Cap: k.capacity, Degree: k.degree, Failures: k.failures}
	}
	return out
}

// learn adds or updates a candidate from a seed reply.
func (p *Peer) learn(e wire.PeerInfo) {
	if e.Addr == p.cfg.Self || !e.Addr.IsValid() {
		return
	}
	e.Cap, e.Degree = min(e.Cap, p.cfg.MaxCapacity), min(e.Degree, p.cfg.MaxCapacity)
	if i, ok := p.knownIdx.get(e.Addr); ok {
		k := p.known[i]
		k.capacity, k.degree, k.gen = e.Cap, e.Degree, p.infoGen
		return
	}
	fresh := known{addr: e.Addr, capacity: e.Cap, degree: e.Degree, gen: p.infoGen}
	if len(p.known) < p.cfg.MaxKnown {
		k := new(known)
		*k = fresh
		p.knownIdx.set(e.Addr, len(p.known))
		p.known = append(p.known, k)
		return
	}
	// Full: replace a random candidate, in place (a reply lists 256, and
	// most of them replace others: no allocation each).
	i := p.rng.IntN(len(p.known))
	k := p.known[i]
	p.knownIdx.del(k.addr)
	*k = fresh
	p.knownIdx.set(e.Addr, i)
}

func (p *Peer) forget(a netip.AddrPort) {
	i, ok := p.knownIdx.get(a)
	if !ok {
		return
	}
	last := len(p.known) - 1
	p.known[i] = p.known[last]
	p.knownIdx.set(p.known[i].addr, i)
	p.known = p.known[:last]
	p.knownIdx.del(a)
}

func (p *Peer) neighbour(a netip.AddrPort) *conn { return p.linked[a] }

// pendingOut counts outbound connections not yet established, probes of
// closed neighbours included.
func (p *Peer) pendingOut() int {
	return len(p.dialing) + len(p.probing) + len(p.awaiting)
}

// busyWith reports whether a link to a exists or is being made.
func (p *Peer) busyWith(a netip.AddrPort) bool {
	return p.dialing[a] || p.probing[a] || p.linked[a] != nil || p.awaiting[a] != nil
}

// fill dials candidates until established plus pending links reach the
// target, choosing each with probability proportional to its free slots.
func (p *Peer) fill(now time.Time) {
	if p.stopped {
		return
	}
	need := p.target - len(p.neighbours) - p.pendingOut()
	if need <= 0 {
		return
	}
	if len(p.neighbours) == 0 {
		// Unlinked: make one link, into the existing overlay, before any
		// other. Linking newcomers only to each other (every older peer
		// being full) would grow a separate island.
		if p.pendingOut() == 0 {
			p.dialFirstLink(now)
		}
		return
	}
	// Prefer what the latest seed reply said: free slots fill up fast, and
	// older entries mostly earn refusals. Fall back to every candidate.
	weights := make([]int, len(p.known))
	fresh := 0
	for i, k := range p.known {
		if p.usable(now, k) && k.gen == p.infoGen {
			weights[i] = topology.Free(k.capacity, k.degree)
			fresh += weights[i]
		}
	}
	if fresh < need {
		for i, k := range p.known {
			if p.usable(now, k) {
				weights[i] = topology.Free(k.capacity, k.degree)
			}
		}
	}
	for _, i := range topology.Pick(p.rng, weights, need) {
		p.dial(p.known[i].addr, false)
	}
}

// maxInfoEvery bounds, in fill intervals, the backoff between peer-info
// requests of a peer short of its target: in the endgame of a large
// overlay the last free slots move quickly, and a stale candidate list
// only produces refusals.
const maxInfoEvery = 4

// firstLinkTries is how many first-link dials to peers that looked free
// may fail before an unlinked peer asks a full one to take it in.
const firstLinkTries = 2

// firstLinkMissed counts a failed first-link dial and tries the next
// candidate at once: an unlinked peer makes one dial at a time, so this
// cannot turn into a storm, and it bounds the time to the first link by a
// few round trips instead of fill intervals.
func (p *Peer) firstLinkMissed(now time.Time) {
	if len(p.neighbours) == 0 {
		p.firstMisses++
		p.fill(now)
	}
}

// usable reports whether a candidate may be dialled now.
func (p *Peer) usable(now time.Time, k *known) bool {
	if now.Before(k.notBefore) || p.busyWith(k.addr) {
		return false
	}
	until, dead := p.dead[k.addr]
	return !dead || !now.Before(until)
}

func (p *Peer) dial(a netip.AddrPort, isolated bool) {
	p.dialing[a] = true
	if isolated {
		p.isolated[a] = true
	}
	p.emit(Action{Kind: Dial, Addr: a})
}

// dialFirstLink picks the first neighbour of an unlinked peer: a peer
// already linked (degree ≥ 1 as the seeds know it) with a free slot,
// chosen ∝ free slots; failing that, a linked but full peer, asked to take
// us beyond its target (the handshake's isolated flag); failing that (the
// overlay is only just forming), any peer with a free slot (every
// unlinked candidate has one: an unknown capacity counts as one slot).
func (p *Peer) dialFirstLink(now time.Time) {
	linkedFree := make([]int, len(p.known))
	linked := make([]int, len(p.known))
	free := make([]int, len(p.known))
	for i, k := range p.known {
		if !p.usable(now, k) {
			continue
		}
		f := topology.Free(k.capacity, k.degree)
		free[i] = f
		if k.degree > 0 {
			linked[i], linkedFree[i] = 1, f
		}
	}
	if p.firstMisses >= firstLinkTries {
		// The seeds' view of free slots is stale (every "free" peer we
		// tried was full): ask a linked peer to take us in.
		linkedFree = nil
	}
	for _, c := range []struct {
		weights  []int
		isolated bool
	}{{linkedFree, false}, {linked, true}, {free, false}} {
		if pick := topology.Pick(p.rng, c.weights, 1); len(pick) == 1 {
			p.dial(p.known[pick[0]].addr, c.isolated)
			return
		}
	}
}
