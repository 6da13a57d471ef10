package web

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/whispernet/whispernet/internal/loopback"
)

func TestPageAndAssets(t *testing.T) {
	n := startNet(t, 3)
	d := newDashboard(t, n, Options{})
	for _, c := range []struct {
		path, ctype, contains string
		code                  int
	}{
		{"/", "text/html", `id="graph"`, 200},
		{"/assets/app.js", "text/javascript", "EventSource", 200},
		{"/assets/graph.js", "text/javascript", "Barnes", 200},
		{"/assets/chart.js", "text/javascript", "CCDF", 200},
		{"/assets/style.css", "text/css", "#graph", 200},
		{"/assets/", "", "", 404},
		{"/assets/missing.js", "", "", 404},
		{"/metrics", "", "", 404}, // the CLI mounts it beside the dashboard
		{"/index.html", "", "", 404},
	} {
		resp, err := http.Get(d.ts.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("GET %s: status %d, want %d", c.path, resp.StatusCode, c.code)
			continue
		}
		if c.code != 200 {
			continue
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, c.ctype) {
			t.Errorf("GET %s: Content-Type %q, want %s", c.path, ct, c.ctype)
		}
		if !strings.Contains(string(b), c.contains) {
			t.Errorf("GET %s: body lacks %q", c.path, c.contains)
		}
	}
	// The page loads nothing from elsewhere: no URL with a scheme in any
	// asset, and a policy that would block one anyway.
	for _, p := range []string{"/", "/assets/app.js", "/assets/graph.js", "/assets/chart.js", "/assets/style.css"} {
		resp, err := http.Get(d.ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "http://") || strings.Contains(string(b), "https://") {
			t.Errorf("%s refers to another site", p)
		}
		if p == "/" && !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("the page has no same-origin content policy")
		}
	}
}

// TestAPI walks the JSON API over one small network: state, graph,
// degrees, publish and follow a message, feed, errors, peer and seed
// controls.
func TestAPI(t *testing.T) {
	n := startLinkedNet(t, 8)
	d := newDashboard(t, n, Options{})
	peers := n.Tracker.LivePeers()

	t.Run("state", func(t *testing.T) {
		var s State
		d.get("/api/state", &s)
		if s.Counts.Peers != 8 || s.Counts.Started != 8 || s.Counts.Links == 0 || s.Counts.Seeds != 2 || s.Counts.SeedsUp != 2 {
			t.Errorf("counts = %+v", s.Counts)
		}
		if s.Counts.LocalPeers != 8 {
			t.Errorf("local peers = %d, want 8", s.Counts.LocalPeers)
		}
		if s.Network.Peers != 8 || s.Network.LivenessMs != 300 || s.Network.LivenessMisses != 3 || s.Network.IntervalMs != 250 || !s.Network.DuplicatesTracked {
			t.Errorf("network = %+v", s.Network)
		}
		if len(s.Seeds) != 2 || !s.Seeds[0].Up || !s.Seeds[1].Up || s.Seeds[0].Registered == 0 {
			t.Errorf("seeds = %+v", s.Seeds)
		}
	})

	t.Run("graph", func(t *testing.T) {
		var g Graph
		d.get("/api/graph", &g)
		if len(g.Nodes) != 8 || len(g.Edges) == 0 || len(g.Edges)%2 != 0 {
			t.Fatalf("graph has %d nodes, %d edge ends", len(g.Nodes), len(g.Edges))
		}
		degree := make([]int, len(g.Nodes))
		for i := 0; i < len(g.Edges); i += 2 {
			a, b := g.Edges[i], g.Edges[i+1]
			if a >= b || b >= len(g.Nodes) {
				t.Fatalf("edge %d-%d is not an ordered pair of node indices", a, b)
			}
			if i > 0 && (g.Edges[i-2] > a || g.Edges[i-2] == a && g.Edges[i-1] >= b) {
				t.Fatalf("edges not sorted at %d", i)
			}
			degree[a]++
			degree[b]++
		}
		for i, nd := range g.Nodes {
			if nd.Degree != degree[i] || nd.Target < 1 || nd.Frozen || nd.Dead {
				t.Errorf("node %+v: %d links in the edge list", nd, degree[i])
			}
		}
	})

	t.Run("degrees", func(t *testing.T) {
		var dg Degrees
		d.get("/api/degrees", &dg)
		if dg.N != 8 || dg.Min < 1 || dg.Max < dg.Min || len(dg.CCDF) == 0 || dg.CCDF[0].P != 1 {
			t.Fatalf("degrees = %+v", dg)
		}
		total := 0
		for _, h := range dg.Hist {
			total += h[1]
		}
		if total != 8 {
			t.Errorf("histogram counts %d peers", total)
		}
		if dg.Fit == nil && dg.FitError == "" {
			t.Errorf("neither a fit nor a reason for none")
		}
		if dg.Fit != nil && (dg.Fit.Alpha <= 1 || len(dg.Fit.Line) == 0 || dg.Fit.Line[0].X != dg.Fit.Xmin) {
			t.Errorf("fit = %+v", dg.Fit)
		}
	})

	var pub Published
	t.Run("publish", func(t *testing.T) {
		if code := d.do("POST", "/api/publish", fmt.Sprintf(`{"peer":%q,"text":"hello api"}`, peers[0]), &pub); code != 200 {
			t.Fatalf("publish: status %d", code)
		}
		if !pub.Found || pub.Seq == 0 || pub.Origin != peers[0].String() || pub.Text != "hello api" {
			t.Fatalf("published = %+v", pub)
		}
		path := fmt.Sprintf("/api/messages/%s/%d", url.PathEscape(pub.Origin), pub.Seq)
		var m MessageDetail
		loopback.CheckFor(t, 5*time.Second, "message reaches every peer", func() error {
			d.get(path, &m)
			if m.Reached != 8 || m.Live != 8 {
				return fmt.Errorf("reached %d of %d", m.Reached, m.Live)
			}
			return nil
		})
		if m.Receivers != 7 || len(m.Receipts) != 7 || !m.ReceiptsKept || m.MaxHops < 1 {
			t.Errorf("message = %+v", m)
		}
		// Every copy a peer dropped as already seen is counted against the
		// message: the per-message count equals the peers' own counters
		// (this is the only message in flight).
		loopback.CheckFor(t, 5*time.Second, "duplicate copies counted", func() error {
			d.get(path, &m)
			var sum uint64
			peers, _ := n.Nodes()
			for _, p := range peers {
				sum += p.Stats().Duplicates
			}
			if m.Duplicates == nil || uint64(*m.Duplicates) != sum {
				return fmt.Errorf("message counts %v duplicates, peers %d", m.Duplicates, sum)
			}
			return nil
		})
		for _, r := range m.Receipts {
			if r.Peer == pub.Origin || r.Hops < 1 || r.Hops > m.MaxHops || r.Ms < 0 || r.From == "" {
				t.Errorf("receipt %+v", r)
			}
		}
		var list []Message
		d.get("/api/messages?n=5", &list)
		if len(list) == 0 || list[0].Origin != pub.Origin || list[0].Seq != pub.Seq || list[0].Reached != 8 {
			t.Errorf("messages = %+v", list)
		}
		var rnd Published
		if code := d.do("POST", "/api/publish", `{}`, &rnd); code != 200 || !rnd.Found || rnd.Text == "" {
			t.Errorf("random publish: %d %+v", code, rnd)
		}
	})

	t.Run("feed", func(t *testing.T) {
		var f FeedPage
		d.get("/api/feed?after=0&limit=1024", &f)
		joins := 0
		for _, e := range f.Events {
			if e.Kind == "join" {
				joins++
			}
		}
		if joins != 8 || f.Last == 0 || f.Events[len(f.Events)-1].Seq != f.Last {
			t.Errorf("feed: %d joins, last %d, %d events", joins, f.Last, len(f.Events))
		}
		var g FeedPage
		d.get(fmt.Sprintf("/api/feed?after=%d", f.Last), &g)
		if len(g.Events) > 3 { // a late link change or two may come in between
			t.Errorf("feed after the last event: %+v", g.Events)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, c := range []struct {
			method, path, body string
			code               int
		}{
			{"POST", "/api/publish", `{"peer":"nope"}`, 400},
			{"POST", "/api/publish", `{"peer":"127.0.0.1:1"}`, 404},
			{"POST", "/api/publish", `{"text":"two\nlines"}`, 400},
			{"POST", "/api/publish", `{"txt":"typo"}`, 400},
			{"POST", "/api/publish", `{"text":"` + strings.Repeat("x", 2000) + `"}`, 400},
			{"POST", "/api/publish", `not json`, 400},
			{"GET", "/api/publish", "", 405},
			{"GET", "/api/messages/nope/1", "", 400},
			{"GET", "/api/messages/127.0.0.1:1/x", "", 400},
			{"GET", "/api/messages/127.0.0.1:1/1", "", 404},
			{"GET", "/api/messages?n=0", "", 400},
			{"GET", "/api/feed?after=-1", "", 400},
			{"GET", "/api/peers/127.0.0.1:1", "", 404},
			{"GET", "/api/nope", "", 404},
			{"POST", "/api/peers/nope/kill", "", 400},
			{"POST", "/api/peers/" + peers[1].String() + "/explode", "", 404},
			{"POST", "/api/peers/127.0.0.1:1/kill", "", 404},
			{"POST", "/api/seeds/127.0.0.1:1/stop", "", 404},
			{"POST", "/api/seeds/" + n.Config().Seeds[0].String() + "/explode", "", 404},
			{"POST", "/api/watch", `{"client":"nobody"}`, 404},
		} {
			if code := d.do(c.method, c.path, c.body, nil); code != c.code {
				t.Errorf("%s %s %.30s: status %d, want %d", c.method, c.path, c.body, code, c.code)
			}
		}
	})

	t.Run("freeze", func(t *testing.T) {
		a := peers[2].String()
		if code := d.do("POST", "/api/peers/"+a+"/freeze", "", nil); code != 200 {
			t.Fatalf("freeze: %d", code)
		}
		var p PeerDetail
		d.get("/api/peers/"+a, &p)
		if p.State != "frozen" || !p.Frozen || !p.Local || p.Stats == nil {
			t.Errorf("frozen peer = %+v", p)
		}
		// Frozen peers are never picked to publish at random.
		for range 10 {
			var r Published
			if d.do("POST", "/api/publish", `{}`, &r); r.Origin == a {
				t.Fatalf("a frozen peer published")
			}
		}
		if code := d.do("POST", "/api/peers/"+a+"/thaw", "", nil); code != 200 {
			t.Fatalf("thaw: %d", code)
		}
		var q PeerDetail
		d.get("/api/peers/"+a, &q)
		if q.State != "live" || q.Frozen || len(q.Neighbours) != q.Degree {
			t.Errorf("thawed peer = %+v", q)
		}
	})

	t.Run("kill", func(t *testing.T) {
		a := peers[3].String()
		if code := d.do("POST", "/api/peers/"+a+"/kill", "", nil); code != 200 {
			t.Fatalf("kill: %d", code)
		}
		if code := d.do("POST", "/api/peers/"+a+"/kill", "", nil); code != 404 {
			t.Errorf("second kill: %d, want 404", code)
		}
		var g Graph
		d.get("/api/graph", &g)
		if i := slices.IndexFunc(g.Nodes, func(nd Node) bool { return nd.Addr == a }); i < 0 || !g.Nodes[i].Dead {
			// The neighbours may already have reported it and a seed
			// removed it; then the feed says so.
			var f FeedPage
			d.get("/api/feed?limit=1024", &f)
			if !slices.ContainsFunc(f.Events, func(e FeedEvent) bool { return e.Kind == "removed" && e.Peer == a }) {
				t.Errorf("killed peer is neither a ghost nor removed: %+v", g.Nodes)
			}
		}
		loopback.CheckFor(t, 10*time.Second, "seeds remove the killed peer", func() error {
			var s State
			d.get("/api/state", &s)
			var g Graph
			d.get("/api/graph", &g)
			if s.Counts.Peers != 7 || s.Counts.Dead != 0 || slices.ContainsFunc(g.Nodes, func(nd Node) bool { return nd.Addr == a }) {
				return fmt.Errorf("counts %+v", s.Counts)
			}
			return nil
		})
		var f FeedPage
		d.get("/api/feed?limit=1024", &f)
		var dead, removed bool
		for _, e := range f.Events {
			dead = dead || e.Kind == "dead" && e.Peer == a
			if e.Kind == "removed" && e.Peer == a && e.Note != "" {
				removed = true
			}
		}
		if !dead || !removed {
			t.Errorf("feed lacks the dead report (%v) or the annotated removal (%v)", dead, removed)
		}
	})

	t.Run("seeds", func(t *testing.T) {
		a := n.Config().Seeds[1].String()
		if code := d.do("POST", "/api/seeds/"+a+"/stop", "", nil); code != 200 {
			t.Fatalf("stop: %d", code)
		}
		if code := d.do("POST", "/api/seeds/"+a+"/stop", "", nil); code != 409 {
			t.Errorf("second stop: %d, want 409", code)
		}
		var seeds []Seed
		d.get("/api/seeds", &seeds)
		if i := slices.IndexFunc(seeds, func(s Seed) bool { return s.Addr == a }); i < 0 || seeds[i].Up || seeds[i].Registered != 0 {
			t.Errorf("seeds after stop = %+v", seeds)
		}
		if code := d.do("POST", "/api/seeds/"+a+"/start", "", nil); code != 200 {
			t.Fatalf("start: %d", code)
		}
		d.get("/api/seeds", &seeds)
		if i := slices.IndexFunc(seeds, func(s Seed) bool { return s.Addr == a }); i < 0 || !seeds[i].Up {
			t.Errorf("seeds after start = %+v", seeds)
		}
	})
}

// TestRequestGuards checks the defences of the controls: a cross-site
// POST and a foreign Host (DNS rebinding) are refused.
func TestRequestGuards(t *testing.T) {
	n := startNet(t, 2)
	d := newDashboard(t, n, Options{AllowedHosts: []string{"dash.example"}})
	send := func(method, path string, hdr map[string]string, host string) int {
		req, _ := http.NewRequest(method, d.ts.URL+path, strings.NewReader(`{}`))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	peer := n.Tracker.LivePeers()[0].String()
	for _, c := range []struct {
		name, method, path string
		hdr                map[string]string
		host               string
		code               int
	}{
		{"same origin", "POST", "/api/peers/" + peer + "/freeze", map[string]string{"Sec-Fetch-Site": "same-origin"}, "", 200},
		{"cross site", "POST", "/api/peers/" + peer + "/kill", map[string]string{"Sec-Fetch-Site": "cross-site"}, "", 403},
		{"foreign origin", "POST", "/api/publish", map[string]string{"Origin": "http://evil.example"}, "", 403},
		{"cross-site read is fine", "GET", "/api/state", map[string]string{"Sec-Fetch-Site": "cross-site"}, "", 200},
		{"rebinding", "GET", "/api/state", nil, "evil.example:80", 403},
		{"rebinding page", "GET", "/", nil, "evil.example", 403},
		{"localhost", "GET", "/api/state", nil, "localhost:8080", 200},
		{"ipv6 literal", "GET", "/api/state", nil, "[::1]:8080", 200},
		{"allowed name", "GET", "/", nil, "DASH.example:80", 200},
	} {
		if code := send(c.method, c.path, c.hdr, c.host); code != c.code {
			t.Errorf("%s: status %d, want %d", c.name, code, c.code)
		}
	}
	if !n.Tracker.Alive(n.Tracker.LivePeers()[0]) {
		t.Errorf("the cross-site kill went through")
	}
}
