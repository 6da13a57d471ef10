package deploy

import (
	"net"
	"os"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// composeFile is the part of deploy/compose.yaml the checks read.
type composeFile struct {
	Services map[string]struct {
		Hostname string   `json:"hostname"`
		Command  []string `json:"command"`
	} `json:"services"`
}

// TestComposeSeedsMatchConfig checks that the image's default config.txt
// (deploy/config.txt) names exactly the seed services of compose.yaml, each
// listening on and advertising the port and hostname it is listed under.
// The Docker test in the main module (internal/dockertest) runs the file.
func TestComposeSeedsMatchConfig(t *testing.T) {
	data, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	cfg, err := os.ReadFile("config.txt")
	if err != nil {
		t.Fatal(err)
	}
	var seeds []string
	for name, s := range c.Services {
		if len(s.Command) > 0 && s.Command[0] == "seed" {
			seeds = append(seeds, name)
		}
	}
	entries := configEntries(string(cfg))
	if len(entries) != 3 || len(seeds) != 3 {
		t.Fatalf("config.txt lists %q and compose.yaml has seed services %q: want 3 of each", entries, seeds)
	}
	for _, e := range entries {
		host, port, err := net.SplitHostPort(e)
		if err != nil {
			t.Fatalf("config.txt entry %q: %v", e, err)
		}
		s, ok := c.Services[host]
		if !ok || s.Hostname != host {
			t.Errorf("config.txt names %s, but compose.yaml has no service %s with that hostname", e, host)
			continue
		}
		if !slices.Contains(s.Command, "--listen=0.0.0.0:"+port) || !slices.Contains(s.Command, "--advertise="+e) {
			t.Errorf("service %s command %q does not listen on :%s and advertise %s", host, s.Command, port, e)
		}
	}
	peer, ok := c.Services["peer"]
	if !ok || !slices.Contains(peer.Command, "--advertise=:5000") || peer.Hostname != "" {
		t.Errorf("service peer: want one scalable service advertising its own hostname (--advertise=:5000, no fixed hostname); got %q", peer.Command)
	}
	for _, a := range peer.Command {
		if strings.HasPrefix(a, "--config") {
			t.Errorf("service peer sets %s: it should use the image's config.txt (deploy/config.txt)", a)
		}
	}
	// The dashboard asks every peer for /status on the peers' --http port.
	dash, ok := c.Services["dashboard"]
	if !ok || len(dash.Command) == 0 || dash.Command[0] != "watch" {
		t.Fatalf("no dashboard service running watch: %q", dash.Command)
	}
	var httpPort string
	for _, a := range peer.Command {
		if v, ok := strings.CutPrefix(a, "--http="); ok {
			_, httpPort, _ = net.SplitHostPort(v)
		}
	}
	if httpPort == "" || !slices.Contains(dash.Command, "--status-port="+httpPort) {
		t.Errorf("dashboard command %q does not ask the peers' --http port %q", dash.Command, httpPort)
	}
}
