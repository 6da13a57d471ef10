package seed

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/whispernet/whispernet/wire"
)

var localhost = netip.MustParseAddr("127.0.0.1")

func newSeed(t testing.TB, mod func(*Config), s1, s2 uint64) *Seed {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Probe = false // the classic model: a report removes at once (probe_test.go checks first)
	cfg.Self = netip.MustParseAddrPort("127.0.0.1:8080")
	cfg.Seeds = []netip.AddrPort{cfg.Self, netip.MustParseAddrPort("127.0.0.1:8081")}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg, rand.New(rand.NewPCG(s1, s2)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// register adds n peers 127.0.0.1:1..n (or from addr) and checks the replies.
func registerN(t testing.TB, s *Seed, n int, addr func(i int) netip.AddrPort) {
	t.Helper()
	for i := 0; i < n; i++ {
		a := addr(i)
		r := s.Handle(base, a.Addr(), wire.Message{Kind: wire.KindRegister, Addr: a, Cap: 3, Degree: i % 3})
		if r.Kind != wire.KindRegistered {
			t.Fatalf("register %s: %s", a, wire.Format(r))
		}
	}
	s.Ready()
}

func localPort(i int) netip.AddrPort { return netip.AddrPortFrom(localhost, uint16(1+i)) }

// roundTrip formats a reply and parses it back, as a peer would.
func roundTrip(t testing.TB, m wire.Message) wire.Message {
	t.Helper()
	line := wire.Format(m)
	out, err := wire.Parse(line)
	if err != nil {
		t.Fatalf("reply of %d bytes does not parse: %v", len(line), err)
	}
	return out
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*Config)
		want error
	}{
		{func(c *Config) { c.Self = netip.AddrPort{} }, ErrNoSelf},
		{func(c *Config) { c.MaxPeers = 0 }, ErrMaxPeers},
		{func(c *Config) { c.Expiry = -time.Second }, nil},
	} {
		cfg := DefaultConfig()
		cfg.Probe = false
		cfg.Self = netip.MustParseAddrPort("127.0.0.1:8080")
		tc.mod(&cfg)
		_, err := New(cfg, rand.New(rand.NewPCG(1, 2)))
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("New: %v, want %v", err, tc.want)
		}
	}
}

// TestPeerListSample: a registry larger than MaxPeersPerReply answers with
// exactly that many distinct registered peers, deterministic for a fixed
// rng, and every peer is equally likely to be listed.
func TestPeerListSample(t *testing.T) {
	const n = 1000
	const k = wire.MaxPeersPerReply
	s := newSeed(t, nil, 1, 2)
	registerN(t, s, n, localPort)
	twin := newSeed(t, nil, 1, 2)
	registerN(t, twin, n, localPort)

	counts := make(map[netip.AddrPort]int)
	const requests = 400
	for r := 0; r < requests; r++ {
		for _, kind := range []wire.Kind{wire.KindPeerListRequest, wire.KindPeerInfoRequest} {
			reply := roundTrip(t, s.Handle(base, localhost, wire.Message{Kind: kind}))
			again := roundTrip(t, twin.Handle(base, localhost, wire.Message{Kind: kind}))
			if !slices.Equal(reply.Peers, again.Peers) {
				t.Fatalf("request %d: the same rng seed gave different samples", r)
			}
			if len(reply.Peers) != k {
				t.Fatalf("%d entries, want %d", len(reply.Peers), k)
			}
			seen := make(map[netip.AddrPort]bool)
			for _, p := range reply.Peers {
				if seen[p.Addr] || !s.Has(p.Addr) {
					t.Fatalf("entry %s duplicated or not registered", p.Addr)
				}
				seen[p.Addr] = true
				if kind == wire.KindPeerInfoRequest {
					if want := int(p.Addr.Port()-1) % 3; p.Cap != 3 || p.Degree != want {
						t.Fatalf("%s listed with cap %d degree %d, want 3 and %d", p.Addr, p.Cap, p.Degree, want)
					}
				} else {
					counts[p.Addr]++
				}
			}
		}
	}
	// Each peer is listed in a request with probability k/n. Over the
	// requests its count is Binomial(400, 0.256): chi-square over the n
	// peers with n−1 degrees of freedom (mean 999, sd √1998 ≈ 45); 1200 is
	// 4.5 sd out.
	p := float64(k) / n
	exp := requests * p
	chi := 0.0
	for i := 0; i < n; i++ {
		d := float64(counts[localPort(i)]) - exp
		chi += d * d / (exp * (1 - p))
	}
	if chi > 1200 {
		t.Errorf("sample is not uniform: chi-square %.0f over %d peers", chi, n)
	}
	if st := s.Stats(); st.PeerListsServed != 2*requests {
		t.Errorf("PeerListsServed = %d, want %d", st.PeerListsServed, 2*requests)
	}
}

// TestReleaseNeverTouchesHeldReplies: released peer lists are reused by
// later replies, and a reply that was not released is never overwritten.
func TestReleaseNeverTouchesHeldReplies(t *testing.T) {
	s := newSeed(t, nil, 1, 2)
	registerN(t, s, 1000, localPort)
	held := s.Handle(base, localhost, wire.Message{Kind: wire.KindPeerInfoRequest})
	want := slices.Clone(held.Peers)
	for r := range 200 {
		kind := []wire.Kind{wire.KindPeerListRequest, wire.KindPeerInfoRequest}[r%2]
		reply := s.Handle(base, localhost, wire.Message{Kind: kind})
		if len(reply.Peers) != wire.MaxPeersPerReply {
			t.Fatalf("reply %d: %d entries", r, len(reply.Peers))
		}
		seen := make(map[netip.AddrPort]bool)
		for _, p := range reply.Peers {
			if seen[p.Addr] || !s.Has(p.Addr) {
				t.Fatalf("reply %d: entry %s duplicated or not registered", r, p.Addr)
			}
			seen[p.Addr] = true
		}
		Release(reply)
	}
	if !slices.Equal(held.Peers, want) {
		t.Fatal("a reply that was never released changed")
	}
	Release(wire.Message{Kind: wire.KindOK}) // no peer list: nothing to do
}

// TestPeerListFitsAndOrders: up to MaxPeersPerReply peers are all listed in
// registry order; the reply always fits a line, even with the longest IPv6
// addresses.
func TestPeerListFitsAndOrders(t *testing.T) {
	s := newSeed(t, func(c *Config) { c.Verify = false }, 1, 2)
	long := func(i int) netip.AddrPort {
		b := [16]byte{0x2f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, byte(i)}
		b[13] = byte(i >> 8)
		return netip.AddrPortFrom(netip.AddrFrom16(b), 65535-uint16(i%100))
	}
	registerN(t, s, wire.MaxPeersPerReply, long)
	for _, kind := range []wire.Kind{wire.KindPeerListRequest, wire.KindPeerInfoRequest} {
		reply := roundTrip(t, s.Handle(base, localhost, wire.Message{Kind: kind}))
		var got []netip.AddrPort
		for _, p := range reply.Peers {
			got = append(got, p.Addr)
		}
		if !slices.Equal(got, s.Peers()) {
			t.Errorf("%v: a registry of exactly %d is not listed whole in registry order", kind, wire.MaxPeersPerReply)
		}
	}
	registerN(t, s, 2*wire.MaxPeersPerReply, long)
	for _, kind := range []wire.Kind{wire.KindPeerListRequest, wire.KindPeerInfoRequest} {
		reply := roundTrip(t, s.Handle(base, localhost, wire.Message{Kind: kind}))
		if len(reply.Peers) != wire.MaxPeersPerReply {
			t.Errorf("%v: %d entries", kind, len(reply.Peers))
		}
	}
}

// TestHugeCapacityDoesNotPoisonPeerInfo: one peer registering an absurd
// capacity or degree must not make the peer-info reply unreadable for
// everybody else (an entry over wire's limit, or a line over MaxLineLen).
func TestHugeCapacityDoesNotPoisonPeerInfo(t *testing.T) {
	s := newSeed(t, func(c *Config) { c.Verify = false }, 1, 2)
	registerN(t, s, 3, localPort)
	r := roundTrip(t, s.Handle(base, localhost, wire.Message{Kind: wire.KindRegister, Addr: localPort(99), Cap: math.MaxUint32, Degree: math.MaxUint32}))
	if r.Kind != wire.KindRegistered && r.Kind != wire.KindError {
		t.Fatalf("register reply %s", wire.Format(r))
	}
	reply := roundTrip(t, s.Handle(base, localhost, wire.Message{Kind: wire.KindPeerInfoRequest}))
	if len(reply.Peers) != 4 {
		t.Fatalf("peer info lists %d peers, want 4", len(reply.Peers))
	}
	// Stored and listed clamped to MaxCapacity.
	if p := reply.Peers[3]; p.Addr != localPort(99) || p.Cap != DefaultConfig().MaxCapacity || p.Degree != DefaultConfig().MaxCapacity {
		t.Errorf("huge registration listed as %+v, want cap and degree %d", p, DefaultConfig().MaxCapacity)
	}
	// The longest IPv6 addresses with the largest capacities still fit.
	s = newSeed(t, func(c *Config) { c.Verify = false }, 1, 2)
	for i := 0; i < 2*wire.MaxPeersPerReply; i++ {
		b := [16]byte{0x2f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, byte(i >> 8), byte(i)}
		a := netip.AddrPortFrom(netip.AddrFrom16(b), 65535)
		s.Handle(base, a.Addr(), wire.Message{Kind: wire.KindRegister, Addr: a, Cap: math.MaxInt32 - i, Degree: math.MaxInt32 - i})
	}
	roundTrip(t, s.Handle(base, localhost, wire.Message{Kind: wire.KindPeerInfoRequest}))
}

// TestRemoveKeepsRegistryConsistent: removals from any position (the
// registry swaps the last entry into the hole) keep Peers, Has and Len in
// agreement, and sampling still only lists registered peers.
func TestRemoveKeepsRegistryConsistent(t *testing.T) {
	s := newSeed(t, func(c *Config) { c.Verify = false; c.Seeds = nil }, 3, 4)
	rng := rand.New(rand.NewPCG(5, 6))
	live := make(map[netip.AddrPort]bool)
	for step := 0; step < 5000; step++ {
		a := localPort(rng.IntN(400))
		if rng.IntN(2) == 0 {
			s.Handle(base, localhost, wire.Message{Kind: wire.KindRegister, Addr: a})
			live[a] = true
		} else {
			r := s.Handle(base, localhost, wire.Message{Kind: wire.KindDeadNode, Addr: a, From: localPort(999)})
			want := "removed " + a.String()
			if !live[a] {
				want = "already removed " + a.String()
			}
			if r.Kind != wire.KindOK || r.Text != want {
				t.Fatalf("step %d: Dead Node %s: %s, want ok:%s", step, a, wire.Format(r), want)
			}
			delete(live, a)
		}
		s.Ready()
		if s.Len() != len(live) || len(s.Peers()) != len(live) {
			t.Fatalf("step %d: Len %d, Peers %d, want %d", step, s.Len(), len(s.Peers()), len(live))
		}
		if step%97 == 0 {
			for _, p := range s.Peers() {
				if !live[p] || !s.Has(p) {
					t.Fatalf("step %d: %s listed but not registered", step, p)
				}
			}
			for _, p := range roundTrip(t, s.Handle(base, localhost, wire.Message{Kind: wire.KindPeerListRequest})).Peers {
				if !live[p.Addr] {
					t.Fatalf("step %d: sample lists removed %s", step, p.Addr)
				}
			}
		}
	}
}

// TestRelayExactlyOnce: a removal relays one report to every other seed;
// those seeds remove the peer and relay nothing, so each seed sees the
// report at most once more.
func TestRelayExactlyOnce(t *testing.T) {
	addrs := []netip.AddrPort{
		netip.MustParseAddrPort("10.0.0.1:8080"),
		netip.MustParseAddrPort("10.0.0.2:8080"),
		netip.MustParseAddrPort("10.0.0.3:8080"),
		netip.MustParseAddrPort("10.0.0.4:8080"),
	}
	seeds := make(map[netip.AddrPort]*Seed)
	for i, a := range addrs {
		seeds[a] = newSeed(t, func(c *Config) { c.Self = a; c.Seeds = addrs }, uint64(i), 1)
	}
	dead := netip.MustParseAddrPort("127.0.0.1:5001")
	reporter := netip.MustParseAddrPort("127.0.0.1:5000")
	for _, s := range seeds {
		registerN(t, s, 1, func(int) netip.AddrPort { return dead })
	}
	// The reporter registered with seeds 1 and 2 only and reports to both.
	var relays []Action
	for _, a := range addrs[:2] {
		r := seeds[a].Handle(base, localhost, wire.Message{Kind: wire.KindDeadNode, Addr: dead, Time: 1764072000_250000, From: reporter})
		if r.Kind != wire.KindOK {
			t.Fatalf("%s: %s", a, wire.Format(r))
		}
		for _, act := range seeds[a].Ready() {
			if act.Kind == Relay {
				if act.Addr == a {
					t.Fatalf("%s relayed to itself", a)
				}
				relays = append(relays, Action{Kind: Relay, Addr: act.Addr, Msg: act.Msg, Text: a.String()})
			}
		}
	}
	// Seed 1 removed it first and relayed to 2, 3, 4; seed 2 also removed
	// it (the relay had not arrived yet) and relayed to 1, 3, 4.
	if len(relays) != 6 {
		t.Fatalf("%d relays, want 6", len(relays))
	}
	for _, rl := range relays {
		from := netip.MustParseAddrPort(rl.Text).Addr()
		line := wire.Format(rl.Msg)
		want := "Dead Node:127.0.0.1:5001:1764072000.250000:127.0.0.1:5000:relayed"
		if line != want {
			t.Fatalf("relay %q, want %q", line, want)
		}
		s := seeds[rl.Addr]
		r := s.Handle(base, from, roundTrip(t, rl.Msg))
		if r.Kind != wire.KindOK {
			t.Fatalf("relay to %s: %s", rl.Addr, wire.Format(r))
		}
		for _, act := range s.Ready() {
			if act.Kind == Relay {
				t.Fatalf("%s relayed a relayed report again", rl.Addr)
			}
		}
	}
	for a, s := range seeds {
		if s.Has(dead) {
			t.Errorf("%s still lists %s", a, dead)
		}
		if st := s.Stats(); st.DeadAccepted != 1 {
			t.Errorf("%s: DeadAccepted = %d, want 1", a, st.DeadAccepted)
		}
	}
}

// TestStats checks every counter against a scripted sequence.
func TestStats(t *testing.T) {
	s := newSeed(t, func(c *Config) { c.MaxPeers = 2; c.Expiry = time.Minute }, 1, 2)
	h := func(at time.Duration, src string, line string) {
		m, err := wire.Parse(line)
		if err != nil {
			t.Fatal(err)
		}
		s.Handle(base.Add(at), netip.MustParseAddr(src), m)
		s.Ready()
	}
	h(0, "127.0.0.1", "register:127.0.0.1:5000")
	h(0, "127.0.0.1", "register:127.0.0.1:5001")
	h(0, "127.0.0.1", "register:127.0.0.1:5001:3:1")                        // refresh
	h(0, "127.0.0.1", "register:127.0.0.1:5002")                            // full
	h(0, "10.0.0.1", "register:10.0.0.2:5002")                              // mismatch
	h(0, "127.0.0.1", "peer list")                                          // served
	h(0, "127.0.0.1", "peer info")                                          // served
	h(0, "127.0.0.1", "gossip:127.0.0.1:5000:1:0:1.5:x")                    // not served
	h(0, "127.0.0.1", "Dead Node:127.0.0.1:5001:1.5:127.0.0.1:5000")        // accepted, 1 relay
	h(0, "127.0.0.1", "Dead Node:127.0.0.1:5001:1.5:127.0.0.1:5000")        // already removed
	h(0, "10.0.0.9", "Dead Node:127.0.0.1:5000:1.5:127.0.0.1:5001")         // mismatch
	h(0, "10.0.0.9", "Dead Node:127.0.0.1:5000:1.5:127.0.0.1:5001:relayed") // not a seed
	h(2*time.Minute, "127.0.0.1", "peer list")                              // expires 5000
	want := Stats{Registrations: 3, DeadReports: 4, DeadAccepted: 1, Expired: 1, Refused: 5, RelaysSent: 1, PeerListsServed: 3}
	if got := s.Stats(); got != want {
		t.Errorf("stats\n got %+v\nwant %+v", got, want)
	}
}

// TestExpiryNeverEarly: whenever the driver ticks (at NextDeadline or at
// random times), a registration is never dropped while it is at most
// Expiry old, and always gone by Expiry + Expiry/4 when the driver follows
// NextDeadline.
func TestExpiryNeverEarly(t *testing.T) {
	const expiry = 4 * time.Minute
	s := newSeed(t, func(c *Config) { c.Expiry = expiry; c.Verify = false }, 1, 2)
	rng := rand.New(rand.NewPCG(9, 9))
	now := base
	seen := make(map[netip.AddrPort]time.Time)
	for step := 0; step < 3000; step++ {
		if d := s.NextDeadline(); !d.IsZero() && rng.IntN(2) == 0 {
			if d.After(now) {
				now = d
			}
		} else {
			now = now.Add(time.Duration(rng.IntN(90)) * time.Second)
		}
		var registered netip.AddrPort
		if rng.IntN(3) == 0 {
			registered = localPort(rng.IntN(50))
			s.Handle(now, localhost, wire.Message{Kind: wire.KindRegister, Addr: registered})
		} else {
			s.Tick(now)
		}
		for _, act := range s.Ready() {
			if act.Kind != Removed {
				continue
			}
			if age := now.Sub(seen[act.Addr]); age <= expiry {
				t.Fatalf("%s removed at age %v, not older than %v", act.Addr, age, expiry)
			}
			delete(seen, act.Addr)
		}
		if registered.IsValid() {
			seen[registered] = now
		}
	}
	// Following NextDeadline only: gone within Expiry/4 of expiring.
	s = newSeed(t, func(c *Config) { c.Expiry = expiry }, 1, 2)
	for i := 0; i < 10; i++ {
		at := base.Add(time.Duration(i) * 17 * time.Second)
		s.Handle(at, localhost, wire.Message{Kind: wire.KindRegister, Addr: localPort(i)})
	}
	s.Ready()
	for s.Len() > 0 {
		now = s.NextDeadline()
		s.Tick(now)
		for _, act := range s.Ready() {
			if act.Kind == Removed {
				i := int(act.Addr.Port()) - 1
				age := now.Sub(base.Add(time.Duration(i) * 17 * time.Second))
				if age <= expiry || age > expiry+expiry/4 {
					t.Errorf("%s removed at age %v, want in (%v, %v]", act.Addr, age, expiry, expiry+expiry/4)
				}
			}
		}
	}
	if !s.NextDeadline().IsZero() {
		t.Errorf("an empty registry still wants ticks")
	}
}

func ExampleSeed_Handle() {
	cfg := DefaultConfig()
	cfg.Probe = false // the classic model: a report removes at once (probe_test.go checks first)
	cfg.Self = netip.MustParseAddrPort("127.0.0.1:8080")
	s, _ := New(cfg, rand.New(rand.NewPCG(1, 2)))
	now := time.Unix(1764072000, 0)
	for _, line := range []string{"register:127.0.0.1:5000", "register:127.0.0.1:5001", "peer list", "Dead Node:127.0.0.1:5001:1764072000.25:127.0.0.1:5000", "garbage"} {
		m, err := wire.Parse(line)
		if err != nil {
			fmt.Println("error:" + err.Error())
			continue
		}
		fmt.Println(wire.Format(s.Handle(now, netip.MustParseAddr("127.0.0.1"), m)))
	}
	for _, a := range s.Ready() {
		if a.Kind == Log {
			fmt.Println("log:", a.Text)
		}
	}
	// Output:
	// registered successfully
	// registered successfully
	// peer list:127.0.0.1#5000:127.0.0.1#5001
	// ok:removed 127.0.0.1:5001
	// error:unknown verb "garbage"
	// log: registered 127.0.0.1:5000 (peer list size 1)
	// log: registered 127.0.0.1:5001 (peer list size 2)
	// log: removed dead node 127.0.0.1:5001 (reported by 127.0.0.1:5000 at 1764072000.250000; peer list size 1)
}
