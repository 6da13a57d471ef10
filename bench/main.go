// Command bench runs WhisperNet and GossipSub (go-libp2p-pubsub, default
// settings) side by side on this machine: the same number of nodes, the
// same graph degree and the same workload, over loopback TCP, each engine
// in a process of its own so that its CPU time and peak memory are its
// own. It prints one table: time for a message to reach every node (p50,
// p99, max), coverage, relative message redundancy, CPU and peak RSS.
//
// It is a module of its own (bench/go.mod) so that the libp2p stack it
// needs stays out of WhisperNet's dependency list. docs/bench.md says how
// to run it and what it printed on this machine.
//
//	cd bench && go run . -n 200,500 -loads light,classic
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"time"
)

// The engines the bench knows.
const (
	engineWhisperNet = "whispernet"
	engineGossipSub  = "gossipsub"
)

// options are the flags, shared by the parent and its engine processes.
type options struct {
	ns        []int
	loads     []string
	engines   []string
	degree    int
	seed      uint64
	joinRate  float64
	formWait  time.Duration
	drain     time.Duration
	load      workloadConfig
	engine    string // set in an engine process: run this engine alone
	jsonOut   bool
	childWait time.Duration
}

const usage = `usage: bench [flags]

Runs WhisperNet and GossipSub at the same N, graph degree and workload, each
in its own process (this binary re-executed with -engine), and prints one
table per run. Progress goes to stderr; the table (or with -json one JSON
object per engine run) to stdout.

Workloads:
  light    -light-rate messages per second in total, from random nodes, for
           -light-duration
  classic  every node publishes -classic-count messages -classic-interval
           apart, starting at a random phase within the first interval

Examples:
  go run . -n 200                        # both loads, both engines, 200 nodes
  go run . -n 200,500,1000 -loads light
  go run . -n 500 -engines whispernet -json

Flags:
`

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	var o options
	ns := fs.String("n", "200", "node counts, comma-separated (each run once per load and engine)")
	loads := fs.String("loads", "light,classic", "workloads, comma-separated: light, classic")
	engines := fs.String("engines", engineWhisperNet+","+engineGossipSub, "engines, comma-separated: whispernet, gossipsub")
	fs.IntVar(&o.degree, "degree", 6, "graph degree: WhisperNet's fixed target degree; GossipSub: each host dials degree/2 random others (mesh D stays at its default, 6)")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed for the workload, the GossipSub graph and WhisperNet's choices")
	fs.Float64Var(&o.joinRate, "join-rate", 200, "nodes started per second")
	fs.DurationVar(&o.formWait, "form-timeout", 90*time.Second, "give up waiting for the overlay (every node linked, links quiet for 2 s) after this long; the run goes on")
	fs.DurationVar(&o.drain, "drain", 20*time.Second, "after the last publication, wait at most this long for every message to reach every node")
	fs.Float64Var(&o.load.lightRate, "light-rate", 10, "light load: messages per second, in total")
	fs.DurationVar(&o.load.lightDuration, "light-duration", 20*time.Second, "light load: how long to publish")
	fs.IntVar(&o.load.classicCount, "classic-count", 10, "classic load: messages per node")
	fs.DurationVar(&o.load.classicInterval, "classic-interval", 5*time.Second, "classic load: time between two messages of a node")
	fs.BoolVar(&o.jsonOut, "json", false, "print one JSON object per engine run instead of the table")
	fs.DurationVar(&o.childWait, "run-timeout", 10*time.Minute, "kill an engine process that has not finished after this long")
	fs.StringVar(&o.engine, "engine", "", "internal: run this engine alone, in this process, and print its result as JSON")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, s := range strings.Split(*ns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 2 {
			return o, fmt.Errorf("-n: %q is not a node count of at least 2", s)
		}
		o.ns = append(o.ns, n)
	}
	for _, l := range strings.Split(*loads, ",") {
		l = strings.TrimSpace(l)
		if l != loadLight && l != loadClassic {
			return o, fmt.Errorf("-loads: unknown workload %q (light, classic)", l)
		}
		o.loads = append(o.loads, l)
	}
	for _, e := range strings.Split(*engines, ",") {
		e = strings.TrimSpace(e)
		if e != engineWhisperNet && e != engineGossipSub {
			return o, fmt.Errorf("-engines: unknown engine %q (whispernet, gossipsub)", e)
		}
		o.engines = append(o.engines, e)
	}
	switch {
	case o.degree < 2:
		return o, fmt.Errorf("-degree %d: at least 2", o.degree)
	case o.joinRate <= 0:
		return o, fmt.Errorf("-join-rate must be positive")
	case o.load.lightRate <= 0 || o.load.lightDuration <= 0 || o.load.classicCount < 1 || o.load.classicInterval <= 0:
		return o, fmt.Errorf("the workload flags must be positive")
	}
	return o, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	if o.engine != "" {
		// An engine process: one engine, one N, one load.
		r, err := runEngine(ctx, o, o.engine, o.ns[0], o.loads[0], stderr)
		if err != nil {
			fmt.Fprintf(stderr, "bench: %s: %v\n", o.engine, err)
			return 1
		}
		b, _ := json.Marshal(r)
		fmt.Fprintln(stdout, string(b))
		return 0
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	code := 0
	for _, n := range o.ns {
		for _, load := range o.loads {
			var rows []Result
			for _, e := range o.engines {
				r, err := runChild(ctx, exe, args, o, e, n, load, stderr)
				if err != nil {
					fmt.Fprintf(stderr, "bench: %s, %d nodes, %s load: %v\n", e, n, load, err)
					code = 1
					continue
				}
				rows = append(rows, r)
				if o.jsonOut {
					b, _ := json.Marshal(r)
					fmt.Fprintln(stdout, string(b))
				}
			}
			if !o.jsonOut && len(rows) > 0 {
				writeTable(stdout, rows)
			}
			if ctx.Err() != nil {
				return 1
			}
		}
	}
	return code
}

// runChild runs one engine in a process of its own: this binary with the
// same flags, -engine, and a single N and load.
func runChild(ctx context.Context, exe string, args []string, o options, engine string, n int, load string, stderr io.Writer) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, o.childWait)
	defer cancel()
	child := append(withoutFlags(args, "n", "loads", "engines", "json", "engine"),
		"-engine", engine, "-n", strconv.Itoa(n), "-loads", load)
	cmd := exec.CommandContext(ctx, exe, child...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, stderr
	cmd.WaitDelay = 5 * time.Second
	fmt.Fprintf(stderr, "bench: %s, %d nodes, %s load\n", engine, n, load)
	if err := cmd.Run(); err != nil {
		return Result{}, fmt.Errorf("engine process: %w", err)
	}
	var last string
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "{") {
			last = sc.Text()
		}
	}
	var r Result
	if err := json.Unmarshal([]byte(last), &r); err != nil {
		return Result{}, fmt.Errorf("engine process printed no result: %w", err)
	}
	return r, nil
}

// withoutFlags drops the named flags (and their values) from args.
func withoutFlags(args []string, names ...string) []string {
	drop := map[string]bool{}
	for _, n := range names {
		drop[n] = true
	}
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name := strings.TrimLeft(a, "-")
		name, _, hasValue := strings.Cut(name, "=")
		if !strings.HasPrefix(a, "-") || !drop[name] {
			out = append(out, a)
			continue
		}
		if !hasValue && name != "json" && i+1 < len(args) {
			i++ // the flag's value
		}
	}
	return out
}
