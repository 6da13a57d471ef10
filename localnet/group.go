package localnet

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/whispernet/whispernet"
	"github.com/whispernet/whispernet/node"
	"github.com/whispernet/whispernet/peer"
	"github.com/whispernet/whispernet/status"
	"github.com/whispernet/whispernet/wire"
)

// group is a set of peers the network controls: in this process, or in a
// worker process.
type group interface {
	// Publish has peer a originate a gossip message.
	Publish(a netip.AddrPort, text string) error
	// Kill stops peer a abruptly (its sockets close).
	Kill(a netip.AddrPort) error
	// Freeze and Thaw stop and resume a's answering, sockets left open.
	Freeze(a netip.AddrPort) error
	Thaw(a netip.AddrPort) error
	// Close stops every peer of the group and waits.
	Close()
}

// ErrUnknownPeer is returned for a control aimed at a peer not in the
// network (or already killed).
var ErrUnknownPeer = errors.New("localnet: no such live peer")

// localGroup runs peers in this process, each a whispernet.Node.
type localGroup struct {
	mu    sync.Mutex
	peers map[netip.AddrPort]*whispernet.Node
	order []localPeer
}

type localPeer struct {
	addr netip.AddrPort
	node *whispernet.Node
}

// startPeers starts one node per address from the template tmpl (Seeds
// and EventLog set), pacing them at rate per second, reporting each start
// to rep and progress. It stops at the first failure.
func startPeers(ctx context.Context, addrs []netip.AddrPort, tmpl whispernet.Config, randSeed uint64, rate float64, rep reporter, progress func(int)) (*localGroup, error) {
	g := &localGroup{peers: map[netip.AddrPort]*whispernet.Node{}}
	// The harness watches the runtime through its hooks, which the
	// library runs beside its own: every delivery, duplicate, link change
	// and dead report goes to rep. Nobody reads the nodes' Events, so they
	// are off; Messages, never asked for, costs nothing.
	tweak := tmpl.Runtime
	tmpl.EventBuffer = 0
	tmpl.Runtime = func(rc *node.PeerConfig) {
		if tweak != nil {
			tweak(rc)
		}
		rc.Hooks.Link = rep.Link
		rc.Hooks.Dead = rep.Dead
		rc.Hooks.Deliver = deliverHook(rep)
		rc.Hooks.Duplicate = func(self, _ netip.AddrPort, m wire.Message) { rep.Duplicate(self, m.Addr, m.Seq) }
	}
	gap := time.Duration(float64(time.Second) / rate)
	next := time.Now()
	for i, a := range addrs {
		cfg := tmpl
		cfg.Listen = a.String()
		if randSeed != 0 {
			cfg.RandSeed = peerSeed(randSeed, a)
		}
		nd, err := whispernet.New(cfg)
		if err == nil {
			err = nd.Start(ctx)
		}
		if err != nil {
			g.Close()
			return nil, err
		}
		rep.Started(a, nd.Runtime().Target(), time.Now())
		g.mu.Lock()
		g.peers[a] = nd
		g.order = append(g.order, localPeer{a, nd})
		g.mu.Unlock()
		if progress != nil {
			progress(i + 1)
		}
		next = next.Add(gap)
		if d := time.Until(next); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				g.Close()
				return nil, ctx.Err()
			}
		}
	}
	return g, nil
}

// peerSeed derives a peer's RNG seed from the network's and its address
// (peer.DeriveSeed keyed by the address), so it does not depend on the
// process it runs in. It is never 0, which would ask for a random seed.
func peerSeed(seed uint64, a netip.AddrPort) uint64 {
	var key uint64
	for _, b := range a.Addr().As16() {
		key = key*31 + uint64(b)
	}
	x := peer.DeriveSeed(seed, key<<16|uint64(a.Port()))
	if x == 0 {
		x = 1
	}
	return x
}

func (g *localGroup) get(a netip.AddrPort) (*whispernet.Node, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	nd, ok := g.peers[a]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownPeer, a)
	}
	return nd, nil
}

func (g *localGroup) Publish(a netip.AddrPort, text string) error {
	nd, err := g.get(a)
	if err != nil {
		return err
	}
	if err := nd.Publish(context.Background(), []byte(text)); err != nil {
		if errors.Is(err, whispernet.ErrStopped) {
			return fmt.Errorf("%w: %s", ErrUnknownPeer, a)
		}
		return fmt.Errorf("localnet: publish from %s: %w", a, err)
	}
	return nil
}

func (g *localGroup) Kill(a netip.AddrPort) error {
	nd, err := g.get(a)
	if err != nil {
		return err
	}
	g.mu.Lock()
	delete(g.peers, a)
	g.mu.Unlock()
	return nd.Close() // as a crash: the sockets close, nothing is said
}

// Freeze and Thaw reach the runtime under the node (node.Peer), which a
// harness may drive: a frozen peer keeps its sockets open and answers
// nothing, as a hung process would.
func (g *localGroup) Freeze(a netip.AddrPort) error {
	nd, err := g.get(a)
	if err == nil {
		nd.Runtime().Freeze()
	}
	return err
}

func (g *localGroup) Thaw(a netip.AddrPort) error {
	nd, err := g.get(a)
	if err == nil {
		nd.Runtime().Thaw()
	}
	return err
}

// Peers returns the runtimes of the group's live peers in start order,
// for status pages and counters.
func (g *localGroup) Peers() []*node.Peer {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]*node.Peer, 0, len(g.peers))
	for _, lp := range g.order {
		if g.peers[lp.addr] == lp.node {
			out = append(out, lp.node.Runtime())
		}
	}
	return out
}

// Peer returns the runtime of the in-process peer at a (for status pages).
func (g *localGroup) Peer(a netip.AddrPort) (*node.Peer, bool) {
	nd, err := g.get(a)
	if err != nil {
		return nil, false
	}
	return nd.Runtime(), true
}

func (g *localGroup) Close() {
	g.mu.Lock()
	peers := g.order
	g.order = nil
	clear(g.peers)
	g.mu.Unlock()
	var wg sync.WaitGroup
	for _, lp := range peers {
		wg.Go(func() { lp.node.Close() })
	}
	wg.Wait()
}

// workerGroup is a worker process running a slice of the peers.
type workerGroup struct {
	cmd     *exec.Cmd
	samples map[string]status.PeerSample // latest counters per peer (S lines), under mu
	mu      sync.Mutex
	stdin   io.WriteCloser
	peers   map[netip.AddrPort]bool
	done    chan struct{}
	ready   chan string // "" when every peer started, else the failure
}

// startWorker launches exe with args and feeds its reports to rep.
func startWorker(exe string, args []string, addrs []netip.AddrPort, rep reporter, progress func()) (*workerGroup, error) {
	cmd := exec.Command(exe, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("localnet: start worker: %w", err)
	}
	w := &workerGroup{cmd: cmd, stdin: stdin, peers: map[netip.AddrPort]bool{}, samples: map[string]status.PeerSample{}, done: make(chan struct{}), ready: make(chan string, 1)}
	for _, a := range addrs {
		w.peers[a] = true
	}
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 64<<10)
		sent := false
		for sc.Scan() {
			if body, ok := strings.CutPrefix(sc.Text(), sampleLine); ok {
				var smp status.PeerSample
				if json.Unmarshal([]byte(body), &smp) == nil {
					w.mu.Lock()
					w.samples[smp.Addr] = smp
					w.mu.Unlock()
				}
				continue
			}
			ready, failed, err := parseReport(sc.Text(), progressReporter{rep, progress})
			switch {
			case err != nil:
				continue // a malformed line is skipped; the worker is ours
			case failed != "" && !sent:
				w.ready <- failed
				sent = true
			case ready && !sent:
				w.ready <- ""
				sent = true
			}
		}
		_ = cmd.Wait() // its exit shows as the end of its output; sent says whether it started
		if !sent {
			msg := strings.TrimSpace(stderr.String())
			if msg == "" {
				msg = "worker exited before its peers started"
			}
			w.ready <- msg
		}
	}()
	return w, nil
}

// progressReporter counts starts for the progress display.
type progressReporter struct {
	reporter
	progress func()
}

func (p progressReporter) Started(a netip.AddrPort, target int, at time.Time) {
	p.reporter.Started(a, target, at)
	if p.progress != nil {
		p.progress()
	}
}

func (w *workerGroup) command(format string, args ...any) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err := fmt.Fprintf(w.stdin, format+"\n", args...)
	return err
}

func (w *workerGroup) has(a netip.AddrPort) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.peers[a] {
		return fmt.Errorf("%w: %s", ErrUnknownPeer, a)
	}
	return nil
}

func (w *workerGroup) Publish(a netip.AddrPort, text string) error {
	if err := w.has(a); err != nil {
		return err
	}
	return w.command("publish %s %s", a, strings.ReplaceAll(text, "\n", " "))
}

func (w *workerGroup) Kill(a netip.AddrPort) error {
	if err := w.has(a); err != nil {
		return err
	}
	w.mu.Lock()
	delete(w.peers, a)
	delete(w.samples, a.String())
	w.mu.Unlock()
	return w.command("kill %s", a)
}

func (w *workerGroup) Freeze(a netip.AddrPort) error {
	if err := w.has(a); err != nil {
		return err
	}
	return w.command("freeze %s", a)
}

func (w *workerGroup) Thaw(a netip.AddrPort) error {
	if err := w.has(a); err != nil {
		return err
	}
	return w.command("thaw %s", a)
}

// Samples returns the latest counters of the worker's live peers.
func (w *workerGroup) Samples() []status.PeerSample {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]status.PeerSample, 0, len(w.samples))
	for _, s := range w.samples {
		out = append(out, s)
	}
	return out
}

func (w *workerGroup) Close() {
	w.stdin.Close() // the worker stops its peers and exits
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		_ = w.cmd.Process.Kill() // it may have exited meanwhile
		<-w.done
	}
}

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(b []byte) (int, error) {
	if l.n > 0 {
		k := min(len(b), l.n)
		_, _ = l.w.Write(b[:k]) // diagnostics only: a failed write loses them
		l.n -= k
	}
	return len(b), nil
}
