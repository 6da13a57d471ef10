package wire

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// The peer reader takes a gossip64 line of the largest payload and refuses
// every other line past MaxLineLen, then carries on.
func TestPeerLineReader(t *testing.T) {
	big := "gossip64:[2001:db8::7]:65535:4294967295:65535:1764072000.123456:" +
		base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0, '\n', ':'}, MaxPayloadLen/3+1)[:MaxPayloadLen])
	other := "gossip:127.0.0.1:5000:1:0:1.5:" + strings.Repeat("x", MaxLineLen)
	tooBig := "gossip64:" + strings.Repeat("A", MaxGossip64LineLen)
	in := big + "\n" + other + "\nok\n" + tooBig + "\r\nok\n" + big
	for _, slow := range []bool{false, true} {
		var r io.Reader = strings.NewReader(in)
		if slow {
			r = iotest.HalfReader(r)
		}
		got := readAll(t, NewPeerLineReader(r))
		want := []string{big, "!toolong", "ok", "!toolong", "ok", big}
		if !slices.Equal(got, want) {
			t.Fatalf("slow %v: got %d lines %.100q", slow, len(got), got)
		}
	}
	// Parse takes what the reader passed.
	m, err := Parse(big)
	if err != nil || len(m.Text) != MaxPayloadLen {
		t.Fatalf("Parse(big) = %d bytes, %v", len(m.Text), err)
	}
}

// FuzzLongLineReader checks the two-limit reader against a reference
// splitter, with small limits so that the fuzzer reaches both.
func FuzzLongLineReader(f *testing.F) {
	for _, s := range []string{
		"", "gossip64:\n", "gossip64:" + strings.Repeat("x", 30) + "\nok\n", "gossip6" + strings.Repeat("x", 30) + "\n",
		"gossip:" + strings.Repeat("x", 30) + "\r\ngossip64:xx\r\n", strings.Repeat("gossip64:", 9),
		"sgossip64:" + strings.Repeat("y", 30) + "\nsgossip6" + strings.Repeat("y", 30) + "\n",
	} {
		f.Add([]byte(s), uint8(10), uint8(40))
		f.Add([]byte(s), uint8(4), uint8(12))
	}
	f.Fuzz(func(t *testing.T, data []byte, max, long uint8) {
		if max == 0 || long <= max {
			return
		}
		want := splitTwoLimits(data, int(max), int(long))
		for _, slow := range []bool{false, true} {
			var r io.Reader = bytes.NewReader(data)
			if slow {
				r = iotest.OneByteReader(r)
			}
			lr := NewLineReader(r, int(max))
			lr.long = int(long)
			var got []string
			for len(got) <= len(data)+1 {
				line, err := lr.ReadLine()
				if err == io.EOF {
					break
				}
				if errors.Is(err, ErrTooLong) {
					got = append(got, "!toolong")
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, line)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%q max %d long %d slow %v:\n got %q\nwant %q", data, max, long, slow, got, want)
			}
		}
	})
}

func splitTwoLimits(data []byte, max, long int) []string {
	var out []string
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		limit := max
		if bytes.HasPrefix(line, []byte(gossip64Prefix)) || bytes.HasPrefix(line, []byte(sgossip64Prefix)) {
			limit = long
		}
		if len(line) > limit {
			out = append(out, "!toolong")
		} else {
			out = append(out, string(line))
		}
	}
	return out
}
