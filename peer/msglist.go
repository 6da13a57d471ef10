package peer

import (
	"math/bits"
	"net/netip"
	"time"

	"github.com/whispernet/whispernet/wire"
)

// windowBits is how far behind an origin's newest sequence number a
// message may arrive and still be accepted. Flooding reorders messages of
// one origin by a few at most; one further behind is refused as stale.
const windowBits = 64

// window remembers which of an origin's last windowBits sequence numbers
// have been seen, like an IPsec replay window.
type window struct {
	bits uint64 // bit i set: max−i seen
	max  uint32 // highest sequence number seen
	last uint32 // when a new message of this origin was last recorded, in whole seconds since msgList.base
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
//
// Telling a duplicate is the hottest path of a flooding network, so IPv4
// origins (all of a simulated network's, and of most real ones) live in
// an open-addressed table keyed by address and port packed in a word, with
// their windows inline: one lookup is one or two cache lines. Other
// origins go to a map.
type msgList struct {
	// The fields a check reads first.
	slots []slot // power-of-two length, linear probing; key 0 is free
	used  int    // occupied slots
	ttl   time.Duration
	// base is the time of the first check: windows count their last use
	// in seconds from it, truncated, so an origin may outlive its ttl by
	// up to a second, never the other way.
	base time.Time

	other      map[netip.AddrPort]*window
	maxOrigins int
	nextGC     time.Time
}

// slot is one IPv4 origin's entry, 24 bytes.
type slot struct {
	key uint64 // 1<<48 | IPv4<<16 | port; 0: free
	w   window
}

// minSlots is the table's smallest size.
const minSlots = 8

func newMsgList(ttl time.Duration, maxOrigins int) msgList {
	return msgList{ttl: ttl, maxOrigins: maxOrigins}
}

// key4 packs an IPv4 origin into a non-zero word; an IPv4-mapped IPv6
// origin is not one (it is another AddrPort than its IPv4 form).
func key4(origin netip.AddrPort) (uint64, bool) {
	a := origin.Addr()
	if !a.Is4() {
		return 0, false
	}
	b := a.As4()
	return 1<<48 | uint64(b[0])<<40 | uint64(b[1])<<32 | uint64(b[2])<<24 | uint64(b[3])<<16 | uint64(origin.Port()), true
}

// hash spreads a key over the table (Fibonacci hashing).
func hash(k uint64, shift uint) uint64 { return (k * 0x9e3779b97f4a7c15) >> shift }

// find returns k's slot index, or the free slot where it would go and
// false.
func (l *msgList) find(k uint64) (int, bool) {
	n := len(l.slots)
	if n == 0 {
		return -1, false
	}
	mask := n - 1
	i := int(hash(k, uint(64-bits.TrailingZeros(uint(n))))) & mask
	for {
		switch l.slots[i].key {
		case k:
			return i, true
		case 0:
			return i, false
		}
		i = (i + 1) & mask
	}
}

// window returns origin's window, nil if the origin is not tracked.
func (l *msgList) window(origin netip.AddrPort) *window {
	if k, ok := key4(origin); ok {
		if i, found := l.find(k); found {
			return &l.slots[i].w
		}
		return nil
	}
	return l.other[origin]
}

// insert starts tracking origin with window w.
func (l *msgList) insert(origin netip.AddrPort, w window) {
	k, ok := key4(origin)
	if !ok {
		if l.other == nil {
			l.other = make(map[netip.AddrPort]*window)
		}
		l.other[origin] = &w
		return
	}
	// Keep the table at most seven eighths full, so that probe runs stay
	// short while 100 origins fit in 128 slots (3 kB).
	if (l.used+1)*8 > len(l.slots)*7 {
		l.resize(max(minSlots, 2*len(l.slots)))
	}
	i, _ := l.find(k)
	l.slots[i] = slot{key: k, w: w}
	l.used++
}

// resize rebuilds the table with n slots, dropping free ones.
func (l *msgList) resize(n int) {
	old := l.slots
	l.slots = make([]slot, n)
	for _, s := range old {
		if s.key != 0 {
			i, _ := l.find(s.key)
			l.slots[i] = s
		}
	}
}

// check records (origin, seq) created at created, received at now.
func (l *msgList) check(now time.Time, created wire.Timestamp, origin netip.AddrPort, seq uint32) verdict {
	// Too old to tell, or stamped so far ahead that it could outlive its
	// entry: refuse rather than risk a second delivery. (In whole
	// microseconds, the timestamps' unit: no conversion, no overflow
	// whatever the line said.)
	nowUS, ttlUS := now.UnixMicro(), l.ttl.Microseconds()
	if int64(created) < nowUS-ttlUS || int64(created) > nowUS+ttlUS/2 {
		return stale
	}
	if l.base.IsZero() {
		l.base = now
	}
	w := l.window(origin)
	if w == nil {
		if l.len() >= l.maxOrigins {
			l.gc(now)
			if l.len() >= l.maxOrigins {
				return overflow
			}
		}
		l.insert(origin, window{max: seq, bits: 1, last: l.secs(now)})
		return fresh
	}
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
	w.last = l.secs(now)
	return fresh
}

// secs returns t in whole seconds since base (0 before it).
func (l *msgList) secs(t time.Time) uint32 {
	d := t.Sub(l.base)
	if d < 0 {
		return 0
	}
	return uint32(min(d/time.Second, 1<<32-1))
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
	if l.base.IsZero() {
		l.nextGC = now.Add(l.ttl / 4)
		return // nothing recorded yet
	}
	// A window is idle for longer than ttl if its last second ends
	// before now−ttl.
	cutoff := l.secs(now.Add(-l.ttl))
	for o, w := range l.other {
		if w.last < cutoff {
			delete(l.other, o)
		}
	}
	live := 0
	for _, s := range l.slots {
		if s.key != 0 && s.w.last >= cutoff {
			live++
		}
	}
	if live < l.used {
		// Rebuild without the expired: linear probing has no simple
		// delete, and this runs once per ttl/4 at most.
		old := l.slots
		l.slots, l.used = nil, 0
		if live > 0 {
			n := minSlots
			for live*8 > n*7 {
				n *= 2
			}
			l.slots = make([]slot, n)
		}
		for _, s := range old {
			if s.key != 0 && s.w.last >= cutoff {
				i, _ := l.find(s.key)
				l.slots[i] = s
				l.used++
			}
		}
	}
	l.nextGC = now.Add(l.ttl / 4)
}

func (l *msgList) maybeGC(now time.Time) {
	if !now.Before(l.nextGC) {
		l.gc(now)
	}
}

func (l *msgList) len() int { return l.used + len(l.other) }
