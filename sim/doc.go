// Package sim simulates WhisperNet networks of up to hundreds of thousands
// of peers in virtual time, driving the very protocol cores the TCP
// runtime drives (packages peer and seed, whose docs say how a driver
// feeds them) over an in-memory network model: per-message latency with
// jitter, message loss, partitions, and peers that crash, freeze or join.
//
// Build a Config from DefaultConfig (the default scenario: peers join, the
// overlay forms, 100 random origins publish 10 messages each, 1% of the
// peers crash midway), change what you need, and call Run; it returns a
// Report with the overlay's formation time, components and power-law fit,
// the gossip's delivery ratio, propagation times, last delivery hop and
// redundancy, and the failure-detection times and false positives. The
// same Config, RandSeed included, always gives the same Report.
//
// Scenarios with timed steps and expected outcomes can be written as
// scripts (ParseScript); testdata/ holds the ones the tests run, and
// `whispernet sim --script` runs any.
//
// How it works: a calendar queue orders events by (time, sequence) at a
// resolution of one millisecond. The network's smallest delay is a
// lookahead, so time runs in windows within which nodes are independent:
// each node's events of a window run together, in time order (keeping its
// state in the CPU caches), the cores of different nodes are called on
// different goroutines, and everything shared — the network's random
// delays and losses, new events, measurements — is applied by one
// goroutine in node order, which keeps runs reproducible whatever the
// number of workers. docs/sim.md describes the model, the report and
// measured runs.
package sim
