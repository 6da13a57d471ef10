package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/whispernet/whispernet/peer"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// small is a quick scenario: 300 peers, 10 origins × 3 messages a second
// apart, 2% crashing midway.
func small() Config {
	c := DefaultConfig()
	c.Peers = 300
	c.Origins = 10
	c.Messages = 3
	c.Crash = 0.02
	c.Peer.GossipInterval = time.Second
	c.Workers = 2
	c.verify = true
	return c
}

func run(t *testing.T, cfg Config) *Report {
	t.Helper()
	r, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func jsonOf(t *testing.T, r *Report) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The same configuration gives the same report, byte for byte, whatever
// the number of workers; another RNG seed gives another run.
func TestDeterministic(t *testing.T) {
	cfg := small()
	a, b := jsonOf(t, run(t, cfg)), jsonOf(t, run(t, cfg))
	if a != b {
		t.Fatalf("two runs with seed %d differ:\n%s\n%s", cfg.RandSeed, a, b)
	}
	for _, workers := range []int{1, 3} {
		cfg.Workers = workers
		cfg.chunk = 8 // many batches even in a small network
		if c := jsonOf(t, run(t, cfg)); c != a {
			t.Fatalf("%d workers changed the report:\n%s\n%s", workers, a, c)
		}
	}
	cfg.RandSeed = 2
	if c := jsonOf(t, run(t, cfg)); c == a {
		t.Fatalf("seeds 1 and 2 gave the same report: %s", c)
	}
}

// The default scenario, scaled down, meets the protocol's promises.
func TestSmallDefaultScenario(t *testing.T) {
	r := run(t, small())
	t.Logf("%+v", r)
	switch {
	case r.Peers != 300 || r.Seeds != 3:
		t.Errorf("peers %d seeds %d, want 300 and 3", r.Peers, r.Seeds)
	case r.FormationS == nil:
		t.Errorf("the overlay did not form")
	case r.Messages != 30:
		t.Errorf("%d messages published, want 30", r.Messages)
	case r.Crashed != 6:
		t.Errorf("%d crashed, want 6 (2%% of 300)", r.Crashed)
	case r.Duplicates != 0:
		t.Errorf("%d duplicate deliveries", r.Duplicates)
	case r.FalsePositives != 0:
		t.Errorf("%d false positives", r.FalsePositives)
	case r.DeliveryRatio < 0.99:
		t.Errorf("delivery ratio %v", r.DeliveryRatio)
	case r.Components != 1:
		t.Errorf("%d components", r.Components)
	case r.Fit == nil:
		t.Errorf("no power-law fit")
	case r.Undetected != 0 || r.Registry.Stale != 0:
		t.Errorf("%d undetected failures, %d stale registrations", r.Undetected, r.Registry.Stale)
	case r.DetectionS.Neighbours.Max <= 0 || r.DetectionS.Neighbours.Max > 1:
		t.Errorf("neighbours took %v s to detect a crash (closing connections: about 3 one-way delays)", r.DetectionS.Neighbours.Max)
	}
	// Plumtree (the peers' default, and so the simulator's): one copy
	// per peer along the tree, bar grafts after the crash and along slow
	// branches; well under one redundant copy in four.
	if r.Complete != r.Messages || r.RMR <= 0 || r.RMR > 0.25 {
		t.Errorf("plumtree: %d of %d complete, RMR %v, want all and RMR in (0, 0.25]", r.Complete, r.Messages, r.RMR)
	}

	// Flooding: every live link carries every message both ways but
	// once, so the redundancy is about the mean degree − 2; the same
	// delivery.
	cfg := small()
	cfg.Peer.Broadcast = peer.Flood
	fl := run(t, cfg)
	if fl.DeliveryRatio < 0.99 || fl.Duplicates != 0 || fl.Complete != fl.Messages {
		t.Errorf("flood: delivery ratio %v, %d of %d complete, %d duplicate deliveries", fl.DeliveryRatio, fl.Complete, fl.Messages, fl.Duplicates)
	}
	if want := fl.Degree.Avg - 2; fl.RMR < want-1.5 || fl.RMR > want+1.5 {
		t.Errorf("flood RMR %v, want about %v for a mean degree of %v", fl.RMR, want, fl.Degree.Avg)
	}
}

// Without loss, failures or churn, every message reaches every peer.
func TestNoLossDeliversEverything(t *testing.T) {
	cfg := small()
	cfg.Crash = 0
	r := run(t, cfg)
	if r.DeliveryRatio != 1 || r.Complete != r.Messages || r.Duplicates != 0 {
		t.Fatalf("delivery ratio %v, %d of %d complete, %d duplicates", r.DeliveryRatio, r.Complete, r.Messages, r.Duplicates)
	}
	if r.PropagationMs.Max < 50 || r.LDH < 1 {
		t.Fatalf("propagation %+v, LDH %v: messages cannot beat the 50 ms latency", r.PropagationMs, r.LDH)
	}
}

// Every script of testdata runs and meets its expectations.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			s, err := ParseScript(bytes.NewReader(b), DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Expect) == 0 {
				t.Fatal("a scenario without expectations tests nothing")
			}
			cfgs, labels, err := s.Runs()
			if err != nil {
				t.Fatal(err)
			}
			for i, cfg := range cfgs {
				cfg.verify = true
				cfg.Workers, cfg.chunk = 2, 16 // several batches a window
				r := run(t, cfg)
				for _, err := range s.Check(r) {
					t.Errorf("%v: %v", labels[i], err)
				}
				if t.Failed() {
					var out bytes.Buffer
					r.WriteText(&out)
					t.Logf("%v: report:\n%s", labels[i], out.String())
				}
			}
		})
	}
}

func TestParseScript(t *testing.T) {
	s, err := ParseScript(strings.NewReader(`
# comment
peers 50        # trailing comment
loss 5%
at 1s crash 10%
at 2s crash peer 3 4
at 2500ms partition seeds
at 3s partition 7
at 4s heal
at 5s loss 0.01
at 6s join 5
at 7s freeze 2
at 8s thaw
at 9s publish peer 1
at 10s wait
expect delivery_ratio = 1
expect fit.alpha >= 2
expect formation_s != null
`), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	c := s.Config
	if c.Peers != 50 || c.Loss != 0.05 || len(c.Steps) != 11 || len(s.Expect) != 3 {
		t.Fatalf("parsed %+v", s)
	}
	want := []Step{
		{At: time.Second, Kind: StepCrash, Fraction: 0.1},
		{At: 2 * time.Second, Kind: StepCrash, Peers: []int{3, 4}},
		{At: 2500 * time.Millisecond, Kind: StepPartition, Seeds: true},
		{At: 3 * time.Second, Kind: StepPartition, Count: 7},
		{At: 4 * time.Second, Kind: StepHeal},
		{At: 5 * time.Second, Kind: StepLoss, Fraction: 0.01},
		{At: 6 * time.Second, Kind: StepJoin, Count: 5},
	}
	for i, w := range want {
		g := c.Steps[i]
		if g.At != w.At || g.Kind != w.Kind || g.Count != w.Count || g.Fraction != w.Fraction || g.Seeds != w.Seeds || len(g.Peers) != len(w.Peers) {
			t.Errorf("step %d: got %+v, want %+v", i, g, w)
		}
	}
	for _, bad := range []string{
		"peers x", "unknown 3", "at x crash 1", "at 1s explode", "at 1s crash", "at 1s heal now",
		"expect a ~ 1", "expect a = x", "expect a < null", "loss 150%", "at 1s join 0", "peers",
	} {
		if _, err := ParseScript(strings.NewReader(bad), DefaultConfig()); !errors.Is(err, ErrScript) {
			t.Errorf("%q: got %v, want ErrScript", bad, err)
		}
	}
}

func TestCheckReportsEveryFailure(t *testing.T) {
	s, err := ParseScript(strings.NewReader("expect peers = 3\nexpect crashed > 0\nexpect formation_s = null\nexpect nope = 1\nexpect fit.alpha > 1\n"), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	f := 1.5
	errs := s.Check(&Report{Peers: 3, FormationS: &f})
	if len(errs) != 4 {
		t.Fatalf("got %d failures, want 4 (crashed, formation_s, nope, fit.alpha): %v", len(errs), errs)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"no peers":        func(c *Config) { c.Peers = 0 },
		"too many seeds":  func(c *Config) { c.Seeds = 65 },
		"sub-ms latency":  func(c *Config) { c.Latency = time.Microsecond },
		"loss 1":          func(c *Config) { c.Loss = 1 },
		"origins > peers": func(c *Config) { c.Origins = c.Peers + 1 },
		"crash > 1":       func(c *Config) { c.Crash = 2 },
		"unknown peer":    func(c *Config) { c.Steps = []Step{{Kind: StepCrash, Peers: []int{c.Peers}}} },
		"bad peer config": func(c *Config) { c.Peer.LivenessMisses = 0 },
	} {
		c := DefaultConfig()
		mod(&c)
		_, err := Run(context.Background(), c, nil)
		if name == "bad peer config" {
			if err == nil {
				t.Errorf("%s: no error", name)
			}
			continue
		}
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%s: got %v, want ErrConfig", name, err)
		}
	}
}

func TestRunStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cfg := small()
	calls := 0
	_, err := Run(ctx, cfg, func(p Progress) {
		calls++
		cancel()
	})
	if !errors.Is(err, context.Canceled) || calls == 0 {
		t.Fatalf("got %v after %d progress calls, want context.Canceled", err, calls)
	}
}

func TestAddresses(t *testing.T) {
	w := &world{peers: make([]simPeer, 70000)}
	for _, i := range []int{0, 1, 255, 256, 65535, 69999} {
		if got := w.peerIndex(PeerAddr(i)); got != int32(i) {
			t.Errorf("peerIndex(PeerAddr(%d) = %s) = %d", i, PeerAddr(i), got)
		}
	}
	for _, a := range []string{"10.0.0.0:5000", "10.1.17.113:5000", "10.0.0.1:5001", "192.168.0.1:8080"} {
		if got := w.peerIndex(mustAddr(a)); got != -1 {
			t.Errorf("peerIndex(%s) = %d, want -1", a, got)
		}
	}
}

func mustAddr(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// TestTotalMemory: on Linux, the machine's memory as /proc/meminfo states
// it (MemTotal, in KiB).
func TestTotalMemory(t *testing.T) {
	total, ok := TotalMemory()
	info, err := os.ReadFile("/proc/meminfo")
	if !ok || err != nil {
		t.Skipf("not readable on this system (%v)", err)
	}
	var kib uint64
	for _, line := range strings.Split(string(info), "\n") {
		if n, _ := fmt.Sscanf(line, "MemTotal: %d kB", &kib); n == 1 {
			break
		}
	}
	if kib == 0 || total != kib*1024 {
		t.Fatalf("TotalMemory %d bytes, /proc/meminfo MemTotal %d KiB", total, kib)
	}
}
