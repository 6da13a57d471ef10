package powerlaw

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadData(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  []int
		zeros int
	}{
		{"plain", "3\n1\n4\n", []int{3, 1, 4}, 0},
		{"no final newline", "3\n1", []int{3, 1}, 0},
		{"float notation", "   3.0000000e+00\n   5.0000000e+00\n1e1\n2.0\n", []int{3, 5, 10, 2}, 0},
		{"comments and blanks", "# header\n\n2 # trailing\n   \n#3\n7\n", []int{2, 7}, 0},
		{"zeros skipped and counted", "0\n5\n0.0\n0e0\n1\n", []int{5, 1}, 3},
		{"crlf and tabs", "\t4\r\n6 \r\n", []int{4, 6}, 0},
		{"empty", "", nil, 0},
		{"only comments", "# nothing\n", nil, 0},
		{"largest", "9007199254740992\n", []int{1 << 53}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, zeros, err := ReadDataZeros(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) || zeros != tt.zeros {
				t.Errorf("got %v with %d zeros, want %v with %d", got, zeros, tt.want, tt.zeros)
			}
			plain, err := ReadData(strings.NewReader(tt.in))
			if err != nil || !slices.Equal(plain, tt.want) {
				t.Errorf("ReadData = %v, %v", plain, err)
			}
		})
	}
}

func TestReadDataErrors(t *testing.T) {
	tests := []struct {
		name, in, wantMsg string
	}{
		{"negative", "1\n2\n-3\n", "line 3: negative value"},
		{"negative float", "-1.0e+00\n", "line 1: negative value"},
		{"fraction", "1\n\n2.5\n", "line 3: not an integer"},
		{"word", "# c\nabc\n", "line 2: not a number"},
		{"two columns", "1 2\n", "line 1: not a number"},
		{"nan", "NaN\n", "line 1: not a number"},
		{"inf", "Inf\n", "line 1: value"},
		{"too large", "9007199254740993\n", "line 1: value"},
		{"huge float", "1e400\n", "line 1: value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadData(strings.NewReader(tt.in))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("error %q does not wrap ErrSyntax", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) || !strings.HasPrefix(err.Error(), "powerlaw: ") {
				t.Errorf("error %q, want it to contain %q", err, tt.wantMsg)
			}
		})
	}
}

func TestReadDataIOError(t *testing.T) {
	_, err := ReadData(iotest.ErrReader(errors.New("disk on fire")))
	if err == nil || errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("error = %v, want the I/O error, not a syntax error", err)
	}
	long := strings.Repeat("1", maxLine+1)
	if _, err := ReadData(strings.NewReader(long)); err == nil {
		t.Error("over-long line accepted")
	}
}

// TestReadReferenceFiles checks the reference files parse as documented,
// condmat2005's isolated authors included.
func TestReadReferenceFiles(t *testing.T) {
	for file, want := range map[string]struct{ n, zeros int }{
		"discrete_data.txt":      {10000, 0},
		"condmat2005-degree.dat": {40421 - 844, 844},
		"celegans-indegree.dat":  {297 - 27, 27},
	} {
		data := readRef(t, file)
		if len(data) != want.n {
			t.Errorf("%s: %d values, want %d", file, len(data), want.n)
		}
	}
}

func TestReadFreqtrack(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []int
	}{
		{"last degree per node", "127.0.0.1:5000=>1\n127.0.0.1:5001=>1\n127.0.0.1:5000=>2\n127.0.0.1:5000=>3\n", []int{3, 1}},
		{"first-seen order", "10.0.0.2:1=>4\n10.0.0.1:1=>5\n10.0.0.2:1=>6\n", []int{6, 5}},
		{"ipv6", "[::1]:5000=>3\n[::1]:5001=>2\n[::1]:5000=>4\n", []int{4, 2}},
		{"same host other port", "[::1]:5000=>3\n127.0.0.1:5000=>7\n", []int{3, 7}},
		{"zero kept", "h:1=>2\nh:1=>0\nh:2=>1\n", []int{0, 1}},
		{"spaces and comments", "# freqtrack\n\n  127.0.0.1:5000 => 2  \r\n", []int{2}},
		{"hostnames", "localhost:80=>1\n", []int{1}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadFreqtrack(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReadFreqtrackErrors(t *testing.T) {
	tests := []struct {
		name, in, wantMsg string
	}{
		{"no arrow", "127.0.0.1:5000=>1\n127.0.0.1:5001 2\n", "line 2: missing \"=>\""},
		{"no node", "=>3\n", "line 1: missing node"},
		{"no port", "127.0.0.1=>3\n", "not host:port"},
		{"bad port", "127.0.0.1:http=>3\n", "bad port"},
		{"port range", "127.0.0.1:70000=>3\n", "bad port"},
		{"bare ipv6", "::1:5000=>3\n", "brackets"},
		{"unclosed bracket", "[::1:5000=>3\n", "not [host]:port"},
		{"empty host", ":5000=>3\n", "no host"},
		{"negative", "h:1=>-1\n", "line 1: negative degree"},
		{"float degree", "h:1=>1.5\n", "not an integer"},
		{"missing degree", "h:1=>\n", "not an integer"},
		{"space in node", "a b:1=>1\n", "spaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadFreqtrack(strings.NewReader(tt.in))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q, want ErrSyntax containing %q", err, tt.wantMsg)
			}
		})
	}
}

func TestReadAuto(t *testing.T) {
	got, err := ReadAuto(strings.NewReader("# log\n[::1]:5000=>3\n[::1]:5000=>5\n"))
	if err != nil || !slices.Equal(got, []int{5}) {
		t.Errorf("freqtrack: %v, %v", got, err)
	}
	got, err = ReadAuto(strings.NewReader("3\n0\n2.0e+00\n"))
	if err != nil || !slices.Equal(got, []int{3, 2}) {
		t.Errorf("data: %v, %v", got, err)
	}
	// A data file with a stray freqtrack line is reported as a bad
	// freqtrack line, the format it resembles.
	if _, err := ReadAuto(strings.NewReader("3\nh:1=>2\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("mixed input: error %v, want one about line 1", err)
	}
	if _, err := ReadAuto(iotest.ErrReader(errors.New("boom"))); err == nil {
		t.Error("I/O error swallowed")
	}
}
