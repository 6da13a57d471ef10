package peer

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/whispernet/whispernet/internal/script"
	"github.com/whispernet/whispernet/topology"
	"github.com/whispernet/whispernet/wire"
)

func seedAddrs(n int) []netip.AddrPort {
	out := make([]netip.AddrPort, n)
	for i := range out {
		out[i] = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(8080+i))
	}
	return out
}

func testConfig(seeds int) Config {
	cfg := DefaultConfig()
	cfg.Self = netip.MustParseAddrPort("127.0.0.1:5000")
	cfg.Seeds = seedAddrs(seeds)
	cfg.Target = 2
	cfg.Stagger = false // exact times
	return cfg
}

func mustNew(t testing.TB, cfg Config, s1, s2 uint64) *Peer {
	t.Helper()
	p, err := New(cfg, rand.New(rand.NewPCG(s1, s2)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// registerRequests returns the seeds of the register requests in acts.
func registerRequests(t *testing.T, p *Peer, acts []Action) []netip.AddrPort {
	t.Helper()
	var out []netip.AddrPort
	for _, a := range acts {
		if a.Kind != SeedRequest {
			continue
		}
		if a.Msg.Kind != wire.KindRegister {
			t.Fatalf("unexpected seed request %s", wire.Format(a.Msg))
		}
		if a.Msg.Addr != p.Self() || a.Msg.Cap != p.Target() {
			t.Fatalf("register request %q does not announce self and capacity %d", wire.Format(a.Msg), p.Target())
		}
		out = append(out, a.Addr)
	}
	return out
}

// TestStartRegistersWithMajority: ⌊n/2⌋+1 distinct seeds of the config,
// chosen at random (every seed is chosen by some rng seed).
func TestStartRegistersWithMajority(t *testing.T) {
	for n := 1; n <= 6; n++ {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			cfg := testConfig(n)
			chosen := make(map[netip.AddrPort]int)
			for s := uint64(1); s <= 60; s++ {
				p := mustNew(t, cfg, s, 7)
				p.Start(base)
				got := registerRequests(t, p, p.Ready())
				if len(got) != n/2+1 {
					t.Fatalf("rng %d: %d register requests, want %d", s, len(got), n/2+1)
				}
				seen := make(map[netip.AddrPort]bool)
				for _, a := range got {
					if seen[a] || !slices.Contains(cfg.Seeds, a) {
						t.Fatalf("rng %d: register requests to %v: duplicate or unknown seed", s, got)
					}
					seen[a] = true
					chosen[a]++
				}
			}
			if len(chosen) != n {
				t.Errorf("over 60 rng seeds only %d of %d seeds were ever chosen: %v", len(chosen), n, chosen)
			}
		})
	}
}

// TestFailedSeedReplacedByUntried: each seed that refuses or cannot be
// reached is replaced by one not tried yet, until every seed has been
// tried; after that the peer keeps its majority and retries with backoff.
func TestFailedSeedReplacedByUntried(t *testing.T) {
	for n := 1; n <= 6; n++ {
		for _, refuse := range []bool{false, true} {
			t.Run(fmt.Sprintf("n=%d/refuse=%v", n, refuse), func(t *testing.T) {
				p := mustNew(t, testConfig(n), uint64(n), 3)
				now := base
				p.Start(now)
				inFlight := registerRequests(t, p, p.Ready())
				tried := make(map[netip.AddrPort]bool)
				for _, a := range inFlight {
					tried[a] = true
				}
				fail := func(a netip.AddrPort) {
					req := wire.Message{Kind: wire.KindRegister, Addr: p.Self(), Cap: p.Target()}
					if refuse {
						p.SeedReply(now, a, req, wire.Message{Kind: wire.KindError, Text: "registry full"})
					} else {
						p.SeedFailed(now, a, req)
					}
				}
				// Fail every request as it comes until all seeds are tried.
				for len(inFlight) > 0 {
					a := inFlight[0]
					inFlight = inFlight[1:]
					fail(a)
					next := registerRequests(t, p, p.Ready())
					untried := len(tried) < n
					switch {
					case untried && len(next) != 1:
						t.Fatalf("after %s failed with untried seeds left: requests %v, want one", a, next)
					case !untried && len(next) != 0:
						t.Fatalf("after %s failed with every seed tried: requests %v, want none before the backoff", a, next)
					}
					for _, b := range next {
						if tried[b] {
							t.Fatalf("replacement %s was tried before", b)
						}
						tried[b] = true
						inFlight = append(inFlight, b)
					}
				}
				if len(tried) != n {
					t.Fatalf("tried %d of %d seeds", len(tried), n)
				}
				// Every seed failed: the retry comes after a backoff within
				// [RetryMin, 2·RetryMin] for a first failure, to a majority.
				d := p.NextDeadline()
				if d.Before(now.Add(p.cfg.RetryMin)) || d.After(now.Add(2*p.cfg.RetryMin)) {
					t.Fatalf("retry at %v, want within [%v, %v]", d.Sub(now), p.cfg.RetryMin, 2*p.cfg.RetryMin)
				}
				p.Tick(d.Add(-time.Nanosecond))
				if got := registerRequests(t, p, p.Ready()); len(got) != 0 {
					t.Fatalf("retried %v before the backoff", got)
				}
				now = now.Add(2 * p.cfg.RetryMin)
				p.Tick(now)
				retry := registerRequests(t, p, p.Ready())
				if len(retry) != n/2+1 {
					t.Fatalf("retry to %v, want %d seeds", retry, n/2+1)
				}
			})
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
	}{
		{"no self", func(c *Config) { c.Self = netip.AddrPort{} }},
		{"no seeds", func(c *Config) { c.Seeds = nil }},
		{"zero gossip interval", func(c *Config) { c.GossipInterval = 0 }},
		{"zero liveness interval", func(c *Config) { c.LivenessInterval = 0 }},
		{"negative gossip count", func(c *Config) { c.GossipCount = -1 }},
		{"negative gossip delay", func(c *Config) { c.GossipDelay = -time.Second }},
		{"no misses", func(c *Config) { c.LivenessMisses = 0 }},
		{"max peers", func(c *Config) { c.MaxPeers = 0 }},
		{"target over max", func(c *Config) { c.Target = c.MaxPeers + 1 }},
		{"negative target", func(c *Config) { c.Target = -1 }},
		{"max known", func(c *Config) { c.MaxKnown = 0 }},
		{"max origins", func(c *Config) { c.MaxOrigins = 0 }},
		{"backoff range", func(c *Config) { c.RetryMax = c.RetryMin / 2 }},
		{"handshake timeout", func(c *Config) { c.HandshakeTimeout = 0 }},
		{"ttl", func(c *Config) { c.MessageTTL = 0 }},
		{"bad model", func(c *Config) { c.Target = 0; c.Degrees = topology.Model{Alpha: 1, Min: 1, Max: 3} }},
	} {
		cfg := testConfig(1)
		tc.mod(&cfg)
		if _, err := New(cfg, rand.New(rand.NewPCG(1, 2))); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: New returned %v, want ErrConfig", tc.name, err)
		}
	}
	// A bad model does not matter when the target is fixed.
	cfg := testConfig(1)
	cfg.Degrees = topology.Model{}
	if _, err := New(cfg, rand.New(rand.NewPCG(1, 2))); err != nil {
		t.Errorf("fixed target with a zero model: %v", err)
	}
}

// TestTargetFromModel: with Target 0 the capacity is drawn from the model,
// within [Min, Max] and never above MaxPeers.
func TestTargetFromModel(t *testing.T) {
	cfg := testConfig(1)
	cfg.Target = 0
	cfg.Degrees = topology.Model{Alpha: 2, Min: 3, Max: 50}
	cfg.MaxPeers = 20
	seen := make(map[int]bool)
	for s := uint64(0); s < 500; s++ {
		p := mustNew(t, cfg, s, 1)
		if p.Target() < 3 || p.Target() > 20 {
			t.Fatalf("target %d outside [3, 20]", p.Target())
		}
		seen[p.Target()] = true
	}
	if !seen[3] || !seen[20] || len(seen) < 8 {
		t.Errorf("targets drawn: %v; want a spread from 3 up to the cap 20", seen)
	}
}

// dials returns the addresses of the Dial actions in acts.
func dials(acts []Action) []netip.AddrPort {
	var out []netip.AddrPort
	for _, a := range acts {
		if a.Kind == Dial {
			out = append(out, a.Addr)
		}
	}
	return out
}

// TestNeverDialsSelfOrTwice: candidate lists full of duplicates and self
// give at most Target dials in all, all distinct, none to self. While the
// peer is unlinked that is one dial (its first link), however many lists
// come; once the first link is in, the rest of the target is dialed at
// once; further lists of the same candidates dial nobody.
func TestNeverDialsSelfOrTwice(t *testing.T) {
	for target := 1; target <= 6; target++ {
		for _, linked := range []bool{false, true} { // what the seeds say of the candidates
			t.Run(fmt.Sprintf("target=%d/linked=%v", target, linked), func(t *testing.T) {
				cfg := testConfig(3)
				cfg.Target = target
				p := mustNew(t, cfg, uint64(target), 9)
				p.Start(base)
				var seeds []netip.AddrPort
				for _, a := range p.Ready() {
					seeds = append(seeds, a.Addr)
				}
				var peers []wire.PeerInfo
				for i := 0; i < 10; i++ {
					pi := wire.PeerInfo{Addr: netip.AddrPortFrom(cfg.Self.Addr(), uint16(5000+i%5)), Cap: 4}
					if linked {
						pi.Degree = 1 + i%3
					}
					peers = append(peers, pi)
				}
				dialed := make(map[netip.AddrPort]bool)
				check := func(when string, got []netip.AddrPort) {
					t.Helper()
					for _, a := range got {
						if a == cfg.Self || dialed[a] {
							t.Fatalf("%s: dialed %s (self or twice)", when, a)
						}
						dialed[a] = true
					}
				}
				reply := func(s netip.AddrPort) []netip.AddrPort {
					p.SeedReply(base, s, wire.Message{Kind: wire.KindPeerInfoRequest}, wire.Message{Kind: wire.KindPeerInfo, Peers: peers})
					return dials(p.Ready())
				}
				for _, s := range seeds {
					p.SeedReply(base, s, wire.Message{Kind: wire.KindRegister}, wire.Message{Kind: wire.KindRegistered})
					p.Ready()
					check("unlinked, after a seed reply", reply(s))
				}
				// The fill timer does not add a second dial either.
				p.Tick(base.Add(cfg.FillInterval))
				check("unlinked, at the fill timer", dials(p.Ready()))
				if len(dialed) != 1 {
					t.Fatalf("unlinked: %d dials %v, want one (the first link)", len(dialed), dialed)
				}
				var first netip.AddrPort
				for a := range dialed {
					first = a
				}
				now := base.Add(cfg.FillInterval)
				p.Opened(now, 1, first, true)
				p.Ready()
				p.Receive(now, 1, wire.Message{Kind: wire.KindConnectAccepted, Addr: first})
				rest := dials(p.Ready())
				check("after the first link", rest)
				if want := min(target, 4) - 1; len(rest) != want {
					t.Errorf("after the first link: dials %v, want %d (4 candidates besides self)", rest, want)
				}
				for _, s := range seeds {
					check("linked, after a seed reply", reply(s))
				}
				if want := min(target, 4); len(dialed) != want {
					t.Errorf("%d dials in all, want %d", len(dialed), want)
				}
			})
		}
	}
}

// TestDialFavoursFreeSlots: the first link goes to a candidate the seeds
// report linked with a free slot, chosen with probability proportional to
// its free slots; a full one is never dialed while one with a free slot
// is linked.
func TestDialFavoursFreeSlots(t *testing.T) {
	cfg := testConfig(1)
	cfg.Target = 1
	counts := make(map[uint16]int)
	const runs = 4000
	for s := uint64(0); s < runs; s++ {
		p := mustNew(t, cfg, s, 11)
		p.Start(base)
		p.Ready()
		p.SeedReply(base, cfg.Seeds[0], wire.Message{Kind: wire.KindRegister}, wire.Message{Kind: wire.KindRegistered})
		p.SeedReply(base, cfg.Seeds[0], wire.Message{Kind: wire.KindPeerInfoRequest}, wire.Message{Kind: wire.KindPeerInfo, Peers: []wire.PeerInfo{
			{Addr: netip.MustParseAddrPort("127.0.0.1:5001"), Cap: 4, Degree: 3}, // 1 free slot
			{Addr: netip.MustParseAddrPort("127.0.0.1:5002"), Cap: 4, Degree: 1}, // 3 free slots
			{Addr: netip.MustParseAddrPort("127.0.0.1:5003"), Cap: 4, Degree: 4}, // full
		}})
		for _, a := range p.Ready() {
			if a.Kind == Dial {
				counts[a.Addr.Port()]++
			}
		}
	}
	if counts[5003] != 0 {
		t.Fatalf("a full candidate was dialed %d times", counts[5003])
	}
	if n := counts[5001] + counts[5002]; n != runs {
		t.Fatalf("%d first-link dials in %d runs, want exactly one per run", n, runs)
	}
	// Expect 1/4 and 3/4 of the runs; binomial sd = sqrt(4000·3/16) ≈ 27,
	// so ±150 is over 5 sd.
	if d := counts[5001] - runs/4; d < -150 || d > 150 {
		t.Errorf("dials: %v, want about %d to 5001 and %d to 5002", counts, runs/4, 3*runs/4)
	}
}

// TestFillAfterFirstLinkFavoursFreeSlots: once the first link is in, the
// rest of the target is dialed at once, each candidate drawn with
// probability proportional to its free slots, linked or not; full ones
// never.
func TestFillAfterFirstLinkFavoursFreeSlots(t *testing.T) {
	cfg := testConfig(1)
	cfg.Target = 2
	cfg.Sign = unsignedChoice
	first := netip.MustParseAddrPort("127.0.0.1:5001")
	counts := make(map[uint16]int)
	const runs = 2000
	for s := uint64(0); s < runs; s++ {
		p := mustNew(t, cfg, s, 13)
		p.Start(base)
		p.SeedReply(base, cfg.Seeds[0], wire.Message{Kind: wire.KindRegister}, wire.Message{Kind: wire.KindRegistered})
		p.SeedReply(base, cfg.Seeds[0], wire.Message{Kind: wire.KindPeerInfoRequest}, wire.Message{Kind: wire.KindPeerInfo, Peers: []wire.PeerInfo{
			{Addr: first, Cap: 4, Degree: 1},                                     // the only linked one with a free slot
			{Addr: netip.MustParseAddrPort("127.0.0.1:5002"), Cap: 1, Degree: 0}, // 1 free slot
			{Addr: netip.MustParseAddrPort("127.0.0.1:5003"), Cap: 3, Degree: 0}, // 3 free slots
			{Addr: netip.MustParseAddrPort("127.0.0.1:5004"), Cap: 2, Degree: 2}, // full
		}})
		if got := dials(p.Ready()); len(got) != 1 || got[0] != first {
			t.Fatalf("rng %d: first dials %v, want just %s", s, got, first)
		}
		p.Opened(base, 1, first, true)
		p.Receive(base, 1, wire.Message{Kind: wire.KindConnectAccepted, Addr: first})
		got := dials(p.Ready())
		if len(got) != 1 {
			t.Fatalf("rng %d: after the first link dials %v, want one", s, got)
		}
		counts[got[0].Port()]++
	}
	if counts[5004] != 0 || counts[5001] != 0 {
		t.Fatalf("dials %v: the full candidate or the neighbour was dialed", counts)
	}
	checkProportions(t, counts, map[uint16]int{5002: 1, 5003: 3}, runs)
}

// unsignedChoice is the Sign setting of the tests that draw a peer's
// dials thousands of times (TestFirstLinkChoice, 6,000 peers;
// TestFillAfterFirstLinkFavoursFreeSlots, 2,000). Signing draws nothing
// from the rng and changes no choice, only what the register request and
// the handshake carry (a signature, a key and a nonce); but it signs twice
// per peer, which under -race was three quarters of these tests' CPU.
const unsignedChoice = false

// firstLinkRun starts a peer with one seed, feeds it the candidates and
// returns it with the actions of that reply.
func firstLinkRun(t *testing.T, target int, rng uint64, cands []wire.PeerInfo) (*Peer, []Action) {
	t.Helper()
	cfg := testConfig(1)
	cfg.Target = target
	cfg.Sign = unsignedChoice
	p := mustNew(t, cfg, rng, 17)
	p.Start(base)
	p.SeedReply(base, cfg.Seeds[0], wire.Message{Kind: wire.KindRegister}, wire.Message{Kind: wire.KindRegistered})
	p.Ready()
	p.SeedReply(base, cfg.Seeds[0], wire.Message{Kind: wire.KindPeerInfoRequest}, wire.Message{Kind: wire.KindPeerInfo, Peers: cands})
	return p, p.Ready()
}

// openFirst opens the single dial in acts as connection id and returns the
// dialed address and the handshake the peer sent on it.
func openFirst(t *testing.T, p *Peer, acts []Action, id ConnID) (netip.AddrPort, wire.Message) {
	t.Helper()
	d := dials(acts)
	if len(d) != 1 {
		t.Fatalf("dials %v, want exactly one (an unlinked peer dials one at a time)", d)
	}
	p.Opened(base, id, d[0], true)
	for _, a := range p.Ready() {
		if a.Kind == Send && a.Conn == id && a.Msg.Kind == wire.KindConnect {
			return d[0], a.Msg
		}
	}
	t.Fatalf("no handshake sent on the connection to %s", d[0])
	return d[0], wire.Message{}
}

// TestFirstLinkChoice: over many rng seeds, the first link of an unlinked
// peer goes to the right kind of candidate, with the isolated flag exactly
// when that candidate is asked to take the peer beyond its target.
func TestFirstLinkChoice(t *testing.T) {
	ap := func(port uint16) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port) }
	for _, tc := range []struct {
		name     string
		cands    []wire.PeerInfo
		misses   int            // first-link dials to fail before the one checked (alternately failed and refused)
		want     map[uint16]int // allowed ports of the checked dial, with their expected weight
		isolated bool
	}{
		{
			name: "linked with a free slot beats newcomers and full peers",
			cands: []wire.PeerInfo{
				{Addr: ap(5001), Cap: 8, Degree: 0}, {Addr: ap(5002), Cap: 3, Degree: 3},
				{Addr: ap(5003), Cap: 4, Degree: 1}, {Addr: ap(5004), Cap: 4, Degree: 3},
			},
			want: map[uint16]int{5003: 3, 5004: 1},
		},
		{
			name: "linked but full beats a newcomer, as isolated",
			cands: []wire.PeerInfo{
				{Addr: ap(5001), Cap: 8, Degree: 0}, {Addr: ap(5002), Cap: 3, Degree: 3}, {Addr: ap(5003), Cap: 2, Degree: 2},
			},
			want:     map[uint16]int{5002: 1, 5003: 1},
			isolated: true,
		},
		{
			name:  "nobody linked yet: by free slots, not isolated",
			cands: []wire.PeerInfo{{Addr: ap(5001), Cap: 1}, {Addr: ap(5002), Cap: 3}},
			want:  map[uint16]int{5001: 1, 5002: 3},
		},
		{
			name: "one miss: still a linked peer with a free slot",
			cands: []wire.PeerInfo{
				{Addr: ap(5001), Cap: 4, Degree: 3}, {Addr: ap(5002), Cap: 4, Degree: 3}, {Addr: ap(5003), Cap: 9, Degree: 0},
			},
			misses: 1,
			want:   map[uint16]int{5001: 1, 5002: 1},
		},
		{
			name: "two misses: a linked peer, as isolated, free slots or not",
			cands: []wire.PeerInfo{
				{Addr: ap(5001), Cap: 4, Degree: 1}, {Addr: ap(5002), Cap: 4, Degree: 1}, {Addr: ap(5003), Cap: 4, Degree: 1},
				{Addr: ap(5004), Cap: 4, Degree: 1}, {Addr: ap(5005), Cap: 9, Degree: 0},
			},
			misses:   2,
			want:     map[uint16]int{5001: 1, 5002: 1, 5003: 1, 5004: 1}, // less the two that missed
			isolated: true,
		},
		{
			name: "two misses and no other linked peer: a newcomer with a free slot",
			cands: []wire.PeerInfo{
				{Addr: ap(5001), Cap: 4, Degree: 1}, {Addr: ap(5002), Cap: 4, Degree: 1}, {Addr: ap(5003), Cap: 4, Degree: 0},
			},
			misses: 2,
			want:   map[uint16]int{5003: 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			counts := make(map[uint16]int)
			const runs = 1000
			for s := uint64(0); s < runs; s++ {
				p, acts := firstLinkRun(t, 3, s, tc.cands)
				missed := make(map[uint16]bool)
				for i := 0; i < tc.misses; i++ {
					id := ConnID(i + 1)
					if i%2 == 0 {
						d := dials(acts)
						if len(d) != 1 {
							t.Fatalf("rng %d: dials %v, want one", s, d)
						}
						missed[d[0].Port()] = true
						p.DialFailed(base, d[0])
					} else {
						a, hs := openFirst(t, p, acts, id)
						if hs.Isolated {
							t.Fatalf("rng %d: miss %d: handshake %q claims isolated", s, i+1, wire.Format(hs))
						}
						missed[a.Port()] = true
						p.Receive(base, id, wire.Message{Kind: wire.KindConnectRefused, Text: RefuseFull})
					}
					acts = p.Ready()
				}
				a, hs := openFirst(t, p, acts, 99)
				if _, ok := tc.want[a.Port()]; !ok || missed[a.Port()] {
					t.Fatalf("rng %d: first link to %s, want one of %v (not %v)", s, a, tc.want, missed)
				}
				if hs.Isolated != tc.isolated {
					t.Fatalf("rng %d: handshake %q, want isolated=%v", s, wire.Format(hs), tc.isolated)
				}
				if hs.Degree != 0 || hs.Cap != 3 {
					t.Fatalf("rng %d: handshake %q does not announce capacity 3, degree 0", s, wire.Format(hs))
				}
				counts[a.Port()]++
			}
			if tc.misses > 0 {
				return // the weights apply to what the misses left
			}
			checkProportions(t, counts, tc.want, runs)
		})
	}
}

// checkProportions checks that counts (of runs draws) follow weights, each
// within 5 standard deviations of its binomial expectation.
func checkProportions(t *testing.T, counts, weights map[uint16]int, runs int) {
	t.Helper()
	total := 0
	for _, w := range weights {
		total += w
	}
	for port, w := range weights {
		q := float64(w) / float64(total)
		exp := float64(runs) * q
		sd := math.Sqrt(exp * (1 - q))
		if d := math.Abs(float64(counts[port]) - exp); d > 5*sd+1 {
			t.Errorf("%d draws of %d, want about %.0f (all: %v)", counts[port], port, exp, counts)
		}
	}
}

// TestLivenessReplyEcho: the reply to a request carries its timestamp and
// requester back, naming us as the replier; an answer resets the misses.
func TestLivenessReplyEcho(t *testing.T) {
	p := mustNew(t, testConfig(1), 1, 2)
	p.Start(base)
	p.Opened(base, 1, netip.MustParseAddrPort("[::1]:40000"), false)
	p.Receive(base, 1, wire.Message{Kind: wire.KindConnect, Addr: netip.MustParseAddrPort("[::1]:5001"), Cap: 3})
	p.Ready()
	ts := wire.Timestamp(1764072000_123456)
	p.Receive(base, 1, wire.Message{Kind: wire.KindLivenessRequest, Time: ts, Addr: netip.MustParseAddrPort("[::1]:5001")})
	acts := p.Ready()
	want := "send c1 Liveness Reply:1764072000.123456:[::1]:5001:127.0.0.1:5000"
	if len(acts) != 1 || formatAction(acts[0]) != want {
		t.Fatalf("got %v, want %q", acts, want)
	}
}

// --- Property test over random event sequences -------------------------

var pool = []netip.AddrPort{
	netip.MustParseAddrPort("127.0.0.1:5000"), // self
	netip.MustParseAddrPort("127.0.0.1:5001"),
	netip.MustParseAddrPort("127.0.0.1:5002"),
	netip.MustParseAddrPort("127.0.0.1:5003"),
	netip.MustParseAddrPort("127.0.0.1:5004"),
	netip.MustParseAddrPort("10.0.0.5:5005"),
	netip.MustParseAddrPort("[::1]:5006"),
}

// fuzzRun drives a peer with n random events chosen by gen and returns the
// transcript of events and actions. It fails t when an invariant breaks.
func fuzzRun(t *testing.T, genSeed uint64, n int) []string {
	gen := rand.New(rand.NewPCG(genSeed, 99))
	cfg := testConfig(1 + gen.IntN(5))
	cfg.Target = 1 + gen.IntN(4)
	cfg.MaxPeers = cfg.Target + gen.IntN(3)
	cfg.GossipCount = 3
	cfg.MaxOrigins = 1 + gen.IntN(4)
	cfg.MessageTTL = time.Duration(1+gen.IntN(120)) * time.Second
	cfg.CacheSize = 1 + gen.IntN(4)
	cfg.MaxMissing = 1 + gen.IntN(4)
	if gen.IntN(4) == 0 {
		cfg.Broadcast = Flood
	}
	// Every other run signs (the default): its random gossip, unsigned,
	// is refused, which exercises the refusal and cut-off paths; the
	// others accept it into the message list and the broadcast. (Under
	// -race, the signatures were most of this test's CPU.)
	cfg.Sign = genSeed%2 == 0
	p := mustNew(t, cfg, genSeed, 1)
	now := base
	var log []string
	var track tracker
	var seedReqs []Action // outstanding
	var dials []netip.AddrPort
	var conns []ConnID // every id ever opened
	type connInfo struct {
		addr     netip.AddrPort // claimed (inbound) or dialed (outbound) address
		outbound bool
		greeted  bool // the handshake line has been sent to the core
	}
	info := make(map[ConnID]*connInfo)
	nextID := ConnID(1)
	randAddr := func() netip.AddrPort { return pool[gen.IntN(len(pool))] }
	randTime := func() wire.Timestamp {
		if gen.IntN(5) == 0 {
			return wire.TimestampOf(now.Add(-time.Duration(gen.IntN(200)) * time.Second))
		}
		return wire.TimestampOf(now.Add(-time.Duration(gen.IntN(3000)) * time.Millisecond))
	}
	randMsg := func() wire.Message {
		a := randAddr()
		switch gen.IntN(13) {
		case 10, 11:
			m := wire.Message{Kind: wire.KindIHave}
			if gen.IntN(2) == 0 {
				m.Kind = wire.KindGraft
			}
			for k := 1 + gen.IntN(4); k > 0; k-- {
				m.IDs = append(m.IDs, wire.MsgID{Origin: randAddr(), Seq: uint32(gen.IntN(80))})
			}
			return m
		case 12:
			return wire.Message{Kind: wire.KindPrune}
		case 0, 1:
			return wire.Message{Kind: wire.KindConnect, Addr: a, Cap: gen.IntN(5), Degree: gen.IntN(3), Isolated: gen.IntN(3) == 0}
		case 2:
			return wire.Message{Kind: wire.KindConnectAccepted, Addr: a}
		case 3:
			return wire.Message{Kind: wire.KindConnectRefused, Text: []string{RefuseFull, RefuseDuplicate, "whatever"}[gen.IntN(3)]}
		case 4:
			return wire.Message{Kind: wire.KindLivenessRequest, Time: randTime(), Addr: a}
		case 5:
			return wire.Message{Kind: wire.KindLivenessReply, Time: randTime(), Addr: cfg.Self, From: a}
		case 6, 7, 8:
			return wire.Message{Kind: wire.KindGossip, Addr: a, Seq: uint32(gen.IntN(80)), Hops: uint16(gen.IntN(3)), Time: randTime(), Text: "m"}
		default:
			return wire.Message{Kind: wire.KindPeerListRequest}
		}
	}
	do := func(ev string, f func()) {
		log = append(log, "> "+ev)
		before := snapshotDials(p)
		deadline := p.NextDeadline()
		f()
		acts := p.Ready()
		err := checkInvariants(p, acts, &track)
		if err == nil {
			err = checkDials(p, before, acts)
		}
		if err == nil && strings.HasPrefix(ev, "recv ") {
			err = checkWake(p, deadline, acts)
		}
		if err != nil {
			t.Fatalf("gen %d, after %q: %v\n%s", genSeed, ev, err, strings.Join(log, "\n"))
		}
		for _, a := range acts {
			switch a.Kind {
			case SeedRequest:
				seedReqs = append(seedReqs, a)
			case Dial:
				if p.neighbour(a.Addr) != nil {
					t.Fatalf("gen %d, after %q: dialed neighbour %s", genSeed, ev, a.Addr)
				}
				dials = append(dials, a.Addr)
			}
			// Every line the core emits must be one Parse accepts.
			if a.Kind == Send || a.Kind == SeedRequest {
				line := wire.Format(a.Msg)
				if _, err := wire.Parse(line); err != nil {
					t.Fatalf("gen %d, after %q: core emitted unparsable line %q: %v", genSeed, ev, line, err)
				}
			}
			log = append(log, formatAction(a))
		}
	}
	do("start", func() { p.Start(now) })
	for i := 0; i < n; i++ {
		switch k := gen.IntN(20); {
		case k < 3:
			now = now.Add(time.Duration(gen.IntN(15000)) * time.Millisecond)
			do("tick", func() { p.Tick(now) })
			// After a Tick nothing is due any more: a driver that sleeps
			// until NextDeadline must not spin.
			if d := p.NextDeadline(); !d.IsZero() && !d.After(now) {
				t.Fatalf("gen %d: after Tick(%v) NextDeadline is %v", genSeed, now.Sub(base), d.Sub(base))
			}
		case k < 6 && len(seedReqs) > 0:
			j := gen.IntN(len(seedReqs))
			r := seedReqs[j]
			seedReqs = slices.Delete(seedReqs, j, j+1)
			var reply wire.Message
			switch {
			case gen.IntN(6) == 0:
				do("seedfail", func() { p.SeedFailed(now, r.Addr, r.Msg) })
				continue
			case gen.IntN(6) == 0:
				reply = wire.Message{Kind: wire.KindError, Text: "no"}
			case r.Msg.Kind == wire.KindRegister:
				reply = wire.Message{Kind: wire.KindRegistered}
			case r.Msg.Kind == wire.KindPeerInfoRequest:
				reply = wire.Message{Kind: wire.KindPeerInfo}
				for m := gen.IntN(6); m > 0; m-- {
					reply.Peers = append(reply.Peers, wire.PeerInfo{Addr: randAddr(), Cap: gen.IntN(5), Degree: gen.IntN(5)})
				}
			default:
				reply = wire.Message{Kind: wire.KindOK}
			}
			do("seedreply "+wire.Format(reply), func() { p.SeedReply(now, r.Addr, r.Msg, reply) })
		case k < 9 && len(dials) > 0:
			j := gen.IntN(len(dials))
			a := dials[j]
			dials = slices.Delete(dials, j, j+1)
			if gen.IntN(3) == 0 {
				do("dialfail "+a.String(), func() { p.DialFailed(now, a) })
				continue
			}
			id := nextID
			nextID++
			conns = append(conns, id)
			info[id] = &connInfo{addr: a, outbound: true}
			do(fmt.Sprintf("open c%d out %s", id, a), func() { p.Opened(now, id, a, true) })
		case k < 11:
			id := nextID
			nextID++
			conns = append(conns, id)
			claim := randAddr()
			info[id] = &connInfo{addr: claim}
			a := netip.AddrPortFrom(claim.Addr(), uint16(40000+id))
			do(fmt.Sprintf("open c%d in %s", id, a), func() { p.Opened(now, id, a, false) })
		case k < 17 && len(conns) > 0:
			id := conns[gen.IntN(len(conns))]
			m := randMsg()
			// Most connections greet properly first, so that links form.
			if ci := info[id]; !ci.greeted && gen.IntN(4) != 0 {
				ci.greeted = true
				if ci.outbound {
					m = wire.Message{Kind: wire.KindConnectAccepted, Addr: ci.addr}
				} else {
					m = wire.Message{Kind: wire.KindConnect, Addr: ci.addr, Cap: gen.IntN(5), Degree: gen.IntN(3), Isolated: gen.IntN(4) == 0}
				}
			}
			m, err := wire.Parse(wire.Format(m))
			if err != nil {
				t.Fatal(err)
			}
			do(fmt.Sprintf("recv c%d %s", id, wire.Format(m)), func() { p.Receive(now, id, m) })
		case k < 18 && len(conns) > 0:
			id := conns[gen.IntN(len(conns))]
			do(fmt.Sprintf("close c%d", id), func() { p.Closed(now, id) })
		case k < 19:
			do("publish", func() { p.Publish(now, "app") })
		default:
			a := randAddr()
			do("dialfail (unasked) "+a.String(), func() { p.DialFailed(now, a) })
		}
	}
	return log
}

// TestRandomEventsDeterministic: random event sequences never panic, keep
// the invariants (checkInvariants), and the same inputs with the same rng
// seed give the same actions.
func TestRandomEventsDeterministic(t *testing.T) {
	runs := 300
	if v, err := strconv.Atoi(os.Getenv("WHISPERNET_FUZZ_RUNS")); err == nil && v > 0 {
		runs = v // a longer hunt: WHISPERNET_FUZZ_RUNS=20000 go test -run TestRandomEvents ./peer
	}
	if testing.Short() {
		runs = 50
	}
	// Each gen is independent of the others: run them in a few parallel
	// shards (every peer and rng is local to its fuzzRun).
	const shards = 4
	for shard := range shards {
		t.Run(fmt.Sprintf("shard%d", shard), func(t *testing.T) {
			t.Parallel()
			for s := shard; s < runs; s += shards {
				a := fuzzRun(t, uint64(s), 300)
				b := fuzzRun(t, uint64(s), 300)
				if !slices.Equal(a, b) {
					for i := range min(len(a), len(b)) {
						if a[i] != b[i] {
							t.Fatalf("gen %d: runs differ at line %d: %q vs %q", s, i, a[i], b[i])
						}
					}
					t.Fatalf("gen %d: runs differ in length", s)
				}
			}
		})
	}
}

// TestScriptsDeterministic runs every script twice (the scripts fix the
// rng seed) and compares the outputs line by line.
func TestScriptsDeterministic(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts (%v)", err)
	}
	for _, name := range files {
		var outs [2][]string
		for i := range outs {
			f, err := script.ParseFile(name)
			if err != nil {
				t.Fatal(err)
			}
			run := newPeerRun(t)
			for _, c := range f.Cases {
				outs[i] = append(outs[i], run(c)...)
			}
		}
		if !slices.Equal(outs[0], outs[1]) {
			t.Errorf("%s: two runs differ", name)
		}
	}
}

// checkWake checks the promise of the Wake action: when Receive's actions
// are only Send, Deliver, Log and Duplicate, NextDeadline did not move
// earlier (the simulator relies on it to skip asking).
func checkWake(p *Peer, before time.Time, acts []Action) error {
	for _, a := range acts {
		switch a.Kind {
		case Send, Deliver, Log, Duplicate:
		default:
			return nil
		}
	}
	if after := p.NextDeadline(); !after.IsZero() && (before.IsZero() || after.Before(before)) {
		return fmt.Errorf("NextDeadline moved from %v to %v without a Wake action", before.Sub(base), after.Sub(base))
	}
	return nil
}

// TestOutbox: with an outbox the actions go there, in order, and Ready
// has none; Outbox(nil) brings Ready back.
func TestOutbox(t *testing.T) {
	p := mustNew(t, testConfig(3), 1, 2)
	var box []Action
	p.Outbox(&box)
	p.Start(base)
	if len(box) == 0 {
		t.Fatal("Start emitted nothing into the outbox")
	}
	if got := p.Ready(); len(got) != 0 {
		t.Fatalf("Ready returned %d actions while an outbox was set", len(got))
	}
	q := mustNew(t, testConfig(3), 1, 2)
	q.Start(base)
	if want := q.Ready(); !reflect.DeepEqual(box, want) {
		t.Fatalf("outbox got %v, Ready of a twin gives %v", box, want)
	}
	p.Outbox(nil)
	n := len(box)
	p.Publish(base, "x")
	if len(box) != n || len(p.Ready()) == 0 {
		t.Fatal("after Outbox(nil) actions still went to the outbox, or Ready had none")
	}
}
