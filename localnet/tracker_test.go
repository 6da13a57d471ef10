package localnet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// pa returns the i-th test peer address; addresses order by i.
func pa(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(10000+i))
}

var t0 = time.Unix(1764072000, 0)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// link reports an undirected link from both ends.
func link(tr *Tracker, a, b netip.AddrPort, up bool, when time.Time) {
	tr.Link(a, b, up, when)
	tr.Link(b, a, up, when)
}

func sortedEdges(e [][2]int) [][2]int {
	out := slices.Clone(e)
	slices.SortFunc(out, func(x, y [2]int) int {
		if x[0] != y[0] {
			return x[0] - y[0]
		}
		return x[1] - y[1]
	})
	return out
}

func TestSnapshotEmpty(t *testing.T) {
	tr := NewTracker(t0)
	s := tr.Snapshot(at(1500), true)
	want := Snapshot{At: at(1500), QuietFor: 1500 * time.Millisecond}
	if fmt.Sprint(s) != fmt.Sprint(want) {
		t.Fatalf("empty snapshot %+v, want %+v", s, want)
	}
}

// TestSnapshotLinks: a link counts once whether both ends report it or
// only one (either the lower or the higher address), and every figure
// counts the same links: a degree is the node's links in Edges, so a peer
// whose link only the other end reports yet (a handshake or a close half
// way through) has that link, is not isolated and is in its component.
func TestSnapshotLinks(t *testing.T) {
	tr := NewTracker(t0)
	A, B, C, D, E := pa(1), pa(2), pa(3), pa(4), pa(5)
	tr.Started(A, 2, at(1))
	tr.Started(B, 2, at(2))
	tr.Started(C, 1, at(3))
	tr.Started(D, 1, at(4))
	link(tr, A, B, true, at(10)) // both ends
	tr.Link(B, C, true, at(11))  // only the lower end
	tr.Link(D, C, true, at(12))  // only the higher end
	tr.Link(A, E, true, at(13))  // E never started: not a live peer
	tr.Link(A, B, true, at(99))  // repeated: no change
	s := tr.Snapshot(at(1013), true)
	if s.Peers != 4 || s.Started != 4 || s.Links != 3 || s.Components != 1 {
		t.Fatalf("peers %d started %d links %d components %d, want 4 4 3 1", s.Peers, s.Started, s.Links, s.Components)
	}
	if want := []int{1, 2, 2, 1}; !slices.Equal(s.Degrees, want) {
		t.Fatalf("degrees %v, want %v", s.Degrees, want)
	}
	// A is 1 of 2; C reports no link of its own, but B and D do.
	if s.BelowTarget != 1 || s.Isolated != 0 {
		t.Fatalf("below target %d isolated %d, want 1 0", s.BelowTarget, s.Isolated)
	}
	if s.QuietFor != time.Second {
		t.Fatalf("quiet for %v, want 1s (since the last change at 13 ms)", s.QuietFor)
	}
	wantNodes := []NodeView{{A.String(), 1, 2, false}, {B.String(), 2, 2, false}, {C.String(), 2, 1, false}, {D.String(), 1, 1, false}}
	if !slices.Equal(s.Nodes, wantNodes) {
		t.Fatalf("nodes %v, want %v", s.Nodes, wantNodes)
	}
	if got, want := sortedEdges(s.Edges), [][2]int{{0, 1}, {1, 2}, {3, 2}}; !slices.Equal(got, want) {
		t.Fatalf("edges %v, want %v", got, want)
	}
	checkDegreesMatchEdges(t, s)
	// Without the graph.
	s = tr.Snapshot(at(1013), false)
	if s.Nodes != nil || s.Edges != nil || s.Links != 3 {
		t.Fatalf("snapshot without graph: nodes %v edges %v links %d", s.Nodes, s.Edges, s.Links)
	}

	// Links go down from one end: the other end's report still counts.
	tr.Link(B, A, false, at(20))
	s = tr.Snapshot(at(20), false)
	if s.Links != 3 || !slices.Equal(s.Degrees, []int{1, 2, 2, 1}) || s.QuietFor != 0 {
		t.Fatalf("after B drops A: links %d degrees %v quiet %v", s.Links, s.Degrees, s.QuietFor)
	}
	tr.Link(A, B, false, at(21))
	s = tr.Snapshot(at(21), false)
	if s.Links != 2 || s.Components != 2 || !slices.Equal(s.Degrees, []int{0, 1, 2, 1}) || s.Isolated != 1 {
		t.Fatalf("after A-B down: %+v", s)
	}
}

// checkDegreesMatchEdges fails t unless every node's degree is its
// links in the snapshot's edge list and the links add up.
func checkDegreesMatchEdges(t *testing.T, s Snapshot) {
	t.Helper()
	deg := make([]int, len(s.Nodes))
	for _, e := range s.Edges {
		deg[e[0]]++
		deg[e[1]]++
	}
	for i, n := range s.Nodes {
		if n.Degree != deg[i] || s.Degrees[i] != deg[i] {
			t.Errorf("node %v: degree %d (Degrees %d), %d links in the edge list", n.Addr, n.Degree, s.Degrees[i], deg[i])
		}
	}
	if len(s.Edges) != s.Links {
		t.Errorf("%d edges, %d links", len(s.Edges), s.Links)
	}
}

// TestSnapshotHalfReported: links reported by one end only, in every
// combination of up and down at either end, over random graphs: the
// degrees always equal the edge list.
func TestSnapshotHalfReported(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		tr := NewTracker(t0)
		const n = 8
		for i := range n {
			tr.Started(pa(i), 3, at(i))
		}
		for k := range 40 {
			a, b := pa(rng.IntN(n)), pa(rng.IntN(n))
			if a != b {
				tr.Link(a, b, rng.IntN(3) > 0, at(10+k))
			}
		}
		if round%4 == 0 {
			tr.Note("kill", pa(rng.IntN(n)), "", at(100))
		}
		s := tr.Snapshot(at(200), true)
		checkDegreesMatchEdges(t, s)
		isolated := 0
		for _, d := range s.Degrees {
			if d == 0 {
				isolated++
			}
		}
		if isolated != s.Isolated || s.Components < isolated || s.Components > s.Peers {
			t.Fatalf("round %d: %d isolated, Isolated %d, %d components of %d peers", round, isolated, s.Isolated, s.Components, s.Peers)
		}
		if t.Failed() {
			t.Fatalf("round %d: %+v", round, s)
		}
	}
}

// TestSnapshotKillSplits: killing the middle of a chain splits it into
// components, found by union-find over the live peers only.
func TestSnapshotKillSplits(t *testing.T) {
	tr := NewTracker(t0)
	A, B, C, D, E := pa(1), pa(2), pa(3), pa(4), pa(5)
	for i, p := range []netip.AddrPort{A, B, C, D, E} {
		tr.Started(p, 2, at(i))
	}
	link(tr, A, B, true, at(10))
	link(tr, B, C, true, at(11))
	link(tr, D, E, true, at(12))
	s := tr.Snapshot(at(100), false)
	if s.Components != 2 || s.Links != 3 || s.Isolated != 0 || !slices.Equal(s.Degrees, []int{1, 2, 1, 1, 1}) || s.BelowTarget != 4 {
		t.Fatalf("before the kill: %+v", s)
	}
	tr.Note("kill", B, "", at(200))
	s = tr.Snapshot(at(500), true)
	if s.Peers != 4 || s.Started != 5 || s.Links != 1 || s.Components != 3 || s.Isolated != 2 || s.QuietFor != 300*time.Millisecond {
		t.Fatalf("after the kill: %+v", s)
	}
	if !slices.Equal(s.Degrees, []int{0, 0, 1, 1}) {
		t.Fatalf("degrees %v, want [0 0 1 1] (links to the dead peer do not count)", s.Degrees)
	}
	if got := sortedEdges(s.Edges); !slices.Equal(got, [][2]int{{2, 3}}) {
		t.Fatalf("edges %v, want [[2 3]] (D-E among live A C D E)", got)
	}
	if tr.Alive(B) || !tr.Alive(A) || tr.Alive(pa(99)) {
		t.Fatal("Alive wrong after the kill")
	}
	if got := tr.LivePeers(); !slices.Equal(got, []netip.AddrPort{A, C, D, E}) {
		t.Fatalf("live peers %v", got)
	}
	// A and C heal around the dead peer: two components.
	link(tr, A, C, true, at(600))
	if s := tr.Snapshot(at(600), false); s.Components != 2 || s.Isolated != 0 || s.Links != 2 {
		t.Fatalf("after healing: %+v", s)
	}
	// A restarted peer is live again (its old links included).
	tr.Started(B, 2, at(700))
	if s := tr.Snapshot(at(700), false); s.Peers != 5 || s.Started != 5 || s.Components != 2 || s.Links != 4 {
		t.Fatalf("after the restart: %+v", s)
	}
}

func TestFreezeThawInSnapshot(t *testing.T) {
	tr := NewTracker(t0)
	tr.Started(pa(1), 1, at(0))
	tr.Note("freeze", pa(1), "", at(1))
	s := tr.Snapshot(at(2), true)
	if s.Peers != 1 || !s.Nodes[0].Frozen || s.QuietFor != 2*time.Millisecond {
		t.Fatalf("frozen peer: %+v (freeze does not count as a change)", s)
	}
	tr.Note("thaw", pa(1), "", at(3))
	if s := tr.Snapshot(at(3), true); s.Nodes[0].Frozen {
		t.Fatal("thawed peer still frozen")
	}
}

// deliverAll has every peer in order receive (origin, seq) created at
// created, the k-th one after ms[k] milliseconds, hops k+1.
func deliverAll(tr *Tracker, origin netip.AddrPort, seq uint32, created time.Time, to []netip.AddrPort, ms []int) {
	tr.Deliver(origin, origin, origin, seq, "m", created, created, 0)
	from := origin
	for k, p := range to {
		tr.Deliver(p, from, origin, seq, "m", created, created.Add(time.Duration(ms[k])*time.Millisecond), k+1)
		from = p
	}
}

func TestPropagation(t *testing.T) {
	tr := NewTracker(t0)
	A, B, C, D := pa(1), pa(2), pa(3), pa(4)
	for i, p := range []netip.AddrPort{A, B, C, D} {
		tr.Started(p, 2, at(i))
	}
	if pr := tr.Propagation(); pr != (Propagation{}) {
		t.Fatalf("no messages: %+v", pr)
	}
	// Four complete messages spreading in 10, 40, 20 and 30 ms.
	deliverAll(tr, A, 1, at(0), []netip.AddrPort{B, C, D}, []int{3, 5, 10})
	deliverAll(tr, B, 1, at(0), []netip.AddrPort{A, C, D}, []int{40, 1, 2})
	deliverAll(tr, C, 1, at(0), []netip.AddrPort{D, A, B}, []int{1, 2, 20})
	deliverAll(tr, D, 1, at(0), []netip.AddrPort{A, B, C}, []int{30, 2, 1})
	pr := tr.Propagation()
	want := Propagation{Messages: 4, Complete: 4, P50: 20, P99: 40, Max: 40, MaxHops: 3, Deliveries: 12, Coverage: 1}
	if pr != want {
		t.Fatalf("propagation %+v, want %+v", pr, want)
	}

	// Incomplete: C and D miss it. The origin's own copy is no delivery.
	tr.Deliver(A, A, A, 2, "m", at(0), at(0), 0)
	tr.Deliver(B, A, A, 2, "m", at(0), at(500), 7)
	// Re-delivery to the same peer is ignored, whatever it says.
	tr.Deliver(B, C, A, 2, "m", at(0), at(900), 1)
	pr = tr.Propagation()
	third := 1.0 / 3 // the new message reached B of B, C and D
	want = Propagation{Messages: 5, Complete: 4, P50: 20, P99: 40, Max: 40, MaxHops: 3, Deliveries: 13, Coverage: (4 + third) / 5}
	if pr != want {
		t.Fatalf("with an incomplete message %+v, want %+v", pr, want)
	}
	if v, ok := tr.Message(A, 2); !ok || v.Count != 1 || v.MaxHops != 7 || v.SpreadMs != 500 || len(v.Receipts) != 1 || v.Receipts[0].From != A.String() {
		t.Fatalf("re-delivery changed the message: %+v", v)
	}
	if r, l, ok := tr.Coverage(A, 2); !ok || r != 2 || l != 4 {
		t.Fatalf("coverage %d/%d %v, want 2/4 (origin included)", r, l, ok)
	}

	// Killing the peers that miss it completes the message: only live
	// peers count. Killing its origin does not undo that.
	tr.Note("kill", C, "", at(1000))
	tr.Note("kill", D, "", at(1000))
	tr.Note("kill", A, "", at(1000))
	pr = tr.Propagation()
	// Coverage over the four messages B did not originate (B's own has
	// no live peer to reach and is left out): all 1.
	want = Propagation{Messages: 5, Complete: 5, P50: 30, P99: 500, Max: 500, MaxHops: 7, Deliveries: 13, Coverage: 1}
	if pr != want {
		t.Fatalf("after the kills %+v, want %+v", pr, want)
	}
	if r, l, ok := tr.Coverage(A, 2); !ok || r != 1 || l != 1 {
		t.Fatalf("coverage %d/%d %v, want 1/1", r, l, ok)
	}
	if _, _, ok := tr.Coverage(A, 99); ok {
		t.Fatal("coverage of an unknown message")
	}
	// Message reads the coverage in the same snapshot as the count.
	if v, ok := tr.Message(A, 2); !ok || v.Reached != 1 || v.Live != 1 {
		t.Errorf("Message(A, 2) coverage %d of %d, want 1 of 1", v.Reached, v.Live)
	}

	// A message nobody but its origin received is never complete, even
	// when the origin is the only live peer.
	tr2 := NewTracker(t0)
	tr2.Started(A, 1, at(0))
	tr2.Deliver(A, A, A, 1, "alone", at(0), at(0), 0)
	if pr := tr2.Propagation(); pr != (Propagation{Messages: 1}) {
		t.Fatalf("lone origin: %+v", pr)
	}
	// A message from a killed origin whose copies reach every live peer
	// is complete; a peer that joins later without it makes it incomplete.
	tr2.Started(B, 1, at(1))
	tr2.Note("kill", A, "", at(2))
	tr2.Deliver(B, A, A, 1, "alone", at(0), at(7), 1)
	if pr := tr2.Propagation(); pr != (Propagation{Messages: 1, Complete: 1, P50: 7, P99: 7, Max: 7, MaxHops: 1, Deliveries: 1, Coverage: 1}) {
		t.Fatalf("killed origin: %+v", pr)
	}
	tr2.Started(C, 1, at(8))
	if pr := tr2.Propagation(); pr.Complete != 0 {
		t.Fatalf("a new live peer lacks it, yet complete: %+v", pr)
	}
}

func TestMessageViews(t *testing.T) {
	tr := NewTracker(t0)
	A, B, C := pa(1), pa(2), pa(3)
	for i, p := range []netip.AddrPort{A, B, C} {
		tr.Started(p, 2, at(i))
	}
	created := at(100)
	tr.Deliver(A, A, A, 7, "hello world", created, created, 0)
	tr.Deliver(C, A, A, 7, "hello world", created, created.Add(1234567*time.Nanosecond), 1)
	tr.Deliver(B, C, A, 7, "hello world", created, created.Add(3*time.Millisecond), 2)
	tr.Deliver(A, B, B, 1, "second", at(200), at(205), 1)
	tr.Duplicate(B, A, 7)
	tr.Duplicate(B, A, 7)
	tr.Duplicate(B, A, 99) // unknown: only marks tracking on
	tr.Duplicate(C, A, 7)  // (the first two are one pending record, this one another)

	v, ok := tr.Message(A, 7)
	if !ok {
		t.Fatal("message (A, 7) unknown")
	}
	want := MessageView{Origin: A.String(), Seq: 7, Text: "hello world", Created: created, Count: 2, MaxHops: 2, SpreadMs: 3, Duplicates: 3,
		Receipts: []Receipt{
			{Peer: C.String(), From: A.String(), Hops: 1, Ms: 1.235, Order: 1},
			{Peer: B.String(), From: C.String(), Hops: 2, Ms: 3, Order: 2},
		},
		Reached: 3, Live: 3, // A, B and C, all live
	}
	if fmt.Sprint(v) != fmt.Sprint(want) {
		t.Fatalf("message view\n got %+v\nwant %+v", v, want)
	}
	if _, ok := tr.Message(C, 7); ok {
		t.Fatal("unknown message found")
	}
	if !tr.DuplicatesTracked() {
		t.Fatal("duplicates not tracked after Duplicate")
	}
	// Newest first; n bounds; receipts only on request.
	vs := tr.Messages(10, false)
	if len(vs) != 2 || vs[0].Origin != B.String() || vs[1].Seq != 7 || vs[0].Receipts != nil || vs[1].Receipts != nil {
		t.Fatalf("Messages(10, false) = %+v", vs)
	}
	if vs := tr.Messages(1, true); len(vs) != 1 || vs[0].Origin != B.String() || len(vs[0].Receipts) != 1 {
		t.Fatalf("Messages(1, true) = %+v", vs)
	}
	if vs := tr.Messages(0, true); len(vs) != 0 {
		t.Fatalf("Messages(0) = %+v", vs)
	}
	if n := tr.MessageCount(); n != 2 {
		t.Fatalf("MessageCount %d", n)
	}
	// Views are copies.
	v.Receipts[0].Hops = 99
	if v2, _ := tr.Message(A, 7); v2.Receipts[0].Hops != 1 {
		t.Fatal("a view aliases the tracker's receipts")
	}
	if NewTracker(t0).DuplicatesTracked() {
		t.Fatal("a new tracker claims duplicates are tracked")
	}
	// A network that reports every duplicate says so up front: a
	// message nobody got twice has 0, not an unknown count.
	tr2 := NewTracker(t0)
	tr2.TrackDuplicates()
	tr2.Started(A, 2, at(0))
	tr2.Deliver(A, A, A, 1, "x", at(1), at(1), 0)
	if v, _ := tr2.Message(A, 1); !tr2.DuplicatesTracked() || v.Duplicates != 0 {
		t.Fatalf("after TrackDuplicates: tracked %v, duplicates %d", tr2.DuplicatesTracked(), v.Duplicates)
	}
}

// TestReceiptEviction: the newest maxReceiptMessages messages keep their
// receipts; older ones keep only their counts.
func TestReceiptEviction(t *testing.T) {
	tr := NewTracker(t0)
	A, B := pa(1), pa(2)
	tr.Started(A, 1, at(0))
	tr.Started(B, 1, at(0))
	const total = maxReceiptMessages + 44
	for seq := uint32(1); seq <= total; seq++ {
		tr.Deliver(B, A, A, seq, "m", at(int(seq)), at(int(seq)+2), 1)
	}
	kept := 0
	for seq := uint32(1); seq <= total; seq++ {
		v, ok := tr.Message(A, seq)
		if !ok || v.Count != 1 || v.SpreadMs != 2 {
			t.Fatalf("message %d: %+v", seq, v)
		}
		wantKept := seq > total-maxReceiptMessages
		if got := len(v.Receipts) == 1; got != wantKept {
			t.Fatalf("message %d of %d has %d receipts, want kept=%v", seq, total, len(v.Receipts), wantKept)
		}
		if len(v.Receipts) == 1 {
			kept++
		}
	}
	if kept != maxReceiptMessages {
		t.Fatalf("%d messages keep receipts, want %d", kept, maxReceiptMessages)
	}
	vs := tr.Messages(total, true)
	if len(vs) != total || vs[0].Seq != total || len(vs[maxReceiptMessages-1].Receipts) != 1 || len(vs[maxReceiptMessages].Receipts) != 0 {
		t.Fatalf("Messages: %d views, newest %d", len(vs), vs[0].Seq)
	}
	// A late receipt for an evicted message is counted but not kept.
	tr.Started(pa(3), 1, at(0))
	tr.Deliver(pa(3), A, A, 1, "m", at(1), at(50), 1)
	if v, _ := tr.Message(A, 1); v.Count != 2 || v.Receipts != nil || v.SpreadMs != 49 {
		t.Fatalf("late receipt for an evicted message: %+v", v)
	}
}

func TestFeed(t *testing.T) {
	tr := NewTracker(t0)
	A, B, S := pa(1), pa(2), pa(100)
	tr.Started(B, 3, at(1))
	tr.Started(A, 3, at(2))
	tr.Link(B, A, true, at(3)) // from the higher end: no event
	tr.Link(A, B, true, at(4)) // from the lower end: "link"
	tr.Link(A, B, true, at(4)) // no change: no event
	tr.Link(B, A, false, at(5))
	tr.Dead(A, B, at(6))
	tr.Removed(S, B, at(7))
	tr.SeedUp(S, false, at(8))
	tr.SeedUp(S, true, at(9))
	tr.Note("publish", A, "hi there", at(10))
	tr.Note("kill", B, "", at(11))
	tr.Note("freeze", A, "", at(12))
	tr.Note("thaw", A, "", at(13))
	want := []Event{
		{1, at(1), "join", B.String(), "", ""},
		{2, at(2), "join", A.String(), "", ""},
		{3, at(4), "link", A.String(), B.String(), ""},
		{4, at(5), "unlink", B.String(), A.String(), ""},
		{5, at(6), "dead", A.String(), B.String(), "declared dead and reported to the seeds"},
		{6, at(7), "removed", S.String(), B.String(), "removed from the seed's peer list"},
		{7, at(8), "seed-down", S.String(), "", ""},
		{8, at(9), "seed-up", S.String(), "", ""},
		{9, at(10), "publish", A.String(), "", "hi there"},
		{10, at(11), "kill", B.String(), "", ""},
		{11, at(12), "freeze", A.String(), "", ""},
		{12, at(13), "thaw", A.String(), "", ""},
	}
	if got := tr.Feed(0); !slices.Equal(got, want) {
		t.Fatalf("feed\n got %+v\nwant %+v", got, want)
	}
	if got := tr.Feed(9); !slices.Equal(got, want[9:]) {
		t.Fatalf("Feed(9) = %+v", got)
	}
	if got := tr.Feed(12); len(got) != 0 {
		t.Fatalf("Feed(12) = %+v", got)
	}
	if got := tr.Feed(1000); len(got) != 0 {
		t.Fatalf("Feed(1000) = %+v", got)
	}

	// The feed keeps the newest maxFeed events; sequence numbers go on.
	for i := range 2 * maxFeed {
		tr.Note("publish", A, fmt.Sprint(i), at(100+i))
	}
	total := uint64(12 + 2*maxFeed)
	all := tr.Feed(0)
	if len(all) != maxFeed || all[0].Seq != total-maxFeed+1 || all[len(all)-1].Seq != total || all[len(all)-1].Text != fmt.Sprint(2*maxFeed-1) {
		t.Fatalf("bounded feed: %d events, seq %d..%d", len(all), all[0].Seq, all[len(all)-1].Seq)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq != all[i-1].Seq+1 {
			t.Fatalf("feed seq gap at %d: %d after %d", i, all[i].Seq, all[i-1].Seq)
		}
	}
	if got := tr.Feed(5); !slices.Equal(got, all) {
		t.Fatal("Feed(after an evicted seq) is not the whole feed")
	}
	if got := tr.Feed(total - 3); len(got) != 3 || got[0].Seq != total-2 {
		t.Fatalf("Feed(total-3) = %+v", got)
	}
}

// TestFalseDeaths: a verdict of death (a dead report or a seed removal)
// counts as false exactly when its subject was started, not killed, not
// frozen and not thawed within GraceAfterThaw; verdicts about a seed or
// an unknown address are not counted.
func TestFalseDeaths(t *testing.T) {
	tr := NewTracker(t0)
	A, B, C, D, seed, stranger := pa(1), pa(2), pa(3), pa(4), pa(90), pa(99)
	for i, p := range []netip.AddrPort{A, B, C, D} {
		tr.Started(p, 3, at(i))
	}
	tr.Dead(A, B, at(100))       // B alive: false
	tr.Removed(seed, B, at(101)) // false
	tr.Note("kill", C, "", at(200))
	tr.Dead(A, C, at(210))       // killed: true
	tr.Removed(seed, C, at(220)) // true
	tr.Note("freeze", D, "", at(300))
	tr.Dead(A, D, at(400)) // frozen: true
	tr.Note("thaw", D, "", at(500))
	tr.Removed(seed, D, at(500+int(GraceAfterThaw/time.Millisecond))) // within the grace: true
	tr.Dead(B, D, at(501+int(GraceAfterThaw/time.Millisecond)))       // after it: false
	tr.Dead(A, seed, at(600))                                         // a seed: not counted
	tr.Removed(seed, stranger, at(601))                               // never started: not counted
	dr, sr := tr.FalseDeaths()
	if dr != 2 || sr != 1 {
		t.Fatalf("false deaths: %d dead reports, %d seed removals; want 2 and 1", dr, sr)
	}
}

// TestPropagationCoverage: coverage is the mean over messages of the
// share of live peers, the origin excluded, that hold the message; a
// killed receiver no longer counts, a killed origin is excluded anyway.
func TestPropagationCoverage(t *testing.T) {
	tr := NewTracker(t0)
	A, B, C, D, E := pa(1), pa(2), pa(3), pa(4), pa(5)
	for i, p := range []netip.AddrPort{A, B, C, D, E} {
		tr.Started(p, 2, at(i))
	}
	// m1 from A reaches B, C, D, E: complete (4/4).
	tr.Deliver(A, A, A, 1, "m1", at(10), at(10), 0)
	for i, p := range []netip.AddrPort{B, C, D, E} {
		tr.Deliver(p, A, A, 1, "m1", at(10), at(20+i), 1)
	}
	// m2 from B reaches A only (1/4 at first); m3 from E reaches C and D.
	tr.Deliver(B, B, B, 2, "m2", at(30), at(30), 0)
	tr.Deliver(A, B, B, 2, "m2", at(30), at(40), 1)
	tr.Deliver(E, E, E, 3, "m3", at(50), at(50), 0)
	tr.Deliver(C, E, E, 3, "m3", at(50), at(60), 1)
	tr.Deliver(D, C, E, 3, "m3", at(50), at(70), 2)
	pr := tr.Propagation()
	// (Float sums: compared within 1e-12, not as exact constants.)
	if pr.Messages != 3 || pr.Complete != 1 || pr.Deliveries != 7 || math.Abs(pr.Coverage-(1+0.25+0.5)/3) > 1e-12 {
		t.Fatalf("before the kill: %+v; want 3 messages, 1 complete, 7 deliveries, coverage %v", pr, (1+0.25+0.5)/3)
	}
	// E dies: m1 stays complete (B, C, D: 3/3), m2 has 1/3 (A of A, C,
	// D), m3 (its origin gone) 2/4 (C and D of A, B, C, D).
	tr.Note("kill", E, "", at(80))
	pr = tr.Propagation()
	want := (1 + 1.0/3 + 0.5) / 3
	if pr.Messages != 3 || pr.Complete != 1 || math.Abs(pr.Coverage-want) > 1e-12 {
		t.Fatalf("after the kill: %+v; want coverage %v", pr, want)
	}
}

// BenchmarkTrackerDeliver is net's bookkeeping of one delivery: the peers'
// Deliver hook reporting first receipts to the tracker, 500 peers, each
// message reaching all of them in turn (one op is one receipt; the
// receipts are applied in the tracker's batches, as in a run).
func BenchmarkTrackerDeliver(b *testing.B) {
	const peers = 500
	addrs := make([]netip.AddrPort, peers)
	tr := NewTracker(t0)
	for i := range addrs {
		addrs[i] = pa(i)
		tr.Started(addrs[i], 5, t0)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		msg := i / (peers - 1)
		origin := msg % peers
		self := (origin + 1 + i%(peers-1)) % peers
		created := at(msg)
		tr.Deliver(addrs[self], addrs[(self+peers-1)%peers], addrs[origin], uint32(1+msg/peers), "hello", created, created.Add(time.Millisecond), 3)
	}
	b.StopTimer()
	if got := tr.Propagation().Deliveries; got != b.N {
		b.Fatalf("%d deliveries recorded for %d", got, b.N)
	}
}
