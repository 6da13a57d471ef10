package wire_test

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/whispernet/whispernet/identity"
	"github.com/whispernet/whispernet/wire"
)

// Addresses used throughout the tests.
var (
	v4a = netip.MustParseAddrPort("127.0.0.1:5000")
	v4b = netip.MustParseAddrPort("127.0.0.1:5001")
	v6a = netip.MustParseAddrPort("[::1]:5000")
	v6b = netip.MustParseAddrPort("[2001:db8::7]:65535")
	// peerKey is a public key as a peer-info entry carries it.
	peerKey = identity.FromSeed([]byte("listed peer")).Public()
)

// ts is the Timestamp of "1764072000.123456".
const ts wire.Timestamp = 1764072000_123456

// sameMessage compares two messages, treating a nil and an empty Peers
// slice alike: both format to the same line.
func sameMessage(a, b wire.Message) bool {
	if len(a.Peers) == 0 && len(b.Peers) == 0 {
		a.Peers, b.Peers = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

// canonical lines: Parse gives the message and Format gives the line back,
// byte for byte.
var canonical = []struct {
	name string
	line string
	want wire.Message
}{
	{"register", "register:127.0.0.1:5000",
		wire.Message{Kind: wire.KindRegister, Addr: v4a}},
	{"register cap degree", "register:127.0.0.1:5000:7:3",
		wire.Message{Kind: wire.KindRegister, Addr: v4a, Cap: 7, Degree: 3}},
	{"register cap only", "register:127.0.0.1:5000:7:0",
		wire.Message{Kind: wire.KindRegister, Addr: v4a, Cap: 7}},
	{"register degree only", "register:127.0.0.1:5000:0:4",
		wire.Message{Kind: wire.KindRegister, Addr: v4a, Degree: 4}},
	{"register max numbers", "register:127.0.0.1:5000:2147483647:2147483647",
		wire.Message{Kind: wire.KindRegister, Addr: v4a, Cap: 1<<31 - 1, Degree: 1<<31 - 1}},
	{"register ipv6", "register:[::1]:5000:7:3",
		wire.Message{Kind: wire.KindRegister, Addr: v6a, Cap: 7, Degree: 3}},
	{"register ipv6 long", "register:[2001:db8::7]:65535",
		wire.Message{Kind: wire.KindRegister, Addr: v6b}},
	{"registered", "registered successfully",
		wire.Message{Kind: wire.KindRegistered}},
	{"peer list request", "peer list",
		wire.Message{Kind: wire.KindPeerListRequest}},
	{"peer list empty", "peer list:",
		wire.Message{Kind: wire.KindPeerList}},
	{"peer list", "peer list:127.0.0.1#5000:127.0.0.1#5001",
		wire.Message{Kind: wire.KindPeerList, Peers: []wire.PeerInfo{{Addr: v4a}, {Addr: v4b}}}},
	{"peer list ipv6", "peer list:[::1]#5000:127.0.0.1#5001:[2001:db8::7]#65535",
		wire.Message{Kind: wire.KindPeerList, Peers: []wire.PeerInfo{{Addr: v6a}, {Addr: v4b}, {Addr: v6b}}}},
	{"peer list one ipv6", "peer list:[::1]#5000",
		wire.Message{Kind: wire.KindPeerList, Peers: []wire.PeerInfo{{Addr: v6a}}}},
	{"peer info request", "peer info",
		wire.Message{Kind: wire.KindPeerInfoRequest}},
	{"peer info empty", "peer info:",
		wire.Message{Kind: wire.KindPeerInfo}},
	{"peer info", "peer info:127.0.0.1#5000#7#3:[::1]#5000#0#0",
		wire.Message{Kind: wire.KindPeerInfo, Peers: []wire.PeerInfo{{Addr: v4a, Cap: 7, Degree: 3}, {Addr: v6a}}}},
	{"peer keys request", "peer keys",
		wire.Message{Kind: wire.KindPeerKeysRequest}},
	{"peer info with keys", "peer info:127.0.0.1#5000#7#3#" + peerKey.String() + ":[::1]#5000#0#0:[2001:db8::7]#65535#1#1#" + peerKey.String(),
		wire.Message{Kind: wire.KindPeerInfo, Peers: []wire.PeerInfo{{Addr: v4a, Cap: 7, Degree: 3, Key: peerKey}, {Addr: v6a}, {Addr: v6b, Cap: 1, Degree: 1, Key: peerKey}}}},
	{"dead node", "Dead Node:127.0.0.1:5001:1764072000.123456:127.0.0.1:5000",
		wire.Message{Kind: wire.KindDeadNode, Addr: v4b, Time: ts, From: v4a}},
	{"dead node relayed ipv6", "Dead Node:[2001:db8::7]:65535:1764072000.123456:[::1]:5000:relayed",
		wire.Message{Kind: wire.KindDeadNode, Addr: v6b, Time: ts, From: v6a, Relayed: true}},
	{"ok", "ok",
		wire.Message{Kind: wire.KindOK}},
	{"ok removed", "ok:removed 127.0.0.1:5001",
		wire.Message{Kind: wire.KindOK, Text: "removed 127.0.0.1:5001"}},
	{"ok already removed ipv6", "ok:already removed [::1]:5000",
		wire.Message{Kind: wire.KindOK, Text: "already removed [::1]:5000"}},
	{"error", `error:unknown verb "garbage"`,
		wire.Message{Kind: wire.KindError, Text: `unknown verb "garbage"`}},
	{"error empty", "error:",
		wire.Message{Kind: wire.KindError}},
	{"connect", "Connection with Peer:127.0.0.1:5000",
		wire.Message{Kind: wire.KindConnect, Addr: v4a}},
	{"connect cap degree", "Connection with Peer:127.0.0.1:5000:7:2",
		wire.Message{Kind: wire.KindConnect, Addr: v4a, Cap: 7, Degree: 2}},
	{"connect ipv6 cap", "Connection with Peer:[::1]:5000:7:0",
		wire.Message{Kind: wire.KindConnect, Addr: v6a, Cap: 7}},
	{"connect isolated", "Connection with Peer:127.0.0.1:5000:0:0:isolated",
		wire.Message{Kind: wire.KindConnect, Addr: v4a, Isolated: true}},
	{"connect ipv6 isolated", "Connection with Peer:[::1]:5000:5:0:isolated",
		wire.Message{Kind: wire.KindConnect, Addr: v6a, Cap: 5, Isolated: true}},
	{"accepted", "Connection accepted:127.0.0.1:5001",
		wire.Message{Kind: wire.KindConnectAccepted, Addr: v4b}},
	{"accepted ipv6", "Connection accepted:[::1]:5000",
		wire.Message{Kind: wire.KindConnectAccepted, Addr: v6a}},
	{"accepted with capacity", "Connection accepted:127.0.0.1:5000:12:3",
		wire.Message{Kind: wire.KindConnectAccepted, Addr: v4a, Cap: 12, Degree: 3}},
	{"refused", "Connection refused:full",
		wire.Message{Kind: wire.KindConnectRefused, Text: "full"}},
	{"refused with colon", "Connection refused:address mismatch: 10.0.0.1 != 127.0.0.1",
		wire.Message{Kind: wire.KindConnectRefused, Text: "address mismatch: 10.0.0.1 != 127.0.0.1"}},
	{"liveness request", "Liveness Request:1764072000.123456:127.0.0.1:5000",
		wire.Message{Kind: wire.KindLivenessRequest, Time: ts, Addr: v4a}},
	{"liveness request ipv6", "Liveness Request:1764072000.123456:[::1]:5000",
		wire.Message{Kind: wire.KindLivenessRequest, Time: ts, Addr: v6a}},
	{"liveness reply", "Liveness Reply:1764072000.123456:127.0.0.1:5000:127.0.0.1:5001",
		wire.Message{Kind: wire.KindLivenessReply, Time: ts, Addr: v4a, From: v4b}},
	{"liveness reply ipv6", "Liveness Reply:1764072000.123456:[::1]:5000:[2001:db8::7]:65535",
		wire.Message{Kind: wire.KindLivenessReply, Time: ts, Addr: v6a, From: v6b}},
	{"gossip classic text", "gossip:127.0.0.1:5000:1:0:1764072000.123456:1764072000.123456:127.0.0.1:5000:1",
		wire.Message{Kind: wire.KindGossip, Addr: v4a, Seq: 1, Time: ts, Text: "1764072000.123456:127.0.0.1:5000:1"}},
	{"gossip ipv6 max numbers", "gossip:[::1]:5000:4294967295:65535:1764072000.123456:[::1]:5000 says: hi",
		wire.Message{Kind: wire.KindGossip, Addr: v6a, Seq: 1<<32 - 1, Hops: 1<<16 - 1, Time: ts, Text: "[::1]:5000 says: hi"}},
	{"gossip empty text", "gossip:127.0.0.1:5000:7:3:1764072000.500000:",
		wire.Message{Kind: wire.KindGossip, Addr: v4a, Seq: 7, Hops: 3, Time: 1764072000_500000}},
	{"gossip colons only", "gossip:127.0.0.1:5000:7:3:0.000001::::",
		wire.Message{Kind: wire.KindGossip, Addr: v4a, Seq: 7, Hops: 3, Time: 1, Text: ":::"}},
	{"gossip utf8", "gossip:127.0.0.1:5000:2:1:1764072000.123456:héllo wörld ✓ 世界",
		wire.Message{Kind: wire.KindGossip, Addr: v4a, Seq: 2, Hops: 1, Time: ts, Text: "héllo wörld ✓ 世界"}},
	{"gossip max text", "gossip:127.0.0.1:5000:2:1:1764072000.123456:" + strings.Repeat("x", wire.MaxTextLen),
		wire.Message{Kind: wire.KindGossip, Addr: v4a, Seq: 2, Hops: 1, Time: ts, Text: strings.Repeat("x", wire.MaxTextLen)}},
	{"ihave one", "ihave:127.0.0.1#5000#7",
		wire.Message{Kind: wire.KindIHave, IDs: []wire.MsgID{{Origin: v4a, Seq: 7}}}},
	{"ihave mixed", "ihave:127.0.0.1#5000#7:[::1]#5000#4294967295:127.0.0.1#5001#0",
		wire.Message{Kind: wire.KindIHave, IDs: []wire.MsgID{{Origin: v4a, Seq: 7}, {Origin: v6a, Seq: 1<<32 - 1}, {Origin: v4b, Seq: 0}}}},
	{"graft", "graft:[2001:db8::7]#65535#12",
		wire.Message{Kind: wire.KindGraft, IDs: []wire.MsgID{{Origin: v6b, Seq: 12}}}},
	{"prune", "prune", wire.Message{Kind: wire.KindPrune}},
	{"leaving", "Leaving:127.0.0.1:5000", wire.Message{Kind: wire.KindLeaving, Addr: v4a}},
	{"leaving relayed ipv6", "Leaving:[::1]:5000:relayed", wire.Message{Kind: wire.KindLeaving, Addr: v6a, Relayed: true}},
	{"graft bare", "graft", wire.Message{Kind: wire.KindGraft}},
	{"sgossip", "sgossip:127.0.0.1:5000:2:1:1764072000.123456:" + zkey + ":" + zsig + ":a:b",
		wire.Message{Kind: wire.KindGossip, Addr: v4a, Seq: 2, Hops: 1, Time: ts, Text: "a:b", Auth: &wire.Auth{}}},
	{"sgossip64", "sgossip64:127.0.0.1:5000:2:1:1764072000.123456:" + zkey + ":" + zsig + ":AAo6",
		wire.Message{Kind: wire.KindGossip, Addr: v4a, Seq: 2, Hops: 1, Time: ts, Text: "\x00\n:", Auth: &wire.Auth{}}},
	{"handshake with key", "Connection with Peer:127.0.0.1:5000:0:0:" + zkey + ":" + znonce,
		wire.Message{Kind: wire.KindConnect, Addr: v4a, Auth: &wire.Auth{}, Text: znonce}},
	{"handshake isolated with key", "Connection with Peer:127.0.0.1:5000:3:0:isolated:" + zkey + ":" + znonce,
		wire.Message{Kind: wire.KindConnect, Addr: v4a, Cap: 3, Isolated: true, Auth: &wire.Auth{}, Text: znonce}},
	{"accepted with key", "Connection accepted:[::1]:5000:4:2:" + zkey + ":" + znonce + ":" + zsig,
		wire.Message{Kind: wire.KindConnectAccepted, Addr: v6a, Cap: 4, Degree: 2, Auth: &wire.Auth{}, Text: znonce}},
	{"signed register", "register:127.0.0.1:5000:0:0:" + zkey + ":1764072000.123456:" + zsig,
		wire.Message{Kind: wire.KindRegister, Addr: v4a, Time: ts, Auth: &wire.Auth{}}},
	{"proof", "Connection proof:" + zsig, wire.Message{Kind: wire.KindConnectProof, Auth: &wire.Auth{}}},
	{"challenge", "challenge:" + znonce, wire.Message{Kind: wire.KindChallenge, Text: znonce}},
	{"challenge reply", "challenge reply:127.0.0.1:5000:" + zkey + ":" + zsig,
		wire.Message{Kind: wire.KindChallengeReply, Addr: v4a, Auth: &wire.Auth{}}},
}

// An all-zero key, signature and a nonce, in their wire forms.
var (
	zkey   = strings.Repeat("A", 43)
	zsig   = strings.Repeat("A", 86)
	znonce = "abcdefghijklmnop-_0123"
)

func TestParseCanonical(t *testing.T) {
	for _, tc := range canonical {
		t.Run(tc.name, func(t *testing.T) {
			m, err := wire.Parse(tc.line)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.line, err)
			}
			if !sameMessage(m, tc.want) {
				t.Fatalf("Parse(%q)\n got %+v\nwant %+v", tc.line, m, tc.want)
			}
			if got := wire.Format(m); got != tc.line {
				t.Errorf("Format(Parse(l))\n got %q\nwant %q", got, tc.line)
			}
			if got := wire.Format(tc.want); got != tc.line {
				t.Errorf("Format(want)\n got %q\nwant %q", got, tc.line)
			}
			// CRLF is tolerated and means the same.
			if m2, err := wire.Parse(tc.line + "\r"); err != nil || !sameMessage(m2, m) {
				t.Errorf("Parse(line+CR) = %+v, %v; want %+v", m2, err, m)
			}
		})
	}
}

// TestParseNormalises covers lines that parse but are not in canonical
// form: Format writes the canonical line, which parses to the same message.
func TestParseNormalises(t *testing.T) {
	tests := []struct {
		line, want string
	}{
		{"register:127.0.0.1:5000:7", "register:127.0.0.1:5000:7:0"},
		{"register:127.0.0.1:5000:0:0", "register:127.0.0.1:5000"},
		{"register:127.0.0.1:5000:0", "register:127.0.0.1:5000"},
		{"register:127.0.0.1:05000:007:0003", "register:127.0.0.1:5000:7:3"},
		{"register:[0:0:0:0:0:0:0:1]:5000", "register:[::1]:5000"},
		{"register:[2001:DB8:0::7]:5000", "register:[2001:db8::7]:5000"},
		{"register:[::ffff:127.0.0.1]:5000", "register:127.0.0.1:5000"},
		{"Connection with Peer:127.0.0.1:5000:9", "Connection with Peer:127.0.0.1:5000:9:0"},
		{"Dead Node:127.0.0.1:5001:1732530000.25:127.0.0.1:5000", "Dead Node:127.0.0.1:5001:1732530000.250000:127.0.0.1:5000"},
		{"Liveness Request:1764072000:127.0.0.1:5000", "Liveness Request:1764072000.000000:127.0.0.1:5000"},
		{"gossip:127.0.0.1:5000:01:00:1.12345678:x", "gossip:127.0.0.1:5000:1:0:1.123456:x"},
		{"ok:", "ok"},
		{"peer info:127.0.0.1#05000#007#00", "peer info:127.0.0.1#5000#7#0"},
		{"peer list\r", "peer list"},
	}
	for _, tc := range tests {
		m, err := wire.Parse(tc.line)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.line, err)
			continue
		}
		got := wire.Format(m)
		if got != tc.want {
			t.Errorf("Format(Parse(%q)) = %q, want %q", tc.line, got, tc.want)
		}
		m2, err := wire.Parse(got)
		if err != nil || !sameMessage(m, m2) {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", got, m2, err, m)
		}
	}
}

// TestParseErrors checks every error class: the sentinel (errors.Is) and
// the exact text, which a seed sends back after "error:".
func TestParseErrors(t *testing.T) {
	long := strings.Repeat("x", wire.MaxLineLen+1)
	tooManyPeers := "peer list:" + strings.Repeat("127.0.0.1#5000:", wire.MaxPeersPerReply) + "127.0.0.1#5000"
	tests := []struct {
		name, line string
		err        error
		msg        string // the exact error text; "" to skip
	}{
		// Framing.
		{"empty", "", wire.ErrEmpty, "empty line"},
		{"lone CR", "\r", wire.ErrEmpty, "empty line"},
		{"too long", long, wire.ErrTooLong, "line too long (16385 bytes, limit 16384)"},
		{"tab", "peer\tlist", wire.ErrControl, "control byte in line (0x09 at byte 4)"},
		{"newline inside", "peer list\nregister", wire.ErrControl, "control byte in line (0x0a at byte 9)"},
		{"NUL in text", "gossip:127.0.0.1:5000:1:0:1.5:a\x00b", wire.ErrControl, "control byte in line (0x00 at byte 31)"},
		{"DEL", "ok:\x7f", wire.ErrControl, "control byte in line (0x7f at byte 3)"},
		{"two CRs", "peer list\r\r", wire.ErrControl, "control byte in line (0x0d at byte 9)"},
		{"invalid UTF-8", "gossip:127.0.0.1:5000:1:0:1.5:\xff\xfe", wire.ErrEncoding, "line is not valid UTF-8"},
		{"overlong UTF-8", "ok:\xc0\xaf", wire.ErrEncoding, "line is not valid UTF-8"},
		{"surrogate", "ok:\xed\xa0\x80", wire.ErrEncoding, "line is not valid UTF-8"},

		// Verbs.
		{"unknown verb", "garbage", wire.ErrUnknownVerb, `unknown verb "garbage"`},
		{"verb is case sensitive", "REGISTER:127.0.0.1:5000", wire.ErrUnknownVerb, `unknown verb "REGISTER"`},
		{"verb with space", " register:127.0.0.1:5000", wire.ErrUnknownVerb, `unknown verb " register"`},
		{"long verb truncated", strings.Repeat("v", 100), wire.ErrUnknownVerb, `unknown verb "` + strings.Repeat("v", 40) + `..."`},
		{"peer list typo", "peerlist", wire.ErrUnknownVerb, `unknown verb "peerlist"`},

		// Missing fields.
		{"ihave bare", "ihave", wire.ErrFields, "wrong number of fields: ihave: wants at least one IP#PORT#SEQ"},
		{"graft empty", "graft:", wire.ErrFields, "wrong number of fields: graft: wants at least one IP#PORT#SEQ"},
		{"prune with field", "prune:x", wire.ErrFields, "wrong number of fields: prune: takes no fields"},
		{"ihave no seq", "ihave:127.0.0.1#5000", wire.ErrAddr, `bad address: ihave: message ID "127.0.0.1#5000": want IP#PORT#SEQ`},
		{"ihave bad seq", "ihave:127.0.0.1#5000#x", wire.ErrAddr, `bad address: ihave: message ID "127.0.0.1#5000#x": sequence number "x" is not a number in 0..4294967295`},
		{"ihave bad ip", "ihave:[::1::2]#5000#1", wire.ErrAddr, `bad address: ihave: message ID "[::1::2]#5000#1": "[::1::2]" is not an IP address`},
		{"graft empty entry", "graft:127.0.0.1#5000#1:", wire.ErrAddr, `bad address: graft: message ID "": want IP#PORT#SEQ`},
		{"ihave too many", "ihave:" + strings.Repeat("127.0.0.1#5000#1:", wire.MaxIDsPerLine) + "127.0.0.1#5000#1", wire.ErrTooMany, "too many peers in list: ihave: over 256 message IDs"},
		{"register bare", "register", wire.ErrFields, "wrong number of fields: register: missing IP:PORT"},
		{"register no port", "register:127.0.0.1", wire.ErrFields, `wrong number of fields: register: missing port after "127.0.0.1"`},
		{"registered with field", "registered successfully:x", wire.ErrFields, "wrong number of fields: registered successfully: takes no fields"},
		{"dead node no ts", "Dead Node:127.0.0.1:5001", wire.ErrFields, "wrong number of fields: Dead Node: missing timestamp"},
		{"dead node no reporter", "Dead Node:127.0.0.1:5001:1.5", wire.ErrFields, "wrong number of fields: Dead Node: missing IP:PORT"},
		{"dead node no reporter port", "Dead Node:127.0.0.1:5001:1.5:127.0.0.1", wire.ErrFields, `wrong number of fields: Dead Node: missing port after "127.0.0.1"`},
		{"refused no text", "Connection refused", wire.ErrFields, "wrong number of fields: Connection refused: missing text"},
		{"error no text", "error", wire.ErrFields, "wrong number of fields: error: missing text"},
		{"accepted bare", "Connection accepted", wire.ErrFields, "wrong number of fields: Connection accepted: missing IP:PORT"},
		{"connect bare", "Connection with Peer", wire.ErrFields, "wrong number of fields: Connection with Peer: missing IP:PORT"},
		{"liveness request bare", "Liveness Request", wire.ErrFields, "wrong number of fields: Liveness Request wants TS:IP:PORT"},
		{"liveness request no port", "Liveness Request:1.5:127.0.0.1", wire.ErrFields, `wrong number of fields: Liveness Request: missing port after "127.0.0.1"`},
		{"liveness request no addr", "Liveness Request:1.5", wire.ErrFields, "wrong number of fields: Liveness Request: missing IP:PORT"},
		{"liveness reply bare", "Liveness Reply", wire.ErrFields, "wrong number of fields: Liveness Reply wants TS:IP:PORT:IP:PORT"},
		{"liveness reply no replier", "Liveness Reply:1.5:127.0.0.1:5000", wire.ErrFields, "wrong number of fields: Liveness Reply: missing IP:PORT"},
		{"gossip bare", "gossip", wire.ErrFields, "wrong number of fields: gossip: missing IP:PORT"},
		{"gossip no seq", "gossip:127.0.0.1:5000", wire.ErrFields, "wrong number of fields: gossip: missing sequence number"},
		{"gossip no hops", "gossip:127.0.0.1:5000:1", wire.ErrFields, "wrong number of fields: gossip: missing hop count"},
		{"gossip no ts", "gossip:127.0.0.1:5000:1:0", wire.ErrFields, "wrong number of fields: gossip: missing timestamp"},
		{"gossip no text", "gossip:127.0.0.1:5000:1:0:1.5", wire.ErrFields, "wrong number of fields: gossip: missing text"},

		// Trailing garbage.
		{"register trailing", "register:127.0.0.1:5000:7:3:9", wire.ErrFields, `wrong number of fields: register: unexpected trailing field "9"`},
		{"register trailing colon", "register:127.0.0.1:5000:7:3:", wire.ErrFields, `wrong number of fields: register: unexpected trailing field ""`},
		{"connect trailing", "Connection with Peer:127.0.0.1:5000:7:3:x", wire.ErrFields, `wrong number of fields: Connection with Peer: unexpected trailing field "x" (only "isolated" is allowed)`},
		{"connect isolated twice", "Connection with Peer:127.0.0.1:5000:0:0:isolated:isolated", wire.ErrFields, ""},
		{"connect isolated without degree", "Connection with Peer:127.0.0.1:5000:0:isolated", wire.ErrNumber,
			`bad number: Connection with Peer: degree "isolated" is not a number in 0..2147483647`},
		{"accepted trailing", "Connection accepted:127.0.0.1:5001:3:1:x", wire.ErrFields, `wrong number of fields: Connection accepted: unexpected trailing field "x"`},
		{"accepted bad capacity", "Connection accepted:127.0.0.1:5001:x", wire.ErrNumber, `bad number: Connection accepted: capacity "x" is not a number in 0..2147483647`},
		{"dead node trailing", "Dead Node:127.0.0.1:5001:1.5:127.0.0.1:5000:bogus", wire.ErrFields, `wrong number of fields: Dead Node: unexpected trailing field "bogus" (only "relayed" is allowed)`},
		{"dead node relayed twice", "Dead Node:127.0.0.1:5001:1.5:127.0.0.1:5000:relayed:relayed", wire.ErrFields, ""},
		{"dead node trailing colon", "Dead Node:127.0.0.1:5001:1.5:127.0.0.1:5000:", wire.ErrFields, ""},
		{"dead node long trailing", "Dead Node:127.0.0.1:5001:1.5:127.0.0.1:5000:" + strings.Repeat("y", 2000), wire.ErrFields,
			`wrong number of fields: Dead Node: unexpected trailing field "` + strings.Repeat("y", 64) + `..." (only "relayed" is allowed)`},
		{"leaving trailing", "Leaving:127.0.0.1:5000:bye", wire.ErrFields, `wrong number of fields: Leaving: unexpected trailing field "bye" (only "relayed" is allowed)`},
		{"leaving relayed twice", "Leaving:127.0.0.1:5000:relayed:relayed", wire.ErrFields, ""},
		{"leaving no address", "Leaving", wire.ErrFields, "wrong number of fields: Leaving: missing IP:PORT"},
		{"leaving no port", "Leaving:127.0.0.1", wire.ErrFields, `wrong number of fields: Leaving: missing port after "127.0.0.1"`},
		{"liveness request trailing", "Liveness Request:1.5:127.0.0.1:5000:x", wire.ErrFields, `wrong number of fields: Liveness Request: unexpected trailing field "x"`},
		{"liveness reply trailing", "Liveness Reply:1.5:127.0.0.1:5000:127.0.0.1:5001:x", wire.ErrFields, `wrong number of fields: Liveness Reply: unexpected trailing field "x"`},
		{"peer list trailing colon", "peer list:127.0.0.1#5000:", wire.ErrAddr, `bad address: peer list: entry "": want IP#PORT`},

		// Bad IPs.
		{"hostname", "register:localhost:5000", wire.ErrAddr, `bad address: register: "localhost" is not an IP address`},
		{"octet over 255", "register:256.0.0.1:5000", wire.ErrAddr, `bad address: register: "256.0.0.1" is not an IP address`},
		{"leading zero octet", "register:127.0.0.01:5000", wire.ErrAddr, `bad address: register: "127.0.0.01" is not an IP address`},
		{"ipv6 without brackets", "register:::1:5000", wire.ErrAddr, `bad address: register: "" is not an IP address (write IPv6 in brackets, as [::1])`},
		{"ipv6 without brackets long", "register:2001:db8::1:5000", wire.ErrAddr, `bad address: register: "2001" is not an IP address (write IPv6 in brackets, as [::1])`},
		{"ipv6 missing close bracket", "register:[::1:5000", wire.ErrAddr, `bad address: register: IPv6 address "[" lacks its closing bracket`},
		{"ipv4 in brackets", "register:[127.0.0.1]:5000", wire.ErrAddr, `bad address: register: "[127.0.0.1]": only IPv6 goes in brackets`},
		{"unspecified v4", "register:0.0.0.0:5000", wire.ErrAddr, `bad address: register: "0.0.0.0" is the unspecified address`},
		{"unspecified v6", "register:[::]:5000", wire.ErrAddr, `bad address: register: "[::]" is the unspecified address`},
		{"unspecified mapped", "register:[::ffff:0.0.0.0]:5000", wire.ErrAddr, `bad address: register: "[::ffff:0.0.0.0]" is the unspecified address`},
		{"multicast v4", "register:224.0.0.1:5000", wire.ErrAddr, `bad address: register: "224.0.0.1" is a multicast address`},
		{"multicast v6", "register:[ff02::1]:5000", wire.ErrAddr, `bad address: register: "[ff02::1]" is a multicast address`},
		{"multicast mapped", "register:[::ffff:239.1.1.1]:5000", wire.ErrAddr, `bad address: register: "[::ffff:239.1.1.1]" is a multicast address`},
		{"zoned", "register:[fe80::1%eth0]:5000", wire.ErrAddr, `bad address: register: "[fe80::1%eth0]": zoned addresses are not allowed`},
		{"dead node bad reporter", "Dead Node:127.0.0.1:5001:1.5:nobody:5000", wire.ErrAddr, `bad address: Dead Node: "nobody" is not an IP address`},
		{"gossip bad origin", "gossip:[::1::2]:5000:1:0:1.5:x", wire.ErrAddr, `bad address: gossip: "[::1::2]" is not an IP address`},
		{"peer list v4 without #", "peer list:127.0.0.1:5000", wire.ErrAddr, `bad address: peer list: entry "127.0.0.1": want IP#PORT`},
		{"peer list bad ip", "peer list:127.0.0.1#5000:localhost#5001", wire.ErrAddr, `bad address: peer list: entry "localhost#5001": "localhost" is not an IP address`},
		{"peer list multicast", "peer list:[ff02::1]#5000", wire.ErrAddr, `bad address: peer list: entry "[ff02::1]#5000": "[ff02::1]" is a multicast address`},
		{"peer list ipv6 unbracketed", "peer list:::1#5000", wire.ErrAddr, `bad address: peer list: entry "": want IP#PORT`},
		{"peer list port 0", "peer list:127.0.0.1#0", wire.ErrAddr, `bad address: peer list: entry "127.0.0.1#0": port "0" is not in 1-65535`},
		{"peer list extra #", "peer list:127.0.0.1#5000#7#3", wire.ErrAddr, `bad address: peer list: entry "127.0.0.1#5000#7#3": want IP#PORT`},
		{"peer info short entry", "peer info:127.0.0.1#5000", wire.ErrAddr, `bad address: peer info: entry "127.0.0.1#5000": want IP#PORT#CAP#DEGREE or IP#PORT#CAP#DEGREE#KEY`},
		{"peer info bad key", "peer info:127.0.0.1#5000#1#1#notakey", wire.ErrAddr, `bad address: peer info: entry "127.0.0.1#5000#1#1#notakey": key: identity: bad key or signature encoding: public key of 7 characters, want 43`},
		{"peer info six fields", "peer info:127.0.0.1#5000#1#1#" + peerKey.String() + "#x", wire.ErrAddr, `bad address: peer info: entry "127.0.0.1#5000#1#1#` + peerKey.String() + `#x": want IP#PORT#CAP#DEGREE or IP#PORT#CAP#DEGREE#KEY`},
		{"peer keys with fields", "peer keys:x", wire.ErrFields, ""},
		{"peer info empty key", "peer info:127.0.0.1#5000#1#1#", wire.ErrAddr, `bad address: peer info: entry "127.0.0.1#5000#1#1#": key: identity: bad key or signature encoding: public key of 0 characters, want 43`},
		{"peer info bad cap", "peer info:127.0.0.1#5000#x#1", wire.ErrAddr, `bad address: peer info: entry "127.0.0.1#5000#x#1": capacity "x" is not a number`},
		{"peer info bad degree", "peer info:127.0.0.1#5000#1#-1", wire.ErrAddr, `bad address: peer info: entry "127.0.0.1#5000#1#-1": degree "-1" is not a number`},
		{"peer info cap too big", "peer info:127.0.0.1#5000#2147483648#1", wire.ErrAddr, `bad address: peer info: entry "127.0.0.1#5000#2147483648#1": capacity "2147483648" is not a number`},

		// Bad ports.
		{"port 0", "register:127.0.0.1:0", wire.ErrPort, `bad port: register: port "0" is not in 1-65535`},
		{"port 65536", "register:127.0.0.1:65536", wire.ErrPort, `bad port: register: port "65536" is not in 1-65535`},
		{"port name", "register:127.0.0.1:http", wire.ErrPort, `bad port: register: port "http" is not in 1-65535`},
		{"port empty", "register:127.0.0.1:", wire.ErrPort, `bad port: register: port "" is not in 1-65535`},
		{"port negative", "register:127.0.0.1:-1", wire.ErrPort, `bad port: register: port "-1" is not in 1-65535`},
		{"port plus", "register:127.0.0.1:+80", wire.ErrPort, `bad port: register: port "+80" is not in 1-65535`},
		{"port space", "register:127.0.0.1: 80", wire.ErrPort, `bad port: register: port " 80" is not in 1-65535`},
		{"port huge", "register:127.0.0.1:99999999999", wire.ErrPort, `bad port: register: port "99999999999" is not in 1-65535`},
		{"liveness reply bad port", "Liveness Reply:1.5:127.0.0.1:5000:127.0.0.1:0", wire.ErrPort, `bad port: Liveness Reply: port "0" is not in 1-65535`},

		// Bad numbers.
		{"cap not a number", "register:127.0.0.1:5000:x", wire.ErrNumber, `bad number: register: capacity "x" is not a number in 0..2147483647`},
		{"cap negative", "register:127.0.0.1:5000:-1:3", wire.ErrNumber, `bad number: register: capacity "-1" is not a number in 0..2147483647`},
		{"cap too big", "register:127.0.0.1:5000:2147483648:3", wire.ErrNumber, `bad number: register: capacity "2147483648" is not a number in 0..2147483647`},
		{"degree not a number", "Connection with Peer:127.0.0.1:5000:7:many", wire.ErrNumber, `bad number: Connection with Peer: degree "many" is not a number in 0..2147483647`},
		{"seq not a number", "gossip:127.0.0.1:5000:x:0:1.5:hi", wire.ErrNumber, `bad number: gossip: sequence number "x" is not a number in 0..4294967295`},
		{"seq too big", "gossip:127.0.0.1:5000:4294967296:0:1.5:hi", wire.ErrNumber, `bad number: gossip: sequence number "4294967296" is not a number in 0..4294967295`},
		{"seq 11 digits", "gossip:127.0.0.1:5000:00000000001:0:1.5:hi", wire.ErrNumber, `bad number: gossip: sequence number "00000000001" is not a number in 0..4294967295`},
		{"hops too big", "gossip:127.0.0.1:5000:1:65536:1.5:hi", wire.ErrNumber, `bad number: gossip: hop count "65536" is not a number in 0..65535`},
		{"hops negative", "gossip:127.0.0.1:5000:1:-1:1.5:hi", wire.ErrNumber, `bad number: gossip: hop count "-1" is not a number in 0..65535`},

		// Bad timestamps.
		{"ts word", "Dead Node:127.0.0.1:5001:yesterday:127.0.0.1:5000", wire.ErrTimestamp, `bad timestamp: Dead Node: timestamp "yesterday" is not SECONDS.FRACTION`},
		{"ts sign only", "Liveness Request:-:127.0.0.1:5000", wire.ErrTimestamp, `bad timestamp: Liveness Request: timestamp "-" is not SECONDS.FRACTION`},
		{"ts trailing dot", "Liveness Reply:1.:127.0.0.1:5000:127.0.0.1:5001", wire.ErrTimestamp, `bad timestamp: Liveness Reply: timestamp "1." is not SECONDS.FRACTION`},
		{"ts exponent", "gossip:127.0.0.1:5000:1:0:1e9:hi", wire.ErrTimestamp, `bad timestamp: gossip: timestamp "1e9" is not SECONDS.FRACTION`},
		{"ts empty", "gossip:127.0.0.1:5000:1:0::hi", wire.ErrTimestamp, `bad timestamp: gossip: timestamp "" is not SECONDS.FRACTION`},
		{"ts too many seconds digits", "gossip:127.0.0.1:5000:1:0:1234567890123:hi", wire.ErrTimestamp, `bad timestamp: gossip: timestamp "1234567890123" is not SECONDS.FRACTION`},

		// Limits.
		{"too many peers", tooManyPeers, wire.ErrTooMany, "too many peers in list: peer list: over 256 entries"},
		{"too many peer info", "peer info:" + strings.Repeat("127.0.0.1#5000#1#1:", wire.MaxPeersPerReply) + "127.0.0.1#5000#1#1",
			wire.ErrTooMany, "too many peers in list: peer info: over 256 entries"},
		{"many empty entries", "peer list:" + strings.Repeat(":", 3000), wire.ErrTooMany, "too many peers in list: peer list: over 256 entries"},
		{"gossip text too long", "gossip:127.0.0.1:5000:1:0:1.5:" + strings.Repeat("x", wire.MaxTextLen+1), wire.ErrTooLong,
			"line too long: gossip: text of 1025 bytes over the 1024 limit"},
		{"error text too long", "error:" + strings.Repeat("x", wire.MaxTextLen+1), wire.ErrTooLong,
			"line too long: error: text of 1025 bytes over the 1024 limit"},
	}
	sentinels := []error{wire.ErrEmpty, wire.ErrTooLong, wire.ErrControl, wire.ErrEncoding, wire.ErrUnknownVerb,
		wire.ErrFields, wire.ErrAddr, wire.ErrPort, wire.ErrNumber, wire.ErrTimestamp, wire.ErrTooMany, wire.ErrPayload}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := wire.Parse(tc.line)
			if err == nil {
				t.Fatalf("Parse(%.80q) = %+v, want error", tc.line, m)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("Parse(%.80q) = %v, want errors.Is %v", tc.line, err, tc.err)
			}
			for _, s := range sentinels {
				if s != tc.err && errors.Is(err, s) {
					t.Errorf("Parse(%.80q) = %v, also matches %v", tc.line, err, s)
				}
			}
			if tc.msg != "" && err.Error() != tc.msg {
				t.Errorf("Parse(%.80q) error\n got %s\nwant %s", tc.line, err, tc.msg)
			}
			if !reflect.DeepEqual(m, wire.Message{}) {
				t.Errorf("Parse returned %+v with its error, want the zero Message", m)
			}
			checkErrorReply(t, err)
		})
	}
}

// checkErrorReply checks that err's text can be sent back as an error
// reply: "error:" + text is one valid line that parses to the same text.
func checkErrorReply(t testing.TB, err error) {
	t.Helper()
	reply := wire.Message{Kind: wire.KindError, Text: err.Error()}
	line := wire.Format(reply)
	back, perr := wire.Parse(line)
	if perr != nil || !sameMessage(back, reply) {
		t.Fatalf("error reply %.200q does not parse back: %+v, %v", line, back, perr)
	}
}

func TestParseLimitsAtTheEdge(t *testing.T) {
	// A valid line of exactly MaxLineLen bytes parses, with or without
	// its CR; one byte more is refused. Leading zeros pad it to size.
	full := "[2001:0db8:0000:0000:0000:0000:0000:0001]#0000005000#0000000001#0000000001"
	last := "[2001:db8::1]#%0*d#1#1" // its port padded to fill the line
	var b strings.Builder
	b.WriteString("peer info:")
	n := 0
	for wire.MaxLineLen-b.Len()-len(full)-1 > len(last) {
		b.WriteString(full + ":")
		n++
	}
	fmt.Fprintf(&b, last, wire.MaxLineLen-b.Len()-len("[2001:db8::1]##1#1"), 5000)
	n++
	exact := b.String()
	if len(exact) != wire.MaxLineLen {
		t.Fatalf("test line is %d bytes, want %d", len(exact), wire.MaxLineLen)
	}
	for _, line := range []string{exact, exact + "\r"} {
		m, err := wire.Parse(line)
		if err != nil || len(m.Peers) != n {
			t.Fatalf("Parse(line of MaxLineLen) = %d peers, %v; want %d", len(m.Peers), err, n)
		}
	}
	over := strings.Replace(exact, "#0000005000#", "#00000005000#", 1)
	if _, err := wire.Parse(over); !errors.Is(err, wire.ErrTooLong) || err.Error() != "line too long (16385 bytes, limit 16384)" {
		t.Errorf("Parse(line of MaxLineLen+1) = %v, want line too long", err)
	}

	// Exactly MaxPeersPerReply entries parse.
	line := "peer list:" + strings.Repeat("127.0.0.1#5000:", wire.MaxPeersPerReply-1) + "127.0.0.1#5000"
	m, err := wire.Parse(line)
	if err != nil || len(m.Peers) != wire.MaxPeersPerReply {
		t.Fatalf("Parse(%d entries) = %d peers, %v", wire.MaxPeersPerReply, len(m.Peers), err)
	}
}

// TestFullRepliesFit checks the promise behind MaxLineLen: a peer-list
// reply of MaxPeersPerReply of the longest IPv6 addresses fits one line,
// and so does a peer-info reply with realistic capacities.
func TestFullRepliesFit(t *testing.T) {
	longest := netip.MustParseAddr("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") // ff00::/8 is multicast
	for _, tc := range []struct {
		kind        wire.Kind
		cap, degree int
	}{
		{wire.KindPeerList, 0, 0},
		{wire.KindPeerInfo, 9999, 9999},
	} {
		m := wire.Message{Kind: tc.kind}
		for i := range wire.MaxPeersPerReply {
			m.Peers = append(m.Peers, wire.PeerInfo{Addr: netip.AddrPortFrom(longest, uint16(65535-i)), Cap: tc.cap, Degree: tc.degree})
		}
		line := wire.Format(m)
		if len(line) > wire.MaxLineLen {
			t.Errorf("%v: full reply is %d bytes, over MaxLineLen %d", tc.kind, len(line), wire.MaxLineLen)
		}
		back, err := wire.Parse(line)
		if err != nil || !sameMessage(back, m) {
			t.Errorf("%v: full reply does not round-trip: %v", tc.kind, err)
		}
	}
}

// TestRegisteredInfoEchoes checks that whatever CAP and DEGREE a seed
// accepts in a register line it can echo in a peer-info reply.
func TestRegisteredInfoEchoes(t *testing.T) {
	for _, line := range []string{
		"register:127.0.0.1:5000:2147483647:2147483647",
		"Connection with Peer:127.0.0.1:5000:2147483647:0",
	} {
		reg, err := wire.Parse(line)
		if err != nil {
			t.Fatalf("Parse(%q): %v", line, err)
		}
		info := wire.Message{Kind: wire.KindPeerInfo, Peers: []wire.PeerInfo{{Addr: reg.Addr, Cap: reg.Cap, Degree: reg.Degree}}}
		if back, err := wire.Parse(wire.Format(info)); err != nil || !sameMessage(back, info) {
			t.Errorf("peer info echoing %q: %+v, %v", line, back, err)
		}
	}
}

func TestParseIP(t *testing.T) {
	good := []struct{ in, want string }{
		{"127.0.0.1", "127.0.0.1"},
		{"10.1.2.3", "10.1.2.3"},
		{"255.255.255.255", "255.255.255.255"}, // broadcast: not multicast, allowed
		{"[::1]", "::1"},
		{"[2001:db8::1]", "2001:db8::1"},
		{"[fe80::1]", "fe80::1"},
		{"[::ffff:10.0.0.1]", "10.0.0.1"}, // IPv4-mapped: the IPv4 address
		{"[::1.2.3.4]", "::102:304"},
	}
	for _, tc := range good {
		ip, err := wire.ParseIP(tc.in)
		if err != nil || ip != netip.MustParseAddr(tc.want) {
			t.Errorf("ParseIP(%q) = %v, %v; want %s", tc.in, ip, err, tc.want)
		}
		if back, err := wire.ParseIP(wire.FormatIP(ip)); err != nil || back != ip {
			t.Errorf("ParseIP(FormatIP(%v)) = %v, %v", ip, back, err)
		}
	}
	bad := []struct{ in, msg string }{
		{"", `"" is not an IP address`},
		{"::1", `IPv6 address "::1" must be written in brackets`},
		{"2001:db8::1", `IPv6 address "2001:db8::1" must be written in brackets`},
		{"[::1", `IPv6 address "[::1" lacks its closing bracket`},
		{"::1]", `"::1]" is not an IP address`},
		{"[[::1]]", `"[[::1]]" is not an IP address`},
		{"[1.2.3.4]", `"[1.2.3.4]": only IPv6 goes in brackets`},
		{"0.0.0.0", `"0.0.0.0" is the unspecified address`},
		{"[::]", `"[::]" is the unspecified address`},
		{"239.255.255.250", `"239.255.255.250" is a multicast address`},
		{"[ff05::2]", `"[ff05::2]" is a multicast address`},
		{"[fe80::1%lo]", `"[fe80::1%lo]": zoned addresses are not allowed`},
		{"1.2.3", `"1.2.3" is not an IP address`},
		{"1.2.3.4 ", `"1.2.3.4 " is not an IP address`},
		{"example.com", `"example.com" is not an IP address`},
		{strings.Repeat("9", 100), `"` + strings.Repeat("9", 64) + `..." is not an IP address`},
	}
	for _, tc := range bad {
		ip, err := wire.ParseIP(tc.in)
		if err == nil {
			t.Errorf("ParseIP(%q) = %v, want error", tc.in, ip)
			continue
		}
		if err.Error() != tc.msg {
			t.Errorf("ParseIP(%q) error\n got %s\nwant %s", tc.in, err, tc.msg)
		}
	}
}

func TestParsePort(t *testing.T) {
	for in, want := range map[string]uint16{"1": 1, "80": 80, "65535": 65535, "08080": 8080, "0000000001": 1} {
		if got, err := wire.ParsePort(in); err != nil || got != want {
			t.Errorf("ParsePort(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "65536", "-1", "+1", "1.0", "0x50", " 80", "80 ", "http", "99999999999", "٣"} {
		if got, err := wire.ParsePort(in); err == nil {
			t.Errorf("ParsePort(%q) = %d, want error", in, got)
		} else if want := "port " + strconv.Quote(in) + " is not in 1-65535"; err.Error() != want {
			t.Errorf("ParsePort(%q) error %q, want %q", in, err, want)
		}
	}
}

func TestParseAddrPort(t *testing.T) {
	good := map[string]string{
		"127.0.0.1:8080":        "127.0.0.1:8080",
		"[::1]:8080":            "[::1]:8080",
		"[2001:db8::1]:1":       "[2001:db8::1]:1",
		"[::ffff:10.0.0.1]:443": "10.0.0.1:443",
	}
	for in, want := range good {
		a, err := wire.ParseAddrPort(in)
		if err != nil || a != netip.MustParseAddrPort(want) {
			t.Errorf("ParseAddrPort(%q) = %v, %v; want %s", in, a, err, want)
		}
		if back, err := wire.ParseAddrPort(wire.FormatAddr(a)); err != nil || back != a {
			t.Errorf("ParseAddrPort(FormatAddr(%v)) = %v, %v", a, back, err)
		}
	}
	bad := []struct {
		in  string
		err error
		msg string
	}{
		{"127.0.0.1", wire.ErrAddr, `bad address: "127.0.0.1" is not IP:PORT`},
		{"::1:8080", wire.ErrAddr, `bad address: IPv6 address "::1" must be written in brackets`},
		{"[::1]", wire.ErrAddr, `bad address: IPv6 address "[:" lacks its closing bracket`},
		{"localhost:8080", wire.ErrAddr, `bad address: "localhost" is not an IP address`},
		{"0.0.0.0:8080", wire.ErrAddr, `bad address: "0.0.0.0" is the unspecified address`},
		{"127.0.0.1:0", wire.ErrPort, `bad port: port "0" is not in 1-65535`},
		{"127.0.0.1:65536", wire.ErrPort, `bad port: port "65536" is not in 1-65535`},
		{"127.0.0.1:", wire.ErrPort, `bad port: port "" is not in 1-65535`},
		{"[::1]:x", wire.ErrPort, `bad port: port "x" is not in 1-65535`},
	}
	for _, tc := range bad {
		a, err := wire.ParseAddrPort(tc.in)
		if err == nil {
			t.Errorf("ParseAddrPort(%q) = %v, want error", tc.in, a)
			continue
		}
		if !errors.Is(err, tc.err) || err.Error() != tc.msg {
			t.Errorf("ParseAddrPort(%q) error\n got %s\nwant %s (errors.Is %v)", tc.in, err, tc.msg, tc.err)
		}
	}
}

func TestFormatIP(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1":        "127.0.0.1",
		"::1":              "[::1]",
		"2001:db8::1":      "[2001:db8::1]",
		"::ffff:127.0.0.1": "127.0.0.1",
	} {
		if got := wire.FormatIP(netip.MustParseAddr(in)); got != want {
			t.Errorf("FormatIP(%s) = %q, want %q", in, got, want)
		}
	}
	if got := wire.FormatAddr(v6a); got != "[::1]:5000" {
		t.Errorf("FormatAddr(%v) = %q", v6a, got)
	}
}

func TestAppend(t *testing.T) {
	m := wire.Message{Kind: wire.KindRegister, Addr: v4a}
	b := []byte("prefix|")
	b = m.Append(b)
	if got, want := string(b), "prefix|register:127.0.0.1:5000"; got != want {
		t.Errorf("Append = %q, want %q", got, want)
	}
	// Reusing a buffer: no allocation once it is big enough.
	g := wire.Message{Kind: wire.KindGossip, Addr: v6a, Seq: 9, Hops: 2, Time: ts, Text: "1764072000.123456:[::1]:5000:9"}
	buf := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() { buf = g.Append(buf[:0]) })
	if allocs != 0 {
		t.Errorf("Append into a large enough buffer: %v allocs, want 0", allocs)
	}
}

func TestFormatInvalid(t *testing.T) {
	for _, k := range []wire.Kind{wire.KindInvalid, 200} {
		if got := wire.Format(wire.Message{Kind: k}); got != "error:invalid message" {
			t.Errorf("Format(kind %v) = %q", k, got)
		}
	}
	// A hand-built message without an address formats to a line that
	// Parse refuses rather than to a wrong but valid one.
	if _, err := wire.Parse(wire.Format(wire.Message{Kind: wire.KindRegister})); err == nil {
		t.Error("register without an address formatted to a valid line")
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[wire.Kind]string{
		wire.KindInvalid:         "invalid",
		wire.KindRegister:        "register",
		wire.KindPeerListRequest: "peer list request",
		wire.KindPeerList:        "peer list",
		wire.KindPeerInfoRequest: "peer info request",
		wire.KindPeerKeysRequest: "peer keys request",
		wire.KindDeadNode:        "Dead Node",
		wire.KindConnect:         "Connection with Peer",
		wire.KindGossip:          "gossip",
		wire.KindLeaving:         "Leaving",
		wire.Kind(99):            "kind(99)",
	} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
}

// TestEveryKindCovered makes sure the canonical table exercises every kind,
// so a new verb cannot be added without a round-trip case.
func TestEveryKindCovered(t *testing.T) {
	seen := map[wire.Kind]bool{}
	for _, tc := range canonical {
		seen[tc.want.Kind] = true
	}
	for k := wire.KindInvalid + 1; ; k++ {
		if strings.HasPrefix(k.String(), "kind(") {
			break
		}
		if !seen[k] {
			t.Errorf("no canonical line for %v", k)
		}
	}
}

// TestFullIHaveFits checks that an ihave line of MaxIDsPerLine of the
// longest IDs fits MaxLineLen.
func TestFullIHaveFits(t *testing.T) {
	longest := netip.MustParseAddr("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
	m := wire.Message{Kind: wire.KindIHave}
	for i := range wire.MaxIDsPerLine {
		m.IDs = append(m.IDs, wire.MsgID{Origin: netip.AddrPortFrom(longest, uint16(65535-i)), Seq: 1<<32 - 1 - uint32(i)})
	}
	line := wire.Format(m)
	if len(line) > wire.MaxLineLen {
		t.Fatalf("full ihave is %d bytes, over MaxLineLen %d", len(line), wire.MaxLineLen)
	}
	back, err := wire.Parse(line)
	if err != nil || !sameMessage(back, m) {
		t.Fatalf("full ihave does not round-trip: %v", err)
	}
}
