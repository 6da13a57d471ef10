package sim

import (
	"errors"
	"fmt"
	"time"

	"github.com/whispernet/whispernet/peer"
	"github.com/whispernet/whispernet/seed"
)

// Config describes a simulated network and what happens to it. Start from
// DefaultConfig; the zero value is not valid. The same Config (RandSeed
// included) always gives the same Report.
type Config struct {
	// Peers is how many peers join at the start.
	Peers int
	// Seeds is how many seeds the network has (at most 64). Every peer
	// knows all of them, as from config.txt.
	Seeds int
	// RandSeed seeds every random choice: each peer's and seed's RNG, the
	// network's delays and losses, and the scenario's picks.
	RandSeed uint64
	// JoinOver spreads the initial joins evenly over this long (0: all at
	// once).
	JoinOver time.Duration

	// Latency is the one-way delay of every message, dial and close on a
	// link; Jitter adds a uniformly random extra delay in [0, Jitter] to
	// each. A connection keeps its messages in order, as TCP does.
	Latency, Jitter time.Duration
	// Loss is the probability that one message on a peer-to-peer link is
	// lost (0..1). Dials, closes and seed traffic are never lost.
	Loss float64
	// DialTimeout is how long a dial across a partition takes to fail;
	// SeedTimeout is the same for a request to a partitioned seed.
	DialTimeout, SeedTimeout time.Duration

	// Quiet and FormationTimeout decide when the overlay has formed: every
	// peer has joined, none is isolated, all are in one component, and
	// over the last Quiet fewer links changed than a hundredth of them;
	// or FormationTimeout has passed since the start. The gossip plan and
	// Steps are timed from that moment.
	Quiet, FormationTimeout time.Duration

	// Origins and Messages are the gossip plan: Messages messages from each
	// of Origins random peers, one every Peer.GossipInterval, each origin
	// starting at a random offset within the first interval.
	Origins, Messages int
	// Crash is the fraction of live peers (never an origin) that crash at
	// once midway through the gossip plan (0: none).
	Crash float64
	// FreezeMidway makes the midway Crash freeze its peers instead: they
	// keep their connections and answer nothing, so only liveness finds
	// them (the paper's silent failures; docs/sim.md).
	FreezeMidway bool
	// Steps are further scripted events (see ParseScript).
	Steps []Step
	// Settle bounds how long the run goes on after the last publication or
	// step, waiting for every message to arrive and every failure to be
	// detected; the run stops earlier once both have happened. 0 means
	// (LivenessMisses+1)×LivenessInterval + 10 s, enough for a frozen peer
	// to be found.
	Settle time.Duration

	// Peer is the template of every peer's configuration (Self and Seeds
	// are set per peer). The simulator publishes the gossip plan itself,
	// so GossipCount is normally 0.
	Peer peer.Config
	// Seed is the template of every seed's configuration (Self and Seeds
	// are set per seed).
	Seed seed.Config

	// CPU, when CPU.Cores > 0, gives the peers finite CPU (docs/sim.md):
	// off by default, when a peer handles any number of lines in no time.
	CPU CPU

	// Workers is how many goroutines call the protocol cores (0: one per
	// CPU, GOMAXPROCS). The report does not depend on it.
	Workers int

	// verify makes the driver check its own shortcuts (see
	// worker.collect) after every event; tests turn it on.
	verify bool
	// chunk is the least number of events of a batch (0: 256); tests
	// make it small to run small networks on several workers.
	chunk int
}

// CPU is the finite-CPU model: every line a peer receives costs Recv of
// CPU time and every line it sends costs Send, on Cores cores that all the
// peers share, as the TCP runtime's peers share a machine's. A peer is one
// loop: its work runs in order, each piece on the first core free, so a
// busy machine delays every peer and a busy peer its own lines. What a
// received line makes the peer send leaves only once that work is done.
// (The core sees the line on arrival; only its consequences wait.) Zero
// Cores turns the model off.
type CPU struct {
	Recv, Send time.Duration
	Cores      int
}

// StepKind says what a Step does.
type StepKind uint8

// Step kinds.
const (
	// StepCrash crashes peers: their connections close and dials to them
	// are refused.
	StepCrash StepKind = iota + 1
	// StepFreeze freezes peers: they answer nothing and keep their
	// connections open.
	StepFreeze
	// StepThaw resumes every frozen peer.
	StepThaw
	// StepJoin adds Count new peers.
	StepJoin
	// StepPartition cuts the seeds (Seeds) or a group of peers off from
	// everyone else: messages across the cut are lost, dials and seed
	// requests across it time out.
	StepPartition
	// StepHeal removes every partition.
	StepHeal
	// StepLoss sets the message loss probability to Fraction.
	StepLoss
	// StepPublish makes peers publish one message each.
	StepPublish
	// StepWait does nothing: it keeps the run going at least until At.
	StepWait
)

var stepNames = map[StepKind]string{
	StepCrash: "crash", StepFreeze: "freeze", StepThaw: "thaw", StepJoin: "join", StepPartition: "partition",
	StepHeal: "heal", StepLoss: "loss", StepPublish: "publish", StepWait: "wait",
}

func (k StepKind) String() string {
	if s, ok := stepNames[k]; ok {
		return s
	}
	return fmt.Sprintf("step(%d)", uint8(k))
}

// Step is one scripted event. Which peers it concerns is given by Peers
// (indices in join order) if set, else by Count, else by Fraction of the
// live peers; the simulator's RNG picks them, never among the gossip
// origins when others are left.
type Step struct {
	// At is the time of the step, counted from the moment the overlay
	// formed.
	At   time.Duration
	Kind StepKind
	// Count is a number of peers.
	Count int
	// Fraction is a fraction of the live peers, or the loss rate.
	Fraction float64
	// Peers names peers by index (0 is the first to join).
	Peers []int
	// Seeds makes a partition cut the seeds off (instead of peers).
	Seeds bool
}

// DefaultConfig returns the default scenario: 1000 peers and 3 seeds with
// the classic protocol timers, links of 50 ms plus up to 10 ms of jitter,
// 10 messages from each of 100 random origins once the overlay has formed,
// and 1% of the peers crashing midway. The protocol is the peer command's
// (peer.DefaultConfig: Plumtree broadcast) but for the differences listed
// in docs/sim.md: peers keep at most 32 candidate peers (MaxKnown) instead
// of 4096, to save memory, publish only the gossip plan (GossipCount 0)
// and emit no log lines.
func DefaultConfig() Config {
	p := peer.DefaultConfig()
	p.GossipCount = 0
	p.DisableLog = true
	// Unsigned: the simulator models the overlay and its timing, and a
	// signature per message per peer would cost a million-peer run hours
	// of CPU without changing what it reports (docs/security.md).
	p.Sign = false
	// A peer remembers every candidate the seeds send (256 a reply, up to
	// 4096): some 200 bytes each, 150 kB a peer at 100,000 peers. A
	// sample of 32 forms the same overlay (docs/sim.md) in a twentieth of the
	// memory.
	p.MaxKnown = 32
	// As `whispernet net` does: when peers publish their own messages
	// (--gossip-count), the overlay forms first.
	p.GossipDelay = 10 * time.Second
	return Config{
		Peers:            1000,
		Seeds:            3,
		RandSeed:         1,
		JoinOver:         10 * time.Second,
		Latency:          50 * time.Millisecond,
		Jitter:           10 * time.Millisecond,
		DialTimeout:      3 * time.Second,
		SeedTimeout:      5 * time.Second,
		Quiet:            2 * time.Second,
		FormationTimeout: 5 * time.Minute,
		Origins:          100,
		Messages:         10,
		Crash:            0.01,
		Peer:             p,
		Seed:             simSeedConfig(),
		// Off; when turned on (--cpu-cores), the TCP runtime's measured
		// cost: about 20 µs of CPU per delivered message (docs/sim.md).
		CPU: CPU{Recv: 10 * time.Microsecond, Send: 10 * time.Microsecond},
	}
}

// ErrConfig wraps every configuration error.
var ErrConfig = errors.New("sim: invalid config")

// maxPeers is the most peers one run can address (10.0.0.1 up).
const maxPeers = 1<<24 - 2

// validate checks c and fills the defaults that depend on other fields.
func (c *Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	joins := 0
	for _, s := range c.Steps {
		if s.Kind == StepJoin {
			joins += s.Count
		}
	}
	switch {
	case c.Peers < 1:
		return bad("peers %d must be at least 1", c.Peers)
	case c.Peers+joins > maxPeers:
		return bad("%d peers in all: at most %d", c.Peers+joins, maxPeers)
	case c.Seeds < 1 || c.Seeds > 64:
		return bad("seeds %d not in 1..64", c.Seeds)
	case c.JoinOver < 0:
		return bad("join window %v is negative", c.JoinOver)
	case c.Latency < time.Millisecond:
		return bad("latency %v must be at least 1ms (the simulator's resolution)", c.Latency)
	case c.Jitter < 0:
		return bad("jitter %v is negative", c.Jitter)
	case !(c.Loss >= 0 && c.Loss < 1):
		return bad("loss %v not in [0, 1)", c.Loss)
	case c.DialTimeout < time.Millisecond || c.SeedTimeout < time.Millisecond:
		return bad("dial and seed timeouts must be at least 1ms")
	case c.Quiet < 0 || c.FormationTimeout <= 0:
		return bad("quiet %v must not be negative and formation timeout %v must be positive", c.Quiet, c.FormationTimeout)
	case c.Origins < 0 || c.Messages < 0:
		return bad("origins %d and messages %d must not be negative", c.Origins, c.Messages)
	case c.Origins > c.Peers:
		return bad("origins %d exceed peers %d", c.Origins, c.Peers)
	case !(c.Crash >= 0 && c.Crash <= 1):
		return bad("crash fraction %v not in [0, 1]", c.Crash)
	case c.Settle < 0:
		return bad("settle %v is negative", c.Settle)
	case c.Workers < 0:
		return bad("workers %d is negative", c.Workers)
	case c.CPU.Cores < 0 || c.CPU.Recv < 0 || c.CPU.Send < 0:
		return bad("cpu cores %d and costs %v, %v must not be negative", c.CPU.Cores, c.CPU.Recv, c.CPU.Send)
	}
	for i, s := range c.Steps {
		if s.At < 0 {
			return bad("step %d (%s): time %v is negative", i+1, s.Kind, s.At)
		}
		if s.Count < 0 || !(s.Fraction >= 0 && s.Fraction <= 1) {
			return bad("step %d (%s): count %d or fraction %v out of range", i+1, s.Kind, s.Count, s.Fraction)
		}
		if s.Kind == StepLoss && s.Fraction >= 1 {
			return bad("step %d: loss %v must be below 1", i+1, s.Fraction)
		}
		for _, p := range s.Peers {
			if p < 0 || p >= c.Peers+joins {
				return bad("step %d (%s): no peer %d", i+1, s.Kind, p)
			}
		}
		if s.Kind < StepCrash || s.Kind > StepWait {
			return bad("step %d: unknown kind %d", i+1, s.Kind)
		}
	}
	if c.Settle == 0 {
		c.Settle = time.Duration(c.Peer.LivenessMisses+1)*c.Peer.LivenessInterval + 10*time.Second
	}
	return nil
}

// simSeedConfig is the seeds' default but for probing: the simulated seeds
// remove a reported peer at once, as they did before seeds checked reports
// (the model whose reports docs/sim.md gives; probing a peer that crashed
// only adds the probe's timeout to every detection time).
func simSeedConfig() seed.Config {
	c := seed.DefaultConfig()
	c.Probe = false
	return c
}
