package powerlaw

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
)

// Bootstrap returns the goodness-of-fit p-value of fit for data by the
// semi-parametric bootstrap of CSN09 §4.1, using n synthetic data sets. Each
// has as many points as data; a point comes with probability NTail/N from
// the fitted power law and otherwise is drawn uniformly from the observed
// values below xmin. Every synthetic set is fitted afresh, xmin included (a
// test that reused the observed xmin would be too lenient), and p is the
// fraction whose KS distance is at least fit.KS. CSN09 rule out the power
// law when p ≤ 0.1; n = 2500 pins p to about ±0.01, n = 100 is enough to
// tell 0.05 from 0.5.
//
// The result depends only on the inputs and the state of rng, never on
// scheduling: each synthetic set gets its own generator seeded from rng up
// front, and the sets are fitted in parallel on GOMAXPROCS goroutines.
// progress, if not nil, is called from the calling goroutine after each set,
// with done counting up to total = n.
//
// fit should come from [Estimate] on data: the synthetic sets have their
// xmin estimated, so the observed D must have been found the same way.
// Bootstrap returns NaN if the fit or n cannot be used (see
// [BootstrapContext] for the reason).
func Bootstrap(data []int, fit Fit, n int, rng *rand.Rand, progress func(done, total int)) (p float64) {
	p, err := BootstrapContext(context.Background(), data, fit, n, rng, progress)
	if err != nil {
		return math.NaN()
	}
	return p
}

// BootstrapContext is [Bootstrap] that stops early when ctx is done, for
// command-line runs of thousands of sets that a user may interrupt, and that
// says why it cannot run. On cancellation it returns ctx.Err().
func BootstrapContext(ctx context.Context, data []int, fit Fit, n int, rng *rand.Rand, progress func(done, total int)) (float64, error) {
	switch {
	case n < 1:
		return 0, fmt.Errorf("powerlaw: bootstrap needs n ≥ 1, got %d", n)
	case !(fit.Alpha > 1) || fit.Xmin < 1 || math.IsNaN(fit.KS):
		return 0, fmt.Errorf("powerlaw: bootstrap needs a fit with alpha > 1 and xmin ≥ 1, got %v", fit)
	case rng == nil:
		return 0, fmt.Errorf("powerlaw: bootstrap needs a random source")
	}
	var below []int
	total := 0
	for _, x := range data {
		if x < 1 {
			continue
		}
		total++
		if x < fit.Xmin {
			below = append(below, x)
		}
	}
	if total == len(below) {
		return 0, fmt.Errorf("powerlaw: bootstrap: no data at or above xmin %d", fit.Xmin)
	}
	pTail := float64(total-len(below)) / float64(total)
	sampler := NewSampler(fit.Alpha, fit.Xmin)

	// Seeds are drawn before any work starts so that set i always sees the
	// same generator, whichever worker happens to run it.
	seeds := make([][2]uint64, n)
	for i := range seeds {
		seeds[i] = [2]uint64{rng.Uint64(), rng.Uint64()}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	type result struct {
		d  float64
		ok bool
	}
	results := make(chan result)
	workers := min(runtime.GOMAXPROCS(0), n)
	for range workers {
		go func() {
			syn := make([]int, total)
			for i := range jobs {
				r := rand.New(rand.NewPCG(seeds[i][0], seeds[i][1]))
				for k := range syn {
					if len(below) == 0 || r.Float64() < pTail {
						syn[k] = sampler.Sample(r)
					} else {
						syn[k] = below[r.IntN(len(below))]
					}
				}
				f, err := Estimate(syn)
				select {
				case results <- result{f.KS, err == nil}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for i := range n {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()

	// A synthetic set with a single distinct value cannot be fitted. That
	// needs a tiny data set and is counted neither way rather than guessed.
	atLeast, fitted := 0, 0
	for done := 1; done <= n; done++ {
		select {
		case r := <-results:
			if r.ok {
				fitted++
				if r.d >= fit.KS {
					atLeast++
				}
			}
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		if progress != nil {
			progress(done, n)
		}
	}
	if fitted == 0 {
		return 0, fmt.Errorf("powerlaw: bootstrap: no synthetic data set could be fitted")
	}
	return float64(atLeast) / float64(fitted), nil
}
