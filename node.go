package whispernet

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/whispernet/whispernet/config"
	"github.com/whispernet/whispernet/identity"
	"github.com/whispernet/whispernet/node"
	"github.com/whispernet/whispernet/peer"
	"github.com/whispernet/whispernet/wire"
)

// Sentinel errors; the errors returned wrap them, so callers tell them
// apart with errors.Is.
var (
	// ErrConfig: New or NewSeed was given a configuration that cannot work.
	ErrConfig = errors.New("whispernet: invalid config")
	// ErrPayloadTooLarge: Publish was given more than MaxPayload bytes.
	ErrPayloadTooLarge = errors.New("whispernet: payload too large")
	// ErrStopped: the node (or seed) has left or been closed.
	ErrStopped = errors.New("whispernet: stopped")
	// ErrNotStarted: the call needs Start first.
	ErrNotStarted = errors.New("whispernet: not started")
	// ErrStarted: Start was called twice.
	ErrStarted = errors.New("whispernet: already started")
)

// Message is a message some other node published, as this node first
// received it. Copies that arrive later are dropped by the protocol, so
// each (Origin, Seq) comes at most once.
type Message struct {
	// Origin is the publishing node's address, "IP:PORT".
	Origin string
	// OriginKey is the public key that signed the message, checked by
	// every node on the way (zero for unsigned gossip, which a node
	// accepts only with Config.Sign off). OriginKey.ID() is the origin's
	// node ID.
	OriginKey identity.PublicKey
	// Seq is the message's sequence number at its origin, from 1.
	Seq uint32
	// Data is the payload, exactly as published. The application owns it.
	Data []byte
	// Sent is the origin's clock when it published the message, to the
	// microsecond.
	Sent time.Time
	// Received is when this node received it.
	Received time.Time
	// From is the neighbour it came from, "IP:PORT".
	From string
	// Hops counts the links it crossed to get here (1: straight from
	// its origin).
	Hops int
}

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds.
const (
	// EventJoin: a link to a neighbour came up.
	EventJoin EventKind = iota + 1
	// EventLeave: a neighbour left the network gracefully (it said so
	// before its link closed, and told the seeds).
	EventLeave
	// EventDead: a neighbour was declared dead (it stopped answering)
	// and reported to the seeds.
	EventDead
	// EventDown: a link to a neighbour went down without a leave. The
	// node checks it at once: EventDead follows if the neighbour does not
	// answer a new handshake, EventJoin if the link comes up again.
	EventDown
)

// String returns the kind's name: join, leave, dead or down.
func (k EventKind) String() string {
	switch k {
	case EventJoin:
		return "join"
	case EventLeave:
		return "leave"
	case EventDead:
		return "dead"
	case EventDown:
		return "down"
	}
	return fmt.Sprintf("EventKind(%d)", k)
}

// Event is a change among the node's neighbours.
type Event struct {
	Kind EventKind
	// Addr is the neighbour's address, "IP:PORT".
	Addr string
	// Time is when the node saw it.
	Time time.Time
}

// MemberState says what a node knows of a member.
type MemberState uint8

// Member states.
const (
	// StateNeighbour: linked to this node right now.
	StateNeighbour MemberState = iota + 1
	// StateKnown: listed by a seed, not linked.
	StateKnown
	// StateDown: was a neighbour; its link went down without a leave,
	// and it has not been found dead (yet).
	StateDown
	// StateLeft: was a neighbour and left gracefully.
	StateLeft
	// StateDead: was a neighbour and was declared dead.
	StateDead
)

// String returns the state's name: neighbour, known, down, left or dead.
func (s MemberState) String() string {
	switch s {
	case StateNeighbour:
		return "neighbour"
	case StateKnown:
		return "known"
	case StateDown:
		return "down"
	case StateLeft:
		return "left"
	case StateDead:
		return "dead"
	}
	return fmt.Sprintf("MemberState(%d)", s)
}

// Member is another node as this one knows it. WhisperNet nodes keep a
// partial view: their neighbours, the candidates their seeds listed, and
// the neighbours they recently lost (the last 256).
type Member struct {
	// Addr is the member's address, "IP:PORT".
	Addr  string
	State MemberState
	// Since is when it became a neighbour, went down, left or was
	// declared dead (zero for StateKnown).
	Since time.Time
	// RTT is the last liveness round trip (neighbours only).
	RTT time.Duration
	// Cap and Degree are its capacity and degree as a seed last listed
	// them (zero if no seed listed it).
	Cap, Degree int
}

// maxGone bounds the lost neighbours Members remembers.
const maxGone = 256

// Stats are the node's counters.
type Stats struct {
	// MessagesDropped counts messages not delivered to Messages because
	// its channel was full.
	MessagesDropped uint64
	// EventsDropped counts events not delivered to Events because its
	// channel was full.
	EventsDropped uint64
	// Runtime holds the protocol and runtime counters.
	Runtime node.PeerStats
}

// Node is one WhisperNet node: it joins the network through its seeds,
// keeps links to neighbours, and broadcasts what it publishes to every
// other node. Its methods are safe for concurrent use.
type Node struct {
	cfg Config
	evs chan Event // unbuffered and never sent on when events are off (EventBuffer 0)

	mu     sync.Mutex // guards state, rt, msgs and closed
	state  int        // stateNew, stateRunning, stateStopped
	rt     *node.Peer
	msgs   chan Message // made by the first Messages call
	closed bool         // the channels are closed (Close ran)
	stop   sync.Once
	done   chan struct{}

	msgDrops, evDrops atomic.Uint64
	// msgSink is msgs once Messages was called: the Deliver hook copies
	// messages for it only then.
	msgSink atomic.Pointer[chan Message]

	// Loop-owned: touched only by hooks and Inspect, on the runtime's loop.
	gone      map[netip.AddrPort]Member
	goneOrder []netip.AddrPort
}

const (
	stateNew = iota
	stateRunning
	stateStopped
)

// New checks cfg and returns a node; Start makes it join the network.
func New(cfg Config) (*Node, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.Seeds = slices.Clone(cfg.Seeds)
	return &Node{
		cfg:  cfg,
		evs:  make(chan Event, cfg.EventBuffer),
		gone: make(map[netip.AddrPort]Member),
		done: make(chan struct{}),
	}, nil
}

// Start resolves the seeds and listens, and the node begins to join: it
// returns once the node accepts connections, with its registration with
// the seeds under way (it does not wait for neighbours; watch Events or
// Members for that). ctx bounds only the start (the look-ups of host
// names); the node runs until Leave or Close. A Start that fails may be
// tried again.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	su, err := prepare(ctx, n.state, n.cfg.Transport, "peer", n.cfg.Seeds, n.cfg.Listen, n.cfg.Advertise)
	if err != nil {
		return err
	}
	rc := n.cfg.runtimeConfig()
	rc.Core.Self, rc.Listen, rc.Core.Seeds, rc.SeedNames = su.self, su.bound, su.list, su.names
	if n.cfg.Runtime != nil {
		n.cfg.Runtime(&rc)
	}
	rc.Transport = su.transport()
	n.hook(&rc.Hooks)
	rt, err := launch(su, func() (*node.Peer, error) { return node.NewPeer(rc) })
	if err != nil {
		return err
	}
	n.rt, n.state = rt, stateRunning
	return nil
}

// hook chains the node's hooks after those h already holds.
func (n *Node) hook(h *node.Hooks) {
	deliver, link, left, dead := h.Deliver, h.Link, h.Left, h.Dead
	h.Deliver = func(self, from netip.AddrPort, m wire.Message, at time.Time) {
		if deliver != nil {
			deliver(self, from, m, at)
		}
		sink := n.msgSink.Load()
		if from == self || sink == nil {
			return // our own (the application has it), or nobody reads them
		}
		msg := Message{Origin: m.Addr.String(), Seq: m.Seq, Data: []byte(m.Text), Sent: m.Time.Time(), Received: at, From: from.String(), Hops: int(m.Hops) + 1}
		if m.Auth != nil {
			msg.OriginKey = m.Auth.Key
		}
		select {
		case *sink <- msg:
		default:
			n.msgDrops.Add(1)
		}
	}
	h.Link = func(self, other netip.AddrPort, up bool, at time.Time) {
		if link != nil {
			link(self, other, up, at)
		}
		switch {
		case up:
			n.forgetGone(other)
			n.event(Event{Kind: EventJoin, Addr: other.String(), Time: at})
		case n.gone[other].State == StateLeft:
			// The link going down after a leave: EventLeave said it.
		default:
			n.rememberGone(Member{Addr: other.String(), State: StateDown, Since: at}, other)
			n.event(Event{Kind: EventDown, Addr: other.String(), Time: at})
		}
	}
	h.Left = func(self, other netip.AddrPort, at time.Time) {
		if left != nil {
			left(self, other, at)
		}
		n.rememberGone(Member{Addr: other.String(), State: StateLeft, Since: at}, other)
		n.event(Event{Kind: EventLeave, Addr: other.String(), Time: at})
	}
	h.Dead = func(self, other netip.AddrPort, at time.Time) {
		if dead != nil {
			dead(self, other, at)
		}
		n.rememberGone(Member{Addr: other.String(), State: StateDead, Since: at}, other)
		n.event(Event{Kind: EventDead, Addr: other.String(), Time: at})
	}
}

func (n *Node) event(e Event) {
	if n.cfg.EventBuffer == 0 {
		return // events off
	}
	select {
	case n.evs <- e:
	default:
		n.evDrops.Add(1)
	}
}

func (n *Node) rememberGone(m Member, a netip.AddrPort) {
	if _, ok := n.gone[a]; !ok {
		if len(n.goneOrder) >= maxGone {
			delete(n.gone, n.goneOrder[0])
			n.goneOrder = n.goneOrder[1:]
		}
		n.goneOrder = append(n.goneOrder, a)
	}
	n.gone[a] = m
}

func (n *Node) forgetGone(a netip.AddrPort) {
	if _, ok := n.gone[a]; ok {
		delete(n.gone, a)
		n.goneOrder = slices.DeleteFunc(n.goneOrder, func(x netip.AddrPort) bool { return x == a })
	}
}

// running returns the runtime, or the error for a node not running.
func (n *Node) running() (*node.Peer, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch n.state {
	case stateNew:
		return nil, ErrNotStarted
	case stateStopped:
		return nil, ErrStopped
	}
	return n.rt, nil
}

// Addr returns the address the node announces, "IP:PORT" (empty before
// Start).
func (n *Node) Addr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.rt == nil {
		return ""
	}
	return n.rt.Addr().String()
}

// Publish broadcasts data to every node of the network. data may hold any
// bytes, up to MaxPayload; Publish copies it. It returns once the node has
// sent the message to its neighbours' queues (a node with no neighbour yet
// sends it nowhere), or ctx's error if ctx ends first.
func (n *Node) Publish(ctx context.Context, data []byte) error {
	if len(data) > MaxPayload {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrPayloadTooLarge, len(data), MaxPayload)
	}
	rt, err := n.running()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("whispernet: publish: %w", err) // not published
	}
	if _, err := rt.PublishContext(ctx, string(data)); err != nil {
		if errors.Is(err, node.ErrStopped) {
			return ErrStopped
		}
		return fmt.Errorf("whispernet: publish: %w", err)
	}
	return nil
}

// Messages returns the channel of messages other nodes published, in the
// order this node received them. It holds Config.MessageBuffer messages;
// when it is full a new message is not delivered to it and
// Stats().MessagesDropped counts it (the node still forwards it). It is
// closed when the node stops. The node's own messages are not on it.
//
// The channel is made, and delivery to it begins, with the first call to
// Messages: a node whose application only publishes (or watches the
// runtime's hooks) holds no channel and copies nothing. Call it before
// Start to miss nothing.
func (n *Node) Messages() <-chan Message {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.msgs == nil {
		n.msgs = make(chan Message, n.cfg.MessageBuffer)
		if n.closed {
			close(n.msgs)
		} else {
			n.msgSink.Store(&n.msgs)
		}
	}
	return n.msgs
}

// Events returns the channel of changes among the neighbours (join, leave,
// dead, down), bounded like Messages (Config.EventBuffer,
// Stats().EventsDropped); events are put on it from Start. It is closed
// when the node stops. With Config.EventBuffer 0 (events off) it carries
// nothing and is closed once the node has stopped.
func (n *Node) Events() <-chan Event { return n.evs }

// Members returns the nodes this one knows, sorted by state (neighbours
// first) then address: its neighbours, the candidates its seeds listed, and
// up to 256 neighbours it lost recently. It returns nil when the node is
// not running.
func (n *Node) Members() []Member {
	rt, err := n.running()
	if err != nil {
		return nil
	}
	var out []Member
	rt.Inspect(func(core *peer.Peer) {
		seen := make(map[netip.AddrPort]int)
		for _, nb := range core.Neighbours() {
			seen[nb.Addr] = len(out)
			out = append(out, Member{Addr: nb.Addr.String(), State: StateNeighbour, Since: nb.Since, RTT: nb.RTT})
		}
		for _, c := range core.Candidates() {
			if i, ok := seen[c.Addr]; ok {
				out[i].Cap, out[i].Degree = c.Cap, c.Degree
				continue
			}
			m := Member{Addr: c.Addr.String(), State: StateKnown, Cap: c.Cap, Degree: c.Degree}
			if g, ok := n.gone[c.Addr]; ok {
				m.State, m.Since = g.State, g.Since
			}
			seen[c.Addr] = len(out)
			out = append(out, m)
		}
		for a, g := range n.gone {
			if _, ok := seen[a]; !ok {
				out = append(out, g)
			}
		}
	})
	slices.SortFunc(out, func(a, b Member) int {
		x, _ := netip.ParseAddrPort(a.Addr)
		y, _ := netip.ParseAddrPort(b.Addr)
		return cmp.Or(cmp.Compare(a.State, b.State), x.Compare(y))
	})
	return out
}

// Stats returns the node's counters (zero before Start).
func (n *Node) Stats() Stats {
	s := Stats{MessagesDropped: n.msgDrops.Load(), EventsDropped: n.evDrops.Load()}
	if rt, err := n.running(); err == nil {
		s.Runtime = rt.Stats()
	}
	return s
}

// Key returns the node's identity (nil before Start): Config.Key, or the
// fresh one Start made. Key().ID() is its node ID.
func (n *Node) Key() *identity.Key {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.rt == nil {
		return nil
	}
	return n.rt.Key()
}

// Runtime returns the runtime that drives the node, for status pages and
// metrics (nil before Start).
func (n *Node) Runtime() *node.Peer {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.rt
}

// Done is closed once the node has stopped (Leave or Close).
func (n *Node) Done() <-chan struct{} { return n.done }

// Leave leaves the network gracefully and stops the node: it tells its
// neighbours (Leaving), which drop the link at once and report nothing
// dead (their Events say EventLeave), and the seeds it registered with,
// which remove it from their lists. It returns once every seed has
// answered and the neighbours' lines are written, or when ctx ends; the
// node is stopped either way (as by Close), and the error says whether
// the leave was complete.
func (n *Node) Leave(ctx context.Context) error {
	rt, err := n.running()
	if err != nil {
		return err
	}
	err = rt.Leave(ctx)
	n.Close()
	if err != nil {
		if errors.Is(err, node.ErrStopped) {
			return ErrStopped
		}
		return fmt.Errorf("whispernet: %w", err)
	}
	return nil
}

// Close stops the node at once: every link closes, as a crash would look
// to the neighbours (they find it dead and report it). Prefer Leave. Close
// closes the Messages and Events channels; calling it again does nothing.
func (n *Node) Close() error {
	n.mu.Lock()
	rt := n.rt
	n.state = stateStopped
	n.mu.Unlock()
	n.stop.Do(func() {
		if rt != nil {
			rt.Stop() // waits for the loop, so no hook runs after it
		}
		n.mu.Lock()
		n.closed = true
		if n.msgs != nil {
			close(n.msgs)
		}
		n.mu.Unlock()
		close(n.evs)
		close(n.done)
	})
	return nil
}

// startup is what Node.Start and Seed.Start have before they build the
// runtime: the resolved list (the seeds, or the other seeds) and the bound
// listener.
type startup struct {
	tr          node.Transport
	ln          net.Listener
	list        []netip.AddrPort
	names       []config.HostPort // see resolveList
	bound, self netip.AddrPort    // see listen
}

// prepare checks that a node or seed in state may start, resolves list
// and binds the listener on tr (nil: TCP); role ("peer", "seed") names
// the listener in errors.
func prepare(ctx context.Context, state int, tr node.Transport, role string, list []string, listenAddr, advertise string) (startup, error) {
	switch state {
	case stateRunning:
		return startup{}, ErrStarted
	case stateStopped:
		return startup{}, ErrStopped
	}
	addrs, names, err := resolveList(ctx, list)
	if err != nil {
		return startup{}, fmt.Errorf("whispernet: %w", err)
	}
	if tr == nil {
		tr = node.TCP{}
	}
	ln, bound, self, err := listen(ctx, tr, role, listenAddr, advertise)
	if err != nil {
		return startup{}, err
	}
	return startup{tr: tr, ln: ln, list: addrs, names: names, bound: bound, self: self}, nil
}

// transport is the runtime's transport: tr, with the listener prepare
// bound.
func (su startup) transport() node.Transport { return boundTransport{Transport: su.tr, ln: su.ln} }

// launch builds the runtime and starts it; if either fails it closes the
// listener, so that Start may be tried again.
func launch[R interface{ Start(context.Context) error }](su startup, build func() (R, error)) (R, error) {
	rt, err := build()
	if err == nil {
		err = rt.Start(context.Background())
	}
	if err != nil {
		su.ln.Close()
		var none R
		return none, fmt.Errorf("whispernet: %w", err)
	}
	return rt, nil
}

// resolveList resolves "host:port" entries (one attempt each). names is
// the parsed list when it holds a host name, for the runtime to look up
// again when a seed cannot be reached, and nil otherwise.
func resolveList(ctx context.Context, list []string) (addrs []netip.AddrPort, names []config.HostPort, err error) {
	hps := make([]config.HostPort, len(list))
	named := false
	for i, s := range list {
		if hps[i], err = config.ParseHostPort(s); err != nil {
			return nil, nil, fmt.Errorf("seed %q: %w", s, err)
		}
		named = named || hps[i].IsName()
	}
	if addrs, err = config.ResolveAll(ctx, nil, hps, 0, time.Second); err != nil {
		return nil, nil, err
	}
	if named {
		names = hps
	}
	return addrs, names, nil
}

// listen binds the listening socket (port 0: a free one) and works out
// the address to announce: Advertise resolved, its port 0 (or none given)
// the bound port.
func listen(ctx context.Context, tr node.Transport, role, listenAddr, advertise string) (ln net.Listener, bound, self netip.AddrPort, err error) {
	host, port, err := splitHostPort(listenAddr, true)
	if err != nil {
		return nil, bound, self, fmt.Errorf("whispernet: listen %q: %w", listenAddr, err)
	}
	ip := netip.IPv4Unspecified()
	if host != "" {
		if ip, err = netip.ParseAddr(host); err != nil {
			return nil, bound, self, fmt.Errorf("whispernet: listen %q: %w", listenAddr, err)
		}
	}
	if ln, err = node.Listen(tr, role, netip.AddrPortFrom(ip.Unmap(), port)); err != nil {
		return nil, bound, self, err // "peer 127.0.0.1:5000: address already in use (...)"
	}
	got, err := netip.ParseAddrPort(ln.Addr().String())
	if err != nil {
		ln.Close()
		return nil, bound, self, fmt.Errorf("whispernet: listen %s: bound to %v: %w", listenAddr, ln.Addr(), err)
	}
	// The port is the one bound (port 0 picks); the IP stays the one
	// asked for: Go reports 0.0.0.0 as [::] on a dual-stack socket.
	bound = netip.AddrPortFrom(ip.Unmap(), got.Port())
	self = bound
	if advertise != "" {
		ahost, aport, _ := splitHostPort(advertise, true) // checked by New
		if aport == 0 {
			aport = bound.Port()
		}
		h := config.HostPort{Host: ahost, Port: aport}
		if a, perr := netip.ParseAddr(ahost); perr == nil {
			h = config.HostPort{IP: a.Unmap(), Port: aport}
		}
		if self, err = config.Resolve(ctx, nil, h); err != nil {
			ln.Close()
			return nil, bound, self, fmt.Errorf("whispernet: advertise %q: %w", advertise, err)
		}
	}
	return ln, bound, self, nil
}

// boundTransport hands the runtime the listener Start already bound, so
// that the core is built knowing its port.
type boundTransport struct {
	node.Transport
	ln net.Listener
}

func (b boundTransport) Listen(netip.AddrPort) (net.Listener, error) { return b.ln, nil }
