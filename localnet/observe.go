package localnet

import (
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/whispernet/whispernet/node"
)

// ErrObserved is returned by the controls (publish, kill, freeze, thaw,
// stop or start a seed) of an observed network: its nodes run in other
// processes or on other hosts, out of this one's reach.
var ErrObserved = errors.New("localnet: an observed network's nodes run elsewhere; this process cannot control them")

// Observed returns a Network that runs no node: a view of a network whose
// seeds (the given addresses) and peers run elsewhere — containers, other
// hosts. Its Tracker is fed from outside (package watch polls the seeds'
// peer lists and the peers' /status), so the dashboard can draw it; its
// controls return ErrObserved, and SetSeedUp records which seeds answer.
func Observed(seeds []netip.AddrPort) *Network {
	n := &Network{Tracker: NewTracker(time.Now()), seeds: map[netip.AddrPort]*node.Seed{}, owner: map[netip.AddrPort]group{},
		observed: true, remoteUp: map[netip.AddrPort]bool{}}
	n.cfg.Seeds = slices.Clone(seeds)
	for _, a := range seeds {
		n.remoteUp[a] = false
	}
	return n
}

// SetSeedUp records whether the observed seed a answers, for Seeds and the
// tracker's feed (only changes are recorded).
func (n *Network) SetSeedUp(a netip.AddrPort, up bool) {
	n.mu.Lock()
	was, known := n.remoteUp[a]
	n.remoteUp[a] = up
	n.mu.Unlock()
	if !known || was != up {
		n.Tracker.SeedUp(a, up, time.Now())
	}
}
