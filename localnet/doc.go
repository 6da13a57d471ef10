// Package localnet runs a whole WhisperNet network on one machine: every
// seed of config.txt and N peers, in this process or — when N needs more
// open files than one process may hold — spread over worker processes of
// the same binary. A Tracker assembles the network's state from the nodes'
// reports (links, deliveries, dead reports, removals) for the summary that
// `whispernet net` prints and for the live dashboard.
//
// Worker processes speak a small line protocol with the parent: they
// report events on stdout (see reportLine) and take commands on stdin
// (publish, kill, freeze, thaw). A worker exits when its stdin closes, so a
// crashed parent leaves no orphans.
package localnet
