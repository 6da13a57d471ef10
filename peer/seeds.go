// Seeds: registration, peer-list requests, dead reports and their retries.

package peer

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/whispernet/whispernet/wire"
)

// registerMsg is the register request, announcing capacity and degree;
// signed (with now as its timestamp) when signing is on, which lets the
// seed prove the address by dialling back and refuse refreshes by anybody
// else.
func (p *Peer) registerMsg(now time.Time) wire.Message {
	m := wire.Message{Kind: wire.KindRegister, Addr: p.cfg.Self, Cap: p.target, Degree: len(p.neighbours)}
	if p.cfg.Sign {
		// Strictly increasing per peer: a seed refuses a signed registration
		// whose timestamp is not newer than the last one it accepted (no
		// replays), and two registrations can fall in one microsecond (a
		// refresh on a degree change right after the first register; always
		// under a frozen test clock). Refusing the refresh left the peer
		// believing itself unregistered with a seed that still listed it, so
		// its Leave skipped that seed.
		ts := max(wire.TimestampOf(now), p.lastRegTS+1)
		p.lastRegTS = ts
		wire.SignRegister(&m, p.Key(), ts)
	}
	return m
}

// infoRequest is the peer-list request for seed s: peer keys when signing
// is on (the seed adds the keys it proved, which the peer binds: see
// bindListed), unless s did not know it; peer info otherwise.
func (p *Peer) infoRequest(s *seedState) wire.Message {
	if p.cfg.Sign && !s.noKeys {
		return wire.Message{Kind: wire.KindPeerKeysRequest}
	}
	return wire.Message{Kind: wire.KindPeerInfoRequest}
}

// waiting reports whether s is to be contacted at s.notBefore: active, not
// registered, no request in flight. Tick (through contactSeeds) and
// NextDeadline both ask it.
func (s *seedState) waiting() bool { return s.active && !s.registered && !s.busy }

// contactSeeds sends register to every active seed that is not registered,
// busy or backing off.
func (p *Peer) contactSeeds(now time.Time) {
	for _, s := range p.seeds {
		if s.waiting() && !now.Before(s.notBefore) {
			s.busy = true
			p.emit(Action{Kind: SeedRequest, Addr: s.addr, Msg: p.registerMsg(now)})
		}
	}
}

func (p *Peer) seed(a netip.AddrPort) *seedState {
	for _, s := range p.seeds {
		if s.addr == a {
			return s
		}
	}
	return nil
}

func (p *Peer) backoff(failures int) time.Duration {
	d := p.cfg.RetryMin << min(failures, 20)
	if d > p.cfg.RetryMax || d <= 0 {
		d = p.cfg.RetryMax
	}
	// Jitter in [d/2, d) keeps many peers from retrying in lockstep.
	return d/2 + time.Duration(p.rng.Int64N(int64(d/2)+1))
}

// SeedReply reports the reply to a request the core sent to seed.
func (p *Peer) SeedReply(now time.Time, seed netip.AddrPort, req, reply wire.Message) {
	s := p.seed(seed)
	if s != nil && req.Kind == wire.KindLeaving {
		p.leaveAnswered(s, reply, false)
		return
	}
	if s == nil || p.stopped {
		return
	}
	switch req.Kind {
	case wire.KindRegister:
		s.busy = false
		if reply.Kind != wire.KindRegistered {
			p.logf("seed %s refused registration: %s", seed, reply.Text)
			p.seedFailed(now, s)
			return
		}
		s.failures = 0
		if !s.registered {
			s.registered = true
			p.logf("registered with seed %s", seed)
			p.emit(Action{Kind: SeedRequest, Addr: seed, Msg: p.infoRequest(s)})
		}
	case wire.KindPeerInfoRequest, wire.KindPeerListRequest, wire.KindPeerKeysRequest:
		if req.Kind == wire.KindPeerKeysRequest && reply.Kind == wire.KindError && !s.noKeys {
			// A seed that does not know peer keys: plain peer info from now on.
			s.noKeys = true
			p.emit(Action{Kind: SeedRequest, Addr: seed, Msg: p.infoRequest(s)})
			return
		}
		if reply.Kind != wire.KindPeerInfo && reply.Kind != wire.KindPeerList {
			p.logf("seed %s sent %q for a peer list", seed, reply.Kind)
			return
		}
		p.infoGen++
		for _, e := range reply.Peers {
			p.learn(e)
			if req.Kind == wire.KindPeerKeysRequest && !e.Key.IsZero() && e.Addr != p.cfg.Self {
				p.bindListed(e.Addr, e.Key)
			}
		}
		p.fill(now)
	case wire.KindDeadNode:
		p.settleDead(s, req.Addr) // answered, whatever the answer
		if reply.Kind == wire.KindError {
			p.logf("seed %s refused dead-node report of %s: %s", seed, req.Addr, reply.Text)
		}
	}
}

// SeedFailed reports that a request to seed could not be completed (the
// seed is unreachable or the connection broke).
func (p *Peer) SeedFailed(now time.Time, seed netip.AddrPort, req wire.Message) {
	s := p.seed(seed)
	if s != nil && req.Kind == wire.KindLeaving {
		p.leaveAnswered(s, wire.Message{}, true)
		return
	}
	if s == nil || p.stopped {
		return
	}
	switch req.Kind {
	case wire.KindRegister:
		s.busy = false
		p.logf("seed %s unreachable", seed)
		p.seedFailed(now, s)
	case wire.KindDeadNode:
		p.retryDead(now, s, req)
	}
}

// retryDead schedules a failed dead-node report to be sent again, with
// the seeds' backoff, up to maxDeadAttempts sends. (Without it, a seed
// that was unreachable at the moment would list the dead peer until its
// registration expired.)
func (p *Peer) retryDead(now time.Time, s *seedState, req wire.Message) {
	if p.cutOff(s, 1) {
		return
	}
	var r *deadRetry
	for _, x := range s.retries {
		if x.msg.Addr == req.Addr {
			r = x
			break
		}
	}
	if r == nil {
		if len(s.retries) == maxDeadRetries {
			p.stats.DeadGivenUp++
			s.retries = slices.Delete(s.retries, 0, 1)
		}
		r = &deadRetry{msg: req}
		s.retries = append(s.retries, r)
	}
	r.attempts++
	if r.attempts >= maxDeadAttempts {
		p.stats.DeadGivenUp++
		s.retries = slices.DeleteFunc(s.retries, func(x *deadRetry) bool { return x == r })
		p.logf("could not report dead node %s to seed %s after %d tries; giving up", req.Addr, s.addr, r.attempts)
		return
	}
	r.notBefore = now.Add(p.backoff(r.attempts))
	p.logf("could not report dead node %s to seed %s; trying again in %v", req.Addr, s.addr, r.notBefore.Sub(now).Round(time.Millisecond))
}

// cutOff drops the dead-node reports waiting for seed s (extra more
// besides) when the peer has no neighbour left, the last of them found
// dead by silence: a peer whose links all went silent and that cannot
// reach a seed is most likely cut off itself (a partition, a pulled
// cable), and reports made from inside the cut accuse peers that are
// alive; sent once the cut heals, they would have live peers removed. A
// peer that really died is reported by its other neighbours too, or
// expires from the seeds. (A neighbour whose connection closed and whose
// redial was refused is a crash seen through a working network: those
// reports are kept.) It reports whether it dropped anything.
func (p *Peer) cutOff(s *seedState, extra int) bool {
	if len(p.neighbours) > 0 || !p.lostToSilence || len(s.retries)+extra == 0 {
		return false
	}
	n := len(s.retries) + extra
	p.stats.DeadGivenUp += uint64(n)
	s.retries = nil
	p.logf("no neighbour left and seed %s out of reach: this peer is likely cut off itself; dropping %d dead-node report(s) made meanwhile", s.addr, n)
	return true
}

// resendDead sends the dead-node reports whose backoff has passed.
func (p *Peer) resendDead(now time.Time) {
	for _, s := range p.seeds {
		if p.cutOff(s, 0) {
			continue
		}
		for _, r := range s.retries {
			if !r.notBefore.IsZero() && !now.Before(r.notBefore) {
				r.notBefore = time.Time{} // in flight: SeedFailed or SeedReply settles it
				p.emit(Action{Kind: SeedRequest, Addr: s.addr, Msg: r.msg})
			}
		}
	}
}

// settleDead forgets the retry of a report the seed answered, or of a
// peer that turned out alive.
func (p *Peer) settleDead(s *seedState, dead netip.AddrPort) {
	s.retries = slices.DeleteFunc(s.retries, func(x *deadRetry) bool { return x.msg.Addr == dead })
}

// seedFailed drops s from the registered set and, while other seeds are
// untried, moves the majority to one of them; otherwise retries s later.
func (p *Peer) seedFailed(now time.Time, s *seedState) {
	s.registered = false
	s.failures++
	s.notBefore = now.Add(p.backoff(s.failures))
	for _, o := range p.seeds {
		if !o.active && o.failures == 0 {
			s.active = false
			o.active = true
			break
		}
	}
	p.contactSeeds(now)
}

// declareDead removes a neighbour (if still linked), reports it to every
// seed the peer is registered with, and keeps it off the candidate list.
// silent says it was found dead by silence (no liveness reply, no answer
// to a handshake) rather than by a connection that closed and a redial
// that failed: from inside a network cut, silence is all a peer sees.
func (p *Peer) declareDead(now time.Time, a netip.AddrPort, why string, silent bool) {
	p.lostToSilence = silent
	if c := p.neighbour(a); c != nil {
		p.emit(Action{Kind: Close, Conn: c.id})
		p.drop(c)
	}
	p.stats.DeadReported++
	p.forget(a)
	p.dead[a] = now.Add(p.cfg.RefreshInterval)
	ts := wire.TimestampOf(now)
	p.logf("neighbour %s is dead (%s); reporting Dead Node:%s:%s:%s", a, why, wireAddr(a), ts, wireAddr(p.cfg.Self))
	p.emit(Action{Kind: Dead, Addr: a})
	for _, s := range p.seeds {
		if s.registered {
			p.emit(Action{Kind: SeedRequest, Addr: s.addr, Msg: wire.Message{Kind: wire.KindDeadNode, Addr: a, Time: ts, From: p.cfg.Self}})
		}
	}
}

func wireAddr(a netip.AddrPort) string {
	return wire.FormatIP(a.Addr()) + ":" + fmt.Sprint(a.Port())
}
