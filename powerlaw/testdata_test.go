package powerlaw

import (
	"os"
	"path/filepath"
	"testing"
)

// refDir holds the reference data sets with published fits; EXPECTED.md
// there lists the figures the tests below check.
const refDir = "../testdata/powerlaw"

// readRef reads a reference data set, failing the test if it cannot.
func readRef(t testing.TB, name string) []int {
	t.Helper()
	f, err := os.Open(filepath.Join(refDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	xs, err := ReadData(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return xs
}
