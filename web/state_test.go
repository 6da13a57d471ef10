package web

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/whispernet/whispernet/localnet"
)

// fakeNet is a network with only a tracker: no sockets, no seeds. The
// views read nothing else, so scripted tracker events test them exactly.
func fakeNet() (*localnet.Network, *localnet.Tracker) {
	tr := localnet.NewTracker(time.Unix(1000, 0))
	return &localnet.Network{Tracker: tr}, tr
}

func ap(port uint16) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
}

// link records a link as both ends report it.
func link(tr *localnet.Tracker, a, b netip.AddrPort, up bool, at time.Time) {
	tr.Link(a, b, up, at)
	tr.Link(b, a, up, at)
}

// The feed's derived state: a killed peer is a ghost until a seed removes
// it, its neighbour's next link is its replacement, a live peer declared
// dead is a suspect until it thaws.
func TestFeedState(t *testing.T) {
	n, tr := fakeNet()
	s := New(n, Options{})
	at := time.Unix(1000, 0)
	A, B, C, D, seed := ap(5001), ap(5002), ap(5003), ap(5004), ap(8080)
	for _, p := range []netip.AddrPort{A, B, C, D} {
		tr.Started(p, 2, at)
	}
	link(tr, A, B, true, at)
	link(tr, B, C, true, at)
	link(tr, A, D, true, at)

	tr.Note("kill", C, "", at.Add(time.Second))
	tr.Dead(B, C, at.Add(1100*time.Millisecond))
	link(tr, B, C, false, at.Add(1100*time.Millisecond))
	link(tr, B, D, true, at.Add(1200*time.Millisecond)) // B replaces C
	link(tr, A, C, false, at.Add(1200*time.Millisecond))

	s.feed.sync(tr, at.Add(1300*time.Millisecond))
	g := s.graph(tr.Snapshot(at, true))
	if i := slices.IndexFunc(g.Nodes, func(nd Node) bool { return nd.Addr == C.String() }); i < 0 || !g.Nodes[i].Dead || g.Nodes[i].Degree != 0 {
		t.Fatalf("killed C is not a ghost: %+v", g.Nodes)
	}
	if len(g.Nodes) != 4 || len(g.Edges) != 6 {
		t.Errorf("graph: %d nodes, %d edges", len(g.Nodes), len(g.Edges)/2)
	}
	evs, _ := s.feed.after(0, 100)
	i := slices.IndexFunc(evs, func(e FeedEvent) bool { return e.Kind == "link" && e.Note != "" })
	if i < 0 || evs[i].Note != B.String()+" replaces dead neighbour "+C.String()+" with "+D.String() {
		t.Fatalf("no replacement note in %+v", evs)
	}

	tr.Removed(seed, C, at.Add(2*time.Second))
	tr.Removed(ap(8081), C, at.Add(2*time.Second))
	s.feed.sync(tr, at.Add(2*time.Second))
	g = s.graph(tr.Snapshot(at, true))
	if slices.ContainsFunc(g.Nodes, func(nd Node) bool { return nd.Addr == C.String() }) {
		t.Errorf("C still drawn after its removal")
	}
	evs, _ = s.feed.after(0, 100)
	notes := 0
	for _, e := range evs {
		if e.Kind == "removed" && e.Note != "" {
			notes++
		}
	}
	if notes != 1 {
		t.Errorf("%d removals annotated, want the first only", notes)
	}

	// A frozen peer declared dead is a suspect until it thaws.
	tr.Note("freeze", D, "", at.Add(3*time.Second))
	tr.Dead(A, D, at.Add(4*time.Second))
	s.feed.sync(tr, at.Add(4*time.Second))
	g = s.graph(tr.Snapshot(at, true))
	if i := slices.IndexFunc(g.Nodes, func(nd Node) bool { return nd.Addr == D.String() }); i < 0 || !g.Nodes[i].Frozen || !g.Nodes[i].Suspect {
		t.Errorf("frozen, reported D: %+v", g.Nodes)
	}
	tr.Note("thaw", D, "", at.Add(5*time.Second))
	s.feed.sync(tr, at.Add(5*time.Second))
	g = s.graph(tr.Snapshot(at, true))
	if i := slices.IndexFunc(g.Nodes, func(nd Node) bool { return nd.Addr == D.String() }); i < 0 || g.Nodes[i].Frozen || g.Nodes[i].Suspect {
		t.Errorf("thawed D: %+v", g.Nodes)
	}

	// A ghost no seed removes fades after ghostExpiry.
	tr.Note("kill", A, "", at.Add(6*time.Second))
	s.feed.sync(tr, at.Add(6*time.Second))
	if ghosts, _ := s.feed.marks(); !slices.Equal(ghosts, []string{A.String()}) {
		t.Errorf("ghosts = %v", ghosts)
	}
	s.feed.sync(tr, at.Add(6*time.Second+ghostExpiry+time.Second))
	if ghosts, _ := s.feed.marks(); len(ghosts) != 0 {
		t.Errorf("ghosts after expiry = %v", ghosts)
	}
}

// The feed cursor reports what scrolled away.
func TestFeedAfter(t *testing.T) {
	n, tr := fakeNet()
	s := New(n, Options{})
	for i := range feedRing + 10 {
		tr.Started(ap(uint16(10000+i)), 1, time.Unix(1000, 0))
		if i%256 == 0 {
			s.feed.sync(tr, time.Unix(1000, 0)) // the tracker keeps 512
		}
	}
	s.feed.sync(tr, time.Unix(1000, 0))
	evs, missing := s.feed.after(5, feedRing)
	if len(evs) != feedRing || evs[len(evs)-1].Seq != feedRing+10 || missing != 10-5 {
		t.Errorf("after 5: %d events up to %d, %d missing", len(evs), evs[len(evs)-1].Seq, missing)
	}
	evs, missing = s.feed.after(feedRing+5, 3)
	if len(evs) != 3 || evs[0].Seq != feedRing+8 || missing != 2 {
		t.Errorf("after %d, limit 3: %d events from %d, %d missing", feedRing+5, len(evs), evs[0].Seq, missing)
	}
}

// The fit runs at most every FitEvery; in between, the view says it is
// stale, and the CCDF is always current.
func TestDegreesFitCache(t *testing.T) {
	n := syntheticNet(300, 900, 0)
	s := New(n, Options{FitEvery: time.Second})
	now := time.Now()
	degs := n.Tracker.Snapshot(now, false).Degrees
	d1 := s.degrees(degs, now)
	if d1.Fit == nil || d1.FitStale || d1.Fit.Alpha <= 1 || d1.N != 300 || d1.CCDF[0].P != 1 {
		t.Fatalf("first view: %+v", d1)
	}
	changed := append(slices.Clone(degs), 40)
	d2 := s.degrees(changed, now.Add(100*time.Millisecond))
	if !d2.FitStale || d2.Fit != d1.Fit || d2.N != 301 {
		t.Errorf("changed within FitEvery: stale %v, same fit %v, n %d", d2.FitStale, d2.Fit == d1.Fit, d2.N)
	}
	d3 := s.degrees(changed, now.Add(1100*time.Millisecond))
	if d3.FitStale || d3.Fit == d1.Fit || d3.Fit.N != 301 {
		t.Errorf("after FitEvery: stale %v, n %d", d3.FitStale, d3.Fit.N)
	}
	// Two values cannot be fitted; the view says why.
	d4 := New(n, Options{}).degrees([]int{3, 3, 3}, now)
	if d4.Fit != nil || !strings.Contains(d4.FitError, "distinct") {
		t.Errorf("constant degrees: fit %+v, error %q", d4.Fit, d4.FitError)
	}
	// Twenty degrees, all in the tail: too few points for a fit that
	// means anything, as net's summary says.
	twenty := []int{3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 6, 6, 8, 10, 14, 20}
	d5 := New(n, Options{}).degrees(twenty, now)
	if d5.Fit != nil || d5.FitError != "too few points (n_tail 20, under 50) for a meaningful fit" {
		t.Errorf("20 degrees: fit %+v, error %q", d5.Fit, d5.FitError)
	}
}

// Message coverage counts live holders, origin included.
func TestMessageCoverage(t *testing.T) {
	n, tr := fakeNet()
	s := New(n, Options{})
	at := time.Unix(1000, 0)
	A, B, C := ap(5001), ap(5002), ap(5003)
	for _, p := range []netip.AddrPort{A, B, C} {
		tr.Started(p, 2, at)
	}
	tr.Deliver(A, A, A, 1, "hi", at, at, 0)
	tr.Deliver(B, A, A, 1, "hi", at, at.Add(5*time.Millisecond), 1)
	m := s.messages(10)
	if len(m) != 1 || m[0].Reached != 2 || m[0].Live != 3 || m[0].Receivers != 1 || m[0].Duplicates != nil {
		t.Fatalf("messages = %+v", m)
	}
	tr.Note("kill", C, "", at)
	tr.Duplicate(C, A, 1)
	d, ok := s.messageDetail(A, 1)
	if !ok || d.Reached != 2 || d.Live != 2 || len(d.Receipts) != 1 || !d.ReceiptsKept || d.Duplicates == nil || *d.Duplicates != 1 {
		t.Errorf("detail = %+v", d)
	}
	if _, ok := s.messageDetail(A, 2); ok {
		t.Errorf("unknown message found")
	}
}
