package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/whispernet/whispernet/internal/loopback"
)

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		code, out, _ := run(t, context.Background(), args...)
		if code != ExitOK || !strings.HasPrefix(out, "whispernet "+Version+" (commit ") {
			t.Fatalf("%v: exit %d, %q", args, code, out)
		}
	}
}

func TestVersionCommitFromLdflags(t *testing.T) {
	defer func(v, c string) { Version, Commit = v, c }(Version, Commit)
	Version, Commit = "v1.2.3", "0123abcd"
	if got := versionLine(); !strings.HasPrefix(got, "whispernet v1.2.3 (commit 0123abcd, ") {
		t.Fatalf("versionLine() = %q", got)
	}
}

func TestAddressFlagErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.txt")
	os.WriteFile(cfg, []byte("127.0.0.1:1\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"peer", "--listen", "0.0.0.0:5000"}, "whispernet peer: --listen 0.0.0.0:5000 is every address of this machine: say which one the others reach with --advertise HOST:PORT"},
		{[]string{"peer", "--listen", "127.0.0.1:5000", "--port", "5001"}, "whispernet peer: give --listen/--advertise or --ip/--port, not both"},
		{[]string{"peer", "--advertise", "peer 3:5000"}, `whispernet peer: --advertise: bad address: "peer 3" is not a host name or IP address`},
		{[]string{"seed", "--listen", "[::]:8080"}, "whispernet seed: --listen [::]:8080 is every address of this machine: say which one the others reach with --advertise HOST:PORT"},
		{[]string{"seed", "--listen", "nowhere.invalid:8080", "--resolve-timeout", "0"}, "whispernet seed: --listen: seed nowhere.invalid:8080: config: look up nowhere.invalid: "},
	} {
		args := append(tc.args, "--config", cfg, "--log-dir", dir)
		code, _, stderr := run(t, context.Background(), args...)
		if code != ExitUsage || !strings.HasPrefix(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
	os.WriteFile(cfg, []byte("seed-0:8080\n"), 0o644)
	code, _, stderr := run(t, context.Background(), "seed", "--config", cfg, "--log-dir", dir)
	if want := "a host name where an IP address is required (a seed named by host name is started alone: --listen 0.0.0.0:PORT --advertise NAME:PORT)"; code != ExitFail || !strings.Contains(stderr, want) {
		t.Errorf("seed of named seeds without --listen: exit %d, %q", code, stderr)
	}
}

// TestHostNamesAndAdvertise runs a seed that config.txt names by host name
// ("localhost", which every machine resolves) and listens on every address,
// and a peer that listens on every address and advertises itself by name:
// the seed registers the peer under the address the name resolves to.
func TestHostNamesAndAdvertise(t *testing.T) {
	ports := loopback.FreePorts(t, 2)
	seedPort, peerPort := ports[0].Port(), ports[1].Port()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.txt")
	os.WriteFile(cfg, []byte(fmt.Sprintf("localhost:%d\n", seedPort)), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seedDone := make(chan string, 1)
	go func() {
		_, out, stderr := run(t, ctx, "seed", "--listen", fmt.Sprintf("0.0.0.0:%d", seedPort), "--advertise", fmt.Sprintf("localhost:%d", seedPort),
			"--config", cfg, "--log-dir", filepath.Join(dir, "seed"))
		seedDone <- out + stderr
	}()
	peerCtx, stopPeer := context.WithCancel(ctx)
	peerDone := make(chan string, 1)
	advertise := fmt.Sprintf("localhost:%d", peerPort)
	if h, err := os.Hostname(); err == nil {
		if a, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", h); err == nil && len(a) > 0 && a[0].IsLoopback() {
			advertise = fmt.Sprintf(":%d", peerPort) // this machine's name, which resolves to loopback here
		}
	}
	go func() {
		_, out, stderr := run(t, peerCtx, "peer", "--listen", fmt.Sprintf(":%d", peerPort), "--advertise", advertise,
			"--config", cfg, "--log-dir", filepath.Join(dir, "peer"), "--gossip-count", "0")
		peerDone <- out + stderr
	}()
	seedLog := filepath.Join(dir, "seed", "outputfile.log")
	want := fmt.Sprintf("registered 127.0.0.1:%d ", peerPort)
	loopback.CheckFor(t, 20*time.Second, "the seed registers the peer by its advertised address", func() error {
		b, _ := os.ReadFile(seedLog)
		if !strings.Contains(string(b), want) {
			return fmt.Errorf("seed log lacks %q:\n%s", want, b)
		}
		return nil
	})
	// Interrupted (as by Ctrl+C or SIGTERM), the peer leaves gracefully:
	// the seed drops it at once and logs that it left.
	stopPeer()
	out := <-peerDone
	for _, want := range []string{
		fmt.Sprintf("whispernet peer: 127.0.0.1:%d (listening on 0.0.0.0:%d) running with 1 seed(s)", peerPort, peerPort),
		fmt.Sprintf("whispernet peer: 127.0.0.1:%d left the network", peerPort),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("peer output lacks %q:\n%s", want, out)
		}
	}
	want = fmt.Sprintf("peer 127.0.0.1:%d left (peer list size 0)", peerPort)
	loopback.CheckFor(t, 5*time.Second, "the seed logs that the peer left", func() error { // the log is written in batches
		b, _ := os.ReadFile(seedLog)
		if !strings.Contains(string(b), want) {
			return fmt.Errorf("seed log lacks %q:\n%s", want, b)
		}
		return nil
	})
	cancel()
	if out := <-seedDone; !strings.Contains(out, fmt.Sprintf("seed listening on 0.0.0.0:%d as 127.0.0.1:%d", seedPort, seedPort)) {
		t.Errorf("seed output:\n%s", out)
	}
}
