package seed

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/whispernet/whispernet/identity"
	"github.com/whispernet/whispernet/wire"
)

var (
	live     = netip.MustParseAddrPort("127.0.0.1:5001")
	reporter = netip.MustParseAddrPort("127.0.0.1:5000")
	liveKey  = identity.FromSeed([]byte("live peer"))
)

func probingSeed(t *testing.T) *Seed {
	s := newSeed(t, func(c *Config) { c.Probe = true }, 1, 2)
	for _, a := range []netip.AddrPort{reporter, live} {
		if r := s.Handle(base, a.Addr(), wire.Message{Kind: wire.KindRegister, Addr: a}); r.Kind != wire.KindRegistered {
			t.Fatal(wire.Format(r))
		}
	}
	s.Ready()
	return s
}

func deadReport(dead, from netip.AddrPort, relayed bool) wire.Message {
	return wire.Message{Kind: wire.KindDeadNode, Addr: dead, From: from, Time: wire.TimestampOf(base), Relayed: relayed}
}

// probeOf returns the challenge of the Probe action for a in acts.
func probeOf(t *testing.T, acts []Action, a netip.AddrPort) string {
	t.Helper()
	for _, x := range acts {
		if x.Kind == Probe && x.Addr == a && x.Msg.Kind == wire.KindChallenge {
			return x.Msg.Text
		}
	}
	t.Fatalf("no probe of %s in %v", a, acts)
	return ""
}

func answer(k *identity.Key, nonce string, a netip.AddrPort) wire.Message {
	return wire.Message{Kind: wire.KindChallengeReply, Addr: a, Auth: &wire.Auth{Key: k.Public(), Sig: wire.SignChallenge(k, nonce, a)}}
}

// answerProbe answers the probe of a that s has just asked for, as a,
// signed by k.
func answerProbe(t *testing.T, s *Seed, now time.Time, a netip.AddrPort, k *identity.Key) {
	t.Helper()
	nonce := probeOf(t, s.Ready(), a)
	s.ProbeReply(now, a, nonce, answer(k, nonce, a), nil)
}

// failProbe fails the probe of a that s has just asked for with err.
func failProbe(t *testing.T, s *Seed, now time.Time, a netip.AddrPort, err error) {
	t.Helper()
	s.ProbeReply(now, a, probeOf(t, s.Ready(), a), wire.Message{}, err)
}

func kinds(acts []Action, k ActionKind) int {
	n := 0
	for _, a := range acts {
		if a.Kind == k {
			n++
		}
	}
	return n
}

// TestForgedDeadReportsChangeNothing: a dead report about a peer that
// answers the seed's probe, from the victim's own IP, from another
// registered peer, or relayed from a seed's IP, leaves it listed
// throughout and is relayed to nobody.
func TestForgedDeadReportsChangeNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  netip.Addr
		m    wire.Message
	}{
		{"from the victim's IP", live.Addr(), deadReport(live, netip.AddrPortFrom(live.Addr(), 9), false)},
		{"from a registered peer", reporter.Addr(), deadReport(live, reporter, false)},
		{"relayed from a seed's IP", netip.MustParseAddr("127.0.0.1"), deadReport(live, reporter, true)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := probingSeed(t)
			r := s.Handle(base, tc.src, tc.m)
			if wire.Format(r) != "ok:checking 127.0.0.1:5001" || !s.Has(live) {
				t.Fatalf("reply %q, listed %v", wire.Format(r), s.Has(live))
			}
			nonce := probeOf(t, s.Ready(), live)
			// A second report while checking: no second probe.
			if r := s.Handle(base, tc.src, tc.m); wire.Format(r) != "ok:checking 127.0.0.1:5001" || kinds(s.Ready(), Probe) != 0 {
				t.Fatalf("second report: %q", wire.Format(r))
			}
			s.ProbeReply(base.Add(time.Millisecond), live, nonce, answer(liveKey, nonce, live), nil)
			acts := s.Ready()
			if !s.Has(live) || kinds(acts, Removed) != 0 || kinds(acts, Relay) != 0 || s.Stats().Refuted != 1 || s.Stats().DeadAccepted != 0 {
				t.Fatalf("after the answer: listed %v, actions %v, stats %+v", s.Has(live), acts, s.Stats())
			}
			// The probe deadline passing later changes nothing either.
			s.Tick(base.Add(time.Minute))
			if !s.Has(live) {
				t.Fatal("removed after a refuted report")
			}
		})
	}
}

// TestProbeFailureRemovesAndRelays: no answer (or a wrong one) removes
// the peer, and a direct report is relayed to the other seeds, which
// check for themselves.
func TestProbeFailureRemovesAndRelays(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply func(nonce string) (wire.Message, error)
	}{
		{"unreachable", func(string) (wire.Message, error) { return wire.Message{}, errors.New("connection refused") }},
		{"answers with another nonce", func(string) (wire.Message, error) { return answer(liveKey, "another-nonce-0123456", live), nil }},
		{"answers as another address", func(n string) (wire.Message, error) { return answer(liveKey, n, reporter), nil }},
		{"answers garbage", func(string) (wire.Message, error) { return wire.Message{Kind: wire.KindError, Text: "x"}, nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := probingSeed(t)
			s.Handle(base, reporter.Addr(), deadReport(live, reporter, false))
			nonce := probeOf(t, s.Ready(), live)
			m, err := tc.reply(nonce)
			s.ProbeReply(base.Add(time.Second), live, nonce, m, err)
			acts := s.Ready()
			if s.Has(live) || kinds(acts, Removed) != 1 || kinds(acts, Relay) != 1 || s.Stats().DeadAccepted != 1 {
				t.Fatalf("listed %v, actions %v", s.Has(live), acts)
			}
		})
	}
	// A relayed report that the probe confirms is not relayed again.
	s := probingSeed(t)
	s.Handle(base, localhost, deadReport(live, reporter, true))
	probeOf(t, s.Ready(), live)
	s.Tick(base.Add(10 * time.Second)) // the probe timed out
	if acts := s.Ready(); s.Has(live) || kinds(acts, Relay) != 0 || kinds(acts, Removed) != 1 {
		t.Fatalf("relayed report: listed %v, actions %v", s.Has(live), acts)
	}
}

// TestProbeKnowsTheKey: once a peer has answered with its key, an answer
// signed by another key does not keep it listed (a squatter on its port).
func TestProbeKnowsTheKey(t *testing.T) {
	s := probingSeed(t)
	s.Handle(base, reporter.Addr(), deadReport(live, reporter, false))
	answerProbe(t, s, base, live, liveKey)
	s.Handle(base, reporter.Addr(), deadReport(live, reporter, false))
	answerProbe(t, s, base, live, identity.FromSeed([]byte("squatter")))
	if s.Has(live) {
		t.Fatal("an answer with another key kept the peer listed")
	}
}

// TestReportsRateLimited: one reporter IP gets ReportBurst reports, then
// an error line each, without any probe.
func TestReportsRateLimited(t *testing.T) {
	s := newSeed(t, func(c *Config) { c.Probe, c.ReportBurst, c.ReportRate = true, 3, 0.001 }, 1, 2)
	for i := range 10 {
		a := netip.AddrPortFrom(localhost, uint16(6000+i))
		s.Handle(base, localhost, wire.Message{Kind: wire.KindRegister, Addr: a})
	}
	s.Ready()
	for i := range 5 {
		r := s.Handle(base, localhost, deadReport(netip.AddrPortFrom(localhost, uint16(6000+i)), reporter, false))
		ok := strings.HasPrefix(wire.Format(r), "ok:checking")
		if ok != (i < 3) {
			t.Fatalf("report %d: %q", i, wire.Format(r))
		}
	}
	if st := s.Stats(); st.Probes != 3 || st.ReportsLimited != 2 || s.Len() != 10 {
		t.Fatalf("stats %+v, registry %d", st, s.Len())
	}
}

// TestRegistryFloodFromOneNetwork: one /24 registers MaxPerGroup peers,
// then gets an error line; another network still registers; loopback is
// exempt.
func TestRegistryFloodFromOneNetwork(t *testing.T) {
	s := newSeed(t, func(c *Config) { c.MaxPerGroup = 5; c.Verify = false }, 1, 2)
	for i := range 8 {
		a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(i + 1)}), 5000)
		r := s.Handle(base, a.Addr(), wire.Message{Kind: wire.KindRegister, Addr: a})
		if (r.Kind == wire.KindRegistered) != (i < 5) {
			t.Fatalf("registration %d: %q", i, wire.Format(r))
		}
	}
	other := netip.MustParseAddrPort("198.51.100.1:5000")
	if r := s.Handle(base, other.Addr(), wire.Message{Kind: wire.KindRegister, Addr: other}); r.Kind != wire.KindRegistered {
		t.Fatalf("another network: %q", wire.Format(r))
	}
	for i := range 8 {
		a := netip.AddrPortFrom(localhost, uint16(7000+i))
		if r := s.Handle(base, localhost, wire.Message{Kind: wire.KindRegister, Addr: a}); r.Kind != wire.KindRegistered {
			t.Fatalf("loopback %d: %q", i, wire.Format(r))
		}
	}
	if s.Len() != 14 || s.Stats().GroupRefused != 3 {
		t.Fatalf("registry %d, refused %d", s.Len(), s.Stats().GroupRefused)
	}
	// A removal frees the group's slot.
	s.remove(netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, 1}), 5000))
	a := netip.MustParseAddrPort("203.0.113.77:5000")
	if r := s.Handle(base, a.Addr(), wire.Message{Kind: wire.KindRegister, Addr: a}); r.Kind != wire.KindRegistered {
		t.Fatalf("after a removal: %q", wire.Format(r))
	}
}

func signedRegister(k *identity.Key, a netip.AddrPort, capacity int, at time.Time) wire.Message {
	m := wire.Message{Kind: wire.KindRegister, Addr: a, Cap: capacity, Degree: 1}
	wire.SignRegister(&m, k, wire.TimestampOf(at))
	return m
}

// listedIn reports whether a is in a peer-info reply of s, and its entry.
func listedIn(s *Seed, now time.Time, a netip.AddrPort) (wire.PeerInfo, bool) {
	for _, p := range s.Handle(now, localhost, wire.Message{Kind: wire.KindPeerInfoRequest}).Peers {
		if p.Addr == a {
			return p, true
		}
	}
	return wire.PeerInfo{}, false
}

// TestRegistrationProvenByDialBack: a signed registration is listed only
// once its address answers for its key; a squatter's, whose address
// answers for another key, is never listed; a verified entry is refreshed
// only by its key, never replayed, never by an unsigned line.
func TestRegistrationProvenByDialBack(t *testing.T) {
	s := newSeed(t, func(c *Config) { c.Probe = true }, 1, 2)
	// A squatter registers the victim's address with its own key: the
	// dial-back reaches the victim, which answers with the victim's key.
	ak := identity.FromSeed([]byte("squatter"))
	if r := s.Handle(base, live.Addr(), signedRegister(ak, live, 7, base)); r.Kind != wire.KindRegistered {
		t.Fatal(wire.Format(r))
	}
	if _, listed := listedIn(s, base, live); listed || s.Has(live) {
		t.Fatal("listed before the dial-back")
	}
	answerProbe(t, s, base, live, liveKey)
	if s.Has(live) || s.Stats().Unproven != 1 || s.Stats().DialBacks != 1 || s.Stats().Registrations != 0 {
		t.Fatalf("squatted registration listed %v, stats %+v", s.Has(live), s.Stats())
	}
	// The real peer registers: listed once it answers.
	now := base.Add(time.Second)
	s.Handle(now, live.Addr(), signedRegister(liveKey, live, 3, now))
	if s.Has(live) {
		t.Fatal("listed before its dial-back")
	}
	answerProbe(t, s, now, live, liveKey)
	if k, ok := s.Verified(live); !ok || k != liveKey.Public() {
		t.Fatalf("proven registration: verified %v with %v", ok, k)
	}
	info := func() wire.PeerInfo {
		p, ok := listedIn(s, now, live)
		if !ok {
			t.Fatal("not in peer info")
		}
		return p
	}
	// Rewrites: unsigned, another key, a replay. Each refused; the entry
	// keeps capacity 3.
	later := now.Add(time.Second)
	for _, m := range []wire.Message{
		{Kind: wire.KindRegister, Addr: live, Cap: 99, Degree: 0},
		signedRegister(ak, live, 99, later),
		signedRegister(liveKey, live, 99, now), // the same timestamp again
	} {
		if r := s.Handle(later, live.Addr(), m); r.Kind != wire.KindError {
			t.Fatalf("rewrite %q accepted: %q", wire.Format(m), wire.Format(r))
		}
	}
	if p := info(); p.Cap != 3 || s.Stats().RegisterRefused != 3 {
		t.Fatalf("after rewrites: %+v, refused %d", p, s.Stats().RegisterRefused)
	}
	// A fresh signed refresh by the key is accepted at once, no dial-back.
	if r := s.Handle(later, live.Addr(), signedRegister(liveKey, live, 5, later)); r.Kind != wire.KindRegistered || info().Cap != 5 {
		t.Fatalf("refresh: %q, %+v", wire.Format(r), info())
	}
	if kinds(s.Ready(), Probe) != 0 {
		t.Fatal("a refresh of a verified entry probed again")
	}
	// A badly signed or stale registration is refused outright.
	bad := signedRegister(liveKey, live, 5, later)
	bad.Cap = 6
	if r := s.Handle(later, live.Addr(), bad); r.Kind != wire.KindError {
		t.Fatalf("tampered registration: %q", wire.Format(r))
	}
	if r := s.Handle(later, live.Addr(), signedRegister(liveKey, live, 5, later.Add(-time.Hour))); r.Kind != wire.KindError {
		t.Fatalf("stale registration: %q", wire.Format(r))
	}
}

// TestSquatterWhoseDialBackFailsIsNeverListed: a signed registration of
// an address that never answers (a squatter's, for a port nobody listens
// on) is challenged DialBackAttempts times, 2 s and then 4 s apart, and
// is in no peer list at any moment, nor after; the seed then forgets it.
func TestSquatterWhoseDialBackFailsIsNeverListed(t *testing.T) {
	s := newSeed(t, func(c *Config) { c.Probe = true }, 1, 2)
	squatted := netip.MustParseAddrPort("127.0.0.1:5077")
	if r := s.Handle(base, squatted.Addr(), signedRegister(identity.FromSeed([]byte("squatter")), squatted, 2, base)); r.Kind != wire.KindRegistered {
		t.Fatal(wire.Format(r))
	}
	now := base
	for attempt := 1; attempt <= 3; attempt++ {
		failProbe(t, s, now, squatted, errors.New("connection refused"))
		if _, listed := listedIn(s, now, squatted); listed || s.Has(squatted) {
			t.Fatalf("listed after failed attempt %d", attempt)
		}
		if attempt == 3 {
			break
		}
		wait := time.Duration(attempt) * 2 * time.Second // 2 s, then 4 s
		if d := s.NextDeadline(); !d.Equal(now.Add(wait)) {
			t.Fatalf("attempt %d: next deadline %v after, want %v", attempt, d.Sub(now), wait)
		}
		s.Tick(now.Add(wait - time.Millisecond))
		if kinds(s.Ready(), Probe) != 0 {
			t.Fatalf("attempt %d retried early", attempt)
		}
		now = now.Add(wait)
		s.Tick(now)
	}
	if st := s.Stats(); st.DialBacks != 1 || st.DialBackRetries != 2 || st.Unproven != 1 || st.Registrations != 0 || len(s.probes) != 0 {
		t.Fatalf("stats %+v, probes %d", st, len(s.probes))
	}
	s.Tick(now.Add(time.Hour))
	if kinds(s.Ready(), Probe) != 0 || s.Has(squatted) {
		t.Fatal("a given-up dial-back came back")
	}
}

// TestSlowHonestPeerListedOnceProven: an honest peer too loaded to answer
// the first dial-back in time (the attempt times out), or whose answer to
// it comes after the seed gave up on that attempt, is listed, verified,
// as soon as it answers a later attempt; its refresh while pending updates
// what is listed; a late answer to an abandoned attempt counts for nothing.
func TestSlowHonestPeerListedOnceProven(t *testing.T) {
	s := newSeed(t, func(c *Config) { c.Probe = true }, 1, 2)
	s.Handle(base, live.Addr(), signedRegister(liveKey, live, 3, base))
	first := probeOf(t, s.Ready(), live)
	s.Tick(base.Add(5 * time.Second)) // the first attempt times out
	if s.Has(live) || s.Stats().DialBackRetries != 1 {
		t.Fatalf("after the timeout: listed %v, stats %+v", s.Has(live), s.Stats())
	}
	// The first attempt's answer, late: ignored, nothing listed.
	s.ProbeReply(base.Add(5500*time.Millisecond), live, first, answer(liveKey, first, live), nil)
	if s.Has(live) {
		t.Fatal("a late answer to an abandoned attempt listed the peer")
	}
	// A refresh while pending (capacity 4): no new dial-back, the newer numbers.
	at := base.Add(6 * time.Second)
	if r := s.Handle(at, live.Addr(), signedRegister(liveKey, live, 4, at)); r.Kind != wire.KindRegistered || kinds(s.Ready(), Probe) != 0 {
		t.Fatalf("refresh while pending: %q", wire.Format(r))
	}
	at = base.Add(7 * time.Second) // 2 s after the timeout: the second attempt
	s.Tick(at)
	second := probeOf(t, s.Ready(), live)
	if second == first {
		t.Fatal("the second attempt reused the nonce")
	}
	s.ProbeReply(at.Add(4*time.Second), live, second, answer(liveKey, second, live), nil)
	p, listed := listedIn(s, at, live)
	if k, ok := s.Verified(live); !listed || !ok || k != liveKey.Public() || p.Cap != 4 {
		t.Fatalf("after the answer: listed %v %+v, verified %v", listed, p, ok)
	}
	if st := s.Stats(); st.DialBacks != 1 || st.DialBackRetries != 1 || st.Unproven != 0 || st.Registrations != 1 || len(s.probes) != 0 {
		t.Fatalf("stats %+v, probes %d", st, len(s.probes))
	}
}

// TestPendingRegistrations: an address's signed registrations are checked
// for up to maxPendingKeys keys at once (more are refused with an error
// line), the one the address answers for is listed and the others are
// not; a signed leave by the pending key withdraws its registration.
func TestPendingRegistrations(t *testing.T) {
	s := newSeed(t, func(c *Config) { c.Probe = true }, 1, 2)
	for i := range maxPendingKeys - 1 {
		k := identity.FromSeed([]byte(fmt.Sprint("squatter ", i)))
		if r := s.Handle(base, live.Addr(), signedRegister(k, live, 9, base)); r.Kind != wire.KindRegistered {
			t.Fatal(wire.Format(r))
		}
	}
	if r := s.Handle(base, live.Addr(), signedRegister(liveKey, live, 3, base)); r.Kind != wire.KindRegistered {
		t.Fatal(wire.Format(r))
	}
	want := "error:register: 127.0.0.1:5001 is being checked for 4 other keys; try again later"
	if r := wire.Format(s.Handle(base, live.Addr(), signedRegister(identity.FromSeed([]byte("one more")), live, 9, base))); r != want {
		t.Fatalf("one key too many: %q, want %q", r, want)
	}
	answerProbe(t, s, base, live, liveKey)
	if p, listed := listedIn(s, base, live); !listed || p.Cap != 3 || s.Stats().Unproven != maxPendingKeys-1 || s.Stats().DialBacks != 1 {
		t.Fatalf("listed %v %+v, stats %+v", listed, p, s.Stats())
	}
	// Withdrawn: a peer that leaves while its registration is pending.
	other := netip.MustParseAddrPort("127.0.0.1:5002")
	ok := identity.FromSeed([]byte("other"))
	s.Handle(base, other.Addr(), signedRegister(ok, other, 3, base))
	nonce := probeOf(t, s.Ready(), other)
	at := base.Add(time.Millisecond)
	if r := wire.Format(s.Handle(at, other.Addr(), signedLeave(ok, other, at))); r != "ok:not registered 127.0.0.1:5002" {
		t.Fatalf("leave while pending: %q", r)
	}
	s.ProbeReply(at, other, nonce, answer(ok, nonce, other), nil)
	if s.Has(other) || len(s.probes) != 0 {
		t.Fatalf("after leaving while pending: listed %v, probes %d", s.Has(other), len(s.probes))
	}
}

// TestVerifiedListedFirst: unsigned registrations (typed by hand, or from
// --sign=false peers) are listed, unverified, but only after verified
// peers: in a registry of 300 verified and 100 unverified peers, every
// peer list and peer-info reply holds 256 verified peers; with 200
// verified, all 200 come first and 56 unverified fill the reply.
func TestVerifiedListedFirst(t *testing.T) {
	for _, nv := range []int{300, 200} {
		s := newSeed(t, func(c *Config) { c.Probe = true }, 1, 2)
		for i := range 100 {
			a := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), uint16(1000+i))
			if r := s.Handle(base, a.Addr(), wire.Message{Kind: wire.KindRegister, Addr: a, Cap: 8, Degree: i % 9}); r.Kind != wire.KindRegistered {
				t.Fatal(wire.Format(r))
			}
		}
		for i := range nv {
			a := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(1000+i))
			k := identity.FromSeed([]byte(a.String()))
			s.Handle(base, a.Addr(), signedRegister(k, a, 8, base))
			answerProbe(t, s, base, a, k)
		}
		checkRegistry(t, s, 0)
		for _, req := range []wire.Kind{wire.KindPeerListRequest, wire.KindPeerInfoRequest} {
			for range 5 {
				r := s.Handle(base, localhost, wire.Message{Kind: req})
				verified, seen := 0, map[netip.AddrPort]bool{}
				for j, p := range r.Peers {
					if seen[p.Addr] {
						t.Fatalf("%d verified, %v: %s listed twice", nv, req, p.Addr)
					}
					seen[p.Addr] = true
					if _, ok := s.Verified(p.Addr); ok {
						if verified != j {
							t.Fatalf("%d verified, %v: verified %s after an unverified entry", nv, req, p.Addr)
						}
						verified++
					}
				}
				if len(r.Peers) != wire.MaxPeersPerReply || verified != min(nv, wire.MaxPeersPerReply) {
					t.Fatalf("%d verified, %v: %d entries, %d verified", nv, req, len(r.Peers), verified)
				}
			}
		}
	}
}

func signedLeave(k *identity.Key, a netip.AddrPort, at time.Time) wire.Message {
	m := wire.Message{Kind: wire.KindLeaving, Addr: a}
	wire.SignLeaving(&m, k, wire.TimestampOf(at))
	return m
}

// TestSignedLeaving: a peer whose key the seed verified at registration
// leaves only by a leave signed with that key: a forged Leaving from the
// victim's IP (plain, another key, a tampered signature, relayed from a
// seed's IP) changes nothing and is relayed to nobody; the peer's own
// signed leave removes it and is relayed as it came; replayed after the
// peer registered again, it changes nothing. An unverified registration
// still leaves by the plain, hand-typed line.
func TestSignedLeaving(t *testing.T) {
	s := newSeed(t, func(c *Config) { c.Probe = true }, 1, 2)
	other := netip.MustParseAddrPort("127.0.0.1:8081") // the other seed
	register := func(at time.Time) {
		t.Helper()
		if r := s.Handle(at, live.Addr(), signedRegister(liveKey, live, 3, at)); r.Kind != wire.KindRegistered {
			t.Fatal(wire.Format(r))
		}
		answerProbe(t, s, at, live, liveKey)
		if !s.Has(live) || !s.peers[live].verified {
			t.Fatal("registration not verified")
		}
	}
	register(base)
	now := base.Add(time.Second)
	tampered := signedLeave(liveKey, live, now)
	tampered.Time++
	relayedPlain := wire.Message{Kind: wire.KindLeaving, Addr: live, Relayed: true}
	forged := []struct {
		m    wire.Message
		want string
	}{
		{wire.Message{Kind: wire.KindLeaving, Addr: live}, "error:Leaving: 127.0.0.1:5001 is registered with a key: only a leave signed by it removes it"},
		{signedLeave(identity.FromSeed([]byte("squatter")), live, now), "error:Leaving: 127.0.0.1:5001 is registered with another key"},
		{tampered, "error:Leaving: the signature does not verify"},
		{relayedPlain, "error:Leaving: 127.0.0.1:5001 is registered with a key: only a leave signed by it removes it"},
		{signedLeave(liveKey, live, now.Add(-time.Hour)), "error:Leaving: timestamp "},
	}
	for i, f := range forged {
		r := wire.Format(s.Handle(now, live.Addr(), f.m))
		if !strings.HasPrefix(r, f.want) {
			t.Fatalf("forged leave %q: %q, want %q", wire.Format(f.m), r, f.want)
		}
		acts := s.Ready()
		if !s.Has(live) || kinds(acts, Left) != 0 || kinds(acts, Relay) != 0 || s.Stats().LeaveRefused != uint64(i+1) || s.Stats().Left != 0 {
			t.Fatalf("after forged leave %q: listed %v, acts %v, stats %+v", wire.Format(f.m), s.Has(live), acts, s.Stats())
		}
	}
	// The peer's own leave: removed, relayed with its signature.
	leave := signedLeave(liveKey, live, now)
	if r := wire.Format(s.Handle(now, live.Addr(), leave)); r != "ok:left 127.0.0.1:5001" {
		t.Fatalf("signed leave: %q", r)
	}
	acts := s.Ready()
	if s.Has(live) || kinds(acts, Left) != 1 || kinds(acts, Relay) != 1 || s.Stats().Left != 1 {
		t.Fatalf("after the signed leave: listed %v, acts %v", s.Has(live), acts)
	}
	for _, a := range acts {
		if a.Kind == Relay && (a.Addr != other || !a.Msg.Relayed || a.Msg.Auth == nil || *a.Msg.Auth != *leave.Auth || a.Msg.Time != leave.Time) {
			t.Fatalf("relay %v, want the signed leave to %s", a, other)
		}
	}
	// The peer comes back; the old leave, replayed directly or as a
	// seed's relay, changes nothing.
	later := now.Add(time.Minute)
	register(later)
	relayedLeave := leave
	relayedLeave.Relayed = true
	for _, m := range []wire.Message{leave, relayedLeave} {
		r := wire.Format(s.Handle(later, live.Addr(), m))
		if !strings.HasPrefix(r, "error:Leaving: a replayed leave") {
			t.Fatalf("replayed %q: %q", wire.Format(m), r)
		}
		if acts := s.Ready(); !s.Has(live) || kinds(acts, Left)+kinds(acts, Relay) != 0 {
			t.Fatalf("after replayed %q: listed %v, acts %v", wire.Format(m), s.Has(live), acts)
		}
	}
	if st := s.Stats(); st.LeaveRefused != uint64(len(forged)+2) || st.Left != 1 {
		t.Fatalf("stats %+v", st)
	}
	// A relayed signed leave from the other seed removes it.
	fresh := signedLeave(liveKey, live, later.Add(time.Second))
	fresh.Relayed = true
	if r := wire.Format(s.Handle(later, other.Addr(), fresh)); r != "ok:left 127.0.0.1:5001" || s.Has(live) {
		t.Fatalf("relayed signed leave: %q, listed %v", r, s.Has(live))
	}
	if acts := s.Ready(); kinds(acts, Relay) != 0 {
		t.Fatalf("a relayed leave relayed again: %v", acts)
	}
	// An unverified (plain) registration leaves by the plain line.
	plain := netip.MustParseAddrPort("127.0.0.1:5099")
	s.Handle(later, plain.Addr(), wire.Message{Kind: wire.KindRegister, Addr: plain})
	if r := wire.Format(s.Handle(later, plain.Addr(), wire.Message{Kind: wire.KindLeaving, Addr: plain})); r != "ok:left 127.0.0.1:5099" || s.Has(plain) {
		t.Fatalf("plain leave of a plain registration: %q", r)
	}
}

// TestSignedRelays: with seed keys in config.txt, a relay from a keyed
// seed's IP that is not signed by a listed key (another key, a tampered
// signature, none at all) is refused: nothing removed, nothing probed,
// nothing relayed. A relay signed by the other seed's key is believed:
// the reported peer goes at once, with no probe of this seed's own. The
// relays a keyed seed sends carry its signature. Where a seed at that IP
// is listed without a key, an unsigned relay stays a hint (a probe).
func TestSignedRelays(t *testing.T) {
	self, other := netip.MustParseAddrPort("127.0.0.1:8080"), netip.MustParseAddrPort("127.0.0.1:8081")
	otherKey := identity.FromSeed([]byte("the other seed"))
	keys := map[netip.AddrPort]identity.PublicKey{other: otherKey.Public()}
	s := newSeed(t, func(c *Config) { c.Probe, c.SeedKeys = true, keys }, 1, 2)
	for _, a := range []netip.AddrPort{reporter, live} {
		s.Handle(base, a.Addr(), wire.Message{Kind: wire.KindRegister, Addr: a})
	}
	s.Ready()
	relay := func(m wire.Message, k *identity.Key) wire.Message {
		wire.SignRelay(&m, k)
		return m
	}
	tampered := relay(deadReport(live, reporter, false), otherKey)
	tampered.From = netip.MustParseAddrPort("127.0.0.1:5999")
	want := "error:Dead Node: relay from 127.0.0.1 is not signed by a seed key that config.txt lists there"
	wantLeave := "error:Leaving: relay from 127.0.0.1 is not signed by a seed key that config.txt lists there"
	for i, f := range []struct {
		m    wire.Message
		want string
	}{
		{relay(deadReport(live, reporter, false), identity.FromSeed([]byte("forger"))), want},
		{tampered, want},
		{deadReport(live, reporter, true), want},
		{wire.Message{Kind: wire.KindLeaving, Addr: live, Relayed: true}, wantLeave},
		{relay(wire.Message{Kind: wire.KindLeaving, Addr: live}, identity.FromSeed([]byte("forger"))), wantLeave},
	} {
		if r := wire.Format(s.Handle(base, other.Addr(), f.m)); r != f.want {
			t.Fatalf("forged relay %q: %q, want %q", wire.Format(f.m), r, f.want)
		}
		acts := s.Ready()
		if !s.Has(live) || kinds(acts, Probe)+kinds(acts, Relay)+kinds(acts, Removed)+kinds(acts, Left) != 0 || s.Stats().RelayRefused != uint64(i+1) {
			t.Fatalf("after forged relay %q: listed %v, acts %v, stats %+v", wire.Format(f.m), s.Has(live), acts, s.Stats())
		}
	}
	// The other seed's signed relay: believed, at once.
	if r := wire.Format(s.Handle(base, other.Addr(), relay(deadReport(live, reporter, false), otherKey))); r != "ok:removed 127.0.0.1:5001" {
		t.Fatalf("signed relay: %q", r)
	}
	acts := s.Ready()
	if s.Has(live) || kinds(acts, Removed) != 1 || kinds(acts, Probe)+kinds(acts, Relay) != 0 || s.Stats().RelaysBelieved != 1 {
		t.Fatalf("after the signed relay: listed %v, acts %v, stats %+v", s.Has(live), acts, s.Stats())
	}
	// This seed's own relays are signed with its key.
	s.Handle(base, live.Addr(), wire.Message{Kind: wire.KindRegister, Addr: live})
	s.Ready()
	s.Handle(base, reporter.Addr(), deadReport(live, reporter, false))
	failProbe(t, s, base, live, errors.New("connection refused"))
	var relays []wire.Message
	for _, a := range s.Ready() {
		if a.Kind == Relay {
			relays = append(relays, a.Msg)
		}
	}
	if len(relays) != 1 || relays[0].Relay == nil || relays[0].Relay.Key != s.Key().Public() || !wire.VerifyRelay(&relays[0]) {
		t.Fatalf("relays %v, want one signed by %s", relays, s.Key().Public())
	}
	if self != s.Self() {
		t.Fatal("test seed moved")
	}
	// A plain seed listed at the same IP: an unsigned relay is a hint.
	plainSeed := netip.MustParseAddrPort("127.0.0.1:8082")
	h := newSeed(t, func(c *Config) {
		c.Probe, c.SeedKeys = true, keys
		c.Seeds = append(c.Seeds, plainSeed)
	}, 1, 2)
	h.Handle(base, live.Addr(), wire.Message{Kind: wire.KindRegister, Addr: live})
	h.Ready()
	if r := wire.Format(h.Handle(base, plainSeed.Addr(), deadReport(live, reporter, true))); r != "ok:checking 127.0.0.1:5001" {
		t.Fatalf("unsigned relay with a plain seed at the IP: %q", r)
	}
	if acts := h.Ready(); !h.Has(live) || kinds(acts, Probe) != 1 || h.Stats().RelayRefused != 0 {
		t.Fatalf("hint: listed %v, acts %v", h.Has(live), acts)
	}
}

// TestOwnKeyMustMatchConfig: a seed whose config.txt lists another key
// for its own address refuses to start: every relay it signed would be
// refused by the others.
func TestOwnKeyMustMatchConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Self = netip.MustParseAddrPort("127.0.0.1:8080")
	cfg.Key = identity.FromSeed([]byte("mine"))
	cfg.SeedKeys = map[netip.AddrPort]identity.PublicKey{cfg.Self: identity.FromSeed([]byte("not mine")).Public()}
	_, err := New(cfg, NewRand(1))
	want := "seed: config.txt lists key " + cfg.SeedKeys[cfg.Self].String() + " for this seed (127.0.0.1:8080), but its key is " + cfg.Key.Public().String()
	if err == nil || err.Error() != want {
		t.Fatalf("New: %v, want %q", err, want)
	}
	cfg.SeedKeys[cfg.Self] = cfg.Key.Public()
	if _, err := New(cfg, NewRand(1)); err != nil {
		t.Fatalf("New with its own key listed: %v", err)
	}
}

// TestPeerKeys: a peer keys request is answered with peer info whose
// verified entries carry the key the dial-back proved (unverified ones
// none); peer info and peer list, which hand-typed sessions and older
// peers read, carry no keys. A keyed reply stops short of wire.MaxLineLen:
// 300 verified peers at the longest addresses and numbers give 160
// entries, a line that parses back to them.
func TestPeerKeys(t *testing.T) {
	s := newSeed(t, func(c *Config) { c.Probe = true }, 1, 2)
	plain := netip.MustParseAddrPort("127.0.0.1:5002")
	s.Handle(base, plain.Addr(), wire.Message{Kind: wire.KindRegister, Addr: plain, Cap: 2})
	s.Handle(base, live.Addr(), signedRegister(liveKey, live, 3, base))
	answerProbe(t, s, base, live, liveKey)
	r := s.Handle(base, localhost, wire.Message{Kind: wire.KindPeerKeysRequest})
	want := "peer info:127.0.0.1#5001#3#1#" + liveKey.Public().String() + ":127.0.0.1#5002#2#0"
	if got := wire.Format(r); got != want {
		t.Fatalf("peer keys: %q, want %q", got, want)
	}
	for req, want := range map[wire.Kind]string{
		wire.KindPeerInfoRequest: "peer info:127.0.0.1#5001#3#1:127.0.0.1#5002#2#0",
		wire.KindPeerListRequest: "peer list:127.0.0.1#5001:127.0.0.1#5002",
	} {
		if got := wire.Format(s.Handle(base, localhost, wire.Message{Kind: req})); got != want {
			t.Errorf("%v: %q, want %q", req, got, want)
		}
	}

	s = newSeed(t, func(c *Config) { c.Probe = true }, 1, 2)
	longest := netip.MustParseAddr("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
	for i := range 300 {
		a := netip.AddrPortFrom(longest, uint16(60000+i))
		k := identity.FromSeed([]byte(a.String()))
		m := wire.Message{Kind: wire.KindRegister, Addr: a, Cap: 1 << 20, Degree: 1000}
		wire.SignRegister(&m, k, wire.TimestampOf(base))
		s.Handle(base, longest, m)
		answerProbe(t, s, base, a, k)
	}
	line := wire.Format(s.Handle(base, localhost, wire.Message{Kind: wire.KindPeerKeysRequest}))
	back, err := wire.Parse(line)
	if err != nil || len(back.Peers) != 160 || len(line) != len("peer info")+160*102 {
		t.Fatalf("keyed reply: %d bytes, %d entries, %v", len(line), len(back.Peers), err)
	}
	for _, p := range back.Peers {
		if p.Key != identity.FromSeed([]byte(p.Addr.String())).Public() || p.Cap != 1024 || p.Degree != 1000 {
			t.Fatalf("entry %+v", p)
		}
	}
}
