package peer

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/whispernet/whispernet/identity"
	"github.com/whispernet/whispernet/seed"
	"github.com/whispernet/whispernet/wire"
)

// keysFrom has the rig's peer ask seed s for peer keys (as it does with
// signing on) and passes the reply over the wire, as the driver would.
func (r *trustRig) keysFrom(s *seed.Seed) {
	r.t.Helper()
	req := wire.Message{Kind: wire.KindPeerKeysRequest}
	if got := r.p.infoRequest(r.p.seeds[0]); got.Kind != req.Kind {
		r.t.Fatalf("a signing peer asks %v, want %v", got.Kind, req.Kind)
	}
	reply := wireCopy(r.t, s.Handle(r.now, r.p.Self().Addr(), req))
	r.p.SeedReply(r.now, r.p.cfg.Seeds[0], req, reply)
	r.p.Ready()
}

// provenSeed returns a probing seed (the rig's peer's seed) with which the
// victim registered and answered the dial-back, after a racer registered
// the victim's address first with its own key (the dial-back reached the
// victim, which answered for its own key: the racer's is not listed).
func provenSeed(t *testing.T, vk, ak *identity.Key) *seed.Seed {
	t.Helper()
	cfg := seed.DefaultConfig()
	cfg.Self = seedAddrs(1)[0]
	s, err := seed.New(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []*identity.Key{ak, vk} {
		m := wire.Message{Kind: wire.KindRegister, Addr: victim, Cap: 4}
		wire.SignRegister(&m, k, wire.TimestampOf(base))
		if r := s.Handle(base, victim.Addr(), m); r.Kind != wire.KindRegistered {
			t.Fatal(wire.Format(r))
		}
		for _, a := range s.Ready() {
			if a.Kind == seed.Probe {
				s.ProbeReply(base, victim, a.Msg.Text, wire.Message{Kind: wire.KindChallengeReply, Addr: victim,
					Auth: &wire.Auth{Key: vk.Public(), Sig: wire.SignChallenge(vk, a.Msg.Text, victim)}}, nil)
			}
		}
	}
	if k, ok := s.Verified(victim); !ok || k != vk.Public() || s.Stats().Unproven != 1 {
		t.Fatalf("seed: victim verified %v with %v, stats %+v", ok, k, s.Stats())
	}
	return s
}

// TestRacerClaimsVictimFirst: a racer claims the victim's address first
// with its own key, at the seed (its registration is never listed) and at
// a peer (its gossip in the victim's name, its handshake under the
// victim's address). A peer that has the seed's peer keys reply refuses
// both, and delivers the victim's own messages. A peer the racer reached
// before any seed list delivered the racer's first message (first seen:
// docs/security.md says so), but the seed's list rebinds the address to
// the victim's key: the racer's next message is refused, the victim's
// delivered.
func TestRacerClaimsVictimFirst(t *testing.T) {
	vk, ak := DerivedKey(victim), identity.FromSeed([]byte("racer"))
	s := provenSeed(t, vk, ak)
	if p := s.Handle(base, relay.Addr(), wire.Message{Kind: wire.KindPeerKeysRequest}).Peers; len(p) != 1 || p[0].Key != vk.Public() {
		t.Fatalf("peer keys reply %+v, want the victim with its key", p)
	}

	t.Run("the seed's list first", func(t *testing.T) {
		r := newTrustRig(t, nil)
		r.keysFrom(s)
		if k, proven, ok := r.p.OriginKey(victim); !ok || !proven || k != vk.Public() || r.p.Stats().SeedKeys != 1 {
			t.Fatalf("binding %v proven %v ok %v, seed keys %d", k, proven, ok, r.p.Stats().SeedKeys)
		}
		good := r.link(relay)
		bad := r.link(attacker)
		if got, _ := r.recv(bad, r.signed(ak, victim, 1, "racer 1")); len(got) != 0 || r.p.Stats().KeyMismatch != 1 {
			t.Fatalf("racer's message: delivered %v, key mismatches %d", got, r.p.Stats().KeyMismatch)
		}
		// Under the victim's address with the racer's key: refused. (The
		// peer dialled the victim, a candidate from the list; the dial
		// failed, else the tie-break would refuse the racer first.)
		r.p.DialFailed(r.now, victim)
		r.p.Ready()
		_, acts := r.handshake(victim, ak, ak)
		refused := false
		for _, a := range acts {
			refused = refused || a.Kind == Send && a.Msg.Kind == wire.KindConnectRefused && a.Msg.Text == "key mismatch"
		}
		if !refused || r.p.neighbour(victim) != nil || r.p.Stats().BadHandshake != 1 {
			t.Fatalf("racer's handshake as the victim: %v", acts)
		}
		if got, _ := r.recv(good, r.signed(vk, victim, 1, "real 1")); len(got) != 1 || got[0].Text != "real 1" {
			t.Fatalf("victim's message: delivered %v", got)
		}
		if st := r.p.Stats(); st.Received != 1 || st.Rebound != 0 {
			t.Fatalf("received %d, rebound %d", st.Received, st.Rebound)
		}
	})

	t.Run("the racer first", func(t *testing.T) {
		r := newTrustRig(t, nil)
		good := r.link(relay)
		bad := r.link(attacker)
		if got, _ := r.recv(bad, r.signed(ak, victim, 1, "racer 1")); len(got) != 1 {
			t.Fatalf("racer's first message, before any list: delivered %v", got)
		}
		r.keysFrom(s)
		if k, proven, _ := r.p.OriginKey(victim); !proven || k != vk.Public() || r.p.Stats().Rebound != 1 || r.p.Stats().SeedKeys != 1 {
			t.Fatalf("after the seed's list: binding %v proven %v, stats %+v", k, proven, r.p.Stats())
		}
		if got, _ := r.recv(bad, r.signed(ak, victim, 2, "racer 2")); len(got) != 0 || r.p.Stats().KeyMismatch != 1 {
			t.Fatalf("racer's second message: delivered %v, key mismatches %d", got, r.p.Stats().KeyMismatch)
		}
		r.now = r.now.Add(time.Millisecond)
		if got, _ := r.recv(good, r.signed(vk, victim, 2, "real 2")); len(got) != 1 || got[0].Text != "real 2" {
			t.Fatalf("victim's message after the rebinding: delivered %v", got)
		}
	})
}

// TestPeerKeysFallback: a seed that does not serve peer keys (an older
// one answers with an error line) is asked for peer info instead, at once
// and from then on; an unsigned peer asks for peer info.
func TestPeerKeysFallback(t *testing.T) {
	r := newTrustRig(t, nil)
	st := r.p.seeds[0]
	req := wire.Message{Kind: wire.KindPeerKeysRequest}
	r.p.SeedReply(r.now, st.addr, req, wire.Message{Kind: wire.KindError, Text: `a seed does not serve "peer keys"`})
	acts := r.p.Ready()
	if len(acts) != 1 || acts[0].Kind != SeedRequest || acts[0].Msg.Kind != wire.KindPeerInfoRequest || r.p.infoRequest(st).Kind != wire.KindPeerInfoRequest {
		t.Fatalf("after the refusal: %v", acts)
	}
	u := newTrustRig(t, func(c *Config) { c.Sign = false })
	if k := u.p.infoRequest(u.p.seeds[0]).Kind; k != wire.KindPeerInfoRequest {
		t.Fatalf("unsigned peer asks %v", k)
	}
}
