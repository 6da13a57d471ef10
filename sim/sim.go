package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"time"

	"github.com/whispernet/whispernet/peer"
	"github.com/whispernet/whispernet/seed"
	"github.com/whispernet/whispernet/wire"
)

// Event kinds. Node events happen at one peer or seed and run in windows;
// global events concern the whole network and run between windows.
const (
	evJoin       evKind = iota + 1 // the peer joins
	evTick                         // the peer's timer
	evDialArrive                   // a dial from peer a reaches the peer (b: the link, -1 if refused)
	evDialDone                     // the peer's end a (link<<1|side) of a new connection opened
	evDialFail                     // the peer's dial to peer a failed (a < 0: stranger −a−1)
	evMsg                          // message b arrives at the peer's end a
	evFin                          // the other side closed the peer's end a
	evSeedReq                      // seed request a reaches the seed
	evSeedReply                    // the reply to request a reaches the peer
	evSeedFail                     // request a failed (seed partitioned or unknown)
	evRelay                        // relayed report b from seed a reaches the seed
	evSeedTick                     // the seed's timer
	evPublish                      // the origin publishes its message number a

	evProbe    // check whether the overlay has formed
	evStep     // scripted step a
	evMidCrash // the default scenario's crash
	evSettle   // check whether the run is over
)

// Peer states.
const (
	psIdle    uint8 = iota // not joined yet
	psAlive                // running
	psFrozen               // running but answering nothing
	psCrashed              // gone
)

// epoch is virtual time zero. Timestamps on the wire count from here.
var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// peerPort is the port every simulated peer listens on; each peer has its
// own IP, 10.0.0.1 upwards, so the handshake's address check holds.
const peerPort = 5000

// seedPort is the port of every seed; seed k is 192.168.0.(k+1).
const seedPort = 8080

// PeerAddr returns the address of peer i (0 is the first to join).
func PeerAddr(i int) netip.AddrPort {
	v := uint32(0x0a000000) + uint32(i) + 1
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), peerPort)
}

// SeedAddr returns the address of seed k.
func SeedAddr(k int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 168, 0, byte(k + 1)}), seedPort)
}

// PeerRandSeed returns the seed of peer i's RNG in a run seeded with run.
// The core's RNG is built from it as the TCP runtime builds it from
// node.PeerConfig.RandSeed, so a TCP peer given this seed draws the same
// capacity as the simulated one.
func PeerRandSeed(run uint64, i int) uint64 {
	return peer.DeriveSeed(run, uint64(i)+0x51ed)
}

// peerIndex returns the index of the peer at a, or -1.
func (w *world) peerIndex(a netip.AddrPort) int32 {
	if !a.Addr().Is4() || a.Port() != peerPort {
		return -1
	}
	b := a.Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	i := int64(v) - 0x0a000001
	if i < 0 || i >= int64(len(w.peers)) {
		return -1
	}
	return int32(i)
}

// simPeer is one peer and what the driver knows about it. Phase A (see
// pipeline.run) touches only the fields marked A, and only for its own node.
type simPeer struct {
	core     *peer.Peer // A
	cpuFree  int64      // B: ns when its CPU is next free (Config.CPU)
	state    uint8      // changed by joins (A) and global events only
	group    uint8      // partition group, 0 the main one; global events only
	origin   bool
	timer    int64   // A: millisecond of the scheduled tick, -1 for none
	joined   int64   // millisecond it joined, -1 before
	fail     int32   // index in world.failures, -1 if it never failed
	degree   int32   // current degree, from Degree actions
	in       []int32 // peers with an established link to this one
	pub      []int32 // message ids by sequence number − 1
	deferred []event // A: events held while frozen
}

// link is one connection between two peers. Side 0 dialed, side 1
// accepted; the end of side s is link<<1|s and its ConnID end+1, unique
// within a run. The state of each end, in world.ends, belongs to the peer
// at its side.
type link struct {
	peer [2]int32
	last [2]int64 // arrival time of the last message sent from the side
}

// End states, bits of world.ends. They are kept apart from the links: a
// received message asks only whether its end is open, and a byte per end
// stays in the CPU caches where the links would not.
const (
	endOpen uint8 = 1 << iota // the side's owner has not closed it or seen it close
	endLost                   // the side's close was lost in a partition
)

func connID(end int32) peer.ConnID { return peer.ConnID(end) + 1 }

// simSeed is one seed.
type simSeed struct {
	core  *seed.Seed
	addr  netip.AddrPort
	group uint8
	timer int64 // A
}

// seedReq is a request from a peer to a seed, and its reply.
type seedReq struct {
	peer       int32
	seed       int32
	req, reply wire.Message
}

// slabMsg is a message in flight; gid is its gossip message id when it is
// an interned gossip message (kept for the run), -1 when it is freed on
// arrival.
type slabMsg struct {
	msg wire.Message
	gid int32
}

// world is one run.
type world struct {
	cfg      Config
	ctx      context.Context
	progress func(Progress)
	q        *queue
	globals  heap // global events, by (at, seq)
	gseq     uint64
	now      int64 // current millisecond of phase B and global events
	nowT     time.Time
	// window is the lookahead: nothing at one node causes an event at
	// another sooner than this many milliseconds later.
	window    int64
	windowEnd int64 // end of the window being run (exclusive)
	buf, out  []timed
	counts    []int32
	counts2   []int32 // for sorting on two goroutines; nil with one worker
	pipe      *pipeline
	main      *worker // runs global events, and windows when running alone

	peers     []simPeer
	seeds     []simSeed
	links     []link
	ends      []uint8          // by end (link<<1|side): endOpen, endLost
	addrs     []netip.AddrPort // peer addresses, by index
	seedAddrs []netip.AddrPort
	strangers *store[netip.AddrPort] // dialed addresses that are no peer's

	slab pool[slabMsg]
	reqs pool[seedReq]

	// The CPU model (Config.CPU), phase B's: costs in ns, and the shared
	// cores' backlog (cpuRun).
	cpuOn              bool
	cpuRecv, cpuSendNs int64
	cpuCores           []int64 // one per core (only their number counts)
	cpuLines           int64   // lines charged
	cpuDemand          int64   // ns of work charged in this window
	cpuBacklog         int64   // ns of work the cores owe at the window's start
	cpuMaxBacklog      int64
	cpuLast            int64 // millisecond of the last window's end

	netRNG  *rand.Rand // delays and losses
	scenRNG *rand.Rand // the scenario's picks
	loss    float64
	nextGrp uint8
	// peersCut is set while a partition cuts some peers off (a group
	// other than 0 holds peers).
	peersCut bool

	formed    int64 // millisecond the overlay formed, -1 before
	isolated  int   // live peers with no link
	joinedN   int
	lastStep  int64 // millisecond of the last planned publication or step
	nextIndex int   // index of the next peer to join through StepJoin

	stats
	verifyErr error
}

// Progress is a snapshot of a run for a progress display.
type Progress struct {
	Phase     string        // joining, forming, gossip, settling, done
	Virtual   time.Duration // virtual time so far
	Events    uint64        // events processed so far
	Joined    int           // peers joined so far
	Peers     int           // peers planned at the start
	Published int           // gossip messages published so far
	Planned   int           // gossip messages of the plan
}

// Run simulates the network cfg describes and returns its report.
// progress, if not nil, is called now and then from Run's goroutine. Run
// stops early with ctx's error when ctx is done.
func Run(ctx context.Context, cfg Config, progress func(Progress)) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	w, err := newWorld(ctx, cfg, progress)
	if err != nil {
		return nil, err
	}
	defer w.pipe.close()
	if err := w.loop(); err != nil {
		return nil, err
	}
	return w.report(), nil
}

func newWorld(ctx context.Context, cfg Config, progress func(Progress)) (*world, error) {
	joins := 0
	for _, s := range cfg.Steps {
		if s.Kind == StepJoin {
			joins += s.Count
		}
	}
	n := cfg.Peers + joins
	w := &world{
		cfg: cfg, ctx: ctx, progress: progress, q: newQueue(),
		peers:     make([]simPeer, n),
		addrs:     make([]netip.AddrPort, n),
		strangers: newStore[netip.AddrPort](),
		slab:      newPool[slabMsg](),
		reqs:      newPool[seedReq](),
		netRNG:    rand.New(rand.NewPCG(cfg.RandSeed, 0x6e6574)),
		scenRNG:   rand.New(rand.NewPCG(cfg.RandSeed, 0x7363656e)),
		loss:      cfg.Loss,
		formed:    -1,
		nowT:      epoch,
	}
	if c := cfg.CPU; c.Cores > 0 {
		w.cpuOn = true
		w.cpuRecv, w.cpuSendNs = c.Recv.Nanoseconds(), c.Send.Nanoseconds()
		w.cpuCores = make([]int64, c.Cores)
	}
	w.main = &worker{w: w, out: &batch{}}
	for k := range cfg.Seeds {
		w.seedAddrs = append(w.seedAddrs, SeedAddr(k))
	}
	for k := range cfg.Seeds {
		sc := cfg.Seed
		sc.Self, sc.Seeds = w.seedAddrs[k], w.seedAddrs
		core, err := seed.New(sc, seed.NewRand(peer.DeriveSeed(cfg.RandSeed, uint64(k)+0x5eed)))
		if err != nil {
			return nil, fmt.Errorf("sim: seed: %w", err)
		}
		w.seeds = append(w.seeds, simSeed{core: core, addr: w.seedAddrs[k], timer: -1})
	}
	for i := range w.peers {
		w.addrs[i] = PeerAddr(i)
		w.peers[i] = simPeer{timer: -1, joined: -1, fail: -1}
	}
	// Check the peer template once, before anything runs.
	tmpl := cfg.Peer
	tmpl.Self, tmpl.Seeds = w.addrs[0], w.seedAddrs
	if _, err := peer.New(tmpl, rand.New(rand.NewPCG(1, 1))); err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	w.initStats(n)
	for i := range cfg.Peers {
		at := int64(0)
		if cfg.Peers > 1 {
			at = ms(cfg.JoinOver) * int64(i) / int64(cfg.Peers-1)
		}
		w.q.push(at, event{kind: evJoin, node: int32(i)})
	}
	w.nextIndex = cfg.Peers
	w.pushGlobal(100, event{kind: evProbe})
	w.window = max(1, min(ms(cfg.Latency), ms(cfg.DialTimeout), ms(cfg.SeedTimeout)))
	w.counts = make([]int32, n+cfg.Seeds+1)
	workers := cfg.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if workers > 1 {
		w.counts2 = make([]int32, len(w.counts))
	}
	w.pipe = newPipeline(w, workers)
	return w, nil
}

// ms converts a duration to whole milliseconds, rounding up so that a
// timer never fires early.
func ms(d time.Duration) int64 { return int64((d + time.Millisecond - 1) / time.Millisecond) }

// tickOf converts a deadline to the millisecond it falls in, rounding up.
func tickOf(t time.Time) int64 { return ms(t.Sub(epoch)) }

// push schedules an event at a node. The lookahead guarantees it falls
// after the current window; a bug that broke that would make the run
// depend on the order of nodes, so it stops the run.
func (w *world) push(at int64, ev event) {
	if at < w.windowEnd && w.verifyErr == nil {
		w.verifyErr = fmt.Errorf("sim: internal error: event %d for node %d at %d ms, inside the window ending at %d ms", ev.kind, ev.node, at, w.windowEnd)
	}
	w.q.push(at, ev)
}

// pushGlobal schedules a global event.
func (w *world) pushGlobal(at int64, ev event) {
	w.gseq++
	w.globals.push(farEvent{at: at, seq: w.gseq, ev: ev})
}

// seedNode returns the node number of seed k.
func (w *world) seedNode(k int32) int32 { return int32(len(w.peers)) + k }

func (w *world) setNow(t int64) {
	if t != w.now {
		w.now = t
		w.nowT = epoch.Add(time.Duration(t) * time.Millisecond)
	}
}

// loop runs the simulation by windows. The network's smallest delay is a
// lookahead: nothing that happens at one node in [t, t+window) can cause
// an event at another node before t+window. So a window's events can run
// node by node, each node's in time order, instead of strictly in time
// order across nodes, with the same meaning: each node sees the events it
// would have seen, at the same times. Running a node's events together
// keeps its state in the CPU caches; running different nodes on
// different cores uses them all (see pipeline.run). The order of everything
// that touches shared state is fixed, so runs stay reproducible. Global
// events (formation checks, scripted steps) run between windows.
func (w *world) loop() error {
	lastReport := time.Now()
	w.report1("joining")
	for !w.done {
		t := w.q.next()
		if len(w.globals) > 0 && (t < 0 || w.globals[0].at <= t) {
			t = w.globals[0].at
		}
		if t < 0 {
			break
		}
		// Global events of time t first, then the nodes' events.
		w.setNow(t)
		w.windowEnd = t
		for len(w.globals) > 0 && w.globals[0].at == t && !w.done {
			w.handleGlobal(w.globals.pop().ev)
		}
		if w.done {
			break
		}
		end := t + w.window
		if len(w.globals) > 0 && w.globals[0].at < end {
			end = w.globals[0].at
		}
		w.windowEnd = end
		w.buf = w.q.collect(end, w.buf[:0])
		if cap(w.out) < len(w.buf) {
			w.out = make([]timed, len(w.buf), cap(w.buf))
		}
		w.out = sortByNode(w.buf, w.out, w.counts, w.counts2)
		w.openLinks(w.out)
		w.pipe.run(w.out, end)
		if w.cpuOn {
			w.cpuWindow(end)
		}
		if w.verifyErr != nil {
			return w.verifyErr
		}
		if err := w.ctx.Err(); err != nil {
			return err
		}
		if w.progress != nil && time.Since(lastReport) > 200*time.Millisecond {
			lastReport = time.Now()
			w.report1(w.phase())
		}
	}
	w.setNow(max(w.now, w.windowEnd-1))
	w.report1("done")
	return nil
}

// openLinks creates the link of every dial that reaches a listening peer
// in the window, in node order, before the window runs: link numbers must
// not depend on which worker gets there first.
func (w *world) openLinks(evs []timed) {
	for k := range evs {
		ev := &evs[k].ev
		if ev.kind != evDialArrive {
			continue
		}
		if s := w.peers[ev.node].state; s != psAlive && s != psFrozen {
			ev.b = -1 // refused
			continue
		}
		ev.b = int32(len(w.links))
		w.links = append(w.links, link{peer: [2]int32{ev.a, ev.node}})
		w.ends = append(w.ends, endOpen, endOpen)
	}
}

func (w *world) phase() string {
	switch {
	case w.joinedN < w.cfg.Peers:
		return "joining"
	case w.formed < 0:
		return "forming"
	case w.now <= w.lastStep:
		return "gossip"
	default:
		return "settling"
	}
}

func (w *world) report1(phase string) {
	if w.progress == nil {
		return
	}
	w.progress(Progress{Phase: phase, Virtual: time.Duration(w.now) * time.Millisecond, Events: w.events,
		Joined: w.joinedN, Peers: w.cfg.Peers, Published: len(w.msgs), Planned: w.cfg.Origins * w.cfg.Messages})
}

func (w *world) handleGlobal(ev event) {
	w.events++
	switch ev.kind {
	case evProbe:
		w.probe()
	case evStep:
		w.step(w.cfg.Steps[ev.a])
	case evMidCrash:
		victims := w.pick(0, w.cfg.Crash, nil)
		if w.cfg.FreezeMidway {
			for _, i := range victims {
				w.freeze(i)
			}
		} else {
			w.crashSome(victims)
		}
	case evSettle:
		w.settle()
	}
}
