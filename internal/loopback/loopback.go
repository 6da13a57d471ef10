package loopback

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/whispernet/whispernet/peer"
)

// FreePorts reserves n distinct loopback ports: it listens on n ports the
// kernel picks from its ephemeral range, then closes them all.
func FreePorts(t testing.TB, n int) []netip.AddrPort {
	t.Helper()
	var out []netip.AddrPort
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, netip.MustParseAddrPort(ln.Addr().String()))
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// rangeLow and rangeHigh bound where FreeRange looks for a run of ports:
// below Linux's default ephemeral range (32768-60999), so that no port
// FreePorts hands out and no outgoing connection takes one of them
// meanwhile.
const (
	rangeLow  = 21000
	rangeHigh = 30000
)

// FreeRange finds n consecutive free loopback ports, from a random base
// between 21000 and 30000, and returns the first.
func FreeRange(t testing.TB, n int) int {
	t.Helper()
	for range 50 {
		base := rangeLow + rand.IntN(rangeHigh-rangeLow)
		var lns []net.Listener
		ok := true
		for p := base; p < base+n; p++ {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				break
			}
			lns = append(lns, ln)
		}
		for _, ln := range lns {
			ln.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

// pollInterval is how often CheckFor tries its condition.
const pollInterval = 20 * time.Millisecond

// CheckFor polls cond until it returns nil, and fails the test if it has
// not within d, with what and cond's last error.
func CheckFor(t testing.TB, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(pollInterval)
	}
	t.Fatalf("%s: not within %v: %v", what, d, err)
}

// Timeout is what a loopback test gives a handshake, a dial or a seed
// request: far more than loopback needs, far less than the defaults made
// for real networks. FastTimers sets the handshake timeout; set a node's
// DialTimeout and RequestTimeout to it too.
const Timeout = time.Second

// FastTimers shortens the liveness, refresh, fill, retry and handshake
// timers of a peer core so that a loopback network forms within a second
// and declares a stopped peer dead within about a second (3 missed
// liveness requests, 300 ms apart). It leaves gossip, the target degree and
// the peer cap, which each test sets for what it checks.
func FastTimers(c *peer.Config) {
	c.LivenessInterval = 300 * time.Millisecond
	c.LivenessMisses = 3
	c.RefreshInterval = time.Second
	c.FillInterval = 100 * time.Millisecond
	c.RetryMin = 50 * time.Millisecond
	c.RetryMax = 500 * time.Millisecond
	c.HandshakeTimeout = Timeout
}
