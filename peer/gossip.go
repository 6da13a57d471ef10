// Gossip: first receipts, duplicates, forwarding, and publishing.

package peer

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/whispernet/whispernet/wire"
)

// onGossip handles gossip from neighbour i.
func (p *Peer) onGossip(now time.Time, i int, m wire.Message) {
	if !p.gossipTok[i].allow(now.Sub(p.started), p.cfg.GossipRate, p.cfg.GossipBurst, 1) {
		p.overRate(now, p.neighbours[i], 1, &p.stats.RateLimited)
		return // over the neighbour's rate: not even checked
	}
	// Check a signature before the message list records the message, or a
	// forgery would make the real message a duplicate; but only for a
	// message not seen yet, so that duplicates cost no verification.
	if (p.cfg.Sign || m.Auth != nil) && !p.ml.seen(m.Addr, m.Seq) && !p.authentic(now, p.neighbours[i], &m) {
		return
	}
	switch p.ml.check(now, m.Time, m.Addr, m.Seq) {
	case duplicate:
		p.stats.Duplicates++
		if p.dupWork {
			if p.cfg.ReportDuplicates {
				p.emit(Action{Kind: Duplicate, Addr: p.neighbours[i].addr, Msg: m})
			}
			p.onDuplicate(now, p.neighbours[i])
		}
		return
	case stale:
		p.stats.Stale++
		return
	case overflow:
		p.stats.Overflow++
		return
	}
	if m.Addr == p.cfg.Self {
		// Our own message came back after we forgot it: never deliver it.
		p.stats.Duplicates++
		return
	}
	p.stats.Received++
	p.emit(Action{Kind: Deliver, Addr: p.nbrAddrs[i], Msg: m})
	if !p.cfg.DisableLog {
		p.emit(Action{Kind: Log, Text: receivedText(&m, p.nbrAddrs[i])})
	}
	p.received(wire.MsgID{Origin: m.Addr, Seq: m.Seq})
	if p.cfg.Broadcast == Plumtree {
		from := p.neighbours[i]
		from.lazy = false // it pushed a new message to us: part of the tree
		p.adopt(from)
	}
	m.Hops++
	p.push(now, m, i)
}

// Publish originates a gossip message with the given text and returns it.
func (p *Peer) Publish(now time.Time, text string) wire.Message {
	p.seq++
	m := wire.Message{Kind: wire.KindGossip, Addr: p.cfg.Self, Seq: p.seq, Time: wire.TimestampOf(now), Text: text}
	if p.cfg.Sign {
		wire.SignGossip(&m, p.Key())
	}
	p.ml.check(now, wire.TimestampOf(now), p.cfg.Self, p.seq)
	p.stats.Generated++
	p.emit(Action{Kind: Deliver, Addr: p.cfg.Self, Msg: m})
	if !p.cfg.DisableLog {
		p.logf("generated %s", logText(&m))
	}
	p.push(now, m, -1)
	return m
}

// logText is how a message appears in outputfile.log: its text when it is
// classic text, otherwise a summary, since a payload of any bytes (a
// newline, say) would break the one-event-per-line log.
func logText(m *wire.Message) string {
	if wire.IsText(m.Text) {
		return m.Text
	}
	return fmt.Sprintf("%s#%d (%d bytes of data)", m.Addr, m.Seq, len(m.Text))
}

// receivedText is the log line of a first receipt, "received TEXT from
// IP:PORT", built in one allocation: it is written for every delivery.
func receivedText(m *wire.Message, from netip.AddrPort) string {
	var arr [64]byte
	addr := from.AppendTo(arr[:0])
	text := logText(m)
	var b strings.Builder
	b.Grow(len("received ") + len(text) + len(" from ") + len(addr))
	b.WriteString("received ")
	b.WriteString(text)
	b.WriteString(" from ")
	b.Write(addr)
	return b.String()
}
