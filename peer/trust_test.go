package peer

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/whispernet/whispernet/identity"
	"github.com/whispernet/whispernet/wire"
)

// trustRig is one signing peer with neighbours linked by hand.
type trustRig struct {
	t   *testing.T
	p   *Peer
	now time.Time
	id  ConnID
}

func newTrustRig(t *testing.T, mod func(*Config)) *trustRig {
	cfg := testConfig(1)
	cfg.Target = 8
	cfg.Broadcast = Flood
	cfg.GossipCount = 0
	if mod != nil {
		mod(&cfg)
	}
	r := &trustRig{t: t, p: mustNew(t, cfg, 1, 2), now: base}
	r.p.Start(r.now)
	r.p.Ready()
	return r
}

// link accepts an inbound link from a (its listening address) and returns
// the connection.
func (r *trustRig) link(a netip.AddrPort) ConnID {
	r.t.Helper()
	id, acts := r.handshake(a, DerivedKey(a), DerivedKey(a))
	if r.p.neighbour(a) == nil {
		r.t.Fatalf("link from %s not established: %v", a, acts)
	}
	return id
}

// handshake opens an inbound link claiming address a with key claimed,
// answering the nonce with signer's signature; it returns the actions.
func (r *trustRig) handshake(a netip.AddrPort, claimed, signer *identity.Key) (ConnID, []Action) {
	r.id++
	r.p.Opened(r.now, r.id, netip.AddrPortFrom(a.Addr(), 40000+uint16(r.id)), false)
	r.p.Receive(r.now, r.id, wireCopy(r.t, wire.Message{Kind: wire.KindConnect, Addr: a, Cap: 4, Auth: &wire.Auth{Key: claimed.Public()}, Text: "dialler-nonce-0123456"}))
	acts := r.p.Ready()
	for _, x := range acts {
		if x.Kind == Send && x.Msg.Kind == wire.KindConnectAccepted {
			acc := wireCopy(r.t, x.Msg)
			if !wire.VerifyChallenge(acc.Auth.Key, acc.Auth.Sig, "dialler-nonce-0123456", r.p.Self()) {
				r.t.Fatalf("accepter's signature of our nonce does not verify")
			}
			proof := wire.Message{Kind: wire.KindConnectProof, Auth: &wire.Auth{Sig: wire.SignChallenge(signer, acc.Text, a)}}
			r.p.Receive(r.now, r.id, wireCopy(r.t, proof))
			acts = append(acts, r.p.Ready()...)
		}
	}
	return r.id, acts
}

// recv passes m across the wire (Format, Parse) on id and returns the
// messages delivered and the lines sent back on id.
func (r *trustRig) recv(id ConnID, m wire.Message) (delivered []wire.Message, replies []string) {
	r.t.Helper()
	line := wire.Format(m)
	m2, err := wire.Parse(line)
	if err != nil {
		r.t.Fatalf("%q: %v", line, err)
	}
	r.now = r.now.Add(10 * time.Millisecond)
	r.p.Receive(r.now, id, m2)
	for _, a := range r.p.Ready() {
		switch {
		case a.Kind == Deliver:
			delivered = append(delivered, a.Msg)
		case a.Kind == Send && a.Conn == id:
			replies = append(replies, wire.Format(a.Msg))
		}
	}
	return delivered, replies
}

// signed returns origin's message seq, signed with k, created now.
func (r *trustRig) signed(k *identity.Key, origin netip.AddrPort, seq uint32, text string) wire.Message {
	m := wire.Message{Kind: wire.KindGossip, Addr: origin, Seq: seq, Hops: 1, Time: wire.TimestampOf(r.now), Text: text}
	wire.SignGossip(&m, k)
	return m
}

var (
	victim   = netip.MustParseAddrPort("127.0.0.1:5007")
	relay    = netip.MustParseAddrPort("127.0.0.1:5008")
	attacker = netip.MustParseAddrPort("127.0.0.1:6666")
)

// TestSignedGossipAttacks drives one signing peer with forged gossip and
// checks the exact outcome of each: nothing forged is delivered, the
// counters say why, and the real origin is never silenced.
func TestSignedGossipAttacks(t *testing.T) {
	vk, ak := DerivedKey(victim), identity.FromSeed([]byte("attacker"))
	r := newTrustRig(t, nil)
	good := r.link(relay)
	bad := r.link(attacker)

	// The victim's first message arrives through the honest relay: its
	// key is bound to its address.
	if got, _ := r.recv(good, r.signed(vk, victim, 1, "real 1")); len(got) != 1 {
		t.Fatalf("real message 1: %d deliveries", len(got))
	}
	attacks := []struct {
		name string
		m    func() wire.Message
		stat func(Stats) uint64
	}{
		{"unsigned gossip in the victim's name", func() wire.Message {
			return wire.Message{Kind: wire.KindGossip, Addr: victim, Seq: 2, Time: wire.TimestampOf(r.now), Text: "forged"}
		}, func(s Stats) uint64 { return s.Unsigned }},
		{"forged origin signed with the attacker's key", func() wire.Message { return r.signed(ak, victim, 2, "forged") },
			func(s Stats) uint64 { return s.KeyMismatch }},
		{"the victim's key with a signature that is not the victim's", func() wire.Message {
			m := r.signed(ak, victim, 2, "forged")
			m.Auth.Key = vk.Public()
			return m
		}, func(s Stats) uint64 { return s.BadSignature }},
		{"sequence pre-emption (seq 4294967295)", func() wire.Message {
			m := r.signed(ak, victim, 1<<32-1, "pre-empt")
			m.Auth.Key = vk.Public()
			return m
		}, func(s Stats) uint64 { return s.SeqAhead }},
		{"replay of message 1 as a new sequence number", func() wire.Message {
			m := r.signed(vk, victim, 1, "real 1")
			m.Seq = 3
			return m
		}, func(s Stats) uint64 { return s.BadSignature }},
		{"replay with a fresh timestamp", func() wire.Message {
			m := r.signed(vk, victim, 4, "real 4")
			m.Time += 1
			return m
		}, func(s Stats) uint64 { return s.BadSignature }},
		{"tampered payload", func() wire.Message {
			m := r.signed(vk, victim, 5, "pay 10")
			m.Text = "pay 99"
			return m
		}, func(s Stats) uint64 { return s.BadSignature }},
		{"a message in the relay's name from the attacker's link", func() wire.Message { return r.signed(ak, relay, 1, "forged") },
			func(s Stats) uint64 { return s.KeyMismatch }},
	}
	for i, a := range attacks {
		before := r.p.Stats()
		got, replies := r.recv(bad, a.m())
		after := r.p.Stats()
		if len(got) != 0 {
			t.Errorf("%s: delivered %v", a.name, got)
		}
		if a.stat(after)-a.stat(before) != 1 {
			t.Errorf("%s: counter moved %d, want 1 (stats %+v)", a.name, a.stat(after)-a.stat(before), after)
		}
		if i == 0 && (len(replies) != 1 || replies[0][:len("error:unsigned gossip refused")] != "error:unsigned gossip refused") {
			t.Errorf("%s: replies %q, want one error line", a.name, replies)
		}
		if i > 0 && len(replies) != 0 {
			t.Errorf("%s: replies %q, want none after the first", a.name, replies)
		}
	}
	// The real origin is not silenced: its next messages are delivered.
	for seq := uint32(2); seq <= 5; seq++ {
		if got, _ := r.recv(good, r.signed(vk, victim, seq, fmt.Sprint("real ", seq))); len(got) != 1 || got[0].Text != fmt.Sprint("real ", seq) {
			t.Fatalf("real message %d after the attacks: delivered %v", seq, got)
		}
	}
	// An exact replay of a real message is a duplicate.
	if got, _ := r.recv(bad, r.signed(vk, victim, 2, "real 2")); len(got) != 0 {
		t.Fatalf("exact replay delivered %v", got)
	}
	if s := r.p.Stats(); s.Received != 5 || s.CutOff != 0 {
		t.Fatalf("received %d (want 5), cut off %d (want 0)", s.Received, s.CutOff)
	}
}

// TestBadGossipCutsOffNeighbour: MaxBadGossip bad messages close the
// link; the honest neighbour stays.
func TestBadGossipCutsOffNeighbour(t *testing.T) {
	r := newTrustRig(t, func(c *Config) { c.MaxBadGossip = 3 })
	r.link(relay)
	bad := r.link(attacker)
	ak := identity.FromSeed([]byte("attacker"))
	for i := range 3 {
		m := r.signed(ak, victim, uint32(i+1), "x")
		m.Text = "tampered"
		r.now = r.now.Add(time.Millisecond)
		r.p.Receive(r.now, bad, wireCopy(t, m))
	}
	closed := false
	for _, a := range r.p.Ready() {
		closed = closed || a.Kind == Close && a.Conn == bad
	}
	if !closed || r.p.neighbour(attacker) != nil || r.p.neighbour(relay) == nil || r.p.Stats().CutOff != 1 {
		t.Fatalf("closed %v, attacker linked %v, relay linked %v, cut off %d", closed, r.p.neighbour(attacker) != nil, r.p.neighbour(relay) != nil, r.p.Stats().CutOff)
	}
}

// TestDuplicatesAreNotVerified: a copy of a message already seen costs no
// signature check (the verifier counts them).
func TestDuplicatesAreNotVerified(t *testing.T) {
	c := identity.NewCache(16)
	r := newTrustRig(t, func(cfg *Config) { cfg.Verifier = c })
	ids := []ConnID{r.link(relay), r.link(attacker)}
	m := r.signed(DerivedKey(victim), victim, 1, "once")
	for i := range 6 {
		r.recv(ids[i%2], m)
	}
	if s := c.Stats(); s.Hits+s.Misses != 1 || r.p.Stats().Received != 1 || r.p.Stats().Duplicates != 5 {
		t.Fatalf("verifications %+v, received %d, duplicates %d", s, r.p.Stats().Received, r.p.Stats().Duplicates)
	}
}

// TestUnsignedModeAcceptsBoth: with Sign off, unsigned gossip is accepted
// and signed gossip is still checked.
func TestUnsignedModeAcceptsBoth(t *testing.T) {
	r := newTrustRig(t, func(c *Config) { c.Sign = false })
	id := r.link(relay)
	if got, _ := r.recv(id, wire.Message{Kind: wire.KindGossip, Addr: victim, Seq: 1, Time: wire.TimestampOf(r.now), Text: "plain"}); len(got) != 1 {
		t.Fatal("unsigned gossip refused with signing off")
	}
	m := r.signed(DerivedKey(victim), victim, 2, "signed")
	m.Text = "tampered"
	if got, _ := r.recv(id, m); len(got) != 0 {
		t.Fatal("badly signed gossip accepted with signing off")
	}
	if got, _ := r.recv(id, r.signed(DerivedKey(victim), victim, 3, "signed")); len(got) != 1 {
		t.Fatal("signed gossip refused with signing off")
	}
}

// TestPublishSigns: an origin's messages carry a signature that verifies
// under its key, and Format writes them as sgossip.
func TestPublishSigns(t *testing.T) {
	r := newTrustRig(t, nil)
	m := r.p.Publish(r.now, "hello")
	if m.Auth == nil || m.Auth.Key != r.p.Key().Public() || !wire.VerifyGossip(&m, nil) {
		t.Fatalf("published message not signed by the peer's key: %+v", m)
	}
	if line := wire.Format(m); line[:len("sgossip:")] != "sgossip:" {
		t.Fatalf("line %q", line)
	}
}

// TestHandshakeAttacks: a link under a borrowed port or key is refused or
// closed; the honest links stand.
func TestHandshakeAttacks(t *testing.T) {
	r := newTrustRig(t, nil)
	r.link(relay)
	ak := identity.FromSeed([]byte("attacker"))
	closedOrRefused := func(acts []Action, id ConnID) bool {
		for _, a := range acts {
			if a.Kind == Close && a.Conn == id {
				return true
			}
		}
		return false
	}
	// The victim's key is known from its gossip, relayed.
	r.recv(1, r.signed(DerivedKey(victim), victim, 1, "real"))
	// The victim's port, the attacker's key.
	id, acts := r.handshake(victim, ak, ak)
	if !closedOrRefused(acts, id) || r.p.neighbour(victim) != nil || r.p.Stats().BadHandshake != 1 {
		t.Fatalf("borrowed port: actions %v, bad handshakes %d", acts, r.p.Stats().BadHandshake)
	}
	// Another peer's port and key, without its private key.
	other := netip.MustParseAddrPort("127.0.0.1:5009")
	id, acts = r.handshake(other, DerivedKey(other), ak)
	if !closedOrRefused(acts, id) || r.p.neighbour(other) != nil || r.p.Stats().BadHandshake != 2 {
		t.Fatalf("borrowed key: actions %v, linked %v, bad handshakes %d", acts, r.p.neighbour(other) != nil, r.p.Stats().BadHandshake)
	}
	if _, _, ok := r.p.OriginKey(other); ok {
		t.Fatal("a failed proof bound a key")
	}
	if r.p.neighbour(relay) == nil || r.p.Degree() != 1 {
		t.Fatalf("the honest link is gone (degree %d)", r.p.Degree())
	}
	// The real owner still links.
	r.link(victim)
	if k, proven, ok := r.p.OriginKey(victim); !ok || proven || k != DerivedKey(victim).Public() {
		t.Fatalf("binding %v %v %v", k, proven, ok)
	}
}

// TestOutboundHandshakeProvesAccepter: the dialled end's signature of our
// nonce binds its key, proven; a wrong one closes the link.
func TestOutboundHandshakeProvesAccepter(t *testing.T) {
	for _, honest := range []bool{true, false} {
		r := newTrustRig(t, func(c *Config) { c.Target = 1 })
		r.p.Receive(r.now, 0, wire.Message{}) // nothing
		r.p.SeedReply(r.now, r.p.cfg.Seeds[0], wire.Message{Kind: wire.KindPeerInfoRequest}, wire.Message{Kind: wire.KindPeerInfo, Peers: []wire.PeerInfo{{Addr: relay, Cap: 4}}})
		r.now = r.now.Add(2 * time.Second)
		r.p.Tick(r.now)
		dialled := false
		for _, a := range r.p.Ready() {
			dialled = dialled || a.Kind == Dial && a.Addr == relay
		}
		if !dialled {
			t.Fatal("no dial to the candidate")
		}
		r.p.Opened(r.now, 99, relay, true)
		var hs wire.Message
		for _, a := range r.p.Ready() {
			if a.Kind == Send && a.Conn == 99 {
				hs = wireCopy(t, a.Msg)
			}
		}
		if hs.Kind != wire.KindConnect || hs.Auth == nil || hs.Auth.Key != r.p.Key().Public() {
			t.Fatalf("handshake %+v carries no key", hs)
		}
		signer := DerivedKey(relay)
		if !honest {
			signer = identity.FromSeed([]byte("impostor"))
		}
		acc := wire.Message{Kind: wire.KindConnectAccepted, Addr: relay, Cap: 4, Auth: &wire.Auth{Key: DerivedKey(relay).Public(), Sig: wire.SignChallenge(signer, hs.Text, relay)}, Text: "accepter-nonce-012345"}
		r.p.Receive(r.now, 99, wireCopy(t, acc))
		var proof wire.Message
		for _, a := range r.p.Ready() {
			if a.Kind == Send && a.Conn == 99 && a.Msg.Kind == wire.KindConnectProof {
				proof = wireCopy(t, a.Msg)
			}
		}
		_, proven, _ := r.p.OriginKey(relay)
		if honest {
			if r.p.neighbour(relay) == nil || !proven || !wire.VerifyChallenge(r.p.Key().Public(), proof.Auth.Sig, "accepter-nonce-012345", r.p.Self()) {
				t.Fatalf("honest accepter: linked %v, proven %v, proof %+v", r.p.neighbour(relay) != nil, proven, proof)
			}
		} else if r.p.neighbour(relay) != nil || proven || r.p.Stats().BadHandshake != 1 {
			t.Fatalf("impostor: linked %v, proven %v", r.p.neighbour(relay) != nil, proven)
		}
	}
}

// TestChallengeAnswered: a seed's probe on a fresh connection gets one
// signed reply and the connection closes.
func TestChallengeAnswered(t *testing.T) {
	r := newTrustRig(t, nil)
	r.p.Opened(r.now, 50, netip.MustParseAddrPort("127.0.0.1:41000"), false)
	r.p.Receive(r.now, 50, wireCopy(t, wire.Message{Kind: wire.KindChallenge, Text: "seed-nonce-0123456789"}))
	var reply wire.Message
	closed := false
	for _, a := range r.p.Ready() {
		switch {
		case a.Kind == Send && a.Conn == 50:
			reply = wireCopy(t, a.Msg)
		case a.Kind == Close && a.Conn == 50:
			closed = true
		}
	}
	if reply.Kind != wire.KindChallengeReply || reply.Addr != r.p.Self() || !closed ||
		!wire.VerifyChallenge(r.p.Key().Public(), reply.Auth.Sig, "seed-nonce-0123456789", r.p.Self()) {
		t.Fatalf("reply %+v, closed %v", reply, closed)
	}
}

// TestLimits: capacity inflation is clamped, one network group gets at
// most MaxPerGroup inbound links, a graft storm is served at most
// CacheSize messages a second with repeated IDs once, and an ihave flood
// from one neighbour leaves room for the others' announcements.
func TestLimits(t *testing.T) {
	t.Run("capacity inflation", func(t *testing.T) {
		r := newTrustRig(t, nil)
		r.id++
		r.p.Opened(r.now, r.id, netip.MustParseAddrPort("127.0.0.1:40000"), false)
		r.p.Receive(r.now, r.id, wire.Message{Kind: wire.KindConnect, Addr: attacker, Cap: 1<<31 - 1})
		r.p.Ready()
		if c := r.p.neighbour(attacker); c == nil || c.capacity != r.p.cfg.MaxCapacity {
			t.Fatalf("claimed capacity stored as %v", c)
		}
	})
	t.Run("inbound links per network group", func(t *testing.T) {
		r := newTrustRig(t, func(c *Config) { c.MaxPerGroup = 2; c.Sign = false })
		for i := range 4 {
			a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(i + 1)}), 5000)
			r.id++
			r.p.Opened(r.now, r.id, netip.AddrPortFrom(a.Addr(), 40000), false)
			r.p.Receive(r.now, r.id, wire.Message{Kind: wire.KindConnect, Addr: a, Cap: 4})
			r.p.Ready()
			if (r.p.neighbour(a) != nil) != (i < 2) {
				t.Fatalf("link %d from the /24: linked %v", i, r.p.neighbour(a) != nil)
			}
		}
		if r.p.Stats().GroupRefused != 2 {
			t.Fatalf("group refused %d", r.p.Stats().GroupRefused)
		}
	})
	t.Run("graft storm", func(t *testing.T) {
		r := newTrustRig(t, func(c *Config) { c.Broadcast = Plumtree; c.CacheSize = 8 })
		id := r.link(attacker)
		var ids []wire.MsgID
		for range 8 {
			m := r.p.Publish(r.now, "x")
			ids = append(ids, wire.MsgID{Origin: m.Addr, Seq: m.Seq})
		}
		r.p.Ready()
		storm := append(append([]wire.MsgID{}, ids...), ids...) // each twice
		sent := 0
		for range 10 {
			r.p.Receive(r.now, id, wire.Message{Kind: wire.KindGraft, IDs: storm})
			for _, a := range r.p.Ready() {
				if a.Kind == Send && a.Conn == id && a.Msg.Kind == wire.KindGossip {
					sent++
				}
			}
		}
		if sent != 8 {
			t.Fatalf("10 grafts of 16 IDs in one second served %d messages, want 8", sent)
		}
		r.now = r.now.Add(time.Second)
		r.p.Receive(r.now, id, wire.Message{Kind: wire.KindGraft, IDs: ids[:1]})
		if n := len(r.p.Ready()); n != 1 {
			t.Fatalf("a graft a second later got %d actions, want its message", n)
		}
	})
	t.Run("ihave flood", func(t *testing.T) {
		r := newTrustRig(t, func(c *Config) { c.Broadcast = Plumtree; c.MaxMissing = 64 })
		flood := r.link(attacker)
		honest := r.link(relay)
		for i := range 4 {
			var ids []wire.MsgID
			for j := range 64 {
				ids = append(ids, wire.MsgID{Origin: victim, Seq: uint32(1 + 64*i + j)})
			}
			r.p.Receive(r.now, flood, wire.Message{Kind: wire.KindIHave, IDs: ids})
		}
		r.p.Receive(r.now, honest, wire.Message{Kind: wire.KindIHave, IDs: []wire.MsgID{{Origin: relay, Seq: 1}}})
		if r.p.findMissing(wire.MsgID{Origin: relay, Seq: 1}) < 0 {
			t.Fatalf("the honest announcement found no room (%d missing)", len(r.p.missing))
		}
		if len(r.p.missing) > 64 {
			t.Fatalf("missing table holds %d, bound 64", len(r.p.missing))
		}
	})
}

// TestFloodsCutOff: one neighbour floods gossip (the same message over and
// over: duplicates, which cost no verification) and another floods ihave
// lines, each far over its per-neighbour rate. The excess is dropped and
// counted, each is cut off at MaxFloodDrops, and an honest neighbour's
// messages keep being delivered throughout.
func TestFloodsCutOff(t *testing.T) {
	for _, kind := range []string{"gossip", "ihave"} {
		t.Run(kind, func(t *testing.T) {
			r := newTrustRig(t, func(c *Config) {
				c.Broadcast = Plumtree
				c.GossipRate, c.GossipBurst = 100, 200
				c.IHaveRate, c.IHaveBurst = 100, 256
				c.MaxFloodDrops = 50
			})
			flood := r.link(attacker)
			honest := r.link(relay)
			relayKey, attackerKey := DerivedKey(relay), DerivedKey(attacker)
			dup := r.signed(attackerKey, attacker, 1, "again")
			seq, delivered := uint32(0), 0
			limit := r.p.cfg.GossipBurst
			if kind == "ihave" {
				limit = r.p.cfg.IHaveBurst // one ID a line
			}
			// All in one instant: the bucket does not refill.
			for n := range limit + r.p.cfg.MaxFloodDrops {
				if r.p.neighbour(attacker) == nil {
					t.Fatalf("cut off after %d lines, want %d", n, limit+r.p.cfg.MaxFloodDrops)
				}
				if kind == "gossip" {
					r.p.Receive(r.now, flood, dup)
				} else {
					r.p.Receive(r.now, flood, wire.Message{Kind: wire.KindIHave, IDs: []wire.MsgID{{Origin: victim, Seq: uint32(n + 1)}}})
				}
				if n%50 == 0 {
					seq++
					r.p.Receive(r.now, honest, r.signed(relayKey, relay, seq, "honest"))
				}
				for _, a := range r.p.Ready() {
					if a.Kind == Deliver && a.Msg.Addr == relay {
						delivered++
					}
				}
			}
			st := r.p.Stats()
			if r.p.neighbour(attacker) != nil || st.FloodCutOff != 1 || st.RateLimited != uint64(r.p.cfg.MaxFloodDrops) {
				t.Fatalf("flooder linked %v, flood_cut_off %d, rate_limited %d (want %d)", r.p.neighbour(attacker) != nil, st.FloodCutOff, st.RateLimited, r.p.cfg.MaxFloodDrops)
			}
			if r.p.neighbour(relay) == nil || delivered != int(seq) {
				t.Fatalf("honest neighbour linked %v, delivered %d of %d", r.p.neighbour(relay) != nil, delivered, seq)
			}
			// The honest neighbour goes on after the cut.
			seq++
			if d, _ := r.recv(honest, r.signed(relayKey, relay, seq, "after")); len(d) != 1 {
				t.Fatalf("after the cut: delivered %d", len(d))
			}
		})
	}
}

// TestRateRefills: a neighbour at its rate, over a long time, is never
// limited: the bucket refills in the core's own time.
func TestRateRefills(t *testing.T) {
	r := newTrustRig(t, func(c *Config) { c.GossipRate, c.GossipBurst = 100, 10 })
	honest := r.link(relay)
	k := DerivedKey(relay)
	for seq := uint32(1); seq <= 1000; seq++ {
		r.now = r.now.Add(10 * time.Millisecond) // exactly the rate
		r.p.Receive(r.now, honest, r.signed(k, relay, seq, "x"))
	}
	if st := r.p.Stats(); st.RateLimited != 0 || st.Received != 1000 {
		t.Fatalf("rate_limited %d, received %d", st.RateLimited, st.Received)
	}
}

// Two signed registrations made in one microsecond (a refresh on a degree
// change right after the first register, or any two under a frozen test
// clock) still carry strictly increasing timestamps, which the seed needs to
// accept the second one as a refresh and not refuse it as a replay.
func TestRegisterTimestampsIncrease(t *testing.T) {
	cfg := testConfig(1)
	cfg.Sign = true
	p := mustNew(t, cfg, 1, 2)
	now := time.Unix(1_700_000_000, 0)
	var last wire.Timestamp
	for i := range 3 {
		m := p.registerMsg(now)
		if m.Auth == nil {
			t.Fatalf("registration %d is not signed", i)
		}
		if !wire.VerifyRegister(&m) {
			t.Fatalf("registration %d does not verify", i)
		}
		if i > 0 && m.Time <= last {
			t.Fatalf("registration %d has timestamp %s, not after %s", i, m.Time, last)
		}
		last = m.Time
	}
	if want := wire.TimestampOf(now) + 2; last != want {
		t.Fatalf("third timestamp %s, want %s", last, want)
	}
}

// The inline bucket decides as golang.org/x/time/rate's Limiter.AllowN,
// which it replaced: the same answers on random arrivals (bursts, gaps,
// batches over the burst, the clock stepping back).
func TestBucketMatchesRate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Unix(1_700_000_000, 0)
	for _, c := range []struct {
		r     float64
		burst int
	}{{10000, 20000}, {10000, 16}, {3, 5}, {0.5, 1}, {1e6, 100}} {
		var b bucket
		lim := rate.NewLimiter(rate.Limit(c.r), c.burst)
		at := time.Duration(0)
		allowed, refused := 0, 0
		for range 20000 {
			switch rng.IntN(10) {
			case 0:
				at += time.Duration(rng.Int64N(int64(2 * time.Second)))
			case 1:
				at -= time.Duration(rng.Int64N(int64(time.Millisecond)))
			default:
				at += time.Duration(rng.Int64N(int64(time.Duration(float64(time.Second) / c.r))))
			}
			n := 1 + rng.IntN(c.burst+c.burst/4+1)
			if rng.IntN(2) == 0 {
				n = 1
			}
			want := lim.AllowN(start.Add(at), n)
			if got := b.allow(at, c.r, c.burst, n); got != want {
				t.Fatalf("rate %g burst %d: at %v, %d items: bucket says %v, rate.Limiter %v", c.r, c.burst, at, n, got, want)
			}
			if want {
				allowed++
			} else {
				refused++
			}
		}
		if allowed == 0 || refused == 0 {
			t.Fatalf("rate %g burst %d: %d allowed, %d refused: the sequence tests only one answer", c.r, c.burst, allowed, refused)
		}
	}
	var b bucket
	if !b.allow(0, 0, 0, 1<<20) {
		t.Fatal("rate 0 must mean no limit")
	}
}

// TestControlFloods: liveness lines, grafts and prunes have per-neighbour
// rates of their own. One neighbour floods each in one instant (no refill):
// the burst is handled (each liveness request answered, each graft
// served), the next MaxFloodDrops are dropped unanswered and counted, and
// then the neighbour is cut off; an honest neighbour's liveness requests
// are answered throughout, and its link stays.
func TestControlFloods(t *testing.T) {
	for _, kind := range []string{"liveness flood", "graft storm", "prune flood"} {
		t.Run(kind, func(t *testing.T) {
			r := newTrustRig(t, func(c *Config) {
				c.Broadcast = Plumtree
				c.LivenessRate, c.LivenessBurst = 10, 20
				c.ControlRate, c.ControlBurst = 10, 20
				c.MaxFloodDrops = 30
			})
			flood := r.link(attacker)
			honest := r.link(relay)
			pub := r.p.Publish(r.now, "cached")
			r.p.Ready()
			line := map[string]wire.Message{
				"liveness flood": {Kind: wire.KindLivenessRequest, Time: wire.TimestampOf(r.now), Addr: attacker},
				"graft storm":    {Kind: wire.KindGraft, IDs: []wire.MsgID{{Origin: r.p.Self(), Seq: pub.Seq}}},
				"prune flood":    {Kind: wire.KindPrune},
			}[kind]
			answered, honestAnswered := 0, 0
			for n := range 20 + 30 {
				if r.p.neighbour(attacker) == nil {
					t.Fatalf("cut off after %d lines, want 50", n)
				}
				r.p.Receive(r.now, flood, wireCopy(t, line))
				if n%10 == 0 {
					r.p.Receive(r.now, honest, wireCopy(t, wire.Message{Kind: wire.KindLivenessRequest, Time: wire.TimestampOf(r.now), Addr: relay}))
				}
				for _, a := range r.p.Ready() {
					if a.Kind != Send {
						continue
					}
					switch {
					case a.Conn == honest && a.Msg.Kind == wire.KindLivenessReply:
						honestAnswered++
					case a.Conn == flood && (a.Msg.Kind == wire.KindLivenessReply || a.Msg.Kind == wire.KindGossip):
						answered++
					}
				}
			}
			st := r.p.Stats()
			limited, other, wantAnswered := st.LivenessLimited, st.ControlLimited, 20
			if kind != "liveness flood" {
				limited, other = st.ControlLimited, st.LivenessLimited
			}
			if kind == "prune flood" {
				wantAnswered = 0
			}
			if r.p.neighbour(attacker) != nil || st.FloodCutOff != 1 || limited != 30 || other != 0 || st.RateLimited != 0 || answered != wantAnswered {
				t.Fatalf("flooder linked %v, flood_cut_off %d, limited %d (want 30), rate_limited %d, answered %d (want %d); stats %+v",
					r.p.neighbour(attacker) != nil, st.FloodCutOff, limited, st.RateLimited, answered, wantAnswered, st)
			}
			if r.p.neighbour(relay) == nil || honestAnswered != 5 {
				t.Fatalf("honest neighbour linked %v, its liveness requests answered %d of 5", r.p.neighbour(relay) != nil, honestAnswered)
			}
		})
	}
}

// TestLivenessAtRateNeverLimited: a neighbour sending liveness requests at
// exactly its LivenessRate for 100 s gets every one answered.
func TestLivenessAtRateNeverLimited(t *testing.T) {
	r := newTrustRig(t, func(c *Config) { c.LivenessRate, c.LivenessBurst = 10, 1 })
	id := r.link(relay)
	answered := 0
	for range 1000 {
		r.now = r.now.Add(100 * time.Millisecond)
		r.p.Receive(r.now, id, wire.Message{Kind: wire.KindLivenessRequest, Time: wire.TimestampOf(r.now), Addr: relay})
		for _, a := range r.p.Ready() {
			if a.Kind == Send && a.Conn == id && a.Msg.Kind == wire.KindLivenessReply {
				answered++
			}
		}
	}
	if st := r.p.Stats(); st.LivenessLimited != 0 || answered != 1000 {
		t.Fatalf("liveness_limited %d, answered %d of 1000", st.LivenessLimited, answered)
	}
}
