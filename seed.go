package whispernet

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/whispernet/whispernet/config"
	"github.com/whispernet/whispernet/eventlog"
	"github.com/whispernet/whispernet/identity"
	"github.com/whispernet/whispernet/node"
)

// SeedConfig configures a Seed. Start from DefaultSeedConfig.
type SeedConfig struct {
	// Listen is the TCP address the seed listens on, "IP:PORT"; port 0
	// picks a free port (Addr reports it). An empty IP listens on every
	// interface, and then Advertise must be set.
	Listen string
	// Advertise is the seed's address as the other seeds know it (their
	// Peers list), "IP:PORT" or "host:port". Empty: the listening
	// address; port 0: the listening port.
	Advertise string
	// Peers lists the other seeds, "IP:PORT" or "host:port" (resolved at
	// Start). A seed that removes a dead node passes the report on to
	// them, since nodes register with a majority of the seeds, not all.
	Peers []string
	// Key is the seed's Ed25519 identity (nil: a fresh key at Start).
	Key *identity.Key
	// Logger receives operational diagnostics (nil: discarded).
	Logger *slog.Logger
	// EventLog receives outputfile.log lines (nil: none).
	EventLog *eventlog.Writer
	// Transport listens and dials (nil: TCP).
	Transport node.Transport
	// Expiry drops a registration not refreshed for this long (0: never).
	Expiry time.Duration
	// MaxConns bounds the open connections, MaxConnsPerIP those from one
	// IP (one machine running many nodes needs it raised).
	MaxConns, MaxConnsPerIP int
	// Rate and Burst bound each connection's requests per second.
	Rate  float64
	Burst int
	// RandSeed seeds peer-list sampling; 0 picks a random seed.
	RandSeed uint64
	// Runtime, if set, adjusts the runtime configuration just before the
	// seed is built at Start, for settings of package node this
	// SeedConfig does not carry.
	Runtime func(*node.SeedConfig)
}

// DefaultSeedConfig returns the seed command's limits, listening on a free
// loopback port.
func DefaultSeedConfig() SeedConfig {
	d := node.DefaultSeedConfig()
	return SeedConfig{
		Listen:        "127.0.0.1:0",
		Expiry:        d.Core.Expiry,
		MaxConns:      d.MaxConns,
		MaxConnsPerIP: d.MaxConnsPerIP,
		Rate:          d.Rate,
		Burst:         d.Burst,
	}
}

func (c *SeedConfig) runtimeConfig() node.SeedConfig {
	d := node.DefaultSeedConfig()
	d.Core.Expiry = c.Expiry
	d.MaxConns, d.MaxConnsPerIP, d.Rate, d.Burst = c.MaxConns, c.MaxConnsPerIP, c.Rate, c.Burst
	d.Log, d.Logger, d.Transport, d.RandSeed = c.EventLog, c.Logger, c.Transport, c.RandSeed
	d.Core.Key = c.Key
	return d
}

// Seed is a WhisperNet seed: the registry nodes join through. Its methods
// are safe for concurrent use.
type Seed struct {
	cfg SeedConfig

	mu    sync.Mutex
	state int
	rt    *node.Seed
}

// NewSeed checks cfg and returns a seed; Start makes it listen.
func NewSeed(cfg SeedConfig) (*Seed, error) {
	if _, _, err := splitHostPort(cfg.Listen, true); err != nil {
		return nil, fmt.Errorf("%w: Listen %q: %w", ErrConfig, cfg.Listen, err)
	}
	for _, p := range cfg.Peers {
		if _, err := config.ParseHostPort(p); err != nil {
			return nil, fmt.Errorf("%w: seed peer %q: %w", ErrConfig, p, err)
		}
	}
	if cfg.Advertise != "" {
		if _, _, err := splitHostPort(cfg.Advertise, true); err != nil {
			return nil, fmt.Errorf("%w: Advertise %q: %w", ErrConfig, cfg.Advertise, err)
		}
	}
	rc := cfg.runtimeConfig()
	rc.Core.Self = netip.MustParseAddrPort("127.0.0.1:1")
	rc.Core.Seeds = []netip.AddrPort{rc.Core.Self}
	if _, err := node.NewSeed(rc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	cfg.Peers = slices.Clone(cfg.Peers)
	return &Seed{cfg: cfg}, nil
}

// Start resolves the other seeds and listens; it returns once the seed
// accepts connections. ctx bounds only the start; the seed runs until
// Close.
func (s *Seed) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	su, err := prepare(ctx, s.state, s.cfg.Transport, "seed", s.cfg.Peers, s.cfg.Listen, s.cfg.Advertise)
	if err != nil {
		return err
	}
	if !slices.Contains(su.list, su.self) {
		su.list = append(su.list, su.self)
		if su.names != nil {
			su.names = append(su.names, config.HostPort{IP: su.self.Addr(), Port: su.self.Port()})
		}
	}
	rc := s.cfg.runtimeConfig()
	rc.Core.Self, rc.Listen, rc.Core.Seeds, rc.SeedNames = su.self, su.bound, su.list, su.names
	if s.cfg.Runtime != nil {
		s.cfg.Runtime(&rc)
	}
	rc.Transport = su.transport()
	rt, err := launch(su, func() (*node.Seed, error) { return node.NewSeed(rc) })
	if err != nil {
		return err
	}
	s.rt, s.state = rt, stateRunning
	return nil
}

// Addr returns the seed's address, "IP:PORT" (empty before Start).
func (s *Seed) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rt == nil {
		return ""
	}
	return s.rt.Addr().String()
}

// Members returns the addresses registered with the seed, sorted (nil
// when it is not running).
func (s *Seed) Members() []string {
	s.mu.Lock()
	rt, running := s.rt, s.state == stateRunning
	s.mu.Unlock()
	if !running {
		return nil
	}
	peers := rt.Peers()
	slices.SortFunc(peers, netip.AddrPort.Compare)
	out := make([]string, len(peers))
	for i, a := range peers {
		out[i] = a.String()
	}
	return out
}

// Key returns the seed's identity (nil before Start).
func (s *Seed) Key() *identity.Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rt == nil {
		return nil
	}
	return s.rt.Key()
}

// Runtime returns the runtime that drives the seed, for status pages and
// metrics (nil before Start).
func (s *Seed) Runtime() *node.Seed {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rt
}

// Close stops the seed, closing every connection. Calling it again does
// nothing.
func (s *Seed) Close() error {
	s.mu.Lock()
	rt := s.rt
	s.state = stateStopped
	s.mu.Unlock()
	if rt != nil {
		rt.Stop()
	}
	return nil
}
