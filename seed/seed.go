package seed

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/whispernet/whispernet/identity"
	"github.com/whispernet/whispernet/wire"
)

// Config configures a Seed. The zero value is not valid; start from
// DefaultConfig.
type Config struct {
	// Self is the seed's own listening address.
	Self netip.AddrPort
	// Key is the seed's identity: it signs challenges and relays. Nil
	// derives a key from Self (identity.FromSeed), which is reproducible
	// and therefore public: fit for tests, never for a real network
	// (node.NewSeed generates a real key).
	Key *identity.Key
	// Seeds lists every seed of config.txt (Self may be among them; it is
	// skipped). Removals are relayed to the others.
	Seeds []netip.AddrPort
	// SeedKeys are the seeds' public keys that config.txt lists after
	// their addresses (IP:PORT KEY). A relay from a listed seed must be
	// signed by its key, and then it is believed (a dead report removes at
	// once: the relaying seed has probed); a relay from a seed listed
	// without a key stays a hint that triggers this seed's own probe. A
	// seed whose config lists any key signs the relays it sends.
	SeedKeys map[netip.AddrPort]identity.PublicKey
	// MaxPeers caps the registry; registrations beyond it are refused.
	MaxPeers int
	// Expiry drops a registration that has not been refreshed for this
	// long. Zero keeps registrations until a peer is reported dead.
	Expiry time.Duration
	// Verify requires a register or Dead Node request to come from the IP
	// it names (the reporter's IP for Dead Node). Relayed reports must come
	// from one of Seeds.
	Verify bool
	// Probe makes the seed check a dead report itself before it acts on
	// it: it challenges the reported peer (a Probe action) and removes it
	// only if no signed answer comes within ProbeTimeout. A peer that
	// still answers stays listed, on every seed (docs/security.md). Off,
	// a report removes the peer at once (the simulator's model).
	Probe bool
	// ProbeTimeout bounds a probe, dial included.
	ProbeTimeout time.Duration
	// DialBackAttempts is how many times a seed challenges the address of
	// a signed registration before it gives up (the registration is then
	// never listed; the peer's next refresh tries again), DialBackRetry
	// the wait after the first failed attempt (doubled after each).
	DialBackAttempts int
	DialBackRetry    time.Duration
	// ReportRate and ReportBurst bound the dead reports accepted from one
	// reporter (its address), per second after a burst; more get an error
	// reply.
	ReportRate  float64
	ReportBurst int
	// MaxCapacity bounds the capacity and degree a seed stores and lists
	// for a peer; MaxPerGroup the peers registered from one network group
	// (an IPv4 /24, an IPv6 /48; loopback is exempt: wire.NetGroup).
	MaxCapacity, MaxPerGroup int
}

// DefaultConfig returns the configuration the CLI starts from.
func DefaultConfig() Config {
	return Config{
		MaxPeers:         1 << 20,
		Expiry:           5 * time.Minute,
		Verify:           true,
		Probe:            true,
		ProbeTimeout:     5 * time.Second,
		DialBackAttempts: 3,
		DialBackRetry:    2 * time.Second,
		ReportRate:       1,
		ReportBurst:      20,
		MaxCapacity:      1024,
		MaxPerGroup:      1024,
	}
}

// Errors returned by New.
var (
	ErrNoSelf   = errors.New("seed: config has no listening address (Self)")
	ErrMaxPeers = errors.New("seed: MaxPeers must be positive")
)

func (c *Config) validate() error {
	if !c.Self.IsValid() {
		return ErrNoSelf
	}
	if c.MaxPeers <= 0 {
		return ErrMaxPeers
	}
	if c.Expiry < 0 {
		return fmt.Errorf("seed: Expiry %v is negative", c.Expiry)
	}
	if c.MaxCapacity < 1 || c.MaxPerGroup < 1 {
		return fmt.Errorf("seed: MaxCapacity and MaxPerGroup must be positive")
	}
	if c.Probe && (c.ProbeTimeout <= 0 || c.ReportRate <= 0 || c.ReportBurst < 1 || c.DialBackAttempts < 1 || c.DialBackRetry <= 0) {
		return fmt.Errorf("seed: ProbeTimeout, DialBackAttempts, DialBackRetry, ReportRate and ReportBurst must be positive")
	}
	if c.Key == nil {
		// A seed is one of a handful: deriving its key now costs nothing.
		c.Key = identity.FromSeed([]byte("whispernet derived key " + c.Self.String()))
	}
	if k, ok := c.SeedKeys[c.Self]; ok && !k.IsZero() && k != c.Key.Public() {
		// The other seeds would refuse every relay this one signs.
		return fmt.Errorf("seed: config.txt lists key %s for this seed (%s), but its key is %s", k, c.Self, c.Key.Public())
	}
	return nil
}

// ActionKind says what an Action asks the driver to do.
type ActionKind uint8

const (
	// Relay: send Msg to the seed at Addr (no reply is awaited beyond the
	// protocol's one line, which the driver may discard).
	Relay ActionKind = iota + 1
	// Log: append Text to outputfile.log.
	Log
	// Removed: Addr left the registry (reported dead or expired). Drivers
	// use it for metrics and the simulator for detection times.
	Removed
	// Left: Addr left the registry because it said it was leaving (a
	// graceful leave): no failure, so no detection time.
	Left
	// Probe: dial Addr, send Msg (a challenge) as the first line, read one
	// reply line within Config.ProbeTimeout and pass it to ProbeReply (or
	// the error, if there is none).
	Probe
)

// Action is a side effect the driver carries out.
type Action struct {
	Kind ActionKind
	Addr netip.AddrPort
	Msg  wire.Message
	Text string
}

type entry struct {
	key         identity.PublicKey // learned from its first answer to a probe (zero: not yet)
	verified    bool               // key proven by a dial-back at a signed registration: only it refreshes
	lastTS      wire.Timestamp     // the newest signed registration's timestamp (no replays)
	addr        netip.AddrPort
	cap, degree int
	seen        time.Time
	pos         [2]int // positions in Seed.reg and Seed.free (pool.slot), or -1
	drawn       uint64 // the last draw (Seed.draws) that picked it
	listed      uint64 // the last reply (Seed.replies) that listed it
}

// Stats counts what a seed has done; drivers export it as metrics.
type Stats struct {
	Registrations   uint64 `json:"registrations"`     // register requests accepted (new and refresh)
	DeadReports     uint64 `json:"dead_reports"`      // Dead Node requests received
	DeadAccepted    uint64 `json:"dead_accepted"`     // reports that removed a registered peer
	Expired         uint64 `json:"expired"`           // registrations dropped for want of refresh
	Refused         uint64 `json:"refused"`           // requests answered with error:
	RelaysSent      uint64 `json:"relays_sent"`       // reports relayed to other seeds
	PeerListsServed uint64 `json:"peer_lists_served"` // peer list and peer info replies
	Left            uint64 `json:"left"`              // peers removed because they said they were leaving
	Probes          uint64 `json:"probes"`            // peers challenged after a dead report
	Refuted         uint64 `json:"refuted"`           // dead reports refuted: the peer answered the probe
	ReportsLimited  uint64 `json:"reports_limited"`   // dead reports refused over the reporter's rate
	GroupRefused    uint64 `json:"group_refused"`     // registrations refused: their network group had MaxPerGroup peers
	RegisterRefused uint64 `json:"register_refused"`  // refreshes of a verified registration not signed by its key (or replayed)
	DialBacks       uint64 `json:"dial_backs"`        // signed registrations checked by dialling back
	DialBackRetries uint64 `json:"dial_back_retries"` // dial-backs tried again after an attempt got no answer
	Unproven        uint64 `json:"unproven"`          // signed registrations not listed (or not verified): no answer to any attempt, or an answer for another key
	RelayRefused    uint64 `json:"relay_refused"`     // relays refused: from a keyed seed's IP, not validly signed by a key config.txt lists there
	RelaysBelieved  uint64 `json:"relays_believed"`   // relays signed by a keyed seed, acted on without a probe of this seed's own
	LeaveRefused    uint64 `json:"leave_refused"`     // leaves refused: unsigned or wrongly signed for a verified peer, bad signature, or replayed
}

// Seed is the registry state machine. It is not safe for concurrent use;
// drivers serialise calls.
type Seed struct {
	cfg     Config
	rng     *rand.Rand
	peers   map[netip.AddrPort]*entry
	reg     pool     // registry members, for O(1) sampling
	free    pool     // members with a free slot (degree < cap), sampled first by peer info
	draws   uint64   // sampling draws so far (entry.drawn)
	replies uint64   // sampled replies so far (entry.listed)
	picked  []*entry // the last draw
	seedIPs map[netip.Addr]bool
	// keyed are the keys of config.txt's keyed seeds by IP (Self
	// excluded); plainIPs the IPs with a seed listed without a key.
	keyed    map[netip.Addr][]identity.PublicKey
	plainIPs map[netip.Addr]bool
	out      []Action
	stats    Stats
	nextGC   time.Time

	probes    map[netip.AddrPort]*probe // dead reports being checked (probe.go)
	lastNow   time.Time                 // the time of the latest call
	groups    map[netip.Prefix]int      // registered peers per network group (wire.NetGroup)
	reporters map[netip.AddrPort]*rate.Limiter
	nonces    uint64
	scratch   []byte // formats one peer-info entry, to measure it
}

// New returns a Seed for cfg. rng drives peer-list sampling.
func New(cfg Config, rng *rand.Rand) (*Seed, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Seed{cfg: cfg, rng: rng, peers: make(map[netip.AddrPort]*entry), seedIPs: make(map[netip.Addr]bool), free: pool{slot: 1}}
	for _, a := range cfg.Seeds {
		s.seedIPs[a.Addr()] = true
	}
	s.seedIPs[cfg.Self.Addr()] = true
	s.keyed, s.plainIPs = make(map[netip.Addr][]identity.PublicKey), make(map[netip.Addr]bool)
	for _, a := range cfg.Seeds {
		if a == cfg.Self {
			continue
		}
		if k, ok := cfg.SeedKeys[a]; ok && !k.IsZero() {
			s.keyed[a.Addr().Unmap()] = append(s.keyed[a.Addr().Unmap()], k)
		} else {
			s.plainIPs[a.Addr().Unmap()] = true
		}
	}
	return s, nil
}

// Key returns the seed's identity.
func (s *Seed) Key() *identity.Key { return s.cfg.Key }

// Self returns the seed's listening address.
func (s *Seed) Self() netip.AddrPort { return s.cfg.Self }

// Stats returns the counters so far.
func (s *Seed) Stats() Stats { return s.stats }

// Len returns the number of registered peers.
func (s *Seed) Len() int { return len(s.reg.list) }

// Peers returns the registered peers in registry order (a copy).
func (s *Seed) Peers() []netip.AddrPort {
	out := make([]netip.AddrPort, len(s.reg.list))
	for i, e := range s.reg.list {
		out[i] = e.addr
	}
	return out
}

// Has reports whether a is registered.
func (s *Seed) Has(a netip.AddrPort) bool { _, ok := s.peers[a]; return ok }

// Verified returns the key a's registration was proven with by a
// dial-back (ok false: a is not registered, or not verified).
func (s *Seed) Verified(a netip.AddrPort) (key identity.PublicKey, ok bool) {
	if e, listed := s.peers[a]; listed && e.verified {
		return e.key, true
	}
	return identity.PublicKey{}, false
}

// Ready returns the actions produced since the last call and clears them.
// The returned slice is valid until the next call into the Seed.
func (s *Seed) Ready() []Action {
	out := s.out
	s.out = s.out[:0]
	return out
}

// HasReady reports whether Ready would return anything.
func (s *Seed) HasReady() bool { return len(s.out) > 0 }

func (s *Seed) logf(format string, args ...any) {
	s.out = append(s.out, Action{Kind: Log, Text: fmt.Sprintf(format, args...)})
}

func errorReply(format string, args ...any) wire.Message {
	return wire.Message{Kind: wire.KindError, Text: fmt.Sprintf(format, args...)}
}

// Handle processes one request that arrived at now from a connection whose
// source IP is src, and returns the reply line. Every request gets exactly
// one reply; requests a seed does not serve get an error reply.
func (s *Seed) Handle(now time.Time, src netip.Addr, m wire.Message) wire.Message {
	s.lastNow = now
	s.expire(now)
	var reply wire.Message
	switch m.Kind {
	case wire.KindRegister:
		reply = s.register(now, src, m)
	case wire.KindPeerListRequest, wire.KindPeerInfoRequest, wire.KindPeerKeysRequest:
		s.stats.PeerListsServed++
		info, keys := m.Kind != wire.KindPeerListRequest, m.Kind == wire.KindPeerKeysRequest
		reply = wire.Message{Kind: wire.KindPeerList, Peers: s.sample(info, keys)}
		if info {
			reply.Kind = wire.KindPeerInfo
		}
	case wire.KindDeadNode:
		reply = s.deadNode(src, m)
	case wire.KindLeaving:
		reply = s.leaving(now, src, m)
	default:
		reply = errorReply("a seed does not serve %q", m.Kind)
	}
	if reply.Kind == wire.KindError {
		s.stats.Refused++
	}
	return reply
}

func (s *Seed) register(now time.Time, src netip.Addr, m wire.Message) wire.Message {
	if s.cfg.Verify && src.Unmap() != m.Addr.Addr().Unmap() {
		s.logf("refused registration of %s from %s: address mismatch", m.Addr, wire.FormatIP(src))
		return errorReply("register: %s does not match your address %s", wire.FormatIP(m.Addr.Addr()), wire.FormatIP(src))
	}
	if m.Auth != nil {
		if !wire.VerifyRegister(&m) {
			return errorReply("register: the signature does not verify")
		}
		if d := time.Duration(int64(m.Time)-now.UnixMicro()) * time.Microsecond; d > maxRegisterSkew || d < -maxRegisterSkew {
			return errorReply("register: timestamp %s is more than %s from the seed's clock", m.Time, maxRegisterSkew)
		}
	}
	capacity, degree := min(announced(m.Cap), s.cfg.MaxCapacity), min(announced(m.Degree), s.cfg.MaxCapacity)
	if e, ok := s.peers[m.Addr]; ok {
		if e.verified {
			// Only the key that proved the address may refresh it.
			switch {
			case m.Auth == nil:
				s.stats.RegisterRefused++
				return errorReply("register: %s is registered with a key: only a registration signed by it refreshes it", m.Addr)
			case m.Auth.Key != e.key:
				s.stats.RegisterRefused++
				return errorReply("register: %s is registered with another key", m.Addr)
			case m.Time <= e.lastTS:
				s.stats.RegisterRefused++
				return errorReply("register: a replayed registration (timestamp %s, last %s)", m.Time, e.lastTS)
			}
			e.lastTS = m.Time
		} else if m.Auth != nil && s.cfg.Probe {
			s.dialBack(m, capacity, degree) // prove the key; meanwhile it stays as it was
		}
		e.cap, e.degree, e.seen = capacity, degree, now
		s.setFree(e)
		s.stats.Registrations++
		return wire.Message{Kind: wire.KindRegistered}
	}
	if m.Auth != nil && s.cfg.Probe {
		// A new address with a key is listed only once it has answered
		// the seed's challenge for that key (a dial-back, tried
		// DialBackAttempts times). Until then it is pending: in no peer
		// list, so a squatter's registration of an address that does not
		// answer for its key is never listed (docs/security.md).
		if r := s.admissible(m.Addr); r.Kind == wire.KindError {
			return r
		}
		if r, ok := s.dialBack(m, capacity, degree); !ok {
			return r
		}
		return wire.Message{Kind: wire.KindRegistered}
	}
	return s.add(now, m.Addr, capacity, degree)
}

// maxRegisterSkew bounds how far a signed registration's timestamp may be
// from the seed's clock.
const maxRegisterSkew = 5 * time.Minute

// admissible returns an error reply when a new registration of addr
// would go over MaxPeers or its network group's MaxPerGroup (zero: it
// fits).
func (s *Seed) admissible(addr netip.AddrPort) wire.Message {
	if len(s.reg.list) >= s.cfg.MaxPeers {
		return errorReply("register: registry full (%d peers)", s.cfg.MaxPeers)
	}
	if g, grouped := wire.NetGroup(addr.Addr()); grouped && s.groups[g] >= s.cfg.MaxPerGroup {
		s.stats.GroupRefused++
		return errorReply("register: %d peers already registered from %s (limit %d per network)", s.groups[g], g, s.cfg.MaxPerGroup)
	}
	return wire.Message{}
}

// add puts a new peer in the registry.
func (s *Seed) add(now time.Time, addr netip.AddrPort, capacity, degree int) wire.Message {
	if r := s.admissible(addr); r.Kind == wire.KindError {
		return r
	}
	if g, grouped := wire.NetGroup(addr.Addr()); grouped {
		if s.groups == nil {
			s.groups = make(map[netip.Prefix]int)
		}
		s.groups[g]++
	}
	e := &entry{addr: addr, cap: capacity, degree: degree, seen: now, pos: [2]int{-1, -1}}
	s.peers[addr] = e
	s.reg.add(e)
	s.setFree(e)
	s.stats.Registrations++
	s.logf("registered %s (peer list size %d)", addr, len(s.reg.list))
	return wire.Message{Kind: wire.KindRegistered}
}

// maxAnnounced bounds the capacity and degree a seed stores and lists. A
// register line may carry numbers up to 2^32−1, but a peer-info entry reads
// at most 2^31−1, and one peer's absurd numbers must not make the reply
// unreadable for everybody (or push MaxPeersPerReply entries of the
// longest IPv6 addresses over wire.MaxLineLen).
const maxAnnounced = 1<<16 - 1

func announced(n int) int { return max(0, min(n, maxAnnounced)) }

func (s *Seed) deadNode(src netip.Addr, m wire.Message) wire.Message {
	s.stats.DeadReports++
	if s.cfg.Verify {
		if m.Relayed && !s.seedIPs[src.Unmap()] {
			return errorReply("Dead Node: relayed report from %s, which is not a seed", wire.FormatIP(src))
		}
		if !m.Relayed && src.Unmap() != m.From.Addr().Unmap() {
			return errorReply("Dead Node: reporter %s does not match your address %s", wire.FormatIP(m.From.Addr()), wire.FormatIP(src))
		}
	}
	via := ""
	trusted := false
	if m.Relayed {
		via = " via seed " + wire.FormatIP(src)
		var refused bool
		if trusted, refused = s.relayTrust(src, m); refused {
			return errorReply("Dead Node: relay from %s is not signed by a seed key that config.txt lists there", wire.FormatIP(src))
		}
	}
	if s.cfg.Probe && trusted {
		// A keyed seed has probed the peer itself and says it failed.
		s.stats.RelaysBelieved++
		if !s.confirmDead(m, via, "failed the probe of seed "+m.Relay.Key.String(), false) {
			return wire.Message{Kind: wire.KindOK, Text: "already removed " + m.Addr.String()}
		}
		return wire.Message{Kind: wire.KindOK, Text: "removed " + m.Addr.String()}
	}
	if s.cfg.Probe {
		return s.check(src, m, via)
	}
	if !s.confirmDead(m, via, "", !m.Relayed) {
		s.logf("dead node %s already removed (reported by %s%s)", m.Addr, m.From, via)
		return wire.Message{Kind: wire.KindOK, Text: "already removed " + m.Addr.String()}
	}
	return wire.Message{Kind: wire.KindOK, Text: "removed " + m.Addr.String()}
}

// confirmDead removes the peer of dead report m and, for a report that
// came from a peer (relay), passes the report on to the other seeds once.
// why, if set, says how the seed checked it. It reports whether the peer
// was registered.
func (s *Seed) confirmDead(m wire.Message, via, why string, relay bool) bool {
	if !s.remove(m.Addr) {
		return false
	}
	s.stats.DeadAccepted++
	if why != "" {
		why = "; it " + why
	}
	s.logf("removed dead node %s (reported by %s at %s%s%s; peer list size %d)", m.Addr, m.From, m.Time, via, why, len(s.reg.list))
	if relay {
		relayed := s.relayOf(m)
		for _, a := range s.cfg.Seeds {
			if a != s.cfg.Self {
				s.stats.RelaysSent++
				s.out = append(s.out, Action{Kind: Relay, Addr: a, Msg: relayed})
			}
		}
	}
	return true
}

// leaving removes a peer that says it is leaving, at once, and passes the
// news on to the other seeds: the peer told only the seeds it is
// registered with now, and one it registered with earlier may still list
// it. Only the peer itself may say so (its own IP), or a seed relaying.
//
// A signed leave (Leaving:IP:PORT:KEY:TS:SIG) must verify, and a peer
// whose key the seed verified at registration leaves only by one signed
// with that key and newer than its last registration (no replays): a
// process on the peer's IP can no longer take it off the list. The plain
// form still removes an unverified registration (docs/security.md).
func (s *Seed) leaving(now time.Time, src netip.Addr, m wire.Message) wire.Message {
	if s.cfg.Verify {
		if m.Relayed && !s.seedIPs[src.Unmap()] {
			return errorReply("Leaving: relayed from %s, which is not a seed", wire.FormatIP(src))
		}
		if !m.Relayed && src.Unmap() != m.Addr.Addr().Unmap() {
			return errorReply("Leaving: %s does not match your address %s", wire.FormatIP(m.Addr.Addr()), wire.FormatIP(src))
		}
	}
	if m.Relayed {
		if _, refused := s.relayTrust(src, m); refused {
			return errorReply("Leaving: relay from %s is not signed by a seed key that config.txt lists there", wire.FormatIP(src))
		}
	}
	if m.Auth != nil {
		if !wire.VerifyLeaving(&m) {
			s.stats.LeaveRefused++
			return errorReply("Leaving: the signature does not verify")
		}
		if d := time.Duration(int64(m.Time)-now.UnixMicro()) * time.Microsecond; d > maxRegisterSkew || d < -maxRegisterSkew {
			s.stats.LeaveRefused++
			return errorReply("Leaving: timestamp %s is more than %s from the seed's clock", m.Time, maxRegisterSkew)
		}
	}
	if e, ok := s.peers[m.Addr]; ok {
		switch {
		case e.verified && m.Auth == nil:
			s.stats.LeaveRefused++
			s.logf("refused leave of %s: not signed by its verified key", m.Addr)
			return errorReply("Leaving: %s is registered with a key: only a leave signed by it removes it", m.Addr)
		case e.verified && m.Auth.Key != e.key:
			s.stats.LeaveRefused++
			s.logf("refused leave of %s: signed by another key", m.Addr)
			return errorReply("Leaving: %s is registered with another key", m.Addr)
		case e.verified && m.Time < e.lastTS: // (equal: a leave made in the registration's microsecond)
			s.stats.LeaveRefused++
			s.logf("refused leave of %s: replayed (timestamp %s, last registration %s)", m.Addr, m.Time, e.lastTS)
			return errorReply("Leaving: a replayed leave (timestamp %s, last registration %s)", m.Time, e.lastTS)
		}
	}
	if m.Auth != nil && s.cancelPending(m.Addr, m.Auth.Key, m.Time) {
		s.logf("pending registration of %s withdrawn: the peer left", m.Addr)
	}
	reply := wire.Message{Kind: wire.KindOK, Text: "not registered " + m.Addr.String()}
	if s.removeAs(m.Addr, Left) {
		s.stats.Left++
		via := ""
		if m.Relayed {
			via = " (via seed " + wire.FormatIP(src) + ")"
		}
		s.logf("peer %s left%s (peer list size %d)", m.Addr, via, len(s.reg.list))
		reply.Text = "left " + m.Addr.String()
	}
	if !m.Relayed {
		relay := s.relayOf(m)
		for _, a := range s.cfg.Seeds {
			if a != s.cfg.Self {
				s.stats.RelaysSent++
				s.out = append(s.out, Action{Kind: Relay, Addr: a, Msg: relay})
			}
		}
	}
	return reply
}

// relayOf returns m as this seed relays it: marked relayed, and signed
// by the seed's key when config.txt lists seed keys (the other seeds then
// know its key).
func (s *Seed) relayOf(m wire.Message) wire.Message {
	m.Relayed, m.Relay = true, nil
	if len(s.cfg.SeedKeys) > 0 {
		wire.SignRelay(&m, s.cfg.Key)
	}
	return m
}

// relayTrust judges relayed request m from src: trusted when it is
// validly signed by a key config.txt lists for a seed at src (any keyed
// seed, without Verify); refused when it is not, yet every other seed
// config.txt lists at src has a key (so no plain seed could have sent
// it); otherwise neither, a hint, as a relay from a plain seed line is.
func (s *Seed) relayTrust(src netip.Addr, m wire.Message) (trusted, refused bool) {
	src = src.Unmap()
	if m.Relay != nil && wire.VerifyRelay(&m) {
		for ip, keys := range s.keyed {
			if (ip == src || !s.cfg.Verify) && slices.Contains(keys, m.Relay.Key) {
				return true, false
			}
		}
	}
	if len(s.keyed[src]) > 0 && !s.plainIPs[src] {
		s.stats.RelayRefused++
		s.logf("refused a relayed %s about %s from %s: not signed by a seed key config.txt lists there", m.Kind, m.Addr, wire.FormatIP(src))
		return false, true
	}
	return false, false
}

// remove drops a from the registry, reporting whether it was there.
func (s *Seed) remove(a netip.AddrPort) bool { return s.removeAs(a, Removed) }

// removeAs is remove, announcing the removal with the action kind why
// (Removed or Left).
func (s *Seed) removeAs(a netip.AddrPort, why ActionKind) bool {
	e, ok := s.peers[a]
	if !ok {
		return false
	}
	s.free.remove(e)
	s.reg.remove(e)
	delete(s.peers, a)
	if g, ok := wire.NetGroup(a.Addr()); ok {
		if s.groups[g]--; s.groups[g] <= 0 {
			delete(s.groups, g)
		}
	}
	s.out = append(s.out, Action{Kind: why, Addr: a})
	return true
}

// setFree keeps the free set in step with e's announced capacity and
// degree.
func (s *Seed) setFree(e *entry) {
	if e.cap > 0 && e.degree < e.cap {
		s.free.add(e)
	} else {
		s.free.remove(e)
	}
}

// sample returns up to wire.MaxPeersPerReply registered peers, verified
// ones first: unverified entries (unsigned registrations) only fill what
// the verified leave of a reply. A classic peer list is all of them when
// they fit, else a uniform random sample. A peer-info reply, which peers
// use to find neighbours, lists peers with a free slot first (a uniform
// sample of them) and fills up with a uniform sample of the rest, so a
// newcomer in a large, mostly full network still sees the peers that can
// take it. With keys (peer keys) each verified entry carries its key, and
// the reply stops short of wire.MaxLineLen: about 250 IPv4 or 160 IPv6
// entries.
func (s *Seed) sample(info, keys bool) []wire.PeerInfo {
	out := replyBuf()
	s.replies++
	verified, unverified := s.reg.parts()
	segs := [4][]*entry{verified, unverified}
	if info && len(s.free.list) > 0 && len(s.reg.list) > wire.MaxPeersPerReply {
		freeV, freeU := s.free.parts()
		segs = [4][]*entry{freeV, verified, freeU, unverified}
	}
	lineLen := len(wire.VerbPeerInfo) // and ':' and the entries, each with ':' but the first
	full := false
	add := func(e *entry) {
		p := info1(e, info)
		if keys {
			if e.verified {
				p.Key = e.key
			}
			s.scratch = wire.AppendEntry(s.scratch[:0], p, true)
			if lineLen+len(s.scratch)+1 > wire.MaxLineLen {
				full = true
				return
			}
			lineLen += len(s.scratch) + 1
		}
		out = append(out, p)
		full = len(out) == wire.MaxPeersPerReply
	}
	all := len(s.reg.list) <= wire.MaxPeersPerReply
	for _, seg := range segs {
		if full {
			break
		}
		if all {
			for _, e := range seg {
				if add(e); full {
					break
				}
			}
			continue
		}
		// Entries listed from an earlier segment may be drawn again and
		// skipped: draw enough to fill the room left regardless.
		room := wire.MaxPeersPerReply - len(out)
		for _, e := range s.draw(seg, min(len(seg), room+len(out))) {
			if full {
				break
			}
			if e.listed != s.replies {
				e.listed = s.replies
				add(e)
			}
		}
	}
	return out
}

// replies recycles the peer lists of replies (Release): a network forming
// gets thousands of them a second, 10 kB each, read once.
var replies = sync.Pool{New: func() any {
	b := make([]wire.PeerInfo, 0, wire.MaxPeersPerReply)
	return &b
}}

// replyBuf returns an empty peer list with room for a full reply.
func replyBuf() []wire.PeerInfo { return (*replies.Get().(*[]wire.PeerInfo))[:0] }

// Release hands the peer list of a reply from Handle back for a later
// reply to reuse, once the caller is done with it (the reply is written
// out, or its entries copied). Calling it is optional: a reply that is
// never released is simply collected.
func Release(reply wire.Message) {
	if cap(reply.Peers) == wire.MaxPeersPerReply {
		b := reply.Peers[:0]
		replies.Put(&b)
	}
}

func info1(e *entry, withInfo bool) wire.PeerInfo {
	p := wire.PeerInfo{Addr: e.addr}
	if withInfo {
		p.Cap, p.Degree = e.cap, e.degree
	}
	return p
}

// Tick lets the seed expire stale registrations. Drivers call it at least
// every Expiry/4; Handle also expires lazily.
func (s *Seed) Tick(now time.Time) {
	s.lastNow = now
	s.expire(now)
	s.expireProbes(now)
}

// NextDeadline returns when the seed next needs a Tick (zero: never).
func (s *Seed) NextDeadline() time.Time {
	var t time.Time
	if s.cfg.Expiry != 0 && len(s.reg.list) > 0 {
		t = s.nextGC
	}
	if p := s.nextProbe(); !p.IsZero() && (t.IsZero() || p.Before(t)) {
		t = p
	}
	return t
}

func (s *Seed) expire(now time.Time) {
	if s.cfg.Expiry == 0 || now.Before(s.nextGC) {
		return
	}
	s.nextGC = now.Add(s.cfg.Expiry / 4)
	cutoff := now.Add(-s.cfg.Expiry)
	var stale []netip.AddrPort
	for _, e := range s.reg.list {
		if e.seen.Before(cutoff) {
			stale = append(stale, e.addr)
		}
	}
	for _, a := range stale {
		s.remove(a)
		s.stats.Expired++
		s.logf("expired %s: no refresh for %s (peer list size %d)", a, s.cfg.Expiry, len(s.reg.list))
	}
}

// draw returns k distinct entries of list uniformly at random (Floyd's
// algorithm: k draws, without touching all of list), in s.picked, which
// the next draw reuses. An entry drawn in this draw carries its number,
// so telling a repeat costs no set.
func (s *Seed) draw(list []*entry, k int) []*entry {
	s.draws++
	s.picked = s.picked[:0]
	n := len(list)
	for j := n - k; j < n; j++ {
		t := s.rng.IntN(j + 1)
		if list[t].drawn == s.draws {
			t = j
		}
		list[t].drawn = s.draws
		s.picked = append(s.picked, list[t])
	}
	return s.picked
}
