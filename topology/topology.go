package topology

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Model is a discrete power law P(k) ∝ k^−Alpha on Min ≤ k ≤ Max.
type Model struct {
	// Alpha is the exponent (> 1). 2.5 sits in the range measured on real
	// peer-to-peer overlays and gives a finite mean degree.
	Alpha float64
	// Min is the smallest capacity; it is also the minimum degree that
	// keeps the overlay connected.
	Min int
	// Max is the largest capacity, the most neighbours one peer serves.
	Max int

	cdf []float64 // cumulative weights over Min..Max, built lazily
	// cdfFor holds the parameters cdf was built for: a copy of a used
	// Model shares its cdf, and its fields may change after use.
	cdfFor struct {
		alpha    float64
		min, max int
	}
}

// DefaultModel is α = 2.5 on [3, 100].
func DefaultModel() Model { return Model{Alpha: 2.5, Min: 3, Max: 100} }

// ErrModel reports an invalid model.
var ErrModel = errors.New("topology: invalid model")

// Validate checks the parameters.
func (m *Model) Validate() error {
	switch {
	case !(m.Alpha > 1) || math.IsInf(m.Alpha, 0):
		return fmt.Errorf("%w: alpha %v must be > 1", ErrModel, m.Alpha)
	case m.Min < 1:
		return fmt.Errorf("%w: min degree %d must be >= 1", ErrModel, m.Min)
	case m.Max < m.Min:
		return fmt.Errorf("%w: max degree %d below min degree %d", ErrModel, m.Max, m.Min)
	case m.Max > 1<<20:
		return fmt.Errorf("%w: max degree %d over 1048576", ErrModel, m.Max)
	}
	return nil
}

// Sample draws one capacity by inverse transform over the exact discrete
// distribution, so small samples follow the law as well as large ones.
func (m *Model) Sample(rng *rand.Rand) int {
	if m.cdf == nil || m.cdfFor.alpha != m.Alpha || m.cdfFor.min != m.Min || m.cdfFor.max != m.Max {
		// A new slice, never the old one's array, which a copy may share.
		m.cdfFor.alpha, m.cdfFor.min, m.cdfFor.max = m.Alpha, m.Min, m.Max
		m.cdf = make([]float64, m.Max-m.Min+1)
		sum := 0.0
		for k := m.Min; k <= m.Max; k++ {
			sum += math.Pow(float64(k), -m.Alpha)
			m.cdf[k-m.Min] = sum
		}
		for i := range m.cdf {
			m.cdf[i] /= sum
		}
	}
	u := rng.Float64()
	lo, hi := 0, len(m.cdf)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if m.cdf[mid] < u {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return m.Min + lo
}

// Free returns the weight of a candidate with the given capacity and
// degree: its free slots, or 1 when its capacity is unknown (a seed that
// predates the capacity field, or a peer that has not announced it).
func Free(capacity, degree int) int {
	if capacity <= 0 {
		return 1
	}
	return max(capacity-degree, 0)
}

// Pick chooses up to k distinct indices from weights, each draw with
// probability proportional to its weight among those not yet chosen.
// Zero weights are never chosen. It reorders nothing and allocates only
// the result.
func Pick(rng *rand.Rand, weights []int, k int) []int {
	total := 0
	for _, w := range weights {
		total += max(w, 0)
	}
	var out []int
	taken := func(i int) bool {
		for _, j := range out {
			if j == i {
				return true
			}
		}
		return false
	}
	for len(out) < k && total > 0 {
		r := rng.IntN(total)
		for i, w := range weights {
			if w <= 0 || taken(i) {
				continue
			}
			if r < w {
				out = append(out, i)
				total -= w
				break
			}
			r -= w
		}
	}
	return out
}
