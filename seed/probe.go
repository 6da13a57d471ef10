// Checking dead reports: a seed removes a reported peer only once it has
// failed to answer the seed's own challenge.

package seed

import (
	"encoding/base64"
	"errors"
	"net/netip"
	"strconv"
	"time"

	"golang.org/x/time/rate"

	"github.com/whispernet/whispernet/wire"
)

// probe is a dead report, or a signed registration, being checked.
type probe struct {
	nonce    string
	deadline time.Time
	dead     bool         // a dead report is being checked
	report   wire.Message // the first report (its reporter and time)
	via      string
	relay    bool // a direct report: relay the removal if the probe fails

	// A signed registration being proven (dial-back): the key it must
	// answer with, and what to list once it has.
	reg              *wire.Message
	capacity, degree int
}

// startProbe returns the probe of a, starting one (and its Probe action)
// if none is running; nil when maxProbes are running.
func (s *Seed) startProbe(a netip.AddrPort) *probe {
	if pr, ok := s.probes[a]; ok {
		return pr
	}
	if len(s.probes) >= maxProbes {
		return nil
	}
	if s.probes == nil {
		s.probes = make(map[netip.AddrPort]*probe)
	}
	pr := &probe{nonce: s.nonce(), deadline: s.lastNow.Add(s.cfg.ProbeTimeout)}
	s.probes[a] = pr
	s.out = append(s.out, Action{Kind: Probe, Addr: a, Msg: wire.Message{Kind: wire.KindChallenge, Text: pr.nonce}})
	return pr
}

// dialBack checks signed registration m by challenging its address: the
// answer must be signed by m's key. It reports false when too many probes
// are running.
func (s *Seed) dialBack(m wire.Message, capacity, degree int) bool {
	pr := s.startProbe(m.Addr)
	if pr == nil {
		return false
	}
	if pr.reg == nil {
		s.stats.DialBacks++
	}
	pr.reg, pr.capacity, pr.degree = &m, capacity, degree
	return true
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

// ProbeReply reports the outcome of a Probe of a: the peer's reply line,
// or err if it could not be reached or did not answer in time.
func (s *Seed) ProbeReply(now time.Time, a netip.AddrPort, reply wire.Message, err error) {
	s.lastNow = now
	pr, ok := s.probes[a]
	if !ok {
		return
	}
	delete(s.probes, a)
	alive := err == nil && reply.Kind == wire.KindChallengeReply && reply.Addr == a && reply.Auth != nil &&
		wire.VerifyChallenge(reply.Auth.Key, reply.Auth.Sig, pr.nonce, a)
	if pr.reg != nil {
		switch {
		case alive && reply.Auth.Key == pr.reg.Auth.Key:
			s.provenRegistration(pr, true)
		case alive: // the address answered for another key: a squatter's registration
			s.provenRegistration(pr, false)
		default:
			s.stats.Unproven++ // no answer in time: it stays, unverified
		}
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

// expireProbes fails the probes whose time is up (a driver that lost one).
func (s *Seed) expireProbes(now time.Time) {
	for a, pr := range s.probes {
		if !now.Before(pr.deadline) {
			s.ProbeReply(now, a, wire.Message{}, errProbeTimeout)
		}
	}
}

// nextProbe returns the earliest probe deadline (zero: none).
func (s *Seed) nextProbe() time.Time {
	var t time.Time
	for _, pr := range s.probes {
		if t.IsZero() || pr.deadline.Before(t) {
			t = pr.deadline
		}
	}
	return t
}

// provenRegistration finishes the dial-back of a signed registration: an
// address that answered for the key is listed (or its entry verified); one
// that did not is not listed, and an unverified entry it had is dropped.
func (s *Seed) provenRegistration(pr *probe, ok bool) {
	m := pr.reg
	e, listed := s.peers[m.Addr]
	if !ok {
		s.stats.Unproven++
		s.logf("registration of %s refused: the address answered for another key than %s", m.Addr, m.Auth.Key)
		if listed && !e.verified {
			s.remove(m.Addr)
		}
		return
	}
	if !listed {
		if r := s.add(s.lastNow, m.Addr, pr.capacity, pr.degree); r.Kind != wire.KindRegistered {
			s.logf("registration of %s proven but not accepted: %s", m.Addr, r.Text)
			return
		}
		e = s.peers[m.Addr]
	}
	if e.verified && e.key != m.Auth.Key {
		return // verified meanwhile under another key: that one stands
	}
	e.key, e.verified, e.lastTS = m.Auth.Key, true, max(e.lastTS, m.Time)
}
