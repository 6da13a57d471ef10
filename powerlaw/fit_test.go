package powerlaw

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// near reports whether got is within tol of want.
func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

// TestEstimateReference checks the fitter against the figures published for
// the reference data sets (testdata/powerlaw/EXPECTED.md): CSN09 Table 6.1
// for words and terrorism, the output of Clauset's own code for
// discrete_data. Tolerances are half a unit in the last published digit
// unless EXPECTED.md says otherwise.
func TestEstimateReference(t *testing.T) {
	tests := []struct {
		file     string
		n        int
		xmin     int
		alpha    float64
		alphaTol float64
		nTail    int     // 0: not published
		ks       float64 // 0: not published
		ksTol    float64
		logL     float64 // 0: not published
	}{
		{file: "words.txt", n: 18855, xmin: 7, alpha: 1.9527, alphaTol: 0.005, nTail: 2958, ks: 0.0083, ksTol: 0.00005},
		{file: "terrorism.txt", n: 9101, xmin: 12, alpha: 2.370, alphaTol: 0.005, nTail: 547, ks: 0.018, ksTol: 0.0005},
		{file: "discrete_data.txt", n: 10000, xmin: 2, alpha: 2.58, alphaTol: 0.005, logL: -9155.6},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			fit, err := Estimate(readRef(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%v", fit)
			if fit.N != tt.n {
				t.Errorf("N = %d, want %d", fit.N, tt.n)
			}
			if fit.Xmin != tt.xmin {
				t.Errorf("xmin = %d, want %d", fit.Xmin, tt.xmin)
			}
			if !near(fit.Alpha, tt.alpha, tt.alphaTol) {
				t.Errorf("alpha = %.5f, want %.4f ± %g", fit.Alpha, tt.alpha, tt.alphaTol)
			}
			if tt.nTail != 0 && fit.NTail != tt.nTail {
				t.Errorf("n_tail = %d, want %d", fit.NTail, tt.nTail)
			}
			if tt.ks != 0 && !near(fit.KS, tt.ks, tt.ksTol) {
				t.Errorf("D = %.5f, want %g ± %g", fit.KS, tt.ks, tt.ksTol)
			}
			if tt.logL != 0 && !near(fit.LogLikelihood, tt.logL, 0.05) {
				t.Errorf("log-likelihood = %.3f, want %.1f", fit.LogLikelihood, tt.logL)
			}
			if !(fit.AlphaErr > 0 && fit.AlphaErr < 0.1) {
				t.Errorf("alpha error = %g, want a small positive number", fit.AlphaErr)
			}
		})
	}
}

// TestEstimateAtMatchesScan checks that the xmin scan really returns the
// candidate with the smallest D, the smallest such xmin on ties, and that
// EstimateAt reproduces the scan's fit at the chosen xmin.
func TestEstimateAtMatchesScan(t *testing.T) {
	for _, file := range []string{"celegans-totaldegree.dat", "terrorism.txt"} {
		data := readRef(t, file)
		fit, err := Estimate(data)
		if err != nil {
			t.Fatal(err)
		}
		vals := slices.Compact(slices.Sorted(slices.Values(data)))
		for _, v := range vals[:len(vals)-1] {
			f, err := EstimateAt(data, v)
			if err != nil {
				t.Fatalf("%s: EstimateAt(%d): %v", file, v, err)
			}
			switch {
			case v < fit.Xmin && f.KS <= fit.KS:
				t.Errorf("%s: xmin %d has D %.6f ≤ chosen D %.6f at larger xmin %d", file, v, f.KS, fit.KS, fit.Xmin)
			case v > fit.Xmin && f.KS < fit.KS:
				t.Errorf("%s: xmin %d has D %.6f < chosen D %.6f", file, v, f.KS, fit.KS)
			case v == fit.Xmin && f != fit:
				t.Errorf("%s: EstimateAt(%d) = %v, scan gave %v", file, v, f, fit)
			}
		}
	}
}

// TestKSBruteForce recomputes D the way Clauset's plfit does, over every
// integer from xmin to the largest value with a fresh ζ for each, to check
// the shortcuts in tally.ks (data values and their predecessors only, ζ by
// peeling terms across small gaps).
func TestKSBruteForce(t *testing.T) {
	for _, file := range []string{"terrorism.txt", "celegans-indegree.dat", "discrete_data.txt"} {
		data := readRef(t, file)
		maxX := slices.Max(data)
		for _, xmin := range []int{1, 2, 5, 12, 30} {
			fit, err := EstimateAt(data, xmin)
			if err != nil {
				continue // tail too small for this file
			}
			counts := make([]float64, maxX+2)
			for _, x := range data {
				if x >= xmin {
					counts[x]++
				}
			}
			zmin := hurwitz(fit.Alpha, float64(xmin))
			d, cum := 0.0, 0.0
			for x := xmin; x <= maxX; x++ {
				cum += counts[x] / float64(fit.NTail)
				model := 1 - hurwitz(fit.Alpha, float64(x+1))/zmin
				d = max(d, math.Abs(cum-model))
			}
			if !near(fit.KS, d, 1e-9) {
				t.Errorf("%s xmin=%d: D = %.12f, brute force %.12f", file, xmin, fit.KS, d)
			}
		}
	}
}

// TestMLEIsMaximum checks that α maximises the likelihood: nudging it
// either way must lower the log-likelihood.
func TestMLEIsMaximum(t *testing.T) {
	data := readRef(t, "discrete_data.txt")
	fit, err := EstimateAt(data, 2)
	if err != nil {
		t.Fatal(err)
	}
	sumLog := 0.0
	for _, x := range data {
		if x >= fit.Xmin {
			sumLog += math.Log(float64(x))
		}
	}
	ll := func(a float64) float64 {
		return -float64(fit.NTail)*math.Log(hurwitz(a, float64(fit.Xmin))) - a*sumLog
	}
	if !near(ll(fit.Alpha), fit.LogLikelihood, 1e-6) {
		t.Errorf("LogLikelihood = %.6f, recomputed %.6f", fit.LogLikelihood, ll(fit.Alpha))
	}
	for _, h := range []float64{-1e-4, 1e-4} {
		if ll(fit.Alpha+h) >= fit.LogLikelihood {
			t.Errorf("L(α%+g) = %.9f ≥ L(α) = %.9f", h, ll(fit.Alpha+h), fit.LogLikelihood)
		}
	}
}

// TestEstimateSynthetic fits data with a known answer: a power law with
// α = 2.5 from xmin = 3 on top of a body at 1 and 2 that is not a power
// law, so that the scan has something to find.
func TestEstimateSynthetic(t *testing.T) {
	r := rand.New(rand.NewPCG(20090601, 1))
	s := NewSampler(2.5, 3)
	data := make([]int, 0, 30000)
	for range 20000 {
		data = append(data, s.Sample(r))
	}
	for range 10000 {
		data = append(data, 1+r.IntN(2))
	}
	fit, err := Estimate(data)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v", fit)
	// The KS criterion is noisy at the bottom of the tail: in about one
	// sample in five of this size it settles a step or two above the true
	// xmin (trading a few points for a slightly closer fit), which CSN09
	// §3.5 report too. This seed finds 3 exactly; the range keeps the test
	// honest about what the method promises.
	if fit.Xmin < 3 || fit.Xmin > 5 {
		t.Errorf("xmin = %d, want 3 (or just above)", fit.Xmin)
	}
	if !near(fit.Alpha, 2.5, 0.05) {
		t.Errorf("alpha = %.4f, want 2.5 ± 0.05", fit.Alpha)
	}
	if fit.Xmin == 3 && fit.NTail != 20000 {
		t.Errorf("n_tail = %d, want 20000", fit.NTail)
	}
}

func TestEstimateErrors(t *testing.T) {
	if _, err := Estimate(nil); !errors.Is(err, ErrNoData) {
		t.Errorf("Estimate(nil) error = %v, want ErrNoData", err)
	}
	if _, err := Estimate([]int{0, -1, 0}); !errors.Is(err, ErrNoData) {
		t.Errorf("Estimate(non-positive) error = %v, want ErrNoData", err)
	}
	if _, err := Estimate([]int{4, 4, 4, 0}); !errors.Is(err, ErrTooFewDistinct) {
		t.Errorf("Estimate(one value) error = %v, want ErrTooFewDistinct", err)
	}
	if _, err := EstimateAt([]int{1, 2, 3}, 3); !errors.Is(err, ErrTooFewDistinct) {
		t.Errorf("EstimateAt(tail of one value) error = %v, want ErrTooFewDistinct", err)
	}
	if _, err := EstimateAt([]int{1, 2, 3}, 0); err == nil {
		t.Error("EstimateAt(xmin 0) succeeded")
	}
	// The smallest usable input: two distinct values.
	fit, err := Estimate([]int{1, 2})
	if err != nil || fit.Xmin != 1 || fit.NTail != 2 {
		t.Errorf("Estimate([1 2]) = %v, %v", fit, err)
	}
}

// TestEstimateIgnoresNonPositive checks that zeros and negative values are
// left out rather than breaking the fit, and that data is not reordered.
func TestEstimateIgnoresNonPositive(t *testing.T) {
	data := readRef(t, "celegans-totaldegree.dat")
	want, err := Estimate(data)
	if err != nil {
		t.Fatal(err)
	}
	padded := append([]int{0, -3, 0}, data...)
	orig := slices.Clone(padded)
	got, err := Estimate(padded)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("with zeros: %v, without: %v", got, want)
	}
	if !slices.Equal(padded, orig) {
		t.Error("Estimate modified its input")
	}
}

func TestHurwitz(t *testing.T) {
	z2 := math.Pi * math.Pi / 6
	tests := []struct{ s, q, want float64 }{
		{2, 1, z2},
		{2, 3, z2 - 1 - 0.25},
		{4, 1, math.Pow(math.Pi, 4) / 90},
		{2, 0.5, 3 * z2}, // ζ(s, ½) = (2^s − 1) ζ(s)
	}
	for _, tt := range tests {
		if got := hurwitz(tt.s, tt.q); !near(got, tt.want, 1e-13*tt.want) {
			t.Errorf("ζ(%g, %g) = %.16g, want %.16g", tt.s, tt.q, got, tt.want)
		}
	}
}

func TestBrentMin(t *testing.T) {
	got := brentMin(func(x float64) float64 { return (x - 2.345678) * (x - 2.345678) * (1 + x) }, 1, 20, 1e-9)
	if !near(got, 2.345678, 1e-7) {
		t.Errorf("brentMin = %.9f, want 2.345678", got)
	}
	// A minimum at the bracket's edge is approached, not overshot.
	got = brentMin(func(x float64) float64 { return x }, 1, 20, 1e-9)
	if !near(got, 1, 1e-6) {
		t.Errorf("brentMin(x) on [1, 20] = %g, want 1", got)
	}
}

func BenchmarkEstimate(b *testing.B) {
	for _, file := range []string{"words.txt", "terrorism.txt"} {
		data := readRef(b, file)
		b.Run(file, func(b *testing.B) {
			for b.Loop() {
				if _, err := Estimate(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
