package seed

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/whispernet/whispernet/internal/script"
	"github.com/whispernet/whispernet/wire"
)

// The scripts in testdata/*.txt drive one Seed with these commands (the
// clock starts at base, Unix time 1764072000, and only moves when told):
//
//	new [self=IP:PORT] [seeds=A,B,...] [maxpeers=N] [expiry=D] [verify=BOOL] [rng=A,B]
//	req SRCIP LINE          Handle a request line from source IP SRCIP
//	tick [+D | =D | next]   advance the clock and call Tick
//	advance +D | =D         advance the clock only
//	peers | stats | deadline
//
// Output: "reply LINE" for a request, then the actions from Ready:
//
//	relay SEED LINE | log TEXT | removed IP:PORT | left IP:PORT

var base = time.Unix(1764072000, 0).UTC()

type seedRun struct {
	t     *testing.T
	clock script.Clock
	s     *Seed
}

func TestScripts(t *testing.T) {
	script.Run(t, "testdata/*.txt", func(t *testing.T) func(*script.Case) []string {
		r := &seedRun{t: t, clock: script.NewClock(base)}
		return r.run
	})
}

func (r *seedRun) run(c *script.Case) []string {
	cmd, name, rest, fields := c.Line, c.Cmd, c.Rest, c.Args
	if name != "new" && r.s == nil {
		return c.Fail(r.t, "no seed: use new first")
	}
	var out []string
	switch name {
	case "new":
		cfg, rng, err := scriptConfig(c.KeyValues())
		if err != nil {
			return c.Fail(r.t, "%v", err)
		}
		s, err := New(cfg, rng)
		if err != nil {
			return []string{"error: " + err.Error()}
		}
		*r = seedRun{t: r.t, clock: script.NewClock(base), s: s}
		return nil
	case "req":
		src, line, ok := strings.Cut(rest, " ")
		if !ok {
			return c.Fail(r.t, "want req SRCIP LINE")
		}
		ip, err := netip.ParseAddr(src) // a socket address, not wire form
		if err != nil {
			return c.Fail(r.t, "%v", err)
		}
		m, err := wire.Parse(line)
		if err != nil {
			return c.Fail(r.t, "%v", err)
		}
		reply := r.s.Handle(r.clock.Now, ip, m)
		// The reply must be a line a peer can parse.
		text := wire.Format(reply)
		if _, err := wire.Parse(text); err != nil {
			r.t.Errorf("%s: reply %q does not parse: %v", cmd, text, err)
		}
		out = append(out, "reply "+text)
	case "advance", "tick":
		moved, err := r.clock.Move(fields, r.s.NextDeadline)
		if err != nil {
			return c.Fail(r.t, "%v", err)
		}
		out = append(out, moved...)
		if name == "tick" {
			r.s.Tick(r.clock.Now)
		}
	case "peers":
		var ps []string
		for _, a := range r.s.Peers() {
			ps = append(ps, a.String())
		}
		return []string{fmt.Sprintf("peers %d [%s]", r.s.Len(), strings.Join(ps, " "))}
	case "stats":
		return []string{statsLine(r.s.Stats())}
	case "deadline":
		return []string{"deadline " + r.clock.Rel(r.s.NextDeadline())}
	default:
		return c.Fail(r.t, "unknown command %q", name)
	}
	if !r.s.HasReady() && len(r.s.out) > 0 {
		r.t.Errorf("%s: HasReady is false with actions waiting", cmd)
	}
	for _, a := range r.s.Ready() {
		out = append(out, formatAction(a))
	}
	if r.s.HasReady() {
		r.t.Errorf("%s: HasReady after Ready", cmd)
	}
	return out
}

func formatAction(a Action) string {
	switch a.Kind {
	case Relay:
		return fmt.Sprintf("relay %s %s", a.Addr, wire.Format(a.Msg))
	case Log:
		return "log " + a.Text
	case Removed:
		return "removed " + a.Addr.String()
	case Left:
		return "left " + a.Addr.String()
	}
	return fmt.Sprintf("unknown action %+v", a)
}

func statsLine(s Stats) string {
	line := fmt.Sprintf("stats registrations=%d deadReports=%d deadAccepted=%d expired=%d refused=%d relaysSent=%d peerListsServed=%d",
		s.Registrations, s.DeadReports, s.DeadAccepted, s.Expired, s.Refused, s.RelaysSent, s.PeerListsServed)
	if s.Left > 0 {
		line += fmt.Sprintf(" left=%d", s.Left)
	}
	return line
}

// scriptConfig builds a Config from DefaultConfig and key=value overrides.
// Scripts default to self 127.0.0.1:8080 among seeds 8080, 8081, 8082.
func scriptConfig(kv map[string]string) (Config, *rand.Rand, error) {
	cfg := DefaultConfig()
	cfg.Probe = false // the classic model: a report removes at once (probe_test.go checks first)
	cfg.Self = netip.MustParseAddrPort("127.0.0.1:8080")
	cfg.Seeds = []netip.AddrPort{
		netip.MustParseAddrPort("127.0.0.1:8080"),
		netip.MustParseAddrPort("127.0.0.1:8081"),
		netip.MustParseAddrPort("127.0.0.1:8082"),
	}
	var s1, s2 uint64 = 1, 2
	var err error
	for k, v := range kv {
		switch k {
		case "self":
			cfg.Self, err = wire.ParseAddrPort(v)
		case "seeds":
			cfg.Seeds = nil
			if v != "" {
				for _, s := range strings.Split(v, ",") {
					a, e := wire.ParseAddrPort(s)
					if e != nil {
						err = e
					}
					cfg.Seeds = append(cfg.Seeds, a)
				}
			}
		case "maxpeers":
			cfg.MaxPeers, err = strconv.Atoi(v)
		case "expiry":
			cfg.Expiry, err = time.ParseDuration(v)
		case "verify":
			cfg.Verify, err = strconv.ParseBool(v)
		case "rng":
			a, b, _ := strings.Cut(v, ",")
			if s1, err = strconv.ParseUint(a, 10, 64); err == nil {
				s2, err = strconv.ParseUint(b, 10, 64)
			}
		default:
			return cfg, nil, fmt.Errorf("unknown config key %q", k)
		}
		if err != nil {
			return cfg, nil, fmt.Errorf("%s=%s: %w", k, v, err)
		}
	}
	return cfg, rand.New(rand.NewPCG(s1, s2)), nil
}
