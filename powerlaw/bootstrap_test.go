package powerlaw

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// TestBootstrapReference checks that the power law stays plausible for the
// reference data (CSN09 Table 6.1: p = 0.49 for words, 0.68 for terrorism).
// p is random; with 100 sets its standard error is about 0.05, so the
// bound asserts the conclusion, p > 0.1, not the digits.
func TestBootstrapReference(t *testing.T) {
	sets := 100
	if testing.Short() {
		sets = 25
	}
	for _, file := range []string{"words.txt", "terrorism.txt"} {
		data := readRef(t, file)
		fit, err := Estimate(data)
		if err != nil {
			t.Fatal(err)
		}
		p := Bootstrap(data, fit, sets, rand.New(rand.NewPCG(2009, 661)), nil)
		t.Logf("%s: bootstrap p = %.2f (%d sets)", file, p, sets)
		if !(p > 0.1) {
			t.Errorf("%s: p = %g, want > 0.1", file, p)
		}
	}
}

// TestBootstrapRejects checks the other side: values spread evenly over
// 50…60 have a hard upper edge that no power law has, and the bootstrap
// must rule the power law out. (Exponential or Poisson data would make a
// fragile test: the xmin scan can retreat to a far tail of a few hundred
// points, where the test has little power, as CSN09 §4.1 warn.)
func TestBootstrapRejects(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	data := make([]int, 5000)
	for i := range data {
		data[i] = 50 + r.IntN(11)
	}
	fit, err := Estimate(data)
	if err != nil {
		t.Fatal(err)
	}
	p := Bootstrap(data, fit, 30, rand.New(rand.NewPCG(1, 1)), nil)
	t.Logf("uniform data: %v, p = %.2f", fit, p)
	if p != 0 {
		t.Errorf("p = %g for uniform data, want 0", p)
	}
}

// TestBootstrapDeterministic checks that the p-value depends only on the
// seed, however the work is spread over goroutines, and that progress is
// reported once per set, in order.
func TestBootstrapDeterministic(t *testing.T) {
	data := readRef(t, "celegans-totaldegree.dat")
	fit, err := Estimate(data)
	if err != nil {
		t.Fatal(err)
	}
	const sets = 40
	var calls []int
	p1 := Bootstrap(data, fit, sets, rand.New(rand.NewPCG(3, 4)), func(done, total int) {
		if total != sets {
			t.Errorf("progress total = %d, want %d", total, sets)
		}
		calls = append(calls, done)
	})
	p2 := Bootstrap(data, fit, sets, rand.New(rand.NewPCG(3, 4)), nil)
	if p1 != p2 {
		t.Errorf("same seed, different p: %g and %g", p1, p2)
	}
	if len(calls) != sets {
		t.Fatalf("progress called %d times, want %d", len(calls), sets)
	}
	for i, d := range calls {
		if d != i+1 {
			t.Fatalf("progress calls %v, want 1…%d in order", calls, sets)
		}
	}
	if p1 < 0 || p1 > 1 || p1*sets != math.Trunc(p1*sets) {
		t.Errorf("p = %g is not a fraction of %d sets", p1, sets)
	}
}

func TestBootstrapErrors(t *testing.T) {
	data := []int{1, 2, 3, 4, 5, 8}
	fit, err := Estimate(data)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	ctx := context.Background()
	if _, err := BootstrapContext(ctx, data, fit, 0, rng, nil); err == nil {
		t.Error("n = 0 accepted")
	}
	if _, err := BootstrapContext(ctx, data, Fit{}, 10, rng, nil); err == nil {
		t.Error("zero Fit accepted")
	}
	if _, err := BootstrapContext(ctx, data, fit, 10, nil, nil); err == nil {
		t.Error("nil rng accepted")
	}
	if _, err := BootstrapContext(ctx, []int{1, 2}, Fit{Alpha: 2, Xmin: 5, KS: 0.1}, 10, rng, nil); err == nil {
		t.Error("fit with empty tail accepted")
	}
	if p := Bootstrap(data, Fit{}, 10, rng, nil); !math.IsNaN(p) {
		t.Errorf("Bootstrap with a zero Fit = %g, want NaN", p)
	}
}

func TestBootstrapCancel(t *testing.T) {
	data := readRef(t, "terrorism.txt")
	fit, err := Estimate(data)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	_, err = BootstrapContext(ctx, data, fit, 1000, rand.New(rand.NewPCG(1, 1)), func(done, _ int) {
		if done == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
}

func BenchmarkBootstrap(b *testing.B) {
	data := readRef(b, "terrorism.txt")
	fit, err := Estimate(data)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for b.Loop() {
		Bootstrap(data, fit, 10, rng, nil)
	}
}
