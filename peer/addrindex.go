package peer

import "net/netip"

// addrIndex maps peer addresses to positions. IPv4 addresses (all of a
// simulated network's, and most real ones) are keyed by a packed word: a
// map the runtime hashes fastest and the garbage collector need not scan.
// Others are keyed by address.
type addrIndex struct {
	v4    map[uint64]int
	other map[netip.AddrPort]int
}

func (x *addrIndex) get(a netip.AddrPort) (int, bool) {
	if k, ok := key4(a); ok {
		i, found := x.v4[k]
		return i, found
	}
	i, found := x.other[a]
	return i, found
}

func (x *addrIndex) set(a netip.AddrPort, i int) {
	if k, ok := key4(a); ok {
		if x.v4 == nil {
			x.v4 = make(map[uint64]int)
		}
		x.v4[k] = i
		return
	}
	if x.other == nil {
		x.other = make(map[netip.AddrPort]int)
	}
	x.other[a] = i
}

func (x *addrIndex) del(a netip.AddrPort) {
	if k, ok := key4(a); ok {
		delete(x.v4, k)
		return
	}
	delete(x.other, a)
}

func (x *addrIndex) len() int { return len(x.v4) + len(x.other) }
