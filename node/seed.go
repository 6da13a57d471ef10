package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/whispernet/whispernet/config"
	"golang.org/x/time/rate"

	"github.com/whispernet/whispernet/eventlog"
	"github.com/whispernet/whispernet/identity"
	"github.com/whispernet/whispernet/seed"
	"github.com/whispernet/whispernet/wire"
)

// SeedConfig configures a TCP seed. Start from DefaultSeedConfig.
type SeedConfig struct {
	// Core is the registry configuration; Core.Self is the seed's address
	// as config.txt names it (resolved), which the other seeds relay to.
	Core seed.Config
	// Listen is the address to listen on (zero: Core.Self), e.g.
	// 0.0.0.0:8080 in a container whose name resolves to Core.Self.
	Listen netip.AddrPort
	// SeedNames are the config.txt entries Core.Seeds were resolved from
	// (nil: literals); a relay to a seed that cannot be reached looks its
	// name up again.
	SeedNames []config.HostPort
	// Resolver looks seed names up (nil: net.DefaultResolver).
	Resolver config.Resolver
	// Log receives outputfile.log lines (nil: none).
	Log *eventlog.Writer
	// Logger receives operational diagnostics (nil: discarded).
	Logger *slog.Logger
	// RandSeed seeds peer-list sampling; 0 picks a random seed.
	RandSeed uint64
	// MaxConns bounds open client connections; MaxConnsPerIP bounds them
	// per remote IP (a local network shares 127.0.0.1, so raise it there).
	MaxConns, MaxConnsPerIP int
	// MaxRequestLen is the longest request line accepted.
	MaxRequestLen int
	// Rate and Burst bound each connection's requests per second.
	Rate  float64
	Burst int
	// MaxErrors closes a connection after this many error replies.
	MaxErrors int
	// IdleTimeout closes a connection that sends nothing for this long.
	IdleTimeout time.Duration
	// WriteTimeout bounds one reply write; RequestTimeout a relay to
	// another seed.
	WriteTimeout, RequestTimeout time.Duration
	// Removed, if set, is called when a peer leaves the registry (reported
	// dead, expired, or gone by a graceful leave).
	Removed func(seed, peer netip.AddrPort, at time.Time)
	// Transport listens and dials (nil: TCP). Tests use a
	// *memnet.Network.
	Transport Transport
}

// DefaultSeedConfig returns the limits the seed command starts with.
func DefaultSeedConfig() SeedConfig {
	return SeedConfig{
		Core:           seed.DefaultConfig(),
		MaxConns:       4096,
		MaxConnsPerIP:  256,
		MaxRequestLen:  1024,
		Rate:           50,
		Burst:          100,
		MaxErrors:      10,
		IdleTimeout:    2 * time.Minute,
		WriteTimeout:   5 * time.Second,
		RequestTimeout: 5 * time.Second,
	}
}

// SeedStats are the runtime counters beside the core's.
type SeedStats struct {
	seed.Stats  `json:"core"`
	Conns       int64  `json:"conns"`        // open client connections
	ConnRefused uint64 `json:"conn_refused"` // connections refused by MaxConns or MaxConnsPerIP
	BadLines    uint64 `json:"bad_lines"`    // malformed or over-long request lines
	RateLimited uint64 `json:"rate_limited"` // requests refused by the rate limit
	Closed      uint64 `json:"closed"`       // connections closed for too many errors
}

// Seed is a WhisperNet seed over TCP.
type Seed struct {
	cfg    SeedConfig
	log    *slog.Logger
	ln     net.Listener
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex // guards core and perIP
	core  *seed.Seed
	perIP map[netip.Addr]int

	relays  map[netip.AddrPort]*seedClient
	prober  *dialer   // dials peers to check dead reports (seed.Probe)
	started time.Time // set by Start

	conns       atomic.Int64
	connRefused atomic.Uint64
	badLines    atomic.Uint64
	rateLimited atomic.Uint64
	closed      atomic.Uint64
}

// NewSeed checks cfg and builds a seed; Start makes it listen.
func NewSeed(cfg SeedConfig) (*Seed, error) {
	rs := cfg.RandSeed
	if rs == 0 {
		rs = rand.Uint64()
	}
	if cfg.Core.Key == nil {
		k, err := identity.Generate(nil)
		if err != nil {
			return nil, err
		}
		cfg.Core.Key = k
	}
	core, err := seed.New(cfg.Core, seed.NewRand(rs))
	if err != nil {
		return nil, err
	}
	if cfg.MaxConns <= 0 || cfg.MaxConnsPerIP <= 0 || cfg.MaxRequestLen <= 0 || cfg.Rate <= 0 || cfg.Burst <= 0 || cfg.MaxErrors <= 0 {
		return nil, errors.New("seed: connection limits must be positive")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if !cfg.Listen.IsValid() {
		cfg.Listen = cfg.Core.Self
	}
	if cfg.SeedNames != nil && len(cfg.SeedNames) != len(cfg.Core.Seeds) {
		return nil, fmt.Errorf("seed: %d SeedNames for %d seeds", len(cfg.SeedNames), len(cfg.Core.Seeds))
	}
	s := &Seed{cfg: cfg, core: core, log: logger.With("seed", cfg.Core.Self.String()), perIP: make(map[netip.Addr]int), relays: make(map[netip.AddrPort]*seedClient)}
	if s.cfg.Transport == nil {
		s.cfg.Transport = TCP{}
	}
	dialer := newDialer(s.cfg.Transport, sourceIP(cfg.Listen.Addr(), cfg.Core.Self.Addr()), cfg.RequestTimeout)
	s.prober = newDialer(s.cfg.Transport, sourceIP(cfg.Listen.Addr(), cfg.Core.Self.Addr()), cfg.Core.ProbeTimeout)
	for i, a := range cfg.Core.Seeds {
		if a == cfg.Core.Self {
			continue
		}
		rc := newSeedClient(a, dialer, cfg.RequestTimeout, &s.wg, func(req, reply wire.Message, err error) {
			if err != nil {
				s.log.Info("relay failed", "to", a.String(), "err", err)
			}
		})
		if cfg.SeedNames != nil {
			rc.name, rc.resolver, rc.log = cfg.SeedNames[i], cfg.Resolver, s.log
		}
		s.relays[a] = rc
	}
	return s, nil
}

// Addr returns the seed's address (Core.Self).
func (s *Seed) Addr() netip.AddrPort { return s.cfg.Core.Self }

// ListenAddr returns the address the seed listens on (after Start: the
// bound one).
func (s *Seed) ListenAddr() netip.AddrPort {
	if s.ln != nil {
		if a, err := netip.ParseAddrPort(s.ln.Addr().String()); err == nil {
			return a
		}
	}
	return s.cfg.Listen
}

// Start binds the listening socket (a port in use is reported here) and
// serves until ctx ends or Stop is called.
func (s *Seed) Start(ctx context.Context) error {
	ln, err := s.cfg.Transport.Listen(s.cfg.Listen)
	if err != nil {
		return listenError("seed", s.cfg.Listen, err)
	}
	s.ln = ln
	s.started = time.Now()
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.wg.Add(2)
	go s.acceptLoop()
	go s.ticker()
	if s.cfg.Listen != s.cfg.Core.Self {
		s.logEvent(time.Now(), fmt.Sprintf("seed listening on %s as %s, node ID %s, public key %s", s.cfg.Listen, s.cfg.Core.Self, s.cfg.Core.Key.ID(), s.cfg.Core.Key.Public()))
	} else {
		s.logEvent(time.Now(), fmt.Sprintf("seed listening on %s, node ID %s, public key %s", s.cfg.Core.Self, s.cfg.Core.Key.ID(), s.cfg.Core.Key.Public()))
	}
	return nil
}

// Stop closes the listener and every connection and waits for them.
func (s *Seed) Stop() {
	if s.cancel != nil {
		s.cancel()
		s.ln.Close()
		s.wg.Wait()
	}
}

// Key returns the seed's identity (its node ID is Key().ID()).
func (s *Seed) Key() *identity.Key { return s.cfg.Core.Key }

// Started returns when the seed started (zero before Start).
func (s *Seed) Started() time.Time { return s.started }

// Peers returns the registered peers.
func (s *Seed) Peers() []netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.core.Peers()
}

// Has reports whether a is registered.
func (s *Seed) Has(a netip.AddrPort) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.core.Has(a)
}

// Verified returns the key a's registration was proven with (ok false:
// not registered, or not verified by a dial-back).
func (s *Seed) Verified(a netip.AddrPort) (identity.PublicKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.core.Verified(a)
}

// Stats returns the core and runtime counters.
func (s *Seed) Stats() SeedStats {
	s.mu.Lock()
	st := SeedStats{Stats: s.core.Stats()}
	s.mu.Unlock()
	st.Conns = s.conns.Load()
	st.ConnRefused, st.BadLines, st.RateLimited, st.Closed = s.connRefused.Load(), s.badLines.Load(), s.rateLimited.Load(), s.closed.Load()
	return st
}

func (s *Seed) logEvent(now time.Time, text string) {
	if s.cfg.Log != nil {
		s.cfg.Log.Event(now, s.cfg.Core.Self, text)
	}
}

func (s *Seed) ticker() {
	defer s.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			s.mu.Lock()
			s.core.Tick(now)
			s.applyLocked(now)
			s.mu.Unlock()
		case <-s.ctx.Done():
			return
		}
	}
}

func (s *Seed) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if s.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				s.log.Warn("accept failed", "err", err)
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return
		}
		ip := netip.MustParseAddrPort(c.RemoteAddr().String()).Addr().Unmap()
		if reason := s.admit(ip); reason != "" {
			s.connRefused.Add(1)
			c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = io.WriteString(c, "error:"+reason+"\n") // best effort: closed next
			c.Close()
			continue
		}
		s.wg.Add(1)
		go s.serve(c, ip)
	}
}

// admit counts a new connection from ip, or says why it is refused.
func (s *Seed) admit(ip netip.Addr) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns.Load() >= int64(s.cfg.MaxConns) {
		return fmt.Sprintf("too many connections (limit %d)", s.cfg.MaxConns)
	}
	if s.perIP[ip] >= s.cfg.MaxConnsPerIP {
		return fmt.Sprintf("too many connections from %s (limit %d)", wire.FormatIP(ip), s.cfg.MaxConnsPerIP)
	}
	s.perIP[ip]++
	s.conns.Add(1)
	return ""
}

func (s *Seed) release(ip netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
	s.conns.Add(-1)
}

// serve answers one client's requests, one reply line each.
func (s *Seed) serve(c net.Conn, ip netip.Addr) {
	defer s.wg.Done()
	defer s.release(ip)
	defer c.Close()
	stop := context.AfterFunc(s.ctx, func() { c.Close() })
	defer stop()
	lr := wire.NewLineReader(c, s.cfg.MaxRequestLen)
	// A token bucket per connection: Burst requests at once, Rate per
	// second after that.
	bucket := rate.NewLimiter(rate.Limit(s.cfg.Rate), s.cfg.Burst)
	errs := 0
	var out []byte
	for {
		c.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
		line, err := lr.ReadLine()
		now := time.Now()
		var reply wire.Message
		switch {
		case err != nil && !errors.Is(err, wire.ErrTooLong):
			return // EOF, idle timeout or reset
		case err != nil:
			s.badLines.Add(1)
			reply = wire.Message{Kind: wire.KindError, Text: err.Error()}
		case !bucket.AllowN(now, 1):
			s.rateLimited.Add(1)
			reply = wire.Message{Kind: wire.KindError, Text: fmt.Sprintf("rate limit exceeded (%g requests/s)", s.cfg.Rate)}
		default:
			m, perr := wire.Parse(line)
			if perr != nil {
				s.badLines.Add(1)
				reply = wire.Message{Kind: wire.KindError, Text: perr.Error()}
				break
			}
			s.mu.Lock()
			reply = s.core.Handle(now, ip, m)
			s.applyLocked(now)
			s.mu.Unlock()
		}
		if reply.Kind == wire.KindError {
			errs++
		}
		out = append(reply.Append(out[:0]), '\n')
		seed.Release(reply)
		c.SetWriteDeadline(now.Add(s.cfg.WriteTimeout))
		if _, err := c.Write(out); err != nil {
			return
		}
		if errs >= s.cfg.MaxErrors {
			s.closed.Add(1)
			c.SetWriteDeadline(now.Add(s.cfg.WriteTimeout))
			_, _ = fmt.Fprintf(c, "error:closing after %d errors\n", errs) // best effort: closed next
			return
		}
	}
}

// applyLocked carries out the core's actions; s.mu is held.
func (s *Seed) applyLocked(now time.Time) {
	for _, a := range s.core.Ready() {
		switch a.Kind {
		case seed.Log:
			s.logEvent(now, a.Text)
		case seed.Relay:
			if rc, ok := s.relays[a.Addr]; ok {
				rc.request(s.ctx, a.Msg)
			}
		case seed.Probe:
			s.wg.Add(1)
			go s.probe(a.Addr, a.Msg)
		case seed.Removed, seed.Left:
			if s.cfg.Removed != nil {
				s.cfg.Removed(s.cfg.Core.Self, a.Addr, now)
			}
		}
	}
}

// probe challenges the peer at a on a connection of its own, as the core
// asked (seed.Probe), and hands the core the reply.
func (s *Seed) probe(a netip.AddrPort, challenge wire.Message) {
	defer s.wg.Done()
	reply, err := s.exchangeProbe(a, challenge)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.core.ProbeReply(now, a, challenge.Text, reply, err)
	s.applyLocked(now)
}

func (s *Seed) exchangeProbe(a netip.AddrPort, challenge wire.Message) (wire.Message, error) {
	conn, err := s.prober.dial(s.ctx, a, 0)
	if err != nil {
		return wire.Message{}, err
	}
	defer conn.Close()
	stop := context.AfterFunc(s.ctx, func() { conn.Close() })
	defer stop()
	conn.SetDeadline(time.Now().Add(s.cfg.Core.ProbeTimeout))
	if _, err := conn.Write(append(challenge.Append(nil), '\n')); err != nil {
		return wire.Message{}, err
	}
	line, err := wire.NewLineReader(conn, wire.MaxLineLen).ReadLine()
	if err != nil {
		return wire.Message{}, err
	}
	return wire.Parse(line)
}
