package config

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseHostPort(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"seed-0:8080", "seed-0:8080"},
		{"Seed-0.Example.COM.:1", "seed-0.example.com:1"},
		{"whispernet_seed_1:8080", "whispernet_seed_1:8080"},
		{"seed-0.seeds.default.svc.cluster.local:8080", "seed-0.seeds.default.svc.cluster.local:8080"},
		{"localhost:5000", "localhost:5000"},
		{"10.0.0.1:80", "10.0.0.1:80"},
		{"[2001:db8::1]:80", "[2001:db8::1]:80"},
	} {
		h, err := ParseHostPort(tc.in)
		if err != nil {
			t.Errorf("ParseHostPort(%q): %v", tc.in, err)
			continue
		}
		if h.String() != tc.want {
			t.Errorf("ParseHostPort(%q) = %s, want %s", tc.in, h, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"seed-0", `bad address: "seed-0" is not HOST:PORT`},
		{"seed-0:0", `bad port: port "0" is not in 1-65535`},
		{"seed-0:http", `bad port: port "http" is not in 1-65535`},
		{"-seed:1", `bad address: "-seed" is not a host name (a label starts or ends with '-')`},
		{"seed..0:1", `bad address: "seed..0" is not a host name (empty or over-long label)`},
		{"se ed:1", `bad address: "se ed" is not a host name or IP address`},
		{"999.1.1.1:80", `bad address: "999.1.1.1" is not an IP address`},
		{"0.0.0.0:80", `bad address: "0.0.0.0" is the unspecified address`},
		{":80", `bad address: "" is not an IP address`},
		{strings.Repeat("a.", 127) + "ab:1", "bad address: host name of 256 bytes over the 253 limit"},
	} {
		h, err := ParseHostPort(tc.in)
		if err == nil || err.Error() != tc.want {
			t.Errorf("ParseHostPort(%q) = %v, %v; want error %q", tc.in, h, err, tc.want)
		}
	}
}

func TestReadSeedListNames(t *testing.T) {
	got, err := ReadSeedList(strings.NewReader("# compose\nseed-0:8080\nSEED-1:8080 # same as seed-1\n10.0.0.3:8080\n"), "config.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"seed-0:8080", "seed-1:8080", "10.0.0.3:8080"}
	var gotS []string
	for _, h := range got {
		gotS = append(gotS, h.String())
	}
	if !slices.Equal(gotS, want) {
		t.Fatalf("got %v, want %v", gotS, want)
	}
	if !got[0].IsName() || got[2].IsName() || got[2].AddrPort() != netip.MustParseAddrPort("10.0.0.3:8080") {
		t.Fatalf("names and literals mixed up: %+v", got)
	}
	_, err = ReadSeedList(strings.NewReader("seed-0:8080\nSeed-0:8080\n"), "config.txt")
	if want := "config.txt:2: seed seed-0:8080 already listed on line 1"; err == nil || err.Error() != want {
		t.Fatalf("duplicate name: %v, want %q", err, want)
	}
	_, err = ReadSeeds(strings.NewReader("10.0.0.1:1\nseed-0:8080\n"), "config.txt")
	if !errors.Is(err, ErrHostName) || err.Error() != "config.txt:2: seed-0:8080: a host name where an IP address is required" {
		t.Fatalf("ReadSeeds with a name: %v", err)
	}
}

// fakeResolver answers from a table; a name missing from it fails until
// the table gets it (after calls lookups).
type fakeResolver struct {
	table map[string][]netip.Addr
	calls map[string]int
	late  map[string]int // name -> lookups that fail before it resolves
}

func (f *fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	f.calls[host]++
	if f.calls[host] <= f.late[host] {
		return nil, errors.New("no such host")
	}
	if ips, ok := f.table[host]; ok {
		return ips, nil
	}
	return nil, errors.New("no such host")
}

func ips(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func TestResolve(t *testing.T) {
	r := &fakeResolver{calls: map[string]int{}, table: map[string][]netip.Addr{
		"dual":   ips("2001:db8::5", "198.18.0.5"),
		"v6":     ips("fe80::1%eth0", "2001:db8::6"),
		"mapped": ips("::ffff:198.18.0.7"),
		"none":   ips("0.0.0.0", "224.0.0.1"),
	}}
	ctx := context.Background()
	for _, tc := range []struct{ name, want string }{
		{"dual", "198.18.0.5:1"}, {"v6", "[2001:db8::6]:1"}, {"mapped", "198.18.0.7:1"},
	} {
		a, err := Resolve(ctx, r, HostPort{Host: tc.name, Port: 1})
		if err != nil || a.String() != tc.want {
			t.Errorf("Resolve(%s) = %v, %v; want %s", tc.name, a, err, tc.want)
		}
	}
	if _, err := Resolve(ctx, r, HostPort{Host: "none", Port: 1}); !errors.Is(err, ErrNoAddress) {
		t.Errorf("Resolve(none): %v, want ErrNoAddress", err)
	}
	lit := HostPort{IP: netip.MustParseAddr("10.0.0.1"), Port: 9}
	if a, err := Resolve(ctx, r, lit); err != nil || a != lit.AddrPort() {
		t.Errorf("Resolve(literal) = %v, %v", a, err)
	}
	if r.calls["10.0.0.1"] != 0 {
		t.Errorf("a literal was looked up")
	}
}

func TestResolveAllWaitsForLateNames(t *testing.T) {
	r := &fakeResolver{calls: map[string]int{}, late: map[string]int{"seed-1": 2},
		table: map[string][]netip.Addr{"seed-0": ips("198.18.0.1"), "seed-1": ips("198.18.0.2")}}
	list := []HostPort{{Host: "seed-0", Port: 8080}, {Host: "seed-1", Port: 8080}, {IP: netip.MustParseAddr("198.18.0.3"), Port: 8080}}
	got, err := ResolveAll(context.Background(), r, list, time.Minute, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.AddrPort{netip.MustParseAddrPort("198.18.0.1:8080"), netip.MustParseAddrPort("198.18.0.2:8080"), netip.MustParseAddrPort("198.18.0.3:8080")}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if r.calls["seed-0"] != 1 || r.calls["seed-1"] != 3 {
		t.Fatalf("lookups %v: want seed-0 once (resolved), seed-1 three times", r.calls)
	}

	// A name that never resolves fails once the wait is over, named.
	r = &fakeResolver{calls: map[string]int{}, table: map[string][]netip.Addr{"seed-0": ips("198.18.0.1")}}
	_, err = ResolveAll(context.Background(), r, []HostPort{{Host: "seed-0", Port: 1}, {Host: "gone", Port: 2}}, 20*time.Millisecond, 5*time.Millisecond)
	if err == nil || !strings.HasPrefix(err.Error(), "seed gone:2: config: look up gone: ") {
		t.Fatalf("unresolvable name: %v", err)
	}

	// Two names for one address are a duplicate.
	r = &fakeResolver{calls: map[string]int{}, table: map[string][]netip.Addr{"a": ips("198.18.0.1"), "b": ips("198.18.0.1")}}
	_, err = ResolveAll(context.Background(), r, []HostPort{{Host: "a", Port: 1}, {Host: "b", Port: 1}}, 0, time.Millisecond)
	if want := "config: seeds a:1 and b:1 are both 198.18.0.1:1"; err == nil || err.Error() != want {
		t.Fatalf("duplicate address: %v, want %q", err, want)
	}
}
