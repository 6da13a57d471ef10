package powerlaw

import (
	"math"
	"slices"
)

// CCDF returns the empirical complementary CDF of the values ≥ 1 in data:
// xs are the distinct values in increasing order and ps[i] = P(X ≥ xs[i]),
// the fraction of values at least xs[i]. This is the curve CSN09 plot,
// because on log-log axes a power law is a straight line with slope 1 − α
// and, unlike a histogram, it needs no binning. ps[0] is 1 and every ps[i]
// is positive, so both axes can be logarithmic. Values below 1 are left out
// for the same reason. data is not modified.
func CCDF(data []int) (xs []int, ps []float64) {
	sorted := make([]int, 0, len(data))
	for _, x := range data {
		if x >= 1 {
			sorted = append(sorted, x)
		}
	}
	slices.Sort(sorted)
	n := float64(len(sorted))
	for i, x := range sorted {
		if i == 0 || x != sorted[i-1] {
			xs = append(xs, x)
			// i values are smaller than x, so n−i are at least x.
			ps = append(ps, (n-float64(i))/n)
		}
	}
	return xs, ps
}

// CCDFAt returns the fitted model's P(X ≥ x) for x ≥ f.Xmin, scaled by the
// tail fraction NTail/N so that it meets the empirical [CCDF] of the whole
// data set at Xmin and runs alongside it from there (as the Python powerlaw
// package draws its fits). It returns NaN for x < Xmin, where the model says
// nothing, and for a zero Fit.
func (f Fit) CCDFAt(x int) float64 {
	if x < f.Xmin || f.Xmin < 1 || !(f.Alpha > 1) || f.N == 0 {
		return math.NaN()
	}
	scale := float64(f.NTail) / float64(f.N)
	return scale * hurwitz(f.Alpha, float64(x)) / hurwitz(f.Alpha, float64(f.Xmin))
}
