package wire_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/whispernet/whispernet/wire"
)

// payloads that cannot travel as classic text, each with what makes it so.
var binaryPayloads = map[string]string{
	"newline":     "line one\nline two",
	"NUL":         "a\x00b",
	"invalid UTF": "\xff\xfe",
	"CR":          "x\r",
	"DEL":         "\x7f",
	"long text":   strings.Repeat("é", wire.MaxTextLen/2+1), // valid UTF-8, 1026 bytes
	"all bytes":   allBytes(),
	"max":         string(bytes.Repeat([]byte{0, ':', '\n', 0xff}, wire.MaxPayloadLen/4)),
}

func allBytes() string {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return string(b)
}

func TestGossip64RoundTrip(t *testing.T) {
	for name, p := range binaryPayloads {
		t.Run(name, func(t *testing.T) {
			m := wire.Message{Kind: wire.KindGossip, Addr: v6b, Seq: 1<<32 - 1, Hops: 1<<16 - 1, Time: ts, Text: p}
			line := wire.Format(m)
			want := "gossip64:[2001:db8::7]:65535:4294967295:65535:1764072000.123456:" + base64.StdEncoding.EncodeToString([]byte(p))
			if line != want {
				t.Fatalf("Format = %.120q, want %.120q", line, want)
			}
			if len(line) > wire.MaxGossip64LineLen {
				t.Fatalf("line of %d bytes over MaxGossip64LineLen %d", len(line), wire.MaxGossip64LineLen)
			}
			got, err := wire.Parse(line)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !sameMessage(got, m) {
				t.Fatalf("round trip: got %+.200v", got)
			}
		})
	}
}

// A classic payload keeps the classic verb, so older nodes and people with
// nc read it; a gossip64 line holding classic text is accepted (and
// written back classic).
func TestGossipVerbChoice(t *testing.T) {
	m := wire.Message{Kind: wire.KindGossip, Addr: v4a, Seq: 3, Time: ts, Text: "a:b c"}
	if got, want := wire.Format(m), "gossip:127.0.0.1:5000:3:0:1764072000.123456:a:b c"; got != want {
		t.Fatalf("Format = %q, want %q", got, want)
	}
	got, err := wire.Parse("gossip64:127.0.0.1:5000:3:0:1764072000.123456:" + base64.StdEncoding.EncodeToString([]byte("a:b c")))
	if err != nil || !sameMessage(got, m) {
		t.Fatalf("Parse(gossip64 of text) = %+v, %v", got, err)
	}
	got, err = wire.Parse("gossip64:127.0.0.1:5000:3:0:1764072000.123456:")
	if err != nil || got.Text != "" || got.Kind != wire.KindGossip {
		t.Fatalf("Parse(empty gossip64) = %+v, %v", got, err)
	}
	if !wire.IsText(strings.Repeat("x", wire.MaxTextLen)) || wire.IsText(strings.Repeat("x", wire.MaxTextLen+1)) {
		t.Fatal("IsText does not draw the line at MaxTextLen")
	}
}

func TestGossip64Errors(t *testing.T) {
	const head = "gossip64:127.0.0.1:5000:1:0:1.5:"
	tooBig := base64.StdEncoding.EncodeToString(make([]byte, wire.MaxPayloadLen+1))
	tests := []struct {
		name, line string
		err        error
		text       string
	}{
		{"missing payload", "gossip64:127.0.0.1:5000:1:0:1.5", wire.ErrFields, "wrong number of fields: gossip64: missing payload"},
		{"not base64", head + "a:b=", wire.ErrPayload, "bad payload: gossip64: payload is not base64: illegal base64 data at input byte 1"},
		{"no padding", head + "YWI", wire.ErrPayload, "bad payload: gossip64: payload is not base64: illegal base64 data at input byte 0"},
		{"url alphabet", head + "-_-_", wire.ErrPayload, "bad payload: gossip64: payload is not base64: illegal base64 data at input byte 0"},
		{"non-canonical padding bits", head + "YWJ=", wire.ErrPayload, "bad payload: gossip64: payload is not base64: illegal base64 data at input byte 3"},
		{"payload one over", head + tooBig, wire.ErrTooLong, "line too long: gossip64: payload of 65537 bytes over the 65536 limit"},
		{"payload four over", head + base64.StdEncoding.EncodeToString(make([]byte, wire.MaxPayloadLen+4)), wire.ErrTooLong,
			"line too long: gossip64: payload of about 65541 bytes over the 65536 limit"},
		{"line over the gossip64 limit", head + strings.Repeat("A", wire.MaxGossip64LineLen), wire.ErrTooLong, "line too long (87672 bytes, limit 16384)"},
		{"other verb past MaxLineLen", "gossip:127.0.0.1:5000:1:0:1.5:" + strings.Repeat("x", wire.MaxLineLen), wire.ErrTooLong, "line too long (16414 bytes, limit 16384)"},
		{"bad header", "gossip64:127.0.0.1:5000:x:0:1.5:YQ==", wire.ErrNumber, `bad number: gossip64: sequence number "x" is not a number in 0..4294967295`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := wire.Parse(tc.line)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Parse = %+.80v, %v; want %v", m, err, tc.err)
			}
			if err.Error() != tc.text {
				t.Errorf("error text %q, want %q", err, tc.text)
			}
		})
	}
}

// FuzzGossip64 checks that any bytes up to MaxPayloadLen survive Format
// and Parse, and that Parse of any gossip64 line either fails with a
// sentinel or yields a payload that formats back to an equal message.
func FuzzGossip64(f *testing.F) {
	for _, p := range binaryPayloads {
		f.Add([]byte(p), base64.StdEncoding.EncodeToString([]byte(p)))
	}
	f.Add([]byte(""), "")
	f.Add([]byte("x"), "YQ")
	f.Add([]byte("x"), "YQ==YQ==")
	f.Add([]byte("x"), "Y Q==")
	f.Fuzz(func(t *testing.T, payload []byte, field string) {
		if len(payload) <= wire.MaxPayloadLen {
			m := wire.Message{Kind: wire.KindGossip, Addr: v4a, Seq: 1, Time: ts, Text: string(payload)}
			got, err := wire.Parse(wire.Format(m))
			if err != nil || !sameMessage(got, m) {
				t.Fatalf("payload %q: round trip gives %+v, %v", payload, got, err)
			}
		}
		m, err := wire.Parse("gossip64:127.0.0.1:5000:1:0:1.5:" + field)
		if err != nil {
			if !isSentinel(err) || m.Kind != wire.KindInvalid {
				t.Fatalf("gossip64 %q: %v (kind %v)", field, err, m.Kind)
			}
			return
		}
		if len(m.Text) > wire.MaxPayloadLen {
			t.Fatalf("gossip64 %q: payload of %d bytes accepted", field, len(m.Text))
		}
		if m2, err := wire.Parse(wire.Format(m)); err != nil || !sameMessage(m, m2) {
			t.Fatalf("gossip64 %q: reformatted gives %+v, %v", field, m2, err)
		}
	})
}
