package powerlaw

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzReadData checks that the data reader never panics, that what it
// accepts is what the format allows, and that printing the values back out
// and reading them again gives the same values.
func FuzzReadData(f *testing.F) {
	for _, s := range []string{
		"1\n2\n3\n", "   3.0000000e+00\n", "# c\n\n0\n5 # x\n", "-1\n", "2.5\n",
		"1e400\n", "NaN\n", "0x10\n", "9007199254740993\n", "\r\n\t7\r\n",
	} {
		f.Add([]byte(s))
	}
	if b, err := os.ReadFile(filepath.Join(refDir, "celegans-indegree.dat")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		xs, zeros, err := ReadDataZeros(bytes.NewReader(in))
		if err != nil {
			return
		}
		if zeros < 0 {
			t.Fatalf("negative zero count %d", zeros)
		}
		var out strings.Builder
		for _, x := range xs {
			if x < 1 || x > maxValue {
				t.Fatalf("accepted value %d", x)
			}
			fmt.Fprintln(&out, x)
		}
		again, err := ReadData(strings.NewReader(out.String()))
		if err != nil || !slices.Equal(again, xs) {
			t.Fatalf("round trip: %v, %v; want %v", again, err, xs)
		}
	})
}

// FuzzReadFreqtrack checks that the freqtrack reader never panics, returns
// at most one degree per line, and that ReadAuto agrees with it on any
// input that contains the "=>" marker.
func FuzzReadFreqtrack(f *testing.F) {
	for _, s := range []string{
		"127.0.0.1:5000=>1\n127.0.0.1:5000=>2\n", "[::1]:5000=>3\n", "=>\n", "[::1=>2\n",
		"a:1=>-1\n", "h:1=>1=>2\n", "# x\n\nh:65535=>0\n", "[]:1=>1\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		ds, err := ReadFreqtrack(bytes.NewReader(in))
		if err != nil {
			return
		}
		if len(ds) > bytes.Count(in, []byte("\n"))+1 {
			t.Fatalf("%d degrees from %d lines", len(ds), bytes.Count(in, []byte("\n"))+1)
		}
		for _, d := range ds {
			if d < 0 {
				t.Fatalf("negative degree %d", d)
			}
		}
		if bytes.Contains(in, []byte("=>")) {
			auto, err := ReadAuto(bytes.NewReader(in))
			if err != nil || !slices.Equal(auto, ds) {
				t.Fatalf("ReadAuto = %v, %v; ReadFreqtrack = %v", auto, err, ds)
			}
		}
	})
}
