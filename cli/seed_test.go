package cli

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/whispernet/whispernet/identity"
	"github.com/whispernet/whispernet/internal/loopback"
)

// ask sends one line to the seed at a and returns its one reply line.
func ask(t *testing.T, a netip.AddrPort, line string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", a.String(), 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", a, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "%s\n", line)
	reply, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("%s: reading the reply to %q: %v", a, line, err)
	}
	return strings.TrimSuffix(reply, "\n")
}

// TestSeedReadsConfigKeys runs `seed` on config files whose lines carry
// seed keys (IP:PORT KEY): with good keys the seeds start and use them (an
// unsigned relay from their IP, which would be a hint from plain lines, is
// refused because every seed there has a key); a line whose key does not
// parse fails with the file, the line number and the bad text; a line
// that lists another key for a seed being started refuses to start it.
func TestSeedReadsConfigKeys(t *testing.T) {
	dir := t.TempDir()
	keyDir := filepath.Join(dir, "keys")
	os.Mkdir(keyDir, 0o700)
	seeds := loopback.FreePorts(t, 2)
	var keys [2]*identity.Key
	for i, a := range seeds {
		k, err := identity.Generate(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Write(filepath.Join(keyDir, seedKeyFile(a))); err != nil {
			t.Fatal(err)
		}
		keys[i] = k
	}
	cfg := filepath.Join(dir, "config.txt")
	relay := "Dead Node:127.0.0.1:9:1764072000.250000:127.0.0.1:10:relayed"

	t.Run("plain lines: a relay is a hint", func(t *testing.T) {
		os.WriteFile(cfg, []byte(fmt.Sprintf("%s\n%s\n", seeds[0], seeds[1])), 0o644)
		stop := startSeedCmd(t, seeds[0], "seed", "--config", cfg, "--key-dir", keyDir, "--log-dir", dir, "--quiet")
		defer stop()
		if got, want := ask(t, seeds[0], relay), "ok:already removed 127.0.0.1:9"; got != want {
			t.Errorf("reply %q, want %q", got, want)
		}
	})
	os.WriteFile(cfg, []byte(fmt.Sprintf("# keyed\n%s %s\n%s\t%s  # the second\n", seeds[0], keys[0].Public(), seeds[1], keys[1].Public())), 0o644)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"every seed", []string{"--key-dir", keyDir}},
		{"one seed with --listen", []string{"--listen", seeds[0].String(), "--key", filepath.Join(keyDir, seedKeyFile(seeds[0]))}},
	} {
		t.Run("good keys: "+tc.name, func(t *testing.T) {
			stop := startSeedCmd(t, seeds[0], append([]string{"seed", "--config", cfg, "--log-dir", dir, "--quiet"}, tc.args...)...)
			defer stop()
			want := "error:Dead Node: relay from 127.0.0.1 is not signed by a seed key that config.txt lists there"
			if got := ask(t, seeds[0], relay); got != want {
				t.Errorf("reply %q, want %q", got, want)
			}
		})
	}
	t.Run("a bad key", func(t *testing.T) {
		os.WriteFile(cfg, []byte(fmt.Sprintf("%s %s\n%s notakey\n", seeds[0], keys[0].Public(), seeds[1])), 0o644)
		code, _, stderr := run(t, context.Background(), "seed", "--config", cfg, "--key-dir", keyDir, "--log-dir", dir, "--quiet")
		want := fmt.Sprintf(`whispernet seed: %s:2: "notakey" after the address is not a seed key (want HOST:PORT or HOST:PORT KEY): `, cfg)
		if code != ExitFail || !strings.HasPrefix(stderr, want) {
			t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, ExitFail, want)
		}
	})
	t.Run("another seed's key on a seed's line", func(t *testing.T) {
		os.WriteFile(cfg, []byte(fmt.Sprintf("%s %s\n%s %s\n", seeds[0], keys[1].Public(), seeds[1], keys[1].Public())), 0o644)
		code, _, stderr := run(t, context.Background(), "seed", "--config", cfg, "--key-dir", keyDir, "--log-dir", dir, "--quiet")
		want := fmt.Sprintf("whispernet seed: whispernet: seed: config.txt lists key %s for this seed (%s), but its key is %s\n", keys[1].Public(), seeds[0], keys[0].Public())
		if code != ExitFail || stderr != want {
			t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, ExitFail, want)
		}
	})
}

// startSeedCmd runs the CLI with args until the returned stop is called,
// once the seed at a accepts connections.
func startSeedCmd(t *testing.T, a netip.AddrPort, args ...string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan string, 1)
	go func() {
		code, out, stderr := run(t, ctx, args...)
		done <- fmt.Sprintf("exit %d: %s%s", code, out, stderr)
	}()
	loopback.CheckFor(t, 10*time.Second, "the seed listening", func() error {
		select {
		case r := <-done:
			done <- r
			return fmt.Errorf("seed command ended: %s", r)
		default:
		}
		c, err := net.DialTimeout("tcp", a.String(), time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
	return func() {
		cancel()
		if r := <-done; !strings.HasPrefix(r, "exit 0:") {
			t.Errorf("seed command: %s", r)
		}
	}
}
