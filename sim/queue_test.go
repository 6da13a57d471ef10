package sim

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// drain collects every event of q, window by window.
func drain(q *queue, window int64) []timed {
	var out []timed
	for {
		t := q.next()
		if t < 0 {
			return out
		}
		out = q.collect(t+window, out)
	}
}

func TestQueueOrdersByTimeThenSequence(t *testing.T) {
	q := newQueue()
	// Same millisecond: scheduling order. Far events (beyond the ring)
	// and near ones interleave by time.
	q.push(5, event{a: 1})
	q.push(3, event{a: 2})
	q.push(5, event{a: 3})
	q.push(10_000, event{a: 4}) // in the heap
	q.push(9_999, event{a: 5})  // in the heap
	q.push(10_000, event{a: 6}) // in the heap, after a:4
	q.push(0, event{a: 7})
	got := drain(q, 1)
	want := []timed{{0, event{a: 7}}, {3, event{a: 2}}, {5, event{a: 1}}, {5, event{a: 3}},
		{9_999, event{a: 5}}, {10_000, event{a: 4}}, {10_000, event{a: 6}}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	if q.Len() != 0 {
		t.Fatalf("Len %d after draining", q.Len())
	}
}

// A heap event whose slot comes into the ring keeps its place before
// events pushed straight into that slot later.
func TestQueueHeapEventsKeepTheirPlace(t *testing.T) {
	q := newQueue()
	far := int64(1<<ringBits) + 100
	q.push(far, event{a: 1}) // beyond the ring: heap
	// Advance until far is within the ring, then push to the same slot.
	q.collect(200, nil)
	q.push(far, event{a: 2})
	got := drain(q, 1)
	if len(got) != 2 || got[0].ev.a != 1 || got[1].ev.a != 2 {
		t.Fatalf("got %v, want a:1 then a:2 at %d", got, far)
	}
}

func TestQueueNeverRunsThePast(t *testing.T) {
	q := newQueue()
	q.collect(50, nil)
	q.push(10, event{a: 1}) // already collected: moves to 50
	if got := drain(q, 1); len(got) != 1 || got[0].at != 50 {
		t.Fatalf("got %v, want one event at 50", got)
	}
}

// The queue agrees with a plain sort by (time, sequence) on random input,
// chunk boundaries and heap migrations included.
func TestQueueMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	q := newQueue()
	var want []timed
	now := int64(0)
	seq := int32(0)
	var got []timed
	for round := 0; round < 200; round++ {
		for range rng.IntN(2000) {
			at := now + rng.Int64N(12_000)
			if rng.IntN(4) == 0 {
				at = now + rng.Int64N(3) // many ties
			}
			seq++
			q.push(at, event{a: seq})
			want = append(want, timed{at, event{a: seq}})
		}
		end := now + 1 + rng.Int64N(100)
		got = q.collect(end, got)
		now = end
	}
	got = append(got, drain(q, 50)...)
	slices.SortStableFunc(want, func(a, b timed) int {
		if a.at != b.at {
			return int(a.at - b.at)
		}
		return int(a.ev.a - b.ev.a)
	})
	if !slices.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("first difference at %d: got %v, want %v", i, got[i], want[i])
			}
		}
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
}

func TestSortByNodeIsStable(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	// The sort, the counting sort, and the counting sort on two goroutines.
	for _, tc := range []struct {
		n, nodes int
		two      bool
	}{{10, 100000, false}, {5000, 50, false}, {5000, 50, true}, {parallelSort + 3, 50, false}, {parallelSort + 3, 50, true}, {3 * parallelSort, 20000, true}} {
		buf := make([]timed, tc.n)
		for i := range buf {
			buf[i] = timed{at: int64(i), ev: event{node: int32(rng.IntN(min(tc.nodes, 50)))}}
			if tc.nodes > 50 {
				buf[i].ev.node = int32(rng.IntN(tc.nodes))
			}
		}
		counts := make([]int32, tc.nodes+1)
		var counts2 []int32
		if tc.two {
			counts2 = make([]int32, tc.nodes+1)
		}
		got := sortByNode(buf, make([]timed, 0, tc.n), counts, counts2)
		want := slices.Clone(buf)
		slices.SortStableFunc(want, func(a, b timed) int { return int(a.ev.node - b.ev.node) })
		if !slices.Equal(got, want) {
			t.Fatalf("%+v: not a stable sort by node", tc)
		}
		if slices.ContainsFunc(counts, func(c int32) bool { return c != 0 }) || slices.ContainsFunc(counts2, func(c int32) bool { return c != 0 }) {
			t.Fatalf("%+v: counts not left zero", tc)
		}
	}
}
