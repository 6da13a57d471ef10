package wire_test

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/whispernet/whispernet/wire"
)

// parseSeeds is the seed corpus of FuzzParse: every canonical line, the
// lines of the error table's kinds, and a few shapes that stress the field
// splitter (brackets, empty fields, long runs).
func parseSeeds() []string {
	seeds := []string{
		"", "\r", ":", "::", "[", "]", "[]", "[::]", "#",
		"garbage", "REGISTER:127.0.0.1:5000", "peer list:", "peer info:", "ok:", "error:",
		"register:127.0.0.1:5000:7", "register:[::ffff:127.0.0.1]:5000", "register:[::ffff:0.0.0.0]:5000",
		"register:[::1.2.3.4]:5000", "register:[0:0:0:0:0:0:0:1]:05000:007:0",
		"register:127.0.0.1", "register:::1:5000", "register:[::1:5000", "register:[127.0.0.1]:5000",
		"register:[fe80::1%eth0]:5000", "register:224.0.0.1:5000", "register:127.0.0.1:65536",
		"register:127.0.0.1:5000:4294967295:4294967295",
		"peer list:[::1]#5000:[::2]#5001", "peer list:[::1#5000:[::2]#5001", "peer list:[::1]#5000]:x",
		"peer list:127.0.0.1#5000:", "peer list:" + strings.Repeat("127.0.0.1#5000:", 256) + "127.0.0.1#5000",
		"peer info:127.0.0.1#5000#2147483647#0", "peer info:[::1]#1#1",
		"Dead Node:127.0.0.1:5001:1732530000.25:127.0.0.1:5000",
		"Dead Node:[::1]:5001:1.5:[::1]:5000:relayed",
		"Dead Node:[::1]:5001:1.5:[::1]:5000:relayed:relayed",
		"Dead Node:[::1]:5001:1.5:[::1]:5000:relayed:" + strings.Repeat("A", 43) + ":" + strings.Repeat("A", 86),
		"Leaving:198.18.0.13:5000", "Leaving:[::1]:5000:relayed", "Leaving:127.0.0.1:5000:relayed:relayed",
		"Leaving:127.0.0.1:5000:gone", "Leaving:127.0.0.1", "Leaving", "Leaving:", "leaving:127.0.0.1:5000",
		"Leaving:127.0.0.1:5000:" + strings.Repeat("A", 43) + ":1.5:" + strings.Repeat("A", 86) + ":relayed",
		"Dead Node:127.0.0.1:5001:1.5:127.0.0.1:5000:" + strings.Repeat("z", 300),
		"Connection with Peer:[::1]:5000:7", "Connection refused:full", "Connection accepted:[::1]:5000",
		"Liveness Request:1764072000:127.0.0.1:5000", "Liveness Reply:1.5:[::1]:5000:[::2]:5001",
		"gossip:127.0.0.1:5000:1:0:1.5:", "gossip:127.0.0.1:5000:1:65536:1.5:x",
		"gossip:[::1]:5000:4294967295:65535:1.1234567:[::1]:5000:" + strings.Repeat(":", 40),
		"gossip:127.0.0.1:5000:1:0:1.5:\xff", "gossip:127.0.0.1:5000:1:0:1.5:a\x00b",
		"gossip:127.0.0.1:5000:1:0:1.5:" + strings.Repeat("é", 600),
		"ok:" + strings.Repeat("\xe2\x82", 100),
		"ihave:127.0.0.1#5000#1:[::1]#1#4294967295", "graft:127.0.0.1#5000#1", "prune", "ihave:#1#2:", "graft:[::1]#5000#1#2",
		"ihave:" + strings.Repeat("127.0.0.1#5000#1:", 256) + "127.0.0.1#5000#1",
		strings.Repeat("v", 100) + ":x",
		"gossip64:127.0.0.1:5000:1:0:1.5:YQ==", "gossip64:127.0.0.1:5000:1:0:1.5:AAo6", "gossip64:[::1]:5000:1:0:1.5:",
		"sgossip:127.0.0.1:5000:1:0:1.5:" + strings.Repeat("A", 43) + ":" + strings.Repeat("A", 86) + ":hi:there",
		"sgossip64:127.0.0.1:5000:1:0:1.5:" + strings.Repeat("A", 43) + ":" + strings.Repeat("A", 86) + ":YQ==",
		"gossip64:127.0.0.1:5000:1:0:1.5:YWJ=", "gossip64:127.0.0.1:5000:1:0:1.5", "gossip64:127.0.0.1:5000:1:0:1.5:" + strings.Repeat("/+", 40),
	}
	for _, tc := range canonical {
		seeds = append(seeds, tc.line, tc.line+"\r")
	}
	return seeds
}

// FuzzParse checks that Parse never panics, that every line it accepts
// formats to a canonical line no longer than the limit which parses back
// to the same message, and that every error it returns can be sent back
// as an "error:" reply.
func FuzzParse(f *testing.F) {
	for _, s := range parseSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		m, err := wire.Parse(line)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("Parse(%q): error %q wraps no sentinel", line, err)
			}
			if m.Kind != wire.KindInvalid {
				t.Fatalf("Parse(%q) returned kind %v with error %v", line, m.Kind, err)
			}
			if len(err.Error()) > wire.MaxTextLen {
				t.Fatalf("Parse(%q): error text is %d bytes, over MaxTextLen", line, len(err.Error()))
			}
			checkErrorReply(t, err)
			return
		}
		if m.Kind == wire.KindInvalid || m.Kind.String() == "" {
			t.Fatalf("Parse(%q) = kind %v without error", line, m.Kind)
		}
		out := wire.Format(m)
		if len(line) <= wire.MaxLineLen && len(out) > wire.MaxLineLen {
			t.Fatalf("Parse(%q) formats to %d bytes, over MaxLineLen", line, len(out))
		}
		m2, err := wire.Parse(out)
		if err != nil {
			t.Fatalf("Parse(%q) = %+v\nformats to %q\nwhich Parse refuses: %v", line, m, out, err)
		}
		if !sameMessage(m, m2) {
			t.Fatalf("round trip of %q via %q\n got %+v\nwant %+v", line, out, m2, m)
		}
		if out2 := wire.Format(m2); out2 != out {
			t.Fatalf("Format is not canonical: %q then %q", out, out2)
		}
		if got := string(m.Append([]byte("x"))); got != "x"+out {
			t.Fatalf("Append = %q, want %q", got, "x"+out)
		}
		// The peer-info echo of an accepted register must parse as well.
		if m.Kind == wire.KindRegister || m.Kind == wire.KindConnect {
			info := wire.Message{Kind: wire.KindPeerInfo, Peers: []wire.PeerInfo{{Addr: m.Addr, Cap: m.Cap, Degree: m.Degree}}}
			if _, err := wire.Parse(wire.Format(info)); err != nil {
				t.Fatalf("peer info echo of %q refused: %v", line, err)
			}
		}
	})
}

func isSentinel(err error) bool {
	for _, s := range []error{wire.ErrEmpty, wire.ErrTooLong, wire.ErrControl, wire.ErrEncoding, wire.ErrUnknownVerb,
		wire.ErrFields, wire.ErrAddr, wire.ErrPort, wire.ErrNumber, wire.ErrTimestamp, wire.ErrTooMany, wire.ErrPayload, wire.ErrKey} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzLineReader checks LineReader against a reference splitter, for any
// input, any small limit, and two ways of delivering the bytes.
func FuzzLineReader(f *testing.F) {
	for _, s := range []string{
		"", "\n", "\r\n", "\r", "a", "a\n", "a\r\n", "a\r\r\n", "\n\n\n",
		"peer list\nregister:127.0.0.1:5000\r\nok", "12345678\n123456789\n1234567890\r\nok",
		strings.Repeat("x", 100) + "\nok\n" + strings.Repeat("y", 9),
		"héllo\nwörld\r\n\xff\xfe\n",
	} {
		for _, max := range []uint8{0, 1, 8, 9, 15, 16, 17, 200} {
			f.Add([]byte(s), max)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, max uint8) {
		want := splitLines(data, int(max))
		for _, slow := range []bool{false, true} {
			var r io.Reader = bytes.NewReader(data)
			if slow {
				r = iotest.OneByteReader(r)
			}
			lr := wire.NewLineReader(r, int(max))
			limit := int(max)
			if limit == 0 {
				limit = wire.MaxLineLen
			}
			var got []string
			for {
				if len(got) > len(data)+1 {
					t.Fatalf("ReadLine does not reach io.EOF on %q", data)
				}
				line, err := lr.ReadLine()
				if err == io.EOF {
					break
				}
				if errors.Is(err, wire.ErrTooLong) {
					got = append(got, "!toolong")
					continue
				}
				if err != nil {
					t.Fatalf("ReadLine: %v", err)
				}
				if len(line) > limit || strings.Contains(line, "\n") {
					t.Fatalf("ReadLine = %q: over %d bytes or holds a newline", line, limit)
				}
				got = append(got, line)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("NewLineReader(%q, %d) (one byte at a time: %v)\n got %q\nwant %q", data, max, slow, got, want)
			}
		}
	})
}

// splitLines is the reference for LineReader: split at '\n', drop one
// trailing '\r', refuse lines over max bytes; a final line without '\n' counts
// when it is not empty.
func splitLines(data []byte, max int) []string {
	if max <= 0 {
		max = wire.MaxLineLen
	}
	var out []string
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > max {
			out = append(out, "!toolong")
		} else {
			out = append(out, string(line))
		}
	}
	return out
}

// FuzzParseTimestamp checks ParseTimestamp against a reference built on
// strconv: an optional '-', SECONDS of 1-12 digits, optionally '.' and 1-64
// digits of which the first six count.
func FuzzParseTimestamp(f *testing.F) {
	for _, s := range []string{
		"1764072000.123456", "1732530000.25", "1", "0", "0.0", "1.1234567", "999999999999.999999",
		"1." + strings.Repeat("9", 64), "1." + strings.Repeat("9", 65), "1234567890123",
		"", ".", "1.", ".5", "-1", "-1.5", "--1", "-", "+1", "1e9", "1.2.3", " 1", "0x10", "١", "1.5\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := wire.ParseTimestamp(s)
		want, ok := refTimestamp(s)
		if ok != (err == nil) {
			t.Fatalf("ParseTimestamp(%q) = %d, %v; reference ok=%v", s, ts, err, ok)
		}
		if err != nil {
			if !utf8.ValidString(err.Error()) || len(err.Error()) > 512 {
				t.Fatalf("ParseTimestamp(%q): unreadable error %q", s, err)
			}
			return
		}
		if ts != want {
			t.Fatalf("ParseTimestamp(%q) = %d, want %d", s, ts, want)
		}
		back, err := wire.ParseTimestamp(ts.String())
		if err != nil || back != ts {
			t.Fatalf("ParseTimestamp(%q) = %d formats as %q, which parses to %d, %v", s, ts, ts.String(), back, err)
		}
	})
}

func refTimestamp(s string) (wire.Timestamp, bool) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	sec, frac, hasFrac := strings.Cut(s, ".")
	if !allDigits(sec) || len(sec) > 12 || (hasFrac && (!allDigits(frac) || len(frac) > 64)) {
		return 0, false
	}
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0, false
	}
	frac = (frac + "000000")[:6]
	us, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		return -wire.Timestamp(n*1e6 + us), true
	}
	return wire.Timestamp(n*1e6 + us), true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
