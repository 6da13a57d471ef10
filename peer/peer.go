package peer

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/whispernet/whispernet/identity"
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
	// Left: after Leave, every seed has answered the Leaving request (or
	// failed): the driver may stop the peer.
	Left
	// NeighbourLeft: the neighbour at Addr said it was leaving (its Link
	// down follows); it is not dead.
	NeighbourLeft
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
	NeighboursLeft uint64 `json:"neighbours_left"` // neighbours that said they were leaving (Leaving) and were replaced
	Stalls         uint64 `json:"stalls"`          // times the peer found it had not been run for over two liveness intervals (stopped process)

	// Plumtree (lazy push) counters.
	IHaveSent      uint64 `json:"ihave_sent"`      // message IDs announced to lazy links
	GraftSent      uint64 `json:"graft_sent"`      // message IDs asked for after an announcement went unanswered
	GraftServed    uint64 `json:"graft_served"`    // messages sent in answer to a graft
	PruneSent      uint64 `json:"prune_sent"`      // prunes sent after a duplicate
	MissingDropped uint64 `json:"missing_dropped"` // announcements ignored because the missing table was full
	Demoted        uint64 `json:"demoted"`         // messages announced instead of pushed because the driver's queue to the link was full

	// Loop lag (timers.go).
	LagStretched uint64 `json:"lag_stretched"` // liveness and handshake verdicts postponed because the driver's loop lagged

	// Trust counters (docs/security.md).
	Unsigned        uint64 `json:"unsigned"`         // gossip dropped for carrying no signature (signing on)
	BadSignature    uint64 `json:"bad_signature"`    // gossip dropped for a signature that does not verify
	KeyMismatch     uint64 `json:"key_mismatch"`     // gossip dropped for a key other than the one bound to its origin
	SeqAhead        uint64 `json:"seq_ahead"`        // gossip dropped for a sequence number too far ahead of its origin's
	CutOff          uint64 `json:"cut_off"`          // neighbours cut off for sending bad gossip
	RateLimited     uint64 `json:"rate_limited"`     // gossip lines and ihave IDs dropped over a neighbour's rate
	FloodCutOff     uint64 `json:"flood_cut_off"`    // neighbours cut off for sending MaxFloodDrops over their rate
	BadHandshake    uint64 `json:"bad_handshake"`    // handshakes refused or links closed for a wrong key or signature
	Challenges      uint64 `json:"challenges"`       // seeds' challenges answered
	GroupRefused    uint64 `json:"group_refused"`    // inbound links refused: their network group had MaxPerGroup links
	GraftRefused    uint64 `json:"graft_refused"`    // grafted message IDs not served: the neighbour's budget was spent
	LivenessLimited uint64 `json:"liveness_limited"` // liveness lines dropped over a neighbour's LivenessRate
	ControlLimited  uint64 `json:"control_limited"`  // graft and prune lines dropped over a neighbour's ControlRate
	SeedKeys        uint64 `json:"seed_keys"`        // origin keys bound from seeds' peer keys replies (new, or replacing a first-seen key)
	Rebound         uint64 `json:"rebound"`          // first-seen origin keys replaced by another key a seed proved
}

type connState uint8

const (
	pendingIn  connState = iota // inbound, awaiting Connection with Peer
	pendingOut                  // outbound, awaiting Connection accepted
	established
)

// conn is one connection the core knows about.
type conn struct {
	id ConnID
	// Plumtree's state of the link, in the first cache line with id: a
	// first receipt reads it for every neighbour (push), nothing else of
	// the connection.
	lazy  bool // off the broadcast tree, gets announcements only
	prune bool // a prune is queued for the next lazy flush
	child bool // it named this peer its parent (bare graft): never pruned
	// ihaveLast is how many IDs the last lazy flush sent: the next batch
	// gets room for as many at once (the flushed slice went with its
	// line). (In the padding after the flags.)
	ihaveLast uint16
	ihave     []wire.MsgID // announcements queued for the next lazy flush

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

	bad int // bad gossip messages received on this link (trust.go)
	// The neighbour's ihave rate limit (its gossip one is in
	// Peer.gossipTok), and the lines (IDs) dropped over either (trust.go).
	ihaveTok bucket
	flooded  int
	// Its liveness and graft/prune rate limits (trust.go).
	livenessTok, controlTok bucket
	// The authenticated handshake (trust.go): our nonce, the other end's
	// key, and (inbound) whether its proof is still due.
	nonce      string
	key        identity.PublicKey
	awaitProof bool
	// Grafted messages served in the second since graftSince.
	graftSince  time.Time
	graftServed int
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
	noKeys     bool         // refused peer keys (an older seed): ask it for peer info
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
	// heard is when each neighbour last sent gossip (time since started,
	// plus 1 ns; 0: not since the last liveness scan), in the order of
	// neighbours: a sign of life, noted with one store (timers.go). An
	// offset from started, not a Unix time, keeps the monotonic clock
	// reading when it becomes lastAlive again: a wall clock that jumps
	// must not make a neighbour look silent.
	heard    []time.Duration
	heardBuf [8]time.Duration
	// gossipTok is each neighbour's gossip rate limit (trust.go), in the
	// order of neighbours.
	gossipTok []bucket
	tokBuf    [8]bucket

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
	dead     map[netip.AddrPort]time.Time // declared dead, or left: not dialed again before the time

	seeds       []*seedState
	lastRegTS   wire.Timestamp // the newest signed registration's timestamp (registerMsg keeps them increasing)
	quorum      int
	nextRefresh time.Time

	seq        uint32
	generated  int
	nextGossip time.Time
	nextLive   time.Time
	// aliveDue is the earliest neighbour's lastAlive + LivenessMisses ×
	// LivenessInterval, when Tick must check for the dead (zero: no
	// neighbours). Kept so that Tick and NextDeadline read no connection:
	// a Plumtree peer ticks for every lazy flush, and reading each
	// neighbour's connection there cost the simulator more than the flush.
	aliveDue    time.Time
	nextFill    time.Time
	nextInfo    time.Time
	infoEvery   time.Duration           // backoff between peer-info requests while short of target
	infoGen     int                     // peer-info replies received; known.gen refers to it
	announced   time.Time               // last degree announcement to the seeds
	dirty       bool                    // degree changed since the last announcement
	isolated    map[netip.AddrPort]bool // dials made with no candidate free: ask to be taken in anyway
	firstMisses int                     // first-link dials refused or failed since the peer was last linked
	lastDegree  int

	// Loop lag (timers.go): the largest recent lag the driver reported,
	// when, and the stretch of deadlines it gives as of the last Tick or
	// report.
	lag     time.Duration
	lagAt   time.Time
	stretch time.Duration

	lastTick      time.Time // the previous Tick, to notice a stall of our own
	lostToSilence bool      // the last neighbour declared dead was found by silence (cutOff)
	leaving       bool      // Leave was called (stopped is set too)
	leavePending  int       // Leaving requests to seeds not yet answered

	keys   map[netip.AddrPort]binding // origin keys (trust.go)
	nonces uint64                     // nonces made so far

	// Lazy push (plumtree.go).
	cache       []cached // ring of recent messages, for grafts: cacheLen from cacheHead, oldest first
	cacheHead   int
	cacheLen    int
	cacheOldest wire.Timestamp // when the oldest was cached (cacheLen > 0)
	missing     []missing      // announced, not received: at most MaxMissing
	missKeys    []uint64       // missKey of each missing entry, in step: what lookups scan
	nextGraft   time.Time      // earliest missing deadline (zero: none)
	lazyPending bool           // some link has announcements queued
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
	p.nbrIDs, p.nbrAddrs, p.heard, p.gossipTok = p.nbrBuf[:0], p.addrBuf[:0], p.heardBuf[:0], p.tokBuf[:0]
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

// Key returns the peer's identity (Config.Key, or the key derived from
// Self).
func (p *Peer) Key() *identity.Key {
	if p.cfg.Key == nil {
		p.cfg.Key = DerivedKey(p.cfg.Self)
	}
	return p.cfg.Key
}

// DerivedKey is the key a node at a gets when its config has none: a pure
// function of the address, so simulations are reproducible, and so
// anybody can compute it: never use it on a real network.
func DerivedKey(a netip.AddrPort) *identity.Key {
	return identity.FromSeed([]byte("whispernet derived key " + a.String()))
}

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
	// Periodic timers start at a random phase within their interval, so
	// that peers started together do not fire in step: a network started
	// by one command behaves like one whose peers came up at different
	// times (docs/load.md). The count and the interval stay as configured.
	p.nextGossip = now.Add(p.cfg.GossipDelay + p.phase(p.cfg.GossipInterval))
	p.nextLive = now.Add(p.staggered(p.cfg.LivenessInterval))
	p.nextRefresh = now.Add(p.staggered(p.cfg.RefreshInterval))
	p.nextFill = now.Add(p.cfg.FillInterval)
	p.rng.Shuffle(len(p.seeds), func(i, j int) { p.seeds[i], p.seeds[j] = p.seeds[j], p.seeds[i] })
	for i := 0; i < p.quorum; i++ {
		p.seeds[i].active = true
	}
	p.logf("starting: target degree %d, registering with %d of %d seeds", p.target, p.quorum, len(p.seeds))
	p.contactSeeds(now)
}

// phase returns a random offset in [0, interval), from the peer's RNG.
func (p *Peer) phase(interval time.Duration) time.Duration {
	if !p.cfg.Stagger || interval <= 0 {
		return 0
	}
	return time.Duration(p.rng.Int64N(int64(interval)))
}

// staggered returns when a periodic timer first fires after Start: one
// interval, or with Stagger anywhere from half an interval to one and a
// half (the same mean).
func (p *Peer) staggered(interval time.Duration) time.Duration {
	if !p.cfg.Stagger {
		return interval
	}
	return interval/2 + p.phase(interval)
}

// Stop closes every connection; the peer does nothing afterwards.
func (p *Peer) Stop(now time.Time) {
	for _, id := range p.connIDs() {
		p.emit(Action{Kind: Close, Conn: id})
	}
	clear(p.conns)
	p.neighbours, p.nbrIDs, p.nbrAddrs, p.heard, p.gossipTok = nil, nil, nil, nil, nil
	p.aliveDue = time.Time{}
	p.stopped = true
	p.logf("stopped")
}
