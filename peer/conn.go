// Connections: opening, handshakes, establishment, closing and the neighbour messages that arrive on them.

package peer

import (
	"net/netip"
	"slices"
	"time"

	"github.com/whispernet/whispernet/wire"
)

// handshaking reports whether some connection is still in its handshake:
// every other is a neighbour's.
func (p *Peer) handshaking() bool { return len(p.conns) > len(p.neighbours) }

// pendingIDs returns the IDs of the connections still in their
// handshake, in ascending order; nil, without a look at the map, when
// there are none.
func (p *Peer) pendingIDs() []ConnID {
	if !p.handshaking() {
		return nil
	}
	var ids []ConnID
	for _, id := range p.connIDs() {
		if p.conns[id].state != established {
			ids = append(ids, id)
		}
	}
	return ids
}

// connIDs returns every connection ID in ascending order (deterministic).
func (p *Peer) connIDs() []ConnID {
	ids := make([]ConnID, 0, len(p.conns))
	for id := range p.conns {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Opened reports a new connection: an outbound one the core asked for
// with Dial (addr is the dialed address), or an inbound one (addr is the
// socket's remote address, whose port is not the peer's listening port).
func (p *Peer) Opened(now time.Time, id ConnID, addr netip.AddrPort, outbound bool) {
	if p.stopped {
		p.emit(Action{Kind: Close, Conn: id})
		return
	}
	if !outbound {
		p.conns[id] = &conn{id: id, remoteIP: addr.Addr(), state: pendingIn, opened: now}
		return
	}
	probe := p.probing[addr]
	delete(p.probing, addr)
	if !p.dialing[addr] && !probe {
		// We gave this dial up (the other side's connection won).
		p.emit(Action{Kind: Close, Conn: id})
		return
	}
	delete(p.dialing, addr)
	if p.neighbour(addr) != nil || !probe && len(p.neighbours) >= p.target {
		// Linked meanwhile, or filled up by inbound links while dialling.
		delete(p.isolated, addr)
		p.emit(Action{Kind: Close, Conn: id})
		return
	}
	c := &conn{id: id, addr: addr, remoteIP: addr.Addr(), state: pendingOut, opened: now, probe: probe}
	p.conns[id] = c
	p.awaiting[addr] = c
	p.outbound[id] = true
	isolated := p.isolated[addr] && len(p.neighbours) == 0
	delete(p.isolated, addr)
	hs := wire.Message{Kind: wire.KindConnect, Addr: p.cfg.Self, Cap: p.target, Degree: len(p.neighbours), Isolated: isolated}
	if p.cfg.Sign {
		c.nonce = p.nonce()
		hs.Auth, hs.Text = &wire.Auth{Key: p.Key().Public()}, c.nonce
	}
	p.send(c, hs)
}

// DialFailed reports that a Dial to addr could not connect.
func (p *Peer) DialFailed(now time.Time, addr netip.AddrPort) {
	if p.probing[addr] {
		delete(p.probing, addr)
		p.declareDead(now, addr, "its connection closed and it refuses new ones", false)
		p.fill(now)
		return
	}
	if !p.dialing[addr] {
		return
	}
	delete(p.dialing, addr)
	delete(p.isolated, addr)
	p.penalise(now, addr)
	p.firstLinkMissed(now)
	// Otherwise the next fill comes with the fill timer: refilling at once after
	// every failure would turn a crowd of full peers into a dial storm.
}

// penalise backs off from a candidate that failed us.
func (p *Peer) penalise(now time.Time, a netip.AddrPort) {
	if i, ok := p.knownIdx.get(a); ok {
		k := p.known[i]
		k.failures++
		k.notBefore = now.Add(p.backoff(k.failures))
	}
}

// Closed reports that the connection id closed (the remote end hung up or
// the driver gave up on it).
func (p *Peer) Closed(now time.Time, id ConnID) {
	c, ok := p.conns[id]
	if !ok {
		return
	}
	p.drop(c)
	if c.probe && !p.stopped {
		// The redial of a closed neighbour closed before its handshake
		// completed: the probe failed. (establish clears probe, so this
		// is a pending connection.)
		p.declareDead(now, c.addr, "its connection closed again", false)
		p.fill(now)
		return
	}
	if c.state != established || p.stopped {
		if c.state == pendingOut {
			p.penalise(now, c.addr)
			p.firstLinkMissed(now)
		}
		return
	}
	// A crashed peer's sockets close at once: check by redialling. A
	// refused dial declares it dead; a peer that answers stays alive.
	p.logf("connection to %s closed; checking whether it is alive", c.addr)
	p.probing[c.addr] = true
	p.emit(Action{Kind: Dial, Addr: c.addr})
}

// drop forgets a connection and, if it was a neighbour, the link.
func (p *Peer) drop(c *conn) {
	delete(p.conns, c.id)
	delete(p.outbound, c.id)
	if c.state == pendingOut && p.awaiting[c.addr] == c {
		delete(p.awaiting, c.addr)
	}
	if c.state != established {
		return
	}
	delete(p.linked, c.addr)
	if p.parent == c {
		p.parent = nil
		defer p.chooseParent() // once the link is gone
	}
	if i := slices.Index(p.neighbours, c); i >= 0 {
		p.neighbours = slices.Delete(p.neighbours, i, i+1)
		p.nbrIDs = slices.Delete(p.nbrIDs, i, i+1)
		p.nbrAddrs = slices.Delete(p.nbrAddrs, i, i+1)
		p.updateAliveDue()
		p.heard = slices.Delete(p.heard, i, i+1)
		p.gossipTok = slices.Delete(p.gossipTok, i, i+1)
	}
	p.emit(Action{Kind: Link, Addr: c.addr, N: 0})
	p.degreeChanged()
}

func (p *Peer) degreeChanged() {
	d := len(p.neighbours)
	if d == p.lastDegree {
		return
	}
	p.lastDegree = d
	p.emit(Action{Kind: Degree, N: d})
	p.dirty = true
	p.infoEvery = 0
}

func (p *Peer) establish(now time.Time, c *conn) {
	p.firstMisses = 0
	if c.state == pendingOut && p.awaiting[c.addr] == c {
		delete(p.awaiting, c.addr)
	}
	p.linked[c.addr] = c
	c.state = established
	c.lastAlive = now
	p.neighbours = append(p.neighbours, c)
	p.nbrIDs = append(p.nbrIDs, c.id)
	p.nbrAddrs = append(p.nbrAddrs, c.addr)
	p.updateAliveDue()
	p.heard = append(p.heard, 0)
	p.gossipTok = append(p.gossipTok, bucket{})
	p.stats.ConnsOpened++
	if c.probe {
		p.logf("%s is alive again; link restored", c.addr)
		c.probe = false
	} else {
		dir := "inbound"
		if p.outbound[c.id] {
			dir = "outbound"
		}
		p.logf("connected to %s (%s, degree %d/%d)", c.addr, dir, len(p.neighbours), p.target)
	}
	if i, ok := p.knownIdx.get(c.addr); ok {
		p.known[i].failures = 0
		if c.capacity == 0 {
			c.capacity = p.known[i].capacity // outbound: as the seeds said
		}
	} else {
		p.learn(wire.PeerInfo{Addr: c.addr, Cap: c.capacity})
	}
	delete(p.dead, c.addr)
	for _, s := range p.seeds {
		p.settleDead(s, c.addr) // alive after all
	}
	p.linkedUp(c)
	p.emit(Action{Kind: Link, Addr: c.addr, N: 1})
	p.degreeChanged()
	if len(p.neighbours) == 1 {
		p.fill(now) // the first link is in: dial the rest now
	}
}

func (p *Peer) refuse(c *conn, reason string) {
	p.stats.ConnsRefused++
	p.send(c, wire.Message{Kind: wire.KindConnectRefused, Text: reason})
	p.emit(Action{Kind: Close, Conn: c.id})
	delete(p.conns, c.id)
}

// Receive handles one message that arrived on connection id.
func (p *Peer) Receive(now time.Time, id ConnID, m wire.Message) {
	if p.stopped {
		return
	}
	// Almost every message comes from a neighbour: find it in the compact
	// ID list, without a map lookup or a look at the connection (for a
	// flooded duplicate, the only state it needs).
	for i, nid := range p.nbrIDs {
		if nid == id {
			p.heard[i] = now.Sub(p.started) + 1 // anything a neighbour sends is a sign of life (+1: never 0)
			// Gossip by the index: a flooded duplicate, the commonest
			// message of all, never reads the neighbour's connection.
			if m.Kind == wire.KindGossip {
				p.onGossip(now, i, m)
			} else {
				p.onNeighbourMessage(now, p.neighbours[i], m)
			}
			return
		}
	}
	// Otherwise a connection in its handshake (an established one is a
	// neighbour's, found above).
	c, ok := p.conns[id]
	if !ok {
		return
	}
	switch c.state {
	case pendingIn:
		if m.Kind == wire.KindChallenge {
			p.answerChallenge(c, m)
			return
		}
		if m.Kind != wire.KindConnect {
			p.stats.Unexpected++
			p.send(c, wire.Message{Kind: wire.KindError, Text: "handshake first: Connection with Peer:IP:PORT"})
			p.emit(Action{Kind: Close, Conn: c.id})
			delete(p.conns, c.id)
			return
		}
		p.handshake(now, c, m)
	case pendingOut:
		switch m.Kind {
		case wire.KindConnectAccepted:
			if m.Addr != c.addr {
				p.logf("%s answered as %s; closing", c.addr, m.Addr)
				p.emit(Action{Kind: Close, Conn: c.id})
				p.drop(c)
				p.penalise(now, c.addr)
				p.firstLinkMissed(now)
				return
			}
			if !c.probe && len(p.neighbours) >= p.target {
				// Inbound links filled us up while this handshake was in
				// flight: keep to the target. The other end sees the close.
				p.emit(Action{Kind: Close, Conn: c.id})
				p.drop(c)
				return
			}
			if c.probe && len(p.neighbours) >= p.cfg.MaxPeers {
				// The probed neighbour is alive, but its slot was taken
				// meanwhile and MaxPeers is a hard cap.
				p.logf("%s is alive, but this peer is full now; not restoring the link", c.addr)
				p.emit(Action{Kind: Close, Conn: c.id})
				p.drop(c)
				return
			}
			if !p.acceptedAuth(now, c, m) {
				return
			}
			if m.Cap > 0 {
				c.capacity = min(m.Cap, p.cfg.MaxCapacity)
			}
			p.establish(now, c)
		case wire.KindConnectRefused:
			p.emit(Action{Kind: Close, Conn: c.id})
			p.drop(c)
			if c.probe {
				// It answered, so it is alive; it just will not take us back.
				p.logf("%s is alive but refused the link again (%s)", c.addr, m.Text)
			} else if m.Text == RefuseFull {
				if i, ok := p.knownIdx.get(c.addr); ok {
					k := p.known[i]
					// Full, whatever the seed said (and linked: a full
					// peer has neighbours, even if its capacity is unknown).
					k.capacity = max(k.capacity, 1)
					k.degree = max(k.degree, k.capacity)
				}
			}
			p.penalise(now, c.addr) // the fill timer tries another
			if !c.probe {
				p.firstLinkMissed(now)
			}
		default:
			p.stats.Unexpected++
		}
	}
}

// Refusal reasons sent in Connection refused.
const (
	RefuseFull      = "full"
	RefuseDuplicate = "duplicate"
	RefuseSelf      = "self"
	RefuseMismatch  = "address mismatch"
	RefuseKey       = "key mismatch"
)

func (p *Peer) handshake(now time.Time, c *conn, m wire.Message) {
	a := m.Addr
	switch {
	case a == p.cfg.Self:
		p.refuse(c, RefuseSelf)
		return
	case a.Addr().Unmap() != c.remoteIP.Unmap():
		p.refuse(c, RefuseMismatch)
		return
	case p.neighbour(a) != nil:
		p.refuse(c, RefuseDuplicate)
		return
	}
	// Both sides dialled at once: the connection from the lower address
	// wins, on both ends.
	ours := p.awaiting[a]
	if ours != nil || p.dialing[a] || p.probing[a] {
		if lessAddr(p.cfg.Self, a) {
			p.refuse(c, RefuseDuplicate)
			return
		}
		if ours != nil {
			p.emit(Action{Kind: Close, Conn: ours.id})
			p.drop(ours)
		}
		delete(p.dialing, a) // Opened will close it if it still connects
		delete(p.probing, a)
	}
	if p.groupFull(c.remoteIP) {
		p.stats.GroupRefused++
		p.refuse(c, RefuseFull)
		return
	}
	// Only established links count: our own dials may well fail (their
	// targets are often full), and refusing inbound links meanwhile would
	// leave two short peers refusing each other.
	if len(p.neighbours) >= p.target {
		if !m.Isolated || len(p.neighbours) >= p.cfg.MaxPeers {
			p.refuse(c, RefuseFull)
			return
		}
		// An isolated peer: take it beyond the target to keep the
		// overlay connected.
	}
	acc := wire.Message{Kind: wire.KindConnectAccepted, Addr: p.cfg.Self, Cap: p.target, Degree: len(p.neighbours)}
	if m.Auth != nil {
		if b, ok := p.keys[a]; ok && b.key != m.Auth.Key {
			// Somebody else's key for this address: a borrowed port.
			p.stats.BadHandshake++
			p.refuse(c, RefuseKey)
			return
		}
		c.key, c.nonce, c.awaitProof = m.Auth.Key, p.nonce(), true
		acc.Auth = &wire.Auth{Key: p.Key().Public(), Sig: wire.SignChallenge(p.Key(), m.Text, p.cfg.Self)}
		acc.Text = c.nonce
	}
	c.addr = a
	c.capacity = min(m.Cap, p.cfg.MaxCapacity) // a claim past the network's bound is a lie
	p.send(c, acc)
	if i, ok := p.knownIdx.get(a); ok {
		p.known[i].capacity = m.Cap
	}
	p.establish(now, c)
}

// lessAddr orders addresses by IP, then port.
func lessAddr(a, b netip.AddrPort) bool { return a.Compare(b) < 0 }

// onNeighbourMessage handles a message other than gossip from neighbour c.
func (p *Peer) onNeighbourMessage(now time.Time, c *conn, m wire.Message) {
	c.lastAlive = now // a sign of life (gossip, the commonest line, sets heard instead)
	at := now.Sub(p.started)
	switch m.Kind {
	case wire.KindLivenessRequest, wire.KindLivenessReply:
		if !c.livenessTok.allow(at, p.cfg.LivenessRate, p.cfg.LivenessBurst, 1) {
			p.overRate(now, c, 1, &p.stats.LivenessLimited)
			return
		}
	case wire.KindGraft, wire.KindPrune:
		if !c.controlTok.allow(at, p.cfg.ControlRate, p.cfg.ControlBurst, 1) {
			p.overRate(now, c, 1, &p.stats.ControlLimited)
			return
		}
	}
	switch m.Kind {
	case wire.KindLivenessRequest:
		p.send(c, wire.Message{Kind: wire.KindLivenessReply, Time: m.Time, Addr: m.Addr, From: p.cfg.Self})
	case wire.KindLivenessReply:
		p.stats.LivenessReply++
		c.lastAlive = now
		p.updateAliveDue()
		if m.Time == c.lastReq {
			c.rtt = now.Sub(m.Time.Time())
		}
		c.unacked = 0
	case wire.KindIHave:
		if c.ihaveTok.allow(at, p.cfg.IHaveRate, p.cfg.IHaveBurst, len(m.IDs)) {
			p.onIHave(now, c, m.IDs)
		} else {
			p.overRate(now, c, len(m.IDs), &p.stats.RateLimited)
		}
	case wire.KindGraft:
		p.onGraft(now, c, m.IDs)
	case wire.KindPrune:
		p.onPrune(c)
	case wire.KindLeaving:
		p.onLeaving(now, c, m)
	case wire.KindConnectProof:
		p.onProof(now, c, m)
	default:
		p.stats.Unexpected++
	}
}
