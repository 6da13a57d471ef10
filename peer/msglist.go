package peer

import (
	"net/netip"
	"time"
)

// windowBits is how far behind an origin's newest sequence number a
// message may arrive and still be accepted. Flooding reorders messages of
// one origin by a few at most; one further behind is refused as stale.
const windowBits = 64

// window remembers which of an origin's last windowBits sequence numbers
// have been seen, like an IPsec replay window.
type window struct {
	max  uint32    // highest sequence number seen
	bits uint64    // bit i set: max−i seen
	last time.Time // last time a new message of this origin was recorded
}

// verdict is what the message list says about a message.
type verdict uint8

const (
	fresh     verdict = iota // first receipt: deliver and forward
	duplicate                // seen before: drop
	stale                    // too old to tell: drop, never risk a second delivery
	overflow                 // no room for another origin: drop
)

// msgList is the Message List: it says whether a gossip message (origin,
// seq) has been seen. Memory is bounded per origin (one window) and in
// origins (maxOrigins, with idle origins expiring after ttl). A message
// older than ttl is stale: an origin is only forgotten after ttl without a
// new message, so every message it could still match is stale by then and
// forgetting it can never let a message be delivered twice.
type msgList struct {
	origins    map[netip.AddrPort]*window
	ttl        time.Duration
	maxOrigins int
	nextGC     time.Time
	// lastOrigin and lastWin cache the latest lookup: the copies of one
	// message arrive together, and the map lookup is the costly part of
	// telling a duplicate.
	lastOrigin netip.AddrPort
	lastWin    *window
}

func newMsgList(ttl time.Duration, maxOrigins int) *msgList {
	return &msgList{origins: make(map[netip.AddrPort]*window), ttl: ttl, maxOrigins: maxOrigins}
}

// check records (origin, seq) created at created, received at now.
func (l *msgList) check(now, created time.Time, origin netip.AddrPort, seq uint32) verdict {
	// Too old to tell, or stamped so far ahead that it could outlive its
	// entry: refuse rather than risk a second delivery.
	if created.Before(now.Add(-l.ttl)) || created.After(now.Add(l.ttl/2)) {
		return stale
	}
	w := l.window(origin)
	if w == nil {
		if len(l.origins) >= l.maxOrigins {
			l.gc(now)
			if len(l.origins) >= l.maxOrigins {
				return overflow
			}
		}
		w = &window{max: seq, bits: 1, last: now}
		l.origins[origin] = w
		l.lastOrigin, l.lastWin = origin, w
		return fresh
	}
	l.lastOrigin, l.lastWin = origin, w
	switch {
	case seq > w.max:
		shift := seq - w.max
		if shift >= windowBits {
			w.bits = 1
		} else {
			w.bits = w.bits<<shift | 1
		}
		w.max = seq
	case w.max-seq >= windowBits:
		return stale
	default:
		bit := uint64(1) << (w.max - seq)
		if w.bits&bit != 0 {
			return duplicate
		}
		w.bits |= bit
	}
	w.last = now
	return fresh
}

// window returns origin's window, nil if the origin is not tracked.
func (l *msgList) window(origin netip.AddrPort) *window {
	if l.lastWin != nil && l.lastOrigin == origin {
		return l.lastWin
	}
	return l.origins[origin]
}

// seen reports whether (origin, seq) was recorded, or is too far behind
// the origin's newest message to accept: either way an announcement of it
// asks for nothing. It records nothing.
func (l *msgList) seen(origin netip.AddrPort, seq uint32) bool {
	w := l.window(origin)
	if w == nil || seq > w.max {
		return false
	}
	d := w.max - seq
	return d >= windowBits || w.bits&(uint64(1)<<d) != 0
}

// gc forgets origins idle for longer than ttl. It runs at most once per
// ttl/4 unless forced by a full table.
func (l *msgList) gc(now time.Time) {
	// The cached window may be about to leave the map: a later lookup
	// must not find a detached copy.
	l.lastOrigin, l.lastWin = netip.AddrPort{}, nil
	cutoff := now.Add(-l.ttl)
	l.lastWin = nil
	for o, w := range l.origins {
		if w.last.Before(cutoff) {
			delete(l.origins, o)
		}
	}
	l.nextGC = now.Add(l.ttl / 4)
}

func (l *msgList) maybeGC(now time.Time) {
	if !now.Before(l.nextGC) {
		l.gc(now)
	}
}

func (l *msgList) len() int { return len(l.origins) }
