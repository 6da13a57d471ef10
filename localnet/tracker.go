package localnet

import (
	"net/netip"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/whispernet/whispernet/summary"
	"github.com/whispernet/whispernet/topology"
)

// maxReceiptMessages is how many recent messages keep their per-peer
// receipts (hop and time) for the dashboard's message view.
const maxReceiptMessages = 256

// maxFeed bounds the event feed.
const maxFeed = 512

// Tracker assembles the network's state from the nodes' reports: who is
// up, who links to whom, which peer received which message when. It is
// safe for concurrent use.
type Tracker struct {
	// Deliveries, duplicates and link changes, from every peer's event
	// loop, go to a list of pending records first, under a lock held for
	// an append: under load, hundreds of peer loops contend for the
	// tracker, and holding mu for the bookkeeping of each receipt
	// serialised them (a goroutine dump of a 400-peer run found 183 loops
	// waiting on mu at once). Whoever takes mu applies the pending records
	// first (lock), so every read sees every receipt reported before it,
	// in order; a recorder that finds applyBatch of them pending applies
	// them if mu is free, and waits for mu only beyond maxPending.
	pmu     sync.Mutex
	pending []pendingRec
	spare   []pendingRec // the last applied batch's array, for the next

	mu         sync.Mutex
	start      time.Time
	index      map[netip.AddrPort]int
	peers      []*peerState
	lastChange time.Time
	msgs       map[msgKey]*msgState
	order      []msgKey // messages in order of first sight
	feed       []Event
	feedSeq    uint64
	seeds      map[netip.AddrPort]*seedState
	dupsOn     bool // TrackDuplicates or Duplicate was called
	falseDeads int  // dead reports about peers that were alive (see Dead)
	falseRems  int  // seed removals of peers that were alive (see Removed)
}

type peerState struct {
	addr    netip.AddrPort
	target  int
	adj     map[netip.AddrPort]bool
	alive   bool
	frozen  bool
	started bool
	thawed  time.Time // the last Note("thaw")
}

type seedState struct {
	addr netip.AddrPort
	up   bool
}

type msgKey struct {
	origin netip.AddrPort
	seq    uint32
}

type msgState struct {
	key      msgKey
	text     string
	created  time.Time
	got      []uint64 // bitset over peer indices
	count    int
	lastAt   time.Time
	maxHops  int
	keep     bool      // among the newest maxReceiptMessages messages
	receipts []receipt // per-peer receipts while keep
	dups     int       // copies dropped as duplicates (see Duplicate)
}

// receipt is a Receipt as the tracker keeps it: the addresses as they
// came, made text only when a view asks (every delivery records one).
type receipt struct {
	peer, from netip.AddrPort
	hops       int
	ms         float64
	order      int
}

// Receipt is one peer's first receipt of a message.
type Receipt struct {
	Peer  string  `json:"peer"`
	From  string  `json:"from"`
	Hops  int     `json:"hops"`
	Ms    float64 `json:"ms"` // after creation
	Order int     `json:"order"`
}

// Event is one entry of the event feed.
type Event struct {
	Seq  uint64    `json:"seq"`
	At   time.Time `json:"at"`
	Kind string    `json:"kind"` // join, link, unlink, dead, removed, kill, freeze, thaw, seed-down, seed-up, publish
	Node string    `json:"node"`
	Peer string    `json:"peer,omitempty"`
	Text string    `json:"text,omitempty"`
}

// NewTracker returns an empty tracker whose clock starts now.
func NewTracker(now time.Time) *Tracker {
	return &Tracker{start: now, lastChange: now, index: map[netip.AddrPort]int{}, msgs: map[msgKey]*msgState{}, seeds: map[netip.AddrPort]*seedState{}}
}

func (t *Tracker) peer(a netip.AddrPort) *peerState { return t.peers[t.peerIndex(a)] }

// peerIndex returns a's index in peers, adding a peer of that address if
// there is none.
func (t *Tracker) peerIndex(a netip.AddrPort) int {
	if i, ok := t.index[a]; ok {
		return i
	}
	t.index[a] = len(t.peers)
	t.peers = append(t.peers, &peerState{addr: a, adj: map[netip.AddrPort]bool{}})
	return len(t.peers) - 1
}

// applyBatch is how many pending records a recorder applies at once
// when mu is free (about a millisecond of bookkeeping).
const applyBatch = 1024

// maxPending bounds the pending records: beyond it a recorder waits for
// mu, so memory stays bounded however long a reader holds the tracker.
const maxPending = 1 << 16

// pendingRec is a Deliver, Duplicate or Link call, or (dups > 1) that
// many Duplicate calls in a row about one message. Times are Unix
// nanoseconds: the record is copied into the pending list for every
// delivery, and a time.Time is three times as big.
type pendingRec struct {
	kind               recKind
	up                 bool // Link
	self, from, origin netip.AddrPort
	seq                uint32
	hops               int32
	dups               uint32 // Duplicate calls this record stands for
	text               string
	created, at        int64
}

type recKind uint8

const (
	recDeliver recKind = iota
	recDup
	recLink
)

// record queues r, and applies what is pending once there is a batch.
func (t *Tracker) record(r pendingRec) {
	t.pmu.Lock()
	if n := len(t.pending); r.kind == recDup && n > 0 {
		// The copies of one message arrive together, from peer after
		// peer: one record counts them (a duplicate's reporter is not
		// kept).
		if last := &t.pending[n-1]; last.kind == recDup && last.origin == r.origin && last.seq == r.seq {
			last.dups++
			t.pmu.Unlock()
			return
		}
	}
	if t.pending == nil {
		t.pending = make([]pendingRec, 0, applyBatch)
	}
	t.pending = append(t.pending, r)
	n := len(t.pending)
	t.pmu.Unlock()
	switch {
	case n >= maxPending:
		t.lock()
	case n >= applyBatch && t.mu.TryLock():
		t.applyPending()
	default:
		return
	}
	t.mu.Unlock()
}

// lock takes mu and applies every pending record.
func (t *Tracker) lock() {
	t.mu.Lock()
	t.applyPending()
}

// applyPending applies the pending records, in the order of the calls;
// mu is held.
func (t *Tracker) applyPending() {
	t.pmu.Lock()
	recs := t.pending
	t.pending, t.spare = t.spare[:0], nil
	t.pmu.Unlock()
	defer func() {
		// Back as the next spare: under load the list outgrows a batch
		// while mu is busy, and regrowing it every time was most of what
		// recording cost (at most maxPending records, doubled, are kept).
		clear(recs)
		if cap(recs) <= 2*maxPending {
			t.pmu.Lock()
			t.spare = recs[:0]
			t.pmu.Unlock()
		}
	}()
	for j := range recs {
		r := &recs[j]
		switch r.kind {
		case recDup:
			t.duplicate(r.origin, r.seq, int(r.dups))
		case recLink:
			t.link(r.self, r.from, r.up, time.Unix(0, r.at))
		default:
			t.deliver(r.self, r.from, r.origin, r.seq, r.text, time.Unix(0, r.created), time.Unix(0, r.at), int(r.hops))
		}
	}
}

func (t *Tracker) event(at time.Time, kind string, node, peer netip.AddrPort, text string) {
	t.feedSeq++
	e := Event{Seq: t.feedSeq, At: at, Kind: kind, Node: node.String(), Text: text}
	if peer.IsValid() {
		e.Peer = peer.String()
	}
	if len(t.feed) == maxFeed {
		copy(t.feed, t.feed[1:])
		t.feed = t.feed[:maxFeed-1]
	}
	t.feed = append(t.feed, e)
}

// Started records that a peer is up with the given target degree.
func (t *Tracker) Started(a netip.AddrPort, target int, at time.Time) {
	t.lock()
	defer t.mu.Unlock()
	p := t.peer(a)
	p.target, p.alive, p.started = target, true, true
	t.event(at, "join", a, netip.AddrPort{}, "")
}

// Link records that self's link to other came up or went down.
func (t *Tracker) Link(self, other netip.AddrPort, up bool, at time.Time) {
	// Queued like a delivery (links come and go by the thousand while an
	// overlay forms, from every peer's loop), applied in order with them.
	t.record(pendingRec{kind: recLink, self: self, from: other, up: up, at: at.UnixNano()})
}

func (t *Tracker) link(self, other netip.AddrPort, up bool, at time.Time) {
	p := t.peer(self)
	if p.adj[other] == up {
		return
	}
	if up {
		p.adj[other] = true
	} else {
		delete(p.adj, other)
	}
	t.lastChange = at
	if up && self.Compare(other) < 0 || !up {
		kind := "link"
		if !up {
			kind = "unlink"
		}
		t.event(at, kind, self, other, "")
	}
}

// GraceAfterThaw is how long after a thaw a verdict of death about the
// thawed peer is still put down to its freeze rather than counted false:
// the neighbours that timed it out while it was frozen report it, and the
// seeds act on those reports, a moment later (worker reports are flushed
// every 20 ms; a seed removes a peer on the first dead report).
const GraceAfterThaw = 2 * time.Second

// wronglyDead reports whether a verdict of death about a at time at is
// false: a is a peer that started, was not killed, is not frozen and was
// not thawed within GraceAfterThaw before at. t.mu is held.
func (t *Tracker) wronglyDead(a netip.AddrPort, at time.Time) bool {
	i, ok := t.index[a]
	if !ok {
		return false // not a peer of this network (a seed, or unknown)
	}
	p := t.peers[i]
	return p.started && p.alive && !p.frozen && (p.thawed.IsZero() || at.Sub(p.thawed) > GraceAfterThaw)
}

// Dead records that self declared other dead.
func (t *Tracker) Dead(self, other netip.AddrPort, at time.Time) {
	t.lock()
	defer t.mu.Unlock()
	if t.wronglyDead(other, at) {
		t.falseDeads++
	}
	t.event(at, "dead", self, other, "declared dead and reported to the seeds")
}

// Removed records that a seed dropped a peer from its list.
func (t *Tracker) Removed(seed, peer netip.AddrPort, at time.Time) {
	t.lock()
	defer t.mu.Unlock()
	if t.wronglyDead(peer, at) {
		t.falseRems++
	}
	t.event(at, "removed", seed, peer, "removed from the seed's peer list")
}

// FalseDeaths returns how many dead reports and seed removals were about
// peers that were alive: started, not killed (Note "kill"), not frozen and
// not thawed within GraceAfterThaw. The network notes a kill before the
// peer's sockets close, so the verdicts a kill causes are never counted.
func (t *Tracker) FalseDeaths() (deadReports, seedRemovals int) {
	t.lock()
	defer t.mu.Unlock()
	return t.falseDeads, t.falseRems
}

// SeedUp records a seed starting or stopping.
func (t *Tracker) SeedUp(seed netip.AddrPort, up bool, at time.Time) {
	t.lock()
	defer t.mu.Unlock()
	s := t.seeds[seed]
	if s == nil {
		s = &seedState{addr: seed}
		t.seeds[seed] = s
	}
	s.up = up
	kind := "seed-up"
	if !up {
		kind = "seed-down"
	}
	t.event(at, kind, seed, netip.AddrPort{}, "")
}

// Note records a control action (kill, freeze, thaw, publish) in the feed,
// and the peer's new state.
func (t *Tracker) Note(kind string, a netip.AddrPort, text string, at time.Time) {
	t.lock()
	defer t.mu.Unlock()
	p := t.peer(a)
	switch kind {
	case "kill":
		p.alive = false
		t.lastChange = at
	case "freeze":
		p.frozen = true
	case "thaw":
		p.frozen = false
		p.thawed = at
	}
	t.event(at, kind, a, netip.AddrPort{}, text)
}

// Deliver records the first receipt of message (origin, seq) by self.
func (t *Tracker) Deliver(self, from, origin netip.AddrPort, seq uint32, text string, created, at time.Time, hops int) {
	t.record(pendingRec{self: self, from: from, origin: origin, seq: seq, text: text, created: created.UnixNano(), at: at.UnixNano(), hops: int32(hops)})
}

func (t *Tracker) deliver(self, from, origin netip.AddrPort, seq uint32, text string, created, at time.Time, hops int) {
	k := msgKey{origin, seq}
	m := t.msgs[k]
	if m == nil {
		m = &msgState{key: k, text: text, created: created, keep: true, got: make([]uint64, (len(t.peers)+64)/64)}
		t.msgs[k] = m
		t.order = append(t.order, k)
		// The message at len-1-maxReceiptMessages just left the newest
		// maxReceiptMessages.
		if n := len(t.order) - 1 - maxReceiptMessages; n >= 0 {
			if old := t.msgs[t.order[n]]; old != nil {
				old.keep, old.receipts = false, nil
			}
		}
	}
	idx := t.peerIndex(self)
	for idx/64 >= len(m.got) {
		m.got = append(m.got, 0)
	}
	if m.got[idx/64]&(1<<(idx%64)) != 0 {
		return
	}
	m.got[idx/64] |= 1 << (idx % 64)
	if self == origin {
		return // the origin's own copy: not a delivery
	}
	m.count++
	if at.After(m.lastAt) {
		m.lastAt = at
	}
	m.maxHops = max(m.maxHops, hops)
	if m.keep {
		m.receipts = append(m.receipts, receipt{peer: self, from: from, hops: hops, ms: ms(at.Sub(created)), order: m.count})
	}
}

// ms is d in milliseconds, to the microsecond.
func ms(d time.Duration) float64 { return summary.Round(float64(d)/float64(time.Millisecond), 3) }

// Snapshot is the network's state at one moment.
//
// Its links are those between live peers that at least one end reports:
// each end reports its own link when it comes up or goes down, so the two
// reports of one link arrive apart (a handshake is up at the accepter a
// message before the dialler, a close reaches the other end later, a
// worker process flushes its reports every 20 ms). Every figure of the
// snapshot — Links, Edges, Degrees, BelowTarget, Isolated, Components —
// counts that same set of links, so a node's degree always equals its
// links in Edges and no peer with a link is isolated.
type Snapshot struct {
	At          time.Time
	Peers       int // live peers (started, not killed)
	Started     int // peers that ever started
	Links       int // undirected links between live peers
	Components  int // connected components among live peers
	Degrees     []int
	BelowTarget int // live peers below their target degree
	Isolated    int // live peers with no link
	QuietFor    time.Duration
	Nodes       []NodeView
	Edges       [][2]int // indices into Nodes
}

// NodeView is one live peer in a snapshot.
type NodeView struct {
	Addr   string `json:"addr"`
	Degree int    `json:"degree"`
	Target int    `json:"target"`
	Frozen bool   `json:"frozen,omitempty"`
}

// Snapshot returns the current state. withGraph adds Nodes and Edges.
func (t *Tracker) Snapshot(now time.Time, withGraph bool) Snapshot {
	t.lock()
	defer t.mu.Unlock()
	s := Snapshot{At: now, QuietFor: now.Sub(t.lastChange)}
	live := map[netip.AddrPort]int{}
	var alive []*peerState // in live index order
	for _, p := range t.peers {
		if p.started {
			s.Started++
		}
		if p.alive {
			live[p.addr] = len(live)
			alive = append(alive, p)
		}
	}
	s.Peers = len(live)
	f := topology.NewForest(len(live))
	deg := make([]int, len(live))
	for i, p := range alive {
		for o := range p.adj {
			j, ok := live[o]
			if !ok {
				continue
			}
			// Count each undirected link once: from its lower end, or
			// from the only end that reports it.
			if p.addr.Compare(o) > 0 && alive[j].adj[p.addr] {
				continue
			}
			s.Links++
			deg[i]++
			deg[j]++
			if withGraph {
				s.Edges = append(s.Edges, [2]int{i, j})
			}
			f.Union(int32(i), int32(j))
		}
	}
	for i, p := range alive {
		s.Degrees = append(s.Degrees, deg[i])
		if deg[i] < p.target {
			s.BelowTarget++
		}
		if deg[i] == 0 {
			s.Isolated++
		}
		if withGraph {
			s.Nodes = append(s.Nodes, NodeView{Addr: p.addr.String(), Degree: deg[i], Target: p.target, Frozen: p.frozen})
		}
	}
	for i := range f {
		if f.Find(int32(i)) == int32(i) {
			s.Components++
		}
	}
	return s
}

// Propagation summarises how gossip spread.
type Propagation struct {
	Messages   int     // messages seen
	Complete   int     // messages every live peer (but the origin) received
	P50, P99   float64 // ms from creation to receipt by the last live peer
	Max        float64
	MaxHops    int
	Deliveries int
	// Coverage is the mean over messages of the share of the live peers,
	// the origin excluded, that received the message (messages with no
	// such peer are left out; 0 without messages).
	Coverage float64
}

// Propagation computes spread times over complete messages.
func (t *Tracker) Propagation() Propagation {
	t.lock()
	defer t.mu.Unlock()
	var alive []int
	for i, p := range t.peers {
		if p.alive {
			alive = append(alive, i)
		}
	}
	var pr Propagation
	var times []float64
	var coverage float64
	covered := 0
	for _, k := range t.order {
		m := t.msgs[k]
		pr.Messages++
		pr.Deliveries += m.count
		want, got := 0, 0
		for _, i := range alive {
			if t.peers[i].addr == k.origin {
				continue
			}
			want++
			if i/64 < len(m.got) && m.got[i/64]&(1<<(i%64)) != 0 {
				got++
			}
		}
		if want > 0 {
			coverage += float64(got) / float64(want)
			covered++
		}
		if got < want || m.count == 0 {
			continue
		}
		pr.Complete++
		times = append(times, ms(m.lastAt.Sub(m.created)))
		pr.MaxHops = max(pr.MaxHops, m.maxHops)
	}
	if covered > 0 {
		pr.Coverage = coverage / float64(covered)
	}
	if len(times) > 0 {
		sort.Float64s(times)
		pr.P50 = summary.Quantile(times, 0.5)
		pr.P99 = summary.Quantile(times, 0.99)
		pr.Max = times[len(times)-1]
	}
	return pr
}

// MessageView is one message for the dashboard.
type MessageView struct {
	Origin   string    `json:"origin"`
	Seq      uint32    `json:"seq"`
	Text     string    `json:"text"`
	Created  time.Time `json:"created"`
	Count    int       `json:"count"` // peers reached, origin excluded
	MaxHops  int       `json:"max_hops"`
	SpreadMs float64   `json:"spread_ms"`
	// Duplicates counts the copies peers dropped as already seen; it
	// stays 0 unless a hook calls Duplicate (see DuplicatesTracked).
	Duplicates int       `json:"duplicates,omitempty"`
	Receipts   []Receipt `json:"receipts,omitempty"`
	// Reached and Live are the message's Coverage, read in the same
	// snapshot as Count (filled by Message only).
	Reached int `json:"reached,omitempty"`
	Live    int `json:"live,omitempty"`
}

// Messages returns the newest n messages, newest first; receipts only
// when withReceipts.
func (t *Tracker) Messages(n int, withReceipts bool) []MessageView {
	t.lock()
	defer t.mu.Unlock()
	var out []MessageView
	for i := len(t.order) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, t.view(t.msgs[t.order[i]], withReceipts))
	}
	return out
}

// Message returns one message by origin and sequence number, with its
// receipts and coverage.
func (t *Tracker) Message(origin netip.AddrPort, seq uint32) (MessageView, bool) {
	t.lock()
	defer t.mu.Unlock()
	m, ok := t.msgs[msgKey{origin, seq}]
	if !ok {
		return MessageView{}, false
	}
	v := t.view(m, true)
	v.Reached, v.Live = t.coverage(m)
	return v, true
}

func (t *Tracker) view(m *msgState, withReceipts bool) MessageView {
	v := MessageView{Origin: m.key.origin.String(), Seq: m.key.seq, Text: m.text, Created: m.created, Count: m.count, MaxHops: m.maxHops}
	if m.count > 0 {
		v.SpreadMs = ms(m.lastAt.Sub(m.created))
	}
	v.Duplicates = m.dups
	if withReceipts && len(m.receipts) > 0 {
		v.Receipts = make([]Receipt, len(m.receipts))
		for i, r := range m.receipts {
			v.Receipts[i] = Receipt{Peer: r.peer.String(), From: r.from.String(), Hops: r.hops, Ms: r.ms, Order: r.order}
		}
	}
	return v
}

// Feed returns the events after seq (all when seq is 0), oldest first.
func (t *Tracker) Feed(after uint64) []Event {
	t.lock()
	defer t.mu.Unlock()
	i := sort.Search(len(t.feed), func(i int) bool { return t.feed[i].Seq > after })
	return slices.Clone(t.feed[i:])
}

// Alive reports whether the peer is started and not killed.
func (t *Tracker) Alive(a netip.AddrPort) bool {
	t.lock()
	defer t.mu.Unlock()
	i, ok := t.index[a]
	return ok && t.peers[i].alive
}

// Awake returns the live, unfrozen peers' addresses in start order.
func (t *Tracker) Awake() []netip.AddrPort {
	t.lock()
	defer t.mu.Unlock()
	var out []netip.AddrPort
	for _, p := range t.peers {
		if p.alive && !p.frozen {
			out = append(out, p.addr)
		}
	}
	return out
}

// LivePeers returns the live peers' addresses in start order.
func (t *Tracker) LivePeers() []netip.AddrPort {
	t.lock()
	defer t.mu.Unlock()
	var out []netip.AddrPort
	for _, p := range t.peers {
		if p.alive {
			out = append(out, p.addr)
		}
	}
	return out
}

// Coverage reports how many live peers hold message (origin, seq) — the
// origin included while it is live — out of how many live peers. ok is
// false for an unknown message. A peer that received the message and then
// died no longer counts, so reached/live is the share of today's network
// that has it.
func (t *Tracker) Coverage(origin netip.AddrPort, seq uint32) (reached, live int, ok bool) {
	t.lock()
	defer t.mu.Unlock()
	m, ok := t.msgs[msgKey{origin, seq}]
	if !ok {
		return 0, 0, false
	}
	reached, live = t.coverage(m)
	return reached, live, true
}

// coverage counts the live peers and those of them that hold m; t.mu is
// held.
func (t *Tracker) coverage(m *msgState) (reached, live int) {
	for i, p := range t.peers {
		if !p.alive {
			continue
		}
		live++
		if i/64 < len(m.got) && m.got[i/64]&(1<<(i%64)) != 0 {
			reached++
		}
	}
	return reached, live
}

// MessageCount returns how many distinct messages the tracker has seen.
// Unlike Propagation it does not scan the receipts.
func (t *Tracker) MessageCount() int {
	t.lock()
	defer t.mu.Unlock()
	return len(t.order)
}

// TrackDuplicates declares that the network reports every duplicate it
// drops through Duplicate, so a message's count of 0 means none rather
// than unknown. A network started by Start does (its peers' Duplicate
// hook); an observed one does not.
func (t *Tracker) TrackDuplicates() {
	t.lock()
	defer t.mu.Unlock()
	t.dupsOn = true
}

// Duplicate records that self dropped a copy of message (origin, seq) it
// had already seen (the peers' Duplicate hook reports it). It also turns
// DuplicatesTracked on.
func (t *Tracker) Duplicate(self, origin netip.AddrPort, seq uint32) {
	t.record(pendingRec{kind: recDup, origin: origin, seq: seq, dups: 1})
}

func (t *Tracker) duplicate(origin netip.AddrPort, seq uint32, n int) {
	t.dupsOn = true
	if m := t.msgs[msgKey{origin, seq}]; m != nil {
		m.dups += n
	}
}

// DuplicatesTracked reports whether TrackDuplicates was called or any
// duplicate was recorded with Duplicate, i.e. whether
// MessageView.Duplicates means anything.
func (t *Tracker) DuplicatesTracked() bool {
	t.lock()
	defer t.mu.Unlock()
	return t.dupsOn
}
