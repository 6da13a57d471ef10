package loopback

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/whispernet/whispernet/peer"
)

// fatalRecorder is a testing.TB that keeps the message of a Fatalf and
// returns, which suits a helper that calls Fatalf last.
type fatalRecorder struct {
	testing.TB
	failure string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.failure = fmt.Sprintf(format, args...)
}

func TestFreePorts(t *testing.T) {
	ports := FreePorts(t, 5)
	if len(ports) != 5 {
		t.Fatalf("%d ports, want 5", len(ports))
	}
	seen := map[netip.AddrPort]bool{}
	for _, a := range ports {
		if !a.Addr().IsLoopback() || a.Port() == 0 || seen[a] {
			t.Fatalf("ports %v: want 5 distinct loopback ports", ports)
		}
		seen[a] = true
		// Closed again: free to listen on.
		ln, err := net.Listen("tcp", a.String())
		if err != nil {
			t.Fatalf("port %s is not free: %v", a, err)
		}
		ln.Close()
	}
	if got := FreePorts(t, 0); len(got) != 0 {
		t.Errorf("FreePorts(0) = %v", got)
	}
}

func TestFreeRange(t *testing.T) {
	const n = 8
	base := FreeRange(t, n)
	if base < rangeLow || base >= rangeHigh {
		t.Fatalf("base %d outside [%d, %d)", base, rangeLow, rangeHigh)
	}
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for p := base; p < base+n; p++ {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Fatalf("port %d of the range from %d is not free: %v", p, base, err)
		}
		lns = append(lns, ln)
	}
}

func TestCheckFor(t *testing.T) {
	tries := 0
	start := time.Now()
	CheckFor(t, 5*time.Second, "third try", func() error {
		if tries++; tries < 3 {
			return fmt.Errorf("try %d", tries)
		}
		return nil
	})
	if tries != 3 {
		t.Errorf("%d tries, want 3", tries)
	}
	if el := time.Since(start); el < 2*pollInterval {
		t.Errorf("3 tries in %v: CheckFor does not wait between tries", el)
	}
	// A condition that never holds fails the test with its last error.
	n := 0
	r := &fatalRecorder{}
	CheckFor(r, 100*time.Millisecond, "never", func() error { n++; return errors.New("still no") })
	if want := "never: not within 100ms: still no"; r.failure != want {
		t.Errorf("failure %q, want %q", r.failure, want)
	}
	if n < 2 || n > 10 {
		t.Errorf("%d tries in 100ms", n)
	}
}

func TestFastTimers(t *testing.T) {
	def := peer.DefaultConfig()
	cfg := def
	FastTimers(&cfg)
	if cfg.LivenessInterval != 300*time.Millisecond || cfg.LivenessMisses != 3 || cfg.RefreshInterval != time.Second ||
		cfg.FillInterval != 100*time.Millisecond || cfg.RetryMin != 50*time.Millisecond || cfg.RetryMax != 500*time.Millisecond ||
		cfg.HandshakeTimeout != Timeout {
		t.Errorf("FastTimers: %+v", cfg)
	}
	// Gossip, target and cap stay as they were.
	if cfg.GossipInterval != def.GossipInterval || cfg.GossipCount != def.GossipCount || cfg.GossipDelay != def.GossipDelay ||
		cfg.Target != def.Target || cfg.MaxPeers != def.MaxPeers {
		t.Errorf("FastTimers changed more than timers: %+v", cfg)
	}
	// The result is a config a peer accepts.
	cfg.Self = netip.MustParseAddrPort("127.0.0.1:5000")
	cfg.Seeds = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:8080")}
	if _, err := peer.New(cfg, rand.New(rand.NewPCG(1, 2))); err != nil {
		t.Errorf("peer.New with fast timers: %v", err)
	}
}
