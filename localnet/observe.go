package localnet

import (
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/whispernet/whispernet"
)

// ErrObserved is returned by the controls (publish, kill, freeze, thaw,
// stop or start a seed) of an observed network: its nodes run in other
// processes or on other hosts, out of this one's reach.
var ErrObserved = errors.New("localnet: an observed network's nodes run elsewhere; this process cannot control them")

// Observed returns a Network that runs no node: a view of a network whose
// seeds (the given addresses) and peers run elsewhere — containers, other
// hosts. Its Tracker is fed from outside (package watch polls the seeds'
// peer lists and the peers' /status), so the dashboard can draw it; its
// controls return ErrObserved, and SetSeed records which seeds answer.
func Observed(seeds []netip.AddrPort) *Network {
	n := &Network{Tracker: NewTracker(time.Now()), seeds: map[netip.AddrPort]*whispernet.Seed{}, owner: map[netip.AddrPort]group{},
		observed: true, remoteUp: map[netip.AddrPort]bool{}, remoteRegistered: map[netip.AddrPort]int{}}
	n.cfg.Seeds = slices.Clone(seeds)
	for _, a := range seeds {
		n.remoteUp[a] = false
	}
	return n
}

// SetSeed records whether the observed seed a answers and how many peers
// it lists, for Seeds, SeedRegistered and the tracker's feed (a change of
// up is an event).
func (n *Network) SetSeed(a netip.AddrPort, up bool, registered int) {
	n.mu.Lock()
	was, known := n.remoteUp[a]
	n.remoteUp[a] = up
	if up {
		n.remoteRegistered[a] = registered
	}
	n.mu.Unlock()
	if !known || was != up {
		n.Tracker.SeedUp(a, up, time.Now())
	}
}

// Observed reports whether the network's nodes run elsewhere (Observed).
func (n *Network) Observed() bool { return n.observed }

// SeedRegistered returns how many peers the observed seed a listed when it
// last answered.
func (n *Network) SeedRegistered(a netip.AddrPort) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.remoteRegistered[a]
}
