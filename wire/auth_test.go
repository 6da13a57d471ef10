package wire

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/whispernet/whispernet/identity"
)

func TestSignedGossipLines(t *testing.T) {
	k := identity.FromSeed([]byte("origin"))
	for _, text := range []string{"hello", "a:b:c", "", "line\nbreak\x00", strings.Repeat("x", 2000)} {
		m := Message{Kind: KindGossip, Addr: netip.MustParseAddrPort("[::1]:5000"), Seq: 7, Hops: 3, Time: 1764072000123456, Text: text}
		SignGossip(&m, k)
		line := Format(m)
		wantVerb := "sgossip:"
		if !IsText(text) {
			wantVerb = "sgossip64:"
		}
		if !strings.HasPrefix(line, wantVerb) {
			t.Fatalf("%q: line %q", text, line)
		}
		got, err := Parse(line)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if got.Text != text || got.Auth == nil || *got.Auth != *m.Auth || got.Seq != 7 || got.Hops != 3 || got.Addr != m.Addr {
			t.Fatalf("round trip of %q: %+v", line, got)
		}
		if !VerifyGossip(&got, nil) {
			t.Fatalf("%q does not verify after the wire", line)
		}
		got.Hops = 9 // hops are not signed
		if !VerifyGossip(&got, identity.NewCache(4)) {
			t.Fatal("hop count change breaks the signature")
		}
		for _, tamper := range []func(*Message){
			func(m *Message) { m.Seq++ },
			func(m *Message) { m.Time++ },
			func(m *Message) { m.Text += "!" },
			func(m *Message) { m.Addr = netip.MustParseAddrPort("[::1]:5001") },
		} {
			c := got
			tamper(&c)
			if VerifyGossip(&c, nil) {
				t.Fatalf("tampered %+v verifies", c)
			}
		}
	}
	m := Message{Kind: KindGossip, Addr: netip.MustParseAddrPort("127.0.0.1:5000"), Seq: 1, Time: 1}
	if VerifyGossip(&m, nil) {
		t.Fatal("unsigned message verifies")
	}
	for _, bad := range []string{
		"sgossip:127.0.0.1:5000:1:0:1.5:hi",
		"sgossip:127.0.0.1:5000:1:0:1.5:" + strings.Repeat("A", 43) + ":hi",
		"sgossip:127.0.0.1:5000:1:0:1.5:" + strings.Repeat("A", 42) + ":" + strings.Repeat("A", 86) + ":hi",
		"sgossip:127.0.0.1:5000:1:0:1.5:" + strings.Repeat("A", 43) + ":" + strings.Repeat("+", 86) + ":hi",
	} {
		if _, err := Parse(bad); !errors.Is(err, ErrKey) && !errors.Is(err, ErrFields) {
			t.Errorf("Parse(%q) = %v, want ErrKey or ErrFields", bad, err)
		}
	}
}

func TestNetGroup(t *testing.T) {
	for _, tc := range []struct {
		ip, group string
	}{
		{"203.0.113.77", "203.0.113.0/24"},
		{"::ffff:203.0.113.77", "203.0.113.0/24"},
		{"2001:db8:1:2::7", "2001:db8:1::/48"},
		{"127.0.0.1", ""}, {"::1", ""}, {"10.1.2.3", ""}, {"192.168.0.9", ""}, {"172.17.0.2", ""},
		{"fd00::1", ""}, {"fe80::1", ""},
	} {
		g, ok := NetGroup(netip.MustParseAddr(tc.ip))
		if got := ""; ok {
			got = g.String()
			if got != tc.group {
				t.Errorf("NetGroup(%s) = %s, want %q", tc.ip, got, tc.group)
			}
		} else if tc.group != "" {
			t.Errorf("NetGroup(%s) exempt, want %s", tc.ip, tc.group)
		}
	}
}

func TestSignedLeavingLines(t *testing.T) {
	k := identity.FromSeed([]byte("leaver"))
	for _, relayed := range []bool{false, true} {
		m := Message{Kind: KindLeaving, Addr: netip.MustParseAddrPort("[::1]:5000"), Relayed: relayed}
		SignLeaving(&m, k, 1764072000123456)
		line := Format(m)
		want := "Leaving:[::1]:5000:" + k.Public().String() + ":1764072000.123456:" + m.Auth.Sig.String()
		if relayed {
			want += ":relayed"
		}
		if line != want {
			t.Fatalf("line %q, want %q", line, want)
		}
		got, err := Parse(line)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if got.Auth == nil || *got.Auth != *m.Auth || got.Time != m.Time || got.Addr != m.Addr || got.Relayed != relayed {
			t.Fatalf("round trip of %q: %+v", line, got)
		}
		if !VerifyLeaving(&got) {
			t.Fatalf("%q does not verify after the wire", line)
		}
		for _, tamper := range []func(*Message){
			func(m *Message) { m.Time++ },
			func(m *Message) { m.Addr = netip.MustParseAddrPort("[::1]:5001") },
			func(m *Message) { m.Auth = &Auth{Key: identity.FromSeed([]byte("other")).Public(), Sig: m.Auth.Sig} },
		} {
			c := got
			tamper(&c)
			if VerifyLeaving(&c) {
				t.Fatalf("tampered %+v verifies", c)
			}
		}
	}
	if VerifyLeaving(&Message{Kind: KindLeaving, Addr: netip.MustParseAddrPort("127.0.0.1:5000")}) {
		t.Fatal("unsigned leave verifies")
	}
	// A registration's signature is no leave's (domain separation).
	r := Message{Kind: KindRegister, Addr: netip.MustParseAddrPort("127.0.0.1:5000")}
	SignRegister(&r, k, 5)
	if VerifyLeaving(&Message{Kind: KindLeaving, Addr: r.Addr, Time: r.Time, Auth: r.Auth}) {
		t.Fatal("a registration's signature verifies as a leave")
	}
	key := k.Public().String()
	sig := strings.Repeat("A", 86)
	for _, c := range []struct{ line, msg string }{
		{"Leaving:127.0.0.1:5000:" + key, "wrong number of fields: Leaving: missing timestamp"},
		{"Leaving:127.0.0.1:5000:" + key + ":1.5", "wrong number of fields: Leaving: missing signature"},
		{"Leaving:127.0.0.1:5000:" + key + ":x:" + sig, "bad timestamp: Leaving: "},
		{"Leaving:127.0.0.1:5000:" + key + ":1.5:" + sig + ":gone", `wrong number of fields: Leaving: unexpected trailing field "gone" (only "relayed" is allowed)`},
		{"Leaving:127.0.0.1:5000:" + key + ":1.5:" + sig + ":relayed:relayed", `wrong number of fields: Leaving: unexpected trailing field "relayed" after "relayed" (only a seed's KEY:SIG is allowed)`},
	} {
		_, err := Parse(c.line)
		if err == nil || !strings.HasPrefix(err.Error(), c.msg) {
			t.Errorf("Parse(%q) = %v, want %q", c.line, err, c.msg)
		}
	}
}

func TestSignedRelayLines(t *testing.T) {
	seedKey := identity.FromSeed([]byte("seed"))
	peerKey := identity.FromSeed([]byte("peer"))
	leave := Message{Kind: KindLeaving, Addr: netip.MustParseAddrPort("127.0.0.1:5000")}
	SignLeaving(&leave, peerKey, 1764072000000001)
	for _, m := range []Message{
		{Kind: KindDeadNode, Addr: netip.MustParseAddrPort("127.0.0.1:5001"), Time: 1764072000123456, From: netip.MustParseAddrPort("[::1]:5000")},
		{Kind: KindLeaving, Addr: netip.MustParseAddrPort("[::1]:5000")},
		leave,
	} {
		plain := m
		plain.Relayed = true
		SignRelay(&m, seedKey)
		line := Format(m)
		if want := Format(plain) + ":" + seedKey.Public().String() + ":" + m.Relay.Sig.String(); line != want {
			t.Fatalf("line %q, want %q", line, want)
		}
		got, err := Parse(line)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if got.Relay == nil || *got.Relay != *m.Relay || !got.Relayed || !VerifyRelay(&got) {
			t.Fatalf("round trip of %q: %+v", line, got)
		}
		if m.Auth != nil && !VerifyLeaving(&got) {
			t.Fatalf("%q: the peer's signature broke under the relay", line)
		}
		c := got
		c.Addr = netip.MustParseAddrPort("127.0.0.1:5999")
		if VerifyRelay(&c) {
			t.Fatalf("tampered relay %q verifies", Format(c))
		}
		if VerifyRelay(&plain) {
			t.Fatal("an unsigned relay verifies")
		}
	}
	for _, c := range []struct{ line, msg string }{
		{"Dead Node:127.0.0.1:5001:1.5:127.0.0.1:5000:relayed:" + seedKey.Public().String(), "wrong number of fields: Dead Node: missing signature"},
		{"Dead Node:127.0.0.1:5001:1.5:127.0.0.1:5000:relayed:x", `wrong number of fields: Dead Node: unexpected trailing field "x" after "relayed" (only a seed's KEY:SIG is allowed)`},
		{"Leaving:127.0.0.1:5000:relayed:" + seedKey.Public().String() + ":" + strings.Repeat("A", 86) + ":x", `wrong number of fields: Leaving: unexpected trailing field "x"`},
	} {
		_, err := Parse(c.line)
		if err == nil || !strings.HasPrefix(err.Error(), c.msg) {
			t.Errorf("Parse(%q) = %v, want %q", c.line, err, c.msg)
		}
	}
}
