package netns_test

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/whispernet/whispernet/internal/netns"
)

// prefix names this test's namespaces (with the PID: "wnft1234-peer-3").
const prefix = "wnft"

// Timers of the lab's peers: a silent neighbour is dead after misses ×
// interval, so a crashed or frozen peer must be gone from every seed
// within detectBound.
const (
	livenessInterval = time.Second
	livenessMisses   = 3
	detectBound      = livenessMisses*livenessInterval + 2*time.Second
	// probeTimeout: a seed removes a reported peer only once its own
	// check of it fails; a frozen peer accepts the check's connection and
	// never answers, so the check takes this long.
	probeTimeout = 500 * time.Millisecond
	// joinGap separates the peers' starts.
	joinGap = 200 * time.Millisecond
)

const (
	nSeeds = 3
	nPeers = 10 // in TestFaultsAcrossHosts
)

// node is one whispernet process of the lab.
type node struct {
	name  string // host name: seed-0, peer-3
	host  *netns.Host
	addr  string // advertised address, as the logs name it
	args  []string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}
	out   *os.File
}

type lab struct {
	t     *testing.T
	loop  bool // all hosts on one loopback (NewLoopback)
	net   *netns.Lab
	bin   string
	dir   string
	seeds []*node
	peers []*node
	tr    *tracker
	files []string

	published []string             // every message text, in order
	expected  map[string][]string  // text -> peers that must receive it exactly once
	propagate map[string]time.Time // text -> when the last expected peer got it
	faults    map[string][]window  // peer -> when it may be removed (its faults)

	// Measured: how long each message took to reach every expected peer
	// and each of them, and how long each failure took to be dropped.
	spreads    []spread
	receipts   []time.Duration
	detections []detection
}

// window is a span during which a peer's removal by the seeds is expected
// (end zero: for good), and which removal is: "dead" or "left".
type window struct {
	start, end time.Time
	over       time.Time // when the fault ended (end is a grace later)
	why        string
}

// TestFaultsAcrossHosts runs 3 seeds and 10 peers, each on a host of its
// own (a network namespace with its own address, seeds named by host name
// in config.txt), with the real binary, and injects faults: a peer crash
// (SIGKILL), a peer freeze (SIGSTOP, then SIGCONT), a peer partition (its
// link down) and heal, a seed partition and heal, a seed freeze, a seed
// crash and restart, a rolling restart of every seed, and a graceful
// leave (SIGTERM). It asserts that every message published between
// connected live peers reaches each of them exactly once; that a crashed
// or frozen peer is gone from every seed within misses × interval + 2 s;
// that a partitioned peer is listed and linked again after the heal and
// gets what is published after it; that a leaving peer is logged as left,
// never as dead; and that no live peer is ever removed or declared dead.
func TestFaultsAcrossHosts(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: a minute of network-namespace fault injection")
	}
	if runtime.GOOS != "linux" {
		t.Skip("network namespaces are Linux only")
	}
	if err := netns.Available(); err != nil {
		t.Skipf("network namespaces unavailable, test skipped: %v", err)
	}
	if removed, err := netns.Sweep(prefix); err != nil {
		t.Logf("sweeping stale namespaces: %v", err)
	} else if len(removed) > 0 {
		t.Logf("removed %d stale namespaces of an earlier run: %v", len(removed), removed)
	}
	began := time.Now()
	l := newLab(t, nPeers, false)
	t.Logf("lab built in %v (binary, %d namespaces)", time.Since(began).Round(time.Millisecond), nSeeds+nPeers+1)

	for _, s := range l.seeds {
		l.start(s)
	}
	for _, p := range l.peers {
		l.start(p)
		// Peers join one after another, as in a real network. Started
		// closer together, newcomers take each other as first links
		// while the overlay forms, and four peers of target 3 can end
		// as a full island nobody links into (seen with 50 ms).
		time.Sleep(joinGap)
	}
	formed := time.Now()
	l.waitFor(20*time.Second, "every peer linked and registered with a majority", func() error {
		return l.settled(l.live()...)
	})
	t.Logf("overlay formed in %v", time.Since(formed).Round(time.Millisecond))
	publisher := l.peers[0]
	l.round(publisher, "baseline")

	// A peer crashes: its sockets close, its neighbours find it at once.
	crashed := l.peers[9]
	l.fault(crashed, "dead")
	at := time.Now()
	l.signal(crashed, syscall.SIGKILL)
	<-crashed.done
	l.checkGone(crashed, at, "crashed")
	l.round(publisher, "after-crash")

	// A peer freezes: sockets open, nothing answered; only liveness finds it.
	frozen := l.peers[8]
	l.fault(frozen, "dead")
	at = time.Now()
	l.signal(frozen, syscall.SIGSTOP)
	l.checkGone(frozen, at, "frozen")
	l.round(publisher, "during-freeze")
	thawed := time.Now()
	l.signal(frozen, syscall.SIGCONT)
	l.endFault(frozen, 2*time.Second)
	l.waitFor(20*time.Second, "the thawed peer listed and linked again", func() error {
		return l.rejoined(frozen, thawed)
	})
	l.round(publisher, "after-thaw")

	// A peer is cut off (its link down) and comes back.
	cut := l.peers[7]
	l.fault(cut, "dead")
	at = time.Now()
	if err := l.net.Cut(cut.host); err != nil {
		t.Fatal(err)
	}
	l.waitFor(detectBound+5*time.Second, "the cut-off peer dropped by every seed", func() error {
		if s := l.tr.seedsListing(cut.addr); len(s) > 0 {
			return fmt.Errorf("%v still list %s", s, cut.addr)
		}
		return nil
	})
	l.round(publisher, "during-partition")
	time.Sleep(time.Until(at.Add(6 * time.Second))) // the cut lasts 6 s
	healed := time.Now()
	if err := l.net.Heal(cut.host); err != nil {
		t.Fatal(err)
	}
	l.endFault(cut, 2*time.Second)
	l.waitFor(25*time.Second, "the healed peer listed and linked again", func() error {
		return l.rejoined(cut, healed)
	})
	t.Logf("partitioned peer listed and linked again %v after the heal", time.Since(healed).Round(time.Millisecond))
	l.round(publisher, "after-heal")

	// Seeds: a partition and heal, a freeze and thaw, a crash and
	// restart. Peers fall back to the other seeds; gossip goes on.
	s0, s1, s2 := l.seeds[0], l.seeds[1], l.seeds[2]
	if err := l.net.Cut(s0.host); err != nil {
		t.Fatal(err)
	}
	l.round(publisher, "seed-cut")
	time.Sleep(3 * time.Second)
	if err := l.net.Heal(s0.host); err != nil {
		t.Fatal(err)
	}
	l.signal(s1, syscall.SIGSTOP)
	l.round(publisher, "seed-frozen")
	time.Sleep(3 * time.Second)
	l.signal(s1, syscall.SIGCONT)
	l.signal(s2, syscall.SIGKILL)
	<-s2.done
	l.round(publisher, "seed-crashed")
	l.restart(s2)
	l.waitFor(15*time.Second, "every peer registered with a majority after the seed faults", func() error {
		return l.settled(l.live()...)
	})

	// A rolling restart of every seed, one after another.
	for _, s := range l.seeds {
		l.signal(s, syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not stop on SIGTERM", s.name)
		}
		l.restart(s)
		l.waitFor(15*time.Second, "every peer registered with a majority after restarting "+s.name, func() error {
			return l.settled(l.live()...)
		})
	}
	l.round(publisher, "after-rolling-restart")

	// A peer leaves gracefully.
	leaving := l.peers[6]
	listedBy := l.tr.seedsListing(leaving.addr)
	l.fault(leaving, "left")
	at = time.Now()
	l.signal(leaving, syscall.SIGTERM)
	select {
	case <-leaving.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not exit after SIGTERM", leaving.name)
	}
	if err := leaving.cmd.ProcessState; !err.Success() {
		t.Errorf("%s exited with %v after SIGTERM", leaving.name, err)
	}
	t.Logf("leaving peer exited %v after SIGTERM", time.Since(at).Round(time.Millisecond))
	l.waitFor(5*time.Second, "every seed that listed the leaving peer logged it as left", func() error {
		l.poll()
		l.tr.mu.Lock()
		defer l.tr.mu.Unlock()
		for _, s := range listedBy {
			found := false
			for _, r := range l.tr.removals {
				found = found || r.seed == s && r.peer == leaving.addr && r.why == "left"
			}
			if !found {
				return fmt.Errorf("seed %s did not log %s as left", s, leaving.addr)
			}
		}
		if len(l.tr.seedsListingLocked(leaving.addr)) > 0 {
			return fmt.Errorf("%s still listed", leaving.addr)
		}
		return nil
	})
	l.round(publisher, "after-leave")
	l.tr.mu.Lock()
	saidLeft := 0
	for _, d := range l.tr.saidLeft {
		if d.about == leaving.addr {
			saidLeft++
		}
	}
	l.tr.mu.Unlock()
	if saidLeft == 0 {
		t.Errorf("no neighbour of %s logged that it left", leaving.addr)
	}

	l.finalChecks()
	l.report(began)
}

// TestMain removes the binary buildBinary built.
func TestMain(m *testing.M) {
	code := m.Run()
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

var builtDir string

// buildBinary builds the static whispernet binary once per test binary.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "whispernet-netns-")
	if err != nil {
		return "", err
	}
	builtDir = dir
	bin := filepath.Join(dir, "whispernet")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, "github.com/whispernet/whispernet/cmd/whispernet")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building whispernet: %v\n%s", err, out)
	}
	return bin, nil
})

// newLab builds a lab of nSeeds seeds and peers peers, each on a host of
// its own, or (loop) all on one namespace's loopback for comparison.
func newLab(t *testing.T, peers int, loop bool) *lab {
	dir := t.TempDir()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}

	var names []string
	for i := range nSeeds {
		names = append(names, fmt.Sprintf("seed-%d", i))
	}
	for i := range peers {
		names = append(names, fmt.Sprintf("peer-%d", i))
	}
	n, err := netns.New(prefix, names)
	if loop {
		n, err = netns.NewLoopback(prefix, names)
	}
	if err != nil {
		t.Fatal(err)
	}
	l := &lab{t: t, loop: loop, net: n, bin: bin, dir: dir, tr: newTracker(), expected: map[string][]string{},
		propagate: map[string]time.Time{}, faults: map[string][]window{}}
	t.Cleanup(func() {
		for _, x := range append(slices.Clone(l.seeds), l.peers...) {
			if x.cmd != nil && x.cmd.Process != nil {
				x.cmd.Process.Signal(syscall.SIGKILL) // stopped processes die too
				<-x.done
			}
			if x.out != nil {
				x.out.Close()
			}
		}
		if err := n.Close(); err != nil {
			t.Errorf("removing the namespaces: %v", err)
		}
		if t.Failed() {
			l.dumpLogs()
		}
	})
	var cfg strings.Builder
	cfg.WriteString("# the lab's seeds, by host name\n")
	for i := range nSeeds {
		fmt.Fprintf(&cfg, "seed-%d:8080\n", i)
	}
	config := filepath.Join(dir, "config.txt")
	if err := os.WriteFile(config, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range nSeeds {
		name := fmt.Sprintf("seed-%d", i)
		h := n.Host(name)
		s := &node{name: name, host: h, addr: h.IP.String() + ":8080", args: []string{"seed",
			"--listen", listenOn(h, loop, 8080), "--advertise", name + ":8080", "--probe-timeout", probeTimeout.String(), "--config", config, "--log-dir", filepath.Join(dir, name), "--quiet"}}
		l.seeds = append(l.seeds, s)
	}
	for i := range peers {
		name := fmt.Sprintf("peer-%d", i)
		h := n.Host(name)
		p := &node{name: name, host: h, addr: h.IP.String() + ":5000", args: []string{"peer",
			"--listen", listenOn(h, loop, 5000), "--advertise", name + ":5000", "--config", config, "--log-dir", filepath.Join(dir, name), "--quiet",
			"--gossip-count", "0", "--target", "3", "--refresh", "2s", "--publish-stdin", "--leave-timeout", "3s",
			"--liveness-interval", livenessInterval.String(), "--liveness-misses", fmt.Sprint(livenessMisses)}}
		l.peers = append(l.peers, p)
	}
	for _, x := range append(slices.Clone(l.seeds), l.peers...) {
		d := filepath.Join(dir, x.name)
		l.files = append(l.files, filepath.Join(d, "outputfile.log"))
		if strings.HasPrefix(x.name, "peer") {
			l.files = append(l.files, filepath.Join(d, "freqtrack.log"))
		}
	}
	return l
}

// listenOn is a node's --listen: every address of its host, or, where all
// hosts share one loopback, its own address there.
func listenOn(h *netns.Host, loop bool, port int) string {
	if loop {
		return fmt.Sprintf("%s:%d", h.IP, port)
	}
	return fmt.Sprintf("0.0.0.0:%d", port)
}

// start runs x's process on its host (again, for a restart).
func (l *lab) start(x *node) {
	if x.out == nil {
		f, err := os.Create(filepath.Join(l.dir, x.name+".stderr"))
		if err != nil {
			l.t.Fatal(err)
		}
		x.out = f
	}
	x.cmd = l.net.Command(x.host, l.bin, x.args...)
	x.cmd.Stdout, x.cmd.Stderr = x.out, x.out
	x.stdin = nil
	if strings.HasPrefix(x.name, "peer") {
		w, err := x.cmd.StdinPipe()
		if err != nil {
			l.t.Fatal(err)
		}
		x.stdin = w
	}
	if err := x.cmd.Start(); err != nil {
		l.t.Fatalf("starting %s: %v", x.name, err)
	}
	done := make(chan struct{})
	x.done = done
	cmd := x.cmd
	go func() { cmd.Wait(); close(done) }()
}

// restart starts seed x again and waits until its log says so (its
// registry starts empty).
func (l *lab) restart(x *node) {
	l.t.Helper()
	before := l.tr.started(x.addr)
	l.start(x)
	l.waitFor(10*time.Second, x.name+" started again", func() error {
		if l.tr.started(x.addr) == before {
			return fmt.Errorf("%s has not logged its start", x.name)
		}
		return nil
	})
}

func (l *lab) signal(x *node, sig syscall.Signal) {
	if err := x.cmd.Process.Signal(sig); err != nil {
		l.t.Fatalf("%v to %s: %v", sig, x.name, err)
	}
}

func (l *lab) poll() { l.tr.poll(l.files) }

// waitFor polls the logs and cond until cond holds or d has passed.
func (l *lab) waitFor(d time.Duration, what string, cond func() error) {
	l.t.Helper()
	deadline := time.Now().Add(d)
	for {
		l.poll()
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("%s: not within %v: %v", what, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fault records that peer x may be removed by the seeds from now on, for
// reason why ("dead" or "left"), until endFault.
func (l *lab) fault(x *node, why string) {
	l.faults[x.addr] = append(l.faults[x.addr], window{start: time.Now(), why: why})
}

// endFault closes x's open fault window grace after now: it is live again.
func (l *lab) endFault(x *node, grace time.Duration) {
	w := l.faults[x.addr]
	w[len(w)-1].over = time.Now()
	w[len(w)-1].end = time.Now().Add(grace)
}

// faulty reports whether x's fault is still on (it may still be in the
// grace of its window).
func (l *lab) faulty(x *node) bool {
	for _, w := range l.faults[x.addr] {
		if w.over.IsZero() {
			return true
		}
	}
	return false
}

// live returns the peers that run and are in no fault.
func (l *lab) live() []*node {
	var out []*node
	for _, p := range l.peers {
		if !l.faulty(p) {
			out = append(out, p)
		}
	}
	return out
}

// settled reports why not every peer of ps is linked and listed by a
// majority of the seeds.
func (l *lab) settled(ps ...*node) error {
	for _, p := range ps {
		if d := l.tr.degreeOf(p.addr); d == 0 {
			return fmt.Errorf("%s has no neighbour", p.name)
		}
		if s := l.tr.seedsListing(p.addr); len(s) < nSeeds/2+1 {
			return fmt.Errorf("%s is listed by %d seed(s) %v", p.name, len(s), s)
		}
	}
	return nil
}

// rejoined reports why p is not listed and linked again since at.
func (l *lab) rejoined(p *node, at time.Time) error {
	if !l.tr.linkedSince(p.addr, at) {
		return fmt.Errorf("%s has not linked since %v", p.name, at.Format("15:04:05.000"))
	}
	return l.settled(p)
}

// checkGone waits until no seed lists x, and checks that it took at most
// detectBound from at.
func (l *lab) checkGone(x *node, at time.Time, what string) {
	l.t.Helper()
	l.waitFor(detectBound+3*time.Second, what+" peer dropped by every seed", func() error {
		if s := l.tr.seedsListing(x.addr); len(s) > 0 {
			return fmt.Errorf("%v still list %s", s, x.addr)
		}
		return nil
	})
	var last time.Time
	l.tr.mu.Lock()
	for _, r := range l.tr.removals {
		if r.peer == x.addr && r.at.After(at) && r.at.After(last) {
			last = r.at
		}
	}
	l.tr.mu.Unlock()
	took := last.Sub(at)
	l.t.Logf("%s peer %s gone from every seed %v after the fault (bound %v)", what, x.name, took.Round(time.Millisecond), detectBound)
	if last.IsZero() || took > detectBound {
		l.t.Errorf("%s peer %s: removed from the last seed %v after the fault, over the %v bound", what, x.name, took, detectBound)
	}
	l.detections = append(l.detections, detection{what: what, took: took})
}

// round publishes one message from `from` and waits until every live peer
// has received it, then checks each got it exactly once.
func (l *lab) round(from *node, label string) {
	l.t.Helper()
	text := fmt.Sprintf("fault-test-%d-%s", len(l.published)+1, label)
	var want []string
	for _, p := range l.live() {
		if p != from {
			want = append(want, p.addr)
		}
	}
	// "Published between connected live peers": wait until the live
	// peers form one component with the publisher over links both ends
	// see, none of them through a faulty peer (a neighbour of a peer just
	// cut off still counts that link until liveness gives up on it).
	var among []string
	for _, p := range l.live() {
		among = append(among, p.addr)
	}
	l.waitFor(20*time.Second, "the live peers connected before "+text, func() error {
		seen := l.tr.reach(from.addr, among)
		for _, a := range want {
			if !seen[a] {
				return fmt.Errorf("%s does not reach %s over live peers' links", from.name, a)
			}
		}
		return nil
	})
	l.published = append(l.published, text)
	l.expected[text] = want
	if _, err := io.WriteString(from.stdin, text+"\n"); err != nil {
		l.t.Fatalf("publishing from %s: %v", from.name, err)
	}
	l.waitFor(15*time.Second, "every live peer received "+text, func() error {
		l.tr.mu.Lock()
		_, logged := l.tr.generated[text]
		l.tr.mu.Unlock()
		if !logged {
			return fmt.Errorf("%s has not logged that it published it", from.name)
		}
		for _, a := range want {
			if n := l.tr.receipts(a, text); n != 1 {
				return fmt.Errorf("%s received it %d times", a, n)
			}
		}
		return nil
	})
	l.tr.mu.Lock()
	var last time.Time
	for _, a := range want {
		if at := l.tr.received[a][text][0]; at.After(last) {
			last = at
		}
	}
	sent := l.tr.generated[text]
	if !sent.IsZero() {
		for _, a := range want {
			l.receipts = append(l.receipts, l.tr.received[a][text][0].Sub(sent))
		}
	}
	l.tr.mu.Unlock()
	l.propagate[text] = last
	if !sent.IsZero() {
		l.spreads = append(l.spreads, spread{text: text, took: last.Sub(sent), n: len(want)})
	}
}

// finalChecks: every message reached every peer it had to exactly once and
// nobody twice; no seed removed a peer outside its fault windows, or a
// leaving peer as dead; no peer declared a live peer (or a leaving one)
// dead.
func (l *lab) finalChecks() {
	time.Sleep(500 * time.Millisecond) // let late copies and log batches land
	l.poll()
	l.tr.mu.Lock()
	defer l.tr.mu.Unlock()
	for _, text := range l.published {
		for _, p := range l.peers {
			n := len(l.tr.received[p.addr][text])
			if slices.Contains(l.expected[text], p.addr) && n != 1 || n > 1 {
				l.t.Errorf("%s received %s %d times", p.name, text, n)
			}
		}
	}
	inWindow := func(peer string, at time.Time, why string) bool {
		for _, w := range l.faults[peer] {
			if !at.Before(w.start) && (w.end.IsZero() || at.Before(w.end)) && (why == "" || w.why == why) {
				return true
			}
		}
		return false
	}
	for _, r := range l.tr.removals {
		if !inWindow(r.peer, r.at, r.why) {
			l.t.Errorf("seed %s removed %s (%s) at %s, outside any fault of that peer", r.seed, r.peer, r.why, r.at.Format("15:04:05.000"))
		}
	}
	for _, d := range l.tr.declared {
		// A peer inside a fault (cut off, frozen) sees its links fall
		// silent and declares its neighbours dead: what a partition
		// looks like from inside. Its reports must not remove anyone
		// (checked above); its declarations are no error.
		if !inWindow(d.about, d.at, "dead") && !inWindow(d.by, d.at, "") {
			l.t.Errorf("%s declared %s dead at %s, outside any failure of that peer", d.by, d.about, d.at.Format("15:04:05.000"))
		}
	}
}

// The measurements, for the report (and docs/deploy.md).
type detection struct {
	what string
	took time.Duration
}

type spread struct {
	text string
	took time.Duration
	n    int
}

func (l *lab) report(began time.Time) {
	var ds []time.Duration
	for _, s := range l.spreads {
		ds = append(ds, s.took)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	if len(ds) > 0 {
		l.t.Logf("propagation to every live peer (%d messages): median %v, max %v",
			len(ds), ds[len(ds)/2].Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond))
	}
	for _, s := range l.spreads {
		l.t.Logf("  %-40s %3d receivers  %v", s.text, s.n, s.took.Round(time.Millisecond))
	}
	for _, d := range l.detections {
		l.t.Logf("detection: %s peer gone from every seed after %v", d.what, d.took.Round(time.Millisecond))
	}
	l.t.Logf("whole test %v", time.Since(began).Round(time.Millisecond))
}

func (l *lab) dumpLogs() {
	for _, f := range append(l.files, func() []string {
		var out []string
		for _, x := range append(slices.Clone(l.seeds), l.peers...) {
			out = append(out, filepath.Join(l.dir, x.name+".stderr"))
		}
		return out
	}()...) {
		b, err := os.ReadFile(f)
		if err != nil || strings.HasSuffix(f, "freqtrack.log") {
			continue
		}
		if len(b) > 6000 {
			b = b[len(b)-6000:]
		}
		l.t.Logf("--- %s (tail)\n%s", f, b)
	}
}
