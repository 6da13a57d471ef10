package sim_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/whispernet/whispernet/cli"
)

// runCLI runs the whispernet command with args.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = cli.Run(context.Background(), args, cli.Stdio{In: strings.NewReader(""), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

// `whispernet sim --json` prints one JSON object with the documented keys,
// the same for the same seed; wall time goes to stderr only.
func TestCLIJSON(t *testing.T) {
	args := []string{"sim", "--peers", "150", "--origins", "5", "--messages", "2", "--gossip-interval", "1s", "--crash", "2%", "--json"}
	code, out, stderr := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "s wall") || !strings.Contains(stderr, "peak RSS") {
		t.Errorf("stderr lacks the wall time and memory:\n%s", stderr)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Fatalf("stdout is not one JSON object (%v):\n%s", err, out)
	}
	for _, k := range []string{"source", "peers", "seeds", "formation_s", "components", "fit", "messages", "delivery_ratio", "propagation_ms",
		"ldh", "rmr", "detection_s", "false_deaths", "crashed", "events", "virtual_s"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("no %q in %s", k, out)
		}
	}
	for _, k := range []string{"alpha", "xmin", "ks"} {
		if _, ok := doc["fit"].(map[string]any)[k]; !ok {
			t.Errorf("no fit.%s in %s", k, out)
		}
	}
	if nb, ok := doc["detection_s"].(map[string]any)["neighbours"].(map[string]any); !ok || nb["p50"] == nil || nb["max"] == nil {
		t.Errorf("detection_s.neighbours lacks p50 or max: %s", out)
	}
	if doc["source"] != "sim" || doc["peers"] != 150.0 || doc["crashed"] != 3.0 {
		t.Errorf("source %v peers %v crashed %v, want sim, 150 and 3", doc["source"], doc["peers"], doc["crashed"])
	}
	// The simulator measures no process cost: net's own fields are absent.
	for _, k := range []string{"slow_closes", "cpu_us_per_delivery", "peak_rss_mb"} {
		if _, ok := doc[k]; ok {
			t.Errorf("sim summary has net's %q: %s", k, out)
		}
	}
	msgs := doc["messages"].(map[string]any)
	if msgs["seen"] != 10.0 || msgs["complete"] != 10.0 || msgs["coverage"] != 1.0 {
		t.Errorf("messages %v, want 10 seen, 10 complete, coverage 1", msgs)
	}
	if _, again, _ := runCLI(t, args...); again != out {
		t.Errorf("same seed, different output:\n%s\n%s", out, again)
	}
}

func TestCLITextAndPlots(t *testing.T) {
	dir := t.TempDir()
	code, out, stderr := runCLI(t, "sim", "--peers", "100", "--origins", "3", "--messages", "2", "--gossip-interval", "1s", "-o", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"formation", "power law", "delivery ratio", "propagation", "detection", "false positives"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	for _, f := range []string{"degrees.png", "propagation.png", "receipts.png", "detection.png"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestCLIUsage(t *testing.T) {
	if code, _, stderr := runCLI(t, "sim", "--help"); code != cli.ExitOK || !strings.Contains(stderr, "Examples:") || !strings.Contains(stderr, "-peers N") {
		t.Errorf("--help: exit %d, %s", code, stderr)
	}
	for _, args := range [][]string{
		{"sim", "--peers", "lots"},
		{"sim", "--loss", "150%"},
		{"sim", "--latency", "soon"},
		{"sim", "--nope"},
		{"sim", "extra"},
		{"sim", "--peers", "0"},
		{"sim", "--seeds", "100"},
	} {
		if code, _, stderr := runCLI(t, args...); code != cli.ExitUsage {
			t.Errorf("%v: exit %d, want %d (usage): %s", args, code, cli.ExitUsage, stderr)
		}
	}
}

func TestCLIScript(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.txt")
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(good, []byte("peers 60\norigins 2\nmessages 1\ngossip-interval 1s\ncrash 0\nexpect peers = 60\n"), 0o644)
	os.WriteFile(bad, []byte("peers 60\norigins 2\nmessages 1\ngossip-interval 1s\ncrash 0\nexpect peers = 61\n"), 0o644)
	if code, _, stderr := runCLI(t, "sim", "--script", good); code != cli.ExitOK || !strings.Contains(stderr, "1 expectation(s) met") {
		t.Errorf("good script: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "sim", "--script", bad); code != cli.ExitFail || !strings.Contains(stderr, "got 60") {
		t.Errorf("bad script: exit %d: %s", code, stderr)
	}
	// A flag overrides the script.
	if code, out, stderr := runCLI(t, "sim", "--script", bad, "--peers", "61", "--json"); code != cli.ExitOK || !strings.Contains(out, `"peers":61`) {
		t.Errorf("--peers 61 over the script: exit %d: %s", code, stderr)
	}
	if code, _, _ := runCLI(t, "sim", "--script", filepath.Join(dir, "missing.txt")); code != cli.ExitFail {
		t.Errorf("missing script: exit %d, want %d", code, cli.ExitFail)
	}
}

// A script with sweep lines runs every combination, one JSON object per
// run, checks each, and draws the sweep's figures.
func TestCLISweep(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "sweep.txt")
	os.WriteFile(script, []byte("peers 80\norigins 4\nmessages 6\ngossip-interval 1s\nsweep crash 20% 40%\nsweep broadcast flood plumtree\nexpect after_failure.messages > 0\n"), 0o644)
	code, out, stderr := runCLI(t, "sim", "--script", script, "--json", "-o", dir)
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4 runs:\n%s", len(lines), out)
	}
	// The first sweep varies slowest (the settings print with sorted keys).
	want := []string{`{"broadcast":"flood","crash":"20%"}`, `{"broadcast":"plumtree","crash":"20%"}`, `{"broadcast":"flood","crash":"40%"}`, `{"broadcast":"plumtree","crash":"40%"}`}
	for i, l := range lines {
		var doc struct {
			Sweep  json.RawMessage
			Report struct {
				Crashed      int
				AfterFailure *struct{ Messages int } `json:"after_failure"`
			}
		}
		if err := json.Unmarshal([]byte(l), &doc); err != nil {
			t.Fatalf("run %d: %v: %s", i, err, l)
		}
		if string(doc.Sweep) != want[i] {
			t.Errorf("run %d: sweep %s, want %s", i, doc.Sweep, want[i])
		}
		if crashed := []int{16, 16, 32, 32}[i]; doc.Report.Crashed != crashed || doc.Report.AfterFailure == nil {
			t.Errorf("run %d: %d crashed (want %d), after_failure %v", i, doc.Report.Crashed, crashed, doc.Report.AfterFailure)
		}
	}
	for _, f := range []string{"sweep-first.png", "sweep-healed.png", "reliability-flood.png", "reliability-plumtree.png"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	os.WriteFile(script, []byte("sweep crash 20% lots\n"), 0o644)
	if code, _, stderr := runCLI(t, "sim", "--script", script); code != cli.ExitUsage || !strings.Contains(stderr, "lots") {
		t.Errorf("bad sweep value: exit %d: %s", code, stderr)
	}
}

// --cpuprofile and --memprofile write pprof files (gzipped protocol
// buffers; the heap one names the simulator's functions, which made what
// is live) without changing the report;
// a profile that cannot be written fails the run.
func TestCLIProfiles(t *testing.T) {
	dir := t.TempDir()
	args := []string{"sim", "--peers", "100", "--origins", "3", "--messages", "2", "--gossip-interval", "1s", "--json"}
	_, plain, _ := runCLI(t, args...)
	cpu, heap := filepath.Join(dir, "cpu.pprof"), filepath.Join(dir, "heap.pprof")
	code, out, stderr := runCLI(t, append(args, "--cpuprofile", cpu, "--memprofile", heap)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if out != plain {
		t.Errorf("profiling changed the report:\n%s\n%s", plain, out)
	}
	for _, c := range []struct{ path, want string }{{cpu, "samples"}, {heap, "whispernet/sim.Run"}} {
		f, err := os.Open(c.path)
		if err != nil {
			t.Fatal(err)
		}
		z, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		b, err := io.ReadAll(z)
		f.Close()
		if err != nil || !bytes.Contains(b, []byte(c.want)) {
			t.Errorf("%s (%d bytes, %v): no %q in it", c.path, len(b), err, c.want)
		}
	}
	if code, _, stderr := runCLI(t, append(args, "--memprofile", filepath.Join(dir, "no", "such", "dir", "heap.pprof"))...); code != cli.ExitFail || !strings.Contains(stderr, "heap.pprof") {
		t.Errorf("unwritable --memprofile: exit %d, %s", code, stderr)
	}
}
