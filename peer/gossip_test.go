package peer

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/whispernet/whispernet/wire"
)

// TestReceivedText: the receipt's log line, built by hand for speed, is
// the line fmt would print, for text and binary payloads, IPv4 and IPv6.
func TestReceivedText(t *testing.T) {
	for _, tc := range []struct {
		m    wire.Message
		from string
	}{
		{wire.Message{Addr: netip.MustParseAddrPort("127.0.0.1:5000"), Seq: 7, Text: "hello: world"}, "127.0.0.1:5001"},
		{wire.Message{Addr: netip.MustParseAddrPort("[2001:db8::7]:65535"), Seq: 1, Text: ""}, "[2001:db8::1]:5000"},
		{wire.Message{Addr: netip.MustParseAddrPort("[::1]:5000"), Seq: 9, Text: "two\nlines"}, "10.0.0.1:80"},
	} {
		from := netip.MustParseAddrPort(tc.from)
		want := fmt.Sprintf("received %s from %s", logText(&tc.m), from)
		if got := receivedText(&tc.m, from); got != want {
			t.Errorf("receivedText = %q, want %q", got, want)
		}
	}
	m := wire.Message{Addr: netip.MustParseAddrPort("[::1]:5000"), Seq: 9, Text: "two\nlines"}
	if got, want := receivedText(&m, netip.MustParseAddrPort("10.0.0.1:80")), "received [::1]:5000#9 (9 bytes of data) from 10.0.0.1:80"; got != want {
		t.Errorf("binary payload: %q, want %q", got, want)
	}
}
