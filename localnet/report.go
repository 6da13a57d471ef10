package localnet

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/whispernet/whispernet/wire"
)

// reporter receives what the peers of a group do.
type reporter interface {
	Started(a netip.AddrPort, target int, at time.Time)
	Link(self, other netip.AddrPort, up bool, at time.Time)
	Dead(self, other netip.AddrPort, at time.Time)
	Deliver(self, from, origin netip.AddrPort, seq uint32, text string, created, at time.Time, hops int)
	Duplicate(self, origin netip.AddrPort, seq uint32)
}

// lineReporter writes reports as lines for the parent process:
//
//	T <peer> <target> <at>
//	L <peer> <other> <1|0> <at>
//	X <peer> <dead> <at>
//	D <peer> <from> <origin> <seq> <created> <at> <hops> <text>
//	U <peer> <origin> <seq>      (a duplicate copy)
//	F <peer> <error>            (a peer failed to start)
//	R                           (every peer of the worker has started)
//
// Times are Unix microseconds. Lines are buffered and flushed every 20 ms.
type lineReporter struct {
	mu  sync.Mutex
	w   *bufio.Writer
	err error
}

func newLineReporter(w io.Writer) *lineReporter {
	return &lineReporter{w: bufio.NewWriterSize(w, 64<<10)}
}

func (r *lineReporter) printf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := fmt.Fprintf(r.w, format, args...); err != nil && r.err == nil {
		r.err = err
	}
}

func (r *lineReporter) flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.w.Flush(); err != nil && r.err == nil {
		r.err = err
	}
	return r.err
}

func (r *lineReporter) Started(a netip.AddrPort, target int, at time.Time) {
	r.printf("T %s %d %d\n", a, target, at.UnixMicro())
}

func (r *lineReporter) Link(self, other netip.AddrPort, up bool, at time.Time) {
	b := 0
	if up {
		b = 1
	}
	r.printf("L %s %s %d %d\n", self, other, b, at.UnixMicro())
}

func (r *lineReporter) Dead(self, other netip.AddrPort, at time.Time) {
	r.printf("X %s %s %d\n", self, other, at.UnixMicro())
}

func (r *lineReporter) Duplicate(self, origin netip.AddrPort, seq uint32) {
	r.printf("U %s %s %d\n", self, origin, seq)
}

func (r *lineReporter) Deliver(self, from, origin netip.AddrPort, seq uint32, text string, created, at time.Time, hops int) {
	r.printf("D %s %s %s %d %d %d %d %s\n", self, from, origin, seq, created.UnixMicro(), at.UnixMicro(), hops, text)
}

// parseReport applies one worker line to rep. It returns (false, nil) for
// "R", and an error for a malformed line.
func parseReport(line string, rep reporter) (ready bool, failed string, err error) {
	f := strings.SplitN(line, " ", 9)
	bad := func() (bool, string, error) { return false, "", fmt.Errorf("localnet: bad worker line %q", line) }
	addr := func(i int) netip.AddrPort {
		if i >= len(f) {
			return netip.AddrPort{}
		}
		a, _ := netip.ParseAddrPort(f[i])
		return a
	}
	num := func(i int) int64 {
		if i >= len(f) {
			return -1
		}
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return -1
		}
		return n
	}
	switch f[0] {
	case "R":
		return true, "", nil
	case "F":
		if len(f) < 3 {
			return bad()
		}
		return false, strings.Join(f[1:], " "), nil
	case "T":
		if len(f) != 4 || !addr(1).IsValid() || num(2) < 0 || num(3) < 0 {
			return bad()
		}
		rep.Started(addr(1), int(num(2)), time.UnixMicro(num(3)))
	case "L":
		if len(f) != 5 || !addr(1).IsValid() || !addr(2).IsValid() || num(3) < 0 || num(3) > 1 || num(4) < 0 {
			return bad()
		}
		rep.Link(addr(1), addr(2), num(3) == 1, time.UnixMicro(num(4)))
	case "X":
		if len(f) != 4 || !addr(1).IsValid() || !addr(2).IsValid() || num(3) < 0 {
			return bad()
		}
		rep.Dead(addr(1), addr(2), time.UnixMicro(num(3)))
	case "U":
		if len(f) != 4 || !addr(1).IsValid() || !addr(2).IsValid() || num(3) < 0 || num(3) > math.MaxUint32 {
			return bad()
		}
		rep.Duplicate(addr(1), addr(2), uint32(num(3)))
	case "D":
		if len(f) < 8 || !addr(1).IsValid() || !addr(2).IsValid() || !addr(3).IsValid() || num(4) < 0 || num(4) > math.MaxUint32 || num(5) < 0 || num(6) < 0 || num(7) < 0 {
			return bad()
		}
		text := ""
		if len(f) == 9 {
			text = f[8]
		}
		rep.Deliver(addr(1), addr(2), addr(3), uint32(num(4)), text, time.UnixMicro(num(5)), time.UnixMicro(num(6)), int(num(7)))
	default:
		return bad()
	}
	return false, "", nil
}

// deliverHook adapts a reporter to node.Hooks.Deliver.
func deliverHook(rep reporter) func(self, from netip.AddrPort, m wire.Message, at time.Time) {
	return func(self, from netip.AddrPort, m wire.Message, at time.Time) {
		hops := int(m.Hops) + 1 // links crossed to reach self (0 at the origin)
		if from == self {
			hops = 0
		}
		rep.Deliver(self, from, m.Addr, m.Seq, m.Text, m.Time.Time(), at, hops)
	}
}
