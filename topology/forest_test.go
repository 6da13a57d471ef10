package topology

import "testing"

func TestForest(t *testing.T) {
	f := NewForest(6)
	sets := 6
	for _, e := range [][2]int32{{0, 1}, {2, 3}, {1, 0}, {3, 4}, {0, 4}, {5, 5}} {
		if f.Union(e[0], e[1]) {
			sets--
		}
	}
	if sets != 2 {
		t.Errorf("%d sets, want 2 ({0..4} and {5})", sets)
	}
	for x := int32(1); x < 5; x++ {
		if f.Find(x) != f.Find(0) {
			t.Errorf("%d and 0 in different sets", x)
		}
	}
	if f.Find(5) == f.Find(0) {
		t.Error("5 joined 0's set")
	}
}
