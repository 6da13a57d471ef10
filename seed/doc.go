// Package seed is the deterministic core of a WhisperNet seed node: the
// bootstrap registry that peers register with, fetch peer lists from and
// report dead peers to.
//
// A Seed does no I/O and reads no clock. The runtime (package node, or the
// simulator in package sim) hands it each decoded request with the time and
// the connection's source IP; Handle returns the one reply line the
// protocol promises, and any side effects — log lines for outputfile.log,
// reports to relay to the other seeds — wait in Ready until the driver
// collects them. Randomness (peer-list sampling) comes from an injected
// *rand.Rand, so a run is reproducible from its seed.
//
// A dead peer must vanish from every seed that lists it, not only from the
// majority its reporter registered with. Two mechanisms see to it: a seed
// that removes a peer relays the report to every other seed (marked
// "relayed", so it travels one hop only), and a registration expires unless
// the peer refreshes it, which also lets a restarted seed relearn the
// network from the peers' periodic re-registration.
package seed
