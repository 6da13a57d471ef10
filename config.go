package whispernet

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/whispernet/whispernet/config"
	"github.com/whispernet/whispernet/eventlog"
	"github.com/whispernet/whispernet/identity"
	"github.com/whispernet/whispernet/node"
	"github.com/whispernet/whispernet/peer"
	"github.com/whispernet/whispernet/topology"
)

// MaxPayload is the largest payload Publish takes, in bytes. Payloads that
// are short UTF-8 text travel as classic gossip lines; any other bytes
// travel base64-encoded on a gossip64 line (docs/protocol.md).
const MaxPayload = 64 << 10 // = wire.MaxPayloadLen

// Config configures a Node. Start from DefaultConfig, set Seeds, and change
// what you need; New rejects nonsense with an error wrapping ErrConfig.
type Config struct {
	// Listen is the TCP address the node listens on, "IP:PORT". Port 0
	// picks a free port (Addr reports it); an empty IP (":5000") listens
	// on every interface, and then Advertise must name the address to
	// announce.
	Listen string
	// Advertise is the address announced to seeds and peers, "IP:PORT" or
	// "host:port" (resolved at Start). Empty: the listening address. Port
	// 0: the listening port. It must be reachable from the other nodes,
	// and the node dials from its IP, since peers check that a handshake
	// comes from the address it claims.
	Advertise string
	// Seeds lists the seed nodes, "IP:PORT" or "host:port" (resolved at
	// Start). At least one. The node registers with a random majority
	// (⌊n/2⌋+1) of them and learns its first peers from their lists.
	Seeds []string
	// Key is the node's Ed25519 identity, which signs what it publishes
	// (nil: a fresh key at Start, a new identity each run; keep one with
	// identity.LoadOrCreate).
	Key *identity.Key
	// Sign (the default) makes the node sign what it publishes and refuse
	// gossip its origin did not sign, so that nobody can publish in
	// another node's name. Off, it sends unsigned gossip and still checks
	// signed gossip: for experiments only.
	Sign bool
	// Logger receives operational diagnostics (nil: discarded).
	Logger *slog.Logger
	// EventLog receives the product logs outputfile.log and freqtrack.log
	// (nil: none). Several nodes may share one writer.
	EventLog *eventlog.Writer
	// Transport listens and dials (nil: TCP). A *memnet.Network (package
	// node/memnet) runs whole networks in one process without sockets.
	Transport node.Transport

	// MessageBuffer is the capacity of the Messages channel. When the
	// application does not keep up and the channel is full, a newly
	// received message is not delivered to it (it is still forwarded to
	// the network) and Stats().MessagesDropped counts it.
	MessageBuffer int
	// EventBuffer is the capacity of the Events channel, with the same
	// policy, counted in Stats().EventsDropped. 0 turns events off, for an
	// application that does not watch them: the node sends none (Members
	// still reports the neighbours it lost).
	EventBuffer int

	// Target fixes the node's target degree (the neighbours it keeps);
	// 0 draws it from Degrees, so that the network's degree distribution
	// follows a power law.
	Target int
	// Degrees is the power-law model of targets drawn when Target is 0.
	Degrees topology.Model
	// MaxPeers is the hard cap on neighbours, including the extra links a
	// full node accepts from isolated ones.
	MaxPeers int
	// MaxKnown bounds the candidate peers remembered from seed replies.
	MaxKnown int
	// Broadcast is how messages spread: peer.Plumtree (eager push along a
	// tree, announcements elsewhere) or peer.Flood (every link).
	Broadcast peer.Broadcast

	// LivenessInterval is the time between two liveness requests to a
	// neighbour; LivenessMisses consecutive unanswered requests mark it
	// dead (it is reported to the seeds and replaced).
	LivenessInterval time.Duration
	LivenessMisses   int
	// RefreshInterval is how often the node re-registers with its seeds,
	// which keeps its registration from expiring.
	RefreshInterval time.Duration
	// FillInterval is how often a node below its target looks for more
	// neighbours.
	FillInterval time.Duration
	// RetryMin and RetryMax bound the backoff for unreachable seeds and
	// peers.
	RetryMin, RetryMax time.Duration
	// HandshakeTimeout closes a link whose handshake has not completed.
	HandshakeTimeout time.Duration
	// DialTimeout bounds a dial to a peer or seed, RequestTimeout a seed's
	// reply, WriteTimeout one write to a neighbour.
	DialTimeout, RequestTimeout, WriteTimeout time.Duration
	// MessageTTL is how long a message is remembered for de-duplication;
	// older messages are dropped as stale. A message must reach every
	// node within it.
	MessageTTL time.Duration
	// LazyInterval batches Plumtree announcements; GraftTimeout is how
	// long a node waits for an announced message before it asks for it.
	LazyInterval, GraftTimeout time.Duration
	// CacheSize and CacheTime bound the recent messages kept to answer
	// such requests (each up to MaxPayload bytes).
	CacheSize int
	CacheTime time.Duration
	// QueueLen bounds each link's gossip lane, in lines. A full lane is
	// backpressure, not a verdict: in Plumtree mode the message is announced
	// to that neighbour instead (a graft repairs it), in flood mode the copy
	// is dropped and counted; control lines have a lane of their own
	// (docs/load.md).
	QueueLen int

	// Generate is how many classic test messages
	// ("<timestamp>:<IP>:<PORT>:<n>") the node publishes by itself, every
	// GenerateInterval, the first GenerateDelay after Start and once it
	// has a neighbour. 0, the default: none (the whispernet peer command
	// sets 10, the classic behaviour).
	Generate         int
	GenerateInterval time.Duration
	GenerateDelay    time.Duration

	// RandSeed seeds the node's random choices; 0 picks a random seed.
	RandSeed uint64
	// Runtime, if set, adjusts the runtime configuration this Config
	// becomes, just before the node is built at Start: the way to reach
	// settings of package node that Config does not carry (hooks for
	// metrics, for instance). Hooks it sets still run; the node's own are
	// called after them.
	Runtime func(*node.PeerConfig)
}

// DefaultConfig returns the classic protocol timers and limits (liveness
// every 13 s, dead after 3 misses, Plumtree broadcast, power-law degrees),
// listening on a free loopback port and generating no messages. Seeds is
// left empty.
func DefaultConfig() Config {
	d := node.DefaultPeerConfig()
	c := d.Core
	return Config{
		Listen:           "127.0.0.1:0",
		Sign:             c.Sign,
		MessageBuffer:    256,
		EventBuffer:      256,
		Target:           c.Target,
		Degrees:          c.Degrees,
		MaxPeers:         c.MaxPeers,
		MaxKnown:         c.MaxKnown,
		Broadcast:        c.Broadcast,
		LivenessInterval: c.LivenessInterval,
		LivenessMisses:   c.LivenessMisses,
		RefreshInterval:  c.RefreshInterval,
		FillInterval:     c.FillInterval,
		RetryMin:         c.RetryMin,
		RetryMax:         c.RetryMax,
		HandshakeTimeout: c.HandshakeTimeout,
		DialTimeout:      d.DialTimeout,
		RequestTimeout:   d.RequestTimeout,
		WriteTimeout:     d.WriteTimeout,
		MessageTTL:       c.MessageTTL,
		LazyInterval:     c.LazyInterval,
		GraftTimeout:     c.GraftTimeout,
		CacheSize:        c.CacheSize,
		CacheTime:        c.CacheTime,
		QueueLen:         d.QueueLen,
		Generate:         0, // the library publishes only what the application does
		GenerateInterval: c.GossipInterval,
		GenerateDelay:    c.GossipDelay,
	}
}

// runtimeConfig is the node.PeerConfig this Config stands for, without
// the addresses (known only at Start).
func (c *Config) runtimeConfig() node.PeerConfig {
	d := node.DefaultPeerConfig()
	k := &d.Core
	k.Target, k.Degrees, k.MaxPeers, k.MaxKnown, k.Broadcast = c.Target, c.Degrees, c.MaxPeers, c.MaxKnown, c.Broadcast
	k.LivenessInterval, k.LivenessMisses = c.LivenessInterval, c.LivenessMisses
	k.RefreshInterval, k.FillInterval, k.RetryMin, k.RetryMax = c.RefreshInterval, c.FillInterval, c.RetryMin, c.RetryMax
	k.HandshakeTimeout, k.MessageTTL = c.HandshakeTimeout, c.MessageTTL
	k.LazyInterval, k.GraftTimeout, k.CacheSize, k.CacheTime = c.LazyInterval, c.GraftTimeout, c.CacheSize, c.CacheTime
	k.GossipCount, k.GossipInterval, k.GossipDelay = c.Generate, c.GenerateInterval, c.GenerateDelay
	d.DialTimeout, d.RequestTimeout, d.WriteTimeout, d.QueueLen = c.DialTimeout, c.RequestTimeout, c.WriteTimeout, c.QueueLen
	d.Log, d.Logger, d.Transport, d.RandSeed = c.EventLog, c.Logger, c.Transport, c.RandSeed
	k.Key, k.Sign = c.Key, c.Sign
	return d
}

// validate checks what the runtime cannot check before the addresses are
// known, then the rest by building a throwaway runtime with stand-in
// addresses, so that New reports every mistake Start would.
func (c *Config) validate() error {
	if c.MessageBuffer < 1 || c.EventBuffer < 0 {
		return fmt.Errorf("%w: MessageBuffer must be positive, EventBuffer not negative", ErrConfig)
	}
	if len(c.Seeds) == 0 {
		return fmt.Errorf("%w: no seeds", ErrConfig)
	}
	for _, s := range c.Seeds {
		if _, err := config.ParseHostPort(s); err != nil {
			return fmt.Errorf("%w: seed %q: %w", ErrConfig, s, err)
		}
	}
	lhost, _, err := splitHostPort(c.Listen, true)
	if err != nil {
		return fmt.Errorf("%w: Listen %q: %w", ErrConfig, c.Listen, err)
	}
	if lhost != "" {
		if _, err := netip.ParseAddr(lhost); err != nil {
			return fmt.Errorf("%w: Listen %q: the host must be an IP address", ErrConfig, c.Listen)
		}
	}
	if c.Advertise != "" {
		if _, _, err := splitHostPort(c.Advertise, true); err != nil {
			return fmt.Errorf("%w: Advertise %q: %w", ErrConfig, c.Advertise, err)
		}
	} else if a, _ := netip.ParseAddr(lhost); lhost == "" || a.IsUnspecified() {
		return fmt.Errorf("%w: Listen %q is every interface: set Advertise to the address other nodes reach", ErrConfig, c.Listen)
	}
	rc := c.runtimeConfig()
	rc.Core.Self = netip.MustParseAddrPort("127.0.0.1:1")
	rc.Core.Seeds = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:2")}
	if _, err := node.NewPeer(rc); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

// splitHostPort splits "host:port" ("[v6]:port" for IPv6); the port must
// be a number in 1-65535, or 0 when zeroOK.
func splitHostPort(s string, zeroOK bool) (string, uint16, error) {
	host, ps, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.ParseUint(ps, 10, 16)
	if err != nil || (p == 0 && !zeroOK) {
		return "", 0, fmt.Errorf("port %q is not in 1-65535", ps)
	}
	return host, uint16(p), nil
}
