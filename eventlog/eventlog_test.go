package eventlog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whispernet/whispernet/wire"
)

// recorder is an io.Writer that keeps every Write call separately.
type recorder struct {
	mu     sync.Mutex
	writes [][]byte
	err    error // returned by every Write when set
}

func (r *recorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return 0, r.err
	}
	r.writes = append(r.writes, bytes.Clone(b))
	return len(b), nil
}

func (r *recorder) setErr(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(bytes.Join(r.writes, nil))
}

func (r *recorder) calls() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.writes...)
}

var (
	eventRE  = regexp.MustCompile(`^(-?[0-9]+\.[0-9]{6}):(\S+) (.*)$`)
	degreeRE = regexp.MustCompile(`^(\S+)=>(-?[0-9]+)$`)
)

// parseEvent reads an outputfile.log line back.
func parseEvent(line string) (time.Time, netip.AddrPort, string, error) {
	m := eventRE.FindStringSubmatch(line)
	if m == nil {
		return time.Time{}, netip.AddrPort{}, "", fmt.Errorf("not an event line: %q", line)
	}
	ts, err := wire.ParseTimestamp(m[1])
	if err != nil {
		return time.Time{}, netip.AddrPort{}, "", err
	}
	a, err := netip.ParseAddrPort(m[2])
	if err != nil {
		return time.Time{}, netip.AddrPort{}, "", err
	}
	return ts.Time(), a, m[3], nil
}

// parseDegree reads a freqtrack.log line back.
func parseDegree(line string) (netip.AddrPort, int, error) {
	m := degreeRE.FindStringSubmatch(line)
	if m == nil {
		return netip.AddrPort{}, 0, fmt.Errorf("not a degree line: %q", line)
	}
	a, err := netip.ParseAddrPort(m[1])
	if err != nil {
		return netip.AddrPort{}, 0, err
	}
	d, err := strconv.Atoi(m[2])
	return a, d, err
}

func TestEventFormat(t *testing.T) {
	out, freq := &recorder{}, &recorder{}
	w := New(out, freq)
	v4 := netip.MustParseAddrPort("127.0.0.1:8080")
	v6 := netip.MustParseAddrPort("[2001:db8::1]:9000")
	w.Event(time.Unix(1764072000, 123456789), v4, "connected to 127.0.0.1:8081")
	w.Event(time.Unix(1764072000, 5000), v6, "gossip: hello world")
	w.Event(time.Unix(7, 0), netip.MustParseAddrPort("[::1]:1"), "")
	w.Event(time.Unix(-1, 500_000_000), v4, "before 1970")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "1764072000.123456:127.0.0.1:8080 connected to 127.0.0.1:8081\n" +
		"1764072000.000005:[2001:db8::1]:9000 gossip: hello world\n" +
		"7.000000:[::1]:1 \n" +
		"-0.500000:127.0.0.1:8080 before 1970\n" // half a second before 1970
	if got := out.String(); got != want {
		t.Fatalf("outputfile.log:\n got %q\nwant %q", got, want)
	}
	if got := freq.String(); got != "" {
		t.Fatalf("freqtrack.log got %q from events", got)
	}
	// The flush wrote the four lines in one call.
	if n := len(out.calls()); n != 1 {
		t.Fatalf("%d writes for one flush, want 1", n)
	}
	// Lines read back exactly (microseconds kept). wire.ParseTimestamp
	// takes no sign, so the pre-1970 line is left out.
	for i, line := range strings.Split(strings.TrimSuffix(want, "\n"), "\n")[:3] {
		at, a, text, err := parseEvent(line)
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if i == 0 && (!at.Equal(time.Unix(1764072000, 123456000)) || a != v4 || text != "connected to 127.0.0.1:8081") {
			t.Fatalf("line 0 parsed as %v %v %q", at, a, text)
		}
	}
	w.Close()
}

func TestDegreeFormat(t *testing.T) {
	out, freq := &recorder{}, &recorder{}
	w := New(out, freq)
	w.Degree(netip.MustParseAddrPort("127.0.0.1:8080"), 3)
	w.Degree(netip.MustParseAddrPort("[::1]:9000"), 0)
	w.Degree(netip.MustParseAddrPort("10.1.2.3:65535"), 1024)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := "127.0.0.1:8080=>3\n[::1]:9000=>0\n10.1.2.3:65535=>1024\n"
	if got := freq.String(); got != want {
		t.Fatalf("freqtrack.log:\n got %q\nwant %q", got, want)
	}
	if got := out.String(); got != "" {
		t.Fatalf("outputfile.log got %q from degrees", got)
	}
}

func TestTimerFlushes(t *testing.T) {
	out, freq := &recorder{}, &recorder{}
	w := New(out, freq)
	defer w.Close()
	w.Event(time.Unix(1, 0), netip.MustParseAddrPort("127.0.0.1:1"), "x")
	w.Degree(netip.MustParseAddrPort("127.0.0.1:1"), 2)
	// Buffered, not written at once.
	if s := out.String(); s != "" {
		t.Fatalf("written before any flush: %q", s)
	}
	deadline := time.Now().Add(5 * FlushInterval * 10)
	for out.String() == "" || freq.String() == "" {
		if time.Now().After(deadline) {
			t.Fatalf("the flush timer did not write the lines (out %q, freq %q)", out, freq)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if out.String() != "1.000000:127.0.0.1:1 x\n" || freq.String() != "127.0.0.1:1=>2\n" {
		t.Fatalf("timer flush wrote %q and %q", out, freq)
	}
}

// TestBufferLimitFlushes: a full buffer is written without waiting for
// the timer or Flush, as whole lines: the line that fills it hands it to
// the write loop.
func TestBufferLimitFlushes(t *testing.T) {
	out := &recorder{}
	w := New(out, io.Discard)
	defer w.Close()
	a := netip.MustParseAddrPort("127.0.0.1:1")
	text := strings.Repeat("y", 99)
	line := len("1.000000:127.0.0.1:1 ") + len(text) + 1
	want := (bufferLimit + line - 1) / line
	for range want - 1 {
		w.Event(time.Unix(1, 0), a, text)
	}
	w.mu.Lock()
	held := len(w.out.buf)
	w.mu.Unlock()
	if held != (want-1)*line {
		t.Fatalf("%d bytes buffered after %d lines, want all of them (%d): handed off too early", held, want-1, (want-1)*line)
	}
	w.Event(time.Unix(1, 0), a, text)
	deadline := time.Now().Add(5 * time.Second)
	for len(out.calls()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the full buffer was not written")
		}
		time.Sleep(time.Millisecond)
	}
	got := out.calls()[0]
	if len(got) != want*line || got[len(got)-1] != '\n' {
		t.Fatalf("write of %d bytes, want %d whole lines (%d bytes)", len(got), want, want*line)
	}
}

func TestCloseSemantics(t *testing.T) {
	out, freq := &recorder{}, &recorder{}
	w := New(out, freq)
	a := netip.MustParseAddrPort("127.0.0.1:1")
	w.Event(time.Unix(1, 0), a, "before close")
	w.Degree(a, 1)
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Close flushed.
	if out.String() != "1.000000:127.0.0.1:1 before close\n" || freq.String() != "127.0.0.1:1=>1\n" {
		t.Fatalf("after Close: out %q freq %q", out, freq)
	}
	// A second Close is safe and reports no error.
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// Writes after Close are dropped, without a panic or an error.
	for range 2000 {
		w.Event(time.Unix(2, 0), a, strings.Repeat("late ", 20))
		w.Degree(a, 9)
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush after Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("third Close: %v", err)
	}
	if strings.Contains(out.String(), "late") || strings.Contains(freq.String(), "=>9") {
		t.Fatalf("lines written after Close reached the streams")
	}
}

// TestConcurrentClose: Close may race with Close and with writes; every
// call returns the kept error and none panics.
func TestConcurrentClose(t *testing.T) {
	boom := errors.New("boom")
	a := netip.MustParseAddrPort("127.0.0.1:1")
	for range 500 {
		w := New(&recorder{err: boom}, io.Discard)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				w.Event(time.Unix(1, 0), a, "x")
				if err := w.Close(); !errors.Is(err, boom) && err != nil {
					t.Errorf("Close: %v", err)
				}
				w.Event(time.Unix(2, 0), a, "y")
			})
		}
		wg.Wait()
		if err := w.Close(); !errors.Is(err, boom) {
			t.Fatalf("Close after the race: %v, want the kept error", err)
		}
	}
}

func TestOpenFilesAndClose(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs", "nested")
	var echo recorder
	w, err := OpenEcho(dir, &echo)
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddrPort("[::1]:4000")
	w.Event(time.Unix(10, 0), a, "hello")
	w.Degree(a, 2)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close of files: %v", err)
	}
	w.Event(time.Unix(11, 0), a, "late")
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush after Close of files: %v", err)
	}
	outB, err := os.ReadFile(filepath.Join(dir, OutputFile))
	if err != nil {
		t.Fatal(err)
	}
	freqB, err := os.ReadFile(filepath.Join(dir, FreqFile))
	if err != nil {
		t.Fatal(err)
	}
	if string(outB) != "10.000000:[::1]:4000 hello\n" || string(freqB) != "[::1]:4000=>2\n" {
		t.Fatalf("files hold %q and %q", outB, freqB)
	}
	if echo.String() != string(outB) {
		t.Fatalf("echo got %q, want the outputfile.log lines %q", echo.String(), outB)
	}

	// Open appends.
	w, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	w.Event(time.Unix(12, 0), a, "again")
	w.Close()
	outB, _ = os.ReadFile(filepath.Join(dir, OutputFile))
	if string(outB) != "10.000000:[::1]:4000 hello\n12.000000:[::1]:4000 again\n" {
		t.Fatalf("reopened file holds %q", outB)
	}
}

func TestOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// dir is a regular file.
	if _, err := Open(file); err == nil || !strings.HasPrefix(err.Error(), "eventlog: ") {
		t.Fatalf("Open(file) error %v, want an eventlog: error", err)
	}
	// outputfile.log is a directory.
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, OutputFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil || !strings.HasPrefix(err.Error(), "eventlog: ") {
		t.Fatalf("Open with a directory for %s: %v", OutputFile, err)
	}
}

// TestWriteErrorKept: a failing stream does not stop the writer; its first
// error is kept and returned by every later Flush and by Close.
func TestWriteErrorKept(t *testing.T) {
	boom := errors.New("disk full")
	out, freq := &recorder{err: boom}, &recorder{}
	w := New(out, freq)
	a := netip.MustParseAddrPort("127.0.0.1:1")
	w.Event(time.Unix(1, 0), a, "lost")
	w.Degree(a, 1)
	err := w.Flush()
	if !errors.Is(err, boom) || err.Error() != "eventlog: disk full" {
		t.Fatalf("Flush = %v, want eventlog: disk full", err)
	}
	// The other stream still got its line.
	if freq.String() != "127.0.0.1:1=>1\n" {
		t.Fatalf("freqtrack.log got %q", freq)
	}
	// The stream recovers; the error stays, later lines go out.
	out.setErr(nil)
	w.Event(time.Unix(2, 0), a, "kept")
	if err := w.Flush(); !errors.Is(err, boom) {
		t.Fatalf("second Flush = %v, want the kept error", err)
	}
	if out.String() != "2.000000:127.0.0.1:1 kept\n" {
		t.Fatalf("after recovery outputfile.log got %q", out)
	}
	// Only the first error is kept.
	freq.setErr(errors.New("second failure"))
	w.Degree(a, 2)
	if err := w.Close(); !errors.Is(err, boom) || err.Error() != "eventlog: disk full" {
		t.Fatalf("Close = %v, want the first error", err)
	}
	if err := w.Close(); !errors.Is(err, boom) {
		t.Fatalf("second Close = %v, want the kept error", err)
	}
}

// TestWriteErrorFromFlushTimer: an error met by the timer's flush is kept
// for the next Flush.
func TestWriteErrorFromFlushTimer(t *testing.T) {
	boom := errors.New("broken pipe")
	w := New(io.Discard, &recorder{err: boom})
	defer w.Close()
	w.Degree(netip.MustParseAddrPort("127.0.0.1:1"), 1)
	deadline := time.Now().Add(50 * FlushInterval)
	for {
		if w.firstErr() != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("timer flush did not record the error")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := w.Flush(); !errors.Is(err, boom) {
		t.Fatalf("Flush = %v", err)
	}
}

// TestConcurrentWritersWholeLines: many goroutines on one Writer; every
// Write call holds whole lines and every line is one caller's line.
func TestConcurrentWritersWholeLines(t *testing.T) {
	out, freq := &recorder{}, &recorder{}
	w := New(out, freq)
	const goroutines, perG = 32, 500
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			a := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(1000+g))
			for i := range perG {
				w.Event(time.Unix(int64(i), 0), a, fmt.Sprintf("g%d i%d %s", g, i, strings.Repeat("z", i%97)))
				w.Degree(a, i)
				if i%100 == 0 {
					w.Flush()
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, call := range out.calls() {
		if len(call) == 0 || call[len(call)-1] != '\n' {
			t.Fatalf("a write ends mid-line: %q", call[max(0, len(call)-40):])
		}
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		at, a, text, err := parseEvent(line)
		if err != nil {
			t.Fatal(err)
		}
		f := strings.SplitN(text, " ", 3)
		if len(f) != 3 {
			t.Fatalf("line %q is torn", line)
		}
		g, err1 := strconv.Atoi(strings.TrimPrefix(f[0], "g"))
		i, err2 := strconv.Atoi(strings.TrimPrefix(f[1], "i"))
		pad := f[2]
		if err1 != nil || err2 != nil || strings.Trim(pad, "z") != "" {
			t.Fatalf("line %q is torn", line)
		}
		if a.Port() != uint16(1000+g) || at.Unix() != int64(i) || len(pad) != i%97 || seen[text] {
			t.Fatalf("line %q is torn or repeated", line)
		}
		seen[text] = true
	}
	if len(seen) != goroutines*perG {
		t.Fatalf("%d event lines, want %d", len(seen), goroutines*perG)
	}
	last := map[netip.AddrPort]int{}
	n := 0
	for _, line := range strings.Split(strings.TrimSuffix(freq.String(), "\n"), "\n") {
		a, d, err := parseDegree(line)
		if err != nil {
			t.Fatal(err)
		}
		if prev, ok := last[a]; ok && d != prev+1 {
			t.Fatalf("%s degree %d after %d: lines lost or reordered", a, d, prev)
		}
		last[a] = d
		n++
	}
	if n != goroutines*perG {
		t.Fatalf("%d degree lines, want %d", n, goroutines*perG)
	}
}

// TestTwoWritersAppendSameFiles simulates two processes of one local
// network appending to the same files (O_APPEND) with large volumes:
// every line must come out whole.
func TestTwoWritersAppendSameFiles(t *testing.T) {
	dir := t.TempDir()
	const writers, goroutines, perG = 2, 4, 1500
	var ws []*Writer
	for range writers {
		w, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	var wg sync.WaitGroup
	for wi, w := range ws {
		for g := range goroutines {
			wg.Go(func() {
				a := netip.AddrPortFrom(netip.MustParseAddr("::1"), uint16(10000+wi*100+g))
				for i := range perG {
					// Lengths vary up to 2.5 KB so flushes fall at
					// arbitrary points and writes are large.
					pad := strings.Repeat(string(rune('a'+(i%26))), (i*37)%2500)
					w.Event(time.Unix(1764072000, int64(i)*1000), a, fmt.Sprintf("w%d g%d i%d %d %s", wi, g, i, len(pad), pad))
					w.Degree(a, i)
				}
			})
		}
	}
	wg.Wait()
	for _, w := range ws {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}

	f, err := os.Open(filepath.Join(dir, OutputFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	seen := map[[3]int]bool{}
	for sc.Scan() {
		line := sc.Text()
		at, a, text, err := parseEvent(line)
		if err != nil {
			t.Fatalf("torn line: %v", err)
		}
		var wi, g, i, n int
		k, _ := fmt.Sscanf(text, "w%d g%d i%d %d", &wi, &g, &i, &n)
		_, pad, _ := strings.Cut(strings.SplitN(text, " ", 4)[3], " ")
		if k != 4 || len(pad) != n || strings.Trim(pad, string(rune('a'+(i%26)))) != "" ||
			a.Port() != uint16(10000+wi*100+g) || at.Nanosecond() != i*1000 {
			t.Fatalf("torn line %.120q...", line)
		}
		key := [3]int{wi, g, i}
		if seen[key] {
			t.Fatalf("line %v written twice", key)
		}
		seen[key] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != writers*goroutines*perG {
		t.Fatalf("%d event lines, want %d", len(seen), writers*goroutines*perG)
	}

	freqB, err := os.ReadFile(filepath.Join(dir, FreqFile))
	if err != nil {
		t.Fatal(err)
	}
	next := map[netip.AddrPort]int{}
	for _, line := range strings.Split(strings.TrimSuffix(string(freqB), "\n"), "\n") {
		a, d, err := parseDegree(line)
		if err != nil {
			t.Fatalf("torn degree line: %v", err)
		}
		if d != next[a] {
			t.Fatalf("%s degree %d, want %d next", a, d, next[a])
		}
		next[a]++
	}
	if len(next) != writers*goroutines {
		t.Fatalf("%d nodes in freqtrack.log, want %d", len(next), writers*goroutines)
	}
	for a, n := range next {
		if n != perG {
			t.Fatalf("%s has %d degree lines, want %d", a, n, perG)
		}
	}
}

func BenchmarkEvent(b *testing.B) {
	w := New(io.Discard, io.Discard)
	defer w.Close()
	a := netip.MustParseAddrPort("127.0.0.1:8080")
	now := time.Now()
	for b.Loop() {
		w.Event(now, a, "received gossip 1764072000.123456:127.0.0.1:8081:7:hello")
	}
}

// TestBuffers: nodes writing through Buffers of their own, from many
// goroutines at once: every line is written whole, each node's lines in
// their order, after Flush (which waits for the write) and Close; a
// Buffer's lines after Close are dropped, and so are those of a Buffer
// made after Close.
func TestBuffers(t *testing.T) {
	out, freq := &recorder{}, &recorder{}
	w := New(out, freq)
	const nodes, lines = 8, 3000 // several hand-offs per node (nodeLimit)
	var wg sync.WaitGroup
	for n := range nodes {
		b := w.Buffer()
		a := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(1+n))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				b.Event(time.Unix(1, 0), a, fmt.Sprintf("line %d", i))
			}
			b.Degree(a, n)
		}()
	}
	wg.Wait()
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	next := map[string]int{}
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		var node string
		var i int
		if _, err := fmt.Sscanf(l, "1.000000:%s line %d", &node, &i); err != nil {
			t.Fatalf("torn or unknown line %q: %v", l, err)
		}
		if i != next[node] {
			t.Fatalf("%s: line %d after line %d", node, i, next[node]-1)
		}
		next[node]++
	}
	if len(next) != nodes {
		t.Fatalf("lines of %d nodes, want %d", len(next), nodes)
	}
	for node, n := range next {
		if n != lines {
			t.Errorf("%s: %d lines written, want %d", node, n, lines)
		}
	}
	if got := strings.Count(freq.String(), "=>"); got != nodes {
		t.Errorf("%d degree lines, want %d", got, nodes)
	}
	b := w.Buffer()
	b.Event(time.Unix(2, 0), netip.MustParseAddrPort("127.0.0.1:99"), "before close")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "127.0.0.1:99 before close\n") {
		t.Error("Close lost a Buffer's line")
	}
	b.Event(time.Unix(3, 0), netip.MustParseAddrPort("127.0.0.1:99"), "after close")
	w.Buffer().Event(time.Unix(3, 0), netip.MustParseAddrPort("127.0.0.1:98"), "new after close")
	if strings.Contains(out.String(), "after close") {
		t.Error("a line logged after Close was written")
	}
}
