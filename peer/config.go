package peer

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/whispernet/whispernet/identity"
	"github.com/whispernet/whispernet/topology"
	"github.com/whispernet/whispernet/wire"
)

// Config configures a Peer. Start from DefaultConfig and set Self and Seeds.
type Config struct {
	// Self is the address this peer listens on and announces.
	Self netip.AddrPort
	// Seeds lists every seed of config.txt; the peer registers with a
	// random majority (⌊n/2⌋+1) of them.
	Seeds []netip.AddrPort
	// Key is the peer's identity: it signs the peer's gossip and answers
	// challenges. Nil derives a key from Self (identity.FromSeed), which is
	// reproducible and therefore public: fit for simulations and tests,
	// never for a real network (node.NewPeer generates a real key). The
	// derived key is made on first use: a simulation of a million unsigned
	// peers does not pay for a million keys.
	Key *identity.Key
	// Sign makes the peer sign the gossip it originates and refuse gossip
	// that is not signed by its origin's key (docs/security.md). Off, the
	// peer sends and accepts unsigned gossip (and still accepts signed
	// gossip, checked): for experiments, and the simulator.
	Sign bool
	// MaxSeqAhead is how far ahead of the newest sequence number seen from
	// an origin a message may be (signing on); further is refused.
	MaxSeqAhead uint32
	// MaxBadGossip cuts off a neighbour after this many gossip messages
	// that were unsigned, badly signed, or signed by the wrong key.
	MaxBadGossip int
	// GossipRate and GossipBurst bound the gossip lines one neighbour may
	// send, per second after a burst (a token bucket per neighbour, in the
	// core's own time); IHaveRate and IHaveBurst bound the message IDs
	// its ihave lines announce. Lines over the rate are dropped and
	// counted (rate_limited); a neighbour with MaxFloodDrops dropped is
	// cut off (flood_cut_off). An honest neighbour sends each message at
	// most once, so the defaults, 10,000 a second with a burst of 20,000,
	// are 50 times the 200 new messages a second a peer sees under the
	// classic load at 1,000 peers (docs/security.md). A zero rate turns
	// the limit off.
	GossipRate, IHaveRate   float64
	GossipBurst, IHaveBurst int
	MaxFloodDrops           int
	// LivenessRate and LivenessBurst bound the liveness lines (requests
	// and replies) one neighbour may send; ControlRate and ControlBurst
	// its graft and prune lines. Over them a line is dropped unanswered and
	// counted (liveness_limited, control_limited), towards MaxFloodDrops as
	// well. An honest neighbour sends one liveness request each
	// LivenessInterval (13 s by default, 300 ms in fast tests) and one reply
	// to each of ours, and at most one graft or prune per message, so the
	// defaults (100 and 10,000 a second, bursts of 200 and 20,000) leave
	// it room to spare. A zero rate turns the limit off.
	LivenessRate, ControlRate   float64
	LivenessBurst, ControlBurst int
	// MaxCapacity bounds the capacity a peer believes of another (from its
	// handshake or a seed's peer info): a claim of 2^31−1 would make the
	// claimant everybody's first choice and Plumtree parent. It is at
	// least MaxPeers and Degrees.Max.
	MaxCapacity int
	// MaxPerGroup bounds the inbound links from one network group (an
	// IPv4 /24, an IPv6 /48; loopback is exempt: wire.NetGroup).
	MaxPerGroup int
	// Verifier checks signatures; nil checks each one afresh. A process
	// running many peers gives them one identity.Cache, so that a message
	// is verified about once per process instead of once per peer.
	Verifier identity.Verifier

	// GossipInterval is the time between two generated messages.
	GossipInterval time.Duration
	// GossipCount is how many messages the peer generates in all.
	GossipCount int
	// GossipDelay is how long after Start the first message may go out; it
	// also waits for the first neighbour.
	GossipDelay time.Duration

	// LivenessInterval is the time between two liveness requests to a
	// neighbour.
	LivenessInterval time.Duration
	// LivenessMisses is how many consecutive unanswered requests
	// (LivenessMisses × LivenessInterval without a reply) mark a
	// neighbour dead.
	LivenessMisses int

	// Target fixes the target degree; 0 draws it from Degrees.
	Target int
	// Degrees is the power-law capacity model used when Target is 0.
	Degrees topology.Model
	// MaxPeers is the hard cap on neighbours, including the extra links a
	// full peer accepts from isolated peers.
	MaxPeers int
	// MaxKnown bounds the candidate peers remembered from seed replies.
	MaxKnown int

	// RefreshInterval is how often the peer re-registers with its seeds,
	// which keeps its registration from expiring and lets a restarted seed
	// relearn it.
	RefreshInterval time.Duration
	// RetryMin and RetryMax bound the exponential backoff for unreachable
	// seeds and peers.
	RetryMin, RetryMax time.Duration
	// HandshakeTimeout closes a connection whose handshake has not
	// completed in time.
	HandshakeTimeout time.Duration
	// FillInterval is how often a peer below its target looks for more
	// neighbours (asking a seed for fresh candidates when it has none).
	FillInterval time.Duration

	// MessageTTL bounds how long a message is remembered; older messages
	// are refused as stale, so forgetting them can never deliver one twice.
	MessageTTL time.Duration
	// MaxOrigins bounds the origins tracked in the message list; messages
	// from further origins are dropped (and counted) until old ones expire.
	MaxOrigins int

	// Broadcast is how gossip spreads: Plumtree (the default) or Flood.
	// Every peer handles ihave, graft and prune whatever its own mode, so
	// the two can be mixed in one network.
	Broadcast Broadcast
	// LazyInterval is how long announcements for lazy links are batched
	// before they go out as one ihave line per link.
	LazyInterval time.Duration
	// GraftTimeout is how long a peer waits, after hearing of a message it
	// lacks, before it grafts the announcing link and asks for the message
	// (then half as long before asking the next announcer).
	GraftTimeout time.Duration
	// CacheSize and CacheTime bound the messages kept to answer grafts.
	CacheSize int
	CacheTime time.Duration
	// MaxMissing bounds the announced-but-not-received messages tracked.
	MaxMissing int

	// Stagger starts the periodic timers (gossip generation, liveness,
	// seed refresh) at a random phase drawn from the peer's RNG, so that
	// peers started at the same moment do not fire in step and flood the
	// network in bursts (docs/load.md). The first message still comes no
	// earlier than GossipDelay; the count and the intervals are unchanged.
	// Off: every timer starts exactly one interval after Start (the
	// classic behaviour, which the scripted tests pin).
	Stagger bool

	// DisableLog stops the peer from emitting Log actions (and from
	// formatting their text), for a driver that would discard them, such
	// as the simulator. Every other action is unchanged.
	DisableLog bool
	// ReportDuplicates makes the peer emit a Duplicate action for every
	// copy of a message it had already seen (for per-message redundancy
	// counts on a dashboard). Off by default: copies outnumber first
	// receipts several times over.
	ReportDuplicates bool
}

// DefaultConfig returns the classic timers (gossip every 5 s, 10 messages;
// liveness every 13 s, dead after 3 misses) and the default power-law model.
func DefaultConfig() Config {
	return Config{
		GossipInterval:   5 * time.Second,
		GossipCount:      10,
		GossipDelay:      5 * time.Second,
		LivenessInterval: 13 * time.Second,
		LivenessMisses:   3,
		Degrees:          topology.DefaultModel(),
		MaxPeers:         128,
		MaxKnown:         4096,
		RefreshInterval:  60 * time.Second,
		RetryMin:         250 * time.Millisecond,
		RetryMax:         30 * time.Second,
		HandshakeTimeout: 5 * time.Second,
		FillInterval:     time.Second,
		MessageTTL:       10 * time.Minute,
		MaxOrigins:       1 << 16,
		Broadcast:        Plumtree,
		Stagger:          true,
		LazyInterval:     100 * time.Millisecond,
		GraftTimeout:     500 * time.Millisecond,
		CacheSize:        4096,
		CacheTime:        5 * time.Second,
		MaxMissing:       8192,
		Sign:             true,
		MaxSeqAhead:      1 << 16,
		MaxBadGossip:     10,
		GossipRate:       10000,
		GossipBurst:      20000,
		IHaveRate:        10000,
		IHaveBurst:       20000,
		MaxFloodDrops:    1000,
		LivenessRate:     100,
		LivenessBurst:    200,
		ControlRate:      10000,
		ControlBurst:     20000,
		MaxPerGroup:      8,
		MaxCapacity:      128,
	}
}

// ErrConfig wraps every configuration error.
var ErrConfig = errors.New("peer: invalid config")

func (c *Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case !c.Self.IsValid():
		return bad("no listening address")
	case len(c.Seeds) == 0:
		return bad("no seeds")
	case c.GossipInterval <= 0 || c.LivenessInterval <= 0 || c.RefreshInterval <= 0 || c.FillInterval <= 0:
		return bad("intervals must be positive")
	case c.GossipCount < 0:
		return bad("gossip count %d is negative", c.GossipCount)
	case c.GossipDelay < 0:
		return bad("gossip delay %v is negative", c.GossipDelay)
	case c.LivenessMisses < 1:
		return bad("liveness misses %d must be >= 1", c.LivenessMisses)
	case c.MaxPeers < 1:
		return bad("max peers %d must be >= 1", c.MaxPeers)
	case c.Target < 0 || c.Target > c.MaxPeers:
		return bad("target degree %d not in 0..max peers (%d)", c.Target, c.MaxPeers)
	case c.MaxKnown < 1 || c.MaxOrigins < 1:
		return bad("MaxKnown and MaxOrigins must be positive")
	case c.RetryMin <= 0 || c.RetryMax < c.RetryMin:
		return bad("retry backoff %v..%v is not a range", c.RetryMin, c.RetryMax)
	case c.HandshakeTimeout <= 0 || c.MessageTTL <= 0:
		return bad("timeouts must be positive")
	case c.Broadcast > Plumtree:
		return bad("unknown broadcast mode %v", c.Broadcast)
	case c.LazyInterval <= 0 || c.GraftTimeout <= 0 || c.CacheTime <= 0:
		return bad("lazy interval, graft timeout and cache time must be positive")
	case c.MaxPerGroup < 1 || c.MaxCapacity < 1:
		return bad("max per group %d and max capacity %d must be positive", c.MaxPerGroup, c.MaxCapacity)
	case c.MaxBadGossip < 1 || c.MaxSeqAhead < 1:
		return bad("max bad gossip %d and max sequence ahead %d must be positive", c.MaxBadGossip, c.MaxSeqAhead)
	case c.GossipRate < 0 || c.IHaveRate < 0 || (c.GossipRate > 0 && c.GossipBurst < 1) || (c.IHaveRate > 0 && c.IHaveBurst < wire.MaxIDsPerLine) || c.MaxFloodDrops < 1:
		return bad("gossip rate %g (burst %d), ihave rate %g (burst %d, at least %d) and max flood drops %d must be positive", c.GossipRate, c.GossipBurst, c.IHaveRate, c.IHaveBurst, wire.MaxIDsPerLine, c.MaxFloodDrops)
	case c.LivenessRate < 0 || c.ControlRate < 0 || (c.LivenessRate > 0 && c.LivenessBurst < 1) || (c.ControlRate > 0 && c.ControlBurst < 1):
		return bad("liveness rate %g (burst %d) and control rate %g (burst %d) must not be negative, their bursts positive", c.LivenessRate, c.LivenessBurst, c.ControlRate, c.ControlBurst)
	case c.CacheSize < 1 || c.MaxMissing < 1:
		return bad("cache size %d and max missing %d must be positive", c.CacheSize, c.MaxMissing)
	}
	if c.Verifier == nil {
		c.Verifier = identity.Direct{}
	}
	// Nobody's capacity exceeds what this network is configured to give.
	c.MaxCapacity = max(c.MaxCapacity, c.MaxPeers, c.Degrees.Max)
	if c.Target == 0 {
		if err := c.Degrees.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	return nil
}
