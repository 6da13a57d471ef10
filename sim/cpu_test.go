package sim

import (
	"testing"
	"time"
)

// The CPU model with free lines changes nothing; with costs, each line
// waits for its peer's CPU, so messages take longer; and peers that share
// too few cores fall behind until liveness gives up on live neighbours.
func TestCPUModel(t *testing.T) {
	off := jsonOf(t, run(t, small()))

	free := small()
	free.CPU = CPU{Cores: 1}
	fr := run(t, free)
	if fr.CPULines == 0 || fr.CPUBacklogMaxS == nil || *fr.CPUBacklogMaxS != 0 {
		t.Errorf("free lines: %d lines, backlog %v; want some lines and no backlog", fr.CPULines, fr.CPUBacklogMaxS)
	}
	fr.CPULines, fr.CPUBacklogMaxS = 0, nil
	if got := jsonOf(t, fr); got != off {
		t.Fatalf("CPU model with zero costs changed the report:\n%s\n%s", off, got)
	}

	slow := small()
	slow.CPU = CPU{Cores: slow.Peers, Recv: 2 * time.Millisecond, Send: 2 * time.Millisecond} // never short of cores
	base, r := run(t, small()), run(t, slow)
	// A hop now costs at least a received and a sent line: 4 ms more
	// than the link's delay.
	if min := base.PropagationMs.P50 + 4*float64(base.LDH); r.PropagationMs.P50 < min || r.Complete != r.Messages {
		t.Errorf("2 ms a line: p50 %v ms (%d of %d complete), want at least %v (free: p50 %v, LDH %v)",
			r.PropagationMs.P50, r.Complete, r.Messages, min, base.PropagationMs.P50, base.LDH)
	}
	if r.Duplicates != 0 {
		t.Errorf("%d duplicates", r.Duplicates)
	}

	// 120 peers each publishing 2 messages (the classic load, 5 s apart)
	// on one core at 500 µs a line: some 4,000 lines a second, twice what
	// the core can do, so the lines queue up.
	sat := DefaultConfig()
	sat.Peers, sat.Origins, sat.Crash = 120, 0, 0
	sat.Peer.GossipCount = 2
	sat.CPU = CPU{Cores: 1, Recv: 500 * time.Microsecond, Send: 500 * time.Microsecond}
	s := run(t, sat)
	if s.PropagationMs.P99 < 10000 || s.Complete == s.Messages || *s.CPUBacklogMaxS < 5 {
		t.Errorf("saturated: p99 %v ms, %d of %d complete, backlog %v s; want p99 over 10 s, some incomplete, a backlog over 5 s",
			s.PropagationMs.P99, s.Complete, s.Messages, *s.CPUBacklogMaxS)
	}
}
