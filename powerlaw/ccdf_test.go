package powerlaw

import (
	"math"
	"slices"
	"testing"
)

func TestCCDF(t *testing.T) {
	xs, ps := CCDF([]int{5, 1, 0, 2, 1, -4})
	if !slices.Equal(xs, []int{1, 2, 5}) || !slices.Equal(ps, []float64{1, 0.5, 0.25}) {
		t.Errorf("CCDF = %v, %v; want [1 2 5], [1 0.5 0.25]", xs, ps)
	}
	if xs, ps := CCDF(nil); xs != nil || ps != nil {
		t.Errorf("CCDF(nil) = %v, %v", xs, ps)
	}
}

// TestCCDFAt checks that the model curve starts on the empirical CCDF at
// xmin, decreases, and follows the data through the tail.
func TestCCDFAt(t *testing.T) {
	data := readRef(t, "words.txt")
	fit, err := Estimate(data)
	if err != nil {
		t.Fatal(err)
	}
	xs, ps := CCDF(data)
	i, ok := slices.BinarySearch(xs, fit.Xmin)
	if !ok {
		t.Fatalf("xmin %d is not a data value", fit.Xmin)
	}
	if got := fit.CCDFAt(fit.Xmin); !near(got, ps[i], 1e-12) {
		t.Errorf("CCDFAt(xmin) = %g, empirical %g", got, ps[i])
	}
	prev := math.Inf(1)
	for j := i; j < len(xs); j++ {
		m := fit.CCDFAt(xs[j])
		if !(m < prev) || m <= 0 {
			t.Fatalf("CCDFAt(%d) = %g after %g", xs[j], m, prev)
		}
		prev = m
		// The KS distance bounds the gap in the tail's own CDF; scaled by
		// the tail fraction it bounds the gap here.
		if gap := math.Abs(m - ps[j]); gap > fit.KS*float64(fit.NTail)/float64(fit.N)+1e-12 {
			t.Errorf("at %d model %g, data %g: gap beyond D", xs[j], m, ps[j])
		}
	}
	if !math.IsNaN(fit.CCDFAt(fit.Xmin-1)) || !math.IsNaN(Fit{}.CCDFAt(3)) {
		t.Error("CCDFAt below xmin or of a zero Fit is not NaN")
	}
}
