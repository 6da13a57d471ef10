package node

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/whispernet/whispernet/config"
	"github.com/whispernet/whispernet/internal/loopback"
)

// movingResolver answers a name with whatever address it was last told.
type movingResolver struct {
	mu      sync.Mutex
	ip      netip.Addr
	lookups int
}

func (r *movingResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lookups++
	if host != "seed-0" {
		return nil, fmt.Errorf("no such host %s", host)
	}
	return []netip.Addr{r.ip}, nil
}

// TestSeedNameLookedUpAgain: a seed named by host name that cannot be
// reached at the address it had at the start is looked up again, and the
// peer registers with it at its new address (the core still knows it by
// the old one).
func TestSeedNameLookedUpAgain(t *testing.T) {
	seedAddr := loopback.FreePorts(t, 1)[0]
	old := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), seedAddr.Port()) // nobody listens there
	scfg := DefaultSeedConfig()
	scfg.Core.Self = seedAddr
	scfg.Core.Seeds = []netip.AddrPort{seedAddr}
	s, err := NewSeed(scfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	r := &movingResolver{ip: seedAddr.Addr()}
	self := loopback.FreePorts(t, 1)[0]
	cfg := fastPeerConfig(self, []netip.AddrPort{old})
	cfg.SeedNames = []config.HostPort{{Host: "seed-0", Port: seedAddr.Port()}}
	cfg.Resolver = r
	p, err := NewPeer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	loopback.CheckFor(t, 10*time.Second, "the peer registered with the seed at its new address", func() error {
		if !s.Has(self) {
			return fmt.Errorf("seed %s does not list %s", seedAddr, self)
		}
		return nil
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lookups == 0 {
		t.Fatal("the seed's name was never looked up")
	}
}
