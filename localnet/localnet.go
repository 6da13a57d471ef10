package localnet

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/whispernet/whispernet"
	"github.com/whispernet/whispernet/eventlog"
	"github.com/whispernet/whispernet/node"
	"github.com/whispernet/whispernet/peer"
	"github.com/whispernet/whispernet/status"
)

// Config describes a local network.
type Config struct {
	// Seeds are the seeds of config.txt; all of them are started here.
	Seeds []netip.AddrPort
	// ConfigPath is the config file, passed on to worker processes.
	ConfigPath string
	// Peers is how many peers to start.
	Peers int
	// IP is the address peers listen on; BasePort the first peer port
	// (ports of Seeds are skipped).
	IP       netip.Addr
	BasePort int
	// PerProcess is the most peers one OS process runs. A network larger
	// than that runs its peers in ceil(Peers/PerProcess) worker processes
	// (each process may hold only 20,000 open files).
	PerProcess int
	// Exe and WorkerArgs start a worker: Exe WorkerArgs... --first-port P
	// --count K. The CLI passes its own binary and flags.
	Exe        string
	WorkerArgs []string
	// JoinRate is how many peers start per second.
	JoinRate float64
	// LogDir receives outputfile.log and freqtrack.log.
	LogDir string
	// Peer is the template for every peer, a whispernet.Config: Listen,
	// Seeds, EventLog and (with RandSeed) RandSeed are set per peer, and
	// the harness's hooks are added to its Runtime.
	Peer whispernet.Config
	// RandSeed, when not 0, makes every peer's random choices (its
	// capacity among them) reproducible: each peer's RNG is seeded from it
	// and the peer's address, in whichever process the peer runs.
	RandSeed uint64
	// Seed tweaks each seed's config (nil: defaults, raised for loopback).
	Seed func(*whispernet.SeedConfig)
	// Progress, if set, is called as peers start.
	Progress func(started, total int)
	// Observe, if set, sees every first receipt by an in-process peer
	// (for the delivery-latency histogram).
	Observe func(created, at time.Time)
}

// DefaultConfig returns a 40-peer network on 127.0.0.1 from port 20000.
func DefaultConfig() Config {
	return Config{
		Peers:      40,
		IP:         netip.MustParseAddr("127.0.0.1"),
		BasePort:   20000,
		PerProcess: 1000,
		JoinRate:   500,
		LogDir:     ".",
		Peer:       classicPeer(),
	}
}

// classicPeer is the library's default node generating the classic test
// messages, as the classic peer did (the library's own default generates
// none).
func classicPeer() whispernet.Config {
	c := whispernet.DefaultConfig()
	c.Generate = peer.DefaultConfig().GossipCount
	return c
}

// addrStrings returns addrs as "IP:PORT" strings, the form whispernet's
// configurations take.
func addrStrings(addrs []netip.AddrPort) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}

// Network is a running local network.
type Network struct {
	cfg     Config
	Tracker *Tracker
	log     *eventlog.Writer
	ctx     context.Context

	mu      sync.Mutex
	seeds   map[netip.AddrPort]*whispernet.Seed // nil value: stopped
	groups  []group
	owner   map[netip.AddrPort]group
	local   *localGroup
	started atomic.Int64

	// observed: the nodes run elsewhere (see Observed); remoteUp is
	// whether each seed answered the observer last, remoteRegistered how
	// many peers it listed then.
	observed         bool
	remoteUp         map[netip.AddrPort]bool
	remoteRegistered map[netip.AddrPort]int
}

// PeerAddrs returns the addresses the network's peers use.
func (c *Config) PeerAddrs() ([]netip.AddrPort, error) {
	taken := map[uint16]bool{}
	for _, s := range c.Seeds {
		if s.Addr() == c.IP {
			taken[s.Port()] = true
		}
	}
	var out []netip.AddrPort
	for port := c.BasePort; len(out) < c.Peers; port++ {
		if port > 65535 {
			return nil, fmt.Errorf("localnet: %d peers do not fit from port %d", c.Peers, c.BasePort)
		}
		if !taken[uint16(port)] {
			out = append(out, netip.AddrPortFrom(c.IP, uint16(port)))
		}
	}
	return out, nil
}

// Start starts the seeds and then the peers, returning once every peer has
// started (or at the first failure, with everything stopped again).
func Start(ctx context.Context, cfg Config) (*Network, error) {
	switch {
	case cfg.Peers < 1:
		return nil, fmt.Errorf("localnet: --peers %d must be at least 1", cfg.Peers)
	case len(cfg.Seeds) == 0:
		return nil, errors.New("localnet: no seeds")
	case cfg.PerProcess < 1:
		return nil, fmt.Errorf("localnet: peers per process %d must be at least 1", cfg.PerProcess)
	case cfg.JoinRate <= 0:
		return nil, fmt.Errorf("localnet: join rate %v must be positive", cfg.JoinRate)
	}
	addrs, err := cfg.PeerAddrs()
	if err != nil {
		return nil, err
	}
	lw, err := eventlog.Open(cfg.LogDir)
	if err != nil {
		return nil, err
	}
	n := &Network{cfg: cfg, Tracker: NewTracker(time.Now()), log: lw, ctx: ctx, seeds: map[netip.AddrPort]*whispernet.Seed{}, owner: map[netip.AddrPort]group{}}
	// Every peer, in this process or a worker, reports the duplicates it
	// drops (group.go's Duplicate hook): a message without any has 0.
	n.Tracker.TrackDuplicates()
	for _, a := range cfg.Seeds {
		if err := n.StartSeed(a); err != nil {
			n.Close()
			return nil, err
		}
	}
	progress := func() {
		k := n.started.Add(1)
		if cfg.Progress != nil {
			cfg.Progress(int(k), cfg.Peers)
		}
	}
	tmpl := cfg.Peer
	tmpl.Seeds = addrStrings(cfg.Seeds)
	tmpl.EventLog = lw
	if cfg.Peers <= cfg.PerProcess {
		g, err := startPeers(ctx, addrs, tmpl, cfg.RandSeed, cfg.JoinRate, observed{n.Tracker, cfg.Observe}, func(int) { progress() })
		if err != nil {
			n.Close()
			return nil, err
		}
		n.local = g
		n.addGroup(g, addrs)
		return n, nil
	}
	// Several worker processes, each starting its slice at its share of
	// the join rate, all at once.
	procs := (cfg.Peers + cfg.PerProcess - 1) / cfg.PerProcess
	var workers []*workerGroup
	for i := 0; i < procs; i++ {
		slice := addrs[i*len(addrs)/procs : (i+1)*len(addrs)/procs]
		args := append(slices.Clone(cfg.WorkerArgs),
			"--ports", joinAddrs(slice),
			"--join-rate", strconv.FormatFloat(cfg.JoinRate/float64(procs), 'f', -1, 64),
			"--rand-seed", strconv.FormatUint(cfg.RandSeed, 10))
		w, err := startWorker(cfg.Exe, args, slice, n.Tracker, progress)
		if err != nil {
			n.Close()
			return nil, err
		}
		workers = append(workers, w)
		n.addGroup(w, slice)
	}
	for _, w := range workers {
		select {
		case msg := <-w.ready:
			if msg != "" {
				n.Close()
				return nil, fmt.Errorf("localnet: worker: %s", msg)
			}
		case <-ctx.Done():
			n.Close()
			return nil, ctx.Err()
		}
	}
	return n, nil
}

// joinAddrs encodes peer addresses compactly for a worker: IP:FIRST-LAST
// runs separated by commas.
func joinAddrs(addrs []netip.AddrPort) string {
	var b strings.Builder
	for i := 0; i < len(addrs); {
		j := i
		// int: a uint16 Port()+1 would wrap 65535 to 0.
		for j+1 < len(addrs) && addrs[j+1].Addr() == addrs[i].Addr() && int(addrs[j+1].Port()) == int(addrs[j].Port())+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s-%d", addrs[i], addrs[j].Port())
		i = j + 1
	}
	return b.String()
}

// splitAddrs decodes joinAddrs' format.
func splitAddrs(s string) ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	for _, run := range strings.Split(s, ",") {
		i := strings.LastIndexByte(run, '-')
		if i < 0 {
			return nil, fmt.Errorf("localnet: bad port run %q", run)
		}
		first, err := netip.ParseAddrPort(run[:i])
		if err != nil {
			return nil, fmt.Errorf("localnet: bad port run %q: %w", run, err)
		}
		last, err := strconv.Atoi(run[i+1:])
		if err != nil || first.Port() == 0 || last < int(first.Port()) || last > 65535 {
			return nil, fmt.Errorf("localnet: bad port run %q", run)
		}
		for p := int(first.Port()); p <= last; p++ {
			out = append(out, netip.AddrPortFrom(first.Addr(), uint16(p)))
		}
	}
	return out, nil
}

func (n *Network) addGroup(g group, addrs []netip.AddrPort) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.groups = append(n.groups, g)
	for _, a := range addrs {
		n.owner[a] = g
	}
}

func (n *Network) group(a netip.AddrPort) (group, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.observed {
		return nil, ErrObserved
	}
	g, ok := n.owner[a]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownPeer, a)
	}
	return g, nil
}

// Started returns how many peers have started so far.
func (n *Network) Started() int { return int(n.started.Load()) }

// Config returns the network's configuration.
func (n *Network) Config() Config { return n.cfg }

// Publish has peer a originate a gossip message.
func (n *Network) Publish(a netip.AddrPort, text string) error {
	g, err := n.group(a)
	if err != nil {
		return err
	}
	if err := g.Publish(a, text); err != nil {
		return err
	}
	n.Tracker.Note("publish", a, text, time.Now())
	return nil
}

// PublishRandom publishes text from a random live, unfrozen peer.
func (n *Network) PublishRandom(rng *rand.Rand, text string) (netip.AddrPort, error) {
	live := n.Tracker.Awake()
	if len(live) == 0 {
		return netip.AddrPort{}, errors.New("localnet: no live, unfrozen peer")
	}
	a := live[rng.IntN(len(live))]
	return a, n.Publish(a, text)
}

// Kill stops peer a abruptly, as a crash: its sockets close.
func (n *Network) Kill(a netip.AddrPort) error {
	// Claim the peer and note the kill before its sockets close, so the
	// feed tells the kill before the dead reports and removals it causes
	// (and a second Kill finds no peer).
	n.mu.Lock()
	g, ok := n.owner[a]
	delete(n.owner, a)
	observed := n.observed
	n.mu.Unlock()
	if observed {
		return ErrObserved
	}
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownPeer, a)
	}
	n.Tracker.Note("kill", a, "", time.Now())
	return g.Kill(a)
}

// Freeze makes peer a stop answering with its sockets open.
func (n *Network) Freeze(a netip.AddrPort) error {
	g, err := n.group(a)
	if err == nil {
		err = g.Freeze(a)
	}
	if err == nil {
		n.Tracker.Note("freeze", a, "", time.Now())
	}
	return err
}

// Thaw resumes a frozen peer.
func (n *Network) Thaw(a netip.AddrPort) error {
	g, err := n.group(a)
	if err == nil {
		err = g.Thaw(a)
	}
	if err == nil {
		n.Tracker.Note("thaw", a, "", time.Now())
	}
	return err
}

// LocalPeer returns an in-process peer, for status pages (false when the
// peer runs in a worker process or is gone).
func (n *Network) LocalPeer(a netip.AddrPort) (*node.Peer, bool) {
	if n.local == nil {
		return nil, false
	}
	return n.local.Peer(a)
}

// Nodes returns the running in-process peers and the running seeds.
func (n *Network) Nodes() ([]*node.Peer, []*node.Seed) {
	var peers []*node.Peer
	if n.local != nil {
		peers = n.local.Peers()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var seeds []*node.Seed
	for _, a := range n.cfg.Seeds {
		if s := n.seeds[a]; s != nil {
			seeds = append(seeds, s.Runtime())
		}
	}
	return peers, seeds
}

// RemoteSamples returns the latest counters of the peers that run in
// worker processes (each worker reports them every sampleEvery), for
// /metrics.
func (n *Network) RemoteSamples() []status.PeerSample {
	n.mu.Lock()
	groups := slices.Clone(n.groups)
	n.mu.Unlock()
	var out []status.PeerSample
	for _, g := range groups {
		if w, ok := g.(*workerGroup); ok {
			out = append(out, w.Samples()...)
		}
	}
	return out
}

// Seeds returns every seed address and whether it is running.
func (n *Network) Seeds() map[netip.AddrPort]bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.observed {
		return maps.Clone(n.remoteUp)
	}
	out := map[netip.AddrPort]bool{}
	for a, s := range n.seeds {
		out[a] = s != nil
	}
	return out
}

// Seed returns the runtime of a running seed.
func (n *Network) Seed(a netip.AddrPort) (*node.Seed, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s := n.seeds[a]; s != nil {
		return s.Runtime(), true
	}
	return nil, false
}

// StartSeed starts (or restarts, with an empty registry) the seed at a.
func (n *Network) StartSeed(a netip.AddrPort) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.observed {
		return ErrObserved
	}
	if s := n.seeds[a]; s != nil {
		return fmt.Errorf("localnet: seed %s is already running", a)
	}
	if !slices.Contains(n.cfg.Seeds, a) {
		return fmt.Errorf("localnet: %s is not a seed of the config", a)
	}
	cfg := whispernet.DefaultSeedConfig()
	cfg.Listen = a.String()
	cfg.Peers = addrStrings(n.cfg.Seeds)
	cfg.EventLog = n.log
	// Every local peer shares one IP: the per-IP limit must admit them.
	cfg.MaxConns, cfg.MaxConnsPerIP = 16384, 16384
	cfg.Runtime = func(rc *node.SeedConfig) { rc.Removed = n.Tracker.Removed }
	if n.cfg.Seed != nil {
		n.cfg.Seed(&cfg)
	}
	s, err := whispernet.NewSeed(cfg)
	if err == nil {
		err = s.Start(n.ctx)
	}
	if err != nil {
		return err
	}
	n.seeds[a] = s
	n.Tracker.SeedUp(a, true, time.Now())
	return nil
}

// StopSeed stops the seed at a; its registry is lost.
func (n *Network) StopSeed(a netip.AddrPort) error {
	n.mu.Lock()
	s := n.seeds[a]
	if n.observed {
		n.mu.Unlock()
		return ErrObserved
	}
	if s == nil {
		n.mu.Unlock()
		return fmt.Errorf("localnet: seed %s is not running", a)
	}
	n.seeds[a] = nil
	n.mu.Unlock()
	s.Close()
	n.Tracker.SeedUp(a, false, time.Now())
	return nil
}

// Close stops every peer and seed and flushes the logs.
func (n *Network) Close() error {
	n.mu.Lock()
	groups := n.groups
	n.groups = nil
	seeds := n.seeds
	n.seeds = map[netip.AddrPort]*whispernet.Seed{}
	n.mu.Unlock()
	var wg sync.WaitGroup
	for _, g := range groups {
		wg.Add(1)
		go func() { defer wg.Done(); g.Close() }()
	}
	wg.Wait()
	for _, s := range seeds {
		if s != nil {
			s.Close()
		}
	}
	if n.log == nil { // observed: no log of its own
		return nil
	}
	return n.log.Close()
}

// WorkerConfig configures RunWorker.
type WorkerConfig struct {
	Peers    []netip.AddrPort
	Seeds    []netip.AddrPort  // the seeds of config.txt
	Peer     whispernet.Config // template (see Config.Peer), EventLog set
	JoinRate float64
	RandSeed uint64 // see Config.RandSeed
}

// ParsePorts decodes the --ports value a worker receives.
func ParsePorts(s string) ([]netip.AddrPort, error) { return splitAddrs(s) }

// RunWorker runs the worker side: it starts cfg.Peers, reports on out and
// obeys commands from in until in closes or ctx ends.
func RunWorker(ctx context.Context, cfg WorkerConfig, in io.Reader, out io.Writer) error {
	rep := newLineReporter(out)
	flushDone := make(chan struct{})
	stopFlush := make(chan struct{})
	go func() {
		defer close(flushDone)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				rep.flush()
			case <-stopFlush:
				rep.flush()
				return
			}
		}
	}()
	defer func() { close(stopFlush); <-flushDone }()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tmpl := cfg.Peer
	tmpl.Seeds = addrStrings(cfg.Seeds)
	g, err := startPeers(ctx, cfg.Peers, tmpl, cfg.RandSeed, cfg.JoinRate, rep, nil)
	if err != nil {
		rep.printf("F %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		return err
	}
	defer g.Close()
	rep.printf("R\n")
	go reportSamples(ctx, g, rep)
	cmds := make(chan string)
	go func() {
		defer close(cmds)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case cmds <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case line, ok := <-cmds:
			if !ok {
				return nil // parent closed stdin: stop
			}
			verb, rest, _ := strings.Cut(line, " ")
			addrText, text, _ := strings.Cut(rest, " ")
			a, err := netip.ParseAddrPort(addrText)
			if err != nil {
				continue
			}
			// A control for a peer gone meanwhile (ErrUnknownPeer) is
			// moot: the parent process sees the peer's state in the
			// reports.
			switch verb {
			case "publish":
				_ = g.Publish(a, text)
			case "kill":
				_ = g.Kill(a)
			case "freeze":
				_ = g.Freeze(a)
			case "thaw":
				_ = g.Thaw(a)
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// observed passes deliveries on to an extra observer.
type observed struct {
	reporter
	observe func(created, at time.Time)
}

func (o observed) Deliver(self, from, origin netip.AddrPort, seq uint32, text string, created, at time.Time, hops int) {
	o.reporter.Deliver(self, from, origin, seq, text, created, at, hops)
	if o.observe != nil && self != origin {
		o.observe(created, at)
	}
}

// sampleLine starts a worker's counters report: "S " and one JSON
// status.PeerSample.
const sampleLine = "S "

// sampleEvery is how often a worker reports its peers' counters.
const sampleEvery = 2 * time.Second

// reportSamples sends the counters of every peer of g to the parent until
// ctx ends, so that the parent's /metrics covers worker peers too.
func reportSamples(ctx context.Context, g *localGroup, rep *lineReporter) {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			for _, p := range g.Peers() {
				if smp, ok := status.Sample(p); ok {
					if b, err := json.Marshal(smp); err == nil {
						rep.printf("%s%s\n", sampleLine, b)
					}
				}
			}
		case <-ctx.Done():
			return
		}
	}
}
