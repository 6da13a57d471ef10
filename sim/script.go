package sim

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/whispernet/whispernet/peer"
)

// A Script is a scenario written for people: settings, timed steps and
// the outcomes expected of the run. ParseScript reads one; the scenario
// tests in testdata/ and `whispernet sim --script` use them.
//
//	# Crash a fifth of the network at once.
//	peers 200             # any setting: NAME VALUE (see Settings)
//	origins 10
//	messages 3
//	gossip-interval 1s
//	crash 0               # no default midway crash
//	at 2s crash 20%       # steps: at TIME VERB [ARGS], TIME after formation
//	expect crashed = 40   # expectations: expect KEY OP VALUE
//	expect delivery_ratio = 1
//	expect detection_s.neighbours.max <= 1
//
// Steps: crash, freeze and publish take N, N% or "peer I J ..."; partition
// takes "seeds" or the same; join takes N; loss takes P% or a fraction;
// thaw, heal and wait take nothing. Expectation keys are the JSON keys of
// the Report, dotted into objects (fit.alpha); OP is one of = != < <= > >=,
// VALUE a number or null.
//
// A "sweep NAME V1 V2 ..." line makes the script a series of runs, one per
// value of the setting NAME (checked like NAME VALUE); two sweep lines run
// every combination, the first varying slowest. Its expectations apply to
// every run.
type Script struct {
	Config Config
	Expect []Expectation
	Sweeps []Sweep
}

// Sweep is one "sweep" line of a script: the values one setting takes in
// turn.
type Sweep struct {
	Name   string
	Values []string
}

// Runs returns the configurations of the script's sweep, the first sweep
// varying slowest, each with the settings it got (name=value, in sweep
// order); just its Config without sweeps.
func (s *Script) Runs() ([]Config, [][]string, error) {
	cfgs, labels := []Config{s.Config}, [][]string{nil}
	for _, sw := range s.Sweeps {
		var nc []Config
		var nl [][]string
		for i, c := range cfgs {
			for _, v := range sw.Values {
				c2 := c
				c2.Steps = slices.Clone(c.Steps)
				if err := c2.Set(sw.Name, v); err != nil {
					return nil, nil, fmt.Errorf("%w: sweep %s: %w", ErrScript, sw.Name, err)
				}
				nc = append(nc, c2)
				nl = append(nl, append(slices.Clone(labels[i]), sw.Name+"="+v))
			}
		}
		cfgs, labels = nc, nl
	}
	return cfgs, labels, nil
}

// Expectation is one "expect" line of a script.
type Expectation struct {
	Line  int
	Key   string
	Op    string
	Value float64
	Null  bool // VALUE was null
}

func (e Expectation) String() string {
	v := strconv.FormatFloat(e.Value, 'g', -1, 64)
	if e.Null {
		v = "null"
	}
	return fmt.Sprintf("%s %s %s", e.Key, e.Op, v)
}

// ErrScript wraps every script syntax error.
var ErrScript = errors.New("sim: script")

// Settings lists the settings a script may give, each with what it sets.
// They are the `whispernet sim` flags of the same names.
var Settings = []struct{ Name, Help string }{
	{"peers", "`N` peers join at the start"},
	{"seeds", "`N` seeds (at most 64)"},
	{"seed", "`R`, the seed of every random choice of the run"},
	{"join-over", "spread the initial joins evenly over this `duration`"},
	{"latency", "one-way `delay` of every message, dial and close"},
	{"jitter", "add a random extra delay of up to this `duration` to each message"},
	{"loss", "`fraction` (0.05 or 5%) of peer-to-peer messages lost"},
	{"dial-timeout", "a dial across a partition fails after this `duration`"},
	{"seed-timeout", "a request to a partitioned seed fails after this `duration`"},
	{"stable-quiet", "the overlay has formed when all peers are linked in one component and hardly a link (under 1%) changed for this `duration`"},
	{"formation-timeout", "start the scenario anyway after this `duration`"},
	{"origins", "`N` random peers publish the gossip messages"},
	{"messages", "`N` messages from each origin, one every --gossip-interval"},
	{"crash", "`fraction` (0.01 or 1%) of the peers that crash at once midway through the gossip"},
	{"cpu-cores", "finite CPU: the peers share this many `cores`, each line costing --cpu-recv or --cpu-send (0: off, a peer takes no time)"},
	{"cpu-recv", "finite CPU: CPU `time` a received line costs a peer (with --cpu-cores)"},
	{"cpu-send", "finite CPU: CPU `time` a sent line costs a peer (with --cpu-cores)"},
	{"crash-kind", "what the midway --crash does to its peers: crash (their connections close) or freeze (silent: found by liveness alone)"},
	{"settle", "the run ends at most this `duration` after the last step (0: long enough to find a frozen peer)"},
	{"gossip-interval", "`duration` between two messages of an origin"},
	{"gossip-count", "`N` messages every peer also generates itself, the classic way"},
	{"gossip-delay", "wait this `duration` before a peer's own first message"},
	{"liveness-interval", "`duration` between two liveness requests to a neighbour"},
	{"liveness-misses", "`N` unanswered liveness requests in a row mark a neighbour dead"},
	{"refresh", "peers re-register with their seeds every `duration`"},
	{"fill-interval", "a peer below its target looks for neighbours every `duration`"},
	{"handshake-timeout", "a handshake must complete within this `duration`"},
	{"target", "fixed target degree `N` (0: capacities from the power law)"},
	{"max-peers", "hard cap `N` on a peer's neighbours"},
	{"max-known", "`N` candidate peers a peer remembers"},
	{"alpha", "power-law exponent `a` of peer capacities"},
	{"min-degree", "smallest capacity `N`"},
	{"max-degree", "largest capacity `N`"},
	{"seed-expiry", "seeds drop a registration not refreshed for this `duration`"},
	{"workers", "`N` goroutines call the protocol cores (0: one per CPU); the report does not depend on it"},
}

// Set applies one setting by name, as a script line or flag gives it.
func (c *Config) Set(name, value string) error {
	dur := func(d *time.Duration) error {
		v, err := time.ParseDuration(value)
		if err != nil {
			return fmt.Errorf("%s: %q is not a duration (like 50ms or 2s)", name, value)
		}
		*d = v
		return nil
	}
	num := func(n *int) error {
		v, err := strconv.Atoi(value)
		if err != nil {
			return fmt.Errorf("%s: %q is not a whole number", name, value)
		}
		*n = v
		return nil
	}
	frac := func(f *float64) error {
		v, err := ParseFraction(value)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		*f = v
		return nil
	}
	switch name {
	case "peers":
		return num(&c.Peers)
	case "seeds":
		return num(&c.Seeds)
	case "seed":
		v, err := strconv.ParseUint(value, 10, 64)
		if err != nil {
			return fmt.Errorf("seed: %q is not a whole number", value)
		}
		c.RandSeed = v
	case "join-over":
		return dur(&c.JoinOver)
	case "latency":
		return dur(&c.Latency)
	case "jitter":
		return dur(&c.Jitter)
	case "loss":
		return frac(&c.Loss)
	case "dial-timeout":
		return dur(&c.DialTimeout)
	case "seed-timeout":
		return dur(&c.SeedTimeout)
	case "stable-quiet":
		return dur(&c.Quiet)
	case "formation-timeout":
		return dur(&c.FormationTimeout)
	case "origins":
		return num(&c.Origins)
	case "messages":
		return num(&c.Messages)
	case "crash":
		return frac(&c.Crash)
	case "cpu-cores":
		return num(&c.CPU.Cores)
	case "cpu-recv":
		return dur(&c.CPU.Recv)
	case "cpu-send":
		return dur(&c.CPU.Send)
	case "crash-kind":
		switch value {
		case "crash":
			c.FreezeMidway = false
		case "freeze":
			c.FreezeMidway = true
		default:
			return fmt.Errorf("%s: %q is not crash or freeze", name, value)
		}
		return nil
	case "settle":
		return dur(&c.Settle)
	case "gossip-interval":
		return dur(&c.Peer.GossipInterval)
	case "gossip-count":
		return num(&c.Peer.GossipCount)
	case "gossip-delay":
		return dur(&c.Peer.GossipDelay)
	case "liveness-interval":
		return dur(&c.Peer.LivenessInterval)
	case "liveness-misses":
		return num(&c.Peer.LivenessMisses)
	case "refresh":
		return dur(&c.Peer.RefreshInterval)
	case "fill-interval":
		return dur(&c.Peer.FillInterval)
	case "handshake-timeout":
		return dur(&c.Peer.HandshakeTimeout)
	case "target":
		return num(&c.Peer.Target)
	case "max-peers":
		return num(&c.Peer.MaxPeers)
	case "max-known":
		return num(&c.Peer.MaxKnown)
	case "alpha":
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return fmt.Errorf("alpha: %q is not a number", value)
		}
		c.Peer.Degrees.Alpha = v
	case "min-degree":
		return num(&c.Peer.Degrees.Min)
	case "max-degree":
		return num(&c.Peer.Degrees.Max)
	case "broadcast":
		b, err := peer.ParseBroadcast(value)
		if err != nil {
			return fmt.Errorf("broadcast: %q is not flood or plumtree", value)
		}
		c.Peer.Broadcast = b
	case "sign":
		on, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("sign: %q is not true or false", value)
		}
		c.Peer.Sign = on
	case "lazy-interval":
		return dur(&c.Peer.LazyInterval)
	case "graft-timeout":
		return dur(&c.Peer.GraftTimeout)
	case "seed-expiry":
		return dur(&c.Seed.Expiry)
	case "workers":
		return num(&c.Workers)
	default:
		return fmt.Errorf("unknown setting %q", name)
	}
	return nil
}

// ParseFraction reads a fraction written as 0.05 or 5%.
func ParseFraction(s string) (float64, error) {
	t := strings.TrimSuffix(s, "%")
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) {
		return 0, fmt.Errorf("%q is not a fraction (like 0.05 or 5%%)", s)
	}
	if t != s {
		v /= 100
	}
	if v < 0 || v > 1 {
		return 0, fmt.Errorf("%q is not between 0 and 1 (0%% and 100%%)", s)
	}
	return v, nil
}

// ParseScript reads a script, applying its settings on top of base.
func ParseScript(r io.Reader, base Config) (*Script, error) {
	s := &Script{Config: base}
	s.Config.Steps = append([]Step(nil), base.Steps...)
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: line %d: %s", ErrScript, n, fmt.Sprintf(format, args...))
		}
		switch f[0] {
		case "at":
			if len(f) < 3 {
				return nil, bad("want: at TIME VERB [ARGS]")
			}
			at, err := time.ParseDuration(f[1])
			if err != nil || at < 0 {
				return nil, bad("%q is not a time (like 10s)", f[1])
			}
			st, err := parseStep(f[2], f[3:])
			if err != nil {
				return nil, bad("%v", err)
			}
			st.At = at
			s.Config.Steps = append(s.Config.Steps, st)
		case "sweep":
			if len(f) < 3 {
				return nil, bad("want: sweep SETTING VALUE VALUE ...")
			}
			for _, v := range f[2:] {
				c := s.Config
				if err := c.Set(f[1], v); err != nil {
					return nil, bad("%v", err)
				}
			}
			if len(s.Sweeps) == 2 {
				return nil, bad("at most two sweep lines")
			}
			s.Sweeps = append(s.Sweeps, Sweep{Name: f[1], Values: f[2:]})
		case "expect":
			if len(f) != 4 {
				return nil, bad("want: expect KEY OP VALUE")
			}
			e := Expectation{Line: n, Key: f[1], Op: f[2]}
			switch e.Op {
			case "=", "==", "!=", "<", "<=", ">", ">=":
			default:
				return nil, bad("unknown comparison %q (want = != < <= > >=)", e.Op)
			}
			if f[3] == "null" {
				e.Null = true
				if e.Op != "=" && e.Op != "==" && e.Op != "!=" {
					return nil, bad("null compares only with = or !=")
				}
			} else if v, err := strconv.ParseFloat(f[3], 64); err == nil {
				e.Value = v
			} else {
				return nil, bad("%q is not a number", f[3])
			}
			s.Expect = append(s.Expect, e)
		default:
			if len(f) != 2 {
				return nil, bad("want: SETTING VALUE (or at ..., expect ...)")
			}
			if err := s.Config.Set(f[0], f[1]); err != nil {
				return nil, bad("%v", err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrScript, err)
	}
	return s, nil
}

var stepVerbs = map[string]StepKind{}

func init() {
	for k, v := range stepNames {
		stepVerbs[v] = k
	}
}

func parseStep(verb string, args []string) (Step, error) {
	kind, ok := stepVerbs[verb]
	if !ok {
		return Step{}, fmt.Errorf("unknown step %q", verb)
	}
	st := Step{Kind: kind}
	who := func() error {
		switch {
		case len(args) >= 2 && args[0] == "peer":
			for _, a := range args[1:] {
				i, err := strconv.Atoi(a)
				if err != nil || i < 0 {
					return fmt.Errorf("%s: %q is not a peer number", verb, a)
				}
				st.Peers = append(st.Peers, i)
			}
		case len(args) == 1 && strings.HasSuffix(args[0], "%"):
			v, err := ParseFraction(args[0])
			if err != nil {
				return fmt.Errorf("%s: %w", verb, err)
			}
			st.Fraction = v
		case len(args) == 1:
			n, err := strconv.Atoi(args[0])
			if err != nil || n < 1 {
				return fmt.Errorf("%s: %q is not a count, a percentage or \"peer I...\"", verb, args[0])
			}
			st.Count = n
		default:
			return fmt.Errorf("%s: want N, N%% or \"peer I J...\"", verb)
		}
		return nil
	}
	none := func() error {
		if len(args) > 0 {
			return fmt.Errorf("%s takes no arguments", verb)
		}
		return nil
	}
	var err error
	switch kind {
	case StepCrash, StepFreeze, StepPublish:
		err = who()
	case StepPartition:
		if len(args) == 1 && args[0] == "seeds" {
			st.Seeds = true
		} else {
			err = who()
		}
	case StepJoin:
		if len(args) != 1 {
			return st, errors.New("join: want a count")
		}
		st.Count, err = strconv.Atoi(args[0])
		if err != nil || st.Count < 1 {
			err = fmt.Errorf("join: %q is not a count", args[0])
		}
	case StepLoss:
		if len(args) != 1 {
			return st, errors.New("loss: want a fraction or percentage")
		}
		st.Fraction, err = ParseFraction(args[0])
	default:
		err = none()
	}
	return st, err
}

// Check compares r with the expectations and returns one error per failed
// one. Keys name fields of the JSON summary (Report.Summary), the schema
// `sim --json` prints: "messages.complete", "false_deaths.dead_reports",
// "delivery_ratio", "detection_s.seeds.max".
func (s *Script) Check(r *Report) []error {
	b, err := json.Marshal(r.Summary())
	if err != nil {
		return []error{err}
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return []error{err}
	}
	var errs []error
	for _, e := range s.Expect {
		if err := e.check(doc); err != nil {
			errs = append(errs, fmt.Errorf("line %d: expect %s: %w", e.Line, e, err))
		}
	}
	return errs
}

func (e Expectation) check(doc map[string]any) error {
	var v any = doc
	for _, k := range strings.Split(e.Key, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("no key %q in the report", e.Key)
		}
		if v, ok = m[k]; !ok {
			return fmt.Errorf("no key %q in the report", e.Key)
		}
	}
	if e.Null {
		if (v == nil) != (e.Op != "!=") {
			return fmt.Errorf("got %v", orNull(v))
		}
		return nil
	}
	x, ok := v.(float64)
	if !ok {
		return fmt.Errorf("got %v, not a number", orNull(v))
	}
	var pass bool
	switch e.Op {
	case "=", "==":
		pass = x == e.Value
	case "!=":
		pass = x != e.Value
	case "<":
		pass = x < e.Value
	case "<=":
		pass = x <= e.Value
	case ">":
		pass = x > e.Value
	case ">=":
		pass = x >= e.Value
	}
	if !pass {
		return fmt.Errorf("got %v", x)
	}
	return nil
}

func orNull(v any) any {
	if v == nil {
		return "null"
	}
	return v
}
