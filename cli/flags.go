package cli

import (
	"flag"
	"time"

	"github.com/whispernet/whispernet/peer"
)

// peerFlags are the protocol flags shared by peer and net.
type peerFlags struct {
	gossipInterval, gossipDelay, livenessInterval, refresh time.Duration
	gossipCount, livenessMisses, maxPeers, target          int
	alpha                                                  float64
	minDegree, maxDegree                                   int
}

func addPeerFlags(fs *flag.FlagSet, d peer.Config) *peerFlags {
	f := &peerFlags{}
	fs.DurationVar(&f.gossipInterval, "gossip-interval", d.GossipInterval, "time between two gossip messages a peer generates")
	fs.IntVar(&f.gossipCount, "gossip-count", d.GossipCount, "gossip messages each peer generates in all")
	fs.DurationVar(&f.gossipDelay, "gossip-delay", d.GossipDelay, "wait after start before the first gossip message (it also waits for a neighbour)")
	fs.DurationVar(&f.livenessInterval, "liveness-interval", d.LivenessInterval, "time between liveness requests to each neighbour")
	fs.IntVar(&f.livenessMisses, "liveness-misses", d.LivenessMisses, "consecutive unanswered liveness requests that mark a neighbour dead")
	fs.IntVar(&f.maxPeers, "max-peers", d.MaxPeers, "hard cap on a peer's neighbours")
	fs.IntVar(&f.target, "target", d.Target, "fixed target degree; 0 draws each peer's capacity from the power law (--alpha, --min-degree, --max-degree)")
	fs.Float64Var(&f.alpha, "alpha", d.Degrees.Alpha, "power-law exponent of peer capacities")
	fs.IntVar(&f.minDegree, "min-degree", d.Degrees.Min, "smallest capacity (keeps the overlay connected)")
	fs.IntVar(&f.maxDegree, "max-degree", d.Degrees.Max, "largest capacity drawn from the power law")
	fs.DurationVar(&f.refresh, "refresh", d.RefreshInterval, "how often a peer re-registers with its seeds")
	return f
}

func (f *peerFlags) apply(c *peer.Config) {
	c.GossipInterval, c.GossipCount, c.GossipDelay = f.gossipInterval, f.gossipCount, f.gossipDelay
	c.LivenessInterval, c.LivenessMisses = f.livenessInterval, f.livenessMisses
	c.MaxPeers, c.Target, c.RefreshInterval = f.maxPeers, f.target, f.refresh
	c.Degrees.Alpha, c.Degrees.Min, c.Degrees.Max = f.alpha, f.minDegree, f.maxDegree
}
