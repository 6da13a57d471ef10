package seed

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/whispernet/whispernet/identity"
	"github.com/whispernet/whispernet/wire"
)

// FuzzSeedCore drives a probing seed with hostile request sequences
// decoded from the fuzzer's bytes: registrations (huge capacities, other
// networks), dead reports about live and unknown peers from any IP,
// relayed or not, probes answered rightly, wrongly, late or never, signed
// registrations (pending until their dial-back), signed leaves (valid,
// another key's, tampered), relays signed by the keyed seed's key, by
// another key or tampered, from its IP, and unsigned ones from a plain
// seed's IP, time passing. The invariant: a verified peer that answers
// every probe correctly, refreshes its registration and never leaves is
// never removed, every request gets exactly one reply, and the registry,
// the probes and the free set stay consistent and bounded.
func FuzzSeedCore(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7})
	f.Add([]byte{0, 0, 0, 1, 2, 2, 2, 2, 2, 2, 5, 5, 6, 6})
	f.Add([]byte{1, 3, 3, 4, 7, 7, 2, 5})
	f.Add([]byte{8, 1, 3, 1, 8, 0, 9, 0, 9, 1, 10, 2, 10, 0, 11, 1, 11, 2, 6, 60, 6, 60, 5, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 400 {
			data = data[:400]
		}
		other, plain := netip.MustParseAddrPort("127.0.0.1:8081"), netip.MustParseAddrPort("203.0.113.1:8082")
		osk := identity.FromSeed([]byte("the other seed"))
		s := newSeed(t, func(c *Config) {
			c.Probe, c.ReportBurst, c.MaxPerGroup = true, 5, 3
			c.Seeds = append(c.Seeds, plain)
			c.SeedKeys = map[netip.AddrPort]identity.PublicKey{other: osk.Public()}
		}, 1, 2)
		now := base
		honest := netip.MustParseAddrPort("127.0.0.1:5001") // answers every probe
		hk := identity.FromSeed([]byte("honest"))
		ak := identity.FromSeed([]byte("attacker"))
		keyOf := func(a netip.AddrPort) *identity.Key {
			if a == honest {
				return hk
			}
			return identity.FromSeed([]byte(a.String()))
		}
		var honestTS wire.Timestamp
		registerHonest := func() wire.Message {
			honestTS = max(wire.TimestampOf(now), honestTS+1)
			m := wire.Message{Kind: wire.KindRegister, Addr: honest, Cap: 4}
			wire.SignRegister(&m, hk, honestTS)
			return s.Handle(now, honest.Addr(), m)
		}
		if r := registerHonest(); r.Kind != wire.KindRegistered {
			t.Fatal(wire.Format(r))
		}
		for _, x := range s.Ready() {
			if x.Kind == Probe {
				s.ProbeReply(now, honest, x.Msg.Text, wire.Message{Kind: wire.KindChallengeReply, Addr: honest, Auth: &wire.Auth{Key: hk.Public(), Sig: wire.SignChallenge(hk, x.Msg.Text, honest)}}, nil)
			}
		}
		if _, ok := s.Verified(honest); !ok {
			t.Fatal("the honest peer is not verified")
		}
		s.Ready()
		addrs := []netip.AddrPort{honest, netip.MustParseAddrPort("127.0.0.1:5002"), netip.MustParseAddrPort("203.0.113.1:5000"),
			netip.MustParseAddrPort("203.0.113.2:5000"), netip.MustParseAddrPort("203.0.113.3:5000"), netip.MustParseAddrPort("203.0.113.4:5000")}
		pending := map[netip.AddrPort]string{} // probes asked for, by address
		for i := 0; i+1 < len(data); i += 2 {
			op, arg := data[i]%12, data[i+1]
			a := addrs[int(arg)%len(addrs)]
			src := addrs[int(arg/8)%len(addrs)].Addr()
			var reply wire.Message
			replied := false
			switch op {
			case 0: // register a (from its own IP), any capacity
				reply, replied = s.Handle(now, a.Addr(), wire.Message{Kind: wire.KindRegister, Addr: a, Cap: int(arg) << 24, Degree: int(arg)}), true
			case 1, 2: // a dead report about a, from src (relayed when op is 2)
				from := netip.AddrPortFrom(src, 9)
				reply, replied = s.Handle(now, src, wire.Message{Kind: wire.KindDeadNode, Addr: a, From: from, Time: wire.TimestampOf(now), Relayed: op == 2}), true
			case 3, 4: // answer a pending probe: honest always right; others per op
				for pa, nonce := range pending {
					k, as := ak, pa
					if pa == honest || op == 3 {
						k = hk
						if pa != honest {
							k = identity.FromSeed([]byte(pa.String()))
						}
					} else if arg&1 == 1 {
						as = honest // answering as somebody else
					}
					s.ProbeReply(now, pa, nonce, wire.Message{Kind: wire.KindChallengeReply, Addr: as, Auth: &wire.Auth{Key: k.Public(), Sig: wire.SignChallenge(k, nonce, as)}}, nil)
					delete(pending, pa)
					break
				}
			case 5: // a probe of a non-honest peer fails
				for pa, nonce := range pending {
					if pa != honest {
						s.ProbeReply(now, pa, nonce, wire.Message{}, errors.New("refused"))
						delete(pending, pa)
						break
					}
				}
			case 6: // time passes (honest answers its probes before they time out)
				if nonce, ok := pending[honest]; ok {
					s.ProbeReply(now, honest, nonce, wire.Message{Kind: wire.KindChallengeReply, Addr: honest, Auth: &wire.Auth{Key: hk.Public(), Sig: wire.SignChallenge(hk, nonce, honest)}}, nil)
					delete(pending, honest)
				}
				now = now.Add(time.Duration(arg) * 100 * time.Millisecond)
				s.Tick(now)
				if r := registerHonest(); r.Kind != wire.KindRegistered { // its refresh
					t.Fatalf("event %d: the honest peer's refresh refused: %s", i/2, wire.Format(r))
				}
			case 7: // a peer list, with keys or without
				req := wire.Message{Kind: wire.KindPeerInfoRequest}
				if arg&1 == 1 {
					req.Kind = wire.KindPeerKeysRequest
				}
				reply, replied = s.Handle(now, src, req), true
			case 8: // a signed registration of a: its own key or the attacker's
				m := wire.Message{Kind: wire.KindRegister, Addr: a, Cap: int(arg), Degree: 1}
				k := keyOf(a)
				if arg&1 == 1 {
					k = ak
				}
				wire.SignRegister(&m, k, wire.TimestampOf(now))
				reply, replied = s.Handle(now, a.Addr(), m), true
			case 9: // a signed leave of a from its IP: its own key (never the honest peer's), another, tampered
				m := wire.Message{Kind: wire.KindLeaving, Addr: a}
				k := keyOf(a)
				if arg&1 == 1 || a == honest {
					k = ak
				}
				wire.SignLeaving(&m, k, wire.TimestampOf(now))
				if arg&2 != 0 {
					m.Time++
				}
				reply, replied = s.Handle(now, a.Addr(), m), true
			case 10, 11: // a relay from the keyed seed's IP: a dead report (10) or a signed leave (11) about a
				m := wire.Message{Kind: wire.KindDeadNode, Addr: a, From: netip.AddrPortFrom(src, 9), Time: wire.TimestampOf(now)}
				if op == 11 {
					m = wire.Message{Kind: wire.KindLeaving, Addr: a}
					lk := keyOf(a)
					if a == honest {
						lk = ak
					}
					wire.SignLeaving(&m, lk, wire.TimestampOf(now))
				}
				m.Relayed = true
				sk := osk // the seed's own signature: never about the honest peer
				if arg&1 == 1 || a == honest {
					sk = ak
				}
				if arg&4 == 0 {
					wire.SignRelay(&m, sk)
				}
				if arg&2 != 0 && m.Relay != nil {
					m.Relay.Sig[0] ^= 1
				}
				from := other.Addr()
				if arg&8 != 0 {
					from = plain.Addr() // a plain seed's: a hint at most
				}
				reply, replied = s.Handle(now, from, m), true
			}
			if replied {
				if _, err := wire.Parse(wire.Format(reply)); err != nil || reply.Kind == wire.KindInvalid {
					t.Fatalf("event %d: reply %q does not parse: %v", i/2, wire.Format(reply), err)
				}
			}
			for _, x := range s.Ready() {
				switch x.Kind {
				case Probe:
					pending[x.Addr] = x.Msg.Text
				case Removed:
					if x.Addr == honest {
						t.Fatalf("event %d: the honest peer, which answers every probe, was removed", i/2)
					}
				}
			}
			for pa := range pending {
				if _, ok := s.probes[pa]; !ok {
					delete(pending, pa) // timed out
				}
			}
			if !s.Has(honest) {
				t.Fatalf("event %d: the honest peer is not listed", i/2)
			}
			checkRegistry(t, s, i/2)
		}
	})
}

// checkRegistry fails unless s's registry, free set and probes are
// consistent and bounded after event n: every member at its position,
// verified ones first, the free set exactly the members with a free slot.
func checkRegistry(t *testing.T, s *Seed, n int) {
	t.Helper()
	if len(s.reg.list) != len(s.peers) || len(s.probes) > maxProbes {
		t.Fatalf("event %d: registry %d/%d, probes %d", n, len(s.reg.list), len(s.peers), len(s.probes))
	}
	free := 0
	for _, p := range []*pool{&s.reg, &s.free} {
		for j, e := range p.list {
			if e.pos[p.slot] != j || s.peers[e.addr] != e || e.verified != (j < p.nv) {
				t.Fatalf("event %d: entry %d of pool %d inconsistent: %+v (verified part %d)", n, j, p.slot, e, p.nv)
			}
		}
	}
	for _, e := range s.reg.list {
		if e.cap > s.cfg.MaxCapacity || e.degree > s.cfg.MaxCapacity {
			t.Fatalf("event %d: entry over MaxCapacity: %+v", n, e)
		}
		if isFree := e.cap > 0 && e.degree < e.cap; isFree != s.free.has(e) {
			t.Fatalf("event %d: free set wrong for %+v", n, e)
		} else if isFree {
			free++
		}
	}
	if free != len(s.free.list) {
		t.Fatalf("event %d: free set %d, want %d", n, len(s.free.list), free)
	}
	for a, pr := range s.probes {
		if pr.deadline.IsZero() == pr.retryAt.IsZero() || len(pr.regs) > maxPendingKeys || pr.attempts > s.cfg.DialBackAttempts && !pr.dead {
			t.Fatalf("event %d: probe of %s inconsistent: %+v", n, a, pr)
		}
	}
}
