package topology

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// pmf returns the exact probabilities of m's capacities Min..Max.
func pmf(m Model) []float64 {
	p := make([]float64, m.Max-m.Min+1)
	sum := 0.0
	for k := m.Min; k <= m.Max; k++ {
		p[k-m.Min] = math.Pow(float64(k), -m.Alpha)
		sum += p[k-m.Min]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

// TestSampleDistribution draws n = 200000 capacities and compares the
// empirical frequencies with the exact law, bin by bin and with a
// chi-square test.
func TestSampleDistribution(t *testing.T) {
	for _, m := range []Model{DefaultModel(), {Alpha: 2, Min: 1, Max: 50}, {Alpha: 3.5, Min: 2, Max: 1000}} {
		rng := rand.New(rand.NewPCG(1, 2))
		const n = 200000
		counts := make([]int, m.Max-m.Min+1)
		for i := 0; i < n; i++ {
			k := m.Sample(rng)
			if k < m.Min || k > m.Max {
				t.Fatalf("%+v: sample %d outside [%d, %d]", m, k, m.Min, m.Max)
			}
			counts[k-m.Min]++
		}
		p := pmf(m)
		// The first few capacities, one by one: the count of k is
		// Binomial(n, p_k); 5 standard deviations is a false alarm rate of
		// about 6e-7 per bin (and the rng seed is fixed anyway).
		for i := 0; i < 5 && i < len(p); i++ {
			exp := n * p[i]
			sd := math.Sqrt(n * p[i] * (1 - p[i]))
			if d := math.Abs(float64(counts[i]) - exp); d > 5*sd {
				t.Errorf("%+v: k=%d drawn %d times, want %.0f ± %.0f (5 sd)", m, m.Min+i, counts[i], exp, 5*sd)
			}
		}
		// Chi-square: bins with an expected count of at least 20, the rest
		// pooled into one tail bin.
		chi, df := 0.0, -1
		tailObs, tailExp := 0.0, 0.0
		for i := range p {
			exp := n * p[i]
			if exp < 20 {
				tailObs += float64(counts[i])
				tailExp += exp
				continue
			}
			d := float64(counts[i]) - exp
			chi += d * d / exp
			df++
		}
		if tailExp > 0 {
			d := tailObs - tailExp
			chi += d * d / tailExp
			df++
		}
		// Mean df, sd √(2df): df + 6√(2df) is beyond the 1e-6 quantile for
		// the df here (10 to 60).
		if limit := float64(df) + 6*math.Sqrt(2*float64(df)); chi > limit {
			t.Errorf("%+v: chi-square %.1f with %d df over the limit %.1f", m, chi, df, limit)
		}
	}
}

// TestSampleBounds: a single-valued model always gives that value, and
// the bounds hold even when a Model is copied and its parameters changed
// after sampling.
func TestSampleBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	one := Model{Alpha: 2.5, Min: 7, Max: 7}
	for i := 0; i < 100; i++ {
		if k := one.Sample(rng); k != 7 {
			t.Fatalf("Min = Max = 7 gave %d", k)
		}
	}
	m := DefaultModel()
	m.Sample(rng)
	narrow := m // a copy, then narrowed
	narrow.Min, narrow.Max = 5, 10
	steep := m
	steep.Alpha = 10
	small := 0
	for i := 0; i < 10000; i++ {
		if k := narrow.Sample(rng); k < 5 || k > 10 {
			t.Fatalf("model narrowed to [5, 10] after use gave %d", k)
		}
		if steep.Sample(rng) == 3 {
			small++
		}
	}
	// With α = 10 on [3, 100], P(3) = 1/Σ(3/k)^10 ≈ 0.940 (against 0.47
	// for the α = 2.5 the copy was made with); allow 5 sd.
	p3 := pmf(steep)[0]
	if d := math.Abs(float64(small) - 10000*p3); d > 5*math.Sqrt(10000*p3*(1-p3)) {
		t.Errorf("model steepened to α = 10 after use gave 3 %d times in 10000, want about %.0f", small, 10000*p3)
	}
}

func TestValidate(t *testing.T) {
	for _, m := range []Model{
		{Alpha: 1, Min: 1, Max: 10},
		{Alpha: 0.5, Min: 1, Max: 10},
		{Alpha: math.NaN(), Min: 1, Max: 10},
		{Alpha: math.Inf(1), Min: 1, Max: 10},
		{Alpha: 2, Min: 0, Max: 10},
		{Alpha: 2, Min: -3, Max: 10},
		{Alpha: 2, Min: 5, Max: 4},
		{Alpha: 2, Min: 1, Max: 1<<20 + 1},
		{},
	} {
		if err := m.Validate(); !errors.Is(err, ErrModel) {
			t.Errorf("%+v: Validate = %v, want ErrModel", m, err)
		}
	}
	for _, m := range []Model{DefaultModel(), {Alpha: 1.0001, Min: 1, Max: 1}, {Alpha: 3, Min: 1, Max: 1 << 20}} {
		if err := m.Validate(); err != nil {
			t.Errorf("%+v: Validate = %v", m, err)
		}
	}
}

func TestFree(t *testing.T) {
	for _, tc := range []struct{ cap, deg, want int }{
		{0, 0, 1}, {0, 5, 1}, {-1, 0, 1}, // unknown capacity
		{5, 0, 5}, {5, 3, 2}, {5, 5, 0}, {5, 9, 0},
	} {
		if got := Free(tc.cap, tc.deg); got != tc.want {
			t.Errorf("Free(%d, %d) = %d, want %d", tc.cap, tc.deg, got, tc.want)
		}
	}
}

// TestPickNeverZeroOrTwice: whatever the weights and k, Pick returns
// distinct indices of positive weight, min(k, positives) of them.
func TestPickNeverZeroOrTwice(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 20000; trial++ {
		w := make([]int, rng.IntN(8))
		positive := 0
		for i := range w {
			w[i] = rng.IntN(5) - 1 // -1..3
			if w[i] > 0 {
				positive++
			}
		}
		before := slices.Clone(w)
		k := rng.IntN(10) - 1
		got := Pick(rng, w, k)
		if !slices.Equal(w, before) {
			t.Fatalf("Pick changed the weights %v to %v", before, w)
		}
		if want := max(0, min(k, positive)); len(got) != want {
			t.Fatalf("Pick(%v, %d) = %v: %d indices, want %d", w, k, got, len(got), want)
		}
		seen := make(map[int]bool)
		for _, i := range got {
			if i < 0 || i >= len(w) || w[i] <= 0 || seen[i] {
				t.Fatalf("Pick(%v, %d) = %v: index %d is zero-weight, negative or repeated", w, k, got, i)
			}
			seen[i] = true
		}
	}
}

// TestPickProportional: the first index is drawn with probability w_i/W,
// the second with w_j/(W − w_i) among the rest. Chi-square over the 20
// ordered pairs (19 df: mean 19, sd 6.2; 60 is 6.6 sd out).
func TestPickProportional(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	w := []int{1, 0, 2, 3, 0, 4, 10}
	const n = 200000
	counts := make(map[[2]int]int)
	for i := 0; i < n; i++ {
		got := Pick(rng, w, 2)
		counts[[2]int{got[0], got[1]}]++
	}
	total := 0
	for _, x := range w {
		total += x
	}
	chi, cells := 0.0, 0
	for i, wi := range w {
		for j, wj := range w {
			if i == j || wi == 0 || wj == 0 {
				if counts[[2]int{i, j}] != 0 {
					t.Fatalf("pair (%d, %d) drawn", i, j)
				}
				continue
			}
			exp := n * float64(wi) / float64(total) * float64(wj) / float64(total-wi)
			d := float64(counts[[2]int{i, j}]) - exp
			chi += d * d / exp
			cells++
		}
	}
	if cells != 20 {
		t.Fatalf("%d cells", cells)
	}
	if chi > 60 {
		t.Errorf("chi-square %.1f over 19 df: Pick is not proportional to weight (counts %v)", chi, counts)
	}
}

func TestPickDeterministic(t *testing.T) {
	w := []int{3, 1, 4, 1, 5, 9, 2, 6}
	a := Pick(rand.New(rand.NewPCG(1, 1)), w, 4)
	b := Pick(rand.New(rand.NewPCG(1, 1)), w, 4)
	if !slices.Equal(a, b) {
		t.Errorf("same rng seed, different picks: %v vs %v", a, b)
	}
}

func BenchmarkSample(b *testing.B) {
	m := DefaultModel()
	rng := rand.New(rand.NewPCG(1, 2))
	for b.Loop() {
		m.Sample(rng)
	}
}

func BenchmarkPick(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	w := make([]int, 1000)
	for i := range w {
		w[i] = rng.IntN(10)
	}
	for b.Loop() {
		Pick(rng, w, 8)
	}
}
