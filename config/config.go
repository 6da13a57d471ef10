// Package config reads config.txt, the list of seed addresses every
// WhisperNet node starts from: one IP:PORT per line ([IPv6]:PORT for IPv6),
// blank lines and '#' comments allowed.
package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"github.com/whispernet/whispernet/wire"
)

// MaxSeeds bounds the seeds one file may list.
const MaxSeeds = 1024

// maxLineLen bounds one line, its line ending not counted.
const maxLineLen = 4096

// ErrNoSeeds is returned for a file that lists no seed.
var ErrNoSeeds = errors.New("config: no seeds listed")

// ReadSeeds parses a seed list. name labels errors ("config.txt:3: ...").
// Duplicates are an error: they would distort the ⌊n/2⌋+1 majority.
func ReadSeeds(r io.Reader, name string) ([]netip.AddrPort, error) {
	sc := bufio.NewScanner(r)
	// Room for the longest line and its "\r\n"; longer lines fail the scan
	// (bufio.ErrTooLong) or the length check below, both on line n.
	sc.Buffer(make([]byte, 0, 512), maxLineLen+2)
	seen := make(map[netip.AddrPort]int)
	var out []netip.AddrPort
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
		a, err := wire.ParseAddrPort(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, n, err)
		}
		if prev, dup := seen[a]; dup {
			return nil, fmt.Errorf("%s:%d: seed %s already listed on line %d", name, n, a, prev)
		}
		if len(out) == MaxSeeds {
			return nil, fmt.Errorf("%s:%d: more than %d seeds", name, n, MaxSeeds)
		}
		seen[a] = n
		out = append(out, a)
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

// LoadSeeds reads the seed list from the file at path.
func LoadSeeds(path string) ([]netip.AddrPort, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return ReadSeeds(f, path)
}
