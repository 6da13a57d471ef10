// Timers: Tick and NextDeadline, which must agree on every deadline.

package peer

import (
	"fmt"
	"time"

	"github.com/whispernet/whispernet/wire"
)

// Tick runs the timers due at now: gossip generation, liveness checks,
// seed refresh, neighbour search and handshake timeouts.
func (p *Peer) Tick(now time.Time) {
	if p.stopped || p.started.IsZero() {
		return
	}
	if !p.lastTick.IsZero() && now.Sub(p.lastTick) > stallFactor*p.cfg.LivenessInterval {
		p.resumed(now, now.Sub(p.lastTick))
	}
	p.lastTick = now
	// Liveness: a neighbour silent for LivenessMisses intervals is dead.
	if !p.aliveDue.IsZero() && !now.Before(p.aliveDue) {
		limit := p.aliveLimit()
		for i := 0; i < len(p.neighbours); {
			c := p.neighbours[i]
			if now.Sub(c.lastAlive) >= limit {
				p.declareDead(now, c.addr, fmt.Sprintf("no liveness reply to %d requests", c.unacked), true)
				continue // declareDead removed it from p.neighbours
			}
			i++
		}
	}
	if !now.Before(p.nextLive) {
		p.nextLive = now.Add(p.cfg.LivenessInterval)
		ts := wire.TimestampOf(now)
		for _, c := range p.neighbours {
			if c.unacked > 0 {
				p.stats.LivenessMissed++
			}
			c.unacked++
			c.lastReq = ts
			p.stats.LivenessSent++
			p.send(c, wire.Message{Kind: wire.KindLivenessRequest, Time: ts, Addr: p.cfg.Self})
		}
	}
	// Handshake timeouts (a frozen peer accepts TCP but never answers).
	for _, id := range p.pendingIDs() {
		c := p.conns[id]
		if now.Sub(c.opened) >= p.cfg.HandshakeTimeout {
			p.emit(Action{Kind: Close, Conn: c.id})
			p.drop(c)
			if c.probe {
				p.declareDead(now, c.addr, "it does not answer a new handshake", true)
			} else if c.state == pendingOut {
				p.penalise(now, c.addr)
				p.firstLinkMissed(now)
			}
		}
	}
	// Gossip generation starts once there is someone to tell.
	if p.generated < p.cfg.GossipCount && !now.Before(p.nextGossip) && len(p.neighbours) > 0 {
		p.generated++
		p.nextGossip = now.Add(p.cfg.GossipInterval)
		// The classic text <timestamp>:<IP>:<PORT>:<Msg#>.
		p.Publish(now, GeneratedText(now, p.cfg.Self, p.generated))
	}
	// Seeds: refresh registrations, announce degree changes, recover the
	// majority.
	refresh := !now.Before(p.nextRefresh)
	if refresh {
		p.nextRefresh = now.Add(p.cfg.RefreshInterval)
	}
	if refresh || p.dirty && !now.Before(p.announced.Add(p.cfg.FillInterval/4)) {
		p.dirty = false
		p.announced = now
		for _, s := range p.seeds {
			if s.registered {
				p.emit(Action{Kind: SeedRequest, Addr: s.addr, Msg: p.registerMsg()})
			}
		}
	}
	p.contactSeeds(now)
	p.resendDead(now)
	// Below target: look for neighbours, asking a seed for candidates now
	// and then.
	if !now.Before(p.nextFill) {
		p.nextFill = now.Add(p.cfg.FillInterval)
		if len(p.neighbours)+p.pendingOut() < p.target {
			p.fill(now)
			// Ask even when this fill found someone to dial: its list may
			// be stale, and only fresh lists find the last free slots.
			if len(p.neighbours) < p.target && !now.Before(p.nextInfo) {
				// Ask again soon while links keep forming; back off while
				// nothing changes, so short peers do not hammer the seeds.
				p.infoEvery = min(max(2*p.infoEvery, 2*p.cfg.FillInterval), maxInfoEvery*p.cfg.FillInterval)
				p.nextInfo = now.Add(p.infoEvery)
				if reg := p.RegisteredSeeds(); len(reg) > 0 {
					p.emit(Action{Kind: SeedRequest, Addr: reg[p.rng.IntN(len(reg))], Msg: wire.Message{Kind: wire.KindPeerInfoRequest}})
				}
			}
		}
	}
	// Lazy push: announcements, then grafts for what never came.
	if p.lazyPending && !now.Before(p.nextLazy) {
		p.flushLazy()
	}
	p.graftDue(now)
	p.ml.maybeGC(now)
}

// stallFactor: a gap between two Ticks longer than this many liveness
// intervals means the peer itself was not running (NextDeadline is never
// further than one interval ahead).
const stallFactor = 2

// resumed handles a peer that was not run for gap: a stopped process
// (SIGSTOP, a debugger), a suspended machine, a driver that froze it. Its
// neighbours' replies went unread meanwhile, so counting the time against
// them would declare live peers dead (and report them) because this peer
// was slow; each neighbour gets a fresh count instead. A neighbour that
// gave up on this peer meanwhile has closed the link, which the driver
// reports next, and the closed link is probed as usual.
func (p *Peer) resumed(now time.Time, gap time.Duration) {
	p.stats.Stalls++
	p.logf("not run for %v (the process was stopped or the machine hung): liveness counts start again", gap.Round(time.Millisecond))
	for _, c := range p.neighbours {
		c.lastAlive, c.unacked = now, 0
	}
	p.updateAliveDue()
}

// NextDeadline returns the earliest time the peer needs a Tick.
func (p *Peer) NextDeadline() time.Time {
	if p.stopped || p.started.IsZero() {
		return time.Time{}
	}
	d := p.nextLive
	upd := func(t time.Time) {
		if !t.IsZero() && t.Before(d) {
			d = t
		}
	}
	upd(p.nextRefresh)
	if len(p.neighbours)+p.pendingOut() < p.target {
		upd(p.nextFill)
	}
	if p.dirty {
		upd(p.announced.Add(p.cfg.FillInterval / 4))
	}
	if p.generated < p.cfg.GossipCount && len(p.neighbours) > 0 {
		upd(p.nextGossip)
	}
	if p.lazyPending {
		upd(p.nextLazy)
	}
	upd(p.nextGraft)
	upd(p.aliveDue)
	if p.handshaking() {
		for _, c := range p.conns {
			if c.state != established {
				upd(c.opened.Add(p.cfg.HandshakeTimeout))
			}
		}
	}
	for _, s := range p.seeds {
		if s.active && !s.registered && !s.busy {
			upd(s.notBefore)
		}
		for _, r := range s.retries {
			upd(r.notBefore)
		}
	}
	return d
}

// aliveLimit is how long a neighbour may stay silent before it is dead.
func (p *Peer) aliveLimit() time.Duration {
	return time.Duration(p.cfg.LivenessMisses) * p.cfg.LivenessInterval
}

// updateAliveDue recomputes aliveDue after a neighbour came, went or
// answered (rare events: a liveness reply per neighbour and interval).
func (p *Peer) updateAliveDue() {
	p.aliveDue = time.Time{}
	limit := p.aliveLimit()
	for _, c := range p.neighbours {
		if t := c.lastAlive.Add(limit); p.aliveDue.IsZero() || t.Before(p.aliveDue) {
			p.aliveDue = t
		}
	}
}
