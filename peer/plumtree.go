package peer

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/whispernet/whispernet/wire"
)

// Broadcast selects how a peer spreads gossip.
type Broadcast uint8

const (
	// Flood sends every new message to every neighbour but its sender:
	// about twice as many copies as there are links, per message.
	Flood Broadcast = iota
	// Plumtree pushes a new message eagerly along a spanning tree (each
	// peer's link to its parent, its biggest neighbour bigger than itself)
	// and lazily, as a batched ihave announcement, over the other links.
	// Other eager links that deliver a duplicate are pruned; a peer that
	// hears of a message it has not received within GraftTimeout grafts
	// the announcing link and asks for it. A message costs one copy per
	// peer. (After Leitão, Pereira, Rodrigues: Epidemic Broadcast Trees,
	// SRDS 2007; docs/broadcast.md.)
	Plumtree
)

func (b Broadcast) String() string {
	switch b {
	case Flood:
		return "flood"
	case Plumtree:
		return "plumtree"
	}
	return fmt.Sprintf("broadcast(%d)", uint8(b))
}

// ParseBroadcast parses "flood" or "plumtree".
func ParseBroadcast(s string) (Broadcast, error) {
	switch s {
	case "flood":
		return Flood, nil
	case "plumtree":
		return Plumtree, nil
	}
	return 0, fmt.Errorf("%w: broadcast %q is not flood or plumtree", ErrConfig, s)
}

// Bounds of the lazy-push state.
const (
	// maxAnnouncers is how many neighbours that announced one missing
	// message are remembered, to graft them in turn.
	maxAnnouncers = 4
	// maxGraftTries is how many grafts a missing message gets in all,
	// going round its announcers (a graft or its answer may be lost).
	maxGraftTries = 6
)

// cached is a gossip message kept to answer grafts, as forwarded (Hops
// already counts the link to the next peer), in less than half the room
// of a wire.Message.
type cached struct {
	origin netip.AddrPort
	seq    uint32
	hops   uint16
	ts     wire.Timestamp
	at     wire.Timestamp // when it was cached
	text   string
	auth   *wire.Auth // the origin's signature, nil if unsigned
}

// missing is a message announced by ihave and not yet received.
type missing struct {
	id       wire.MsgID
	deadline time.Time // graft the next announcer then
	from     [maxAnnouncers]ConnID
	n        uint8 // announcers in from
	tries    uint8 // grafts sent
}

// remember keeps m (as it will be forwarded) for grafts. The cache holds at
// most CacheSize messages, none older than CacheTime, in a ring (a power of
// two long, grown by doubling) that is no longer than twice what it held at
// once: a slice compacted when half spent grew to four times it, and in a
// large simulation that was a tenth of a Plumtree peer's memory.
func (p *Peer) remember(now time.Time, m wire.Message) {
	p.expireCache(now)
	if p.cacheLen >= p.cfg.CacheSize {
		p.cache[p.cacheHead] = cached{}
		p.cacheHead = (p.cacheHead + 1) & (len(p.cache) - 1)
		p.cacheLen--
	}
	if p.cacheLen == len(p.cache) {
		grown := make([]cached, max(minCache, 2*len(p.cache)))
		n := copy(grown, p.cache[p.cacheHead:])
		copy(grown[n:], p.cache[:p.cacheHead])
		p.cache, p.cacheHead = grown, 0
	}
	at := wire.TimestampOf(now)
	if p.cacheLen == 0 {
		p.cacheOldest = at
	}
	p.cache[(p.cacheHead+p.cacheLen)&(len(p.cache)-1)] = cached{origin: m.Addr, seq: m.Seq, hops: m.Hops, ts: m.Time, at: at, text: m.Text, auth: m.Auth}
	p.cacheLen++
}

// minCache is the graft cache's first length.
const minCache = 8

// expireCache drops the cached messages older than CacheTime. The oldest
// one's time is kept in the peer, so that a receipt with nothing to expire
// (most of them) reads no cache entry.
func (p *Peer) expireCache(now time.Time) {
	cutoff := wire.TimestampOf(now.Add(-p.cfg.CacheTime))
	if p.cacheLen == 0 || p.cacheOldest >= cutoff {
		return
	}
	mask := len(p.cache) - 1
	for p.cacheLen > 0 && p.cache[p.cacheHead].at < cutoff {
		p.cache[p.cacheHead] = cached{}
		p.cacheHead = (p.cacheHead + 1) & mask
		p.cacheLen--
	}
	if p.cacheLen == 0 {
		p.cacheHead = 0
	} else {
		p.cacheOldest = p.cache[p.cacheHead].at
	}
}

// lookup returns the cached message id, newest first.
func (p *Peer) lookup(id wire.MsgID) (wire.Message, bool) {
	mask := len(p.cache) - 1
	for k := p.cacheLen - 1; k >= 0; k-- {
		if e := &p.cache[(p.cacheHead+k)&mask]; e.seq == id.Seq && e.origin == id.Origin {
			return wire.Message{Kind: wire.KindGossip, Addr: e.origin, Seq: e.seq, Hops: e.hops, Time: e.ts, Text: e.text, Auth: e.auth}, true
		}
	}
	return wire.Message{}, false
}

// push sends m, new to this peer, on: in flood mode to every neighbour but
// the one at index skip (-1: none), in Plumtree mode eagerly to the tree
// links and as an announcement to the others.
func (p *Peer) push(now time.Time, m wire.Message, skip int) {
	if p.cfg.Broadcast == Flood {
		// From the compact ID list: flooding never reads a connection.
		for i, id := range p.nbrIDs {
			if i != skip {
				p.stats.Forwarded++
				p.emit(Action{Kind: Send, Conn: id, Msg: m})
			}
		}
		return
	}
	// Grafts go to peers that announced a message, and only Plumtree
	// peers announce: a flooding peer is never asked, so it keeps no
	// cache (the simulator's flooding runs would pay for it on every
	// receipt).
	p.remember(now, m)
	id := wire.MsgID{Origin: m.Addr, Seq: m.Seq}
	for i, c := range p.neighbours {
		if i == skip {
			continue
		}
		if !c.lazy {
			p.stats.Forwarded++
			p.send(c, m)
			continue
		}
		p.stats.IHaveSent++
		if c.ihave == nil {
			// A batch carries a few IDs (about 3 in the default
			// simulation, 10 in a 500-peer classic run): room for 4, or
			// for as many as the last batch, at once, not 1, 2, 4, 8.
			c.ihave = make([]wire.MsgID, 0, max(4, int(c.ihaveLast)))
		}
		c.ihave = append(c.ihave, id)
		if len(c.ihave) == wire.MaxIDsPerLine {
			p.flushIHave(c)
		} else {
			p.scheduleLazy(now)
		}
	}
}

// Demote reports that the driver could not queue gossip m (as the core
// asked it to Send) on connection id, because the neighbour's queue was
// full. In Plumtree mode m is announced to the neighbour instead, with the
// next lazy flush; a neighbour that lacks it grafts it from the cache, as
// from any lazy link. It reports false, with nothing done, in flood mode
// (the copy is lost, and the other links of a flood usually carry it) or
// when id is no neighbour's.
func (p *Peer) Demote(now time.Time, id ConnID, m wire.Message) bool {
	if p.cfg.Broadcast != Plumtree || m.Kind != wire.KindGossip {
		return false
	}
	for i, nid := range p.nbrIDs {
		if nid == id {
			c := p.neighbours[i]
			p.stats.Demoted++
			c.ihave = append(c.ihave, wire.MsgID{Origin: m.Addr, Seq: m.Seq})
			if len(c.ihave) == wire.MaxIDsPerLine {
				p.flushIHave(c)
			} else {
				p.scheduleLazy(now)
			}
			return true
		}
	}
	return false
}

func (p *Peer) flushIHave(c *conn) {
	p.send(c, wire.Message{Kind: wire.KindIHave, IDs: c.ihave})
	c.ihaveLast = uint16(len(c.ihave)) // at most MaxIDsPerLine
	c.ihave = nil                      // the action owns the slice now
}

// flushLazy sends every queued prune and announcement.
func (p *Peer) flushLazy() {
	for _, c := range p.neighbours {
		if c.prune {
			c.prune = false
			if c.lazy { // not grafted back (or made a parent) meanwhile
				p.stats.PruneSent++
				p.send(c, wire.Message{Kind: wire.KindPrune})
			}
		}
		if len(c.ihave) > 0 {
			p.flushIHave(c)
		}
	}
	p.lazyPending = false
}

// onDuplicate handles a copy of a message already seen: in Plumtree mode
// the link that carried it leaves the tree. The prune goes out with the
// next lazy flush: off the path of the message still spreading, and once
// for however many copies the link carries meanwhile.
func (p *Peer) onDuplicate(now time.Time, c *conn) {
	if p.cfg.Broadcast != Plumtree || c.prune || p.protected(c) {
		return
	}
	c.lazy, c.prune = true, true
	p.scheduleLazy(now)
}

// scheduleLazy makes sure a lazy flush is due within LazyInterval.
func (p *Peer) scheduleLazy(now time.Time) {
	if !p.lazyPending {
		p.lazyPending = true
		p.nextLazy = now.Add(p.cfg.LazyInterval)
		p.emit(Action{Kind: Wake})
	}
}

// The tree (docs/broadcast.md). Links carry messages eagerly only where
// they must: each peer's link to its parent, its biggest neighbour bigger
// than itself, is eager at both ends and never pruned (the peer names it
// with a bare graft); every other link starts lazy. Parent chains only
// climb, so they close no cycle, and the first message already costs one
// copy per peer, with no flood to prune. Pruning on duplicates alone could
// cut a cycle twice when two messages cross it at once; parent links are
// never cut, so the tree holds.

// linkedUp sets up a new link's place in the tree.
func (p *Peer) linkedUp(c *conn) {
	if p.cfg.Broadcast != Plumtree {
		return
	}
	c.lazy = true
	p.chooseParent()
}

// bigger orders peers for the tree: by capacity, then the lower address.
func bigger(capA int, a netip.AddrPort, capB int, b netip.AddrPort) bool {
	return capA > capB || capA == capB && lessAddr(a, b)
}

// chooseParent makes the biggest neighbour bigger than this peer its
// parent. Parents are always bigger than their children, so parent links
// never close a cycle, and chains climb quickly to the hubs: the tree is
// shallow. A peer bigger than all its neighbours is a root; if its tree is
// cut off from others, the first message it gets by a graft joins them
// (adopt).
func (p *Peer) chooseParent() {
	best := p.parent
	if best != nil && !bigger(best.capacity, best.addr, p.target, p.cfg.Self) {
		best = nil // adopted after a graft: give way to a proper one
	}
	for _, n := range p.neighbours {
		if bigger(n.capacity, n.addr, p.target, p.cfg.Self) && (best == nil || bigger(n.capacity, n.addr, best.capacity, best.addr)) {
			best = n
		}
	}
	if best != nil && best != p.parent {
		p.setParent(best)
	}
}

// knowsBigger reports whether a seed listed a peer bigger than this one:
// then this peer is not the overlay's biggest, the root of its one tree.
func (p *Peer) knowsBigger() bool {
	for _, k := range p.known {
		if bigger(k.capacity, k.addr, p.target, p.cfg.Self) {
			return true
		}
	}
	return false
}

// adopt makes from, which brought a new message, the parent of a peer
// that has none: a root whose tree was cut off from the rest (the message
// came after a graft; a child's messages never make its parent adopt it).
func (p *Peer) adopt(from *conn) {
	if p.cfg.Broadcast == Plumtree && p.parent == nil && !from.child {
		p.setParent(from)
	}
}

func (p *Peer) setParent(c *conn) {
	p.parent = c
	c.lazy = false
	p.send(c, wire.Message{Kind: wire.KindGraft})
}

// protected reports whether c is a tree link: this peer's parent or child.
func (p *Peer) protected(c *conn) bool { return c == p.parent || c.child }

// onPrune takes a link off the tree, unless it is this peer's parent:
// then a bare graft asks the other end to keep pushing.
func (p *Peer) onPrune(c *conn) {
	c.child = false
	if c == p.parent {
		p.send(c, wire.Message{Kind: wire.KindGraft})
		return
	}
	c.lazy = true
}

// onIHave records the announced messages this peer lacks.
func (p *Peer) onIHave(now time.Time, c *conn, ids []wire.MsgID) {
	for _, id := range ids {
		if p.ml.seen(id.Origin, id.Seq) {
			continue
		}
		i := p.findMissing(id)
		if i < 0 {
			if len(p.missing) >= p.cfg.MaxMissing || !p.missingShare(c) {
				p.stats.MissingDropped++
				continue
			}
			ms := missing{id: id, deadline: now.Add(p.cfg.GraftTimeout)}
			if p.cfg.Broadcast == Plumtree && p.parent == nil && p.knowsBigger() {
				// A root that is not the biggest peer (or an orphan): its
				// tree hangs off the rest by lazy links only, so whatever
				// is announced to it will not come by the tree. Ask now.
				ms.deadline = now
			}
			if p.nextGraft.IsZero() || ms.deadline.Before(p.nextGraft) {
				p.nextGraft = ms.deadline
				p.emit(Action{Kind: Wake})
			}
			i = len(p.missing)
			p.missing = append(p.missing, ms)
			p.missKeys = append(p.missKeys, missKey(id))
		}
		ms := &p.missing[i]
		if int(ms.n) < maxAnnouncers && !slices.Contains(ms.from[:ms.n], c.id) {
			ms.from[ms.n] = c.id
			ms.n++
		}
	}
}

// findMissing returns the index of id in the missing table, or -1. The
// table is a list: it holds the few messages announced ahead of their
// copy (a handful at most without loss, at most MaxMissing), and every
// first receipt looks in it, which a map made a tenth of a Plumtree
// simulation's time.
func (p *Peer) findMissing(id wire.MsgID) int {
	k := missKey(id)
	for i, mk := range p.missKeys {
		if mk == k && p.missing[i].id == id {
			return i
		}
	}
	return -1
}

// missKey hashes a message ID into a word: equal IDs have equal keys, and
// different ones almost never do.
func missKey(id wire.MsgID) uint64 {
	b := id.Origin.Addr().As16()
	hi := uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 | uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
	lo := uint64(b[8])<<56 | uint64(b[9])<<48 | uint64(b[10])<<40 | uint64(b[11])<<32 | uint64(b[12])<<24 | uint64(b[13])<<16 | uint64(b[14])<<8 | uint64(b[15])
	return (hi*0x9e3779b97f4a7c15^lo)*0xbf58476d1ce4e5b9 ^ uint64(id.Origin.Port())<<32 ^ uint64(id.Seq)
}

// dropMissing removes entry i from the missing table (whose order does not
// matter: graftDue sorts what it sends).
func (p *Peer) dropMissing(i int) {
	last := len(p.missing) - 1
	p.missing[i], p.missKeys[i] = p.missing[last], p.missKeys[last]
	p.missing[last] = missing{}
	p.missing, p.missKeys = p.missing[:last], p.missKeys[:last]
}

// received clears a message from the missing table.
func (p *Peer) received(id wire.MsgID) {
	if len(p.missing) > 0 {
		if i := p.findMissing(id); i >= 0 {
			p.dropMissing(i)
		}
		if len(p.missing) == 0 {
			p.nextGraft = time.Time{}
		}
	}
}

// graftDue grafts, for every missing message whose timer ran out, the next
// neighbour that announced it, and asks it for the message.
func (p *Peer) graftDue(now time.Time) {
	if p.nextGraft.IsZero() || now.Before(p.nextGraft) {
		return
	}
	var due []int // indices in the missing table
	p.nextGraft = time.Time{}
	for i := range p.missing {
		ms := &p.missing[i]
		if now.Before(ms.deadline) {
			if p.nextGraft.IsZero() || ms.deadline.Before(p.nextGraft) {
				p.nextGraft = ms.deadline
			}
			continue
		}
		due = append(due, i)
	}
	// In the order of the messages, not of the table.
	slices.SortFunc(due, func(i, j int) int {
		a, b := p.missing[i].id, p.missing[j].id
		if c := a.Origin.Compare(b.Origin); c != 0 {
			return c
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
	grafts := map[ConnID][]wire.MsgID{}
	var order []*conn
	gone := false // some entries were given up: n == 0 marks them
	for _, i := range due {
		ms := &p.missing[i]
		// Forget announcers whose links went; ask the others in turn.
		k := uint8(0)
		for _, cid := range ms.from[:ms.n] {
			if c := p.conns[cid]; c != nil && c.state == established {
				ms.from[k] = cid
				k++
			}
		}
		ms.n = k
		if ms.n == 0 || ms.tries >= maxGraftTries {
			ms.n = 0 // nobody left to ask: a later ihave may
			gone = true
			continue
		}
		to := p.conns[ms.from[int(ms.tries)%int(ms.n)]]
		ms.tries++
		if len(grafts[to.id]) == 0 {
			order = append(order, to)
		}
		grafts[to.id] = append(grafts[to.id], ms.id)
		// Wait a little less for the next announcer (paper: timer 2).
		ms.deadline = now.Add(p.cfg.GraftTimeout / 2)
		if p.nextGraft.IsZero() || ms.deadline.Before(p.nextGraft) {
			p.nextGraft = ms.deadline
		}
	}
	if gone {
		k := 0
		for i := range p.missing {
			if p.missing[i].n > 0 {
				p.missing[k], p.missKeys[k] = p.missing[i], p.missKeys[i]
				k++
			}
		}
		clear(p.missing[k:])
		p.missing, p.missKeys = p.missing[:k], p.missKeys[:k]
	}
	for _, c := range order {
		c.lazy = false
		ids := grafts[c.id]
		for len(ids) > 0 {
			n := min(len(ids), wire.MaxIDsPerLine)
			p.stats.GraftSent += uint64(n)
			p.send(c, wire.Message{Kind: wire.KindGraft, IDs: ids[:n:n]})
			ids = ids[n:]
		}
	}
}

// onGraft puts the link back in the tree and sends the messages asked for
// that are still cached.
func (p *Peer) onGraft(now time.Time, c *conn, ids []wire.MsgID) {
	c.lazy = false
	if len(ids) == 0 {
		c.child = true // a bare graft: we are its parent
		if c == p.parent && lessAddr(c.addr, p.cfg.Self) {
			// We are each other's parent (two roots that adopted each
			// other): the higher address gives way.
			p.parent = nil
		}
	}
	p.expireCache(now)
	budget := p.graftBudget(now, c, len(ids))
	for i, id := range ids {
		if budget == 0 {
			p.stats.GraftRefused += uint64(len(ids) - i)
			break
		}
		if slices.Contains(ids[:i], id) {
			continue // asked twice in one line: sent once
		}
		budget--
		if m, ok := p.lookup(id); ok {
			p.stats.GraftServed++
			p.stats.Forwarded++
			p.send(c, m)
		}
	}
}
