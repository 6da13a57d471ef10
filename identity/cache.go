package identity

import (
	"sync"
	"sync/atomic"
)

// Verifier checks signatures. PublicKey.Verify is one; a Cache is another
// that remembers what it has checked.
type Verifier interface {
	Verify(pub PublicKey, msg []byte, sig Signature) bool
}

// Direct verifies every signature afresh (no cache).
type Direct struct{}

// Verify reports whether sig is pub's signature of msg.
func (Direct) Verify(pub PublicKey, msg []byte, sig Signature) bool { return pub.Verify(msg, sig) }

// Cache is a bounded set of verified signatures, safe for concurrent use:
// a process that runs many peers shares one, so that a message relayed to
// all of them is verified about once instead of once per peer.
//
// Only successes are remembered, with the exact bytes that were checked
// (key, signature, message): a hit needs all three equal, so it is the
// answer a fresh check would give, and the cache can change the cost of a
// check, never its outcome. Entries are found by their signature (64
// bytes, hashed and compared at once), then the key and the message are
// compared; another key or message under a signature already cached is a
// miss, and verified, it takes the signature's entry. Failures are not
// cached, so a flood of bad signatures cannot push good ones out (and
// costs the flooder's neighbour a verification each, which is why a peer
// cuts off a neighbour that keeps sending them).
//
// The bound is kept with two generations: entries go into the current
// one; when it is full the previous one is dropped and the current one
// becomes previous. A hit in the previous generation is copied forward.
type Cache struct {
	mu        sync.Mutex
	cur, prev map[Signature]checked
	size      int

	hits, misses atomic.Uint64
}

// checked is what a signature was verified with.
type checked struct {
	pub PublicKey
	msg string
}

// NewCache returns a cache holding at least size and at most 2×size
// verified signatures.
func NewCache(size int) *Cache {
	size = max(size, 1)
	return &Cache{cur: make(map[Signature]checked, size), prev: map[Signature]checked{}, size: size}
}

// DefaultCacheSize is the size of the Shared cache: a few minutes of
// gossip from thousands of origins.
const DefaultCacheSize = 1 << 15

var shared = NewCache(DefaultCacheSize)

// Shared returns the process-wide cache.
func Shared() *Cache { return shared }

// Verify reports whether sig is pub's signature of msg, from the cache if
// it has checked exactly these bytes before.
func (c *Cache) Verify(pub PublicKey, msg []byte, sig Signature) bool {
	c.mu.Lock()
	e, ok := c.cur[sig]
	ok = ok && e.pub == pub && e.msg == string(msg)
	if !ok {
		if e, ok = c.prev[sig]; ok && e.pub == pub && e.msg == string(msg) {
			c.addLocked(sig, e)
		} else {
			ok = false
		}
	}
	c.mu.Unlock()
	if ok {
		c.hits.Add(1)
		return true
	}
	c.misses.Add(1)
	if !pub.Verify(msg, sig) {
		return false
	}
	c.mu.Lock()
	c.addLocked(sig, checked{pub: pub, msg: string(msg)})
	c.mu.Unlock()
	return true
}

func (c *Cache) addLocked(sig Signature, e checked) {
	if _, ok := c.cur[sig]; !ok && len(c.cur) >= c.size {
		c.prev, c.cur = c.cur, make(map[Signature]checked, c.size)
	}
	c.cur[sig] = e
}

// CacheStats count a cache's lookups.
type CacheStats struct {
	Hits   uint64 `json:"hits"`   // checks answered from the cache
	Misses uint64 `json:"misses"` // checks that ran Ed25519 verification
}

// Stats returns the lookup counts so far.
func (c *Cache) Stats() CacheStats {
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load()}
}

// Len returns the number of signatures remembered.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.prev)
}
