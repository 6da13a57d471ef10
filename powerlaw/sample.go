package powerlaw

import (
	"math"
	"math/rand/v2"
	"sort"
)

// Sampler draws from the discrete power law p(x) = x^(−α)/ζ(α, xmin),
// x ≥ xmin, by exact inversion of its CDF. Inversion matters: the popular
// continuous approximation ⌊(xmin−½)(1−u)^(−1/(α−1)) + ½⌋ (CSN09 App. D)
// is visibly biased at small xmin, and a biased generator would bias every
// bootstrap p-value computed with it.
//
// A Sampler is safe for concurrent use once built; each goroutine passes its
// own *rand.Rand.
type Sampler struct {
	alpha float64
	xmin  int
	zmin  float64 // ζ(α, xmin)
	// surv[k] = P(X ≥ xmin+k+1), decreasing. Most draws land here and cost
	// a binary search; only the far tail needs ζ evaluations.
	surv []float64
}

// Table bounds: the table stops at the first survival value below
// minTableSurv, or at maxTable entries when α is so close to 1 that the
// tail decays too slowly for that.
const (
	minTableSurv = 1e-3
	maxTable     = 1 << 16
)

// NewSampler returns a sampler for the power law with exponent alpha > 1 on
// x ≥ xmin ≥ 1. It panics on other parameters, which are programming errors.
func NewSampler(alpha float64, xmin int) *Sampler {
	if !(alpha > 1) || xmin < 1 {
		panic("powerlaw: NewSampler needs alpha > 1 and xmin ≥ 1")
	}
	s := &Sampler{alpha: alpha, xmin: xmin, zmin: hurwitz(alpha, float64(xmin))}
	z := s.zmin
	for x := xmin; len(s.surv) < maxTable; x++ {
		// Peeling terms off ζ(α, xmin) accumulates rounding of order
		// table length × ε relative to 1, far below anything a sample of
		// realistic size can resolve.
		z -= math.Pow(float64(x), -alpha)
		p := z / s.zmin
		s.surv = append(s.surv, p)
		if p < minTableSurv {
			break
		}
	}
	return s
}

// Sample returns one draw.
func (s *Sampler) Sample(r *rand.Rand) int {
	u := 1 - r.Float64() // in (0, 1], so that P(X ≥ xmin) = 1 ≥ u always
	// The draw is the x with P(X ≥ x+1) < u ≤ P(X ≥ x).
	k := sort.Search(len(s.surv), func(k int) bool { return s.surv[k] < u })
	if k < len(s.surv) {
		return s.xmin + k
	}
	return s.tail(u)
}

// tail inverts the CDF beyond the table: the continuous approximation gives
// a guess that is exact or off by one this far out, and the exact survival
// function, evaluated with ζ, corrects it by galloping and bisection.
func (s *Sampler) tail(u float64) int {
	// done(x) reports whether x is already large enough: P(X ≥ x+1) < u.
	done := func(x int) bool {
		return hurwitz(s.alpha, float64(x+1))/s.zmin < u
	}
	lo := s.xmin + len(s.surv) - 1 // known !done(lo)
	guess := (float64(s.xmin)-0.5)*math.Pow(u, -1/(s.alpha-1)) + 0.5
	if !(guess < maxValue) { // also NaN-proof
		guess = maxValue
	}
	g := max(int(guess), lo+1)
	var hi int // done(hi)
	if done(g) {
		hi = g
		for step := 1; ; step *= 2 {
			x := g - step
			if x <= lo {
				break
			}
			if !done(x) {
				lo = x
				break
			}
			hi = x
		}
	} else {
		lo = g
		for step := 1; ; step *= 2 {
			x := g + step
			if x >= maxValue {
				if !done(maxValue) {
					return maxValue // α so close to 1 the tail is unbounded in practice
				}
				hi = maxValue
				break
			}
			if done(x) {
				hi = x
				break
			}
			lo = x
		}
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if done(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}
