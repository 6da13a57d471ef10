// Package topology decides the shape of the overlay: how many neighbours
// each peer aims for, and which known peers it dials.
//
// The model is a distributed configuration model. Every peer draws its
// capacity (target degree) from a discrete power law P(k) ∝ k^−α on
// [Min, Max] and advertises it to the seeds with its current degree. A peer
// below its target dials known peers that still have free slots, choosing
// each with probability proportional to its free slots (cap − degree), and
// accepts inbound links while below its target. When every peer reaches its
// target, the degree sequence is the power-law sample itself, so the
// overlay's degree distribution measures as a power law with exponent α.
//
// Min ≥ 2 keeps the random graph connected with high probability (a
// configuration-model graph with minimum degree 3 is connected w.h.p.); a
// peer that is left with no neighbours at all may connect to a full peer,
// which accepts it beyond its target (never beyond the hard cap), so no
// peer stays isolated. Max bounds the capacity a single node must serve.
package topology
