// Checking dead reports: a seed removes a reported peer only once it has
// failed to answer the seed's own challenge.

package seed

import (
	"encoding/base64"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"golang.org/x/time/rate"

	"github.com/whispernet/whispernet/identity"
	"github.com/whispernet/whispernet/wire"
)

// probe is a dead report, or signed registrations, being checked: one
// attempt in flight (deadline set) or, for a dial-back that got no answer,
// waiting for the next attempt (retryAt).
type probe struct {
	nonce    string    // the challenge of the attempt in flight
	deadline time.Time // when the attempt in flight fails (zero: none in flight)
	retryAt  time.Time // with none in flight: when the next attempt starts
	attempts int
	dead     bool         // a dead report is being checked
	report   wire.Message // the first report (its reporter and time)
	via      string
	relay    bool // a direct report: relay the removal if the probe fails

	// Signed registrations of the address being proven (dial-back), one
	// per key: the answer says which key the address holds.
	regs []pendingReg
}

// pendingReg is a signed registration waiting for its dial-back: the key
// the address must answer for, and what to list once it has.
type pendingReg struct {
	key              identity.PublicKey
	ts               wire.Timestamp
	capacity, degree int
}

// maxPendingKeys bounds the keys an address's registrations may be
// checked for at once (an honest address has one; more are squatters on
// its IP).
const maxPendingKeys = 4

// startProbe returns the probe of a, starting one (and its Probe action)
// if none is running, or its next attempt now if it is waiting; nil when
// maxProbes are running.
func (s *Seed) startProbe(a netip.AddrPort) *probe {
	if pr, ok := s.probes[a]; ok {
		if pr.deadline.IsZero() {
			s.attempt(a, pr)
		}
		return pr
	}
	if len(s.probes) >= maxProbes {
		return nil
	}
	if s.probes == nil {
		s.probes = make(map[netip.AddrPort]*probe)
	}
	pr := &probe{}
	s.probes[a] = pr
	s.attempt(a, pr)
	return pr
}

// attempt challenges a afresh (a new nonce), as one more attempt of pr.
func (s *Seed) attempt(a netip.AddrPort, pr *probe) {
	pr.nonce, pr.deadline, pr.retryAt = s.nonce(), s.lastNow.Add(s.cfg.ProbeTimeout), time.Time{}
	pr.attempts++
	s.out = append(s.out, Action{Kind: Probe, Addr: a, Msg: wire.Message{Kind: wire.KindChallenge, Text: pr.nonce}})
}

// dialBack checks signed registration m by challenging its address: the
// answer must be signed by m's key. When it cannot (too many probes, or
// too many keys for the address) it returns the error reply and false.
func (s *Seed) dialBack(m wire.Message, capacity, degree int) (wire.Message, bool) {
	pr := s.probes[m.Addr]
	if pr == nil {
		if pr = s.startProbe(m.Addr); pr == nil {
			return errorReply("register: too many registrations and reports being checked (%d); try again later", maxProbes), false
		}
	}
	reg := pendingReg{key: m.Auth.Key, ts: m.Time, capacity: capacity, degree: degree}
	i := slices.IndexFunc(pr.regs, func(r pendingReg) bool { return r.key == reg.key })
	switch {
	case i >= 0:
		if reg.ts > pr.regs[i].ts {
			pr.regs[i] = reg // a refresh while pending: the newer numbers
		}
	case len(pr.regs) == maxPendingKeys:
		return errorReply("register: %s is being checked for %d other keys; try again later", m.Addr, maxPendingKeys), false
	default:
		if len(pr.regs) == 0 {
			s.stats.DialBacks++
		}
		pr.regs = append(pr.regs, reg)
	}
	return wire.Message{}, true
}

// errProbeTimeout is the outcome of a probe the driver did not report in
// time.
var errProbeTimeout = errors.New("seed: probe timed out")

// maxProbes bounds the probes in flight; maxReporters the reporters whose
// rate is tracked (the table restarts when full: rates are a nuisance
// bound, the probe is the defence).
const (
	maxProbes    = 4096
	maxReporters = 4096
)

// check answers a dead report when probing is on: nothing changes until
// the seed's own probe of the peer fails.
func (s *Seed) check(src netip.Addr, m wire.Message, via string) wire.Message {
	if !m.Relayed && !s.allowReport(m.From) {
		s.stats.ReportsLimited++
		return errorReply("Dead Node: too many reports from %s (limit %g a second)", m.From, s.cfg.ReportRate)
	}
	if _, ok := s.peers[m.Addr]; !ok {
		s.logf("dead node %s already removed (reported by %s%s)", m.Addr, m.From, via)
		return wire.Message{Kind: wire.KindOK, Text: "already removed " + m.Addr.String()}
	}
	if pr, ok := s.probes[m.Addr]; ok && pr.dead {
		pr.relay = pr.relay || !m.Relayed
		return wire.Message{Kind: wire.KindOK, Text: "checking " + m.Addr.String()}
	}
	pr := s.startProbe(m.Addr)
	if pr == nil {
		return errorReply("Dead Node: too many reports being checked (%d)", maxProbes)
	}
	pr.dead, pr.report, pr.via, pr.relay = true, m, via, !m.Relayed
	s.stats.Probes++
	s.logf("dead report about %s from %s%s: checking it", m.Addr, m.From, via)
	return wire.Message{Kind: wire.KindOK, Text: "checking " + m.Addr.String()}
}

// allowReport applies the reporter's rate: per reporting peer (its
// address, whose IP the seed has checked), so that the peers of a local
// network, which share one IP, do not share one budget.
func (s *Seed) allowReport(src netip.AddrPort) bool {
	l, ok := s.reporters[src]
	if !ok {
		if s.reporters == nil || len(s.reporters) >= maxReporters {
			s.reporters = make(map[netip.AddrPort]*rate.Limiter)
		}
		l = rate.NewLimiter(rate.Limit(s.cfg.ReportRate), s.cfg.ReportBurst)
		s.reporters[src] = l
	}
	return l.AllowN(s.lastNow, 1)
}

// nonce returns a fresh challenge: the first 16 bytes of the seed's
// signature of a counter, unpredictable without its key, and no draw
// from the sampling RNG.
func (s *Seed) nonce() string {
	s.nonces++
	sig := s.cfg.Key.Sign(strconv.AppendUint([]byte("whispernet seed nonce\n"), s.nonces, 10))
	return base64.RawURLEncoding.EncodeToString(sig[:16])
}

// ProbeReply reports the outcome of the Probe of a whose challenge was
// nonce (the Probe action's Msg.Text): the peer's reply line, or err if it
// could not be reached or did not answer in time. The outcome of an
// attempt the seed has already given up on is ignored.
func (s *Seed) ProbeReply(now time.Time, a netip.AddrPort, nonce string, reply wire.Message, err error) {
	s.lastNow = now
	pr, ok := s.probes[a]
	if !ok || pr.deadline.IsZero() || nonce != pr.nonce {
		return
	}
	alive := err == nil && reply.Kind == wire.KindChallengeReply && reply.Addr == a && reply.Auth != nil &&
		wire.VerifyChallenge(reply.Auth.Key, reply.Auth.Sig, pr.nonce, a)
	if !alive && len(pr.regs) > 0 && !pr.dead && pr.attempts < s.cfg.DialBackAttempts {
		// A peer slowed by load answers late: try again, later.
		pr.deadline, pr.retryAt = time.Time{}, now.Add(s.cfg.DialBackRetry<<(pr.attempts-1))
		s.stats.DialBackRetries++
		return
	}
	delete(s.probes, a)
	if len(pr.regs) > 0 {
		var key identity.PublicKey
		if alive {
			key = reply.Auth.Key
		}
		s.provenRegistrations(a, pr, key)
	}
	if !pr.dead {
		return
	}
	e, registered := s.peers[a]
	if alive && registered && !e.key.IsZero() && e.key != reply.Auth.Key {
		alive = false // somebody answers there, but not the peer that registered
	}
	if alive {
		s.stats.Refuted++
		if registered && e.key.IsZero() {
			e.key = reply.Auth.Key
		}
		s.logf("%s answered the seed's probe: dead report from %s%s refuted", a, pr.report.From, pr.via)
		return
	}
	if !registered {
		return
	}
	why := "did not answer the seed's probe"
	if err == nil {
		why = "answered the seed's probe wrongly"
	}
	s.confirmDead(pr.report, pr.via, why, pr.relay)
}

// expireProbes fails the attempts whose time is up (a driver that lost
// one) and starts the dial-backs whose retry is due.
func (s *Seed) expireProbes(now time.Time) {
	for a, pr := range s.probes {
		switch {
		case pr.deadline.IsZero():
			if !now.Before(pr.retryAt) {
				s.attempt(a, pr)
			}
		case !now.Before(pr.deadline):
			s.ProbeReply(now, a, pr.nonce, wire.Message{}, errProbeTimeout)
		}
	}
}

// nextProbe returns the earliest probe deadline or retry (zero: none).
func (s *Seed) nextProbe() time.Time {
	var t time.Time
	for _, pr := range s.probes {
		d := pr.deadline
		if d.IsZero() {
			d = pr.retryAt
		}
		if t.IsZero() || d.Before(t) {
			t = d
		}
	}
	return t
}

// provenRegistrations finishes the dial-back of a's signed registrations:
// key is the key the address answered for (zero: no answer to any
// attempt). The registration signed by it is listed (or its entry
// verified); the others are never listed. An unverified entry listed by
// an unsigned registration stays as it is.
func (s *Seed) provenRegistrations(a netip.AddrPort, pr *probe, key identity.PublicKey) {
	for _, r := range pr.regs {
		switch {
		case !key.IsZero() && r.key == key:
			s.prove(a, r)
		case key.IsZero():
			s.stats.Unproven++
			s.logf("registration of %s not listed: no answer to %d dial-backs for key %s", a, pr.attempts, r.key)
		default:
			s.stats.Unproven++
			s.logf("registration of %s refused: the address answered for another key than %s", a, r.key)
		}
	}
}

// prove lists a, proven to hold r's key, or verifies its entry.
func (s *Seed) prove(a netip.AddrPort, r pendingReg) {
	e, listed := s.peers[a]
	if !listed {
		if reply := s.add(s.lastNow, a, r.capacity, r.degree); reply.Kind != wire.KindRegistered {
			s.logf("registration of %s proven but not accepted: %s", a, reply.Text)
			return
		}
		e = s.peers[a]
	}
	if e.verified && e.key != r.key {
		return // verified meanwhile under another key: that one stands
	}
	e.key, e.verified, e.lastTS = r.key, true, max(e.lastTS, r.ts)
	s.reg.verify(e)
	s.free.verify(e)
}

// cancelPending drops a's pending registration signed by key (a signed
// leave not older than it), reporting whether there was one.
func (s *Seed) cancelPending(a netip.AddrPort, key identity.PublicKey, ts wire.Timestamp) bool {
	pr, ok := s.probes[a]
	if !ok {
		return false
	}
	n := len(pr.regs)
	pr.regs = slices.DeleteFunc(pr.regs, func(r pendingReg) bool { return r.key == key && r.ts <= ts })
	if len(pr.regs) == 0 && !pr.dead {
		delete(s.probes, a)
	}
	return len(pr.regs) < n
}
