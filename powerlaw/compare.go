package powerlaw

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/optimize"
)

// Comparison is the outcome of Vuong's likelihood-ratio test between the
// fitted power law and an alternative distribution, both fitted by maximum
// likelihood to the same tail x ≥ xmin (CSN09 §5.1).
type Comparison struct {
	// Alternative names the other distribution: "exponential" or
	// "lognormal".
	Alternative string `json:"alternative"`
	// Params are the alternative's fitted parameters: "lambda" for the
	// exponential, "mu" and "sigma" for the lognormal.
	Params map[string]float64 `json:"params"`
	// LogLikelihoodRatio is Σ (ln p_powerlaw(x) − ln p_alt(x)) over the tail.
	LogLikelihoodRatio float64 `json:"log_likelihood_ratio"`
	// R is the normalised ratio LogLikelihoodRatio/(σ√n), with σ the
	// standard deviation of the pointwise differences; it is asymptotically
	// standard normal when both models fit equally well. Positive favours
	// the power law, negative the alternative.
	R float64 `json:"r"`
	// P is the two-sided p-value of R. A small P means the sign of R can be
	// trusted; a large one means the data cannot tell the models apart.
	P float64 `json:"p"`
}

// Favours reports the model the test supports at significance level alpha
// (CSN09 use 0.1): "power law", the alternative's name, or "" when the
// test cannot tell them apart.
func (c Comparison) Favours(alpha float64) string {
	switch {
	case c.P >= alpha:
		return ""
	case c.R > 0:
		return "power law"
	default:
		return c.Alternative
	}
}

// CompareExponential tests fit against the discrete exponential
// p(x) = (1 − e^(−λ)) e^(−λ(x − xmin)) on the same tail, λ fitted by maximum
// likelihood. An exponential tail is the textbook "not heavy-tailed" case, so
// a power law that cannot beat it decisively is in trouble.
func CompareExponential(data []int, fit Fit) (Comparison, error) {
	tail, err := tailOf(data, fit)
	if err != nil {
		return Comparison{}, err
	}
	// The tail shifted by xmin is geometric, whose MLE is closed-form:
	// e^(−λ) = m/(1+m) with m the mean excess over xmin.
	m := 0.0
	for _, x := range tail {
		m += float64(x - fit.Xmin)
	}
	m /= float64(len(tail))
	if m == 0 {
		return Comparison{}, ErrTooFewDistinct
	}
	lambda := math.Log1p(1 / m)
	logNorm := math.Log(-math.Expm1(-lambda))
	alt := func(x int) float64 { return logNorm - lambda*float64(x-fit.Xmin) }
	c := vuong(tail, fit, alt)
	c.Alternative = "exponential"
	c.Params = map[string]float64{"lambda": lambda}
	return c, nil
}

// CompareLognormal tests fit against the lognormal discretised by rounding
// and conditioned on the tail, p(x) = [S(x−½) − S(x+½)] / S(xmin−½), with S
// the survival function of the continuous lognormal; μ and σ are fitted by
// maximum likelihood. This is the discrete lognormal of Shalizi's code that
// accompanies CSN09 (and of the R package poweRlaw). The lognormal is the
// hardest alternative to beat: over a few decades it can mimic a power law,
// and a large P is then the honest answer.
func CompareLognormal(data []int, fit Fit) (Comparison, error) {
	tail, err := tailOf(data, fit)
	if err != nil {
		return Comparison{}, err
	}
	mu, sigma, err := fitLognormal(tail, fit.Xmin)
	if err != nil {
		return Comparison{}, err
	}
	logNorm := logSurvNormal((math.Log(float64(fit.Xmin)-0.5) - mu) / sigma)
	alt := func(x int) float64 { return logLognormalMass(x, mu, sigma) - logNorm }
	c := vuong(tail, fit, alt)
	c.Alternative = "lognormal"
	c.Params = map[string]float64{"mu": mu, "sigma": sigma}
	return c, nil
}

// tailOf returns the values of data at or above fit.Xmin.
func tailOf(data []int, fit Fit) ([]int, error) {
	if !(fit.Alpha > 1) || fit.Xmin < 1 {
		return nil, fmt.Errorf("powerlaw: compare needs a fit with alpha > 1 and xmin ≥ 1, got %v", fit)
	}
	var tail []int
	for _, x := range data {
		if x >= fit.Xmin {
			tail = append(tail, x)
		}
	}
	if len(tail) < 2 {
		return nil, ErrTooFewDistinct
	}
	return tail, nil
}

// vuong computes the normalised log-likelihood ratio of the power law fit
// against the alternative log-mass alt, and its two-sided p-value
// erfc(|R|/√2) (CSN09 eqs. 5.3–5.5).
func vuong(tail []int, fit Fit, alt func(int) float64) Comparison {
	logZ := math.Log(hurwitz(fit.Alpha, float64(fit.Xmin)))
	diffs := make([]float64, len(tail))
	sum := 0.0
	for i, x := range tail {
		diffs[i] = -fit.Alpha*math.Log(float64(x)) - logZ - alt(x)
		sum += diffs[i]
	}
	n := float64(len(tail))
	mean := sum / n
	ss := 0.0
	for _, d := range diffs {
		ss += (d - mean) * (d - mean)
	}
	sd := math.Sqrt(ss / n)
	c := Comparison{LogLikelihoodRatio: sum}
	if sd == 0 || math.IsNaN(sd) {
		// Identical pointwise likelihoods: nothing to choose between.
		c.P = 1
		return c
	}
	c.R = sum / (sd * math.Sqrt(n))
	c.P = math.Erfc(math.Abs(c.R) / math.Sqrt2)
	return c
}

// fitLognormal maximises the tail likelihood of the discretised lognormal.
// It works in (μ, ln σ) so that σ stays positive without constraints, starts
// from the moments of ln x, and runs Nelder–Mead, which does not need the
// gradient and copes with the long flat ridge the likelihood has when the
// tail looks like a power law (μ → −∞, σ → ∞).
func fitLognormal(tail []int, xmin int) (mu, sigma float64, err error) {
	// Reduce to distinct values: the likelihood is evaluated a few hundred
	// times and the tail can be large.
	xs := slices.Clone(tail)
	slices.Sort(xs)
	var vals []int
	var counts []float64
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			vals = append(vals, x)
			counts = append(counts, 0)
		}
		counts[len(counts)-1]++
	}
	if len(vals) < 2 {
		return 0, 0, ErrTooFewDistinct
	}
	lx := math.Log(float64(xmin) - 0.5)
	negLL := func(p []float64) float64 {
		mu, sigma := p[0], math.Exp(p[1])
		if !(sigma > 0) || math.IsInf(sigma, 0) {
			return math.Inf(1)
		}
		ll := -float64(len(xs)) * logSurvNormal((lx-mu)/sigma)
		for i, v := range vals {
			ll += counts[i] * logLognormalMass(v, mu, sigma)
		}
		if math.IsNaN(ll) {
			return math.Inf(1)
		}
		return -ll
	}
	m, s := 0.0, 0.0
	for _, x := range xs {
		m += math.Log(float64(x))
	}
	m /= float64(len(xs))
	for _, x := range xs {
		d := math.Log(float64(x)) - m
		s += d * d
	}
	s = math.Sqrt(s / float64(len(xs)))
	if s == 0 {
		s = 1
	}
	best, bestF := []float64{m, math.Log(s)}, math.Inf(1)
	// Restarting from the previous optimum lets Nelder–Mead rebuild a
	// simplex that has collapsed along the ridge; two or three rounds
	// settle the likelihood to many digits.
	for range 5 {
		x, f := nelderMead(negLL, best, 0.5, 1e-12, 2000)
		improved := bestF - f
		if !(f < bestF) {
			break
		}
		best, bestF = x, f
		if improved < 1e-9 {
			break
		}
	}
	if math.IsInf(bestF, 0) || math.IsNaN(bestF) {
		return 0, 0, fmt.Errorf("powerlaw: lognormal fit did not converge")
	}
	return best[0], math.Exp(best[1]), nil
}

// logLognormalMass returns ln[S(x−½) − S(x+½)] for the lognormal (μ, σ),
// computed so that it stays accurate far in either tail and when σ is so
// large that the interval is a sliver of the normal's scale.
func logLognormalMass(x int, mu, sigma float64) float64 {
	a := (math.Log(float64(x)-0.5) - mu) / sigma
	b := (math.Log(float64(x)+0.5) - mu) / sigma
	w := b - a
	if w < 1e-5 {
		// Midpoint rule: the mass is φ(m)·w with relative error w²/24·|m²−1|,
		// better than any difference of two nearly equal probabilities.
		mid := 0.5 * (a + b)
		return math.Log(w) - 0.5*mid*mid - 0.5*math.Log(2*math.Pi)
	}
	switch {
	case a >= 0:
		// Upper tail: difference of survival probabilities, in logs.
		la, lb := logSurvNormal(a), logSurvNormal(b)
		return la + math.Log(-math.Expm1(lb-la))
	case b <= 0:
		// Lower tail: mirror image.
		la, lb := logSurvNormal(-b), logSurvNormal(-a)
		return la + math.Log(-math.Expm1(lb-la))
	default:
		// Straddling the median: erf values of opposite sign add up, so
		// there is no cancellation.
		return math.Log(0.5 * (math.Erf(b/math.Sqrt2) - math.Erf(a/math.Sqrt2)))
	}
}

// logSurvNormal returns ln P(Z > z) for a standard normal Z. math.Erfc is
// accurate until it underflows near z = 37; beyond, the asymptotic series
// P(Z > z) = φ(z)/z · (1 − 1/z² + 3/z⁴ − 15/z⁶ + …) is accurate to far more
// digits than a float64 holds.
func logSurvNormal(z float64) float64 {
	if z < 30 {
		return math.Log(0.5 * math.Erfc(z/math.Sqrt2))
	}
	z2 := 1 / (z * z)
	series := 1 - z2*(1-3*z2*(1-5*z2*(1-7*z2)))
	return -0.5*z*z - math.Log(z) - 0.5*math.Log(2*math.Pi) + math.Log(series)
}

// nelderMead minimises f from x0 with gonum's Nelder–Mead simplex method
// (standard coefficients: reflection 1, expansion 2, contraction ½,
// shrink ½), starting from a simplex of edge step. It stops once the best
// value has not improved by more than ftol (absolute) in 50 consecutive
// simplex updates, or after maxEval evaluations, and returns the best
// vertex and its value (x0 and f(x0) if the method fails outright).
func nelderMead(f func([]float64) float64, x0 []float64, step, ftol float64, maxEval int) ([]float64, float64) {
	res, err := optimize.Minimize(optimize.Problem{Func: f}, x0, &optimize.Settings{
		FuncEvaluations: maxEval,
		Converger:       &optimize.FunctionConverge{Absolute: ftol, Iterations: 50},
	}, &optimize.NelderMead{SimplexSize: step})
	if res == nil || err != nil && res.X == nil {
		return slices.Clone(x0), f(x0)
	}
	return res.X, res.F
}
