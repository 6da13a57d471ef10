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
// relayed or not, probes answered rightly, wrongly, late or never, time
// passing. The invariant: a peer that answers every probe correctly is
// never removed, every request gets exactly one reply, and the registry,
// the probes and the free set stay consistent and bounded.
func FuzzSeedCore(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7})
	f.Add([]byte{0, 0, 0, 1, 2, 2, 2, 2, 2, 2, 5, 5, 6, 6})
	f.Add([]byte{1, 3, 3, 4, 7, 7, 2, 5})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 400 {
			data = data[:400]
		}
		s := newSeed(t, func(c *Config) { c.Probe, c.ReportBurst, c.MaxPerGroup = true, 5, 3 }, 1, 2)
		now := base
		honest := netip.MustParseAddrPort("127.0.0.1:5001") // answers every probe
		hk := identity.FromSeed([]byte("honest"))
		ak := identity.FromSeed([]byte("attacker"))
		if r := s.Handle(now, honest.Addr(), wire.Message{Kind: wire.KindRegister, Addr: honest}); r.Kind != wire.KindRegistered {
			t.Fatal(wire.Format(r))
		}
		addrs := []netip.AddrPort{honest, netip.MustParseAddrPort("127.0.0.1:5002"), netip.MustParseAddrPort("203.0.113.1:5000"),
			netip.MustParseAddrPort("203.0.113.2:5000"), netip.MustParseAddrPort("203.0.113.3:5000"), netip.MustParseAddrPort("203.0.113.4:5000")}
		pending := map[netip.AddrPort]string{} // probes asked for, by address
		for i := 0; i+1 < len(data); i += 2 {
			op, arg := data[i]%8, data[i+1]
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
			case 7: // a peer list
				reply, replied = s.Handle(now, src, wire.Message{Kind: wire.KindPeerInfoRequest}), true
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
