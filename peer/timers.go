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
	p.setStretch(now)
	// Liveness: a neighbour silent for LivenessMisses intervals is dead.
	// Silent means it sent nothing at all: any line is a sign of life
	// (gossip, the commonest, only notes when in heard; it counts here).
	if !p.aliveDue.IsZero() && !now.Before(p.aliveDue) {
		base, limit := p.deadLimit(), p.aliveLimit()
		for i := 0; i < len(p.neighbours); {
			c := p.neighbours[i]
			if h := p.heard[i]; h != 0 {
				p.heard[i] = 0
				if t := p.started.Add(h - 1); t.After(c.lastAlive) {
					c.lastAlive = t
				}
			}
			if d := now.Sub(c.lastAlive); d >= limit {
				p.declareDead(now, c.addr, fmt.Sprintf("no liveness reply to %d requests", c.unacked), true)
				continue // declareDead removed it from p.neighbours
			} else if d >= base {
				p.stats.LagStretched++ // spared: our loop lagged
			}
			i++
		}
		p.updateAliveDue()
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
	hsLimit := p.handshakeLimit()
	for _, id := range p.pendingIDs() {
		c := p.conns[id]
		if d := now.Sub(c.opened); d < hsLimit && d >= p.cfg.HandshakeTimeout {
			p.stats.LagStretched++
		} else if d >= hsLimit {
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
	if p.generating() && !now.Before(p.nextGossip) {
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
	if refresh || p.dirty && !now.Before(p.announceAt()) {
		p.dirty = false
		p.announced = now
		for _, s := range p.seeds {
			if s.registered {
				p.emit(Action{Kind: SeedRequest, Addr: s.addr, Msg: p.registerMsg(now)})
			}
		}
	}
	p.contactSeeds(now)
	p.resendDead(now)
	// Below target: look for neighbours, asking a seed for candidates now
	// and then.
	if !now.Before(p.nextFill) {
		p.nextFill = now.Add(p.cfg.FillInterval)
		if p.belowTarget() {
			p.fill(now)
			// Ask even when this fill found someone to dial: its list may
			// be stale, and only fresh lists find the last free slots.
			if len(p.neighbours) < p.target && !now.Before(p.nextInfo) {
				// Ask again soon while links keep forming; back off while
				// nothing changes, so short peers do not hammer the seeds.
				p.infoEvery = min(max(2*p.infoEvery, 2*p.cfg.FillInterval), maxInfoEvery*p.cfg.FillInterval)
				p.nextInfo = now.Add(p.infoEvery)
				if reg := p.RegisteredSeeds(); len(reg) > 0 {
					a := reg[p.rng.IntN(len(reg))]
					p.emit(Action{Kind: SeedRequest, Addr: a, Msg: p.infoRequest(p.seed(a))})
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
	if p.belowTarget() {
		upd(p.nextFill)
	}
	if p.dirty {
		upd(p.announceAt())
	}
	if p.generating() {
		upd(p.nextGossip)
	}
	if p.lazyPending {
		upd(p.nextLazy)
	}
	upd(p.nextGraft)
	upd(p.aliveDue)
	if p.handshaking() {
		hsLimit := p.handshakeLimit()
		for _, c := range p.conns {
			if c.state != established {
				upd(c.opened.Add(hsLimit))
			}
		}
	}
	for _, s := range p.seeds {
		if s.waiting() {
			upd(s.notBefore)
		}
		for _, r := range s.retries {
			upd(r.notBefore)
		}
	}
	return d
}

// The conditions below decide both whether Tick runs a timer and whether
// NextDeadline counts its deadline; each is written once so that the two
// cannot drift apart (a deadline NextDeadline misses is a timer that never
// fires; one Tick ignores is a busy loop of wake-ups).

// generating reports whether the peer still has classic messages to
// generate and someone to tell them to.
func (p *Peer) generating() bool {
	return p.generated < p.cfg.GossipCount && len(p.neighbours) > 0
}

// belowTarget reports whether the peer should look for neighbours: its
// links and outbound handshakes fall short of its target.
func (p *Peer) belowTarget() bool { return len(p.neighbours)+p.pendingOut() < p.target }

// announceAt is when a degree change (p.dirty) is announced to the seeds:
// a quarter fill interval after the last announcement, so a burst of link
// changes costs one register per seed.
func (p *Peer) announceAt() time.Time { return p.announced.Add(p.cfg.FillInterval / 4) }

// handshakeLimit is how long a handshake may take before the connection is
// dropped: HandshakeTimeout, stretched while our loop lags by as much as
// the liveness verdict may be (a probe handshake is a liveness check: a
// redialled neighbour in a process as slow as ours answers as late as its
// liveness replies would).
func (p *Peer) handshakeLimit() time.Duration {
	return p.cfg.HandshakeTimeout + min(p.stretch, 2*p.deadLimit())
}

// LagStretch returns how far the liveness and handshake deadlines are
// stretched now because the driver's loop lagged (see LoopLag). A driver
// stretches its own timeouts for the core by as much, such as a dial's.
func (p *Peer) LagStretch() time.Duration { return p.stretch }

// deadLimit is how long a neighbour may stay silent before it is dead,
// our loop's lag aside.
func (p *Peer) deadLimit() time.Duration {
	return time.Duration(p.cfg.LivenessMisses) * p.cfg.LivenessInterval
}

// aliveLimit is how long a neighbour may stay silent before it is dead:
// deadLimit, stretched while our loop lags.
func (p *Peer) aliveLimit() time.Duration {
	base := p.deadLimit()
	return base + min(p.stretch, 2*base)
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

// The loop-lag rule, after memberlist's Lifeguard (Dadgar et al., 2018):
// when the driver's own event loop runs late, the replies that would prove
// a neighbour alive may be sitting, unread, in its queue; declaring the
// neighbour dead then would blame it for our slowness. So the driver
// reports every lag it measures (a timer that fired late, an event that
// waited in the queue), and the liveness and handshake deadlines stretch
// by LagStretch times the largest recent lag, at most by twice their own
// length (a loop that is always slow still declares the dead dead, only
// later). The remembered lag fades by one second for every LagFade
// seconds that pass. Lags under MinLag are scheduling noise and ignored.
const (
	// LagStretch is how many times the recent lag the deadlines stretch.
	LagStretch = 2
	// LagFade is how many seconds a second of remembered lag lasts.
	LagFade = 4
	// MinLag is the smallest lag that stretches anything.
	MinLag = 50 * time.Millisecond
	// maxLag bounds a reported lag (the stretch is capped far below it;
	// this keeps the arithmetic from overflowing).
	maxLag = 24 * time.Hour
)

// LoopLag reports that the driver's loop handled a timer or an event lag
// late at now. The core stretches its liveness and handshake deadlines
// while the loop is slow (see LagStretch). The simulator, whose loop is
// never late, does not call it.
func (p *Peer) LoopLag(now time.Time, lag time.Duration) {
	if lag < MinLag {
		return
	}
	lag = min(lag, maxLag)
	if lag > p.recentLag(now) {
		p.lag, p.lagAt = lag, now
	}
	p.setStretch(now)
}

// setStretch brings the stretch up to date, and the liveness deadline
// with it when it changed (never, in a driver that reports no lag).
func (p *Peer) setStretch(now time.Time) {
	if s := p.lagStretch(now); s != p.stretch {
		p.stretch = s
		p.updateAliveDue()
	}
}

// recentLag is the remembered lag as of now, faded.
func (p *Peer) recentLag(now time.Time) time.Duration {
	if p.lag == 0 {
		return 0
	}
	l := p.lag - now.Sub(p.lagAt)/LagFade
	if l <= 0 {
		p.lag = 0
		return 0
	}
	return l
}

// lagStretch is how far the deadlines stretch as of now (before each
// deadline's own cap).
func (p *Peer) lagStretch(now time.Time) time.Duration { return LagStretch * p.recentLag(now) }
