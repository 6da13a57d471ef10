package peer

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/whispernet/whispernet/wire"
)

// listModel is the message list's specification, kept naively: every
// sequence number seen, per origin.
type listModel struct {
	ttl        time.Duration
	maxOrigins int
	origins    map[netip.AddrPort]*modelOrigin
	nextGC     time.Time
	base       time.Time // the first check's time: idleness counts in whole seconds from it
}

type modelOrigin struct {
	max  uint32
	seen map[uint32]bool
	last time.Time
}

// secs is t in whole seconds since base.
func (m *listModel) secs(t time.Time) int64 {
	return int64(max(0, t.Sub(m.base)) / time.Second)
}

func (m *listModel) gc(now time.Time) {
	for o, e := range m.origins {
		// Idle for longer than ttl, by the seconds it was last seen in.
		if m.secs(e.last) < m.secs(now.Add(-m.ttl)) {
			delete(m.origins, o)
		}
	}
	m.nextGC = now.Add(m.ttl / 4)
}

func (m *listModel) check(now, created time.Time, o netip.AddrPort, seq uint32) verdict {
	// Timestamps are whole microseconds: compare at that resolution.
	now = now.Truncate(time.Microsecond)
	if created.Before(now.Add(-m.ttl)) || created.After(now.Add(m.ttl/2)) {
		return stale
	}
	if m.base.IsZero() {
		m.base = now
	}
	e := m.origins[o]
	if e == nil {
		if len(m.origins) >= m.maxOrigins {
			m.gc(now)
			if len(m.origins) >= m.maxOrigins {
				return overflow
			}
		}
		m.origins[o] = &modelOrigin{max: seq, seen: map[uint32]bool{seq: true}, last: now}
		return fresh
	}
	switch {
	case seq > e.max:
		e.max = seq
	case e.max-seq >= windowBits:
		return stale
	case e.seen[seq]:
		return duplicate
	}
	e.seen[seq] = true
	e.last = now
	return fresh
}

func (m *listModel) seen(o netip.AddrPort, seq uint32) bool {
	e := m.origins[o]
	if e == nil || seq > e.max {
		return false
	}
	return e.max-seq >= windowBits || e.seen[seq]
}

// checkMsgList runs random operations on a message list and its model
// and fails at the first disagreement. Origins mix IPv4, IPv6 and
// IPv4-mapped IPv6 addresses (the last must stay apart from their IPv4
// form), enough of them to grow the table and to overflow it, with time
// moving on so that origins expire.
func checkMsgList(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	ttl := time.Duration(1+rng.IntN(60)) * time.Second
	maxOrigins := 1 + rng.IntN(80)
	l := newMsgList(ttl, maxOrigins)
	m := &listModel{ttl: ttl, maxOrigins: maxOrigins, origins: map[netip.AddrPort]*modelOrigin{}}
	origins := make([]netip.AddrPort, 1+rng.IntN(120))
	for i := range origins {
		// Few hosts, several ports each: origins differ in the port alone.
		h := byte(rng.IntN(40))
		v4 := [4]byte{10, 0, h >> 4, h}
		var a netip.Addr
		switch rng.IntN(4) {
		case 0:
			a = netip.AddrFrom16([16]byte{0x20, 0x01, 15: h})
		case 1:
			a = netip.AddrFrom16(netip.AddrFrom4(v4).As16()) // ::ffff:10.x.y.z
		default:
			a = netip.AddrFrom4(v4)
		}
		origins[i] = netip.AddrPortFrom(a, uint16(5000+rng.IntN(4)))
	}
	now := time.Unix(1_700_000_000, 0)
	for step := range 3000 {
		now = now.Add(time.Duration(rng.IntN(int(ttl/20) + 1)))
		o := origins[rng.IntN(len(origins))]
		seq := uint32(1 + rng.IntN(200))
		switch rng.IntN(5) {
		case 0:
			if got, want := l.seen(o, seq), m.seen(o, seq); got != want {
				t.Fatalf("seed %d step %d: seen(%v, %d) = %v, want %v", seed, step, o, seq, got, want)
			}
		case 1:
			if !now.Before(m.nextGC) {
				m.gc(now)
			}
			l.maybeGC(now)
		default:
			created := now.Add(-time.Duration(rng.Int64N(int64(ttl) * 5 / 4)))
			if rng.IntN(50) == 0 {
				created = now.Add(time.Duration(rng.Int64N(int64(ttl))))
			}
			created = created.Truncate(time.Microsecond) // as on the wire
			if got, want := l.check(now, wire.TimestampOf(created), o, seq), m.check(now, created, o, seq); got != want {
				t.Fatalf("seed %d step %d: check(%v, %d) = %d, want %d", seed, step, o, seq, got, want)
			}
		}
		if l.len() != len(m.origins) {
			t.Fatalf("seed %d step %d: %d origins, want %d", seed, step, l.len(), len(m.origins))
		}
		if l.used*8 > len(l.slots)*7 {
			t.Fatalf("seed %d step %d: table %d/%d over seven eighths full", seed, step, l.used, len(l.slots))
		}
	}
}

func TestMsgListMatchesModel(t *testing.T) {
	for seed := range uint64(300) {
		checkMsgList(t, seed)
	}
}

func FuzzMsgList(f *testing.F) {
	for seed := range uint64(8) {
		f.Add(seed)
	}
	f.Fuzz(checkMsgList)
}

// BenchmarkMsgListDuplicate measures telling a duplicate among 100
// origins, the flooding network's commonest question.
func BenchmarkMsgListDuplicate(b *testing.B) {
	l := newMsgList(10*time.Minute, 1<<16)
	now := time.Unix(1_700_000_000, 0)
	var origins []netip.AddrPort
	for i := range 100 {
		o := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 5000)
		origins = append(origins, o)
		l.check(now, wire.TimestampOf(now), o, 1)
	}
	i := 0
	for b.Loop() {
		if l.check(now, wire.TimestampOf(now), origins[i%len(origins)], 1) != duplicate {
			b.Fatal("not a duplicate")
		}
		i += 37
	}
}

// TestMsgListForgetsOnlyAfterTTL: whatever the fractions of a second, an
// origin is kept until ttl has passed since its last message (forgetting
// it sooner could let a copy of that message be delivered again) and
// forgotten within a second after that.
func TestMsgListForgetsOnlyAfterTTL(t *testing.T) {
	const ttl = 10 * time.Second
	o := netip.MustParseAddrPort("10.0.0.1:5000")
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		base := time.Unix(1_700_000_000, rng.Int64N(int64(time.Second)))
		last := base.Add(time.Duration(rng.Int64N(int64(30 * time.Second))))
		l := newMsgList(ttl, 10)
		l.check(base, wire.TimestampOf(base), netip.MustParseAddrPort("10.0.0.2:5000"), 1)
		l.check(last, wire.TimestampOf(last), o, 1)
		at := last.Add(ttl - time.Duration(rng.Int64N(int64(time.Second))))
		l.gc(at)
		if l.window(o) == nil {
			t.Fatalf("base %v, last message %v: forgotten at %v, before ttl %v", base, last, at, ttl)
		}
		at = last.Add(ttl + time.Second)
		l.gc(at)
		if l.window(o) != nil {
			t.Fatalf("base %v, last message %v: still kept at %v", base, last, at)
		}
	}
}
