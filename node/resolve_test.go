package node

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/whispernet/whispernet/config"
	"github.com/whispernet/whispernet/internal/loopback"
	"github.com/whispernet/whispernet/node/memnet"
	"github.com/whispernet/whispernet/peer"
)

// movingResolver answers the name seed-0 with whatever address it holds.
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
// reached at the address it had at the start (its container came back
// elsewhere) is looked up again, and the peer registers with it at its new
// address; the core still knows it by the old one.
func TestSeedNameLookedUpAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var net memnet.Network
		moved := netip.MustParseAddrPort("10.0.0.2:8080")
		old := netip.MustParseAddrPort("10.0.0.1:8080") // nobody listens there any more
		scfg := DefaultSeedConfig()
		scfg.Core.Self, scfg.Core.Seeds, scfg.Transport = moved, []netip.AddrPort{moved}, &net
		s, err := NewSeed(scfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer s.Stop()

		r := &movingResolver{ip: moved.Addr()}
		self := netip.MustParseAddrPort("10.0.1.1:5000")
		cfg := fastPeerConfig(self, []netip.AddrPort{old})
		cfg.SeedNames = []config.HostPort{{Host: "seed-0", Port: 8080}}
		cfg.Resolver, cfg.Transport = r, &net
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
				return fmt.Errorf("seed %s does not list %s", moved, self)
			}
			return nil
		})
		var reg []netip.AddrPort
		p.Inspect(func(core *peer.Peer) { reg = core.RegisteredSeeds() })
		if len(reg) != 1 || reg[0] != old {
			t.Fatalf("the core is registered with %v, want the seed by its first address %s", reg, old)
		}
	})
}
