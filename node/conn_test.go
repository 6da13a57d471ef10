package node

import (
	"net"
	"strings"
	"testing"
	"time"
)

// TestQueueBytesBudget: a peer's connections share one budget of queued
// gossip bytes; a gossip line beyond it is refused (and counted) as a
// full lane's would be, a control line never is, and the bytes come back
// when a lane is written or its connection closed.
func TestQueueBytesBudget(t *testing.T) {
	cnt := connCounters{queueMax: 300}
	a1, a2 := net.Pipe()
	b1, b2 := net.Pipe()
	defer a2.Close()
	defer b2.Close()
	a := newTConn(a1, 1024, time.Minute, &cnt)
	b := newTConn(b1, 1024, time.Minute, &cnt)
	defer b.shut()
	line := []byte(strings.Repeat("g", 99) + "\n") // 100 bytes
	for i, q := range []struct {
		tc   *tconn
		want bool
	}{{a, true}, {b, true}, {a, true}, {b, false}, {a, false}} {
		if got := q.tc.queue(line, false); got != q.want {
			t.Fatalf("gossip line %d queued: %v, want %v", i, got, q.want)
		}
	}
	if got := cnt.queued.Load(); got != 300 {
		t.Errorf("queued %d bytes, want 300", got)
	}
	if got := cnt.budgetFull.Load(); got != 2 {
		t.Errorf("budget_full %d, want 2", got)
	}
	if !b.queue(line, true) {
		t.Error("a control line was refused for the gossip budget")
	}
	a.shut() // its two lines are dropped: their bytes are free again
	if got := cnt.queued.Load(); got != 100 {
		t.Errorf("after a close: queued %d bytes, want 100", got)
	}
	b.kick() // the writer takes b's lines (and blocks writing them: nobody reads)
	for deadline := time.Now().Add(10 * time.Second); cnt.queued.Load() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("queued %d bytes after the writer took them", cnt.queued.Load())
		}
		time.Sleep(time.Millisecond) // (polling a precondition)
	}
	if !b.queue(line, false) {
		t.Error("a gossip line refused with the budget free")
	}
}
