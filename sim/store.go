package sim

// store is an append-only array in fixed blocks: an element never moves,
// so a worker may read element i while the main goroutine appends others
// (the pipeline of node.go relies on it). Indices are int32.
type store[T any] struct {
	blocks [][]T // fixed length, so appending never rewrites the header
	n      int32
}

const (
	storeBlockBits = 12
	storeBlocks    = 1 << 16 // 2^28 elements at most
)

func newStore[T any]() *store[T] { return &store[T]{blocks: make([][]T, storeBlocks)} }

// at returns element i.
func (s *store[T]) at(i int32) *T {
	return &s.blocks[i>>storeBlockBits][i&(1<<storeBlockBits-1)]
}

// add appends v and returns its index.
func (s *store[T]) add(v T) int32 {
	i := s.n
	b := i >> storeBlockBits
	if int(b) == storeBlocks {
		panic("sim: store full")
	}
	if s.blocks[b] == nil {
		s.blocks[b] = make([]T, 1<<storeBlockBits)
	}
	s.blocks[b][i&(1<<storeBlockBits-1)] = v
	s.n++
	return i
}

// pool is a store with a free list, for objects that live while one event
// is in flight (a message, a seed request).
type pool[T any] struct {
	*store[T]
	free []int32
}

func newPool[T any]() pool[T] { return pool[T]{store: newStore[T]()} }

// get stores v in a free slot and returns it.
func (p *pool[T]) get(v T) int32 {
	if n := len(p.free); n > 0 {
		i := p.free[n-1]
		p.free = p.free[:n-1]
		*p.at(i) = v
		return i
	}
	return p.add(v)
}

// put frees slot i.
func (p *pool[T]) put(i int32) {
	var zero T
	*p.at(i) = zero
	p.free = append(p.free, i)
}
