package wire

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll reads lines until io.EOF or another error, recording each line
// and each ErrTooLong as "!toolong".
func readAll(t *testing.T, lr *LineReader) []string {
	t.Helper()
	var out []string
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatal("ReadLine does not reach io.EOF")
		}
		line, err := lr.ReadLine()
		switch {
		case err == nil:
			out = append(out, line)
		case errors.Is(err, ErrTooLong):
			out = append(out, "!toolong")
		case err == io.EOF:
			return out
		default:
			t.Fatalf("ReadLine: %v", err)
		}
	}
}

func TestLineReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want []string
	}{
		{"empty stream", "", 0, nil},
		{"one line", "peer list\n", 0, []string{"peer list"}},
		{"two lines", "peer list\nregister:127.0.0.1:5000\n", 0, []string{"peer list", "register:127.0.0.1:5000"}},
		{"crlf", "peer list\r\nok\r\n", 0, []string{"peer list", "ok"}},
		{"mixed endings", "a\r\nb\nc\r\n", 0, []string{"a", "b", "c"}},
		{"only one CR stripped", "a\r\r\n", 0, []string{"a\r"}},
		{"CR inside kept", "a\rb\n", 0, []string{"a\rb"}},
		{"empty lines", "\n\r\n\n", 0, []string{"", "", ""}},
		{"final unterminated", "peer list\nok", 0, []string{"peer list", "ok"}},
		{"final unterminated CR", "ok\r", 0, []string{"ok"}},
		{"only unterminated", "registered successfully", 0, []string{"registered successfully"}},
		{"at limit", "12345678\n", 8, []string{"12345678"}},
		{"at limit crlf", "12345678\r\n", 8, []string{"12345678"}},
		{"one over", "123456789\nok\n", 8, []string{"!toolong", "ok"}},
		{"one over crlf", "123456789\r\nok\n", 8, []string{"!toolong", "ok"}},
		{"two over", "1234567890\nok\n", 8, []string{"!toolong", "ok"}},
		{"far over", strings.Repeat("x", 5000) + "\nok\n", 8, []string{"!toolong", "ok"}},
		{"unterminated at limit", "12345678", 8, []string{"12345678"}},
		{"unterminated one over", "ok\n123456789", 8, []string{"ok", "!toolong"}},
		{"unterminated two over", "ok\n1234567890", 8, []string{"ok", "!toolong"}},
		{"unterminated far over", strings.Repeat("x", 5000), 8, []string{"!toolong"}},
		{"several over", "123456789\n123456789\nok\n123456789", 8, []string{"!toolong", "!toolong", "ok", "!toolong"}},
		{"utf8 counted in bytes", "ééééé\n", 8, []string{"!toolong"}},
		{"default limit", strings.Repeat("y", MaxLineLen) + "\n" + strings.Repeat("y", MaxLineLen+1) + "\nok",
			0, []string{strings.Repeat("y", MaxLineLen), "!toolong", "ok"}},
	}
	readers := map[string]func(io.Reader) io.Reader{
		"plain":   func(r io.Reader) io.Reader { return r },
		"onebyte": iotest.OneByteReader,
		"half":    iotest.HalfReader,
		"dataerr": iotest.DataErrReader,
	}
	for _, tc := range tests {
		for rname, wrap := range readers {
			t.Run(tc.name+"/"+rname, func(t *testing.T) {
				lr := NewLineReader(wrap(strings.NewReader(tc.in)), tc.max)
				got := readAll(t, lr)
				if !slices.Equal(got, tc.want) {
					t.Errorf("lines\n got %.200q\nwant %.200q", got, tc.want)
				}
				// After io.EOF the reader keeps returning io.EOF.
				if _, err := lr.ReadLine(); err != io.EOF {
					t.Errorf("ReadLine after EOF: %v", err)
				}
			})
		}
	}
}

func TestLineReaderErrorText(t *testing.T) {
	lr := NewLineReader(strings.NewReader("123456789\n"+"1234567890\r\n"+"12345678901"), 8)
	for _, want := range []string{
		"line too long (9 bytes, limit 8)",
		"line too long (11 bytes, limit 8)", // the CR is counted
		"line too long (11 bytes, limit 8)",
	} {
		if _, err := lr.ReadLine(); err == nil || err.Error() != want {
			t.Errorf("ReadLine error %v, want %q", err, want)
		}
	}
}

// TestLineReaderPassesErrors checks that a read error other than io.EOF
// reaches the caller.
func TestLineReaderPassesErrors(t *testing.T) {
	boom := errors.New("boom")
	lr := NewLineReader(io.MultiReader(strings.NewReader("ok\npartial"), iotest.ErrReader(boom)), 0)
	if line, err := lr.ReadLine(); err != nil || line != "ok" {
		t.Fatalf("ReadLine = %q, %v", line, err)
	}
	if _, err := lr.ReadLine(); !errors.Is(err, boom) {
		t.Fatalf("ReadLine error %v, want %v", err, boom)
	}
}

// repeatReader yields n copies of b, then io.EOF, without holding them.
type repeatReader struct {
	b byte
	n int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), r.n)
	for i := range p[:k] {
		p[i] = r.b
	}
	r.n -= k
	return k, nil
}

// TestLineReaderHugeLine streams a 2 MB line past a reader with the
// default limit: it is refused with ErrTooLong, the next line still reads
// correctly, and memory stays within a few times the limit.
func TestLineReaderHugeLine(t *testing.T) {
	const huge = 2 << 20
	src := &repeatReader{b: 'x', n: huge}
	lr := NewLineReader(io.MultiReader(src, strings.NewReader("\npeer list\r\nok\n")), 0)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := lr.ReadLine()
	runtime.ReadMemStats(&after)

	if !errors.Is(err, ErrTooLong) {
		t.Fatalf("ReadLine of a 2 MB line: %v, want ErrTooLong", err)
	}
	if want := "line too long (2097152 bytes, limit 16384)"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if src.n != 0 {
		t.Errorf("%d bytes of the long line left unread", src.n)
	}
	if c := cap(lr.buf); c > 2*MaxLineLen {
		t.Errorf("line buffer grew to %d bytes, want <= %d", c, 2*MaxLineLen)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 256<<10 {
		t.Errorf("reading a 2 MB line allocated %d bytes, want < 256 KiB", got)
	}
	for _, want := range []string{"peer list", "ok"} {
		if line, err := lr.ReadLine(); err != nil || line != want {
			t.Errorf("ReadLine after the long line = %q, %v; want %q", line, err, want)
		}
	}
	if _, err := lr.ReadLine(); err != io.EOF {
		t.Errorf("ReadLine at the end = %v, want io.EOF", err)
	}
}

// TestLineReaderIdleCost checks that a fresh reader (one per connection)
// is small: its buffer grows only as lines need it.
func TestLineReaderIdleCost(t *testing.T) {
	lr := NewLineReader(bytes.NewReader(nil), 0)
	if lr.r.Size() > 1024 || cap(lr.buf) != 0 {
		t.Errorf("fresh reader holds %d + %d bytes", lr.r.Size(), cap(lr.buf))
	}
	lr = NewLineReader(strings.NewReader("peer list\n"), 0)
	if _, err := lr.ReadLine(); err != nil {
		t.Fatal(err)
	}
	if c := cap(lr.buf); c > 64 {
		t.Errorf("buffer for a 10-byte line is %d bytes", c)
	}
}
