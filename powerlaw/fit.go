package powerlaw

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mathext"
)

// Errors returned by [Estimate] and [EstimateAt] when the data cannot carry a
// fit. Callers that fit many small samples (per-node or per-run degree
// sequences) can tell these apart from bugs with errors.Is.
var (
	// ErrNoData means there was no value ≥ 1 to fit.
	ErrNoData = errors.New("powerlaw: no positive values")
	// ErrTooFewDistinct means the tail holds a single distinct value, for
	// which the likelihood grows without bound as α → ∞.
	ErrTooFewDistinct = errors.New("powerlaw: need at least two distinct values in the tail")
)

// Bounds of the search for α. The likelihood is strictly concave in α
// (log ζ is a log-sum-exp of functions linear in α), so any bracket that
// holds the maximum is safe; α ≤ 1 is not normalisable, and α above 20
// means a "tail" that is essentially the single value xmin.
const (
	alphaLo  = 1 + 1e-6
	alphaHi  = 20.0
	alphaTol = 1e-7
	// alphaWindow is the half-width of the first search around the
	// approximate MLE, alphaEdge how close to the window's edge a result
	// must come to be distrusted.
	alphaWindow = 0.3
	alphaEdge   = 1e-4
)

// Fit is a discrete power law fitted to the tail x ≥ Xmin of a data set.
type Fit struct {
	// Alpha is the maximum-likelihood exponent α.
	Alpha float64 `json:"alpha"`
	// AlphaErr is the standard error of Alpha from the curvature of the
	// log-likelihood (CSN09 eq. 3.6): 1/√(NTail · d²/dα² ln ζ(α, Xmin)).
	AlphaErr float64 `json:"alpha_err"`
	// Xmin is the lower bound of the power-law tail.
	Xmin int `json:"xmin"`
	// N is the number of values ≥ 1 in the data; smaller values are not
	// part of any power law and are ignored.
	N int `json:"n"`
	// NTail is the number of values ≥ Xmin.
	NTail int `json:"n_tail"`
	// KS is the Kolmogorov–Smirnov distance D between the empirical CDF of
	// the tail and the fitted CDF; the xmin search minimises it.
	KS float64 `json:"ks"`
	// LogLikelihood is the log-likelihood of the tail under the fit,
	// −NTail·ln ζ(α, Xmin) − α·Σ ln x.
	LogLikelihood float64 `json:"log_likelihood"`
}

// String formats the fit in the order a reader checks it.
func (f Fit) String() string {
	return fmt.Sprintf("alpha=%.4f±%.4f xmin=%d n_tail=%d/%d D=%.4f logL=%.2f",
		f.Alpha, f.AlphaErr, f.Xmin, f.NTail, f.N, f.KS, f.LogLikelihood)
}

// Estimate fits a discrete power law to data as CSN09 §3 prescribes: for each
// distinct value taken as xmin it finds the exact maximum-likelihood α and
// the KS distance D of the fitted tail, and returns the fit with the smallest
// D, the smallest xmin winning ties. The largest value is never a candidate,
// since a tail of one distinct value has no finite MLE. Values below 1 are
// ignored. data is not modified.
func Estimate(data []int) (Fit, error) {
	t, err := newTally(data)
	if err != nil {
		return Fit{}, err
	}
	return t.estimate()
}

// EstimateAt fits α by exact maximum likelihood for a given xmin, for when
// xmin is known (for example the minimum degree a topology enforces), and
// reports D for that tail. xmin need not occur in the data.
func EstimateAt(data []int, xmin int) (Fit, error) {
	if xmin < 1 {
		return Fit{}, fmt.Errorf("powerlaw: xmin %d < 1", xmin)
	}
	t, err := newTally(data)
	if err != nil {
		return Fit{}, err
	}
	i, _ := slices.BinarySearch(t.vals, xmin)
	if len(t.vals)-i < 2 {
		return Fit{}, ErrTooFewDistinct
	}
	f := t.fitTail(i, xmin, math.Inf(1))
	f.AlphaErr = alphaErr(f.Alpha, xmin, f.NTail)
	return f, nil
}

// tally is data reduced to what the fitter needs: the distinct values with
// their counts and suffix sums, so that every candidate xmin costs time in
// the number of distinct values in its tail rather than in data points.
type tally struct {
	vals    []int     // distinct values ≥ 1, ascending
	counts  []int     // counts[i] = occurrences of vals[i]
	tailN   []int     // tailN[i] = Σ_{j ≥ i} counts[j]
	tailLog []float64 // tailLog[i] = Σ_{j ≥ i} counts[j]·ln vals[j]
	n       int       // number of values ≥ 1
}

func newTally(data []int) (*tally, error) {
	xs := make([]int, 0, len(data))
	for _, x := range data {
		if x >= 1 {
			xs = append(xs, x)
		}
	}
	if len(xs) == 0 {
		return nil, ErrNoData
	}
	slices.Sort(xs)
	t := &tally{n: len(xs)}
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			t.vals = append(t.vals, x)
			t.counts = append(t.counts, 0)
		}
		t.counts[len(t.counts)-1]++
	}
	k := len(t.vals)
	t.tailN = make([]int, k)
	t.tailLog = make([]float64, k)
	n, s := 0, 0.0
	for i := k - 1; i >= 0; i-- {
		n += t.counts[i]
		s += float64(t.counts[i]) * math.Log(float64(t.vals[i]))
		t.tailN[i], t.tailLog[i] = n, s
	}
	return t, nil
}

// estimate runs the xmin scan of CSN09 §3.3.
func (t *tally) estimate() (Fit, error) {
	if len(t.vals) < 2 {
		return Fit{}, ErrTooFewDistinct
	}
	best := Fit{KS: math.Inf(1)}
	for i := 0; i < len(t.vals)-1; i++ {
		// Strict < keeps the smallest xmin among equal distances.
		if f := t.fitTail(i, t.vals[i], best.KS); f.KS < best.KS {
			best = f
		}
	}
	best.AlphaErr = alphaErr(best.Alpha, best.Xmin, best.NTail)
	return best, nil
}

// fitTail fits the tail x ≥ xmin, whose first distinct value is vals[i]
// (vals[i] ≥ xmin; equal when xmin is a data value). The KS distance is
// exact if it is below cutoff; otherwise it is some value ≥ cutoff, which
// is all the xmin scan needs to know about a losing candidate.
func (t *tally) fitTail(i, xmin int, cutoff float64) Fit {
	n := t.tailN[i]
	meanLog := t.tailLog[i] / float64(n)
	q := float64(xmin)
	// Maximise L(α)/n = −ln ζ(α, xmin) − α·mean(ln x).
	negLL := func(a float64) float64 { return math.Log(hurwitz(a, q)) + a*meanLog }
	// The approximation of CSN09 eq. 3.7 is within about 0.15 of the MLE
	// even at xmin = 1, so searching near it first saves a third of the ζ
	// evaluations, which dominate the scan. Should the optimum sit on an
	// edge of that window after all, the full range settles it.
	a0 := 1 + 1/(meanLog-math.Log(q-0.5))
	lo, hi := max(alphaLo, a0-alphaWindow), min(alphaHi, a0+alphaWindow)
	alpha := alphaLo
	if lo < hi { // a0 may be outside the range, or NaN
		alpha = brentMin(negLL, lo, hi, alphaTol)
	}
	if !(alpha-lo > alphaEdge || lo == alphaLo) || !(hi-alpha > alphaEdge || hi == alphaHi) {
		alpha = brentMin(negLL, alphaLo, alphaHi, alphaTol)
	}
	zmin := hurwitz(alpha, q)
	return Fit{
		Alpha:         alpha,
		Xmin:          xmin,
		N:             t.n,
		NTail:         n,
		KS:            t.ks(i, xmin, alpha, zmin, cutoff),
		LogLikelihood: -float64(n)*math.Log(zmin) - alpha*t.tailLog[i],
	}
}

// ks returns the largest gap between the empirical CDF of the tail starting
// at vals[i] and the fitted CDF F(x) = 1 − ζ(α, x+1)/ζ(α, xmin), taken over
// all integers x ≥ xmin as in Clauset's plfit. Both CDFs step only at
// integers and the empirical one only at data values, so on each run of
// integers between two data values the gap is largest at one of its ends:
// it suffices to look at each data value v and at v−1.
//
// The scan stops as soon as the distance reaches cutoff. The xmin scan
// passes the best D so far, and most candidates overshoot it within their
// first few (dense, cheap) values, which spares the ζ evaluations across the
// sparse far tail; that makes the scan, and so the bootstrap, several times
// faster without changing its result.
func (t *tally) ks(i, xmin int, alpha, zmin, cutoff float64) float64 {
	n := float64(t.tailN[i])
	d, cum := 0.0, 0.0
	prev := xmin  // integer whose ζ(α, ·) is held in zprev
	zprev := zmin // ζ(α, prev)
	for j := i; j < len(t.vals); j++ {
		v := t.vals[j]
		z := zetaFrom(alpha, prev, zprev, v) // ζ(α, v) = P(X ≥ v)·zmin
		if v > xmin {
			// At x = v−1 the empirical CDF still has its previous value.
			d = max(d, math.Abs(cum/n-(1-z/zmin)))
		}
		cum += float64(t.counts[j])
		prev, zprev = v+1, z-math.Pow(float64(v), -alpha)
		d = max(d, math.Abs(cum/n-(1-zprev/zmin)))
		if d >= cutoff {
			return d
		}
	}
	return d
}

// zetaFrom returns ζ(α, v) given z = ζ(α, from) for from ≤ v. Data values
// are mostly dense at the low end, where peeling off a few terms of the sum
// is cheaper than a fresh evaluation and just as accurate for a CDF; across
// wider gaps it evaluates ζ afresh.
func zetaFrom(alpha float64, from int, z float64, v int) float64 {
	const maxPeel = 8
	if v-from > maxPeel {
		return hurwitz(alpha, float64(v))
	}
	for k := from; k < v; k++ {
		z -= math.Pow(float64(k), -alpha)
	}
	return z
}

// hurwitz is the Hurwitz zeta function ζ(s, q) = Σ_{k≥0} (k+q)^(−s) for
// s > 1, q > 0. Gonum's implementation (Cephes: direct sum of the first
// terms, then Euler–Maclaurin with Bernoulli corrections) is accurate to a
// few ulps, which is what an exact MLE needs.
func hurwitz(s, q float64) float64 {
	return mathext.Zeta(s, q)
}

// alphaErr is the standard error of the discrete MLE, CSN09 eq. 3.6, with
// the second derivative of ln ζ taken by central differences: the step is
// small enough for the curvature and large enough to stay clear of
// rounding in ln ζ.
func alphaErr(alpha float64, xmin, n int) float64 {
	const h = 1e-4
	q := float64(xmin)
	a := max(alpha, alphaLo+h)
	l0 := math.Log(hurwitz(a, q))
	lm := math.Log(hurwitz(a-h, q))
	lp := math.Log(hurwitz(a+h, q))
	curv := (lp - 2*l0 + lm) / (h * h)
	if curv <= 0 || n == 0 {
		return math.NaN()
	}
	return 1 / math.Sqrt(float64(n)*curv)
}

// brentMin returns a local minimiser of f on [a, b] by Brent's method
// (golden section with parabolic steps; Brent 1973, ch. 5), to within
// about tol plus √ε relative. For a unimodal f such as our negated
// log-likelihood it converges in a dozen or two evaluations where plain
// golden section takes forty.
func brentMin(f func(float64) float64, a, b, tol float64) float64 {
	const (
		cgold   = 0.3819660112501051 // (3 − √5)/2
		sqrtEps = 1.4901161193847656e-08
	)
	x := a + cgold*(b-a)
	w, v := x, x
	fx := f(x)
	fw, fv := fx, fx
	var d, e float64
	for range 200 {
		xm := 0.5 * (a + b)
		tol1 := sqrtEps*math.Abs(x) + tol/3
		tol2 := 2 * tol1
		if math.Abs(x-xm) <= tol2-0.5*(b-a) {
			break
		}
		golden := true
		if math.Abs(e) > tol1 {
			// Parabola through (v, fv), (w, fw), (x, fx).
			r := (x - w) * (fx - fv)
			q := (x - v) * (fx - fw)
			p := (x-v)*q - (x-w)*r
			q = 2 * (q - r)
			if q > 0 {
				p = -p
			}
			q = math.Abs(q)
			etemp := e
			e = d
			if math.Abs(p) < math.Abs(0.5*q*etemp) && p > q*(a-x) && p < q*(b-x) {
				d = p / q
				if u := x + d; u-a < tol2 || b-u < tol2 {
					d = math.Copysign(tol1, xm-x)
				}
				golden = false
			}
		}
		if golden {
			if x >= xm {
				e = a - x
			} else {
				e = b - x
			}
			d = cgold * e
		}
		u := x + d
		if math.Abs(d) < tol1 {
			u = x + math.Copysign(tol1, d)
		}
		fu := f(u)
		if fu <= fx {
			if u >= x {
				a = x
			} else {
				b = x
			}
			v, fv, w, fw, x, fx = w, fw, x, fx, u, fu
			continue
		}
		if u < x {
			a = u
		} else {
			b = u
		}
		switch {
		case fu <= fw || w == x:
			v, fv, w, fw = w, fw, u, fu
		case fu <= fv || v == x || v == w:
			v, fv = u, fu
		}
	}
	return x
}
