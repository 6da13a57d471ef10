package peer

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"time"

	"github.com/whispernet/whispernet/wire"
)

// NewRand returns the RNG a peer core is built with, from seed. The TCP
// runtime and the simulator both build it here, so a peer given the same
// seed by either draws the same capacity and makes the same choices.
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// DeriveSeed derives the seed of one member of a run from the run's seed
// and a key naming the member (an index plus a salt, or an address), by
// splitmix64: close keys give unrelated seeds, and a member's seed does not
// depend on the process or the worker that builds it.
func DeriveSeed(run, key uint64) uint64 {
	return Mix(run ^ Mix(key))
}

// Mix is splitmix64's step: it adds the golden-ratio increment and
// scrambles the result (Steele, Lea and Flood, "Fast splittable
// pseudorandom number generators", OOPSLA 2014).
func Mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// GeneratedText is the classic text of the n-th message a peer generates,
// <timestamp>:<IP>:<PORT>:<n>. The core's own generator (Config.GossipCount)
// and the simulator's gossip plan both write it here.
func GeneratedText(now time.Time, self netip.AddrPort, n int) string {
	return wire.TimestampOf(now).String() + ":" + wireAddr(self) + ":" + strconv.Itoa(n)
}
