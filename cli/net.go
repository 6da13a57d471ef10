package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/whispernet/whispernet"
	"github.com/whispernet/whispernet/config"
	"github.com/whispernet/whispernet/eventlog"
	"github.com/whispernet/whispernet/localnet"
	"github.com/whispernet/whispernet/node"
	"github.com/whispernet/whispernet/plot"
	"github.com/whispernet/whispernet/powerlaw"
	"github.com/whispernet/whispernet/status"
	"github.com/whispernet/whispernet/summary"
	"github.com/whispernet/whispernet/web"
	"github.com/whispernet/whispernet/wire"
)

func init() {
	register("net", "run every seed of config.txt and N peers as one local network, then summarise it", runNet)
	register("net-worker", "", runNetWorker) // internal: one process of a large local network
}

const netAbout = `
Starts every seed of the config file and --peers peers on this machine (the
classic runner.py + PeerRunner.py in one command), shows progress while the
peers join, and once the overlay is stable (every peer started and linked,
no link change for --stable-quiet) prints a summary: peers, links, connected
components, degree min/avg/max, the power-law fit of the degree
distribution (none on a tail under 50 degrees: too few points), and seconds
to stable. With --messages M it then publishes M gossip messages from
random peers and reports how fast they spread. The summary also tells the
load: messages seen and complete with their mean coverage, false deaths
(dead reports and seed removals of peers that were alive), links closed as
too slow and gossip demoted to announcements, process CPU per delivered
message and peak RSS (all processes).

It writes outputfile.log, freqtrack.log and degrees.png into --log-dir. A
network larger than --per-process peers runs its peers in several worker
processes (one process may hold only 20,000 open files).

Runs until --duration has passed or until interrupted; the final summary is
printed then (with --json, as one JSON object on the last line of stdout).

Examples:
  whispernet net                                  # 40 peers, classic timers
  whispernet net --peers 1000 --gossip-count 0 --messages 20 --duration 30s --json`

func runNet(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("net", "net [--peers N] [--duration D] [--json] [flags]", netAbout, stdio)
	d := localnet.DefaultConfig()
	peers := fs.Int("peers", d.Peers, "number of peers to start")
	cfgPath := fs.String("config", "config.txt", "seed list: one IP:PORT per line; every seed is started")
	logDir := fs.String("log-dir", ".", "directory for outputfile.log, freqtrack.log and degrees.png")
	duration := fs.Duration("duration", 0, "stop after this long (0: run until Ctrl+C)")
	jsonOut := fs.Bool("json", false, "print the final summary as one JSON object on the last line of stdout")
	ipText := fs.String("ip", "127.0.0.1", "IP address the peers listen on")
	basePort := fs.Int("base-port", d.BasePort, "first peer port (seed ports are skipped)")
	perProc := fs.Int("per-process", d.PerProcess, "most peers per OS process; more peers start worker processes")
	joinRate := fs.Float64("join-rate", d.JoinRate, "peers started per second")
	messages := fs.Int("messages", 0, "gossip messages to publish from random peers once the overlay is stable, to measure propagation")
	probeGap := fs.Duration("message-interval", 200*time.Millisecond, "time between two --messages (long enough that they do not overlap, so each is timed alone)")
	bootstrap := fs.Int("bootstrap", 100, "bootstrap rounds for the power-law fit's goodness-of-fit p (0: skip)")
	quiet := fs.Duration("stable-quiet", 2*time.Second, "no link change for this long (with every peer linked) counts as stable")
	stableTimeout := fs.Duration("stable-timeout", 2*time.Minute, "give up waiting for a stable overlay after this long")
	rngSeed := fs.Uint64("seed", 1, "random seed: peers' capacities and choices, publishing peers, the bootstrap (0: a fresh random run)")
	sampleEvery := fs.Duration("sample-every", 5*time.Second, "while running to --duration, record (and show) messages seen, complete and mean coverage this often; the samples are the summary's coverage over time")
	httpAddr := fs.String("http", defaultHTTP, "serve the live dashboard, /metrics, /status, /healthz and /debug/pprof here (a busy default port falls back to a free one; \"off\" disables)")
	pd := node.DefaultPeerConfig().Core
	pd.GossipDelay = 10 * time.Second // let the overlay form before the classic gossip starts
	pf := addPeerFlags(fs, pd)
	if code, done := parseNoArgs(fs, args, stdio); done {
		return code
	}
	ip, err := wire.ParseIP(*ipText)
	if err != nil {
		return usageErr(stdio, "net", "--ip: %v", err)
	}
	if *peers < 1 {
		return usageErr(stdio, "net", "--peers %d must be at least 1", *peers)
	}
	if *basePort < 1 || *basePort > 65535 {
		return usageErr(stdio, "net", "--base-port %d is not in 1-65535", *basePort)
	}
	if *sampleEvery <= 0 {
		return usageErr(stdio, "net", "--sample-every %v must be positive", *sampleEvery)
	}
	if *messages < 0 || *bootstrap < 0 {
		return usageErr(stdio, "net", "--messages and --bootstrap must not be negative")
	}
	seeds, err := config.LoadSeeds(*cfgPath)
	if err != nil {
		return fail(stdio, "net", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fail(stdio, "net", err)
	}
	cfg := d
	cfg.Seeds, cfg.ConfigPath, cfg.Peers, cfg.IP, cfg.BasePort = seeds, *cfgPath, *peers, ip, *basePort
	cfg.PerProcess, cfg.JoinRate, cfg.LogDir, cfg.Exe = *perProc, *joinRate, *logDir, exe
	cfg.RandSeed = *rngSeed
	pf.applyConfig(&cfg.Peer)
	// Check the peer flags once, before starting anything: the first
	// peer's configuration as localnet completes it.
	first := cfg.Peer
	first.Listen, first.Seeds = netip.AddrPortFrom(ip, uint16(*basePort)).String(), []string{seeds[0].String()}
	if _, err := whispernet.New(first); err != nil {
		return usageErr(stdio, "net", "%v", err)
	}
	cfg.WorkerArgs = append([]string{"net-worker", "--config", *cfgPath, "--log-dir", *logDir}, peerFlagArgs(fs)...)
	bar := newProgress(stdio.Err, "peers started")
	cfg.Progress = bar.update

	reg := status.NewRegistry()
	cfg.Observe = reg.ObserveDelivery
	start := time.Now()
	runCtx := ctx
	if *duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	fmt.Fprintf(stdio.Err, "whispernet net: starting %d seed(s) and %d peer(s); logs in %s\n", len(seeds), *peers, *logDir)
	n, err := localnet.Start(runCtx, cfg)
	bar.done()
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			fmt.Fprintln(stdio.Err, "whispernet net: stopped before every peer started")
			return ExitOK
		}
		return fail(stdio, "net", err)
	}
	defer n.Close()
	reg.AddSource(n.Nodes)
	reg.AddSampler(n.RemoteSamples)
	if *httpAddr != "off" && *httpAddr != "" {
		dash := web.New(n, web.Options{})
		defer dash.Close()
		// The dashboard's event streams never go idle: end them before the
		// HTTP server's graceful shutdown waits for idle connections.
		context.AfterFunc(runCtx, func() { dash.Close() })
		h := netHandler(dash, reg)
		bound, err := serveHTTP(runCtx, *httpAddr, h)
		if err != nil && !isSet(fs, "http") {
			bound, err = serveHTTP(runCtx, "127.0.0.1:0", h)
		}
		if err != nil {
			return fail(stdio, "net", err)
		}
		fmt.Fprintf(stdio.Err, "whispernet net: live view at http://%s/  (metrics: /metrics, status: /status)\n", bound)
	}

	runSeed := *rngSeed
	if runSeed == 0 {
		runSeed = rand.Uint64()
	}
	rng := rand.New(rand.NewPCG(runSeed, 0x5eed))
	stableAfter, stable := waitStable(runCtx, n, start, *quiet, *stableTimeout, stdio.Err)
	if stable {
		fmt.Fprintf(stdio.Err, "whispernet net: overlay stable after %.2f s\n", stableAfter)
	} else if runCtx.Err() == nil {
		fmt.Fprintf(stdio.Err, "whispernet net: overlay not stable after %v; summarising anyway\n", *stableTimeout)
	}
	if *messages > 0 && runCtx.Err() == nil {
		publishProbes(runCtx, n, rng, *messages, *probeGap, stdio.Err)
	}
	var fitCPU time.Duration
	sum := summarise(n, stableAfter, stable, *bootstrap, runSeed, rng, &fitCPU, stdio.Err)
	writePlots(n, *logDir, stdio.Err)
	if !*jsonOut {
		printSummary(stdio.Out, sum)
	}
	var samples []summary.CoverageSample
	if runCtx.Err() == nil {
		if *duration > 0 {
			fmt.Fprintf(stdio.Err, "whispernet net: running until %v have passed (Ctrl+C to stop sooner)\n", *duration)
		} else {
			fmt.Fprintln(stdio.Err, "whispernet net: running; Ctrl+C to stop")
		}
		samples = sampleCoverage(runCtx, n, start, *sampleEvery, stdio.Err)
		sum = summarise(n, stableAfter, stable, *bootstrap, runSeed, rng, &fitCPU, io.Discard)
	}
	// The last sample is the end, also when --duration ran out before the
	// overlay was stable or the probes were through.
	sum.Net.CoverageOverTime = append(samples, coverageSample(n, start))
	if *jsonOut {
		b, _ := json.Marshal(sum)
		fmt.Fprintln(stdio.Out, string(b))
	} else {
		fmt.Fprintln(stdio.Out, "\nfinal:")
		printSummary(stdio.Out, sum)
	}
	return ExitOK
}

// defaultHTTP is where `net` serves its dashboard unless told otherwise.
const defaultHTTP = "127.0.0.1:7070"

// netHandler serves the dashboard beside the status endpoints.
func netHandler(dash *web.Server, reg *status.Registry) http.Handler {
	mux := statusMux(reg)
	mux.Handle("/", dash)
	return mux
}

// peerFlagArgs renders every protocol flag with its value, for workers.
func peerFlagArgs(fs *flag.FlagSet) []string {
	var out []string
	probe := flag.NewFlagSet("", flag.ContinueOnError)
	addPeerFlags(probe, node.DefaultPeerConfig().Core)
	probe.VisitAll(func(f *flag.Flag) {
		out = append(out, "--"+f.Name+"="+fs.Lookup(f.Name).Value.String())
	})
	return out
}

// waitStable polls until every peer is linked and links stopped changing.
func waitStable(ctx context.Context, n *localnet.Network, start time.Time, quiet, timeout time.Duration, w io.Writer) (float64, bool) {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	bar := newProgress(w, "forming overlay")
	defer bar.done()
	for {
		s := n.Tracker.Snapshot(time.Now(), false)
		bar.status(fmt.Sprintf("%d links, %d isolated, %d below target, quiet %.1fs", s.Links, s.Isolated, s.BelowTarget, s.QuietFor.Seconds()))
		if s.Started == n.Config().Peers && s.Isolated == 0 && s.QuietFor >= quiet {
			return summary.Round(s.At.Add(-s.QuietFor).Sub(start).Seconds(), 2), true
		}
		select {
		case <-ctx.Done():
			return 0, false
		case <-tick.C:
			if time.Now().After(deadline) {
				return 0, false
			}
		}
	}
}

// sampleCoverage records how far gossip has spread every `every` until ctx
// ends, showing each sample as a progress line on w: under a load beyond
// what the machine carries, the end summary alone cannot tell a backlog
// that drains from messages that are lost.
func sampleCoverage(ctx context.Context, n *localnet.Network, start time.Time, every time.Duration, w io.Writer) []summary.CoverageSample {
	bar := newProgress(w, "gossip")
	defer bar.done()
	tick := time.NewTicker(every)
	defer tick.Stop()
	var samples []summary.CoverageSample
	for {
		select {
		case <-ctx.Done():
			return samples
		case <-tick.C:
			c := coverageSample(n, start)
			samples = append(samples, c)
			line := fmt.Sprintf("t %.0fs: %d messages, %d complete, coverage %.4f", c.TS, c.Seen, c.Complete, c.Coverage)
			if bar.tty {
				bar.status(line)
			} else {
				fmt.Fprintf(w, "whispernet net: %s\n", line)
			}
		}
	}
}

// coverageSample is the spread of gossip now, at seconds since start.
func coverageSample(n *localnet.Network, start time.Time) summary.CoverageSample {
	pr := n.Tracker.Propagation()
	return summary.CoverageSample{TS: summary.Round(time.Since(start).Seconds(), 1), Seen: pr.Messages, Complete: pr.Complete,
		Coverage: summary.Round(pr.Coverage, 4), Deliveries: uint64(pr.Deliveries)}
}

// publishProbes publishes count messages from random peers and waits (up
// to 30 s) until they reached every live peer.
func publishProbes(ctx context.Context, n *localnet.Network, rng *rand.Rand, count int, gap time.Duration, w io.Writer) {
	before := n.Tracker.Propagation()
	for i := 1; i <= count; i++ {
		text := fmt.Sprintf("probe %d of %d", i, count)
		if _, err := n.PublishRandom(rng, text); err != nil {
			fmt.Fprintf(w, "whispernet net: publish: %v\n", err)
			return
		}
		select {
		case <-time.After(gap):
		case <-ctx.Done():
			return
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if pr := n.Tracker.Propagation(); pr.Complete-before.Complete >= count {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintln(w, "whispernet net: some probe messages did not reach every live peer within 30 s")
}

// summarise builds the summary of the network as it is now. fitCPU
// accumulates the process CPU the power-law bootstraps took, which is
// subtracted from the network's CPU: the bootstrap is the report's work,
// not the peers'.
func summarise(n *localnet.Network, stableAfter float64, stable bool, rounds int, randSeed uint64, rng *rand.Rand, fitCPU *time.Duration, w io.Writer) summary.Summary {
	use := n.Usage()
	s := n.Tracker.Snapshot(time.Now(), false)
	pr := n.Tracker.Propagation()
	deadReports, removals := n.Tracker.FalseDeaths()
	sum := summary.Summary{Source: summary.SourceNet, Peers: s.Started, Seeds: len(n.Config().Seeds), RandSeed: randSeed,
		Live: s.Peers, Links: s.Links, Components: s.Components, BelowTarget: s.BelowTarget,
		Messages:      summary.Messages{Seen: pr.Messages, Complete: pr.Complete, Coverage: summary.Round(pr.Coverage, 4)},
		PropagationMs: summary.Quantiles{P50: pr.P50, P99: pr.P99, Max: pr.Max},
		Deliveries:    uint64(pr.Deliveries), MaxHops: pr.MaxHops,
		FalseDeaths: summary.FalseDeaths{DeadReports: deadReports, SeedRemovals: removals}}
	if stable {
		sum.FormationS = &stableAfter
	}
	cpu := max(use.CPU-*fitCPU, 0)
	bp := n.Backpressure()
	sum.Net = &summary.Net{SlowCloses: bp.SlowCloses, Demoted: bp.Demoted, CPUSeconds: summary.Round(cpu.Seconds(), 3),
		PeakRSSMB: summary.Round(float64(use.PeakRSS)/(1<<20), 1), Processes: use.Processes}
	if pr.Deliveries > 0 {
		sum.Net.CPUUsPerDelivery = summary.Round(float64(cpu.Microseconds())/float64(pr.Deliveries), 3)
		sum.Net.WritesPerDelivery = summary.Round(float64(bp.IO.Writes)/float64(pr.Deliveries), 3)
		sum.Net.ReadsPerDelivery = summary.Round(float64(bp.IO.Reads)/float64(pr.Deliveries), 3)
	}
	if bp.IO.Writes > 0 {
		sum.Net.LinesPerWrite = summary.Round(float64(bp.IO.Lines)/float64(bp.IO.Writes), 3)
	}
	if len(s.Degrees) > 0 {
		sum.Degree = summary.Degree{Min: slices.Min(s.Degrees), Max: slices.Max(s.Degrees)}
		total := 0
		for _, d := range s.Degrees {
			total += d
		}
		sum.Degree.Avg = summary.Round(float64(total)/float64(len(s.Degrees)), 2)
	}
	fit, err := powerlaw.Estimate(s.Degrees)
	if err != nil {
		return sum
	}
	sum.Fit = summary.NewFit(fit)
	if !sum.Fit.Meaningful() {
		return sum // no test of a fit that is not reported
	}
	if c, err := powerlaw.CompareExponential(s.Degrees, fit); err == nil {
		r, p := summary.Round(c.R, 3), summary.Round(c.P, 4)
		sum.Fit.RExp, sum.Fit.PExp = &r, &p
	}
	if rounds > 0 {
		before, _ := n.SelfCPU()
		bar := newProgress(w, "bootstrap rounds")
		p := summary.Round(powerlaw.Bootstrap(s.Degrees, fit, rounds, rng, bar.update), 3)
		bar.done()
		after, _ := n.SelfCPU()
		*fitCPU += after - before
		sum.Fit.P = &p
	}
	return sum
}

func writePlots(n *localnet.Network, dir string, w io.Writer) {
	s := n.Tracker.Snapshot(time.Now(), false)
	var fit *powerlaw.Fit
	if f, err := powerlaw.Estimate(s.Degrees); err == nil && f.NTail >= summary.MinTail {
		fit = &f
	}
	path := filepath.Join(dir, "degrees.png")
	if err := plot.DegreesFile(path, s.Degrees, fit); err != nil {
		fmt.Fprintf(w, "whispernet net: plot: %v\n", err)
		return
	}
	fmt.Fprintf(w, "whispernet net: degree plot written to %s\n", path)
}

// printSummary writes the summary for people, one topic a line.
func printSummary(w io.Writer, s summary.Summary) {
	fmt.Fprintf(w, "peers        %d live of %d started\n", s.Live, s.Peers)
	fmt.Fprintf(w, "links        %d\n", s.Links)
	fmt.Fprintf(w, "components   %d\n", s.Components)
	fmt.Fprintf(w, "degree       min %d  avg %.2f  max %d  (%d below target)\n", s.Degree.Min, s.Degree.Avg, s.Degree.Max, s.BelowTarget)
	switch f := s.Fit; {
	case f == nil:
		fmt.Fprintln(w, "power law    too few distinct degrees to fit")
	case !f.Meaningful():
		fmt.Fprintf(w, "power law    %s (xmin %d)\n", f.Note, f.Xmin)
	default:
		p := "not run"
		if f.P != nil {
			p = fmt.Sprintf("%.3f", *f.P)
		}
		lr := ""
		if f.RExp != nil && f.PExp != nil {
			lr = fmt.Sprintf("  LR vs exponential R %.2f (p %.3f)", *f.RExp, *f.PExp)
		}
		fmt.Fprintf(w, "power law    alpha %.3f  xmin %d  n_tail %d  KS %.4f  bootstrap p %s%s\n", *f.Alpha, f.Xmin, f.NTail, *f.KS, p, lr)
	}
	if s.FormationS != nil {
		fmt.Fprintf(w, "stable after %.2f s\n", *s.FormationS)
	} else {
		fmt.Fprintln(w, "stable after not reached")
	}
	m := s.Messages
	fmt.Fprintf(w, "gossip       %d messages, %d reached every live peer, mean coverage %.4f; spread p50 %.1f ms  p99 %.1f ms  max %.1f ms  (%d hops max)\n",
		m.Seen, m.Complete, m.Coverage, s.PropagationMs.P50, s.PropagationMs.P99, s.PropagationMs.Max, s.MaxHops)
	fmt.Fprintf(w, "false deaths %d dead reports and %d seed removals of live peers\n", s.FalseDeaths.DeadReports, s.FalseDeaths.SeedRemovals)
	if n := s.Net; n != nil {
		fmt.Fprintf(w, "backpressure %d links closed as too slow, %d gossip lines announced instead of pushed (queue full)\n", n.SlowCloses, n.Demoted)
		if n.Processes == 0 {
			fmt.Fprintln(w, "cost         not measured on this system (Linux only)")
		} else {
			fmt.Fprintf(w, "cost         %.3f CPU-s in %d process(es), %.3f µs per delivery (%d deliveries); peak RSS %.1f MiB (sum of the processes' peaks)\n",
				n.CPUSeconds, n.Processes, n.CPUUsPerDelivery, s.Deliveries, n.PeakRSSMB)
		}
		fmt.Fprintf(w, "syscalls     %.3f writes and %.3f reads per delivery, %.3f lines per write\n",
			n.WritesPerDelivery, n.ReadsPerDelivery, n.LinesPerWrite)
		if len(n.CoverageOverTime) > 1 {
			fmt.Fprintln(w, "over time    t (s)  messages  complete  coverage")
			for _, c := range n.CoverageOverTime {
				fmt.Fprintf(w, "             %5.0f  %8d  %8d  %.4f\n", c.TS, c.Seen, c.Complete, c.Coverage)
			}
		}
	}
}

// runNetWorker is one worker process of a large local network.
func runNetWorker(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("net-worker", "net-worker --ports RUNS [flags]", "Internal: runs a slice of a local network's peers for `whispernet net`.", stdio)
	cfgPath := fs.String("config", "config.txt", "seed list")
	logDir := fs.String("log-dir", ".", "log directory")
	ports := fs.String("ports", "", "peer addresses as IP:FIRST-LAST runs, comma-separated")
	joinRate := fs.Float64("join-rate", 500, "peers started per second")
	randSeed := fs.Uint64("rand-seed", 0, "network random seed (0: random)")
	pf := addPeerFlags(fs, node.DefaultPeerConfig().Core)
	if code, done := parse(fs, args); done {
		return code
	}
	addrs, err := localnet.ParsePorts(*ports)
	if err != nil {
		return usageErr(stdio, "net-worker", "%v", err)
	}
	seeds, err := config.LoadSeeds(*cfgPath)
	if err != nil {
		return fail(stdio, "net-worker", err)
	}
	lw, err := eventlog.Open(*logDir)
	if err != nil {
		return fail(stdio, "net-worker", err)
	}
	defer lw.Close()
	tmpl := whispernet.DefaultConfig()
	pf.applyConfig(&tmpl)
	tmpl.EventLog = lw
	wc := localnet.WorkerConfig{Peers: addrs, Seeds: seeds, Peer: tmpl, JoinRate: *joinRate, RandSeed: *randSeed}
	if err := localnet.RunWorker(ctx, wc, stdio.In, stdio.Out); err != nil {
		return fail(stdio, "net-worker", err)
	}
	return ExitOK
}

// progress draws a progress bar on a terminal, or plain lines at every
// tenth otherwise.
type progress struct {
	mu       sync.Mutex // update is called from several worker readers at once
	w        io.Writer
	what     string
	tty      bool
	lastTen  int
	lastDraw time.Time
	drawn    bool
}

func newProgress(w io.Writer, what string) *progress {
	return &progress{w: w, what: what, tty: isTerminal(w), lastTen: -1}
}

func (p *progress) update(done, total int) {
	if total <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		if done < total && time.Since(p.lastDraw) < 50*time.Millisecond {
			return
		}
		p.lastDraw = time.Now()
		const width = 30
		fill := done * width / total
		fmt.Fprintf(p.w, "\r[%s%s] %d/%d %s", strings.Repeat("=", fill), strings.Repeat(" ", width-fill), done, total, p.what)
		p.drawn = true
		return
	}
	if ten := done * 10 / total; ten != p.lastTen {
		p.lastTen = ten
		fmt.Fprintf(p.w, "%d/%d %s\n", done, total, p.what)
	}
}

// status shows a one-line status (terminal only, at most every 250 ms).
func (p *progress) status(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.tty || time.Since(p.lastDraw) < 250*time.Millisecond {
		return
	}
	p.lastDraw = time.Now()
	fmt.Fprintf(p.w, "\r\033[K%s: %s", p.what, text)
	p.drawn = true
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
	}
}
