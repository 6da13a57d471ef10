package seed

import "math/rand/v2"

// NewRand returns the RNG a seed core samples peer lists with, from seed.
// The TCP runtime and the simulator both build it here.
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d))
}
