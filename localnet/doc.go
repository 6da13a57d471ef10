// Package localnet runs a whole WhisperNet network on one machine: every
// seed of config.txt and N peers, in this process or — when N needs more
// open files than one process may hold — spread over worker processes of
// the same binary. Every peer is a whispernet.Node and every seed a
// whispernet.Seed, so the network runs the library applications run. A
// Tracker assembles the network's state from the nodes' reports (links,
// deliveries, duplicates, dead reports, removals), taken from the runtime
// hooks under the library (Config.Runtime), for the summary that
// `whispernet net` prints and for the live dashboard.
//
// Worker processes speak a small line protocol with the parent: they
// report events on stdout (see lineReporter) and take commands on stdin
// (publish, kill, freeze, thaw). A worker exits when its stdin closes, so a
// crashed parent leaves no orphans.
package localnet
