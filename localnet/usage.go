package localnet

import (
	"slices"
	"time"

	"github.com/whispernet/whispernet/node"
)

// Usage is what the network's processes cost the machine so far.
type Usage struct {
	// CPU is the user plus system CPU time of this process and every
	// worker process.
	CPU time.Duration
	// PeakRSS is the sum over those processes of each one's peak
	// resident set, in bytes: an upper bound on the peak of their total,
	// since the peaks need not coincide.
	PeakRSS uint64
	// Processes is how many processes were measured (0 where the
	// operating system offers no way: only Linux is supported).
	Processes int
}

// Usage measures this process and every worker process. A worker that
// has exited counts with its final figures.
func (n *Network) Usage() Usage {
	var u Usage
	if cpu, rss, ok := selfUsage(); ok {
		u.CPU, u.PeakRSS, u.Processes = cpu, rss, 1
	}
	n.mu.Lock()
	groups := slices.Clone(n.groups)
	n.mu.Unlock()
	for _, g := range groups {
		w, ok := g.(*workerGroup)
		if !ok {
			continue
		}
		if cpu, rss, ok := w.usage(); ok {
			u.CPU += cpu
			u.PeakRSS += rss
			u.Processes++
		}
	}
	return u
}

// usage measures the worker process: from /proc while it runs, from its
// exit status once it has exited.
func (w *workerGroup) usage() (cpu time.Duration, peakRSS uint64, ok bool) {
	select {
	case <-w.done: // cmd.Wait has returned: ProcessState is set
		return exitedUsage(w.cmd.ProcessState)
	default:
	}
	return procUsage(w.cmd.Process.Pid)
}

// Backpressure is what full writer queues did to the running peers'
// links (see node.PeerStats).
type Backpressure struct {
	// SlowCloses counts links closed because the neighbour made no
	// progress reading (node.PeerStats.SlowCloses).
	SlowCloses uint64
	// Demoted counts gossip lines announced instead of pushed because a
	// neighbour's queue was full (node.PeerStats.Demoted, Plumtree).
	Demoted uint64
	// IO sums the peers' system calls to and from their neighbours
	// (node.PeerStats.IO): what each delivery costs in writes and reads.
	IO node.IO
}

// Backpressure sums the running peers' counters. Worker peers count with
// the counters they last reported (every sampleEvery); a killed peer's no
// longer count.
func (n *Network) Backpressure() Backpressure {
	var b Backpressure
	if n.local != nil {
		for _, p := range n.local.Peers() {
			b.SlowCloses += p.SlowCloses()
			b.Demoted += p.Demoted()
			b.IO.Add(p.IO())
		}
	}
	for _, s := range n.RemoteSamples() {
		b.SlowCloses += s.Stats.SlowCloses
		b.Demoted += s.Stats.Demoted
		b.IO.Add(s.Stats.IO)
	}
	return b
}

// SelfCPU returns this process's CPU time alone (false where Usage
// measures nothing), for subtracting work that is not the network's.
func (n *Network) SelfCPU() (time.Duration, bool) {
	cpu, _, ok := selfUsage()
	return cpu, ok
}
