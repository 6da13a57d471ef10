// Graceful leave: telling the neighbours and the seeds, and hearing a
// neighbour say it leaves.

package peer

import (
	"time"

	"github.com/whispernet/whispernet/wire"
)

// Leave makes the peer leave the network gracefully: it sends
// Leaving:SELF to every neighbour and closes every connection (a driver
// writes what is queued before it closes), and sends Leaving to every seed
// it is registered with (or registering with), which remove it at once
// instead of waiting for a dead report or expiry. With Sign on, the leave
// to the seeds is signed (Leaving:SELF:KEY:TS:SIG). Neighbours replace it
// without a liveness timeout, and nobody reports it dead.
//
// Afterwards the peer does nothing else, as after Stop, but it still takes
// the seeds' answers (SeedReply, SeedFailed); once every seed has answered
// or failed it emits Left, and the driver may stop. With no seed to tell,
// Left comes at once.
func (p *Peer) Leave(now time.Time) {
	if p.stopped {
		return
	}
	bye := wire.Message{Kind: wire.KindLeaving, Addr: p.cfg.Self}
	told := len(p.neighbours)
	for _, c := range p.neighbours {
		p.send(c, bye)
	}
	for _, id := range p.connIDs() {
		p.emit(Action{Kind: Close, Conn: id})
	}
	clear(p.conns)
	p.neighbours, p.nbrIDs, p.nbrAddrs = nil, nil, nil
	p.stopped, p.leaving = true, true
	if p.cfg.Sign {
		// Signed, a seed that verified this peer's key believes the
		// leave from the key, not from the IP (docs/security.md).
		wire.SignLeaving(&bye, p.Key(), wire.TimestampOf(now))
	}
	for _, s := range p.seeds {
		// A register still in flight may yet succeed: the seed's client
		// sends requests in order, so the leave arrives after it.
		if s.registered || s.busy {
			s.registered, s.busy = false, false
			p.leavePending++
			p.emit(Action{Kind: SeedRequest, Addr: s.addr, Msg: bye})
		}
	}
	p.logf("leaving: told %d neighbour(s), telling %d seed(s)", told, p.leavePending)
	if p.leavePending == 0 {
		p.left()
	}
}

// Leaving reports whether Leave was called.
func (p *Peer) Leaving() bool { return p.leaving }

// leaveAnswered settles the Leaving request to seed s (answered when err
// is false).
func (p *Peer) leaveAnswered(s *seedState, reply wire.Message, failed bool) {
	if !p.leaving || p.leavePending == 0 {
		return
	}
	switch {
	case failed:
		p.logf("could not tell seed %s that this peer leaves (its registration expires there)", s.addr)
	case reply.Kind == wire.KindError:
		p.logf("seed %s refused the leave: %s", s.addr, reply.Text)
	}
	p.leavePending--
	if p.leavePending == 0 {
		p.left()
	}
}

func (p *Peer) left() {
	p.logf("left")
	p.emit(Action{Kind: Left})
}

// onLeaving handles Leaving from neighbour c: the link goes without a
// probe and without a dead report, the peer is forgotten as a candidate
// (and not dialled again for a refresh interval: the seeds have dropped
// it, and a copy of a peer list from before may still name it), and a
// replacement is dialled at once.
func (p *Peer) onLeaving(now time.Time, c *conn, m wire.Message) {
	if m.Addr != c.addr {
		// Only a peer itself may say it leaves.
		p.stats.Unexpected++
		return
	}
	p.stats.NeighboursLeft++
	p.logf("neighbour %s left; replacing it", c.addr)
	p.emit(Action{Kind: NeighbourLeft, Addr: c.addr})
	p.emit(Action{Kind: Close, Conn: c.id})
	p.drop(c)
	p.forget(c.addr)
	p.dead[c.addr] = now.Add(p.cfg.RefreshInterval)
	for _, s := range p.seeds {
		p.settleDead(s, c.addr) // a report about it from before is moot
	}
	p.fill(now)
}
