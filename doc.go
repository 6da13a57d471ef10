// Package whispernet is WhisperNet as a Go library: a peer-to-peer gossip
// network in which every message a node publishes reaches every other
// node, over TCP, with seed nodes for bootstrap, liveness checks that find
// dead nodes, and an overlay whose degrees follow a power law.
//
// A program runs one or more seeds (NewSeed) somewhere, and any number of
// nodes (New) that know the seeds' addresses:
//
//	cfg := whispernet.DefaultConfig()
//	cfg.Seeds = []string{"10.0.0.1:8080"}
//	n, err := whispernet.New(cfg)
//	...
//	err = n.Start(ctx)           // listening, joining
//	err = n.Publish(ctx, data)   // any bytes up to MaxPayload
//	for m := range n.Messages() { ... m.Origin, m.Seq, m.Data ... }
//	n.Leave(ctx)                 // or n.Close()
//
// The package is a thin, stable layer over the project's own parts: the
// protocol cores (packages peer and seed, deterministic state machines),
// the runtime that drives them over a Transport (package node), and the
// wire format (package wire, documented in docs/protocol.md). The
// whispernet command's peer, seed and net subcommands are built on it.
//
// Delivery is best effort, as in any gossip network: a message reaches
// every node that is connected to the overlay while it spreads (within
// Config.MessageTTL), once each. A node does not receive its own messages.
// The Messages and Events channels are bounded: an application that falls
// behind loses messages, counted in Stats, rather than slowing the network.
package whispernet
