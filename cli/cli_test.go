package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	_ "image/png"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/whispernet/whispernet/internal/loopback"
	"github.com/whispernet/whispernet/summary"
)

// TestMain lets the test binary stand in for the whispernet binary: `net`
// starts worker processes with os.Executable(), which in a test is this
// binary, so with childEnv set it runs the CLI instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(Run(context.Background(), os.Args[1:], Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
	}
	os.Exit(m.Run())
}

const childEnv = "WHISPERNET_TEST_AS_CLI"

// run runs the CLI with args and returns exit code, stdout and stderr.
func run(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(ctx, args, Stdio{In: strings.NewReader(""), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

func TestFitReproducesPublishedFits(t *testing.T) {
	cases := []struct {
		file          string
		xmin, nTail   int
		alpha, ks     float64
		expR, logLike float64
	}{
		// EXPECTED.md: Clauset, Shalizi & Newman 2009 and Clauset's code.
		{file: "words.txt", xmin: 7, nTail: 2958, alpha: 1.9527, ks: 0.0083, expR: 9.09},
		{file: "terrorism.txt", xmin: 12, nTail: 547, alpha: 2.370, ks: 0.018, expR: 2.457},
		{file: "discrete_data.txt", xmin: 2, alpha: 2.58, logLike: -9155.6},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			code, out, stderr := run(t, context.Background(), "fit", filepath.Join("..", "testdata", "powerlaw", c.file), "--json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var r fitReport
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("%v: %q", err, out)
			}
			if r.Xmin != c.xmin {
				t.Errorf("xmin = %d, want %d", r.Xmin, c.xmin)
			}
			if math.Abs(r.Alpha-c.alpha) > 0.005 {
				t.Errorf("alpha = %.4f, want %.4f ± 0.005", r.Alpha, c.alpha)
			}
			if c.nTail != 0 && r.NTail != c.nTail {
				t.Errorf("n_tail = %d, want %d", r.NTail, c.nTail)
			}
			if c.ks != 0 && math.Abs(r.KS-c.ks) > 0.0005 {
				t.Errorf("ks = %.4f, want %.4f", r.KS, c.ks)
			}
			if c.logLike != 0 && math.Abs(r.LogLikelihood-c.logLike) > 0.1 {
				t.Errorf("loglikelihood = %.2f, want %.1f", r.LogLikelihood, c.logLike)
			}
			if c.expR != 0 {
				if e := r.LR["exponential"]; e == nil || math.Abs(e.R-c.expR) > 0.1 {
					t.Errorf("LR vs exponential = %+v, want R %.2f", e, c.expR)
				}
			}
			if r.P != nil {
				t.Errorf("p = %v without --bootstrap, want null", *r.P)
			}
		})
	}
}

func TestFitBootstrapAndFreqtrack(t *testing.T) {
	dir := t.TempDir()
	// A freqtrack.log: the last degree per node counts.
	var b strings.Builder
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range 400 {
		fmt.Fprintf(&b, "127.0.0.1:%d=>1\n", 20000+i)
		d := int(math.Floor(3 * math.Pow(1-rng.Float64(), -1/1.5))) // continuous Pareto, α = 2.5
		fmt.Fprintf(&b, "127.0.0.1:%d=>%d\n", 20000+i, d)
	}
	path := filepath.Join(dir, "freqtrack.log")
	os.WriteFile(path, []byte(b.String()), 0o644)
	code, out, stderr := run(t, context.Background(), "fit", path, "--bootstrap", "20", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r fitReport
	json.Unmarshal([]byte(out), &r)
	if r.N != 400 {
		t.Errorf("n = %d, want 400 (last degree per node)", r.N)
	}
	if r.P == nil || *r.P < 0 || *r.P > 1 {
		t.Errorf("p = %v, want a probability", r.P)
	}
	if r.Alpha < 2 || r.Alpha > 3.2 {
		t.Errorf("alpha = %.3f, want near 2.5", r.Alpha)
	}
}

func TestFitAndPlotErrors(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"fit"}, ExitUsage, "want exactly one FILE"},
		{[]string{"fit", "/no/such/file"}, ExitFail, "no such file"},
		{[]string{"fit", "x", "--bootstrap", "-1"}, ExitUsage, "must not be negative"},
		{[]string{"plot", "/no/such/freqtrack.log"}, ExitFail, "no such file"},
		{[]string{"nonsense"}, ExitUsage, `unknown command "nonsense"`},
		{[]string{"peer", "--port", "70000"}, ExitUsage, "not in 1-65535"},
		{[]string{"peer"}, ExitUsage, "--port is required when standard input is not a terminal"},
		{[]string{"seed", "--listen", "1.2.3:9"}, ExitUsage, "--listen"},
	} {
		code, _, stderr := run(t, ctx, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d containing %q", c.args, code, stderr, c.code, c.want)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.txt")
	os.WriteFile(bad, []byte("3\n4\nfive\n"), 0o644)
	if code, _, stderr := run(t, ctx, "fit", bad); code != ExitFail || !strings.Contains(stderr, "line 3") {
		t.Errorf("malformed data: exit %d, %q", code, stderr)
	}
}

func TestPlotWritesPNGAndSVG(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "freqtrack.log")
	var b strings.Builder
	for i, d := range []int{3, 3, 3, 3, 4, 4, 5, 6, 8, 12, 20, 3, 4, 3} {
		fmt.Fprintf(&b, "127.0.0.1:%d=>%d\n", 5000+i, d)
	}
	os.WriteFile(in, []byte(b.String()), 0o644)
	png := filepath.Join(dir, "d.png")
	if code, _, stderr := run(t, context.Background(), "plot", in, "-o", png); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	f, err := os.Open(png)
	if err != nil {
		t.Fatal(err)
	}
	cfg, format, err := image.DecodeConfig(f)
	f.Close()
	if err != nil || format != "png" || cfg.Width < 800 || cfg.Height < 300 {
		t.Errorf("png: %v %s %dx%d", err, format, cfg.Width, cfg.Height)
	}
	svg := filepath.Join(dir, "d.svg")
	if code, _, stderr := run(t, context.Background(), "plot", in, "-o", svg); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	body, _ := os.ReadFile(svg)
	if !bytes.Contains(body, []byte("<svg")) || !bytes.Contains(body, []byte("Total peers")) {
		t.Errorf("svg lacks the chart or the stats box")
	}
	if code, _, stderr := run(t, context.Background(), "plot", in, "-o", filepath.Join(dir, "d.gif")); code != ExitFail || !strings.Contains(stderr, "gif") {
		t.Errorf("gif: exit %d %q", code, stderr)
	}
}

func TestNetJSONSummaryAndStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a local network")
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.txt")
	ports := loopback.FreePorts(t, 4) // three seeds and the status server
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("# test seeds\n%s\n%s\n%s\n", ports[0], ports[1], ports[2])), 0o644)
	httpAddr := ports[3].String()
	const peers = 16
	type result struct {
		code        int
		out, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, out, stderr := run(t, context.Background(), "net", "--peers", fmt.Sprint(peers), "--config", cfgPath, "--log-dir", dir,
			"--base-port", fmt.Sprint(loopback.FreeRange(t, peers)), "--http", httpAddr,
			"--gossip-count", "0", "--messages", "5", "--liveness-interval", "500ms", "--refresh", "2s",
			"--stable-quiet", "1s", "--bootstrap", "10", "--duration", "8s", "--sample-every", "1s", "--json")
		done <- result{code, out, stderr}
	}()
	// While it runs, the status endpoint lists every node.
	var doc struct {
		Nodes []struct {
			Addr, Role string
			Degree     int
		}
	}
	deadline := time.Now().Add(6 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + httpAddr + "/status")
		if err == nil {
			json.NewDecoder(resp.Body).Decode(&doc)
			resp.Body.Close()
			if len(doc.Nodes) == 3+peers {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(doc.Nodes) != 3+peers {
		t.Errorf("/status listed %d nodes, want %d", len(doc.Nodes), 3+peers)
	}
	var table bytes.Buffer
	if code := Run(context.Background(), []string{"status", httpAddr}, Stdio{Out: &table, Err: &table}); code != 0 || !strings.Contains(table.String(), "ROLE") {
		t.Errorf("status command: exit %d, %q", code, table.String())
	}
	r := <-done
	if r.code != 0 {
		t.Fatalf("net exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	var sum map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, r.out)
	}
	for _, k := range []string{"source", "peers", "live", "links", "components", "degree", "fit", "formation_s", "propagation_ms", "false_deaths", "slow_closes", "demoted", "cpu_us_per_delivery", "peak_rss_mb"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("summary lacks %q: %s", k, lines[len(lines)-1])
		}
	}
	if sum["peers"] != float64(peers) || sum["components"] != float64(1) {
		t.Errorf("peers %v components %v, want %d and 1", sum["peers"], sum["components"], peers)
	}
	deg := sum["degree"].(map[string]any)
	if deg["min"].(float64) < 1 {
		t.Errorf("an isolated peer: %v", deg)
	}
	// 16 degrees are too few for a fit: the summary says so, with no
	// alpha (and no bootstrap run for it).
	fit := sum["fit"].(map[string]any)
	if _, ok := fit["alpha"]; ok || fit["note"] != summary.TooFewNote(int(fit["n_tail"].(float64))) || fit["p"] != nil {
		t.Errorf("fit on 16 degrees: %v", fit)
	}
	prop := sum["propagation_ms"].(map[string]any)
	if prop["max"].(float64) <= 0 || prop["p50"].(float64) > prop["p99"].(float64) || prop["p99"].(float64) > prop["max"].(float64) {
		t.Errorf("propagation %v", prop)
	}
	msgs := sum["messages"].(map[string]any)
	if msgs["seen"] != float64(5) || msgs["complete"] != float64(5) || msgs["coverage"] != float64(1) {
		t.Errorf("messages %v, want all 5 probes seen and complete, coverage 1", msgs)
	}
	// Nobody was killed or frozen, so every verdict of death would be
	// false; with 500 ms liveness a machine at load 40 does produce some,
	// so the count is logged, not asserted (TestFalseDeaths in localnet
	// checks the counting exactly). One process ran everything.
	if fd, ok := sum["false_deaths"].(map[string]any); !ok || fd["dead_reports"] == nil || fd["seed_removals"] == nil {
		t.Errorf("false deaths %v", sum["false_deaths"])
	} else {
		t.Logf("false deaths %v", fd)
	}
	nt := sum // net's own fields are at the top level
	if nt["processes"] != float64(1) || nt["slow_closes"] != float64(0) || !(nt["cpu_s"].(float64) > 0) ||
		!(nt["cpu_us_per_delivery"].(float64) > 0) || !(nt["peak_rss_mb"].(float64) > 0) {
		t.Errorf("net fields %v %v %v %v %v: want 1 process, no slow close, positive CPU and RSS",
			nt["processes"], nt["slow_closes"], nt["cpu_s"], nt["cpu_us_per_delivery"], nt["peak_rss_mb"])
	}
	for _, f := range []string{"outputfile.log", "freqtrack.log", "degrees.png"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
	// Coverage over time: a sample a second while it ran to --duration,
	// in time order, never shrinking, the last one (taken at the end)
	// the summary's own counts.
	var over struct {
		Messages summary.Messages
		Samples  []summary.CoverageSample `json:"coverage_over_time"`
	}
	json.Unmarshal([]byte(lines[len(lines)-1]), &over)
	if len(over.Samples) == 0 {
		t.Fatalf("no coverage_over_time in %s", lines[len(lines)-1])
	}
	for i := 1; i < len(over.Samples); i++ {
		a, b := over.Samples[i-1], over.Samples[i]
		if b.TS < a.TS || b.Seen < a.Seen || b.Deliveries < a.Deliveries {
			t.Errorf("sample %d %+v after %+v", i, b, a)
		}
	}
	if last := over.Samples[len(over.Samples)-1]; last.Seen != over.Messages.Seen || last.Complete != over.Messages.Complete || last.Coverage != over.Messages.Coverage {
		t.Errorf("last sample %+v, summary %+v", last, over.Messages)
	}
	if n := strings.Count(r.stderr, "whispernet net: t "); n != len(over.Samples)-1 {
		t.Errorf("%d progress lines for %d samples:\n%s", n, len(over.Samples), r.stderr)
	}
}

// A --duration that ends before the overlay is stable still ends in a
// summary whose coverage over time is one sample, the summary's own counts.
func TestNetDurationEndsBeforeStable(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a local network")
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.txt")
	seeds := loopback.FreePorts(t, 2)
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("%s\n%s\n", seeds[0], seeds[1])), 0o644)
	code, out, stderr := run(t, context.Background(), "net", "--peers", "4", "--config", cfgPath, "--log-dir", dir,
		"--base-port", fmt.Sprint(loopback.FreeRange(t, 4)), "--http", "off", "--gossip-count", "0",
		"--stable-quiet", "1m", "--bootstrap", "0", "--duration", "1s", "--json")
	if code != 0 {
		t.Fatalf("net exit %d: %s", code, stderr)
	}
	sum := lastSummary(t, out)
	if sum.FormationS != nil || sum.Net == nil {
		t.Fatalf("summary %+v: want no formation time and a net section", sum)
	}
	want := summary.CoverageSample{Seen: sum.Messages.Seen, Complete: sum.Messages.Complete, Coverage: sum.Messages.Coverage, Deliveries: sum.Deliveries}
	if got := sum.Net.CoverageOverTime; len(got) != 1 || got[0].TS < 1 || got[0].Seen != want.Seen || got[0].Complete != want.Complete ||
		got[0].Coverage != want.Coverage || got[0].Deliveries != want.Deliveries {
		t.Errorf("coverage over time %+v, want one sample after 1 s with %+v", got, want)
	}
	if strings.Contains(stderr, "whispernet net: t ") {
		t.Errorf("progress lines of samples in a run that ended before sampling:\n%s", stderr)
	}
}

func TestNetAcrossWorkerProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a local network in worker processes")
	}
	t.Setenv(childEnv, "1")
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.txt")
	seeds := loopback.FreePorts(t, 2)
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("%s\n%s\n", seeds[0], seeds[1])), 0o644)
	const peers = 24
	httpAddr := loopback.FreePorts(t, 1)[0].String()
	type result struct {
		code        int
		out, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, out, stderr := run(t, context.Background(), "net", "--peers", fmt.Sprint(peers), "--per-process", "10",
			"--config", cfgPath, "--log-dir", dir, "--base-port", fmt.Sprint(loopback.FreeRange(t, peers)), "--http", httpAddr,
			"--gossip-count", "0", "--messages", "4", "--liveness-interval", "500ms", "--refresh", "2s",
			"--stable-quiet", "1s", "--bootstrap", "0", "--duration", "8s", "--json")
		done <- result{code, out, stderr}
	}()
	// The main process's /metrics covers the peers of every worker (they
	// report their counters every 2 s), not only its own seeds.
	loopback.CheckFor(t, 7*time.Second, "every worker peer in /metrics", func() error {
		resp, err := http.Get("http://" + httpAddr + "/metrics")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if n := strings.Count(string(body), "\nwhispernet_degree{"); n != peers {
			return fmt.Errorf("%d whispernet_degree series, want %d", n, peers)
		}
		return nil
	})
	r := <-done
	code, out, stderr := r.code, r.out, r.stderr
	if code != 0 {
		t.Fatalf("net exit %d: %s", code, stderr)
	}
	sum := lastSummary(t, out)
	// Three worker processes (10 + 7 + 7 peers) form one overlay, and
	// gossip crosses the process boundaries.
	if sum.Peers != peers || sum.Components != 1 || sum.Degree.Min < 1 {
		t.Errorf("summary %+v: want %d peers in 1 component, none isolated", sum, peers)
	}
	if sum.Messages.Complete != 4 {
		t.Errorf("%d of 4 probe messages reached every peer", sum.Messages.Complete)
	}
	// CPU and memory cover this process and the three workers.
	if sum.Net == nil || sum.Net.Processes != 4 || sum.Net.CPUSeconds <= 0 || sum.Net.PeakRSSMB <= 0 {
		t.Errorf("net section %+v: want 4 processes with CPU and RSS", sum.Net)
	}
	t.Logf("false deaths %+v (logged, not asserted: see TestNetJSONSummaryAndStatus)", sum.FalseDeaths)
	// Every process appended whole lines to the shared logs.
	body, _ := os.ReadFile(filepath.Join(dir, "freqtrack.log"))
	nodes := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(body)), "\n") {
		node, deg, ok := strings.Cut(l, "=>")
		if !ok || deg == "" {
			t.Fatalf("torn freqtrack line %q", l)
		}
		nodes[node] = true
	}
	if len(nodes) != peers {
		t.Errorf("freqtrack.log names %d peers, want %d", len(nodes), peers)
	}
}

func TestAskPortLikeTheClassicTool(t *testing.T) {
	var prompt bytes.Buffer
	p, err := askPort(Stdio{In: strings.NewReader("5004\n"), Err: &prompt})
	if err != nil || p != 5004 || prompt.String() != "Enter port: " {
		t.Errorf("askPort = %d, %v, prompt %q", p, err, prompt.String())
	}
	for _, in := range []string{"", "abc\n", "0\n", "65536\n"} {
		if _, err := askPort(Stdio{In: strings.NewReader(in), Err: io.Discard}); err == nil {
			t.Errorf("askPort(%q) accepted", in)
		}
	}
}

func TestKeygen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "node.key")
	code, out, stderr := run(t, ctx, "keygen", path)
	if code != ExitOK {
		t.Fatalf("keygen: exit %d: %s", code, stderr)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, st.Mode().Perm())
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "node ID ") || len(lines[0]) != len("node ID ")+16 ||
		!strings.HasPrefix(lines[1], "public key ") || len(lines[1]) != len("public key ")+43 {
		t.Fatalf("keygen output %q", out)
	}
	code, again, _ := run(t, ctx, "keygen", "--show", path)
	if code != ExitOK || again != out {
		t.Fatalf("keygen --show: exit %d, %q, want %q", code, again, out)
	}
	if code, _, stderr := run(t, ctx, "keygen", path); code != ExitFail || !strings.Contains(stderr, "exists") {
		t.Fatalf("keygen over an existing file: exit %d, %q", code, stderr)
	}
	if code, _, _ := run(t, ctx, "keygen"); code != ExitUsage {
		t.Fatalf("keygen without FILE: exit %d", code)
	}
}

// TestPrintSummary pins the text summary: a fit on too few points is a
// sentence, not a number, and the load lines follow the gossip line.
func TestPrintSummary(t *testing.T) {
	formed := 2.08
	alpha, ks, p, r, pr := 2.4861, 0.0095, 0.97, 4.8, 0.0
	s := summary.Summary{Source: summary.SourceNet, Peers: 40, Live: 39, Links: 117, Components: 1, FormationS: &formed,
		Degree: summary.Degree{Min: 3, Avg: 5.85, Max: 23}, BelowTarget: 3, Fit: &summary.Fit{Xmin: 7, NTail: 7, Note: summary.TooFewNote(7)},
		Messages: summary.Messages{Seen: 400, Complete: 398, Coverage: 0.9987}, PropagationMs: summary.Quantiles{P50: 5.2, P99: 38.2, Max: 61},
		Deliveries: 15561, MaxHops: 10, FalseDeaths: summary.FalseDeaths{DeadReports: 2, SeedRemovals: 1},
		Net: &summary.Net{SlowCloses: 4, Demoted: 17, CPUSeconds: 1.991, CPUUsPerDelivery: 127.946,
			WritesPerDelivery: 1.452, ReadsPerDelivery: 2.904, LinesPerWrite: 1.118, PeakRSSMB: 40.5, Processes: 1}}
	var b strings.Builder
	printSummary(&b, s)
	want := `peers        39 live of 40 started
links        117
components   1
degree       min 3  avg 5.85  max 23  (3 below target)
power law    too few points (n_tail 7, under 50) for a meaningful fit (xmin 7)
stable after 2.08 s
gossip       400 messages, 398 reached every live peer, mean coverage 0.9987; spread p50 5.2 ms  p99 38.2 ms  max 61.0 ms  (10 hops max)
false deaths 2 dead reports and 1 seed removals of live peers
backpressure 4 links closed as too slow, 17 gossip lines announced instead of pushed (queue full)
cost         1.991 CPU-s in 1 process(es), 127.946 µs per delivery (15561 deliveries); peak RSS 40.5 MiB (sum of the processes' peaks)
syscalls     1.452 writes and 2.904 reads per delivery, 1.118 lines per write
`
	if b.String() != want {
		t.Errorf("summary text\n%s\nwant\n%s", b.String(), want)
	}
	s.Fit = &summary.Fit{Xmin: 3, NTail: 500, Alpha: &alpha, KS: &ks, P: &p, RExp: &r, PExp: &pr}
	s.Net.Processes = 0
	b.Reset()
	printSummary(&b, s)
	for _, line := range []string{
		"power law    alpha 2.486  xmin 3  n_tail 500  KS 0.0095  bootstrap p 0.970  LR vs exponential R 4.80 (p 0.000)\n",
		"cost         not measured on this system (Linux only)\n",
	} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("summary text lacks %q:\n%s", line, b.String())
		}
	}
}

// TestIsTerminalNotDevNull: /dev/null is a character device but no
// terminal; a peer with its input from /dev/null must not read it as typed
// lines, and a progress bar written to it must not redraw.
func TestIsTerminalNotDevNull(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Errorf("isTerminal(%s) = true", os.DevNull)
	}
	if isTerminal(strings.NewReader("")) {
		t.Error("isTerminal of a strings.Reader = true")
	}
}

// lastSummary decodes the summary that `net --json` prints as the last
// line of its output.
func lastSummary(t *testing.T, out string) summary.Summary {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var sum summary.Summary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out)
	}
	return sum
}
