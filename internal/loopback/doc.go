// Package loopback is for tests and tools that run real seeds and peers on
// the loopback interface.
//
// Such a test needs addresses nobody else is using, a way to wait for a
// network of goroutines and sockets to reach a state, and peers whose
// timers are short enough that a network forms, gossips and notices a dead
// peer within a second or two. This package holds those pieces so that the
// node, localnet, status, web and cli tests share one copy:
//
//   - FreePorts reserves distinct free ports in the ephemeral range, for
//     seeds and other single listeners;
//   - FreeRange finds a run of consecutive free ports below the ephemeral
//     range, for peers numbered from a base port;
//   - CheckFor polls a condition until it holds or a deadline passes;
//   - FastTimers and Timeout shorten a peer's timers.
//
// The helpers take a testing.TB and fail it when they cannot do their job.
// A free port is only free when it is found: a test that races other
// processes for ports should still expect, and retry, a bind that fails.
package loopback
