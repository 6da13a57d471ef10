package watch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/whispernet/whispernet/internal/loopback"
	"github.com/whispernet/whispernet/localnet"
	"github.com/whispernet/whispernet/node"
	"github.com/whispernet/whispernet/peer"
	"github.com/whispernet/whispernet/status"
)

// startPeer starts a peer with fast timers and its own /status server,
// as "whispernet peer --http" runs it.
func startPeer(t *testing.T, ctx context.Context, self netip.AddrPort, seeds []netip.AddrPort) (*node.Peer, *httptest.Server) {
	t.Helper()
	cfg := node.DefaultPeerConfig()
	loopback.FastTimers(&cfg.Core)
	cfg.DialTimeout, cfg.RequestTimeout = loopback.Timeout, loopback.Timeout
	cfg.Core.Self, cfg.Core.Seeds = self, seeds
	cfg.Core.GossipCount, cfg.Core.Target, cfg.Core.MaxPeers = 0, 2, 4
	p, err := node.NewPeer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	reg := status.NewRegistry()
	reg.AddPeer(p)
	mux := http.NewServeMux()
	reg.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return p, srv
}

// links returns the overlay as the peers themselves see it, each link
// once as "a-b" with a < b.
func links(peers []*node.Peer) []string {
	var out []string
	for _, p := range peers {
		p.Inspect(func(c *peer.Peer) {
			for _, nb := range c.Neighbours() {
				if p.Addr().Compare(nb.Addr) < 0 {
					out = append(out, p.Addr().String()+"-"+nb.Addr.String())
				}
			}
		})
	}
	slices.Sort(out)
	return out
}

// trackerLinks returns the overlay as the watcher's tracker has it.
func trackerLinks(tr *localnet.Tracker) []string {
	snap := tr.Snapshot(time.Now(), true)
	var out []string
	for _, e := range snap.Edges {
		a, b := snap.Nodes[e[0]].Addr, snap.Nodes[e[1]].Addr
		if netip.MustParseAddrPort(a).Compare(netip.MustParseAddrPort(b)) > 0 {
			a, b = b, a
		}
		out = append(out, a+"-"+b)
	}
	slices.Sort(out)
	return out
}

func TestWatcherFollowsNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("starts loopback nodes")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ports := loopback.FreePorts(t, 5)
	seedAddr := ports[0]
	seeds := []netip.AddrPort{seedAddr}
	scfg := node.DefaultSeedConfig()
	scfg.Core.Self, scfg.Core.Seeds = seedAddr, seeds
	sd, err := node.NewSeed(scfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sd.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sd.Stop)
	var peers []*node.Peer
	statusAt := map[netip.AddrPort]string{}
	servers := map[netip.AddrPort]*httptest.Server{}
	for _, a := range ports[1:] {
		p, srv := startPeer(t, ctx, a, seeds)
		peers = append(peers, p)
		statusAt[a], servers[a] = strings.TrimPrefix(srv.URL, "http://"), srv
	}
	w, err := New(Config{Seeds: seeds, StatusAddr: func(p netip.AddrPort) string { return statusAt[p] }, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	tr := w.Network().Tracker

	// The watcher's overlay is the one the peers report, link for link.
	loopback.CheckFor(t, 10*time.Second, "the watcher sees the peers' own overlay", func() error {
		w.Poll(ctx)
		want, got := links(peers), trackerLinks(tr)
		if snap := tr.Snapshot(time.Now(), false); snap.Peers != 4 || len(want) == 0 || !slices.Equal(got, want) {
			return fmt.Errorf("%d peers; links %q, the peers report %q", snap.Peers, got, want)
		}
		return nil
	})
	if up := w.Network().Seeds(); !up[seedAddr] || len(up) != 1 {
		t.Errorf("seeds %v, want %s up", up, seedAddr)
	}

	// A peer whose /status stops answering is frozen; once its process is
	// gone and the seed has dropped it, it is killed, and the feed says so
	// before the removal.
	victim := peers[0]
	va := victim.Addr()
	servers[va].Close()
	w.Poll(ctx)
	if s := tr.Snapshot(time.Now(), true); !slices.ContainsFunc(s.Nodes, func(n localnet.NodeView) bool { return n.Addr == va.String() && n.Frozen }) {
		t.Fatalf("%s is not shown frozen after its /status stopped answering: %+v", va, s.Nodes)
	}
	victim.Stop()
	loopback.CheckFor(t, 10*time.Second, "the stopped peer gone", func() error {
		w.Poll(ctx)
		if tr.Alive(va) {
			return errors.New("still alive")
		}
		return nil
	})
	var kinds []string
	for _, e := range tr.Feed(0) {
		if e.Node == va.String() || e.Peer == va.String() {
			if e.Kind != "link" && e.Kind != "unlink" {
				kinds = append(kinds, e.Kind)
			}
		}
	}
	if want := []string{"join", "freeze", "kill", "removed"}; !slices.Equal(kinds, want) {
		t.Errorf("feed for %s: %q, want %q", va, kinds, want)
	}
	loopback.CheckFor(t, 10*time.Second, "the watcher sees the survivors' overlay", func() error {
		w.Poll(ctx)
		if want, got := links(peers[1:]), trackerLinks(tr); !slices.Equal(got, want) {
			return fmt.Errorf("links %q, the peers report %q", got, want)
		}
		return nil
	})

	// The controls answer that the nodes run elsewhere.
	n := w.Network()
	for name, err := range map[string]error{
		"kill": n.Kill(peers[1].Addr()), "freeze": n.Freeze(peers[1].Addr()), "publish": n.Publish(peers[1].Addr(), "x"),
		"stop seed": n.StopSeed(seedAddr), "start seed": n.StartSeed(seedAddr),
	} {
		if !errors.Is(err, localnet.ErrObserved) {
			t.Errorf("%s: %v, want ErrObserved", name, err)
		}
	}

	// A seed that stops answering is shown down.
	sd.Stop()
	w.Poll(ctx)
	if up := w.Network().Seeds(); up[seedAddr] {
		t.Errorf("seed %s still up after it stopped", seedAddr)
	}
	if err := n.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestParsePeerList(t *testing.T) {
	for _, c := range []struct {
		line  string
		limit int
		want  []string
		err   string
	}{
		{"peer list\n", 10, nil, ""},
		{"peer list:\n", 10, nil, ""},
		{"peer list:127.0.0.1#5000:10.0.0.2#5001\n", 10, []string{"10.0.0.2:5001", "127.0.0.1:5000"}, ""},
		{"peer list:[::1]#5000:127.0.0.1#5001\r\n", 10, []string{"127.0.0.1:5001", "[::1]:5000"}, ""},
		{"peer list:127.0.0.1#5000:127.0.0.1#5001:127.0.0.1#5002", 2, []string{"127.0.0.1:5000", "127.0.0.1:5001"}, ""},
		{"peer listing", 10, nil, "not a peer list"},
		{"error:rate limited", 10, nil, "not a peer list"},
		{"peer list:127.0.0.1:5000", 10, nil, "bad peer list entry"},
		{"peer list:seed-0#5000", 10, nil, "bad peer list entry"},
	} {
		got, err := parsePeerList(c.line, c.limit)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("parsePeerList(%q): err %v, want %q", c.line, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parsePeerList(%q): %v", c.line, err)
			continue
		}
		var keys []string
		for a := range got {
			keys = append(keys, a.String())
		}
		slices.Sort(keys)
		if !slices.Equal(keys, c.want) {
			t.Errorf("parsePeerList(%q) = %q, want %q", c.line, keys, c.want)
		}
	}
}

func FuzzParsePeerList(f *testing.F) {
	for _, s := range []string{"peer list", "peer list:127.0.0.1#5000:[::1]#5001", "peer list:[[::]]#1:", "peer list::::", "peer list:1.2.3.4#99999"} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, line string, limit int) {
		limit = max(0, limit%100)
		got, err := parsePeerList(line, limit)
		if err != nil {
			if got != nil {
				t.Fatalf("an error and a list")
			}
			return
		}
		if len(got) > limit {
			t.Fatalf("%d entries over the limit %d", len(got), limit)
		}
		for a := range got {
			if !a.IsValid() {
				t.Fatalf("invalid address %v from %q", a, line)
			}
		}
	})
}
