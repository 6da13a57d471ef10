package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/whispernet/whispernet/config"
	"github.com/whispernet/whispernet/eventlog"
	"github.com/whispernet/whispernet/identity"
	"github.com/whispernet/whispernet/peer"
	"github.com/whispernet/whispernet/wire"
)

// PeerConfig configures a TCP peer. Start from DefaultPeerConfig.
type PeerConfig struct {
	// Core is the protocol configuration. Core.Self is the address the
	// peer advertises: what it registers with the seeds and names in its
	// handshakes, so what the other peers must be able to reach.
	Core peer.Config
	// Listen is the address to listen on (zero: Core.Self). It differs
	// from Core.Self in a container or behind NAT: listen on 0.0.0.0:5000,
	// advertise peer-3:5000 resolved, or the router's address.
	Listen netip.AddrPort
	// SeedNames are the config.txt entries Core.Seeds were resolved from,
	// in the same order (nil: Core.Seeds are literals). A seed that cannot
	// be reached is looked up again by its name, so a seed that came back
	// with another address is found; the core keeps knowing it by the
	// address it had at the start.
	SeedNames []config.HostPort
	// Resolver looks seed names up (nil: net.DefaultResolver).
	Resolver config.Resolver
	// Log receives outputfile.log and freqtrack.log lines (nil: none).
	Log *eventlog.Writer
	// Logger receives operational diagnostics (nil: discarded).
	Logger *slog.Logger
	// RandSeed seeds the core's RNG; 0 picks a random seed.
	RandSeed uint64
	// QueueLen bounds each connection's gossip lane, in lines (the writer
	// holds at most as many again while it writes them). A full lane is
	// backpressure, never a reason to close: in Plumtree mode the message
	// is announced instead (an ihave, repaired by a graft), in flood mode
	// it is dropped and counted. Control lines (handshakes, liveness,
	// ihave/graft/prune) have a lane of their own, written first
	// (docs/load.md).
	QueueLen int
	// QueueBytes bounds the gossip bytes queued on all the peer's
	// connections together (a line queued to several neighbours counts
	// once per neighbour): beyond it a gossip line is not queued, as if
	// its lane were full (demoted or dropped, and counted in BudgetFull).
	// It bounds the peer's memory under a backlog (docs/load.md).
	QueueBytes int
	// DialTimeout bounds a TCP dial to a peer or seed; RequestTimeout a
	// seed's reply. WriteTimeout closes a link whose writes make no
	// progress at all for this long: the neighbour has stopped reading
	// (counted in SlowCloses). It is longer than the classic liveness
	// verdict (3 × 13 s), so that liveness decides first.
	DialTimeout, RequestTimeout, WriteTimeout time.Duration
	// MaxErrors closes a connection after this many malformed lines.
	MaxErrors int
	// Hooks observe the peer (each may be nil). They run on the peer's
	// event loop and must not block.
	Hooks Hooks
	// Transport listens and dials (nil: TCP). Tests use a
	// *memnet.Network.
	Transport Transport
}

// Hooks are callbacks that let a harness, the dashboard or metrics watch a
// peer without polling it.
type Hooks struct {
	// Deliver: the first receipt of m (from is the neighbour it came from,
	// or the peer itself for messages it originated).
	Deliver func(self, from netip.AddrPort, m wire.Message, at time.Time)
	// Degree: the peer's degree changed.
	Degree func(self netip.AddrPort, degree int)
	// Dead: the peer declared a neighbour dead.
	Dead func(self, dead netip.AddrPort, at time.Time)
	// Left: the neighbour other said it was leaving (a graceful leave, not
	// a failure); the Link hook reports the link going down after it.
	Left func(self, other netip.AddrPort, at time.Time)
	// Event: a line for outputfile.log.
	Event func(self netip.AddrPort, at time.Time, text string)
	// Link: the link to other came up or went down.
	Link func(self, other netip.AddrPort, up bool, at time.Time)
	// Duplicate: a copy of an already seen message m arrived from the
	// neighbour from. Setting it turns on Config.Core.ReportDuplicates.
	Duplicate func(self, from netip.AddrPort, m wire.Message)
}

// DefaultPeerConfig returns the classic timers and runtime limits.
func DefaultPeerConfig() PeerConfig {
	return PeerConfig{
		Core:           peer.DefaultConfig(),
		QueueLen:       1024,
		QueueBytes:     DefaultQueueBytes,
		DialTimeout:    3 * time.Second,
		RequestTimeout: 5 * time.Second,
		WriteTimeout:   60 * time.Second,
		MaxErrors:      10,
	}
}

// DefaultQueueBytes is PeerConfig.QueueBytes by default: at the classic
// load a peer's eager links carry some 200 signed lines (about 90 KB) a
// second at 1,000 peers, so 2 MiB is tens of seconds of backlog.
const DefaultQueueBytes = 2 << 20

// PeerStats are the runtime counters beside the core's.
type PeerStats struct {
	peer.Stats `json:"core"`
	QueueDrops uint64  `json:"queue_drops"` // gossip lines dropped because a neighbour's queue was full (flood mode)
	Demoted    uint64  `json:"demoted"`     // gossip lines announced (ihave) instead, because a neighbour's queue was full (Plumtree)
	BudgetFull uint64  `json:"budget_full"` // of the demoted and dropped lines, those refused because the peer's queued gossip reached QueueBytes
	SlowCloses uint64  `json:"slow_closes"` // links closed because the neighbour stopped reading (no write progress for WriteTimeout)
	IO                 // system calls to and from neighbours
	MaxLagMs   float64 `json:"max_lag_ms"` // the event loop's largest lag so far: a timer's lateness, or an event's wait in the queue
	BadLines   uint64  `json:"bad_lines"`  // malformed lines received
	Accepted   uint64  `json:"accepted"`   // inbound TCP connections accepted
}

type evKind uint8

const (
	evAccepted evKind = iota
	evDialed
	evDialFailed
	evLine   // one control line (msg)
	evGossip // a batch of gossip lines (batch)
	evBadLine
	evClosed
	evSeed
)

// event is what reader, dialer, accept and seed goroutines hand the loop.
// Control events go on the urgent lane, which the loop always empties
// first; gossip batches and closes on the other.
type event struct {
	kind  evKind
	id    peer.ConnID
	addr  netip.AddrPort
	tc    *tconn
	msg   *wire.Message
	req   *wire.Message
	batch *[]wire.Message
	err   error
	at    time.Time // when it was posted (the loop's lag)
}

// maxBatch is the most gossip lines a reader hands the loop at once.
const maxBatch = 64

// batchPool recycles the batches (a batch grows to what a burst needs).
var batchPool = sync.Pool{New: func() any { b := make([]wire.Message, 0, 8); return &b }}

// Peer is a WhisperNet peer over TCP.
type Peer struct {
	cfg    PeerConfig
	core   *peer.Peer
	log    *slog.Logger
	tr     Transport
	dialer *dialer

	ln      net.Listener
	urgent  chan event // control lines, connection events, seed replies
	events  chan event // gossip batches and closes
	ctl     chan func()
	cancel  context.CancelFunc
	ctx     context.Context
	done    chan struct{}
	wg      sync.WaitGroup
	nextID  atomic.Uint64
	cnt     connCounters
	bad     atomic.Uint64
	accepts atomic.Uint64

	// Loop-owned state.
	conns  map[peer.ConnID]*tconn
	errs   map[peer.ConnID]int
	seeds  map[netip.AddrPort]*seedClient
	frozen bool
	start  time.Time
	leftCh chan struct{}    // closed when the core says Left (Leave)
	logBuf *eventlog.Buffer // this peer's lines for cfg.Log (nil without one)
	kicks  []*tconn         // connections with lines queued since the last kick
	demote []demotion
	maxLag time.Duration
	lagMax atomic.Int64 // maxLag for Stats, in nanoseconds

	started time.Time // set by Start, read-only afterwards
}

// NewPeer checks cfg and builds a peer; Start makes it listen.
func NewPeer(cfg PeerConfig) (*Peer, error) {
	seed := cfg.RandSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	if cfg.Hooks.Duplicate != nil {
		cfg.Core.ReportDuplicates = true
	}
	if cfg.Core.Key == nil {
		k, err := identity.Generate(nil)
		if err != nil {
			return nil, err
		}
		cfg.Core.Key = k
	}
	if cfg.Core.Verifier == nil {
		cfg.Core.Verifier = identity.Shared()
	}
	core, err := peer.New(cfg.Core, peer.NewRand(seed))
	if err != nil {
		return nil, err
	}
	if cfg.QueueLen <= 0 || cfg.QueueBytes <= 0 || cfg.MaxErrors <= 0 {
		return nil, fmt.Errorf("%w: QueueLen, QueueBytes and MaxErrors must be positive", peer.ErrConfig)
	}
	if cfg.DialTimeout <= 0 || cfg.RequestTimeout <= 0 || cfg.WriteTimeout <= 0 {
		return nil, fmt.Errorf("%w: timeouts must be positive", peer.ErrConfig)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	self := cfg.Core.Self
	if !cfg.Listen.IsValid() {
		cfg.Listen = self
	}
	if cfg.SeedNames != nil && len(cfg.SeedNames) != len(cfg.Core.Seeds) {
		return nil, fmt.Errorf("%w: %d SeedNames for %d seeds", peer.ErrConfig, len(cfg.SeedNames), len(cfg.Core.Seeds))
	}
	tr := cfg.Transport
	if tr == nil {
		tr = TCP{}
	}
	p := &Peer{
		cfg:    cfg,
		core:   core,
		log:    logger.With("peer", self.String()),
		tr:     tr,
		dialer: newDialer(tr, sourceIP(cfg.Listen.Addr(), self.Addr()), cfg.DialTimeout),
		urgent: make(chan event, 256),
		events: make(chan event, 128),
		ctl:    make(chan func(), 16),
		done:   make(chan struct{}),
		conns:  make(map[peer.ConnID]*tconn),
		errs:   make(map[peer.ConnID]int),
		seeds:  make(map[netip.AddrPort]*seedClient),
	}
	p.cnt.queueMax = int64(cfg.QueueBytes)
	for i, s := range cfg.Core.Seeds {
		sc := newSeedClient(s, p.dialer, cfg.RequestTimeout, &p.wg, func(req, reply wire.Message, err error) {
			p.postUrgent(event{kind: evSeed, addr: s, req: &req, msg: &reply, err: err})
		})
		if cfg.SeedNames != nil {
			sc.name, sc.resolver, sc.log = cfg.SeedNames[i], cfg.Resolver, p.log
		}
		p.seeds[s] = sc
	}
	if cfg.Log != nil {
		p.logBuf = cfg.Log.Buffer()
	}
	return p, nil
}

// Addr returns the peer's advertised address.
func (p *Peer) Addr() netip.AddrPort { return p.cfg.Core.Self }

// Key returns the peer's identity (its node ID is Key().ID()).
func (p *Peer) Key() *identity.Key { return p.cfg.Core.Key }

// ListenAddr returns the address the peer listens on (after Start: the
// bound one).
func (p *Peer) ListenAddr() netip.AddrPort {
	if p.ln != nil {
		if a, err := netip.ParseAddrPort(p.ln.Addr().String()); err == nil {
			return a
		}
	}
	return p.cfg.Listen
}

// Started returns when the peer started (zero before Start).
func (p *Peer) Started() time.Time { return p.started }

// Alive reports whether the peer has started and not stopped.
func (p *Peer) Alive() bool {
	if p.ctx == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Target returns the peer's target degree (fixed when it was built).
func (p *Peer) Target() int { return p.core.Target() }

// Start binds the listening socket and starts the peer; it returns at once.
// A port already in use is reported here. The peer runs until ctx ends or
// Stop is called.
func (p *Peer) Start(ctx context.Context) error {
	ln, err := p.tr.Listen(p.cfg.Listen)
	if err != nil {
		return listenError("peer", p.cfg.Listen, err)
	}
	p.ln = ln
	p.started = time.Now()
	p.ctx, p.cancel = context.WithCancel(ctx)
	p.wg.Add(1)
	go p.acceptLoop()
	go p.loop()
	return nil
}

// Stop shuts the peer down (closing every socket, as a crash would look to
// its neighbours) and waits for its goroutines.
func (p *Peer) Stop() {
	if p.cancel != nil {
		p.cancel()
		<-p.done // the loop ends last, once every other goroutine has
	}
}

// Done is closed once the peer has stopped.
func (p *Peer) Done() <-chan struct{} { return p.done }

// post hands an event to the loop; it gives up when the peer stops.
func (p *Peer) post(e event) { p.postOn(p.events, e) }

// postUrgent hands a control event to the loop, ahead of any gossip.
func (p *Peer) postUrgent(e event) { p.postOn(p.urgent, e) }

func (p *Peer) postOn(ch chan event, e event) {
	e.at = time.Now()
	select {
	case ch <- e:
	case <-p.ctx.Done():
		if e.tc != nil {
			e.tc.shut()
		}
	}
}

// do runs fn on the loop and waits for it; it reports false if the peer
// has stopped. It works while the peer is frozen.
func (p *Peer) do(fn func()) bool {
	ran := make(chan struct{})
	select {
	case p.ctl <- func() { fn(); close(ran) }:
	case <-p.done:
		return false
	}
	select {
	case <-ran:
		return true
	case <-p.done:
		return false
	}
}

// Leave makes the peer leave the network gracefully and stops it: it
// tells its neighbours (Leaving, written before each connection closes) and
// the seeds it is registered with, which drop it at once and log that it
// left; the neighbours replace it without a liveness timeout and report
// nothing dead. Leave waits until every seed has answered (or failed) and
// the Leaving lines are written, or until ctx ends (then it stops the peer
// all the same and returns ctx's error). SIGTERM and SIGINT call it in
// "whispernet peer". It returns ErrStopped if the peer had stopped.
func (p *Peer) Leave(ctx context.Context) error {
	if p.ctx == nil {
		return ErrStopped
	}
	left := make(chan struct{})
	var flushed []*tconn
	ok := p.do(func() {
		p.frozen = false // a frozen peer that is told to leave does
		for _, tc := range p.conns {
			flushed = append(flushed, tc)
		}
		p.leftCh = left
		p.core.Leave(time.Now())
		p.apply(time.Now())
	})
	if !ok {
		return ErrStopped
	}
	var err error
	select {
	case <-left:
	case <-ctx.Done():
		err = fmt.Errorf("node: leave: %w", ctx.Err())
	}
	// The Leaving lines go out before the connections close
	// (closeAfterFlush); wait for that, as a process that exits next
	// would cut them off.
	for _, tc := range flushed {
		select {
		case <-tc.closed:
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("node: leave: %w", ctx.Err())
			}
		}
	}
	p.Stop()
	return err
}

// Freeze makes the peer stop answering while keeping every socket open: a
// silent failure, as of a hung process. Thaw undoes it.
func (p *Peer) Freeze() { p.do(func() { p.frozen = true }) }

// Thaw resumes a frozen peer.
func (p *Peer) Thaw() { p.do(func() { p.frozen = false }) }

// Frozen reports whether the peer is frozen.
func (p *Peer) Frozen() bool {
	var f bool
	p.do(func() { f = p.frozen })
	return f
}

// Publish originates a gossip message with text; it reports the message
// and false if the peer is stopped.
func (p *Peer) Publish(text string) (wire.Message, bool) {
	var m wire.Message
	ok := p.do(func() {
		m = p.core.Publish(time.Now(), text)
		p.apply(time.Now())
	})
	return m, ok
}

// Inspect runs fn on the peer's loop with its core, for status pages. fn
// must not keep the core or block.
func (p *Peer) Inspect(fn func(core *peer.Peer)) bool { return p.do(func() { fn(p.core) }) }

// SlowCloses and Demoted return PeerStats.SlowCloses and .Demoted without
// the round trip through the event loop that Stats needs for the core's
// counters (a summary of 1,000 busy peers reads them all).
func (p *Peer) SlowCloses() uint64 { return p.cnt.slowCloses.Load() }

// Demoted: see SlowCloses.
func (p *Peer) Demoted() uint64 { return p.cnt.demoted.Load() }

// IO counts a peer's system calls to and from its neighbours (over memnet:
// its Write and Read calls). Lines ÷ Writes is how well writes are batched.
type IO struct {
	Writes uint64 `json:"writes"` // write system calls, those that found the socket full included
	Lines  uint64 `json:"lines"`  // lines written
	Reads  uint64 `json:"reads"`  // read system calls, those that found nothing to read included
}

// Add adds o's counts to io's.
func (io *IO) Add(o IO) {
	io.Writes += o.Writes
	io.Lines += o.Lines
	io.Reads += o.Reads
}

// IO returns PeerStats.IO without the loop's round trip (see SlowCloses).
func (p *Peer) IO() IO {
	return IO{Writes: p.cnt.writes.Load(), Lines: p.cnt.lines.Load(), Reads: p.cnt.reads.Load()}
}

// Stats returns the core and runtime counters.
func (p *Peer) Stats() PeerStats {
	var s PeerStats
	p.do(func() { s.Stats = p.core.Stats() })
	s.QueueDrops, s.BadLines, s.Accepted = p.cnt.drops.Load(), p.bad.Load(), p.accepts.Load()
	s.Demoted, s.SlowCloses, s.BudgetFull = p.cnt.demoted.Load(), p.cnt.slowCloses.Load(), p.cnt.budgetFull.Load()
	s.IO = p.IO()
	s.MaxLagMs = float64(p.lagMax.Load()) / 1e6
	return s
}

func (p *Peer) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if p.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				p.log.Warn("accept failed", "err", err)
				time.Sleep(50 * time.Millisecond) // e.g. out of file descriptors
				continue
			}
			return
		}
		p.accepts.Add(1)
		id := peer.ConnID(p.nextID.Add(1))
		tc := newTConn(c, p.cfg.QueueLen, p.cfg.WriteTimeout, &p.cnt)
		remote, _ := netip.ParseAddrPort(c.RemoteAddr().String())
		p.postUrgent(event{kind: evAccepted, id: id, addr: remote, tc: tc})
	}
}

func (p *Peer) dial(id peer.ConnID, addr netip.AddrPort, extra time.Duration) {
	defer p.wg.Done()
	c, err := p.dialer.dial(p.ctx, addr, extra)
	if err != nil {
		p.postUrgent(event{kind: evDialFailed, addr: addr, err: err})
		return
	}
	p.postUrgent(event{kind: evDialed, id: id, addr: addr, tc: newTConn(c, p.cfg.QueueLen, p.cfg.WriteTimeout, &p.cnt)})
}

// read decodes lines from one connection into events until it closes.
// Gossip lines already in the buffer go to the loop as one batch (one
// channel send and one wake-up for many lines); every other line goes at
// once, on the urgent lane, so that a liveness request or a handshake never
// waits behind gossip.
func (p *Peer) read(id peer.ConnID, tc *tconn) {
	defer p.wg.Done()
	br := bufio.NewReaderSize(tc.c, readBuffer)
	lr := wire.NewPeerLineReader(br)
	var batch *[]wire.Message
	flush := func() {
		if batch != nil {
			p.post(event{kind: evGossip, id: id, batch: batch})
			batch = nil
		}
	}
	for {
		line, err := lr.ReadLine()
		if err != nil && !errors.Is(err, wire.ErrTooLong) {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				p.log.Debug("read failed", "conn", id, "err", err)
			}
			flush()
			p.post(event{kind: evClosed, id: id})
			return
		}
		var m wire.Message // (on the stack: only a control line is copied to the heap)
		if err == nil {
			m, err = wire.Parse(line)
		}
		switch {
		case err != nil:
			p.bad.Add(1)
			p.postUrgent(event{kind: evBadLine, id: id, err: err})
		case m.Kind == wire.KindGossip:
			if batch == nil {
				batch = batchPool.Get().(*[]wire.Message)
			}
			*batch = append(*batch, m)
			if len(*batch) == maxBatch {
				flush()
			}
		default:
			ctl := m
			p.postUrgent(event{kind: evLine, id: id, msg: &ctl})
		}
		if lr.Buffered() == 0 && br.Buffered() == 0 {
			flush() // nothing more without a system call: hand over what there is
		}
	}
}

// readBuffer is each connection's read buffer: a burst of gossip lines
// comes in with one system call per this many bytes.
const readBuffer = 4096

// loop runs the core. It is the one goroutine not in p.wg, which counts
// those that post to it (the accept loop, dials, readers, seed clients):
// it ends after them, so that no connection is posted after its drain.
func (p *Peer) loop() {
	defer close(p.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var due, armed time.Time // the deadline the timer is set for; when it was set
	var wait time.Duration   // how long after armed it should fire
	p.start = time.Now()
	if p.cfg.Log != nil {
		k := p.cfg.Core.Key
		p.logBuf.Event(p.start, p.cfg.Core.Self, fmt.Sprintf("node ID %s, public key %s", k.ID(), k.Public()))
	}
	p.core.Start(p.start)
	p.apply(p.start)
	for {
		if d := p.core.NextDeadline(); !d.IsZero() && !d.Equal(due) {
			due = d
			now := time.Now()
			armed, wait = now, max(d.Sub(now), 0)
			timer.Reset(wait)
		}
		if p.frozen {
			select {
			case fn := <-p.ctl:
				fn()
			case <-p.ctx.Done():
				p.shutdown()
				return
			}
			continue
		}
		// The urgent lane first: control lines never wait behind gossip.
		select {
		case e := <-p.urgent:
			p.handle(e)
			p.apply(time.Now())
			continue
		default:
		}
		select {
		case e := <-p.urgent:
			p.handle(e)
		case e := <-p.events:
			p.handle(e)
		case fn := <-p.ctl:
			fn()
		case <-timer.C:
			now := time.Now()
			p.lagged(now, now.Sub(armed)-wait) // (on the monotonic clock)
			due = time.Time{}
			p.core.Tick(now)
		case <-p.ctx.Done():
			p.shutdown()
			return
		}
		p.apply(time.Now())
	}
}

// lagged reports how late the loop handled something it should have
// handled at once: the core stretches its deadlines while the loop is the
// slow one (peer.Peer.LoopLag).
func (p *Peer) lagged(now time.Time, lag time.Duration) {
	if lag > p.maxLag {
		p.maxLag = lag
		p.lagMax.Store(int64(lag))
	}
	p.core.LoopLag(now, lag)
}

func (p *Peer) shutdown() {
	p.ln.Close()
	p.core.Stop(time.Now())
	p.apply(time.Now())
	for id, tc := range p.conns {
		tc.shut()
		delete(p.conns, id)
	}
	// Drain events until every poster has given up (each does once the
	// context is done): a dial or accept that raced the shutdown may
	// still post a connection, which must be closed, not leaked.
	posters := make(chan struct{})
	go func() { p.wg.Wait(); close(posters) }()
	discard := func(e event) {
		if e.tc != nil {
			e.tc.shut()
		}
	}
	for {
		select {
		case e := <-p.events:
			discard(e)
		case e := <-p.urgent:
			discard(e)
		case <-posters:
			// Every poster is gone: what is still queued is all there is.
			for {
				select {
				case e := <-p.events:
					discard(e)
				case e := <-p.urgent:
					discard(e)
				default:
					return
				}
			}
		}
	}
}

func (p *Peer) handle(e event) {
	now := time.Now()
	switch e.kind {
	case evAccepted:
		if len(p.conns) >= p.cfg.Core.MaxPeers+64 {
			e.tc.send(&wire.Message{Kind: wire.KindError, Text: "too many connections"})
			time.AfterFunc(time.Second, e.tc.shut)
			return
		}
		p.conns[e.id] = e.tc
		p.wg.Add(1)
		go p.read(e.id, e.tc)
		p.core.Opened(now, e.id, e.addr, false)
	case evDialed:
		p.conns[e.id] = e.tc
		p.wg.Add(1)
		go p.read(e.id, e.tc)
		p.core.Opened(now, e.id, e.addr, true)
	case evDialFailed:
		p.core.DialFailed(now, e.addr)
	case evLine:
		if _, ok := p.conns[e.id]; ok {
			p.core.Receive(now, e.id, *e.msg)
		}
	case evGossip:
		p.lagged(now, now.Sub(e.at))
		if _, ok := p.conns[e.id]; ok {
			for _, m := range *e.batch {
				p.core.Receive(now, e.id, m)
			}
		}
		clear(*e.batch)
		*e.batch = (*e.batch)[:0]
		batchPool.Put(e.batch)
	case evBadLine:
		tc, ok := p.conns[e.id]
		if !ok {
			return
		}
		p.errs[e.id]++
		tc.send(&wire.Message{Kind: wire.KindError, Text: e.err.Error()})
		if p.errs[e.id] >= p.cfg.MaxErrors {
			p.closeConn(e.id)
			p.core.Closed(now, e.id)
		}
	case evClosed:
		if tc, ok := p.conns[e.id]; ok {
			tc.shut()
			delete(p.conns, e.id)
			delete(p.errs, e.id)
			p.core.Closed(now, e.id)
		}
	case evSeed:
		if e.err != nil {
			p.core.SeedFailed(now, e.addr, *e.req)
		} else {
			p.core.SeedReply(now, e.addr, *e.req, *e.msg)
		}
	}
}

func (p *Peer) closeConn(id peer.ConnID) {
	if tc, ok := p.conns[id]; ok {
		tc.closeAfterFlush()
		delete(p.conns, id)
		delete(p.errs, id)
	}
}

// demotion is a gossip message a neighbour's full queue did not take.
type demotion struct {
	conn peer.ConnID
	msg  wire.Message
}

// apply carries out the core's actions, then wakes each writer that got
// lines, once.
func (p *Peer) apply(now time.Time) {
	for {
		p.applyOnce(now)
		if len(p.demote) == 0 {
			break
		}
		// Plumtree: announce what could not be pushed (Demote may emit
		// actions of its own, hence the second round).
		for _, d := range p.demote {
			if p.core.Demote(now, d.conn, d.msg) {
				p.cnt.demoted.Add(1)
			} else {
				p.cnt.drops.Add(1)
			}
		}
		clear(p.demote)
		p.demote = p.demote[:0]
	}
	for _, tc := range p.kicks {
		tc.listed = false
		tc.kick()
	}
	clear(p.kicks)
	p.kicks = p.kicks[:0]
}

func (p *Peer) applyOnce(now time.Time) {
	self := p.cfg.Core.Self
	var lastMsg wire.Message
	var lastLine []byte
	for _, a := range p.core.Ready() {
		switch a.Kind {
		case peer.Dial:
			id := peer.ConnID(p.nextID.Add(1))
			p.wg.Add(1)
			// While our loop lags, a dial (a probe's above all) gets as
			// much longer as the core's deadlines: its timeout would
			// otherwise declare a live peer dead for our slowness.
			go p.dial(id, a.Addr, p.core.LagStretch())
		case peer.Send:
			tc, ok := p.conns[a.Conn]
			if !ok {
				continue
			}
			gossip := a.Msg.Kind == wire.KindGossip
			// A forwarded message goes to every neighbour in a row:
			// encode it once.
			if !gossip || lastLine == nil || !sameGossip(&a.Msg, &lastMsg) {
				lastMsg, lastLine = a.Msg, append(a.Msg.Append(make([]byte, 0, 256)), '\n')
			}
			if !tc.queue(lastLine, !gossip) {
				p.demote = append(p.demote, demotion{a.Conn, a.Msg})
				continue
			}
			if !tc.listed {
				tc.listed = true
				p.kicks = append(p.kicks, tc)
			}
		case peer.Close:
			p.closeConn(a.Conn)
		case peer.SeedRequest:
			if sc, ok := p.seeds[a.Addr]; ok {
				sc.request(p.ctx, a.Msg)
			}
		case peer.Deliver:
			if h := p.cfg.Hooks.Deliver; h != nil {
				h(self, a.Addr, a.Msg, now)
			}
		case peer.Log:
			if p.cfg.Log != nil {
				p.logBuf.Event(now, self, a.Text)
			}
			if h := p.cfg.Hooks.Event; h != nil {
				h(self, now, a.Text)
			}
		case peer.Degree:
			if p.cfg.Log != nil {
				p.logBuf.Degree(self, a.N)
			}
			if h := p.cfg.Hooks.Degree; h != nil {
				h(self, a.N)
			}
		case peer.Dead:
			if h := p.cfg.Hooks.Dead; h != nil {
				h(self, a.Addr, now)
			}
		case peer.Link:
			if h := p.cfg.Hooks.Link; h != nil {
				h(self, a.Addr, a.N == 1, now)
			}
		case peer.Duplicate:
			if h := p.cfg.Hooks.Duplicate; h != nil {
				h(self, a.Addr, a.Msg)
			}
		case peer.NeighbourLeft:
			if h := p.cfg.Hooks.Left; h != nil {
				h(self, a.Addr, now)
			}
		case peer.Left:
			if p.leftCh != nil {
				close(p.leftCh)
				p.leftCh = nil
			}
		}
	}
}

// sameGossip reports whether two gossip messages encode to the same line.
func sameGossip(a, b *wire.Message) bool {
	return a.Kind == wire.KindGossip && b.Kind == wire.KindGossip && a.Addr == b.Addr && a.Seq == b.Seq &&
		a.Hops == b.Hops && a.Time == b.Time && a.Text == b.Text
}

// PublishContext is Publish for a library: it returns ctx's error if ctx
// ends before the peer's loop takes the message, and ErrStopped once the
// peer has stopped.
func (p *Peer) PublishContext(ctx context.Context, text string) (wire.Message, error) {
	var m wire.Message
	ran := make(chan struct{})
	fn := func() {
		m = p.core.Publish(time.Now(), text)
		p.apply(time.Now())
		close(ran)
	}
	select {
	case p.ctl <- fn:
	case <-p.done:
		return m, ErrStopped
	case <-ctx.Done():
		return m, ctx.Err()
	}
	select { // taken: it is published whatever ctx does now
	case <-ran:
		return m, nil
	case <-p.done:
		return m, ErrStopped
	}
}
