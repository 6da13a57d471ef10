package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/whispernet/whispernet/plot"
	"github.com/whispernet/whispernet/sim"
)

func init() {
	register("sim", "simulate a large network in virtual time with the real protocol code, and report", runSim)
}

const simAbout = `
Simulates a WhisperNet network in virtual time: the same seed and peer
protocol cores as the TCP runtime, driven by a discrete-event scheduler over
an in-memory network with per-message latency and jitter, message loss,
partitions, crashes, freezes and joins. The same --seed gives the same
report, byte for byte; wall time and memory go to stderr only.

The default scenario: --peers join over --join-over; once the overlay has
formed (every peer joined and linked, one component, under 1% of the
links changed over --stable-quiet), --messages messages from each of
--origins random peers,
one every --gossip-interval; midway, a --crash fraction of the peers crash
at once; the run ends when every message has reached every live peer and
every crash has been detected (or --settle after the last event).

The report: formation time; the live overlay's links, components, degrees
and power-law fit; gossip delivery ratio (deliveries to peers alive
throughout / expected), propagation time to the last live peer (p50, p99,
max), last delivery hop, relative message redundancy; failure detection
times (until every neighbour declared the peer dead, until no seed lists
it) and false positives. -o DIR draws degrees.png (with the fit),
propagation.png, receipts.png and detection.png.

A --script file describes a scenario with timed steps and expected
outcomes (see sim/testdata/*.txt); flags given as well override its
settings, and a failed expectation makes the command fail.

Examples:
  whispernet sim                                   # 1000 peers, the default scenario
  whispernet sim --peers 100000 --json -o plots    # the scale run of docs/sim.md
  whispernet sim --peers 500 --loss 5% --crash 0 --seed 7
  whispernet sim --script sim/testdata/partition-seeds.txt`

// simOnly are the sim's own flags, passed to sim.Config.Set by name.
var simOnly = []string{"peers", "seeds", "seed", "join-over", "latency", "jitter", "loss", "dial-timeout",
	"seed-timeout", "stable-quiet", "formation-timeout", "origins", "messages", "crash", "crash-kind", "cpu-cores", "cpu-recv", "cpu-send", "settle",
	"fill-interval", "handshake-timeout", "max-known", "seed-expiry", "workers"}

func runSim(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("sim", "sim [--peers N] [--seed R] [--json] [-o DIR] [--script FILE] [flags]", simAbout, stdio)
	d := sim.DefaultConfig()
	help := map[string]string{}
	for _, s := range sim.Settings {
		help[s.Name] = s.Help
	}
	defaults := map[string]string{
		"peers": fmt.Sprint(d.Peers), "seeds": fmt.Sprint(d.Seeds), "seed": fmt.Sprint(d.RandSeed),
		"join-over": d.JoinOver.String(), "latency": d.Latency.String(), "jitter": d.Jitter.String(),
		"loss": fmt.Sprint(d.Loss), "dial-timeout": d.DialTimeout.String(), "seed-timeout": d.SeedTimeout.String(),
		"stable-quiet": d.Quiet.String(), "formation-timeout": d.FormationTimeout.String(),
		"origins": fmt.Sprint(d.Origins), "messages": fmt.Sprint(d.Messages), "crash": fmt.Sprint(d.Crash), "crash-kind": "crash",
		"cpu-cores": "0", "cpu-recv": d.CPU.Recv.String(), "cpu-send": d.CPU.Send.String(),
		"settle": "0", "fill-interval": d.Peer.FillInterval.String(), "handshake-timeout": d.Peer.HandshakeTimeout.String(),
		"max-known": fmt.Sprint(d.Peer.MaxKnown), "seed-expiry": d.Seed.Expiry.String(), "workers": "0",
	}
	help["max-known"] += " (the peer command keeps 4096; see docs/sim.md)"
	for _, name := range simOnly {
		fs.Var(&simSetting{name: name, value: defaults[name]}, name, help[name])
	}
	addPeerFlags(fs, d.Peer)
	jsonOut := fs.Bool("json", false, "print the report as one JSON object")
	outDir := fs.String("o", "", "write the plots (PNG) into directory `DIR`")
	script := fs.String("script", "", "run the scenario of script `FILE` and check its expectations")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to `FILE` (go tool pprof)")
	memProfile := fs.String("memprofile", "", "write a heap profile to `FILE` as the run ends, with every peer still live (go tool pprof)")
	if code, done := parseNoArgs(fs, args, stdio); done {
		return code
	}

	cfg := d
	var sc *sim.Script
	if *script != "" {
		f, err := os.Open(*script)
		if err != nil {
			return fail(stdio, "sim", err)
		}
		sc, err = sim.ParseScript(f, d)
		f.Close()
		if err != nil {
			return usageErr(stdio, "sim", "%s: %v", *script, err)
		}
		cfg = sc.Config
	}
	// Flags given on the command line win over the script.
	var setErr error
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "json", "o", "script", "cpuprofile", "memprofile":
			return
		}
		if err := cfg.Set(f.Name, f.Value.String()); err != nil && setErr == nil {
			setErr = err
		}
	})
	if setErr != nil {
		return usageErr(stdio, "sim", "--%v", setErr)
	}
	if *outDir != "" {
		if err := os.MkdirAll(*outDir, 0o755); err != nil {
			return fail(stdio, "sim", err)
		}
	}

	if os.Getenv("GOGC") == "" {
		// Most of a large run's heap is the peers' state, live to the
		// end: collect at 50% growth rather than 100%, for a resident
		// size within 1.5 times the live heap (docs/sim.md). (25% kept
		// it 0.3 GiB nearer at 100,000 peers, for 5% more wall time.)
		defer debug.SetGCPercent(debug.SetGCPercent(50))
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		if total, ok := sim.TotalMemory(); ok {
			// A soft limit at 85% of the machine's memory: a run whose
			// heap nears it (a million peers here) collects harder
			// instead of being killed.
			defer debug.SetMemoryLimit(debug.SetMemoryLimit(int64(total / 100 * 85)))
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fail(stdio, "sim", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fail(stdio, "sim", err)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if sc != nil && len(sc.Sweeps) > 0 {
		sc.Config = cfg
		return runSweep(ctx, sc, *script, *jsonOut, *outDir, stdio)
	}
	start := time.Now()
	fmt.Fprintf(stdio.Err, "whispernet sim: %d peers, %d seeds, seed %d\n", cfg.Peers, cfg.Seeds, cfg.RandSeed)
	show := newSimProgress(stdio.Err)
	update := show.update
	var heapErr error
	if *memProfile != "" {
		update = func(p sim.Progress) {
			show.update(p)
			if p.Phase == "done" {
				heapErr = writeHeapProfile(*memProfile)
			}
		}
	}
	rep, err := sim.Run(ctx, cfg, update)
	show.finish()
	if err == nil {
		err = heapErr
	}
	if err != nil {
		if errors.Is(err, sim.ErrConfig) {
			return usageErr(stdio, "sim", "%v", err)
		}
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(stdio.Err, "whispernet sim: interrupted")
			return ExitFail
		}
		return fail(stdio, "sim", err)
	}
	wall := time.Since(start)
	rss := "unknown"
	if b, ok := sim.PeakRSS(); ok {
		rss = fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	}
	fmt.Fprintf(stdio.Err, "whispernet sim: %.1f s wall, %.0f events/s, peak RSS %s, %d CPUs\n",
		wall.Seconds(), float64(rep.Events)/wall.Seconds(), rss, runtime.NumCPU())

	if *jsonOut {
		b, err := json.Marshal(rep.Summary())
		if err != nil {
			return fail(stdio, "sim", err)
		}
		fmt.Fprintln(stdio.Out, string(b))
	} else if err := rep.WriteText(stdio.Out); err != nil {
		return fail(stdio, "sim", err)
	}
	if *outDir != "" {
		if err := writeSimPlots(*outDir, rep, stdio.Err); err != nil {
			return fail(stdio, "sim", err)
		}
	}
	if sc != nil {
		failed := 0
		for _, e := range sc.Expect {
			fmt.Fprintf(stdio.Err, "expect %s\n", e)
		}
		for _, err := range sc.Check(rep) {
			failed++
			fmt.Fprintf(stdio.Err, "whispernet sim: %s: %v\n", *script, err)
		}
		if failed > 0 {
			return ExitFail
		}
		fmt.Fprintf(stdio.Err, "whispernet sim: %d expectation(s) met\n", len(sc.Expect))
	}
	return ExitOK
}

// simSetting is a sim flag: checked by sim.Config.Set when given, applied
// by name afterwards.
type simSetting struct{ name, value string }

func (s *simSetting) String() string { return s.value }

func (s *simSetting) Set(v string) error {
	c := sim.DefaultConfig()
	if err := c.Set(s.name, v); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), s.name+": "))
	}
	s.value = v
	return nil
}

// writeSimPlots draws the report's figures into dir.
func writeSimPlots(dir string, r *sim.Report, w io.Writer) error {
	var written []string
	if len(r.Degrees) > 0 {
		p := filepath.Join(dir, "degrees.png")
		if err := plot.DegreesFile(p, r.Degrees, r.PowerLaw); err != nil {
			return err
		}
		written = append(written, p)
	}
	cdfs := []struct {
		file, title, xlabel string
		values              []float64
	}{
		{"propagation.png", "Time for a message to reach every live peer", "milliseconds after publication", r.Propagation},
		{"receipts.png", "Delay of every first receipt (1000 quantiles)", "milliseconds after publication", r.ReceiptDelays},
		{"detection.png", "Failure detection by every neighbour", "seconds after the failure", r.Detections},
	}
	for _, c := range cdfs {
		if len(c.values) == 0 {
			continue
		}
		p := filepath.Join(dir, c.file)
		if err := plot.CDF(p, c.title, c.xlabel, c.values); err != nil {
			return err
		}
		written = append(written, p)
	}
	for _, p := range written {
		fmt.Fprintf(w, "whispernet sim: wrote %s\n", p)
	}
	return nil
}

// writeHeapProfile writes a heap profile after a collection, so that it
// shows what is live: at the end of a run, the network's state.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	return f.Close()
}

// simProgress shows a run's progress on stderr, one bar per phase.
type simProgress struct {
	w     io.Writer
	phase string
	bar   *progress
}

func newSimProgress(w io.Writer) *simProgress { return &simProgress{w: w} }

func (s *simProgress) update(p sim.Progress) {
	if p.Phase != s.phase {
		if s.bar != nil {
			s.bar.done()
		}
		s.phase = p.Phase
		s.bar = newProgress(s.w, p.Phase)
		if p.Phase == "done" {
			return
		}
	}
	switch p.Phase {
	case "joining":
		s.bar.update(p.Joined, p.Peers)
	case "gossip":
		s.bar.update(p.Published, p.Planned)
	case "done":
	default:
		s.bar.status(fmt.Sprintf("%.1f s virtual, %d events", p.Virtual.Seconds(), p.Events))
	}
}

func (s *simProgress) finish() {
	if s.bar != nil {
		s.bar.done()
	}
}

// runSweep runs every configuration of a script's sweep lines in turn:
// each report goes to stdout (a line of text, or a JSON object with the
// settings under "sweep" and the report under "report"), every run must
// meet the script's expectations, and -o DIR gets the sweep's figures
// (writeSweepPlots).
func runSweep(ctx context.Context, sc *sim.Script, script string, jsonOut bool, outDir string, stdio Stdio) int {
	cfgs, labels, err := sc.Runs()
	if err != nil {
		return usageErr(stdio, "sim", "%s: %v", script, err)
	}
	reps := make([]*sim.Report, len(cfgs))
	failed := 0
	for i, cfg := range cfgs {
		start := time.Now()
		label := strings.Join(labels[i], " ")
		fmt.Fprintf(stdio.Err, "whispernet sim: run %d of %d: %s\n", i+1, len(cfgs), label)
		rep, err := sim.Run(ctx, cfg, nil)
		if err != nil {
			if errors.Is(err, sim.ErrConfig) {
				return usageErr(stdio, "sim", "%s: %v", label, err)
			}
			return fail(stdio, "sim", err)
		}
		reps[i] = rep
		fmt.Fprintf(stdio.Err, "whispernet sim: %s: %.1f s wall\n", label, time.Since(start).Seconds())
		if jsonOut {
			settings := map[string]string{}
			for _, l := range labels[i] {
				k, v, _ := strings.Cut(l, "=")
				settings[k] = v
			}
			b, err := json.Marshal(struct {
				Sweep  map[string]string `json:"sweep"`
				Report any               `json:"report"`
			}{settings, rep.Summary()})
			if err != nil {
				return fail(stdio, "sim", err)
			}
			fmt.Fprintln(stdio.Out, string(b))
		} else {
			fmt.Fprintf(stdio.Out, "%s: %s\n", label, sweepLine(rep))
		}
		for _, err := range sc.Check(rep) {
			failed++
			fmt.Fprintf(stdio.Err, "whispernet sim: %s: %s: %v\n", script, label, err)
		}
	}
	if outDir != "" {
		if err := writeSweepPlots(outDir, sc.Sweeps, reps, stdio.Err); err != nil {
			return fail(stdio, "sim", err)
		}
	}
	if failed > 0 {
		return ExitFail
	}
	fmt.Fprintf(stdio.Err, "whispernet sim: %d runs, %d expectation(s) met in each\n", len(cfgs), len(sc.Expect))
	return ExitOK
}

// sweepLine summarises one run of a sweep.
func sweepLine(r *sim.Report) string {
	s := fmt.Sprintf("delivery ratio %.6f, %d of %d complete, RMR %.3f", r.DeliveryRatio, r.Complete, r.Messages, r.RMR)
	if a := r.AfterFailure; a != nil {
		healed := "never"
		if a.HealedAfter != nil {
			healed = fmt.Sprint(*a.HealedAfter)
		}
		s += fmt.Sprintf("; after the crash of %d: %d messages, reliability first %.4f mean %.4f min %.4f, healed from message %s",
			a.Crashed, a.Messages, a.First, a.Mean, a.Min, healed)
	}
	return s
}

// sweepValue reads a sweep value as a number for an axis: "30%" is 30,
// "0.3" is 0.3; ok is false for words (flood).
func sweepValue(v string) (float64, bool) {
	pct := strings.HasSuffix(v, "%")
	x, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
	if err != nil {
		return 0, false
	}
	if !pct && x > 0 && x < 1 {
		x *= 100 // a fraction: shown as a percentage like "30%"
	}
	return x, true
}

// writeSweepPlots draws what a sweep measured after its crashes, when its
// runs had one: the reliability of the first message after the crash and
// the message from which every one was delivered, against the first
// sweep's values (one line per value of the second), and for each value
// of the second sweep the reliability of every message after the crash
// (one line per value of the first).
func writeSweepPlots(dir string, sweeps []sim.Sweep, reps []*sim.Report, w io.Writer) error {
	outer := sweeps[0]
	inner := sim.Sweep{Values: []string{""}}
	if len(sweeps) > 1 {
		inner = sweeps[1]
	}
	xs := make([]float64, len(outer.Values))
	for i, v := range outer.Values {
		x, ok := sweepValue(v)
		if !ok {
			x = float64(i + 1)
		}
		xs[i] = x
	}
	xlabel := outer.Name
	if strings.HasSuffix(outer.Values[0], "%") || xs[0] > 0 && xs[0] <= 100 {
		xlabel += " (%)"
	}
	at := func(i, j int) *sim.Report { return reps[i*len(inner.Values)+j] }
	var first, healed []plot.Series
	for j, iv := range inner.Values {
		name := iv
		if name == "" {
			name = "reliability"
		}
		f := plot.Series{Name: name}
		h := plot.Series{Name: name}
		for i := range outer.Values {
			a := at(i, j).AfterFailure
			if a == nil {
				continue
			}
			f.X, f.Y = append(f.X, xs[i]), append(f.Y, a.First)
			n := float64(a.Messages + 1) // never healed: one past the last
			if a.HealedAfter != nil {
				n = float64(*a.HealedAfter)
			}
			h.X, h.Y = append(h.X, xs[i]), append(h.Y, n)
		}
		if len(f.X) > 0 {
			first, healed = append(first, f), append(healed, h)
		}
	}
	if len(first) == 0 {
		fmt.Fprintln(w, "whispernet sim: no run had messages after a crash: no sweep figures")
		return nil
	}
	var written []string
	p := filepath.Join(dir, "sweep-first.png")
	if err := plot.Lines(p, "First message after the crash", xlabel, "reliability (fraction of the survivors)", first, 0, 1.02); err != nil {
		return err
	}
	written = append(written, p)
	p = filepath.Join(dir, "sweep-healed.png")
	if err := plot.Lines(p, "Messages until every one reaches every survivor", xlabel, "first message from which all are delivered", healed, 0, 0); err != nil {
		return err
	}
	written = append(written, p)
	for j, iv := range inner.Values {
		var lines []plot.Series
		for i, ov := range outer.Values {
			r := at(i, j)
			if len(r.Reliability) == 0 {
				continue
			}
			s := plot.Series{Name: outer.Name + " " + ov}
			for k, rel := range r.Reliability {
				s.X, s.Y = append(s.X, float64(k+1)), append(s.Y, rel)
			}
			lines = append(lines, s)
		}
		if len(lines) == 0 {
			continue
		}
		name, title := "reliability.png", "Reliability of each message after the crash"
		if iv != "" {
			name = "reliability-" + iv + ".png"
			title += " (" + inner.Name + " " + iv + ")"
		}
		p := filepath.Join(dir, name)
		if err := plot.Lines(p, title, "message after the crash", "reliability", lines, 0, 1.02); err != nil {
			return err
		}
		written = append(written, p)
	}
	for _, p := range written {
		fmt.Fprintf(w, "whispernet sim: wrote %s\n", p)
	}
	return nil
}
