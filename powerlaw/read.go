package powerlaw

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// maxLine bounds the length of one input line. Both formats have short
// lines; the bound keeps a corrupt or hostile file from being buffered whole.
const maxLine = 64 << 10

// maxValue is the largest value accepted. Beyond 2^53 a float64 no longer
// holds every integer, so float notation could silently change the value, and
// the fitter works in float64 logarithms anyway.
const maxValue = 1 << 53

// ErrSyntax is wrapped by every error about a malformed input line, so that
// callers can tell bad data from failing I/O with errors.Is.
var ErrSyntax = errors.New("powerlaw: syntax error")

// ReadData reads integer data, one value per line, as in Clauset's reference
// data sets. A value may be written in float notation (3.0000000e+00) as long
// as it is a whole number. Blank lines and text after '#' are ignored. Zeros
// are skipped, because a power law has no mass at zero; use [ReadDataZeros]
// to learn how many there were. Negative or fractional values are an error
// naming the line, since they mean the file is not what the caller thinks.
func ReadData(r io.Reader) ([]int, error) {
	xs, _, err := ReadDataZeros(r)
	return xs, err
}

// ReadDataZeros is [ReadData] that also reports how many zeros it skipped,
// so that a report can say how much of the data the fit could not use
// (condmat2005-degree.dat, for one, has 844 isolated authors).
func ReadDataZeros(r io.Reader) (values []int, zeros int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	line := 0
	for sc.Scan() {
		line++
		s := sc.Text()
		if i := strings.IndexByte(s, '#'); i >= 0 {
			s = s[:i]
		}
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		v, err := parseCount(s)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: line %d: %w", ErrSyntax, line, err)
		}
		if v == 0 {
			zeros++
			continue
		}
		values = append(values, v)
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("powerlaw: line %d: %w", line+1, err)
	}
	return values, zeros, nil
}

// parseCount parses a non-negative whole number written either as an integer
// or in float notation. The error text is meant to be read after "line N: ".
func parseCount(s string) (int, error) {
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		switch {
		case v < 0:
			return 0, fmt.Errorf("negative value %q", s)
		case v > maxValue:
			return 0, fmt.Errorf("value %q too large", s)
		}
		return int(v), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange):
		return 0, fmt.Errorf("not a number: %q", s)
	case math.IsNaN(f):
		return 0, fmt.Errorf("not a number: %q", s)
	case f < 0:
		return 0, fmt.Errorf("negative value %q", s)
	case f > maxValue: // also catches +Inf and overflow
		return 0, fmt.Errorf("value %q too large", s)
	case f != math.Trunc(f):
		return 0, fmt.Errorf("not an integer: %q", s)
	}
	return int(f), nil
}

// ReadFreqtrack reads a freqtrack.log, whose lines have the form
// IP:PORT=>degree (IPv6 hosts in brackets, [::1]:5000=>3). A node appends a
// line whenever its degree changes, so the current degree of a node is its
// last line; ReadFreqtrack returns one degree per node, in the order the
// nodes first appear, which makes the result stable for a given log.
// Degrees of zero are kept: an isolated node is a fact about the network,
// and the plots show it ([Estimate] ignores values below 1 by itself).
// Blank lines and lines starting with '#' are ignored.
func ReadFreqtrack(r io.Reader) ([]int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	index := make(map[string]int) // node -> position in degrees
	var degrees []int
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		node, degree, err := parseFreqtrackLine(s)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrSyntax, line, err)
		}
		if i, ok := index[node]; ok {
			degrees[i] = degree
			continue
		}
		index[node] = len(degrees)
		degrees = append(degrees, degree)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("powerlaw: line %d: %w", line+1, err)
	}
	return degrees, nil
}

// parseFreqtrackLine splits one trimmed freqtrack line into node and degree.
// The node is checked only for shape (host:port, no spaces), not resolved:
// the log is written by our own peers and may name hosts by any spelling.
func parseFreqtrackLine(s string) (node string, degree int, err error) {
	i := strings.LastIndex(s, "=>")
	if i < 0 {
		return "", 0, fmt.Errorf("missing \"=>\" in %q", s)
	}
	node = strings.TrimSpace(s[:i])
	if node == "" {
		return "", 0, fmt.Errorf("missing node before \"=>\" in %q", s)
	}
	if strings.ContainsAny(node, " \t") {
		return "", 0, fmt.Errorf("node %q contains spaces", node)
	}
	if err := checkHostPort(node); err != nil {
		return "", 0, err
	}
	d := strings.TrimSpace(s[i+2:])
	v, err := strconv.Atoi(d)
	switch {
	case err != nil:
		return "", 0, fmt.Errorf("degree %q is not an integer", d)
	case v < 0:
		return "", 0, fmt.Errorf("negative degree %q", d)
	case v > maxValue:
		return "", 0, fmt.Errorf("degree %q too large", d)
	}
	return node, v, nil
}

// checkHostPort accepts host:port and [ipv6]:port with a numeric port.
// net.SplitHostPort would also do, but it accepts an empty host and any port
// text, and its errors talk about "address" rather than the log line.
func checkHostPort(node string) error {
	var host, port string
	if node[0] == '[' {
		end := strings.IndexByte(node, ']')
		if end < 0 || end+1 >= len(node) || node[end+1] != ':' {
			return fmt.Errorf("node %q is not [host]:port", node)
		}
		host, port = node[1:end], node[end+2:]
	} else {
		i := strings.LastIndexByte(node, ':')
		if i < 0 {
			return fmt.Errorf("node %q is not host:port", node)
		}
		host, port = node[:i], node[i+1:]
		if strings.IndexByte(host, ':') >= 0 {
			return fmt.Errorf("node %q: IPv6 hosts must be in brackets", node)
		}
	}
	if host == "" {
		return fmt.Errorf("node %q has no host", node)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("node %q has a bad port", node)
	}
	return nil
}

// ReadAuto reads either format: input containing "=>" anywhere is taken for
// a freqtrack.log ([ReadFreqtrack]), anything else for plain data
// ([ReadData]). Neither format can contain the other's marker, so the guess
// cannot misfire on valid input, and the error for invalid input is the one
// of the format the file resembles.
func ReadAuto(r io.Reader) ([]int, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("powerlaw: %w", err)
	}
	if bytes.Contains(b, []byte("=>")) {
		return ReadFreqtrack(bytes.NewReader(b))
	}
	return ReadData(bytes.NewReader(b))
}
