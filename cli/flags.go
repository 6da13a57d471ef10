package cli

import (
	"errors"
	"flag"
	"time"

	"github.com/whispernet/whispernet"
	"github.com/whispernet/whispernet/peer"
)

// peerFlags are the protocol flags shared by peer and net.
type peerFlags struct {
	gossipInterval, gossipDelay, livenessInterval, refresh time.Duration
	gossipCount, livenessMisses, maxPeers, target          int
	alpha                                                  float64
	minDegree, maxDegree                                   int
	broadcast                                              broadcastFlag
	lazyInterval, graftTimeout                             time.Duration
	sign                                                   bool
}

// broadcastFlag is --broadcast: flood or plumtree.
type broadcastFlag struct{ b peer.Broadcast }

func (f *broadcastFlag) String() string { return f.b.String() }
func (f *broadcastFlag) Set(s string) error {
	b, err := peer.ParseBroadcast(s)
	if err != nil {
		return errors.New("want flood or plumtree")
	}
	f.b = b
	return nil
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
	f.broadcast.b = d.Broadcast
	fs.Var(&f.broadcast, "broadcast", "how gossip spreads: plumtree (eager push along a tree, announcements elsewhere) or flood (every link)")
	fs.DurationVar(&f.lazyInterval, "lazy-interval", d.LazyInterval, "plumtree: batch announcements (ihave) for this long")
	fs.BoolVar(&f.sign, "sign", d.Sign, "sign the gossip a peer originates and refuse gossip not signed by its origin (--sign=false: unsigned, for experiments)")
	fs.DurationVar(&f.graftTimeout, "graft-timeout", d.GraftTimeout, "plumtree: wait this long for an announced message before asking for it (graft)")
	return f
}

// applyConfig sets the library configuration from the flags (peer, net
// and its workers all run package whispernet).
func (f *peerFlags) applyConfig(c *whispernet.Config) {
	c.Generate, c.GenerateInterval, c.GenerateDelay = f.gossipCount, f.gossipInterval, f.gossipDelay
	c.LivenessInterval, c.LivenessMisses = f.livenessInterval, f.livenessMisses
	c.MaxPeers, c.Target, c.RefreshInterval = f.maxPeers, f.target, f.refresh
	c.Degrees.Alpha, c.Degrees.Min, c.Degrees.Max = f.alpha, f.minDegree, f.maxDegree
	c.Broadcast, c.LazyInterval, c.GraftTimeout = f.broadcast.b, f.lazyInterval, f.graftTimeout
	c.Sign = f.sign
}
