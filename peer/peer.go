package peer

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/whispernet/whispernet/topology"
	"github.com/whispernet/whispernet/wire"
)

// ConnID names a connection. Drivers allocate them; they are never reused
// within one Peer's life.
type ConnID uint64

// ActionKind says what an Action asks the driver to do.
type ActionKind uint8

// Action kinds.
const (
	// Dial: open a connection to Addr, then report Opened or DialFailed.
	Dial ActionKind = iota + 1
	// Send: write Msg on Conn.
	Send
	// Close: close Conn. The core has already forgotten it.
	Close
	// SeedRequest: send Msg to the seed at Addr and report the reply with
	// SeedReply (or SeedFailed), passing Msg back as the request.
	SeedRequest
	// Deliver: Msg was received for the first time, from the neighbour at
	// Addr (the peer's own address for messages it originated).
	Deliver
	// Log: append Text to outputfile.log.
	Log
	// Degree: the number of neighbours changed to N; append to
	// freqtrack.log.
	Degree
	// Dead: the neighbour at Addr was declared dead and reported.
	Dead
	// Link: the link to Addr came up (N = 1) or went down (N = 0).
	Link
	// Duplicate: a copy of Msg, already seen, came from the neighbour at
	// Addr (only with Config.ReportDuplicates).
	Duplicate
	// Wake: handling a message brought NextDeadline forward (a lazy-push
	// timer started). A driver that asks NextDeadline after every call
	// can ignore it; one that skips asking after a message that was only
	// forwarded must ask now.
	Wake
)

// Action is one side effect for the driver.
type Action struct {
	Conn ConnID
	Addr netip.AddrPort
	Msg  wire.Message
	Text string
	N    int
	Kind ActionKind // last, packed with Msg's small fields
}

// Stats are the peer's counters; drivers export them as metrics.
type Stats struct {
	Generated      uint64 `json:"generated"`       // messages this peer originated
	Received       uint64 `json:"received"`        // first receipts of other peers' messages
	Forwarded      uint64 `json:"forwarded"`       // copies sent to neighbours (own messages included)
	Duplicates     uint64 `json:"duplicates"`      // copies dropped as already seen
	Stale          uint64 `json:"stale"`           // messages dropped as too old to de-duplicate
	Overflow       uint64 `json:"overflow"`        // messages dropped because the origin table was full
	LivenessSent   uint64 `json:"liveness_sent"`   // liveness requests sent
	LivenessReply  uint64 `json:"liveness_reply"`  // liveness replies received
	LivenessMissed uint64 `json:"liveness_missed"` // requests that went unanswered for a full interval
	DeadReported   uint64 `json:"dead_reported"`   // neighbours declared dead and reported to seeds
	ConnsOpened    uint64 `json:"conns_opened"`    // neighbour links established
	ConnsRefused   uint64 `json:"conns_refused"`   // handshakes this peer refused
	Unexpected     uint64 `json:"unexpected"`      // lines that make no sense in their context
	DeadGivenUp    uint64 `json:"dead_given_up"`   // dead-node reports dropped after maxDeadAttempts failed sends (or a full retry list)

	// Plumtree (lazy push) counters.
	IHaveSent      uint64 `json:"ihave_sent"`      // message IDs announced to lazy links
	GraftSent      uint64 `json:"graft_sent"`      // message IDs asked for after an announcement went unanswered
	GraftServed    uint64 `json:"graft_served"`    // messages sent in answer to a graft
	PruneSent      uint64 `json:"prune_sent"`      // prunes sent after a duplicate
	MissingDropped uint64 `json:"missing_dropped"` // announcements ignored because the missing table was full
}

type connState uint8

const (
	pendingIn  connState = iota // inbound, awaiting Connection with Peer
	pendingOut                  // outbound, awaiting Connection accepted
	established
)

// conn is one connection the core knows about.
type conn struct {
	id       ConnID
	addr     netip.AddrPort // the peer's listening address (claimed, for inbound before the handshake: zero)
	remoteIP netip.Addr     // socket source IP (inbound)
	state    connState
	opened   time.Time
	probe    bool // redial of a neighbour whose connection closed

	lastAlive time.Time      // last liveness reply (or establishment)
	lastReq   wire.Timestamp // timestamp of the newest request
	unacked   int            // requests sent since the last reply
	rtt       time.Duration  // round trip of the last answered request
	capacity  int

	lazy  bool         // Plumtree: off the broadcast tree, gets announcements only
	prune bool         // a prune is queued for the next lazy flush
	child bool         // it named this peer its parent (bare graft): never pruned
	ihave []wire.MsgID // announcements queued for the next lazy flush
}

// known is a candidate peer learned from a seed.
type known struct {
	gen       int // the peer-info reply that last listed it (Peer.infoGen)
	addr      netip.AddrPort
	capacity  int
	degree    int
	failures  int
	notBefore time.Time // backoff after a failure
}

// seedState tracks one seed of the config.
type seedState struct {
	addr       netip.AddrPort
	active     bool // one of the chosen majority
	registered bool
	busy       bool // a register request is in flight
	failures   int
	notBefore  time.Time
	retries    []*deadRetry // dead-node reports to send again, oldest first
}

// deadRetry is a dead-node report a seed could not be reached for.
type deadRetry struct {
	msg       wire.Message
	attempts  int // failed sends so far
	notBefore time.Time
}

// Bounds of the dead-node report retries.
const (
	maxDeadAttempts = 5  // sends of one report before giving up
	maxDeadRetries  = 64 // reports waiting per seed; the oldest goes first
)

// Neighbour describes an established link, for status pages.
type Neighbour struct {
	Addr      netip.AddrPort
	Conn      ConnID
	Outbound  bool
	Since     time.Time
	RTT       time.Duration
	Misses    int
	LastAlive time.Time
	// Eager: gossip is pushed whole on this link (Plumtree; always in
	// flood mode); otherwise it is announced. Parent and Child: it is this
	// peer's parent link in the broadcast tree, or a child's.
	Eager, Parent, Child bool
}

// Peer is the peer state machine. It is not safe for concurrent use.
type Peer struct {
	// What every received message reads comes first, together: a flooded
	// duplicate costs the CPU caches these few lines of the peer and one
	// message-list slot, nothing else. (It decides how fast the simulator
	// runs 100,000 peers: docs/sim.md.)
	stopped bool
	dupWork bool      // a duplicate needs more than counting: ReportDuplicates, or Plumtree's pruning
	box     *[]Action // where emit appends: &out, or the driver's (Outbox)
	nbrIDs  []ConnID  // the neighbours' connection IDs, in the order of neighbours
	nbrBuf  [8]ConnID // nbrIDs' first backing array, in the same lines
	ml      msgList
	stats   Stats
	// And what a first receipt reads as well, in flood mode.
	nbrAddrs []netip.AddrPort // the neighbours' addresses, in the order of neighbours
	addrBuf  [8]netip.AddrPort

	cfg    Config
	rng    *rand.Rand
	target int

	started time.Time
	out     []Action

	conns      map[ConnID]*conn
	neighbours []*conn                  // established, in order of establishment
	linked     map[netip.AddrPort]*conn // established, by address
	awaiting   map[netip.AddrPort]*conn // outbound, awaiting Connection accepted
	dialing    map[netip.AddrPort]bool
	probing    map[netip.AddrPort]bool // dialing to check a closed neighbour
	outbound   map[ConnID]bool         // we dialed this connection

	knownIdx addrIndex // known's positions
	known    []*known
	dead     map[netip.AddrPort]time.Time // declared dead: not dialed again before the time

	seeds       []*seedState
	quorum      int
	nextRefresh time.Time

	seq         uint32
	generated   int
	nextGossip  time.Time
	nextLive    time.Time
	nextFill    time.Time
	nextInfo    time.Time
	infoEvery   time.Duration           // backoff between peer-info requests while short of target
	infoGen     int                     // peer-info replies received; known.gen refers to it
	announced   time.Time               // last degree announcement to the seeds
	dirty       bool                    // degree changed since the last announcement
	isolated    map[netip.AddrPort]bool // dials made with no candidate free: ask to be taken in anyway
	firstMisses int                     // first-link dials refused or failed since the peer was last linked
	lastDegree  int

	// Lazy push (plumtree.go).
	cache       []cached // recent messages, oldest first from cacheHead, for grafts
	cacheHead   int
	missing     map[wire.MsgID]missing
	nextGraft   time.Time // earliest missing deadline (zero: none)
	lazyPending bool      // some link has announcements queued
	nextLazy    time.Time
	parent      *conn // the first link (or the one that brought a message since it went): never pruned
}

// New returns a Peer for cfg; rng drives every random choice.
func New(cfg Config, rng *rand.Rand) (*Peer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p := &Peer{
		cfg:      cfg,
		rng:      rng,
		conns:    make(map[ConnID]*conn),
		linked:   make(map[netip.AddrPort]*conn),
		awaiting: make(map[netip.AddrPort]*conn),
		dialing:  make(map[netip.AddrPort]bool),
		probing:  make(map[netip.AddrPort]bool),
		outbound: make(map[ConnID]bool),
		dead:     make(map[netip.AddrPort]time.Time),
		isolated: make(map[netip.AddrPort]bool),
		ml:       newMsgList(cfg.MessageTTL, cfg.MaxOrigins),
		dupWork:  cfg.ReportDuplicates || cfg.Broadcast == Plumtree,
		quorum:   len(cfg.Seeds)/2 + 1,
	}
	p.box = &p.out
	p.nbrIDs, p.nbrAddrs = p.nbrBuf[:0], p.addrBuf[:0]
	p.target = cfg.Target
	if p.target == 0 {
		p.target = min(cfg.Degrees.Sample(rng), cfg.MaxPeers)
	}
	for _, s := range cfg.Seeds {
		p.seeds = append(p.seeds, &seedState{addr: s})
	}
	return p, nil
}

// Self returns the peer's address.
func (p *Peer) Self() netip.AddrPort { return p.cfg.Self }

// Target returns the peer's target degree (its capacity).
func (p *Peer) Target() int { return p.target }

// Degree returns the number of established neighbours.
func (p *Peer) Degree() int { return len(p.neighbours) }

// Stats returns the counters so far.
func (p *Peer) Stats() Stats { return p.stats }

// MessageListLen returns the number of origins in the message list.
func (p *Peer) MessageListLen() int { return p.ml.len() }

// Neighbours returns the established links in order of establishment.
func (p *Peer) Neighbours() []Neighbour {
	out := make([]Neighbour, len(p.neighbours))
	for i, c := range p.neighbours {
		out[i] = Neighbour{Addr: c.addr, Conn: c.id, Outbound: p.outbound[c.id], Since: c.opened, RTT: c.rtt, Misses: c.unacked, LastAlive: c.lastAlive,
			Eager: p.cfg.Broadcast == Flood || !c.lazy, Parent: c == p.parent, Child: c.child}
	}
	return out
}

// RegisteredSeeds returns the seeds the peer is registered with.
func (p *Peer) RegisteredSeeds() []netip.AddrPort {
	var out []netip.AddrPort
	for _, s := range p.seeds {
		if s.registered {
			out = append(out, s.addr)
		}
	}
	return out
}

// Ready returns the actions produced since the last call and clears them.
// The slice is valid until the next call into the Peer.
func (p *Peer) Ready() []Action {
	out := p.out
	p.out = p.out[:0]
	return out
}

// Outbox makes the peer append its actions to *box, where the caller
// takes them, instead of keeping them for Ready; Outbox(nil) goes back to
// Ready. A driver that runs many peers on one goroutine points them all
// at one buffer: the actions of peer after peer land in memory already in
// the CPU caches, and need no copy (the simulator does this).
func (p *Peer) Outbox(box *[]Action) {
	if box == nil {
		box = &p.out
	}
	p.box = box
}

func (p *Peer) emit(a Action) { *p.box = append(*p.box, a) }

func (p *Peer) logf(format string, args ...any) {
	if p.cfg.DisableLog {
		return
	}
	p.emit(Action{Kind: Log, Text: fmt.Sprintf(format, args...)})
}

func (p *Peer) send(c *conn, m wire.Message) { p.emit(Action{Kind: Send, Conn: c.id, Msg: m}) }

// Start begins the peer's life: it picks a random majority of the seeds and
// registers with each.
func (p *Peer) Start(now time.Time) {
	p.started = now
	p.nextGossip = now.Add(p.cfg.GossipDelay)
	p.nextLive = now.Add(p.cfg.LivenessInterval)
	p.nextRefresh = now.Add(p.cfg.RefreshInterval)
	p.nextFill = now.Add(p.cfg.FillInterval)
	p.rng.Shuffle(len(p.seeds), func(i, j int) { p.seeds[i], p.seeds[j] = p.seeds[j], p.seeds[i] })
	for i := 0; i < p.quorum; i++ {
		p.seeds[i].active = true
	}
	p.logf("starting: target degree %d, registering with %d of %d seeds", p.target, p.quorum, len(p.seeds))
	p.contactSeeds(now)
}

// Stop closes every connection; the peer does nothing afterwards.
func (p *Peer) Stop(now time.Time) {
	for _, id := range p.connIDs() {
		p.emit(Action{Kind: Close, Conn: id})
	}
	clear(p.conns)
	p.neighbours, p.nbrIDs, p.nbrAddrs = nil, nil, nil
	p.stopped = true
	p.logf("stopped")
}

// handshaking reports whether some connection is still in its handshake:
// every other is a neighbour's.
func (p *Peer) handshaking() bool { return len(p.conns) > len(p.neighbours) }

// pendingIDs returns the IDs of the connections still in their
// handshake, in ascending order; nil, without a look at the map, when
// there are none.
func (p *Peer) pendingIDs() []ConnID {
	if !p.handshaking() {
		return nil
	}
	var ids []ConnID
	for _, id := range p.connIDs() {
		if p.conns[id].state != established {
			ids = append(ids, id)
		}
	}
	return ids
}

// connIDs returns every connection ID in ascending order (deterministic).
func (p *Peer) connIDs() []ConnID {
	ids := make([]ConnID, 0, len(p.conns))
	for id := range p.conns {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// registerMsg is the register request, announcing capacity and degree.
func (p *Peer) registerMsg() wire.Message {
	return wire.Message{Kind: wire.KindRegister, Addr: p.cfg.Self, Cap: p.target, Degree: len(p.neighbours)}
}

// contactSeeds sends register to every active seed that is not registered,
// busy or backing off.
func (p *Peer) contactSeeds(now time.Time) {
	for _, s := range p.seeds {
		if s.active && !s.registered && !s.busy && !now.Before(s.notBefore) {
			s.busy = true
			p.emit(Action{Kind: SeedRequest, Addr: s.addr, Msg: p.registerMsg()})
		}
	}
}

func (p *Peer) seed(a netip.AddrPort) *seedState {
	for _, s := range p.seeds {
		if s.addr == a {
			return s
		}
	}
	return nil
}

func (p *Peer) backoff(failures int) time.Duration {
	d := p.cfg.RetryMin << min(failures, 20)
	if d > p.cfg.RetryMax || d <= 0 {
		d = p.cfg.RetryMax
	}
	// Jitter in [d/2, d) keeps many peers from retrying in lockstep.
	return d/2 + time.Duration(p.rng.Int64N(int64(d/2)+1))
}

// SeedReply reports the reply to a request the core sent to seed.
func (p *Peer) SeedReply(now time.Time, seed netip.AddrPort, req, reply wire.Message) {
	s := p.seed(seed)
	if s == nil || p.stopped {
		return
	}
	switch req.Kind {
	case wire.KindRegister:
		s.busy = false
		if reply.Kind != wire.KindRegistered {
			p.logf("seed %s refused registration: %s", seed, reply.Text)
			p.seedFailed(now, s)
			return
		}
		s.failures = 0
		if !s.registered {
			s.registered = true
			p.logf("registered with seed %s", seed)
			p.emit(Action{Kind: SeedRequest, Addr: seed, Msg: wire.Message{Kind: wire.KindPeerInfoRequest}})
		}
	case wire.KindPeerInfoRequest, wire.KindPeerListRequest:
		if reply.Kind != wire.KindPeerInfo && reply.Kind != wire.KindPeerList {
			p.logf("seed %s sent %q for a peer list", seed, reply.Kind)
			return
		}
		p.infoGen++
		for _, e := range reply.Peers {
			p.learn(e)
		}
		p.fill(now)
	case wire.KindDeadNode:
		p.settleDead(s, req.Addr) // answered, whatever the answer
		if reply.Kind == wire.KindError {
			p.logf("seed %s refused dead-node report of %s: %s", seed, req.Addr, reply.Text)
		}
	}
}

// SeedFailed reports that a request to seed could not be completed (the
// seed is unreachable or the connection broke).
func (p *Peer) SeedFailed(now time.Time, seed netip.AddrPort, req wire.Message) {
	s := p.seed(seed)
	if s == nil || p.stopped {
		return
	}
	switch req.Kind {
	case wire.KindRegister:
		s.busy = false
		p.logf("seed %s unreachable", seed)
		p.seedFailed(now, s)
	case wire.KindDeadNode:
		p.retryDead(now, s, req)
	}
}

// retryDead schedules a failed dead-node report to be sent again, with
// the seeds' backoff, up to maxDeadAttempts sends. (Without it, a seed
// that was unreachable at the moment would list the dead peer until its
// registration expired.)
func (p *Peer) retryDead(now time.Time, s *seedState, req wire.Message) {
	var r *deadRetry
	for _, x := range s.retries {
		if x.msg.Addr == req.Addr {
			r = x
			break
		}
	}
	if r == nil {
		if len(s.retries) == maxDeadRetries {
			p.stats.DeadGivenUp++
			s.retries = slices.Delete(s.retries, 0, 1)
		}
		r = &deadRetry{msg: req}
		s.retries = append(s.retries, r)
	}
	r.attempts++
	if r.attempts >= maxDeadAttempts {
		p.stats.DeadGivenUp++
		s.retries = slices.DeleteFunc(s.retries, func(x *deadRetry) bool { return x == r })
		p.logf("could not report dead node %s to seed %s after %d tries; giving up", req.Addr, s.addr, r.attempts)
		return
	}
	r.notBefore = now.Add(p.backoff(r.attempts))
	p.logf("could not report dead node %s to seed %s; trying again in %v", req.Addr, s.addr, r.notBefore.Sub(now).Round(time.Millisecond))
}

// resendDead sends the dead-node reports whose backoff has passed.
func (p *Peer) resendDead(now time.Time) {
	for _, s := range p.seeds {
		for _, r := range s.retries {
			if !r.notBefore.IsZero() && !now.Before(r.notBefore) {
				r.notBefore = time.Time{} // in flight: SeedFailed or SeedReply settles it
				p.emit(Action{Kind: SeedRequest, Addr: s.addr, Msg: r.msg})
			}
		}
	}
}

// settleDead forgets the retry of a report the seed answered, or of a
// peer that turned out alive.
func (p *Peer) settleDead(s *seedState, dead netip.AddrPort) {
	s.retries = slices.DeleteFunc(s.retries, func(x *deadRetry) bool { return x.msg.Addr == dead })
}

// seedFailed drops s from the registered set and, while other seeds are
// untried, moves the majority to one of them; otherwise retries s later.
func (p *Peer) seedFailed(now time.Time, s *seedState) {
	s.registered = false
	s.failures++
	s.notBefore = now.Add(p.backoff(s.failures))
	for _, o := range p.seeds {
		if !o.active && o.failures == 0 {
			s.active = false
			o.active = true
			break
		}
	}
	p.contactSeeds(now)
}

// learn adds or updates a candidate from a seed reply.
func (p *Peer) learn(e wire.PeerInfo) {
	if e.Addr == p.cfg.Self || !e.Addr.IsValid() {
		return
	}
	if i, ok := p.knownIdx.get(e.Addr); ok {
		k := p.known[i]
		k.capacity, k.degree, k.gen = e.Cap, e.Degree, p.infoGen
		return
	}
	fresh := known{addr: e.Addr, capacity: e.Cap, degree: e.Degree, gen: p.infoGen}
	if len(p.known) < p.cfg.MaxKnown {
		k := new(known)
		*k = fresh
		p.knownIdx.set(e.Addr, len(p.known))
		p.known = append(p.known, k)
		return
	}
	// Full: replace a random candidate, in place (a reply lists 256, and
	// most of them replace others: no allocation each).
	i := p.rng.IntN(len(p.known))
	k := p.known[i]
	p.knownIdx.del(k.addr)
	*k = fresh
	p.knownIdx.set(e.Addr, i)
}

func (p *Peer) forget(a netip.AddrPort) {
	i, ok := p.knownIdx.get(a)
	if !ok {
		return
	}
	last := len(p.known) - 1
	p.known[i] = p.known[last]
	p.knownIdx.set(p.known[i].addr, i)
	p.known = p.known[:last]
	p.knownIdx.del(a)
}

func (p *Peer) neighbour(a netip.AddrPort) *conn { return p.linked[a] }

// pendingOut counts outbound connections not yet established, probes of
// closed neighbours included.
func (p *Peer) pendingOut() int {
	return len(p.dialing) + len(p.probing) + len(p.awaiting)
}

// busyWith reports whether a link to a exists or is being made.
func (p *Peer) busyWith(a netip.AddrPort) bool {
	return p.dialing[a] || p.probing[a] || p.linked[a] != nil || p.awaiting[a] != nil
}

// fill dials candidates until established plus pending links reach the
// target, choosing each with probability proportional to its free slots.
func (p *Peer) fill(now time.Time) {
	if p.stopped {
		return
	}
	need := p.target - len(p.neighbours) - p.pendingOut()
	if need <= 0 {
		return
	}
	if len(p.neighbours) == 0 {
		// Unlinked: make one link, into the existing overlay, before any
		// other. Linking newcomers only to each other (every older peer
		// being full) would grow a separate island.
		if p.pendingOut() == 0 {
			p.dialFirstLink(now)
		}
		return
	}
	// Prefer what the latest seed reply said: free slots fill up fast, and
	// older entries mostly earn refusals. Fall back to every candidate.
	weights := make([]int, len(p.known))
	fresh := 0
	for i, k := range p.known {
		if p.usable(now, k) && k.gen == p.infoGen {
			weights[i] = topology.Free(k.capacity, k.degree)
			fresh += weights[i]
		}
	}
	if fresh < need {
		for i, k := range p.known {
			if p.usable(now, k) {
				weights[i] = topology.Free(k.capacity, k.degree)
			}
		}
	}
	for _, i := range topology.Pick(p.rng, weights, need) {
		p.dial(p.known[i].addr, false)
	}
}

// maxInfoEvery bounds, in fill intervals, the backoff between peer-info
// requests of a peer short of its target: in the endgame of a large
// overlay the last free slots move quickly, and a stale candidate list
// only produces refusals.
const maxInfoEvery = 4

// firstLinkTries is how many first-link dials to peers that looked free
// may fail before an unlinked peer asks a full one to take it in.
const firstLinkTries = 2

// firstLinkMissed counts a failed first-link dial and tries the next
// candidate at once: an unlinked peer makes one dial at a time, so this
// cannot turn into a storm, and it bounds the time to the first link by a
// few round trips instead of fill intervals.
func (p *Peer) firstLinkMissed(now time.Time) {
	if len(p.neighbours) == 0 {
		p.firstMisses++
		p.fill(now)
	}
}

// usable reports whether a candidate may be dialled now.
func (p *Peer) usable(now time.Time, k *known) bool {
	if now.Before(k.notBefore) || p.busyWith(k.addr) {
		return false
	}
	until, dead := p.dead[k.addr]
	return !dead || !now.Before(until)
}

func (p *Peer) dial(a netip.AddrPort, isolated bool) {
	p.dialing[a] = true
	if isolated {
		p.isolated[a] = true
	}
	p.emit(Action{Kind: Dial, Addr: a})
}

// dialFirstLink picks the first neighbour of an unlinked peer: a peer
// already linked (degree ≥ 1 as the seeds know it) with a free slot,
// chosen ∝ free slots; failing that, a linked but full peer, asked to take
// us beyond its target (the handshake's isolated flag); failing that (the
// overlay is only just forming), any peer with a free slot (every
// unlinked candidate has one: an unknown capacity counts as one slot).
func (p *Peer) dialFirstLink(now time.Time) {
	linkedFree := make([]int, len(p.known))
	linked := make([]int, len(p.known))
	free := make([]int, len(p.known))
	for i, k := range p.known {
		if !p.usable(now, k) {
			continue
		}
		f := topology.Free(k.capacity, k.degree)
		free[i] = f
		if k.degree > 0 {
			linked[i], linkedFree[i] = 1, f
		}
	}
	if p.firstMisses >= firstLinkTries {
		// The seeds' view of free slots is stale (every "free" peer we
		// tried was full): ask a linked peer to take us in.
		linkedFree = nil
	}
	for _, c := range []struct {
		weights  []int
		isolated bool
	}{{linkedFree, false}, {linked, true}, {free, false}} {
		if pick := topology.Pick(p.rng, c.weights, 1); len(pick) == 1 {
			p.dial(p.known[pick[0]].addr, c.isolated)
			return
		}
	}
}

// Opened reports a new connection: an outbound one the core asked for
// with Dial (addr is the dialed address), or an inbound one (addr is the
// socket's remote address, whose port is not the peer's listening port).
func (p *Peer) Opened(now time.Time, id ConnID, addr netip.AddrPort, outbound bool) {
	if p.stopped {
		p.emit(Action{Kind: Close, Conn: id})
		return
	}
	if !outbound {
		p.conns[id] = &conn{id: id, remoteIP: addr.Addr(), state: pendingIn, opened: now}
		return
	}
	probe := p.probing[addr]
	delete(p.probing, addr)
	if !p.dialing[addr] && !probe {
		// We gave this dial up (the other side's connection won).
		p.emit(Action{Kind: Close, Conn: id})
		return
	}
	delete(p.dialing, addr)
	if p.neighbour(addr) != nil || !probe && len(p.neighbours) >= p.target {
		// Linked meanwhile, or filled up by inbound links while dialling.
		delete(p.isolated, addr)
		p.emit(Action{Kind: Close, Conn: id})
		return
	}
	c := &conn{id: id, addr: addr, remoteIP: addr.Addr(), state: pendingOut, opened: now, probe: probe}
	p.conns[id] = c
	p.awaiting[addr] = c
	p.outbound[id] = true
	isolated := p.isolated[addr] && len(p.neighbours) == 0
	delete(p.isolated, addr)
	p.send(c, wire.Message{Kind: wire.KindConnect, Addr: p.cfg.Self, Cap: p.target, Degree: len(p.neighbours), Isolated: isolated})
}

// DialFailed reports that a Dial to addr could not connect.
func (p *Peer) DialFailed(now time.Time, addr netip.AddrPort) {
	if p.probing[addr] {
		delete(p.probing, addr)
		p.declareDead(now, addr, "its connection closed and it refuses new ones")
		p.fill(now)
		return
	}
	if !p.dialing[addr] {
		return
	}
	delete(p.dialing, addr)
	delete(p.isolated, addr)
	p.penalise(now, addr)
	p.firstLinkMissed(now)
	// Otherwise the next fill comes with the fill timer: refilling at once after
	// every failure would turn a crowd of full peers into a dial storm.
}

// penalise backs off from a candidate that failed us.
func (p *Peer) penalise(now time.Time, a netip.AddrPort) {
	if i, ok := p.knownIdx.get(a); ok {
		k := p.known[i]
		k.failures++
		k.notBefore = now.Add(p.backoff(k.failures))
	}
}

// Closed reports that the connection id closed (the remote end hung up or
// the driver gave up on it).
func (p *Peer) Closed(now time.Time, id ConnID) {
	c, ok := p.conns[id]
	if !ok {
		return
	}
	p.drop(c)
	if c.probe && !p.stopped {
		// The redial of a closed neighbour closed before its handshake
		// completed: the probe failed. (establish clears probe, so this
		// is a pending connection.)
		p.declareDead(now, c.addr, "its connection closed again")
		p.fill(now)
		return
	}
	if c.state != established || p.stopped {
		if c.state == pendingOut {
			p.penalise(now, c.addr)
			p.firstLinkMissed(now)
		}
		return
	}
	// A crashed peer's sockets close at once: check by redialling. A
	// refused dial declares it dead; a peer that answers stays alive.
	p.logf("connection to %s closed; checking whether it is alive", c.addr)
	p.probing[c.addr] = true
	p.emit(Action{Kind: Dial, Addr: c.addr})
}

// drop forgets a connection and, if it was a neighbour, the link.
func (p *Peer) drop(c *conn) {
	delete(p.conns, c.id)
	delete(p.outbound, c.id)
	if c.state == pendingOut && p.awaiting[c.addr] == c {
		delete(p.awaiting, c.addr)
	}
	if c.state != established {
		return
	}
	delete(p.linked, c.addr)
	if p.parent == c {
		p.parent = nil
		defer p.chooseParent() // once the link is gone
	}
	if i := slices.Index(p.neighbours, c); i >= 0 {
		p.neighbours = slices.Delete(p.neighbours, i, i+1)
		p.nbrIDs = slices.Delete(p.nbrIDs, i, i+1)
		p.nbrAddrs = slices.Delete(p.nbrAddrs, i, i+1)
	}
	p.emit(Action{Kind: Link, Addr: c.addr, N: 0})
	p.degreeChanged()
}

func (p *Peer) degreeChanged() {
	d := len(p.neighbours)
	if d == p.lastDegree {
		return
	}
	p.lastDegree = d
	p.emit(Action{Kind: Degree, N: d})
	p.dirty = true
	p.infoEvery = 0
}

func (p *Peer) establish(now time.Time, c *conn) {
	p.firstMisses = 0
	if c.state == pendingOut && p.awaiting[c.addr] == c {
		delete(p.awaiting, c.addr)
	}
	p.linked[c.addr] = c
	c.state = established
	c.lastAlive = now
	p.neighbours = append(p.neighbours, c)
	p.nbrIDs = append(p.nbrIDs, c.id)
	p.nbrAddrs = append(p.nbrAddrs, c.addr)
	p.stats.ConnsOpened++
	if c.probe {
		p.logf("%s is alive again; link restored", c.addr)
		c.probe = false
	} else {
		dir := "inbound"
		if p.outbound[c.id] {
			dir = "outbound"
		}
		p.logf("connected to %s (%s, degree %d/%d)", c.addr, dir, len(p.neighbours), p.target)
	}
	if i, ok := p.knownIdx.get(c.addr); ok {
		p.known[i].failures = 0
		if c.capacity == 0 {
			c.capacity = p.known[i].capacity // outbound: as the seeds said
		}
	} else {
		p.learn(wire.PeerInfo{Addr: c.addr, Cap: c.capacity})
	}
	delete(p.dead, c.addr)
	for _, s := range p.seeds {
		p.settleDead(s, c.addr) // alive after all
	}
	p.linkedUp(c)
	p.emit(Action{Kind: Link, Addr: c.addr, N: 1})
	p.degreeChanged()
	if len(p.neighbours) == 1 {
		p.fill(now) // the first link is in: dial the rest now
	}
}

func (p *Peer) refuse(c *conn, reason string) {
	p.stats.ConnsRefused++
	p.send(c, wire.Message{Kind: wire.KindConnectRefused, Text: reason})
	p.emit(Action{Kind: Close, Conn: c.id})
	delete(p.conns, c.id)
}

// Receive handles one message that arrived on connection id.
func (p *Peer) Receive(now time.Time, id ConnID, m wire.Message) {
	if p.stopped {
		return
	}
	// Almost every message comes from a neighbour: find it in the compact
	// ID list, without a map lookup or a look at the connection (for a
	// flooded duplicate, the only state it needs).
	for i, nid := range p.nbrIDs {
		if nid == id {
			// Gossip by the index: a flooded duplicate, the commonest
			// message of all, never reads the neighbour's connection.
			if m.Kind == wire.KindGossip {
				p.onGossip(now, i, m)
			} else {
				p.onNeighbourMessage(now, p.neighbours[i], m)
			}
			return
		}
	}
	// Otherwise a connection in its handshake (an established one is a
	// neighbour's, found above).
	c, ok := p.conns[id]
	if !ok {
		return
	}
	switch c.state {
	case pendingIn:
		if m.Kind != wire.KindConnect {
			p.stats.Unexpected++
			p.send(c, wire.Message{Kind: wire.KindError, Text: "handshake first: Connection with Peer:IP:PORT"})
			p.emit(Action{Kind: Close, Conn: c.id})
			delete(p.conns, c.id)
			return
		}
		p.handshake(now, c, m)
	case pendingOut:
		switch m.Kind {
		case wire.KindConnectAccepted:
			if m.Addr != c.addr {
				p.logf("%s answered as %s; closing", c.addr, m.Addr)
				p.emit(Action{Kind: Close, Conn: c.id})
				p.drop(c)
				p.penalise(now, c.addr)
				p.firstLinkMissed(now)
				return
			}
			if !c.probe && len(p.neighbours) >= p.target {
				// Inbound links filled us up while this handshake was in
				// flight: keep to the target. The other end sees the close.
				p.emit(Action{Kind: Close, Conn: c.id})
				p.drop(c)
				return
			}
			if c.probe && len(p.neighbours) >= p.cfg.MaxPeers {
				// The probed neighbour is alive, but its slot was taken
				// meanwhile and MaxPeers is a hard cap.
				p.logf("%s is alive, but this peer is full now; not restoring the link", c.addr)
				p.emit(Action{Kind: Close, Conn: c.id})
				p.drop(c)
				return
			}
			if m.Cap > 0 {
				c.capacity = m.Cap
			}
			p.establish(now, c)
		case wire.KindConnectRefused:
			p.emit(Action{Kind: Close, Conn: c.id})
			p.drop(c)
			if c.probe {
				// It answered, so it is alive; it just will not take us back.
				p.logf("%s is alive but refused the link again (%s)", c.addr, m.Text)
			} else if m.Text == RefuseFull {
				if i, ok := p.knownIdx.get(c.addr); ok {
					k := p.known[i]
					// Full, whatever the seed said (and linked: a full
					// peer has neighbours, even if its capacity is unknown).
					k.capacity = max(k.capacity, 1)
					k.degree = max(k.degree, k.capacity)
				}
			}
			p.penalise(now, c.addr) // the fill timer tries another
			if !c.probe {
				p.firstLinkMissed(now)
			}
		default:
			p.stats.Unexpected++
		}
	}
}

// Refusal reasons sent in Connection refused.
const (
	RefuseFull      = "full"
	RefuseDuplicate = "duplicate"
	RefuseSelf      = "self"
	RefuseMismatch  = "address mismatch"
)

func (p *Peer) handshake(now time.Time, c *conn, m wire.Message) {
	a := m.Addr
	switch {
	case a == p.cfg.Self:
		p.refuse(c, RefuseSelf)
		return
	case a.Addr().Unmap() != c.remoteIP.Unmap():
		p.refuse(c, RefuseMismatch)
		return
	case p.neighbour(a) != nil:
		p.refuse(c, RefuseDuplicate)
		return
	}
	// Both sides dialled at once: the connection from the lower address
	// wins, on both ends.
	ours := p.awaiting[a]
	if ours != nil || p.dialing[a] || p.probing[a] {
		if lessAddr(p.cfg.Self, a) {
			p.refuse(c, RefuseDuplicate)
			return
		}
		if ours != nil {
			p.emit(Action{Kind: Close, Conn: ours.id})
			p.drop(ours)
		}
		delete(p.dialing, a) // Opened will close it if it still connects
		delete(p.probing, a)
	}
	// Only established links count: our own dials may well fail (their
	// targets are often full), and refusing inbound links meanwhile would
	// leave two short peers refusing each other.
	if len(p.neighbours) >= p.target {
		if !m.Isolated || len(p.neighbours) >= p.cfg.MaxPeers {
			p.refuse(c, RefuseFull)
			return
		}
		// An isolated peer: take it beyond the target to keep the
		// overlay connected.
	}
	c.addr = a
	c.capacity = m.Cap
	p.send(c, wire.Message{Kind: wire.KindConnectAccepted, Addr: p.cfg.Self, Cap: p.target, Degree: len(p.neighbours)})
	if i, ok := p.knownIdx.get(a); ok {
		p.known[i].capacity = m.Cap
	}
	p.establish(now, c)
}

// lessAddr orders addresses by IP, then port.
func lessAddr(a, b netip.AddrPort) bool { return a.Compare(b) < 0 }

// onNeighbourMessage handles a message other than gossip from neighbour c.
func (p *Peer) onNeighbourMessage(now time.Time, c *conn, m wire.Message) {
	switch m.Kind {
	case wire.KindLivenessRequest:
		p.send(c, wire.Message{Kind: wire.KindLivenessReply, Time: m.Time, Addr: m.Addr, From: p.cfg.Self})
	case wire.KindLivenessReply:
		p.stats.LivenessReply++
		c.lastAlive = now
		if m.Time == c.lastReq {
			c.rtt = now.Sub(m.Time.Time())
		}
		c.unacked = 0
	case wire.KindIHave:
		p.onIHave(now, c, m.IDs)
	case wire.KindGraft:
		p.onGraft(now, c, m.IDs)
	case wire.KindPrune:
		p.onPrune(c)
	default:
		p.stats.Unexpected++
	}
}

// onGossip handles gossip from neighbour i.
func (p *Peer) onGossip(now time.Time, i int, m wire.Message) {
	switch p.ml.check(now, m.Time, m.Addr, m.Seq) {
	case duplicate:
		p.stats.Duplicates++
		if p.dupWork {
			if p.cfg.ReportDuplicates {
				p.emit(Action{Kind: Duplicate, Addr: p.neighbours[i].addr, Msg: m})
			}
			p.onDuplicate(now, p.neighbours[i])
		}
		return
	case stale:
		p.stats.Stale++
		return
	case overflow:
		p.stats.Overflow++
		return
	}
	if m.Addr == p.cfg.Self {
		// Our own message came back after we forgot it: never deliver it.
		p.stats.Duplicates++
		return
	}
	p.stats.Received++
	p.emit(Action{Kind: Deliver, Addr: p.nbrAddrs[i], Msg: m})
	if !p.cfg.DisableLog { // the arguments would be boxed even if unused
		p.logf("received %s from %s", m.Text, p.nbrAddrs[i])
	}
	p.received(wire.MsgID{Origin: m.Addr, Seq: m.Seq})
	if p.cfg.Broadcast == Plumtree {
		from := p.neighbours[i]
		from.lazy = false // it pushed a new message to us: part of the tree
		p.adopt(from)
	}
	m.Hops++
	p.push(now, m, i)
}

// Publish originates a gossip message with the given text and returns it.
func (p *Peer) Publish(now time.Time, text string) wire.Message {
	p.seq++
	m := wire.Message{Kind: wire.KindGossip, Addr: p.cfg.Self, Seq: p.seq, Time: wire.TimestampOf(now), Text: text}
	p.ml.check(now, wire.TimestampOf(now), p.cfg.Self, p.seq)
	p.stats.Generated++
	p.emit(Action{Kind: Deliver, Addr: p.cfg.Self, Msg: m})
	p.logf("generated %s", text)
	p.push(now, m, -1)
	return m
}

// declareDead removes a neighbour (if still linked), reports it to every
// seed the peer is registered with, and keeps it off the candidate list.
func (p *Peer) declareDead(now time.Time, a netip.AddrPort, why string) {
	if c := p.neighbour(a); c != nil {
		p.emit(Action{Kind: Close, Conn: c.id})
		p.drop(c)
	}
	p.stats.DeadReported++
	p.forget(a)
	p.dead[a] = now.Add(p.cfg.RefreshInterval)
	ts := wire.TimestampOf(now)
	p.logf("neighbour %s is dead (%s); reporting Dead Node:%s:%s:%s", a, why, wireAddr(a), ts, wireAddr(p.cfg.Self))
	p.emit(Action{Kind: Dead, Addr: a})
	for _, s := range p.seeds {
		if s.registered {
			p.emit(Action{Kind: SeedRequest, Addr: s.addr, Msg: wire.Message{Kind: wire.KindDeadNode, Addr: a, Time: ts, From: p.cfg.Self}})
		}
	}
}

func wireAddr(a netip.AddrPort) string {
	return wire.FormatIP(a.Addr()) + ":" + fmt.Sprint(a.Port())
}

// Tick runs the timers due at now: gossip generation, liveness checks,
// seed refresh, neighbour search and handshake timeouts.
func (p *Peer) Tick(now time.Time) {
	if p.stopped || p.started.IsZero() {
		return
	}
	// Liveness: a neighbour silent for LivenessMisses intervals is dead.
	limit := time.Duration(p.cfg.LivenessMisses) * p.cfg.LivenessInterval
	for i := 0; i < len(p.neighbours); {
		c := p.neighbours[i]
		if now.Sub(c.lastAlive) >= limit {
			p.declareDead(now, c.addr, fmt.Sprintf("no liveness reply to %d requests", c.unacked))
			continue // declareDead removed it from p.neighbours
		}
		i++
	}
	if !now.Before(p.nextLive) {
		p.nextLive = now.Add(p.cfg.LivenessInterval)
		ts := wire.TimestampOf(now)
		for _, c := range p.neighbours {
			if c.unacked > 0 {
				p.stats.LivenessMissed++
			}
			c.unacked++
			c.lastReq = ts
			p.stats.LivenessSent++
			p.send(c, wire.Message{Kind: wire.KindLivenessRequest, Time: ts, Addr: p.cfg.Self})
		}
	}
	// Handshake timeouts (a frozen peer accepts TCP but never answers).
	for _, id := range p.pendingIDs() {
		c := p.conns[id]
		if now.Sub(c.opened) >= p.cfg.HandshakeTimeout {
			p.emit(Action{Kind: Close, Conn: c.id})
			p.drop(c)
			if c.probe {
				p.declareDead(now, c.addr, "it does not answer a new handshake")
			} else if c.state == pendingOut {
				p.penalise(now, c.addr)
				p.firstLinkMissed(now)
			}
		}
	}
	// Gossip generation starts once there is someone to tell.
	if p.generated < p.cfg.GossipCount && !now.Before(p.nextGossip) && len(p.neighbours) > 0 {
		p.generated++
		p.nextGossip = now.Add(p.cfg.GossipInterval)
		// The classic text <timestamp>:<IP>:<PORT>:<Msg#>.
		p.Publish(now, fmt.Sprintf("%s:%s:%d", wire.TimestampOf(now), wireAddr(p.cfg.Self), p.generated))
	}
	// Seeds: refresh registrations, announce degree changes, recover the
	// majority.
	refresh := !now.Before(p.nextRefresh)
	if refresh {
		p.nextRefresh = now.Add(p.cfg.RefreshInterval)
	}
	if refresh || p.dirty && !now.Before(p.announced.Add(p.cfg.FillInterval/4)) {
		p.dirty = false
		p.announced = now
		for _, s := range p.seeds {
			if s.registered {
				p.emit(Action{Kind: SeedRequest, Addr: s.addr, Msg: p.registerMsg()})
			}
		}
	}
	p.contactSeeds(now)
	p.resendDead(now)
	// Below target: look for neighbours, asking a seed for candidates now
	// and then.
	if !now.Before(p.nextFill) {
		p.nextFill = now.Add(p.cfg.FillInterval)
		if len(p.neighbours)+p.pendingOut() < p.target {
			p.fill(now)
			// Ask even when this fill found someone to dial: its list may
			// be stale, and only fresh lists find the last free slots.
			if len(p.neighbours) < p.target && !now.Before(p.nextInfo) {
				// Ask again soon while links keep forming; back off while
				// nothing changes, so short peers do not hammer the seeds.
				p.infoEvery = min(max(2*p.infoEvery, 2*p.cfg.FillInterval), maxInfoEvery*p.cfg.FillInterval)
				p.nextInfo = now.Add(p.infoEvery)
				if reg := p.RegisteredSeeds(); len(reg) > 0 {
					p.emit(Action{Kind: SeedRequest, Addr: reg[p.rng.IntN(len(reg))], Msg: wire.Message{Kind: wire.KindPeerInfoRequest}})
				}
			}
		}
	}
	// Lazy push: announcements, then grafts for what never came.
	if p.lazyPending && !now.Before(p.nextLazy) {
		p.flushLazy()
	}
	p.graftDue(now)
	p.ml.maybeGC(now)
}

// NextDeadline returns the earliest time the peer needs a Tick.
func (p *Peer) NextDeadline() time.Time {
	if p.stopped || p.started.IsZero() {
		return time.Time{}
	}
	d := p.nextLive
	upd := func(t time.Time) {
		if !t.IsZero() && t.Before(d) {
			d = t
		}
	}
	upd(p.nextRefresh)
	if len(p.neighbours)+p.pendingOut() < p.target {
		upd(p.nextFill)
	}
	if p.dirty {
		upd(p.announced.Add(p.cfg.FillInterval / 4))
	}
	if p.generated < p.cfg.GossipCount && len(p.neighbours) > 0 {
		upd(p.nextGossip)
	}
	if p.lazyPending {
		upd(p.nextLazy)
	}
	upd(p.nextGraft)
	limit := time.Duration(p.cfg.LivenessMisses) * p.cfg.LivenessInterval
	for _, c := range p.neighbours {
		upd(c.lastAlive.Add(limit))
	}
	if p.handshaking() {
		for _, c := range p.conns {
			if c.state != established {
				upd(c.opened.Add(p.cfg.HandshakeTimeout))
			}
		}
	}
	for _, s := range p.seeds {
		if s.active && !s.registered && !s.busy {
			upd(s.notBefore)
		}
		for _, r := range s.retries {
			upd(r.notBefore)
		}
	}
	return d
}
