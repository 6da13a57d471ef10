package wire

import (
	"strings"
	"testing"
)

// parseID4 is a fast path: whatever it reads, parseID reads the same way,
// and it reads the IPv4 IDs nodes send.
func checkParseID4(t *testing.T, e string) {
	id, ok := parseID4(e)
	want, err := parseID(e)
	if ok && (err != nil || id != want) {
		t.Fatalf("parseID4(%q) = %v; parseID: %v, %v", e, id, want, err)
	}
	if !ok && err == nil && want.Origin.Addr().Is4() && !strings.ContainsAny(e, "[]:") {
		// Not a correctness matter (parseID reads it), but the fast path
		// should cover every valid IPv4 ID.
		t.Fatalf("parseID4(%q) refused an ID parseID reads as %v", e, want)
	}
}

func TestParseID4(t *testing.T) {
	for _, e := range []string{
		"10.1.0.17#5000#12", "127.0.0.1#1#0", "255.255.255.255#65535#4294967295", "1.2.3.4#5#6",
		"0.0.0.0#5000#1", "224.0.0.1#5000#1", "239.255.255.255#1#1", "01.2.3.4#5#6", "1.2.3.256#5#6",
		"1.2.3#5#6", "1.2.3.4.5#5#6", "1.2.3.4#0#6", "1.2.3.4#65536#6", "1.2.3.4#5#4294967296",
		"1.2.3.4#5", "1.2.3.4#5#6#7", "1.2.3.4##6", "1.2.3.4#5#", "#5#6", "1.2.3.4", "1234.2.3.4#5#6",
		"1.2.3.4#+5#6", "1.2.3.4#5#-6", "[::1]#5000#1", "[::ffff:1.2.3.4]#5#6", "1.2.3.4#05#006", "",
	} {
		checkParseID4(t, e)
	}
}

func FuzzParseID4(f *testing.F) {
	f.Add("10.1.0.17#5000#12")
	f.Add("0.0.0.0#5000#1")
	f.Add("[::1]#5000#1")
	f.Fuzz(checkParseID4)
}
