package localnet

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whispernet/whispernet/wire"
)

// call is one reporter call, times as Unix microseconds (what the line
// protocol carries).
type call struct {
	Kind                string
	Self, Other, Origin netip.AddrPort
	N                   int // target or hops
	Up                  bool
	Seq                 uint32
	Text                string
	Created, At         int64
}

// recordingReporter records reporter calls in order.
type recordingReporter struct {
	mu    sync.Mutex
	calls []call
}

func (r *recordingReporter) add(c call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
}

func (r *recordingReporter) Started(a netip.AddrPort, target int, at time.Time) {
	r.add(call{Kind: "T", Self: a, N: target, At: at.UnixMicro()})
}

func (r *recordingReporter) Link(self, other netip.AddrPort, up bool, at time.Time) {
	r.add(call{Kind: "L", Self: self, Other: other, Up: up, At: at.UnixMicro()})
}

func (r *recordingReporter) Dead(self, other netip.AddrPort, at time.Time) {
	r.add(call{Kind: "X", Self: self, Other: other, At: at.UnixMicro()})
}

func (r *recordingReporter) Duplicate(self, origin netip.AddrPort, seq uint32) {
	r.add(call{Kind: "U", Self: self, Origin: origin, Seq: seq})
}

func (r *recordingReporter) Deliver(self, from, origin netip.AddrPort, seq uint32, text string, created, at time.Time, hops int) {
	r.add(call{Kind: "D", Self: self, Other: from, Origin: origin, Seq: seq, Text: text, Created: created.UnixMicro(), At: at.UnixMicro(), N: hops})
}

// replay makes the calls on rep.
func replay(rep reporter, calls []call) {
	for _, c := range calls {
		switch c.Kind {
		case "T":
			rep.Started(c.Self, c.N, time.UnixMicro(c.At))
		case "L":
			rep.Link(c.Self, c.Other, c.Up, time.UnixMicro(c.At))
		case "X":
			rep.Dead(c.Self, c.Other, time.UnixMicro(c.At))
		case "D":
			rep.Deliver(c.Self, c.Other, c.Origin, c.Seq, c.Text, time.UnixMicro(c.Created), time.UnixMicro(c.At), c.N)
		case "U":
			rep.Duplicate(c.Self, c.Origin, c.Seq)
		}
	}
}

// parseAll feeds every line of out to parseReport.
func parseAll(t testing.TB, out string) *recordingReporter {
	t.Helper()
	got := &recordingReporter{}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		ready, failed, err := parseReport(line, got)
		if err != nil || ready || failed != "" {
			t.Fatalf("parseReport(%q) = %v %q %v", line, ready, failed, err)
		}
	}
	return got
}

func TestLineReporterFormat(t *testing.T) {
	var buf bytes.Buffer
	r := newLineReporter(&buf)
	a, b, o := netip.MustParseAddrPort("127.0.0.1:20000"), netip.MustParseAddrPort("[::1]:20001"), netip.MustParseAddrPort("10.0.0.1:9")
	r.Started(a, 4, time.UnixMicro(1764072000123456))
	r.Link(a, b, true, time.UnixMicro(1))
	r.Link(b, a, false, time.UnixMicro(2))
	r.Dead(a, b, time.UnixMicro(3))
	r.Deliver(a, b, o, 42, "hello  gossip world", time.UnixMicro(10), time.UnixMicro(15), 2)
	r.Deliver(a, a, a, 1, "", time.UnixMicro(10), time.UnixMicro(10), 0)
	r.Duplicate(b, o, 42)
	if buf.Len() != 0 {
		t.Fatalf("written before flush: %q", buf.String())
	}
	if err := r.flush(); err != nil {
		t.Fatal(err)
	}
	want := "T 127.0.0.1:20000 4 1764072000123456\n" +
		"L 127.0.0.1:20000 [::1]:20001 1 1\n" +
		"L [::1]:20001 127.0.0.1:20000 0 2\n" +
		"X 127.0.0.1:20000 [::1]:20001 3\n" +
		"D 127.0.0.1:20000 [::1]:20001 10.0.0.1:9 42 10 15 2 hello  gossip world\n" +
		"D 127.0.0.1:20000 127.0.0.1:20000 127.0.0.1:20000 1 10 10 0 \n" +
		"U [::1]:20001 10.0.0.1:9 42\n"
	if buf.String() != want {
		t.Fatalf("lines\n got %q\nwant %q", buf.String(), want)
	}
}

// TestReportRoundTrip: calls made on a lineReporter come out of
// parseReport identical.
func TestReportRoundTrip(t *testing.T) {
	a, b, o := netip.MustParseAddrPort("127.0.0.1:20000"), netip.MustParseAddrPort("[2001:db8::5]:65535"), netip.MustParseAddrPort("10.0.0.1:1")
	now := time.Now().UnixMicro()
	want := []call{
		{Kind: "T", Self: a, N: 0, At: now},
		{Kind: "T", Self: b, N: 1000, At: 0},
		{Kind: "L", Self: a, Other: b, Up: true, At: now},
		{Kind: "L", Self: b, Other: a, Up: false, At: now + 1},
		{Kind: "X", Self: o, Other: a, At: now + 2},
		{Kind: "D", Self: a, Other: b, Origin: o, Seq: 1<<32 - 1, Text: " leading and  inner spaces ", Created: now - 5000, At: now, N: 17},
		{Kind: "D", Self: o, Other: o, Origin: o, Seq: 0, Text: "", Created: now, At: now, N: 0},
		{Kind: "D", Self: a, Other: o, Origin: o, Seq: 3, Text: "ünïcødé: 1764072000.1:x", Created: now, At: now + 1, N: 1},
	}
	var buf bytes.Buffer
	r := newLineReporter(&buf)
	replay(r, want)
	if err := r.flush(); err != nil {
		t.Fatal(err)
	}
	got := parseAll(t, buf.String())
	if !slices.Equal(got.calls, want) {
		t.Fatalf("round trip\n got %+v\nwant %+v", got.calls, want)
	}
}

// TestDeliverHookRoundTrip: a delivery seen by a node hook crosses the
// worker pipe intact, hops counted from the origin.
func TestDeliverHookRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	r := newLineReporter(&buf)
	self, from, origin := netip.MustParseAddrPort("127.0.0.1:3"), netip.MustParseAddrPort("127.0.0.1:2"), netip.MustParseAddrPort("127.0.0.1:1")
	m := wire.Message{Kind: wire.KindGossip, Addr: origin, Seq: 9, Hops: 2, Time: wire.Timestamp(1764072000000001), Text: "gossip text"}
	deliverHook(r)(self, from, m, time.UnixMicro(1764072000000501))
	deliverHook(r)(origin, origin, m, time.UnixMicro(1764072000000001))
	r.flush()
	got := parseAll(t, buf.String())
	want := []call{
		{Kind: "D", Self: self, Other: from, Origin: origin, Seq: 9, Text: "gossip text", Created: 1764072000000001, At: 1764072000000501, N: 3},
		{Kind: "D", Self: origin, Other: origin, Origin: origin, Seq: 9, Text: "gossip text", Created: 1764072000000001, At: 1764072000000001, N: 0},
	}
	if !slices.Equal(got.calls, want) {
		t.Fatalf("got %+v\nwant %+v", got.calls, want)
	}
}

func TestParseReportControlLines(t *testing.T) {
	rec := &recordingReporter{}
	for _, tc := range []struct {
		line   string
		ready  bool
		failed string
	}{
		{"R", true, ""},
		{"F 127.0.0.1:20000 listen tcp 127.0.0.1:20000: bind: address already in use", false, "127.0.0.1:20000 listen tcp 127.0.0.1:20000: bind: address already in use"},
		{"F node: port in use", false, "node: port in use"},
	} {
		ready, failed, err := parseReport(tc.line, rec)
		if err != nil || ready != tc.ready || failed != tc.failed {
			t.Errorf("parseReport(%q) = %v %q %v, want %v %q", tc.line, ready, failed, err, tc.ready, tc.failed)
		}
	}
	if len(rec.calls) != 0 {
		t.Fatalf("control lines made calls: %+v", rec.calls)
	}
}

func TestParseReportMalformed(t *testing.T) {
	for _, line := range []string{
		"",
		" ",
		"Q 127.0.0.1:1 2 3",
		"t 127.0.0.1:1 2 3",
		"F",
		"F oneword",
		"T",
		"T 127.0.0.1:1 2",
		"T 127.0.0.1:1 2 3 4",
		"T 127.0.0.1 2 3",
		"T localhost:1 2 3",
		"T 127.0.0.1:1 -2 3",
		"T 127.0.0.1:1 2 -3",
		"T 127.0.0.1:1 x 3",
		"T 127.0.0.1:1 2 99999999999999999999",
		"T  127.0.0.1:1 2 3",
		"L 127.0.0.1:1 127.0.0.1:2 1",
		"L 127.0.0.1:1 127.0.0.1:2 1 2 3",
		"L 127.0.0.1:1 nope 1 2",
		"L 127.0.0.1:1 127.0.0.1:2 up 2",
		"L 127.0.0.1:1 127.0.0.1:2 2 5",
		"X 127.0.0.1:1 127.0.0.1:2",
		"X 127.0.0.1:1 127.0.0.1:2 3 4",
		"X 127.0.0.1:1 [::1] 3",
		"D 127.0.0.1:1 127.0.0.1:2 127.0.0.1:3 4 5 6",
		"D 127.0.0.1:1 127.0.0.1:2 bad 4 5 6 7 text",
		"D 127.0.0.1:1 127.0.0.1:2 127.0.0.1:3 -4 5 6 7 text",
		"D 127.0.0.1:1 127.0.0.1:2 127.0.0.1:3 4294967296 5 6 7 text",
		"D 127.0.0.1:1 127.0.0.1:2 127.0.0.1:3 4 5 6 -7 text",
		"D 127.0.0.1:1 127.0.0.1:2 127.0.0.1:3 4 5 6 7x text",
	} {
		rec := &recordingReporter{}
		ready, failed, err := parseReport(line, rec)
		want := fmt.Sprintf("localnet: bad worker line %q", line)
		if err == nil || err.Error() != want || ready || failed != "" {
			t.Errorf("parseReport(%q) = %v %q %v, want error %s", line, ready, failed, err, want)
		}
		if len(rec.calls) != 0 {
			t.Errorf("parseReport(%q) made calls %+v", line, rec.calls)
		}
	}
}

// TestLineReporterWriteError: a broken pipe is kept and returned by flush.
func TestLineReporterWriteError(t *testing.T) {
	boom := errors.New("broken pipe")
	r := newLineReporter(failWriter{boom})
	r.Started(netip.MustParseAddrPort("127.0.0.1:1"), 1, time.UnixMicro(1))
	if err := r.flush(); !errors.Is(err, boom) {
		t.Fatalf("flush = %v", err)
	}
	if err := r.flush(); !errors.Is(err, boom) {
		t.Fatalf("second flush = %v, want the kept error", err)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

// TestLineReporterConcurrent: lines from many peers' hooks come out whole.
func TestLineReporterConcurrent(t *testing.T) {
	var buf bytes.Buffer
	r := newLineReporter(&buf)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				a := pa(g)
				r.Deliver(a, a, pa(100), uint32(i), strings.Repeat("w ", i%50), time.UnixMicro(int64(i)), time.UnixMicro(int64(i+1)), g)
				if i%50 == 0 {
					r.flush()
				}
			}
		})
	}
	wg.Wait()
	r.flush()
	got := parseAll(t, buf.String())
	if len(got.calls) != 16*200 {
		t.Fatalf("%d calls, want %d", len(got.calls), 16*200)
	}
}

func FuzzParseReport(f *testing.F) {
	for _, s := range []string{
		"R",
		"F 127.0.0.1:1 boom",
		"T 127.0.0.1:20000 4 1764072000123456",
		"L 127.0.0.1:20000 [::1]:20001 1 1",
		"L [::1]:20001 127.0.0.1:20000 0 2",
		"X 127.0.0.1:20000 [::1]:20001 3",
		"D 127.0.0.1:20000 [::1]:20001 10.0.0.1:9 42 10 15 2 hello  gossip world",
		"D 127.0.0.1:1 127.0.0.1:1 127.0.0.1:1 1 10 10 0 ",
		"D 127.0.0.1:1 127.0.0.1:2 127.0.0.1:3 4294967296 5 6 7 text",
		"T [fe80::1%eth0]:1 +2 007",
		"L 127.0.0.1:1 127.0.0.1:2 2 5",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		rec := &recordingReporter{}
		ready, failed, err := parseReport(line, rec)
		if err != nil {
			if len(rec.calls) != 0 || ready || failed != "" {
				t.Fatalf("error %v with calls %+v ready %v failed %q", err, rec.calls, ready, failed)
			}
			return
		}
		if ready || failed != "" {
			if len(rec.calls) != 0 {
				t.Fatalf("control line made calls %+v", rec.calls)
			}
			return
		}
		if len(rec.calls) != 1 {
			t.Fatalf("accepted line made %d calls", len(rec.calls))
		}
		c := rec.calls[0]
		if c.N < 0 || c.At < 0 || c.Created < 0 || !c.Self.IsValid() {
			t.Fatalf("accepted nonsense %+v from %q", c, line)
		}
		if strings.ContainsAny(line, "\n") {
			return // the worker pipe splits lines before parseReport
		}
		// Re-serialised, the call parses back identically.
		var buf bytes.Buffer
		r := newLineReporter(&buf)
		replay(r, rec.calls)
		r.flush()
		again := &recordingReporter{}
		if _, _, err := parseReport(strings.TrimSuffix(buf.String(), "\n"), again); err != nil {
			t.Fatalf("re-serialised %q does not parse: %v", buf.String(), err)
		}
		if !slices.Equal(again.calls, rec.calls) {
			t.Fatalf("round trip %+v -> %+v", rec.calls, again.calls)
		}
	})
}
