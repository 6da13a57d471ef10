package web

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/whispernet/whispernet/localnet"
	"github.com/whispernet/whispernet/powerlaw"
	"github.com/whispernet/whispernet/summary"
)

// The JSON views below are what the API returns and what the stream's
// update sections carry; docs/dashboard.md shows an example of each.

// Counts are the live counters shown at the top of the page.
type Counts struct {
	Peers       int `json:"peers"`        // live peers: started, not killed
	Started     int `json:"started"`      // peers that ever started
	Links       int `json:"links"`        // undirected links between live peers
	Components  int `json:"components"`   // connected components of live peers
	Isolated    int `json:"isolated"`     // live peers without a link
	BelowTarget int `json:"below_target"` // live peers below their target degree
	Frozen      int `json:"frozen"`       // live peers that are frozen
	Dead        int `json:"dead"`         // killed peers no seed has removed yet
	Messages    int `json:"messages"`     // distinct gossip messages seen
	// Complete, the spread percentiles (ms from creation to the last live
	// peer) and MaxHops cover messages that reached every live peer; they
	// are recomputed at most every StatsEvery.
	Complete int     `json:"complete"`
	P50      float64 `json:"spread_p50_ms"`
	P99      float64 `json:"spread_p99_ms"`
	MaxHops  int     `json:"max_hops"`
	// Deliveries counts first receipts of messages, origins excluded.
	Deliveries int `json:"deliveries"`
	SeedsUp    int `json:"seeds_up"`
	Seeds      int `json:"seeds"`
	// LocalPeers is how many live peers run in this process; Forwarded and
	// Duplicates sum their counters (copies sent to neighbours, copies
	// dropped as already seen). Peers in worker processes are not counted.
	LocalPeers int    `json:"local_peers"`
	Forwarded  uint64 `json:"forwarded"`
	Duplicates uint64 `json:"duplicates"`
	// The load figures of `net`'s summary (package summary), refreshed
	// with the spread every StatsEvery: Coverage is the mean share of the
	// live peers (origin excluded) each message reached; FalseDeadReports
	// and FalseSeedRemovals the verdicts of death about live peers
	// (localnet.Tracker.FalseDeaths); SlowCloses the links closed because
	// a neighbour made no progress reading, Demoted the gossip lines
	// announced instead of pushed to a full queue; CPUUsPerDelivery the process CPU of
	// this process and its workers per delivery; PeakRSSMB the sum of
	// their peak resident sets (MiB). The last two are 0 where they
	// cannot be measured (not Linux).
	Coverage          float64 `json:"coverage"`
	FalseDeadReports  int     `json:"false_dead_reports"`
	FalseSeedRemovals int     `json:"false_seed_removals"`
	SlowCloses        uint64  `json:"slow_closes"`
	Demoted           uint64  `json:"demoted"`
	CPUUsPerDelivery  float64 `json:"cpu_us_per_delivery"`
	PeakRSSMB         float64 `json:"peak_rss_mb"`
}

// Graph is the overlay: live peers, killed peers awaiting removal, and the
// links between live peers.
type Graph struct {
	Nodes []Node `json:"nodes"`
	// Edges are the links as a flat list of index pairs into Nodes:
	// [a0, b0, a1, b1, ...].
	Edges []int `json:"edges"`
}

// Node is one peer of the graph.
type Node struct {
	Addr   string `json:"addr"`
	Degree int    `json:"degree"`
	Target int    `json:"target"`
	// Frozen: alive but not answering (Freeze). Dead: killed and not yet
	// removed by any seed (drawn as a ghost until then). Suspect: a
	// neighbour declared it dead since it last joined or thawed.
	Frozen  bool `json:"frozen,omitempty"`
	Dead    bool `json:"dead,omitempty"`
	Suspect bool `json:"suspect,omitempty"`
}

// Degrees is the degree distribution with its power-law fit.
type Degrees struct {
	N    int     `json:"n"` // live peers
	Min  int     `json:"min"`
	Max  int     `json:"max"`
	Mean float64 `json:"mean"`
	// Hist counts peers per degree, as [degree, count] pairs.
	Hist [][2]int `json:"hist"`
	// CCDF is the empirical P(X ≥ x) of the degrees ≥ 1 (powerlaw.CCDF).
	CCDF []Point `json:"ccdf"`
	// Fit is the discrete power-law fit (powerlaw.Estimate) with its line;
	// nil when the degrees do not admit a fit or its tail has fewer than
	// summary.MinTail points (FitError says why).
	Fit      *Fit   `json:"fit"`
	FitError string `json:"fit_error,omitempty"`
	// FitStale: the degrees changed since the fit; a new fit follows
	// within FitEvery.
	FitStale bool      `json:"fit_stale,omitempty"`
	FitAt    time.Time `json:"fit_at"`
}

// Point is one point of a curve.
type Point struct {
	X int     `json:"x"`
	P float64 `json:"p"`
}

// Fit is a power-law fit and its CCDF line from Xmin to the largest degree.
type Fit struct {
	powerlaw.Fit
	Line []Point `json:"line"`
}

// Message is a gossip message with its coverage.
type Message struct {
	Origin  string    `json:"origin"`
	Seq     uint32    `json:"seq"`
	Text    string    `json:"text"`
	Created time.Time `json:"created"`
	// Receivers counts the peers that received it (the origin excluded,
	// peers killed since included).
	Receivers int `json:"receivers"`
	// Reached is how many live peers hold it, the origin included while
	// it lives; Live how many peers are live. Reached == Live: complete.
	Reached  int     `json:"reached"`
	Live     int     `json:"live"`
	MaxHops  int     `json:"max_hops"`
	SpreadMs float64 `json:"spread_ms"` // creation to the latest receipt
	// Duplicates counts copies dropped as already seen; present only when
	// the network reports duplicates per message (Tracker.Duplicate).
	Duplicates *int `json:"duplicates,omitempty"`
}

// MessageDetail is a message with one receipt per receiving peer.
type MessageDetail struct {
	Message
	// Receipts are the first receipts in the order they happened (the
	// origin has none: it is at hop 0, 0 ms). ReceiptsKept is false for a
	// message too old for the tracker to keep its receipts.
	Receipts     []localnet.Receipt `json:"receipts"`
	ReceiptsKept bool               `json:"receipts_kept"`
}

// Seed is one seed of the config.
type Seed struct {
	Addr string `json:"addr"`
	Up   bool   `json:"up"`
	// Registered is how many peers its registry holds (0 when down).
	Registered int `json:"registered"`
}

// FeedEvent is an event of the tracker's feed; Note explains it further,
// e.g. that a link replaces a peer declared dead.
type FeedEvent struct {
	localnet.Event
	Note string `json:"note,omitempty"`
}

// Feed bookkeeping bounds.
const (
	feedRing    = 1024            // enriched events kept
	ghostExpiry = 2 * time.Minute // a killed peer no seed removes is dropped after this
	replaceFor  = time.Minute     // a link this soon after a dead report replaces it
)

// feedState pulls the tracker's feed into a ring of enriched events and
// derives what the feed alone knows: killed peers awaiting removal
// (ghosts), peers declared dead (suspects), and which new link replaces
// which dead neighbour.
type feedState struct {
	mu       sync.Mutex
	last     uint64 // last tracker sequence number pulled
	ring     []FeedEvent
	lost     uint64 // tracker events that scrolled out before being pulled
	ghosts   map[string]time.Time
	suspects map[string]bool
	pending  map[string][]deadReport // reporter -> neighbours to replace
}

type deadReport struct {
	peer string
	at   time.Time
}

func newFeedState() *feedState {
	return &feedState{ghosts: map[string]time.Time{}, suspects: map[string]bool{}, pending: map[string][]deadReport{}}
}

// sync pulls new events from the tracker.
func (f *feedState) sync(t *localnet.Tracker, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	evs := t.Feed(f.last)
	if len(evs) > 0 && f.last > 0 && evs[0].Seq > f.last+1 {
		f.lost += evs[0].Seq - f.last - 1
	}
	for _, e := range evs {
		f.last = e.Seq
		f.add(e)
	}
	for a, at := range f.ghosts {
		if now.Sub(at) > ghostExpiry {
			delete(f.ghosts, a)
		}
	}
}

func (f *feedState) add(e localnet.Event) {
	fe := FeedEvent{Event: e}
	switch e.Kind {
	case "join":
		delete(f.ghosts, e.Node)
		delete(f.suspects, e.Node)
	case "kill":
		f.ghosts[e.Node] = e.At
		delete(f.suspects, e.Node)
	case "thaw":
		delete(f.suspects, e.Node)
	case "dead":
		if _, ghost := f.ghosts[e.Peer]; !ghost {
			f.suspects[e.Peer] = true
		}
		f.pending[e.Node] = append(f.pending[e.Node], deadReport{e.Peer, e.At})
	case "removed":
		if _, ok := f.ghosts[e.Peer]; ok {
			delete(f.ghosts, e.Peer)
			fe.Note = "the killed peer is gone from the overlay"
		}
	case "link":
		// The tracker records a link once, from its lower address; the
		// peer that lost a neighbour may be either end.
		for _, end := range []string{e.Node, e.Peer} {
			if dead, ok := f.takeReplacement(end, e.At); ok {
				other := e.Peer
				if end == e.Peer {
					other = e.Node
				}
				fe.Note = fmt.Sprintf("%s replaces dead neighbour %s with %s", end, dead, other)
				break
			}
		}
	}
	if len(f.ring) == feedRing {
		copy(f.ring, f.ring[1:])
		f.ring = f.ring[:feedRing-1]
	}
	f.ring = append(f.ring, fe)
}

func (f *feedState) takeReplacement(reporter string, at time.Time) (string, bool) {
	q := f.pending[reporter]
	for len(q) > 0 && at.Sub(q[0].at) > replaceFor {
		q = q[1:]
	}
	if len(q) == 0 {
		delete(f.pending, reporter)
		return "", false
	}
	dead := q[0].peer
	if len(q) == 1 {
		delete(f.pending, reporter)
	} else {
		f.pending[reporter] = q[1:]
	}
	return dead, true
}

// after returns up to limit of the newest events with a sequence number
// above seq, oldest first, and how many newer-than-seq events are missing
// (scrolled out of the ring or lost by the tracker).
func (f *feedState) after(seq uint64, limit int) ([]FeedEvent, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := sort.Search(len(f.ring), func(i int) bool { return f.ring[i].Seq > seq })
	out := f.ring[i:]
	missing := 0
	if len(out) > 0 && seq > 0 && out[0].Seq > seq+1 {
		missing = int(out[0].Seq - seq - 1)
	}
	if len(out) > limit {
		missing += len(out) - limit
		out = out[len(out)-limit:]
	}
	return slices.Clone(out), missing
}

// newest returns the sequence number of the newest event pulled.
func (f *feedState) newest() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

// marks returns the ghosts (oldest first) and suspects.
func (f *feedState) marks() (ghosts []string, suspects map[string]bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for a := range f.ghosts {
		ghosts = append(ghosts, a)
	}
	slices.SortFunc(ghosts, func(a, b string) int {
		return cmp.Or(f.ghosts[a].Compare(f.ghosts[b]), strings.Compare(a, b))
	})
	return ghosts, maps.Clone(f.suspects)
}

// fitCache holds the last power-law fit; a new one runs only when the
// degrees changed and at most every `every`, because a fit at 1,000 peers
// costs milliseconds and the degrees change with every link.
type fitCache struct {
	every time.Duration

	mu      sync.Mutex
	degrees []int // sorted, of the last fit
	fitted  bool
	at      time.Time
	fit     *Fit
	err     string
}

// degrees builds the Degrees view of a degree sequence.
func (s *Server) degrees(degs []int, now time.Time) Degrees {
	sorted := slices.Clone(degs)
	slices.Sort(sorted)
	d := Degrees{N: len(sorted), Hist: [][2]int{}, CCDF: []Point{}}
	if len(sorted) > 0 {
		d.Min, d.Max = sorted[0], sorted[len(sorted)-1]
		sum := 0
		for i, x := range sorted {
			sum += x
			if i == 0 || x != sorted[i-1] {
				d.Hist = append(d.Hist, [2]int{x, 0})
			}
			d.Hist[len(d.Hist)-1][1]++
		}
		d.Mean = round(float64(sum)/float64(len(sorted)), 3)
	}
	xs, ps := powerlaw.CCDF(sorted)
	for i := range xs {
		d.CCDF = append(d.CCDF, Point{xs[i], round(ps[i], 6)})
	}
	c := s.fit
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.fitted || !slices.Equal(c.degrees, sorted) {
		if !c.fitted || now.Sub(c.at) >= c.every {
			c.degrees, c.fitted, c.at = sorted, true, now
			c.fit, c.err = fitOf(sorted)
		} else {
			d.FitStale = true
		}
	}
	d.Fit, d.FitError, d.FitAt = c.fit, c.err, c.at
	return d
}

func fitOf(sorted []int) (*Fit, string) {
	f, err := powerlaw.Estimate(sorted)
	if err != nil {
		return nil, err.Error()
	}
	if f.NTail < summary.MinTail {
		// The rule of net's and sim's summaries: no number from a tail
		// too short to mean anything.
		return nil, summary.TooFewNote(f.NTail)
	}
	out := &Fit{Fit: f, Line: []Point{}}
	// One point per degree from Xmin to the largest, or 200 points spaced
	// evenly on the log axis the line is drawn on.
	last := max(sorted[len(sorted)-1], f.Xmin)
	var xs []int
	if last-f.Xmin < 200 {
		for x := f.Xmin; x <= last; x++ {
			xs = append(xs, x)
		}
	} else {
		for i := range 200 {
			x := int(math.Round(float64(f.Xmin) * math.Pow(float64(last)/float64(f.Xmin), float64(i)/199)))
			if len(xs) == 0 || x > xs[len(xs)-1] {
				xs = append(xs, x)
			}
		}
	}
	for _, x := range xs {
		if p := f.CCDFAt(x); p > 0 && !math.IsInf(p, 0) {
			out.Line = append(out.Line, Point{x, round(p, 6)})
		}
	}
	out.Alpha, out.AlphaErr, out.KS = round(f.Alpha, 4), round(f.AlphaErr, 4), round(f.KS, 4)
	out.LogLikelihood = round(f.LogLikelihood, 3)
	return out, ""
}

// counterCache keeps the counters that cost a scan of every message or a
// round trip to every peer, refreshed at most every StatsEvery.
type counterCache struct {
	mu         sync.Mutex
	propAt     time.Time
	prop       localnet.Propagation
	propFilled bool
	usage      localnet.Usage
	bp         localnet.Backpressure
	falseDead  int
	falseRem   int

	statsAt     time.Time
	statsBusy   bool
	statsFilled bool
	local       int
	fwd, dups   uint64
}

// graph builds the Graph view of a snapshot taken with its graph.
func (s *Server) graph(snap localnet.Snapshot) Graph {
	ghosts, suspects := s.feed.marks()
	g := Graph{Nodes: make([]Node, 0, len(snap.Nodes)+len(ghosts)), Edges: make([]int, 0, 2*len(snap.Edges))}
	for _, n := range snap.Nodes {
		g.Nodes = append(g.Nodes, Node{Addr: n.Addr, Degree: n.Degree, Target: n.Target, Frozen: n.Frozen, Suspect: suspects[n.Addr]})
	}
	for _, a := range ghosts {
		g.Nodes = append(g.Nodes, Node{Addr: a, Dead: true})
	}
	// The tracker lists links in map order; sorted, an unchanged graph
	// encodes to the same bytes and is not sent again.
	edges := slices.Clone(snap.Edges)
	for i, e := range edges {
		if e[0] > e[1] {
			edges[i] = [2]int{e[1], e[0]}
		}
	}
	slices.SortFunc(edges, func(a, b [2]int) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	for _, e := range edges {
		g.Edges = append(g.Edges, e[0], e[1])
	}
	return g
}

// counts builds the counters; graph is the graph of the same snapshot.
// The peers' own counters are summed in the background when wait is
// false (the hub must not stall on a busy peer), else before returning
// if they are stale.
func (s *Server) counts(snap localnet.Snapshot, g Graph, seeds []Seed, now time.Time, wait bool) Counts {
	c := Counts{Peers: snap.Peers, Started: snap.Started, Links: snap.Links, Components: snap.Components,
		Isolated: snap.Isolated, BelowTarget: snap.BelowTarget, Messages: s.net.Tracker.MessageCount(), Seeds: len(seeds)}
	var live []netip.AddrPort
	for _, n := range g.Nodes {
		if n.Frozen {
			c.Frozen++
		}
		if n.Dead {
			c.Dead++
		} else if a, err := netip.ParseAddrPort(n.Addr); err == nil {
			live = append(live, a)
		}
	}
	for _, sd := range seeds {
		if sd.Up {
			c.SeedsUp++
		}
	}
	cc := s.cache
	cc.mu.Lock()
	if !cc.propFilled || now.Sub(cc.propAt) >= s.opts.StatsEvery {
		// A scan of every message: cheap for a few, not for 10,000.
		cc.prop, cc.propAt, cc.propFilled = s.net.Tracker.Propagation(), now, true
		cc.usage, cc.bp = s.net.Usage(), s.net.Backpressure()
		cc.falseDead, cc.falseRem = s.net.Tracker.FalseDeaths()
	}
	stale := !cc.statsFilled || now.Sub(cc.statsAt) >= s.opts.StatsEvery
	start := stale && !cc.statsBusy
	if start {
		cc.statsBusy, cc.statsAt = true, now
	}
	cc.mu.Unlock()
	if start {
		if wait {
			s.sumPeerStats(live)
		} else {
			go s.sumPeerStats(live)
		}
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	c.Complete, c.P50, c.P99, c.MaxHops, c.Deliveries = cc.prop.Complete, cc.prop.P50, cc.prop.P99, cc.prop.MaxHops, cc.prop.Deliveries
	c.LocalPeers, c.Forwarded, c.Duplicates = cc.local, cc.fwd, cc.dups
	c.Coverage, c.FalseDeadReports, c.FalseSeedRemovals = round(cc.prop.Coverage, 4), cc.falseDead, cc.falseRem
	c.SlowCloses, c.Demoted = cc.bp.SlowCloses, cc.bp.Demoted
	if cc.prop.Deliveries > 0 {
		c.CPUUsPerDelivery = round(float64(cc.usage.CPU.Microseconds())/float64(cc.prop.Deliveries), 3)
	}
	c.PeakRSSMB = round(float64(cc.usage.PeakRSS)/(1<<20), 1)
	return c
}

// sumPeerStats sums the counters of the in-process peers among live. Each
// peer answers on its own event loop, so on a loaded machine the sum of
// 1,000 peers can take a while; nothing waits for it but the API.
func (s *Server) sumPeerStats(live []netip.AddrPort) {
	local := 0
	var fwd, dups uint64
	for _, a := range live {
		if p, ok := s.net.LocalPeer(a); ok {
			st := p.Stats()
			local++
			fwd += st.Forwarded
			dups += st.Duplicates
		}
	}
	cc := s.cache
	cc.mu.Lock()
	cc.local, cc.fwd, cc.dups, cc.statsBusy, cc.statsFilled = local, fwd, dups, false, true
	cc.mu.Unlock()
}

// seeds lists the seeds of the config in address order.
func (s *Server) seeds() []Seed {
	var out []Seed
	for a, up := range s.net.Seeds() {
		sd := Seed{Addr: a.String(), Up: up}
		if sv, ok := s.net.Seed(a); ok {
			sd.Registered = len(sv.Peers())
		} else if s.net.Observed() {
			sd.Registered = s.net.SeedRegistered(a)
		}
		out = append(out, sd)
	}
	slices.SortFunc(out, func(a, b Seed) int {
		return netip.MustParseAddrPort(a.Addr).Compare(netip.MustParseAddrPort(b.Addr))
	})
	return out
}

// messages lists the newest n messages, newest first.
func (s *Server) messages(n int) []Message {
	t := s.net.Tracker
	dups := t.DuplicatesTracked()
	out := []Message{}
	for _, v := range t.Messages(n, false) {
		if a, err := netip.ParseAddrPort(v.Origin); err == nil {
			v.Reached, v.Live, _ = t.Coverage(a, v.Seq)
		}
		out = append(out, s.message(v, dups))
	}
	return out
}

func (s *Server) message(v localnet.MessageView, dups bool) Message {
	m := Message{Origin: v.Origin, Seq: v.Seq, Text: v.Text, Created: v.Created, Receivers: v.Count, MaxHops: v.MaxHops, SpreadMs: v.SpreadMs,
		Reached: v.Reached, Live: v.Live}
	if dups {
		d := v.Duplicates
		m.Duplicates = &d
	}
	return m
}

// messageDetail returns one message with its receipts.
func (s *Server) messageDetail(origin netip.AddrPort, seq uint32) (MessageDetail, bool) {
	t := s.net.Tracker
	v, ok := t.Message(origin, seq)
	if !ok {
		return MessageDetail{}, false
	}
	d := MessageDetail{Message: s.message(v, t.DuplicatesTracked()), Receipts: v.Receipts}
	if d.Receipts == nil {
		d.Receipts = []localnet.Receipt{}
	}
	// The tracker keeps receipts of its newest messages only; an older
	// message with receivers but no receipts has lost them.
	d.ReceiptsKept = len(v.Receipts) == v.Count
	return d, true
}
