package wire_test

import (
	"io"
	"net/netip"
	"strings"
	"testing"

	"github.com/whispernet/whispernet/identity"
	"github.com/whispernet/whispernet/wire"
)

const benchGossip = "gossip:127.0.0.1:5000:42:3:1764072000.123456:1764072000.123456:127.0.0.1:5000:42"

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchGossip)))
	for b.Loop() {
		if _, err := wire.Parse(benchGossip); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppend(b *testing.B) {
	m, err := wire.Parse(benchGossip)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchGossip)))
	buf := make([]byte, 0, 256)
	for b.Loop() {
		buf = m.Append(buf[:0])
	}
}

func BenchmarkParsePeerList(b *testing.B) {
	line := "peer list:" + strings.Repeat("127.0.0.1#5000:", wire.MaxPeersPerReply-1) + "[2001:db8::1]#5001"
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, err := wire.Parse(line); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLineReader reads gossip lines from a stream.
func BenchmarkLineReader(b *testing.B) {
	data := strings.Repeat(benchGossip+"\n", 1000)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	r := strings.NewReader(data)
	for b.Loop() {
		r.Reset(data)
		lr := wire.NewLineReader(r, 0)
		for {
			if _, err := lr.ReadLine(); err == io.EOF {
				break
			}
		}
	}
}

// BenchmarkParseIHave is an announcement of 8 messages, about what a lazy
// link carries per flush in a 500-peer classic run.
func BenchmarkParseIHave(b *testing.B) {
	line := "ihave" + strings.Repeat(":10.1.0.17#5000#12", 8)
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, err := wire.Parse(line); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseSigned is a signed gossip line as forwarded.
func BenchmarkParseSigned(b *testing.B) {
	k := identity.FromSeed([]byte("bench"))
	m := wire.Message{Kind: wire.KindGossip, Addr: netip.MustParseAddrPort("10.1.0.17:5000"), Seq: 12, Hops: 3, Time: 1764072000_123456, Text: "10.1.0.17:5000 message 12"}
	wire.SignGossip(&m, k)
	line := wire.Format(m)
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, err := wire.Parse(line); err != nil {
			b.Fatal(err)
		}
	}
}
