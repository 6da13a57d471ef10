package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/whispernet/whispernet"
	"github.com/whispernet/whispernet/internal/fastnode"
	"github.com/whispernet/whispernet/internal/loopback"
	"github.com/whispernet/whispernet/localnet"
)

// fastPeerConfig shortens every timer so that a test network forms in a
// second and notices a dead peer at once; peers generate no gossip of
// their own, so every message is one the test published.
func fastPeerConfig() whispernet.Config {
	cfg := fastnode.Config()
	cfg.Generate = 0
	cfg.GenerateDelay = 0
	return cfg
}

// startNet starts two seeds and n peers on loopback. Peer ports are a
// consecutive run from a random base in 30000-32000, below Linux's
// ephemeral range (where the seeds' ports and every outgoing connection
// live); a run that collides with a port in use is retried.
func startNet(t *testing.T, peers int) *localnet.Network {
	t.Helper()
	return startNetWith(t, peers, nil)
}

// startNetWith is startNet with a change to the config.
func startNetWith(t *testing.T, peers int, tweak func(*localnet.Config)) *localnet.Network {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var err error
	for range 8 {
		cfg := localnet.DefaultConfig()
		cfg.Seeds = loopback.FreePorts(t, 2)
		cfg.Peers = peers
		cfg.BasePort = 30000 + rand.IntN(max(2000-peers, 1))
		cfg.JoinRate = 100
		cfg.LogDir = t.TempDir()
		cfg.Peer = fastPeerConfig()
		if tweak != nil {
			tweak(&cfg)
		}
		var n *localnet.Network
		n, err = localnet.Start(ctx, cfg)
		if err == nil {
			t.Cleanup(func() { n.Close() })
			return n
		}
		if !errors.Is(err, syscall.EADDRINUSE) && !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("start network: %v", err)
	return nil
}

// startLinkedNet starts a network and waits until its overlay is one
// connected component. The peers' neighbour choice does not guarantee that
// (a few peers at their target degree can close a clique nobody else may
// join), and these tests are about the dashboard, not the topology: a
// split overlay is logged and the network started again.
func startLinkedNet(t *testing.T, peers int) *localnet.Network {
	t.Helper()
	var s localnet.Snapshot
	for attempt := 1; attempt <= 3; attempt++ {
		n := startNet(t, peers)
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			s = n.Tracker.Snapshot(time.Now(), false)
			if s.Started == peers && s.Isolated == 0 && s.Components == 1 {
				return n
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("attempt %d: the overlay of %d peers is split into %d components (%d isolated peers) after 10 s; starting another network",
			attempt, peers, s.Components, s.Isolated)
		n.Close()
	}
	t.Fatalf("no connected overlay of %d peers in 3 attempts", peers)
	return nil
}

// dashboard serves a Server over HTTP for the test.
type dashboard struct {
	t   *testing.T
	srv *Server
	ts  *httptest.Server
}

func newDashboard(t *testing.T, n *localnet.Network, opts Options) *dashboard {
	t.Helper()
	return newDashboardOn(t, n, opts, nil)
}

// newDashboardOn is newDashboard with the server's listener wrapped by
// wrap (if not nil).
func newDashboardOn(t *testing.T, n *localnet.Network, opts Options, wrap func(net.Listener) net.Listener) *dashboard {
	t.Helper()
	s := New(n, opts)
	ts := httptest.NewUnstartedServer(s)
	if wrap != nil {
		ts.Listener = wrap(ts.Listener)
	}
	ts.Start()
	t.Cleanup(func() {
		s.Close()
		ts.Close()
	})
	return &dashboard{t: t, srv: s, ts: ts}
}

// do sends a request and decodes a JSON answer into out (if not nil),
// returning the status code.
func (d *dashboard) do(method, path, body string, out any) int {
	d.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, d.ts.URL+path, r)
	if err != nil {
		d.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatal(err)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			d.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	if resp.StatusCode >= 400 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && strings.HasPrefix(path, "/api/") {
		d.t.Errorf("%s %s: error answer is %q, not JSON", method, path, resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode
}

// get is do for a GET that must succeed.
func (d *dashboard) get(path string, out any) {
	d.t.Helper()
	if code := d.do("GET", path, "", out); code != http.StatusOK {
		d.t.Fatalf("GET %s: status %d", path, code)
	}
}
