package powerlaw

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSamplerDistribution compares sample frequencies with the exact
// probabilities by a chi-square statistic over the first values and the
// rest of the tail lumped together.
func TestSamplerDistribution(t *testing.T) {
	const (
		n    = 200000
		bins = 15 // values xmin … xmin+14, plus one bin for the rest
		// The 0.999 quantile of chi-square with 15 degrees of freedom;
		// the seed is fixed, so this is a bound on a bug, not on luck.
		limit = 37.7
	)
	for _, c := range []struct {
		alpha float64
		xmin  int
	}{{2.5, 1}, {1.95, 7}, {2.37, 12}, {3.5, 2}, {1.3, 1}} {
		s := NewSampler(c.alpha, c.xmin)
		r := rand.New(rand.NewPCG(7, uint64(c.xmin)))
		var obs [bins + 1]float64
		for range n {
			x := s.Sample(r)
			if x < c.xmin {
				t.Fatalf("α=%g xmin=%d: sample %d below xmin", c.alpha, c.xmin, x)
			}
			obs[min(x-c.xmin, bins)]++
		}
		zmin := hurwitz(c.alpha, float64(c.xmin))
		chi := 0.0
		for k := range obs {
			p := math.Pow(float64(c.xmin+k), -c.alpha) / zmin
			if k == bins {
				p = hurwitz(c.alpha, float64(c.xmin+bins)) / zmin
			}
			e := n * p
			chi += (obs[k] - e) * (obs[k] - e) / e
		}
		if chi > limit {
			t.Errorf("α=%g xmin=%d: chi-square %.1f > %.1f", c.alpha, c.xmin, chi, limit)
		}
	}
}

// TestSamplerTail checks the inversion beyond the table, which ordinary
// samples reach only one time in a thousand: for u down to 1e-12 the draw
// x must satisfy P(X ≥ x+1) < u ≤ P(X ≥ x) exactly, up to the cap at 2^53
// that only α near 1 reaches.
func TestSamplerTail(t *testing.T) {
	for _, c := range []struct {
		alpha float64
		xmin  int
	}{{2.5, 1}, {1.95, 7}, {3.5, 40}, {1.5, 1}} {
		s := NewSampler(c.alpha, c.xmin)
		surv := func(x int) float64 { return hurwitz(c.alpha, float64(x)) / s.zmin }
		last := s.surv[len(s.surv)-1]
		for u := last * 0.999; u > 1e-12; u *= 0.83 {
			x := s.tail(u)
			if u <= surv(maxValue) {
				if x != maxValue {
					t.Errorf("α=%g xmin=%d u=%g: x=%d, want the cap %d", c.alpha, c.xmin, u, x, maxValue)
				}
				continue
			}
			if !(surv(x+1) < u && u <= surv(x)) {
				t.Errorf("α=%g xmin=%d u=%g: x=%d has P(X≥x)=%g, P(X≥x+1)=%g",
					c.alpha, c.xmin, u, x, surv(x), surv(x+1))
			}
		}
	}
}

func TestNewSamplerPanics(t *testing.T) {
	for _, c := range []struct {
		alpha float64
		xmin  int
	}{{1, 1}, {math.NaN(), 1}, {2, 0}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewSampler(%g, %d) did not panic", c.alpha, c.xmin)
				}
			}()
			NewSampler(c.alpha, c.xmin)
		}()
	}
}

func BenchmarkSample(b *testing.B) {
	s := NewSampler(1.95, 7)
	r := rand.New(rand.NewPCG(1, 2))
	for b.Loop() {
		s.Sample(r)
	}
}
