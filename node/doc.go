// Package node runs WhisperNet's protocol cores over TCP with real time.
//
// A Peer owns one peer.Peer core and a single event loop goroutine that is
// the only one to touch it. Every connection has a reader goroutine that
// decodes lines into events for the loop (control lines on an urgent lane
// the loop empties first, gossip in batches) and a writer goroutine
// draining two bounded lanes, control before gossip, so a slow or dead
// neighbour fills its own queue without ever blocking the loop or the
// other neighbours. A full gossip lane is backpressure, not a verdict: the
// message is announced instead (Plumtree) or dropped and counted (flood);
// see docs/load.md. Requests to seeds go through one client per seed, which keeps
// a connection while there is work and closes it when idle.
//
// A Seed serves the seed.Seed core to many clients at once: a goroutine per
// connection, a mutex around the core, and hard limits — line length,
// connections per remote IP, request rate, error replies before the
// connection is closed — applied before any work is done for a client.
//
// Both write outputfile.log and freqtrack.log through an eventlog.Writer,
// which several nodes of one process may share.
//
// Every listen and dial goes through a Transport (PeerConfig.Transport,
// SeedConfig.Transport): TCP by default, or an in-memory
// *memnet.Network, on which this package's own tests run whole seeds and
// peers inside testing/synctest bubbles, with no ports to find and no real
// time:
//
//	var n memnet.Network
//	cfg := node.DefaultPeerConfig()
//	cfg.Transport = &n
//	cfg.Core.Self = netip.MustParseAddrPort("127.0.0.1:20001")
package node
