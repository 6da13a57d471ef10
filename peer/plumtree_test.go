package peer

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/whispernet/whispernet/wire"
)

// The graft cache is a ring: it keeps the messages of the last CacheTime,
// at most CacheSize, answers lookups with what was cached, wraps round
// without losing order, and is never longer than twice what it holds.
func TestGraftCacheRing(t *testing.T) {
	cfg := testConfig(1)
	cfg.Broadcast = Plumtree
	cfg.CacheSize = 20
	cfg.CacheTime = 10 * time.Second
	p := mustNew(t, cfg, 1, 2)
	origin := netip.MustParseAddrPort("10.0.0.9:5000")
	msg := func(now time.Time, seq uint32) wire.Message {
		return wire.Message{Kind: wire.KindGossip, Addr: origin, Seq: seq, Hops: uint16(seq % 100), Time: wire.TimestampOf(now), Text: fmt.Sprint("m", seq)}
	}
	check := func(now time.Time, seq uint32, want bool) {
		t.Helper()
		m, ok := p.lookup(wire.MsgID{Origin: origin, Seq: seq})
		if ok != want {
			t.Fatalf("at %v: message %d cached %v, want %v (%d held)", now.Sub(base), seq, ok, want, p.cacheLen)
		}
		if ok && (m.Text != fmt.Sprint("m", seq) || m.Hops != uint16(seq%100) || m.Kind != wire.KindGossip) {
			t.Fatalf("message %d came back as %+v", seq, m)
		}
	}
	// One message a second for a minute: entries older than CacheTime
	// go, so the last 11 (cached at now-10 s to now) stay, in a ring of 16
	// that wraps round several times.
	now := base
	for s := uint32(1); s <= 60; s++ {
		p.remember(now, msg(now, s))
		for q := uint32(1); q <= s; q++ {
			check(now, q, s-q <= 10)
		}
		if p.cacheLen != min(int(s), 11) || len(p.cache) > 16 {
			t.Fatalf("after %d messages: %d held in a ring of %d", s, p.cacheLen, len(p.cache))
		}
		now = now.Add(time.Second)
	}
	// 8 at once, a second later: the ring, wrapped round, doubles with its
	// entries in order (10 left of the minute's, 8 new).
	for s := uint32(61); s <= 68; s++ {
		p.remember(now, msg(now, s))
	}
	for q := uint32(1); q <= 68; q++ {
		check(now, q, q >= 51)
	}
	if p.cacheLen != 18 || len(p.cache) != 32 {
		t.Fatalf("after 8 at once: %d held in a ring of %d, want 18 in 32", p.cacheLen, len(p.cache))
	}
	// 12 more: CacheSize bounds what stays, the newest 20.
	for s := uint32(69); s <= 80; s++ {
		p.remember(now, msg(now, s))
	}
	for q := uint32(1); q <= 80; q++ {
		check(now, q, q > 60)
	}
	if p.cacheLen != 20 || len(p.cache) != 32 {
		t.Fatalf("after 20 at once: %d held in a ring of %d, want 20 in 32", p.cacheLen, len(p.cache))
	}
	// CacheTime later everything has expired.
	now = now.Add(cfg.CacheTime + time.Millisecond)
	p.expireCache(now)
	if p.cacheLen != 0 || p.cacheHead != 0 {
		t.Fatalf("after CacheTime: %d held, head %d", p.cacheLen, p.cacheHead)
	}
	check(now, 80, false)
}
