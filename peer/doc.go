// Package peer is the deterministic core of a WhisperNet peer node: seed
// registration, neighbour handshakes, gossip with de-duplication, and
// liveness checking.
//
// A Peer does no I/O and reads no clock, in the style of etcd's raft. Its
// driver (package node over TCP, or package sim in virtual time) feeds it
// events — Start, Opened, Receive, Closed, DialFailed, SeedReply,
// SeedFailed, Publish and Tick, each with the current time — and then
// collects the resulting Actions from Ready: dial an address, send a
// message on a connection, close a connection, send a request to a seed,
// deliver a gossip message, write a log line, record a degree change.
// NextDeadline says when the core next wants a Tick. Randomness comes from
// an injected *rand.Rand, so the same inputs always give the same actions.
//
// Connections are named by ConnID values that the driver allocates. A
// connection the core closes (an Action of kind Close) is forgotten at once;
// the driver need not report its closing.
package peer
