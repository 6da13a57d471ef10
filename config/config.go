// Package config reads config.txt, the list of seed addresses every
// WhisperNet node starts from: one HOST:PORT per line, where HOST is an IPv4
// address, an IPv6 address in brackets ([::1]:8080) or a host name
// (seed-0:8080, as containers and Kubernetes name their seeds), optionally
// followed by a space and the seed's public key (HOST:PORT KEY, the key as
// `whispernet keygen` prints it), which seeds use to check each other's
// relays; blank lines and '#' comments are allowed.
//
// The protocol cores know nodes by IP address only. Host names are looked
// up here, at the edge (Resolve, ResolveAll), and the runtime looks a
// seed's name up again when the seed cannot be reached (its container may
// have come back with another address).
package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"github.com/whispernet/whispernet/identity"
	"github.com/whispernet/whispernet/wire"
)

// MaxSeeds bounds the seeds one file may list.
const MaxSeeds = 1024

// maxLineLen bounds one line, its line ending not counted.
const maxLineLen = 4096

// ErrNoSeeds is returned for a file that lists no seed.
var ErrNoSeeds = errors.New("config: no seeds listed")

// ErrHostName is returned by ReadSeeds for a host name where only IP
// literals are accepted.
var ErrHostName = errors.New("a host name where an IP address is required")

// ReadSeedList parses a seed list whose entries may be host names. name
// labels errors ("config.txt:3: ..."). Duplicates are an error: they would
// distort the ⌊n/2⌋+1 majority. (Two names that turn out to be one address
// are caught by ResolveAll.)
func ReadSeedList(r io.Reader, name string) ([]HostPort, error) {
	return readList(r, name, false)
}

// ReadSeeds parses a seed list of IP literals only, for the commands that
// start every seed of the file on this machine (seed without --listen,
// net), where a name would have to resolve to one of its own addresses
// anyway.
func ReadSeeds(r io.Reader, name string) ([]netip.AddrPort, error) {
	list, err := readList(r, name, true)
	if err != nil {
		return nil, err
	}
	out := make([]netip.AddrPort, len(list))
	for i, h := range list {
		out[i] = h.AddrPort()
	}
	return out, nil
}

func readList(r io.Reader, name string, literalOnly bool) ([]HostPort, error) {
	sc := bufio.NewScanner(r)
	// Room for the longest line and its "\r\n"; longer lines fail the scan
	// (bufio.ErrTooLong) or the length check below, both on line n.
	sc.Buffer(make([]byte, 0, 512), maxLineLen+2)
	seen := make(map[string]int)
	var out []HostPort
	n := 1
	for ; sc.Scan(); n++ {
		line := sc.Text()
		if len(line) > maxLineLen {
			return nil, fmt.Errorf("%s:%d: line longer than %d bytes", name, n, maxLineLen)
		}
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var h HostPort
		var err error
		var seedKey identity.PublicKey
		if f := strings.Fields(line); len(f) > 1 {
			if len(f) > 2 {
				return nil, fmt.Errorf("%s:%d: %q: want HOST:PORT or HOST:PORT KEY", name, n, trunc(line))
			}
			line = f[0]
			if seedKey, err = identity.ParsePublicKey(f[1]); err != nil {
				return nil, fmt.Errorf("%s:%d: %q after the address is not a seed key (want HOST:PORT or HOST:PORT KEY): %w", name, n, trunc(f[1]), err)
			}
		}
		if literalOnly {
			var a netip.AddrPort
			if a, err = wire.ParseAddrPort(line); err == nil {
				h = HostPort{IP: a.Addr(), Port: a.Port()}
			} else if named, nerr := ParseHostPort(line); nerr == nil && named.IsName() {
				err = fmt.Errorf("%s: %w", line, ErrHostName)
			}
		} else {
			h, err = ParseHostPort(line)
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		key := h.String()
		if prev, dup := seen[key]; dup {
			return nil, fmt.Errorf("%s:%d: seed %s already listed on line %d", name, n, key, prev)
		}
		if len(out) == MaxSeeds {
			return nil, fmt.Errorf("%s:%d: more than %d seeds", name, n, MaxSeeds)
		}
		seen[key] = n
		h.Key = seedKey
		out = append(out, h)
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return nil, fmt.Errorf("%s:%d: line longer than %d bytes", name, n, maxLineLen)
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %w", name, ErrNoSeeds)
	}
	return out, nil
}

// Keys returns the seed keys of list (the entries that name one), by
// address: list's literal entries, or addrs (list resolved, in the same
// order) when given.
func Keys(list []HostPort, addrs []netip.AddrPort) map[netip.AddrPort]identity.PublicKey {
	keys := make(map[netip.AddrPort]identity.PublicKey)
	for i, h := range list {
		if h.Key.IsZero() {
			continue
		}
		a := h.AddrPort()
		if len(addrs) == len(list) {
			a = addrs[i]
		}
		if a.IsValid() {
			keys[a] = h.Key
		}
	}
	return keys
}

// LoadSeeds reads a seed list of IP literals from the file at path (see
// ReadSeeds).
func LoadSeeds(path string) ([]netip.AddrPort, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return ReadSeeds(f, path)
}

// LoadSeedList reads a seed list that may name hosts from the file at
// path (see ReadSeedList).
func LoadSeedList(path string) ([]HostPort, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return ReadSeedList(f, path)
}
