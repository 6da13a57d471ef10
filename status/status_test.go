package status

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whispernet/whispernet/internal/loopback"
	"github.com/whispernet/whispernet/node"
	"github.com/whispernet/whispernet/peer"
)

// documented lists every whispernet_* family and its type: the
// collector's (metrics.go) and the delivery-latency histogram
// (status.go).
var documented = map[string]string{
	"whispernet_gossip_generated_total":      "counter",
	"whispernet_gossip_received_total":       "counter",
	"whispernet_gossip_forwarded_total":      "counter",
	"whispernet_gossip_duplicates_total":     "counter",
	"whispernet_gossip_dropped_total":        "counter",
	"whispernet_lazy_push_total":             "counter",
	"whispernet_liveness_requests_total":     "counter",
	"whispernet_liveness_replies_total":      "counter",
	"whispernet_liveness_misses_total":       "counter",
	"whispernet_dead_reports_sent_total":     "counter",
	"whispernet_dead_reports_received_total": "counter",
	"whispernet_dead_reports_given_up_total": "counter",
	"whispernet_dead_reports_accepted_total": "counter",
	"whispernet_connections_opened_total":    "counter",
	"whispernet_connections_refused_total":   "counter",
	"whispernet_degree":                      "gauge",
	"whispernet_target_degree":               "gauge",
	"whispernet_message_list_origins":        "gauge",
	"whispernet_registry_peers":              "gauge",
	"whispernet_writer_queue_drops_total":    "counter",
	"whispernet_bad_lines_total":             "counter",
	"whispernet_rate_limited_total":          "counter",
	"whispernet_registrations_total":         "counter",
	"whispernet_registrations_expired_total": "counter",
	"whispernet_up":                          "gauge",
	"whispernet_delivery_latency_seconds":    "histogram",
}

// Series each node exports, as name{extra labels beside node}.
var (
	seedSeries = []string{
		"whispernet_up{role=seed}",
		"whispernet_registry_peers",
		"whispernet_dead_reports_received_total",
		"whispernet_dead_reports_accepted_total",
		"whispernet_connections_refused_total",
		"whispernet_bad_lines_total",
		"whispernet_rate_limited_total",
		"whispernet_registrations_total",
		"whispernet_registrations_expired_total",
	}
	peerSeries = []string{
		"whispernet_up{role=peer}",
		"whispernet_gossip_generated_total",
		"whispernet_gossip_received_total",
		"whispernet_gossip_forwarded_total",
		"whispernet_gossip_duplicates_total",
		"whispernet_gossip_dropped_total{reason=stale}",
		"whispernet_gossip_dropped_total{reason=overflow}",
		"whispernet_lazy_push_total{kind=ihave_sent}",
		"whispernet_lazy_push_total{kind=graft_sent}",
		"whispernet_lazy_push_total{kind=graft_served}",
		"whispernet_lazy_push_total{kind=prune_sent}",
		"whispernet_lazy_push_total{kind=missing_dropped}",
		"whispernet_liveness_requests_total",
		"whispernet_liveness_replies_total",
		"whispernet_liveness_misses_total",
		"whispernet_dead_reports_sent_total",
		"whispernet_dead_reports_given_up_total",
		"whispernet_connections_opened_total",
		"whispernet_connections_refused_total",
		"whispernet_degree",
		"whispernet_target_degree",
		"whispernet_message_list_origins",
		"whispernet_writer_queue_drops_total",
		"whispernet_bad_lines_total",
	}
)

// scrape is one parsed /metrics response.
type scrape struct {
	types  map[string]string             // family -> type
	values map[string]float64            // series key -> value
	byNode map[string]map[string]float64 // node -> name{other labels} -> value
}

// parseMetrics reads the Prometheus text format (enough of it for these
// series: no escapes in label values beyond \" and \\).
func parseMetrics(t *testing.T, text string) scrape {
	t.Helper()
	s := scrape{types: map[string]string{}, values: map[string]float64{}, byNode: map[string]map[string]float64{}}
	for _, line := range strings.Split(text, "\n") {
		if line == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			s.types[name] = typ
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			t.Fatalf("metrics line %q", line)
		}
		series, valText := line[:sp], line[sp+1:]
		v, err := strconv.ParseFloat(valText, 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		name, labelText, hasLabels := strings.Cut(series, "{")
		labels := map[string]string{}
		if hasLabels {
			labelText = strings.TrimSuffix(labelText, "}")
			for labelText != "" {
				k, rest, _ := strings.Cut(labelText, "=")
				q, err := strconv.QuotedPrefix(rest)
				if err != nil {
					t.Fatalf("metrics line %q: %v", line, err)
				}
				labels[k], _ = strconv.Unquote(q)
				labelText = strings.TrimPrefix(rest[len(q):], ",")
			}
		}
		s.values[seriesKey(name, labels, "")] = v
		if n, ok := labels["node"]; ok {
			if s.byNode[n] == nil {
				s.byNode[n] = map[string]float64{}
			}
			s.byNode[n][seriesKey(name, labels, "node")] = v
		}
	}
	return s
}

// seriesKey is name{k=v,...} with sorted labels, skip left out.
func seriesKey(name string, labels map[string]string, skip string) string {
	var parts []string
	for k, v := range labels {
		if k != skip {
			parts = append(parts, k+"="+v)
		}
	}
	if len(parts) == 0 {
		return name
	}
	sort.Strings(parts)
	return name + "{" + strings.Join(parts, ",") + "}"
}

func (s scrape) get(t *testing.T, node, series string) float64 {
	t.Helper()
	v, ok := s.byNode[node][series]
	if !ok {
		t.Fatalf("no %s for node %s", series, node)
	}
	return v
}

func fastPeer(t *testing.T, ctx context.Context, self netip.AddrPort, seeds []netip.AddrPort) *node.Peer {
	t.Helper()
	cfg := node.DefaultPeerConfig()
	loopback.FastTimers(&cfg.Core)
	cfg.DialTimeout, cfg.RequestTimeout = loopback.Timeout, loopback.Timeout
	cfg.Core.Self = self
	cfg.Core.Seeds = seeds
	cfg.Core.GossipInterval = 50 * time.Millisecond
	cfg.Core.GossipCount = 2
	cfg.Core.GossipDelay = 0
	cfg.Core.Target = 1
	cfg.Core.MaxPeers = 4
	p, err := node.NewPeer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func coreOf(p *node.Peer) (deg, target, ml int, st peer.Stats, nbs []peer.Neighbour, seeds []netip.AddrPort) {
	p.Inspect(func(c *peer.Peer) {
		deg, target, ml, st, nbs, seeds = c.Degree(), c.Target(), c.MessageListLen(), c.Stats(), c.Neighbours(), c.RegisteredSeeds()
	})
	return
}

func TestEndpoints(t *testing.T) {
	if testing.Short() {
		t.Skip("starts loopback nodes")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ports := loopback.FreePorts(t, 3)
	seedAddr, aAddr, bAddr := ports[0], ports[1], ports[2]
	seeds := []netip.AddrPort{seedAddr}
	scfg := node.DefaultSeedConfig()
	scfg.Core.Self = seedAddr
	scfg.Core.Seeds = seeds
	sd, err := node.NewSeed(scfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sd.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sd.Stop)
	a := fastPeer(t, ctx, aAddr, seeds)
	b := fastPeer(t, ctx, bAddr, seeds)

	reg := NewRegistry()
	reg.AddSeed(sd)
	reg.AddPeer(a)
	// Added twice, observed once: the checks below see each series once,
	// and the scrape does not fail on duplicates.
	reg.AddSeed(sd)
	reg.AddPeer(a)
	mux := http.NewServeMux()
	reg.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// Wait for A and B to link and swap their gossip.
	loopback.CheckFor(t, 5*time.Second, "A and B linked, gossip done", func() error {
		deg, _, _, st, _, regs := coreOf(a)
		if deg != 1 || st.Generated != 2 || st.Received != 2 || len(regs) != 1 || len(sd.Peers()) != 2 {
			return fmt.Errorf("A degree %d generated %d received %d seeds %v; seed lists %v", deg, st.Generated, st.Received, regs, sd.Peers())
		}
		// B has A's messages too: pushed eagerly, or announced and
		// grafted if A sent one before the link joined the tree.
		if _, _, _, bst, _, _ := coreOf(b); bst.Received != 2 {
			return fmt.Errorf("B received %d of A's messages", bst.Received)
		}
		return nil
	})

	// /metrics: exactly the documented families, each node's series.
	resp, body := get(t, srv.URL+"/metrics")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	m := parseMetrics(t, body)
	var families []string
	for name, typ := range m.types {
		if strings.HasPrefix(name, "whispernet_") {
			families = append(families, name)
			if documented[name] != typ {
				t.Errorf("%s has type %s, want %s", name, typ, documented[name])
			}
		}
	}
	if len(families) != len(documented) {
		var want []string
		for n := range documented {
			want = append(want, n)
		}
		slices.Sort(families)
		slices.Sort(want)
		t.Fatalf("whispernet_* families\n got %v\nwant %v", families, want)
	}
	// The Go and process collectors are there too.
	if _, ok := m.types["go_goroutines"]; !ok {
		t.Error("no go_goroutines")
	}
	// Series carry the node label: the seed's and A's, no others.
	var nodes []string
	for n := range m.byNode {
		nodes = append(nodes, n)
	}
	slices.Sort(nodes)
	if want := []string{aAddr.String(), seedAddr.String()}; !slices.Equal(nodes, sortedCopy(want)) {
		t.Fatalf("node labels %v, want %v", nodes, want)
	}
	checkSeriesSet(t, m, seedAddr.String(), seedSeries)
	checkSeriesSet(t, m, aAddr.String(), peerSeries)

	// Values match the nodes' own counters.
	deg, target, ml, core, _, _ := coreOf(a)
	sn, an := seedAddr.String(), aAddr.String()
	exact := map[string][2]float64{
		"seed up":              {m.get(t, sn, "whispernet_up{role=seed}"), 1},
		"registry peers":       {m.get(t, sn, "whispernet_registry_peers"), float64(len(sd.Peers()))},
		"peer up":              {m.get(t, an, "whispernet_up{role=peer}"), 1},
		"degree":               {m.get(t, an, "whispernet_degree"), float64(deg)},
		"target":               {m.get(t, an, "whispernet_target_degree"), float64(target)},
		"message list":         {m.get(t, an, "whispernet_message_list_origins"), float64(ml)},
		"generated":            {m.get(t, an, "whispernet_gossip_generated_total"), float64(core.Generated)},
		"received":             {m.get(t, an, "whispernet_gossip_received_total"), float64(core.Received)},
		"stale":                {m.get(t, an, "whispernet_gossip_dropped_total{reason=stale}"), float64(core.Stale)},
		"overflow":             {m.get(t, an, "whispernet_gossip_dropped_total{reason=overflow}"), float64(core.Overflow)},
		"dead sent":            {m.get(t, an, "whispernet_dead_reports_sent_total"), float64(core.DeadReported)},
		"seed dead received":   {m.get(t, sn, "whispernet_dead_reports_received_total"), float64(sd.Stats().DeadReports)},
		"peer queue drops":     {m.get(t, an, "whispernet_writer_queue_drops_total"), float64(a.Stats().QueueDrops)},
		"seed expired":         {m.get(t, sn, "whispernet_registrations_expired_total"), float64(sd.Stats().Expired)},
		"seed rate limited":    {m.get(t, sn, "whispernet_rate_limited_total"), float64(sd.Stats().RateLimited)},
		"peer bad lines":       {m.get(t, an, "whispernet_bad_lines_total"), float64(a.Stats().BadLines)},
		"seed bad lines":       {m.get(t, sn, "whispernet_bad_lines_total"), float64(sd.Stats().BadLines)},
		"seed conns refused":   {m.get(t, sn, "whispernet_connections_refused_total"), float64(sd.Stats().ConnRefused)},
		"peer conns refused":   {m.get(t, an, "whispernet_connections_refused_total"), float64(core.ConnsRefused)},
		"peer conns opened":    {m.get(t, an, "whispernet_connections_opened_total"), float64(core.ConnsOpened)},
		"seed dead accepted":   {m.get(t, sn, "whispernet_dead_reports_accepted_total"), float64(sd.Stats().DeadAccepted)},
		"peer duplicates":      {m.get(t, an, "whispernet_gossip_duplicates_total"), float64(core.Duplicates)},
		"peer liveness misses": {m.get(t, an, "whispernet_liveness_misses_total"), float64(core.LivenessMissed)},
		"peer ihave sent":      {m.get(t, an, "whispernet_lazy_push_total{kind=ihave_sent}"), float64(core.IHaveSent)},
		"peer graft sent":      {m.get(t, an, "whispernet_lazy_push_total{kind=graft_sent}"), float64(core.GraftSent)},
		"peer prune sent":      {m.get(t, an, "whispernet_lazy_push_total{kind=prune_sent}"), float64(core.PruneSent)},
	}
	for what, v := range exact {
		if v[0] != v[1] {
			t.Errorf("%s: metric %v, node says %v", what, v[0], v[1])
		}
	}
	if deg != 1 || core.Generated != 2 || core.Received != 2 || core.ConnsOpened < 1 || len(sd.Peers()) != 2 {
		t.Fatalf("unexpected node state: degree %d stats %+v registry %v", deg, core, sd.Peers())
	}
	// Counters that tick on timers lie between readings taken around a
	// scrape.
	_, _, _, before, _, _ := coreOf(a)
	regsBefore := sd.Stats().Registrations
	_, body = get(t, srv.URL+"/metrics")
	m = parseMetrics(t, body)
	_, _, _, after, _, _ := coreOf(a)
	regsAfter := sd.Stats().Registrations
	for what, v := range map[string][3]float64{
		"liveness requests": {float64(before.LivenessSent), m.get(t, an, "whispernet_liveness_requests_total"), float64(after.LivenessSent)},
		"liveness replies":  {float64(before.LivenessReply), m.get(t, an, "whispernet_liveness_replies_total"), float64(after.LivenessReply)},
		"forwarded":         {float64(before.Forwarded), m.get(t, an, "whispernet_gossip_forwarded_total"), float64(after.Forwarded)},
		"registrations":     {float64(regsBefore), m.get(t, sn, "whispernet_registrations_total"), float64(regsAfter)},
	} {
		if v[1] < v[0] || v[1] > v[2] {
			t.Errorf("%s: metric %v not within node readings %v..%v", what, v[1], v[0], v[2])
		}
	}
	if before.Forwarded < 2 || regsBefore < 2 {
		t.Errorf("forwarded %d registrations %d: counters did not move", before.Forwarded, regsBefore)
	}
	// Liveness requests go out every 300 ms: the counter moves.
	first := m.get(t, an, "whispernet_liveness_requests_total")
	loopback.CheckFor(t, 3*time.Second, "liveness counter moves", func() error {
		_, body := get(t, srv.URL+"/metrics")
		if v := parseMetrics(t, body).get(t, an, "whispernet_liveness_requests_total"); v <= first {
			return fmt.Errorf("still %v", v)
		}
		return nil
	})

	// The latency histogram counts ObserveDelivery calls.
	hist := func() (count, sum, le1ms float64) {
		_, body := get(t, srv.URL+"/metrics")
		s := parseMetrics(t, body)
		return s.values["whispernet_delivery_latency_seconds_count"], s.values["whispernet_delivery_latency_seconds_sum"],
			s.values[`whispernet_delivery_latency_seconds_bucket{le=0.0008}`]
	}
	c0, s0, b0 := hist()
	now := time.Now()
	reg.ObserveDelivery(now, now.Add(5*time.Millisecond))
	reg.ObserveDelivery(now, now.Add(-time.Second)) // clock skew: counted as 0
	reg.ObserveDelivery(now, now.Add(500*time.Microsecond))
	c1, s1, b1 := hist()
	if c1 != c0+3 || math.Abs(s1-s0-0.0055) > 1e-9 || b1 != b0+2 {
		t.Fatalf("histogram count %v->%v sum %v->%v le=0.0008 %v->%v; want +3, +0.0055, +2", c0, c1, s0, s1, b0, b1)
	}

	// /status.
	doc := getStatus(t, srv.URL)
	if len(doc.Nodes) != 2 {
		t.Fatalf("/status has %d nodes: %+v", len(doc.Nodes), doc.Nodes)
	}
	sNode, aNode := doc.Nodes[0], doc.Nodes[1]
	if sNode.Addr != sn || sNode.Role != "seed" || sNode.Registry != len(sd.Peers()) || sNode.SeedStats == nil || sNode.PeerStats != nil ||
		sNode.UptimeS < 0 || sNode.Degree != 0 || len(sNode.Neighbours) != 0 {
		t.Errorf("seed node %+v", sNode)
	}
	deg, target, _, _, _, _ = coreOf(a)
	if aNode.Addr != an || aNode.Role != "peer" || aNode.Degree != deg || aNode.Target != target || aNode.Frozen ||
		aNode.PeerStats == nil || aNode.SeedStats != nil || aNode.PeerStats.Generated != 2 || aNode.UptimeS <= 0 {
		t.Errorf("peer node %+v", aNode)
	}
	if sNode.ID != sd.Key().ID() || sNode.Key != sd.Key().Public().String() || aNode.ID != a.Key().ID() || aNode.Key != a.Key().Public().String() || aNode.ID == sNode.ID {
		t.Errorf("node IDs: seed %q %q, peer %q %q", sNode.ID, sNode.Key, aNode.ID, aNode.Key)
	}
	if !slices.Equal(aNode.Seeds, []string{sn}) {
		t.Errorf("peer's seeds %v, want [%s]", aNode.Seeds, sn)
	}
	if len(aNode.Neighbours) != 1 || aNode.Neighbours[0].Addr != bAddr.String() || aNode.Neighbours[0].SinceS < 0 ||
		aNode.Neighbours[0].LastAlive < 0 || aNode.Neighbours[0].LastAlive > aNode.UptimeS || aNode.Neighbours[0].SinceS > aNode.UptimeS {
		t.Errorf("peer's neighbours %+v, want B", aNode.Neighbours)
	}
	// Two peers: one is the other's parent in the broadcast tree.
	if l := aNode.Neighbours[0].Link; l != "parent" && l != "child" {
		t.Errorf("A's link to B is %q, want parent or child", l)
	}
	if time.Since(doc.Generated) > time.Minute || doc.Generated.After(time.Now()) {
		t.Errorf("generated %v", doc.Generated)
	}

	// /healthz and pprof.
	resp, body = get(t, srv.URL+"/healthz")
	if resp.StatusCode != 200 || body != "ok\n" || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("/healthz: %s %q %q", resp.Status, body, resp.Header.Get("Content-Type"))
	}
	resp, body = get(t, srv.URL+"/debug/pprof/")
	if resp.StatusCode != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("/debug/pprof/: %s", resp.Status)
	}
	resp, _ = get(t, srv.URL+"/debug/pprof/goroutine?debug=1")
	if resp.StatusCode != 200 {
		t.Errorf("/debug/pprof/goroutine: %s", resp.Status)
	}
	resp, _ = get(t, srv.URL+"/debug/pprof/cmdline")
	if resp.StatusCode != 200 {
		t.Errorf("/debug/pprof/cmdline: %s", resp.Status)
	}
	// Only GET serves metrics and status.
	for _, path := range []string{"/metrics", "/status", "/healthz"} {
		r, err := http.Post(srv.URL+path, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: %s", path, r.Status)
		}
	}

	// A frozen peer reports up 0 and frozen.
	a.Freeze()
	_, body = get(t, srv.URL+"/metrics")
	if v := parseMetrics(t, body).get(t, an, "whispernet_up{role=peer}"); v != 0 {
		t.Errorf("frozen peer up %v", v)
	}
	if doc := getStatus(t, srv.URL); !doc.Nodes[1].Frozen {
		t.Errorf("frozen peer not frozen in /status")
	}
	a.Thaw()

	// A source's nodes appear.
	reg.AddSource(func() ([]*node.Peer, []*node.Seed) { return []*node.Peer{b}, nil })
	_, body = get(t, srv.URL+"/metrics")
	m = parseMetrics(t, body)
	checkSeriesSet(t, m, bAddr.String(), peerSeries)
	if v := m.get(t, bAddr.String(), "whispernet_degree"); v != 1 {
		t.Errorf("B degree %v", v)
	}
	doc = getStatus(t, srv.URL)
	if len(doc.Nodes) != 3 || doc.Nodes[2].Addr != bAddr.String() || doc.Nodes[2].Role != "peer" {
		t.Fatalf("/status with a source: %+v", doc.Nodes)
	}

	// A stopped peer is skipped; the dead report it causes shows up.
	b.Stop()
	_, body = get(t, srv.URL+"/metrics")
	m = parseMetrics(t, body)
	if _, ok := m.byNode[bAddr.String()]; ok {
		t.Errorf("stopped peer still in /metrics")
	}
	if doc := getStatus(t, srv.URL); len(doc.Nodes) != 2 || slices.ContainsFunc(doc.Nodes, func(n Node) bool { return n.Addr == bAddr.String() }) {
		t.Errorf("stopped peer still in /status: %+v", doc.Nodes)
	}
	loopback.CheckFor(t, 3*time.Second, "dead report counted", func() error {
		_, body := get(t, srv.URL+"/metrics")
		m := parseMetrics(t, body)
		if m.get(t, an, "whispernet_dead_reports_sent_total") != 1 || m.get(t, sn, "whispernet_dead_reports_accepted_total") != 1 ||
			m.get(t, sn, "whispernet_registry_peers") != 1 || m.get(t, an, "whispernet_degree") != 0 {
			return fmt.Errorf("dead sent %v accepted %v registry %v degree %v", m.get(t, an, "whispernet_dead_reports_sent_total"),
				m.get(t, sn, "whispernet_dead_reports_accepted_total"), m.get(t, sn, "whispernet_registry_peers"), m.get(t, an, "whispernet_degree"))
		}
		return nil
	})

	// Concurrent scrapes are safe (-race).
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 5 {
				for _, p := range []string{"/metrics", "/status"} {
					r, err := http.Get(srv.URL + p)
					if err != nil {
						t.Error(err)
						return
					}
					io.Copy(io.Discard, r.Body)
					r.Body.Close()
					if r.StatusCode != 200 {
						t.Errorf("%s: %s", p, r.Status)
					}
				}
			}
		})
	}
	wg.Wait()
}

func sortedCopy(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

func checkSeriesSet(t *testing.T, m scrape, node string, want []string) {
	t.Helper()
	var got []string
	for k := range m.byNode[node] {
		got = append(got, k)
	}
	slices.Sort(got)
	if !slices.Equal(got, sortedCopy(want)) {
		t.Fatalf("series of %s\n got %v\nwant %v", node, got, sortedCopy(want))
	}
}

func getStatus(t *testing.T, base string) Document {
	t.Helper()
	resp, body := get(t, base+"/status")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("/status: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	var doc Document
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("/status does not decode: %v\n%s", err, body)
	}
	return doc
}

// TestEmptyRegistry: with no nodes, the endpoints still answer.
func TestEmptyRegistry(t *testing.T) {
	reg := NewRegistry()
	mux := http.NewServeMux()
	reg.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, body := get(t, srv.URL+"/metrics")
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	m := parseMetrics(t, body)
	for name := range m.types {
		// Only the histogram exports without a node.
		if strings.HasPrefix(name, "whispernet_") && name != "whispernet_delivery_latency_seconds" {
			t.Errorf("family %s without nodes", name)
		}
	}
	if m.values["whispernet_delivery_latency_seconds_count"] != 0 {
		t.Errorf("histogram count %v", m.values["whispernet_delivery_latency_seconds_count"])
	}
	doc := getStatus(t, srv.URL)
	if doc.Nodes == nil || len(doc.Nodes) != 0 {
		t.Fatalf("empty /status nodes %#v, want []", doc.Nodes)
	}
	if !strings.Contains(body, "go_goroutines") {
		t.Error("no Go collector")
	}
	// Unstarted and never-started peers are skipped.
	p, err := node.NewPeer(func() node.PeerConfig {
		c := node.DefaultPeerConfig()
		c.Core.Self = netip.MustParseAddrPort("127.0.0.1:1")
		c.Core.Seeds = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:2")}
		return c
	}())
	if err != nil {
		t.Fatal(err)
	}
	reg.AddPeer(p)
	if doc := getStatus(t, srv.URL); len(doc.Nodes) != 0 {
		t.Fatalf("unstarted peer in /status: %+v", doc.Nodes)
	}
	_, body = get(t, srv.URL+"/metrics")
	if strings.Contains(body, "127.0.0.1:1") {
		t.Fatal("unstarted peer in /metrics")
	}
}
