// Trust: signed gossip, origin keys, and neighbours that send bad gossip.

package peer

import (
	"encoding/base64"
	"net/netip"
	"strconv"
	"time"

	"github.com/whispernet/whispernet/identity"
	"github.com/whispernet/whispernet/wire"
)

// binding is the key an origin address signs with, as this peer knows it.
// Proven bindings come from the origin itself (its handshake, where it
// signed this peer's nonce) or from a seed that checked it (a peer-info
// entry with a key); others were first seen on a validly signed message.
type binding struct {
	key    identity.PublicKey
	proven bool
}

// authentic reports whether gossip m from neighbour c may enter the
// message list: signed, by the key bound to its origin, and not too far
// ahead of the origin's newest sequence number. A message that fails is
// counted, and c is struck: a neighbour that keeps sending such messages is
// cut off. It runs only for messages the message list has not seen, so a
// flooded duplicate costs no verification.
func (p *Peer) authentic(now time.Time, c *conn, m *wire.Message) bool {
	if c.awaitProof {
		// The dialler sends its proof before anything else.
		p.stats.BadHandshake++
		p.strike(now, c)
		return false
	}
	if m.Auth == nil {
		p.stats.Unsigned++
		if c.bad == 0 {
			// Once per link, so that a person typing gossip by hand
			// learns why nothing happens (docs/protocol.md).
			p.send(c, wire.Message{Kind: wire.KindError, Text: "unsigned gossip refused: this network signs gossip (sgossip lines; see docs/security.md)"})
		}
		p.strike(now, c)
		return false
	}
	b, bound := p.keys[m.Addr]
	if bound && b.key != m.Auth.Key {
		p.stats.KeyMismatch++
		p.strike(now, c)
		return false
	}
	if w := p.ml.window(m.Addr); w != nil && m.Seq > w.max && m.Seq-w.max > p.cfg.MaxSeqAhead {
		p.stats.SeqAhead++
		p.strike(now, c)
		return false
	}
	if !wire.VerifyGossip(m, p.cfg.Verifier) {
		p.stats.BadSignature++
		p.strike(now, c)
		return false
	}
	if !bound && !p.bind(m.Addr, m.Auth.Key, false) {
		p.stats.Overflow++
		return false
	}
	return true
}

// bind records key as origin's. A proven binding replaces any other; an
// unproven one never replaces a binding. It reports false when the table
// is full.
func (p *Peer) bind(origin netip.AddrPort, key identity.PublicKey, proven bool) bool {
	b, ok := p.keys[origin]
	switch {
	case ok && (b.proven || !proven):
		return b.key == key || !b.proven && !proven
	case !ok && len(p.keys) >= p.cfg.MaxOrigins:
		return false
	}
	if p.keys == nil {
		p.keys = make(map[netip.AddrPort]binding)
	}
	p.keys[origin] = binding{key: key, proven: proven}
	return true
}

// bindListed binds key, which a seed's peer keys reply lists for origin
// (the seed proved it by its dial-back), as proven: it replaces a
// first-seen binding, so that whoever signed in origin's name before the
// peer had the seed's word (a racer claiming the address first) is refused
// from now on. A proven binding stands (docs/security.md).
func (p *Peer) bindListed(origin netip.AddrPort, key identity.PublicKey) {
	old, had := p.keys[origin]
	if had && (old.proven || old.key == key) {
		if !old.proven {
			p.keys[origin] = binding{key: key, proven: true}
		}
		return
	}
	if p.bind(origin, key, true) {
		p.stats.SeedKeys++
		if had {
			p.stats.Rebound++
			p.logf("origin %s: key %s replaced by %s, which seed lists proved", origin, old.key, key)
		}
	}
}

// OriginKey returns the key this peer has bound to origin, and whether
// the binding is proven (docs/security.md).
func (p *Peer) OriginKey(origin netip.AddrPort) (key identity.PublicKey, proven, ok bool) {
	b, ok := p.keys[origin]
	return b.key, b.proven, ok
}

// strike counts one bad message from neighbour c; at MaxBadGossip the
// link is cut and the address is not dialled again for a refresh interval.
func (p *Peer) strike(now time.Time, c *conn) {
	c.bad++
	if c.bad < p.cfg.MaxBadGossip {
		return
	}
	p.stats.CutOff++
	p.logf("cutting off %s: %d bad gossip messages", c.addr, c.bad)
	p.emit(Action{Kind: Close, Conn: c.id})
	p.drop(c)
	p.dead[c.addr] = now.Add(p.cfg.RefreshInterval)
	p.fill(now)
}

// bucket is a token bucket: the arithmetic of golang.org/x/time/rate's
// Limiter.AllowN, kept inline (16 bytes, no lock, no allocation) where the
// core already reads (a gossip line's bucket sits beside heard, so a flooded
// duplicate still never reads its connection). The zero bucket is full.
type bucket struct {
	tokens float64       // left after the last allowed event
	last   time.Duration // that event's time since the peer started, plus 1 ns; 0: none yet
}

// allow reports whether n more items may pass at at (time since the peer
// started) with rate r a second (r <= 0: no limit) and burst, and takes
// them from the bucket if so.
func (b *bucket) allow(at time.Duration, r float64, burst, n int) bool {
	if r <= 0 {
		return true
	}
	tokens := float64(burst)
	if b.last != 0 {
		last := b.last - 1
		if at < last {
			last = at
		}
		tokens = min(b.tokens+(at-last).Seconds()*r, float64(burst))
	}
	tokens -= float64(n)
	// As rate's reserveN decides with no wait allowed: a deficit too small
	// to take a nanosecond to refill passes.
	if n > burst || tokens < 0 && time.Duration(-tokens/r*float64(time.Second)) > 0 {
		return false
	}
	b.tokens, b.last = tokens, at+1
	return true
}

// overRate counts n items from neighbour c dropped over one of its rate
// limits (in counter), and at MaxFloodDrops cuts the neighbour off.
func (p *Peer) overRate(now time.Time, c *conn, n int, counter *uint64) {
	*counter += uint64(n)
	c.flooded += n
	if c.flooded >= p.cfg.MaxFloodDrops {
		p.stats.FloodCutOff++
		p.logf("cutting off %s: %d lines or announcements over its rates", c.addr, c.flooded)
		p.emit(Action{Kind: Close, Conn: c.id})
		p.drop(c)
		p.dead[c.addr] = now.Add(p.cfg.RefreshInterval)
		p.fill(now)
	}
}

// nonce returns a fresh handshake nonce: the first 16 bytes of the peer's
// signature of a counter, which nobody without the key can predict, and
// which takes nothing from the RNG (a signing peer makes the same choices
// as an unsigned one).
func (p *Peer) nonce() string {
	p.nonces++
	sig := p.Key().Sign(strconv.AppendUint([]byte("whispernet nonce\n"), p.nonces, 10))
	return base64.RawURLEncoding.EncodeToString(sig[:16])
}

// acceptedAuth checks the accepter's answer to our nonce on an outbound
// handshake. An accepter that sends no key is an unauthenticated peer (an
// older node, or a person typing): the link stands, but nothing is bound.
// One that sends a key must have signed our nonce as the address we
// dialled, which proves the key is that address's: we reached it there.
func (p *Peer) acceptedAuth(now time.Time, c *conn, m wire.Message) bool {
	if c.nonce == "" || m.Auth == nil {
		return true
	}
	b, bound := p.keys[c.addr]
	if !wire.VerifyChallenge(m.Auth.Key, m.Auth.Sig, c.nonce, c.addr) || bound && b.proven && b.key != m.Auth.Key {
		p.stats.BadHandshake++
		p.logf("%s answered the handshake with a wrong key or signature; closing", c.addr)
		p.emit(Action{Kind: Close, Conn: c.id})
		p.drop(c)
		p.penalise(now, c.addr)
		return false
	}
	p.bind(c.addr, m.Auth.Key, true)
	c.key = m.Auth.Key
	p.send(c, wire.Message{Kind: wire.KindConnectProof, Auth: &wire.Auth{Sig: wire.SignChallenge(p.Key(), m.Text, p.cfg.Self)}})
	return true
}

// onProof checks the dialler's answer to our nonce on an inbound link.
// A good proof binds its key to the address it claimed, unproven: only the
// IP of that address is the connection's, not the port.
func (p *Peer) onProof(now time.Time, c *conn, m wire.Message) {
	if !c.awaitProof {
		p.stats.Unexpected++
		return
	}
	c.awaitProof = false
	if m.Auth == nil || !wire.VerifyChallenge(c.key, m.Auth.Sig, c.nonce, c.addr) {
		p.stats.BadHandshake++
		p.logf("%s sent a wrong handshake proof; closing", c.addr)
		p.emit(Action{Kind: Close, Conn: c.id})
		p.drop(c)
		p.fill(now)
		return
	}
	p.bind(c.addr, c.key, false)
}

// answerChallenge answers a seed's probe on a fresh connection: signed,
// as this peer's address, then the connection closes.
func (p *Peer) answerChallenge(c *conn, m wire.Message) {
	p.stats.Challenges++
	k := p.Key()
	p.send(c, wire.Message{Kind: wire.KindChallengeReply, Addr: p.cfg.Self, Auth: &wire.Auth{Key: k.Public(), Sig: wire.SignChallenge(k, m.Text, p.cfg.Self)}})
	p.emit(Action{Kind: Close, Conn: c.id})
	delete(p.conns, c.id)
}

// groupFull reports whether the inbound links from ip's network group
// (wire.NetGroup) have reached MaxPerGroup: one network cannot take every
// slot of a peer.
func (p *Peer) groupFull(ip netip.Addr) bool {
	g, ok := wire.NetGroup(ip)
	if !ok {
		return false
	}
	n := 0
	for _, c := range p.neighbours {
		if !p.outbound[c.id] && g.Contains(c.remoteIP.Unmap()) {
			n++
		}
	}
	return n >= p.cfg.MaxPerGroup
}

// graftBudget reports whether c may be served n more grafted messages
// this second: a neighbour that asks for the cache over and over (a graft
// storm) gets at most CacheSize messages a second.
func (p *Peer) graftBudget(now time.Time, c *conn, n int) int {
	if now.Sub(c.graftSince) >= time.Second {
		c.graftSince, c.graftServed = now, 0
	}
	n = max(0, min(n, p.cfg.CacheSize-c.graftServed))
	c.graftServed += n
	return n
}

// missingShare reports whether announcer c may add another entry to the
// missing table: once it is half full, no neighbour may hold more than
// its share of the other half, so one that floods announcements of
// messages that do not exist cannot crowd out the real ones.
func (p *Peer) missingShare(c *conn) bool {
	if len(p.missing) < p.cfg.MaxMissing/2 {
		return true
	}
	mine := 0
	for i := range p.missing {
		if p.missing[i].n > 0 && p.missing[i].from[0] == c.id {
			mine++
		}
	}
	return mine < max(1, p.cfg.MaxMissing/(2*max(1, len(p.neighbours))))
}
