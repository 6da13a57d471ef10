package topology

// Forest is a union-find (disjoint-set) forest over the elements 0..n-1,
// with path halving. The simulator, the local network's tracker and tests
// count the overlay's connected components with it.
type Forest []int32

// NewForest returns n elements, each a set of its own.
func NewForest(n int) Forest {
	f := make(Forest, n)
	for i := range f {
		f[i] = int32(i)
	}
	return f
}

// Find returns the representative of x's set.
func (f Forest) Find(x int32) int32 {
	for f[x] != x {
		f[x] = f[f[x]] // path halving: point at the grandparent
		x = f[x]
	}
	return x
}

// Union merges the sets of a and b and reports whether they were apart.
func (f Forest) Union(a, b int32) bool {
	ra, rb := f.Find(a), f.Find(b)
	if ra == rb {
		return false
	}
	f[ra] = rb
	return true
}
