package sim

import (
	"cmp"
	"slices"
)

// The scheduler is a calendar queue in virtual time with a resolution of one
// millisecond: a ring of per-millisecond slots for the near future and a
// binary heap for events further ahead. Within a slot, events keep the
// order they were scheduled in, so the queue is ordered by (time, sequence)
// and ties are broken the same way on every run.
//
// Events are small values without pointers, stored in fixed-size chunks
// that are recycled as soon as a slot has been taken out, so the garbage
// collector never scans the queue and its memory follows the number of
// events in flight.
//
// The queue hands out events by windows of time (see collect): the world
// runs a window node by node, which is where the simulator's speed comes
// from (see world.loop).

// evKind says what an event does.
type evKind uint8

// event is one scheduled occurrence at a node. Its meaning depends on
// kind; node is the peer (0..N-1) or seed (N+k) it happens at, and a and b
// carry the details (a connection end, a message handle...).
type event struct {
	kind evKind
	node int32
	a, b int32
}

// timed is an event with its time, as collect returns it.
type timed struct {
	at int64
	ev event
}

// chunkLen is the number of events per chunk.
const chunkLen = 256

type chunk struct {
	ev   [chunkLen]event
	n    int32
	next int32 // index of the next chunk of the slot, or -1
}

// slot is one millisecond of the ring: a list of chunks.
type slot struct{ head, tail int32 }

// farEvent is an event beyond the ring, kept in a heap by (at, seq).
type farEvent struct {
	at  int64
	seq uint64
	ev  event
}

// ringBits sets the ring to 2^ringBits milliseconds (about 4 s): network
// delays land in the ring, most protocol timers in the heap.
const ringBits = 12

// queue is the event queue. The zero value is not ready; use newQueue.
type queue struct {
	now    int64 // the first millisecond not collected yet
	ring   []slot
	mask   int64
	chunks []chunk
	free   []int32 // recycled chunk indices
	far    heap
	seq    uint64 // scheduling sequence, for the heap's ties
	inRing int    // events in the ring
}

func newQueue() *queue {
	q := &queue{ring: make([]slot, 1<<ringBits), mask: 1<<ringBits - 1}
	for i := range q.ring {
		q.ring[i] = slot{-1, -1}
	}
	return q
}

// Len returns the number of pending events.
func (q *queue) Len() int { return q.inRing + len(q.far) }

// push schedules ev at millisecond at. A time already collected is moved
// to the first one that is not: nothing runs in the past.
func (q *queue) push(at int64, ev event) {
	q.seq++
	if at < q.now {
		at = q.now
	}
	if at-q.now > q.mask {
		q.far.push(farEvent{at: at, seq: q.seq, ev: ev})
		return
	}
	q.ringPush(at, ev)
}

func (q *queue) ringPush(at int64, ev event) {
	s := &q.ring[at&q.mask]
	if s.tail < 0 || q.chunks[s.tail].n == chunkLen {
		c := q.newChunk()
		if s.tail < 0 {
			s.head = c
		} else {
			q.chunks[s.tail].next = c
		}
		s.tail = c
	}
	ch := &q.chunks[s.tail]
	ch.ev[ch.n] = ev
	ch.n++
	q.inRing++
}

func (q *queue) newChunk() int32 {
	if n := len(q.free); n > 0 {
		c := q.free[n-1]
		q.free = q.free[:n-1]
		q.chunks[c].n, q.chunks[c].next = 0, -1
		return c
	}
	q.chunks = append(q.chunks, chunk{next: -1})
	return int32(len(q.chunks) - 1)
}

// next returns the earliest millisecond with a pending event, or -1.
func (q *queue) next() int64 {
	if q.inRing > 0 {
		for t := q.now; ; t++ {
			if q.ring[t&q.mask].head >= 0 {
				return t
			}
		}
	}
	if len(q.far) > 0 {
		return q.far[0].at
	}
	return -1
}

// collect appends the events of the milliseconds before end to buf, in
// (time, sequence) order, and makes end the first millisecond not
// collected.
func (q *queue) collect(end int64, buf []timed) []timed {
	for q.now < end {
		if q.inRing == 0 {
			// Nothing near: skip to the first heap event.
			if len(q.far) == 0 || q.far[0].at >= end {
				q.now = end
				break
			}
			q.now = max(q.now, q.far[0].at)
			q.migrate(q.now + q.mask)
		}
		s := &q.ring[q.now&q.mask]
		for c := s.head; c >= 0; {
			ch := &q.chunks[c]
			for i := int32(0); i < ch.n; i++ {
				buf = append(buf, timed{q.now, ch.ev[i]})
			}
			q.inRing -= int(ch.n)
			q.free = append(q.free, c)
			c = ch.next
		}
		s.head, s.tail = -1, -1
		q.now++
		// Heap events become ring events as soon as their slot is within
		// the ring, before anything can be pushed to that slot directly,
		// so that the slot stays in (time, sequence) order.
		q.migrate(q.now + q.mask)
	}
	q.migrate(q.now + q.mask) // after a skip
	return buf
}

// migrate moves heap events up to millisecond last into the ring.
func (q *queue) migrate(last int64) {
	for len(q.far) > 0 && q.far[0].at <= last {
		f := q.far.pop()
		q.ringPush(f.at, f.ev)
	}
}

// heap is a binary min-heap of events by (at, seq).
type heap []farEvent

func farLess(a, b *farEvent) bool {
	return a.at < b.at || a.at == b.at && a.seq < b.seq
}

func (h *heap) push(f farEvent) {
	*h = append(*h, f)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !farLess(&s[i], &s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *heap) pop() farEvent {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(s) {
			break
		}
		m := l
		if r := l + 1; r < len(s) && farLess(&s[r], &s[l]) {
			m = r
		}
		if !farLess(&s[m], &s[i]) {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// sortByNode reorders buf stably by node into out (a counting sort: the
// events of one node stay in time order). counts must have one entry per
// node plus one, all zero; it is left zero. With counts2 of the same
// length (also zero, left zero), a large buf is sorted by two goroutines:
// the run between windows is one of the few things no worker shares.
func sortByNode(buf, out []timed, counts, counts2 []int32) []timed {
	out = out[:len(buf)]
	if len(buf) < len(counts)/16 {
		// Few events: cheaper to sort them than to sweep the counts.
		copy(out, buf)
		slices.SortStableFunc(out, func(a, b timed) int { return cmp.Compare(a.ev.node, b.ev.node) })
		return out
	}
	if counts2 == nil || len(buf) < parallelSort {
		for i := range buf {
			counts[buf[i].ev.node+1]++
		}
		for i := 1; i < len(counts); i++ {
			counts[i] += counts[i-1]
		}
		scatter(buf, out, counts)
		clear(counts)
		return out
	}
	// Two halves, counted apart and at once; then each node's place is
	// the first half's events and after them the second's, so the result
	// is the same stable order; the halves are scattered at once too.
	mid := len(buf) / 2
	both(func() { count(buf[:mid], counts) }, func() { count(buf[mid:], counts2) })
	sum := int32(0)
	for n := range len(counts) - 1 {
		a, b := counts[n], counts2[n]
		counts[n], counts2[n] = sum, sum+a
		sum += a + b
	}
	both(func() { scatter(buf[:mid], out, counts); clear(counts) },
		func() { scatter(buf[mid:], out, counts2); clear(counts2) })
	return out
}

// parallelSort is the least number of events sortByNode sorts with two
// goroutines.
const parallelSort = 1 << 15

// count counts buf's events per node, at counts[node].
func count(buf []timed, counts []int32) {
	for i := range buf {
		counts[buf[i].ev.node]++
	}
}

// scatter puts each event of buf at its node's next place in out.
func scatter(buf, out []timed, next []int32) {
	for i := range buf {
		n := buf[i].ev.node
		out[next[n]] = buf[i]
		next[n]++
	}
}

// both runs f and g at once and returns when both are done.
func both(f, g func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		g()
	}()
	f()
	<-done
}
