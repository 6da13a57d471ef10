package summary

import "testing"

func TestQuantileNearestRank(t *testing.T) {
	xs := make([]float64, 200)
	for i := range xs {
		xs[i] = float64(i + 1)
	}
	for _, tc := range []struct {
		n    int
		q    float64
		want float64
	}{
		{1, 0.5, 1}, {1, 0.99, 1}, {2, 0.5, 1}, {2, 0.99, 2}, {3, 0.5, 2}, {10, 0.5, 5}, {10, 0.99, 10},
		{100, 0.5, 50}, {100, 0.99, 99}, {200, 0.99, 198}, {200, 0, 1},
	} {
		if got := Quantile(xs[:tc.n], tc.q); got != tc.want {
			t.Errorf("Quantile(1..%d, %v) = %v, want %v", tc.n, tc.q, got, tc.want)
		}
	}
}

func TestQuantileEmpty(t *testing.T) {
	if got := Quantile(nil, 0.5); got != 0 {
		t.Errorf("Quantile(nil, 0.5) = %v, want 0", got)
	}
}
