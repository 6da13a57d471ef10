package localnet

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func ports(ip string, ps ...int) []netip.AddrPort {
	var out []netip.AddrPort
	for _, p := range ps {
		out = append(out, netip.AddrPortFrom(netip.MustParseAddr(ip), uint16(p)))
	}
	return out
}

func TestJoinSplitAddrs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		addrs []netip.AddrPort
		text  string
	}{
		{"one", ports("127.0.0.1", 20000), "127.0.0.1:20000-20000"},
		{"run", ports("127.0.0.1", 20000, 20001, 20002), "127.0.0.1:20000-20002"},
		{"gap (a skipped seed port)", ports("127.0.0.1", 20000, 20001, 20003, 20004), "127.0.0.1:20000-20001,127.0.0.1:20003-20004"},
		{"descending stays separate", ports("127.0.0.1", 5, 4), "127.0.0.1:5-5,127.0.0.1:4-4"},
		{"top port", ports("127.0.0.1", 65534, 65535), "127.0.0.1:65534-65535"},
		{"no wrap after 65535", ports("127.0.0.1", 65535, 1, 2), "127.0.0.1:65535-65535,127.0.0.1:1-2"},
		{"IPv6", ports("::1", 7, 8, 9), "[::1]:7-9"},
		{"IP change breaks a run", append(ports("127.0.0.1", 1, 2), ports("127.0.0.2", 3, 4)...), "127.0.0.1:1-2,127.0.0.2:3-4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := joinAddrs(tc.addrs); got != tc.text {
				t.Fatalf("joinAddrs = %q, want %q", got, tc.text)
			}
			got, err := ParsePorts(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.addrs) {
				t.Fatalf("ParsePorts(%q) = %v, want %v", tc.text, got, tc.addrs)
			}
		})
	}
	// joinAddrs does not wrap 65535 round to 0 (whatever 0 would mean).
	if got := joinAddrs(ports("127.0.0.1", 65535, 0)); got != "127.0.0.1:65535-65535,127.0.0.1:0-0" {
		t.Fatalf("joinAddrs(65535, 0) = %q", got)
	}
	// A thousand peers with seed ports skipped encode compactly.
	cfg := Config{IP: netip.MustParseAddr("127.0.0.1"), BasePort: 20000, Peers: 1000, Seeds: ports("127.0.0.1", 20100, 20500)}
	addrs, err := cfg.PeerAddrs()
	if err != nil {
		t.Fatal(err)
	}
	text := joinAddrs(addrs)
	if text != "127.0.0.1:20000-20099,127.0.0.1:20101-20499,127.0.0.1:20501-21001" {
		t.Fatalf("joinAddrs(1000 peers) = %q", text)
	}
	if back, err := ParsePorts(text); err != nil || !slices.Equal(back, addrs) {
		t.Fatalf("round trip of 1000 peers: %v", err)
	}
}

func TestParsePortsErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `localnet: bad port run ""`},
		{"127.0.0.1:5", `localnet: bad port run "127.0.0.1:5"`},
		{"127.0.0.1:5-4", `localnet: bad port run "127.0.0.1:5-4"`},
		{"127.0.0.1:5-65536", `localnet: bad port run "127.0.0.1:5-65536"`},
		{"127.0.0.1:5-x", `localnet: bad port run "127.0.0.1:5-x"`},
		{"127.0.0.1:1-2,", `localnet: bad port run ""`},
		{"127.0.0.1:0-3", `localnet: bad port run "127.0.0.1:0-3"`},
		{"127.0.0.1:1-2,127.0.0.1:0-0", `localnet: bad port run "127.0.0.1:0-0"`},
		// netip's own detail follows the run.
		{"localhost:1-2", `localnet: bad port run "localhost:1-2": `},
		{"127.0.0.1-2", `localnet: bad port run "127.0.0.1-2": `},
	} {
		got, err := ParsePorts(tc.in)
		if err == nil || !(err.Error() == tc.want || strings.HasSuffix(tc.want, ": ") && strings.HasPrefix(err.Error(), tc.want)) {
			t.Errorf("ParsePorts(%q) = %v, %v; want error %q", tc.in, got, err, tc.want)
		}
	}
}

func TestPeerAddrs(t *testing.T) {
	ip := netip.MustParseAddr("127.0.0.1")
	cfg := Config{IP: ip, BasePort: 8079, Peers: 5,
		// Seeds on the peers' IP are skipped; one on another IP is not.
		Seeds: append(ports("127.0.0.1", 8080, 8082), ports("127.0.0.2", 8083)...)}
	got, err := cfg.PeerAddrs()
	if err != nil {
		t.Fatal(err)
	}
	if want := ports("127.0.0.1", 8079, 8081, 8083, 8084, 8085); !slices.Equal(got, want) {
		t.Fatalf("PeerAddrs = %v, want %v", got, want)
	}

	// Exactly up to the last port fits; one more does not.
	cfg = Config{IP: ip, BasePort: 65533, Peers: 3}
	if got, err := cfg.PeerAddrs(); err != nil || !slices.Equal(got, ports("127.0.0.1", 65533, 65534, 65535)) {
		t.Fatalf("PeerAddrs to 65535 = %v, %v", got, err)
	}
	cfg.Peers = 4
	if got, err := cfg.PeerAddrs(); err == nil || err.Error() != "localnet: 4 peers do not fit from port 65533" {
		t.Fatalf("PeerAddrs beyond 65535 = %v, %v", got, err)
	}
	// A skipped seed port pushes the last peer over the top.
	cfg = Config{IP: ip, BasePort: 65533, Peers: 3, Seeds: ports("127.0.0.1", 65534)}
	if got, err := cfg.PeerAddrs(); err == nil || err.Error() != "localnet: 3 peers do not fit from port 65533" {
		t.Fatalf("PeerAddrs with a seed near the top = %v, %v", got, err)
	}
	// No peers: no addresses.
	cfg = Config{IP: ip, BasePort: 20000}
	if got, err := cfg.PeerAddrs(); err != nil || len(got) != 0 {
		t.Fatalf("PeerAddrs(0 peers) = %v, %v", got, err)
	}
}

func FuzzParsePorts(f *testing.F) {
	for _, s := range []string{
		"127.0.0.1:20000-20002",
		"127.0.0.1:20000-20001,127.0.0.1:20003-20004",
		"[::1]:7-9",
		"127.0.0.1:5-4",
		"127.0.0.1:65535-65535,127.0.0.1:1-1",
		"127.0.0.1:65535-65535,127.0.0.1:0-0",
		"",
		",",
		"1.2.3.4:1-" + strings.Repeat("9", 30),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParsePorts(s)
		if err != nil {
			if got != nil {
				t.Fatalf("addresses beside error %v", err)
			}
			return
		}
		if len(got) == 0 {
			t.Fatalf("ParsePorts(%q) accepted no address", s)
		}
		text := joinAddrs(got)
		back, err := ParsePorts(text)
		if err != nil {
			t.Fatalf("ParsePorts(joinAddrs(%v)) = %q: %v", got, text, err)
		}
		if !slices.Equal(back, got) {
			t.Fatalf("round trip %v -> %q -> %v", got, text, back)
		}
		if again := joinAddrs(back); again != text {
			t.Fatalf("joinAddrs not stable: %q then %q", text, again)
		}
	})
}

func ExampleParsePorts() {
	addrs, err := ParsePorts("127.0.0.1:20000-20002,[::1]:9000-9000")
	fmt.Println(addrs, err)
	// Output: [127.0.0.1:20000 127.0.0.1:20001 127.0.0.1:20002 [::1]:9000] <nil>
}
