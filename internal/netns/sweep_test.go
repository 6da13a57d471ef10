package netns_test

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/whispernet/whispernet/internal/netns"
)

// TestSweep: namespaces of a lab whose process is gone are removed, with
// their /etc/netns directory; a running lab's are left alone.
func TestSweep(t *testing.T) {
	if err := netns.Available(); err != nil {
		t.Skipf("network namespaces unavailable, test skipped: %v", err)
	}
	const stale = "wnsweep2147483646-host" // no process has that PID (above pid_max)
	if out, err := exec.Command("ip", "netns", "add", stale).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	os.MkdirAll("/etc/netns/"+stale, 0o755)
	l, err := netns.New("wnsweep", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	removed, err := netns.Sweep("wnsweep")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, []string{stale}) {
		t.Fatalf("Sweep removed %v, want only %s", removed, stale)
	}
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, want := range []struct {
		name  string
		there bool
	}{{stale, false}, {l.Hosts[0].NS, true}, {l.Prefix + "hub", true}} {
		if got := slices.ContainsFunc(splitNames(string(out)), func(s string) bool { return s == want.name }); got != want.there {
			t.Errorf("namespace %s present %v after Sweep, want %v", want.name, got, want.there)
		}
	}
	if _, err := os.Stat("/etc/netns/" + stale); !os.IsNotExist(err) {
		t.Errorf("/etc/netns/%s left behind: %v", stale, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/etc/netns/" + l.Hosts[0].NS); !os.IsNotExist(err) {
		t.Errorf("Close left /etc/netns/%s: %v", l.Hosts[0].NS, err)
	}
}

// splitNames returns the namespace names of "ip netns list" output (a
// name may be followed by " (id: N)").
func splitNames(list string) []string {
	var out []string
	for _, line := range strings.Split(list, "\n") {
		if name, _, _ := strings.Cut(strings.TrimSpace(line), " "); name != "" {
			out = append(out, name)
		}
	}
	return out
}
