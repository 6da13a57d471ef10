package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/whispernet/whispernet/identity"
)

func addrs(ss ...string) []netip.AddrPort {
	var out []netip.AddrPort
	for _, s := range ss {
		out = append(out, netip.MustParseAddrPort(s))
	}
	return out
}

func TestReadSeedsAccepts(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []netip.AddrPort
	}{
		{"one", "127.0.0.1:8080", addrs("127.0.0.1:8080")},
		{"trailing newline", "127.0.0.1:8080\n", addrs("127.0.0.1:8080")},
		{"comments and blanks", "# seeds\n\n  \t\n127.0.0.1:8080  # first\n#127.0.0.1:9999\n\n10.0.0.2:1\n",
			addrs("127.0.0.1:8080", "10.0.0.2:1")},
		{"CRLF", "# seeds\r\n127.0.0.1:8080\r\n\r\n127.0.0.1:8081\r\n", addrs("127.0.0.1:8080", "127.0.0.1:8081")},
		{"CRLF no final newline", "127.0.0.1:8080\r\n127.0.0.1:8081", addrs("127.0.0.1:8080", "127.0.0.1:8081")},
		{"IPv6", "[::1]:8080\n[2001:db8::7]:65535\n", addrs("[::1]:8080", "[2001:db8::7]:65535")},
		{"IPv4-mapped read as IPv4", "[::ffff:10.0.0.1]:80\n", addrs("10.0.0.1:80")},
		{"same IP other port", "127.0.0.1:8080\n127.0.0.1:8081\n", addrs("127.0.0.1:8080", "127.0.0.1:8081")},
		{"leading and trailing space", "\t 127.0.0.1:8080 \t\n", addrs("127.0.0.1:8080")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadSeeds(strings.NewReader(tc.in), "config.txt")
			if err != nil {
				t.Fatalf("ReadSeeds(%q): %v", tc.in, err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("ReadSeeds(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestReadSeedsRejects(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"duplicate names both lines", "127.0.0.1:8080\n# c\n127.0.0.1:8081\n127.0.0.1:8080\n",
			"config.txt:4: seed 127.0.0.1:8080 already listed on line 1"},
		{"duplicate via IPv4-mapped", "10.0.0.1:80\n[::ffff:10.0.0.1]:80\n",
			"config.txt:2: seed 10.0.0.1:80 already listed on line 1"},
		{"duplicate IPv6 CRLF", "[::1]:1\r\n\r\n[0:0::1]:1\r\n",
			"config.txt:3: seed [::1]:1 already listed on line 1"},
		{"no port", "127.0.0.1:8080\nlocalhost\n", `config.txt:2: bad address: "localhost" is not IP:PORT`},
		{"hostname", "localhost:8080\n", `config.txt:1: localhost:8080: a host name where an IP address is required`},
		{"port zero", "127.0.0.1:0\n", `config.txt:1: bad port: port "0" is not in 1-65535`},
		{"port too big", "127.0.0.1:65536\n", `config.txt:1: bad port: port "65536" is not in 1-65535`},
		{"port sign", "127.0.0.1:+80\n", `config.txt:1: bad port: port "+80" is not in 1-65535`},
		{"unbracketed IPv6", "::1:8080\n", `config.txt:1: bad address: IPv6 address "::1" must be written in brackets`},
		{"unclosed bracket", "[::1:8080\n", `config.txt:1: bad address: IPv6 address "[::1" lacks its closing bracket`},
		{"IPv4 in brackets", "[127.0.0.1]:8080\n", `config.txt:1: bad address: "[127.0.0.1]": only IPv6 goes in brackets`},
		{"unspecified", "0.0.0.0:8080\n", `config.txt:1: bad address: "0.0.0.0" is the unspecified address`},
		{"multicast", "[ff02::1]:8080\n", `config.txt:1: bad address: "[ff02::1]" is a multicast address`},
		{"zone", "[fe80::1%eth0]:8080\n", `config.txt:1: bad address: "[fe80::1%eth0]": zoned addresses are not allowed`},
		{"two on one line", "127.0.0.1:1 127.0.0.1:2\n", `config.txt:1: "127.0.0.1:2" after the address is not a seed key (want HOST:PORT or HOST:PORT KEY): identity: bad key or signature encoding: public key of 11 characters, want 43`},
		{"three fields", "127.0.0.1:1 " + testKey + " x\n", `config.txt:1: "127.0.0.1:1 ` + testKey + ` x": want HOST:PORT or HOST:PORT KEY`},
		{"bad key", "127.0.0.1:1 " + strings.Repeat("+", 43) + "\n", `config.txt:1: "` + strings.Repeat("+", 43) + `" after the address is not a seed key (want HOST:PORT or HOST:PORT KEY): identity: bad key or signature encoding: public key is not base64url`},
		{"key after a bad address", "127.0.0.1:0 " + testKey + "\n", `config.txt:1: bad port: port "0" is not in 1-65535`},
		{"error after comments counts every line", "#\n\n#\r\n\nnope\n", `config.txt:5: bad address: "nope" is not IP:PORT`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadSeeds(strings.NewReader(tc.in), "config.txt")
			if err == nil {
				t.Fatalf("ReadSeeds(%q) = %v, want error %q", tc.in, got, tc.want)
			}
			if err.Error() != tc.want {
				t.Fatalf("ReadSeeds(%q) error\n got %q\nwant %q", tc.in, err, tc.want)
			}
			if got != nil {
				t.Fatalf("ReadSeeds(%q) returned %v beside its error", tc.in, got)
			}
		})
	}
}

func TestReadSeedsEmpty(t *testing.T) {
	for _, in := range []string{"", "\n", "# only a comment\n", "\r\n  \r\n#x\r\n", "   # 127.0.0.1:8080"} {
		got, err := ReadSeeds(strings.NewReader(in), "seeds.txt")
		if !errors.Is(err, ErrNoSeeds) {
			t.Fatalf("ReadSeeds(%q) = %v, %v; want ErrNoSeeds", in, got, err)
		}
		if want := "seeds.txt: config: no seeds listed"; err.Error() != want {
			t.Fatalf("ReadSeeds(%q) error %q, want %q", in, err, want)
		}
	}
}

// seedList writes n distinct seeds, one a line.
func seedList(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "10.%d.%d.1:%d\n", i/256, i%256, 1000+i)
	}
	return b.String()
}

func TestReadSeedsMaxSeeds(t *testing.T) {
	got, err := ReadSeeds(strings.NewReader("# header\n"+seedList(MaxSeeds)), "c.txt")
	if err != nil {
		t.Fatalf("%d seeds: %v", MaxSeeds, err)
	}
	if len(got) != MaxSeeds {
		t.Fatalf("%d seeds read, want %d", len(got), MaxSeeds)
	}
	_, err = ReadSeeds(strings.NewReader("# header\n"+seedList(MaxSeeds+1)), "c.txt")
	want := fmt.Sprintf("c.txt:%d: more than %d seeds", MaxSeeds+2, MaxSeeds)
	if err == nil || err.Error() != want {
		t.Fatalf("%d seeds: error %v, want %q", MaxSeeds+1, err, want)
	}
}

// TestReadSeedsLongLine: a line may hold 4096 bytes (its line ending not
// counted); a longer one is a clear error naming its line, whether it is a
// comment, ends in "\n", "\r\n" or the end of the file.
func TestReadSeedsLongLine(t *testing.T) {
	comment := func(n int) string { return "#" + strings.Repeat("x", n-1) }
	seed := "127.0.0.1:8080"
	padded := func(n int) string { return seed + strings.Repeat(" ", n-len(seed)) }
	for _, tc := range []struct {
		name, in string
		wantErr  string
	}{
		{"4096 comment LF", "127.0.0.1:1\n" + comment(4096) + "\n127.0.0.1:2\n", ""},
		{"4096 comment CRLF", "127.0.0.1:1\r\n" + comment(4096) + "\r\n127.0.0.1:2\r\n", ""},
		{"4096 seed at EOF", "127.0.0.1:1\n" + padded(4096), ""},
		{"4097 comment LF", "127.0.0.1:1\n" + comment(4097) + "\n127.0.0.1:2\n", "c.txt:2: line longer than 4096 bytes"},
		{"4097 comment CRLF", "127.0.0.1:1\r\n" + comment(4097) + "\r\n127.0.0.1:2\r\n", "c.txt:2: line longer than 4096 bytes"},
		{"4097 at EOF", "127.0.0.1:1\n\n" + padded(4097), "c.txt:3: line longer than 4096 bytes"},
		{"4098 at EOF", "127.0.0.1:1\n\n" + padded(4098), "c.txt:3: line longer than 4096 bytes"},
		{"1 MiB line", "127.0.0.1:1\n" + comment(1<<20) + "\n", "c.txt:2: line longer than 4096 bytes"},
		{"1 MiB without newline", strings.Repeat("1", 1<<20), "c.txt:1: line longer than 4096 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadSeeds(strings.NewReader(tc.in), "c.txt")
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if len(got) == 0 {
					t.Fatalf("no seeds read")
				}
				return
			}
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// errReader fails after its data.
type errReader struct {
	data string
	err  error
}

func (r *errReader) Read(b []byte) (int, error) {
	if r.data == "" {
		return 0, r.err
	}
	n := copy(b, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadSeedsReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	_, err := ReadSeeds(&errReader{"127.0.0.1:1\n", boom}, "c.txt")
	if !errors.Is(err, boom) || err.Error() != "c.txt: disk on fire" {
		t.Fatalf("error %v, want c.txt: disk on fire", err)
	}
}

func TestLoadSeeds(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.txt")
	if err := os.WriteFile(path, []byte("# seeds\n127.0.0.1:8080\n[::1]:8081\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := LoadSeeds(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := addrs("127.0.0.1:8080", "[::1]:8081"); !slices.Equal(got, want) {
		t.Fatalf("LoadSeeds = %v, want %v", got, want)
	}

	// Errors are labelled with the path.
	if err := os.WriteFile(path, []byte("127.0.0.1:8080\nbad\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadSeeds(path)
	if want := path + `:2: bad address: "bad" is not IP:PORT`; err == nil || err.Error() != want {
		t.Fatalf("LoadSeeds error %v, want %q", err, want)
	}
}

func TestLoadSeedsMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.txt")
	got, err := LoadSeeds(path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("LoadSeeds(missing) = %v, %v; want fs.ErrNotExist", got, err)
	}
	if want := "config: open " + path + ": no such file or directory"; err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
}

func TestRepoConfigTxt(t *testing.T) {
	got, err := LoadSeeds("../config.txt")
	if err != nil {
		t.Fatalf("the shipped config.txt does not load: %v", err)
	}
	if len(got) == 0 {
		t.Fatal("the shipped config.txt lists no seed")
	}
}

func FuzzReadSeeds(f *testing.F) {
	for _, s := range []string{
		"",
		"127.0.0.1:8080\n",
		"# c\r\n127.0.0.1:8080\r\n[::1]:8081\r\n",
		"[::ffff:10.0.0.1]:80\n10.0.0.1:80\n",
		"127.0.0.1:8080\n127.0.0.1:8080\n",
		"[fe80::1%eth0]:1\n",
		"  10.0.0.1:1 # x\n\n",
		"[::1:80\n",
		"1.2.3.4:99999\n",
		"#" + strings.Repeat("x", 4100) + "\n1.1.1.1:1",
		seedList(20),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ReadSeeds(strings.NewReader(in), "f.txt")
		if err != nil {
			if got != nil {
				t.Fatalf("seeds %v beside error %v", got, err)
			}
			if !strings.HasPrefix(err.Error(), "f.txt") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if len(got) == 0 || len(got) > MaxSeeds {
			t.Fatalf("accepted %d seeds", len(got))
		}
		seen := map[netip.AddrPort]bool{}
		for _, a := range got {
			if !a.IsValid() || a.Port() == 0 || a.Addr().Zone() != "" || a.Addr().Is4In6() || a.Addr().IsUnspecified() {
				t.Fatalf("accepted unusable seed %v", a)
			}
			if seen[a] {
				t.Fatalf("accepted duplicate %v", a)
			}
			seen[a] = true
		}
		// Re-serialised, the list reads back identically.
		var b strings.Builder
		for _, a := range got {
			b.WriteString(a.String())
			b.WriteByte('\n')
		}
		again, err := ReadSeeds(strings.NewReader(b.String()), "f.txt")
		if err != nil {
			t.Fatalf("re-reading %q: %v", b.String(), err)
		}
		if !slices.Equal(again, got) {
			t.Fatalf("round trip %v -> %v", got, again)
		}
	})
}

var testKey = identity.FromSeed([]byte("seed key")).Public().String()

// TestSeedKeys: a seed line may carry the seed's key after a space or a
// tab (and a comment after that); plain lines keep no key; Keys maps the
// keyed entries, literal or resolved, by address.
func TestSeedKeys(t *testing.T) {
	in := "127.0.0.1:8080 " + testKey + "\n127.0.0.1:8081\n[::1]:8082\t" + testKey + "  # the third\n"
	list, err := ReadSeedList(strings.NewReader(in), "config.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := identity.FromSeed([]byte("seed key")).Public()
	if len(list) != 3 || list[0].Key != want || !list[1].Key.IsZero() || list[2].Key != want || list[2].String() != "[::1]:8082" {
		t.Fatalf("list %+v", list)
	}
	lits, err := ReadSeeds(strings.NewReader(in), "config.txt")
	if err != nil || len(lits) != 3 {
		t.Fatalf("ReadSeeds: %v, %v", lits, err)
	}
	keys := Keys(list, nil)
	if len(keys) != 2 || keys[netip.MustParseAddrPort("127.0.0.1:8080")] != want || keys[netip.MustParseAddrPort("[::1]:8082")] != want {
		t.Fatalf("keys %v", keys)
	}
	named, err := ReadSeedList(strings.NewReader("seed-0:8080 "+testKey+"\nseed-1:8080\n"), "config.txt")
	if err != nil {
		t.Fatal(err)
	}
	resolved := []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:8080"), netip.MustParseAddrPort("10.0.0.2:8080")}
	if keys := Keys(named, resolved); len(keys) != 1 || keys[resolved[0]] != want {
		t.Fatalf("keys of resolved names %v", keys)
	}
}
