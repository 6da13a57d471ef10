package localnet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/whispernet/whispernet"
	"github.com/whispernet/whispernet/internal/fastnode"
	"github.com/whispernet/whispernet/internal/loopback"
	"github.com/whispernet/whispernet/node"
	"github.com/whispernet/whispernet/peer"
)

// fastPeerConfig is a peer with loopback timers and no generated gossip
// (the test publishes).
func fastPeerConfig() whispernet.Config {
	cfg := fastnode.Config()
	cfg.GenerateInterval = 100 * time.Millisecond
	cfg.Generate = 0
	cfg.GenerateDelay = 0
	// The peer core guarantees no isolated peer, not one component: full
	// peers refuse every short peer that is not isolated, so with Target
	// 3 two 4-cliques never merge, and with 4 a 5-clique strands a
	// triangle. Target 6 of 8 peers cannot split: a component of full
	// peers holds at least 7, and the one peer left over is isolated,
	// which a full peer takes beyond its target.
	cfg.Target = 6
	cfg.MaxPeers = 8
	return cfg
}

// feedMissing says which of nodes has no event of kind about peer in the
// feed.
func feedMissing(tr *Tracker, kind string, peer netip.AddrPort, nodes []netip.AddrPort) error {
	got := map[string]bool{}
	for _, e := range tr.Feed(0) {
		if e.Kind == kind && e.Peer == peer.String() {
			got[e.Node] = true
		}
	}
	for _, n := range nodes {
		if !got[n.String()] {
			return fmt.Errorf("no %q event about %s from %s (have %v)", kind, peer, n, got)
		}
	}
	return nil
}

func TestNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a loopback network")
	}
	const peers = 8
	seeds := loopback.FreePorts(t, 3)
	logDir := t.TempDir()
	var observed atomic.Int64
	var progressMu sync.Mutex
	var progress []int
	cfg := Config{
		Seeds:      seeds,
		Peers:      peers,
		IP:         netip.MustParseAddr("127.0.0.1"),
		BasePort:   loopback.FreeRange(t, peers),
		PerProcess: 100,
		JoinRate:   1000,
		LogDir:     logDir,
		Peer:       fastPeerConfig(),
		RandSeed:   42,
		Progress: func(started, total int) {
			progressMu.Lock()
			defer progressMu.Unlock()
			if total != peers {
				t.Errorf("progress total %d", total)
			}
			progress = append(progress, started)
		},
		Observe: func(created, at time.Time) { observed.Add(1) },
	}
	addrs, err := cfg.PeerAddrs()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			n.Close()
		}
	}()
	tr := n.Tracker

	if n.Started() != peers {
		t.Fatalf("Started() = %d after Start, want %d", n.Started(), peers)
	}
	progressMu.Lock()
	if !slices.Equal(progress, []int{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Fatalf("progress %v", progress)
	}
	progressMu.Unlock()
	if ps, ss := n.Nodes(); len(ps) != peers || len(ss) != 3 {
		t.Fatalf("Nodes: %d peers %d seeds", len(ps), len(ss))
	}

	loopback.CheckFor(t, 5*time.Second, "one connected network", func() error {
		// A peer short of its target may still be linking; wait for all.
		s := tr.Snapshot(time.Now(), false)
		if s.Peers != peers || s.Components != 1 || s.Isolated != 0 {
			g := tr.Snapshot(time.Now(), true)
			return fmt.Errorf("peers %d components %d isolated %d; nodes %v edges %v", s.Peers, s.Components, s.Isolated, g.Nodes, g.Edges)
		}
		return nil
	})

	// Gossip from one peer reaches the seven others, each over >= 1 hop.
	origin := addrs[0]
	if err := n.Publish(origin, "hello localnet"); err != nil {
		t.Fatal(err)
	}
	var seq uint32
	loopback.CheckFor(t, 3*time.Second, "message reaches every peer", func() error {
		vs := tr.Messages(1, false)
		if len(vs) == 0 {
			return errors.New("no message tracked")
		}
		if vs[0].Origin != origin.String() || vs[0].Text != "hello localnet" {
			return fmt.Errorf("newest message %+v", vs[0])
		}
		seq = vs[0].Seq
		v, _ := tr.Message(origin, seq)
		if v.Count != peers-1 || len(v.Receipts) != peers-1 {
			return fmt.Errorf("count %d, %d receipts", v.Count, len(v.Receipts))
		}
		return nil
	})
	v, _ := tr.Message(origin, seq)
	seen := map[string]bool{}
	for i, r := range v.Receipts {
		if r.Hops < 1 || r.Order != i+1 || r.Peer == origin.String() || seen[r.Peer] || r.Ms < 0 {
			t.Fatalf("receipt %d: %+v", i, r)
		}
		seen[r.Peer] = true
	}
	if pr := tr.Propagation(); pr.Complete != 1 || pr.Deliveries != peers-1 || pr.MaxHops < 1 {
		t.Fatalf("propagation %+v", pr)
	}
	if got := observed.Load(); got != peers-1 {
		t.Fatalf("Observe saw %d receipts, want %d", got, peers-1)
	}

	// Kill a peer: its neighbours declare it dead and every seed drops it.
	victim := addrs[3]
	p, ok := n.LocalPeer(victim)
	if !ok {
		t.Fatalf("LocalPeer(%s) not found", victim)
	}
	var former []netip.AddrPort
	p.Inspect(func(c *peer.Peer) {
		for _, nb := range c.Neighbours() {
			former = append(former, nb.Addr)
		}
	})
	if len(former) == 0 {
		t.Fatalf("%s has no neighbours in a connected network", victim)
	}
	// A peer registers with a majority of the seeds; those remove it.
	var listing []netip.AddrPort
	for _, a := range seeds {
		if s, _ := n.Seed(a); s.Has(victim) {
			listing = append(listing, a)
		}
	}
	if len(listing) < 2 {
		t.Fatalf("%s is listed by %v, want a majority of 3 seeds", victim, listing)
	}
	if err := n.Kill(victim); err != nil {
		t.Fatal(err)
	}
	kills := 0
	for _, e := range tr.Feed(0) {
		if e.Kind == "kill" && e.Node == victim.String() {
			kills++
		}
	}
	if kills != 1 || tr.Alive(victim) {
		t.Fatalf("%d kill events, alive %v", kills, tr.Alive(victim))
	}
	loopback.CheckFor(t, 3*time.Second, "dead reports and removals", func() error {
		if err := feedMissing(tr, "dead", victim, former); err != nil {
			return err
		}
		return feedMissing(tr, "removed", victim, listing)
	})
	// The feed tells the kill first, then its consequences.
	var story []string
	for _, e := range tr.Feed(0) {
		if e.Kind == "kill" && e.Node == victim.String() || (e.Kind == "dead" || e.Kind == "removed") && e.Peer == victim.String() {
			story = append(story, e.Kind)
		}
	}
	if len(story) == 0 || story[0] != "kill" {
		t.Fatalf("feed about the victim: %v, want kill first", story)
	}
	for _, s := range seeds {
		if sd, ok := n.Seed(s); !ok || sd.Has(victim) {
			t.Fatalf("seed %s still lists %s", s, victim)
		}
	}
	if _, ok := n.LocalPeer(victim); ok {
		t.Fatal("LocalPeer finds a killed peer")
	}
	if ps, _ := n.Nodes(); len(ps) != peers-1 {
		t.Fatalf("Nodes: %d peers after a kill", len(ps))
	}
	if s := tr.Snapshot(time.Now(), false); s.Peers != peers-1 || s.Started != peers {
		t.Fatalf("snapshot after the kill: %+v", s)
	}
	// Controls aimed at the killed peer, or at no peer, wrap ErrUnknownPeer.
	stranger := netip.MustParseAddrPort("127.0.0.1:1")
	for name, err := range map[string]error{
		"kill again":      n.Kill(victim),
		"publish killed":  n.Publish(victim, "x"),
		"freeze killed":   n.Freeze(victim),
		"thaw unknown":    n.Thaw(stranger),
		"publish unknown": n.Publish(stranger, "x"),
	} {
		if !errors.Is(err, ErrUnknownPeer) {
			t.Errorf("%s: %v, want ErrUnknownPeer", name, err)
		}
	}

	// Freeze and thaw.
	frozen := addrs[5]
	if err := n.Freeze(frozen); err != nil {
		t.Fatal(err)
	}
	fp, _ := n.LocalPeer(frozen)
	if !fp.Frozen() {
		t.Fatal("Freeze did not freeze the peer")
	}
	if s := tr.Snapshot(time.Now(), true); !nodeFrozen(s, frozen) {
		t.Fatal("snapshot does not show the peer frozen")
	}
	if err := n.Thaw(frozen); err != nil {
		t.Fatal(err)
	}
	if fp.Frozen() || nodeFrozen(tr.Snapshot(time.Now(), true), frozen) {
		t.Fatal("Thaw did not thaw the peer")
	}
	var ctl []string
	for _, e := range tr.Feed(0) {
		if e.Node == frozen.String() && (e.Kind == "freeze" || e.Kind == "thaw") {
			ctl = append(ctl, e.Kind)
		}
	}
	if !slices.Equal(ctl, []string{"freeze", "thaw"}) {
		t.Fatalf("freeze/thaw events %v", ctl)
	}

	// Stop and restart a seed.
	s0 := seeds[0]
	if err := n.StopSeed(s0); err != nil {
		t.Fatal(err)
	}
	if n.Seeds()[s0] {
		t.Fatal("stopped seed reported running")
	}
	if _, ok := n.Seed(s0); ok {
		t.Fatal("Seed() returns a stopped seed")
	}
	if _, ss := n.Nodes(); len(ss) != 2 {
		t.Fatalf("Nodes: %d seeds with one stopped", len(ss))
	}
	if err := n.StopSeed(s0); err == nil || err.Error() != fmt.Sprintf("localnet: seed %s is not running", s0) {
		t.Fatalf("second StopSeed: %v", err)
	}
	if err := n.StartSeed(s0); err != nil {
		t.Fatal(err)
	}
	if err := n.StartSeed(s0); err == nil || err.Error() != fmt.Sprintf("localnet: seed %s is already running", s0) {
		t.Fatalf("second StartSeed: %v", err)
	}
	if err := n.StartSeed(stranger); err == nil || err.Error() != "localnet: 127.0.0.1:1 is not a seed of the config" {
		t.Fatalf("StartSeed(non-seed): %v", err)
	}
	kinds := []string{}
	for _, e := range tr.Feed(0) {
		if e.Node == s0.String() && strings.HasPrefix(e.Kind, "seed-") {
			kinds = append(kinds, e.Kind)
		}
	}
	if !slices.Equal(kinds, []string{"seed-up", "seed-down", "seed-up"}) {
		t.Fatalf("seed events %v", kinds)
	}
	// The restarted seed relearns peers as they refresh.
	loopback.CheckFor(t, 3*time.Second, "restarted seed relearns peers", func() error {
		s, ok := n.Seed(s0)
		if !ok || len(s.Peers()) == 0 {
			return errors.New("restarted seed lists no peer")
		}
		return nil
	})

	// Two Kills of one peer at once: one kills it, one finds no peer,
	// and the feed tells one kill.
	twice := addrs[6]
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- n.Kill(twice) }()
	}
	e1, e2 := <-errs, <-errs
	if (e1 == nil) == (e2 == nil) || !errors.Is(errors.Join(e1, e2), ErrUnknownPeer) {
		t.Fatalf("concurrent Kills: %v, %v; want one nil and one ErrUnknownPeer", e1, e2)
	}
	kills = 0
	for _, e := range tr.Feed(0) {
		if e.Kind == "kill" && e.Node == twice.String() {
			kills++
		}
	}
	if kills != 1 {
		t.Fatalf("%d kill events for one peer killed twice at once", kills)
	}

	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	closed = true
	if ps, ss := n.Nodes(); len(ps) != 0 || len(ss) != 0 {
		t.Fatalf("Nodes after Close: %d peers %d seeds", len(ps), len(ss))
	}

	// The product logs hold whole lines from every node.
	out := readLines(t, filepath.Join(logDir, "outputfile.log"))
	if !slices.ContainsFunc(out, func(l string) bool { return strings.Contains(l, "seed listening on "+s0.String()) }) {
		t.Fatal("outputfile.log lacks the seed's start line")
	}
	for _, l := range readLines(t, filepath.Join(logDir, "freqtrack.log")) {
		a, _, ok := strings.Cut(l, "=>")
		if _, err := netip.ParseAddrPort(a); !ok || err != nil {
			t.Fatalf("freqtrack.log line %q", l)
		}
	}
}

func nodeFrozen(s Snapshot, a netip.AddrPort) bool {
	for _, nv := range s.Nodes {
		if nv.Addr == a.String() {
			return nv.Frozen
		}
	}
	return false
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if len(out) == 0 {
		t.Fatalf("%s is empty", path)
	}
	return out
}

func TestStartErrors(t *testing.T) {
	seeds := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1")}
	ok := Config{Seeds: seeds, Peers: 1, IP: netip.MustParseAddr("127.0.0.1"), BasePort: 2, PerProcess: 1, JoinRate: 1, LogDir: t.TempDir()}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no peers", func(c *Config) { c.Peers = 0 }, "localnet: --peers 0 must be at least 1"},
		{"no seeds", func(c *Config) { c.Seeds = nil }, "localnet: no seeds"},
		{"per process", func(c *Config) { c.PerProcess = 0 }, "localnet: peers per process 0 must be at least 1"},
		{"join rate", func(c *Config) { c.JoinRate = 0 }, "localnet: join rate 0 must be positive"},
		{"ports", func(c *Config) { c.BasePort = 65535; c.Peers = 2 }, "localnet: 2 peers do not fit from port 65535"},
	} {
		cfg := ok
		tc.edit(&cfg)
		if n, err := Start(context.Background(), cfg); err == nil || err.Error() != tc.want {
			if n != nil {
				n.Close()
			}
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestStartSeedPortTaken: a seed port in use fails Start cleanly.
func TestStartSeedPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := netip.MustParseAddrPort(ln.Addr().String())
	cfg := Config{Seeds: []netip.AddrPort{taken}, Peers: 1, IP: netip.MustParseAddr("127.0.0.1"), BasePort: loopback.FreeRange(t, 1),
		PerProcess: 1, JoinRate: 1, LogDir: t.TempDir(), Peer: fastPeerConfig()}
	if n, err := Start(context.Background(), cfg); err == nil {
		n.Close()
		t.Fatal("Start succeeded on a taken seed port")
	}
}

// TestRandSeedCapacities: with a RandSeed, each peer's capacity (its
// target degree, drawn from the power law) is the one the runtime draws
// when seeded with peerSeed(RandSeed, its address), as localnet seeded it
// before it ran whispernet nodes: runs with one seed have one set of
// capacities, in whichever process a peer runs.
func TestRandSeedCapacities(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a loopback network")
	}
	const peers = 16
	cfg := Config{Seeds: loopback.FreePorts(t, 1), Peers: peers, IP: netip.MustParseAddr("127.0.0.1"), BasePort: loopback.FreeRange(t, peers),
		PerProcess: peers, JoinRate: 1000, LogDir: t.TempDir(), Peer: fastPeerConfig(), RandSeed: 7}
	d := whispernet.DefaultConfig()
	cfg.Peer.Target, cfg.Peer.MaxPeers = d.Target, d.MaxPeers // capacities from the power law
	n, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	addrs, _ := cfg.PeerAddrs()
	var got, want []int
	for _, a := range addrs {
		rc := node.DefaultPeerConfig()
		rc.Core.Self, rc.Core.Seeds, rc.RandSeed = a, cfg.Seeds, peerSeed(cfg.RandSeed, a)
		ref, err := node.NewPeer(rc)
		if err != nil {
			t.Fatal(err)
		}
		p, ok := n.LocalPeer(a)
		if !ok {
			t.Fatalf("no peer %s", a)
		}
		got, want = append(got, p.Target()), append(want, ref.Target())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("capacities %v, want %v", got, want)
	}
}

// TestTrackerConcurrent: the tracker is safe for concurrent use (-race).
func TestTrackerConcurrent(t *testing.T) {
	tr := NewTracker(time.Now())
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				a, b := pa(g), pa((g+1)%8)
				tr.Started(a, 3, time.Now())
				tr.Link(a, b, i%2 == 0, time.Now())
				tr.Deliver(a, b, pa(i%4), uint32(i), "m", time.Now(), time.Now(), 1)
				tr.Snapshot(time.Now(), true)
				tr.Propagation()
				tr.Messages(5, true)
				tr.Feed(uint64(i))
			}
		})
	}
	wg.Wait()
	if n := tr.MessageCount(); n != 200 {
		t.Fatalf("%d messages", n)
	}
}
