package node

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/whispernet/whispernet/node/memnet"
)

// TestPeerHostileInput talks to a peer's listening port by hand: a line
// before the handshake, malformed lines, a 2 MB line and a spoofed
// handshake each get an error or refusal line, and the peer keeps serving.
func TestPeerHostileInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seeds := []netip.AddrPort{netip.AddrPortFrom(localhost, 9001)}
		self := netip.AddrPortFrom(localhost, 20001)
		cfg := fastPeerConfig(self, seeds) // the seed is down: the peer keeps retrying it
		cfg.MaxErrors = 3
		cfg.Transport = new(memnet.Network)
		p, err := NewPeer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if err := p.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer p.Stop()

		dial := func() (net.Conn, *bufio.Reader) {
			c, err := cfg.Transport.Dial(context.Background(), localhost, self)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			return c, bufio.NewReader(c)
		}
		read := func(br *bufio.Reader) string {
			t.Helper()
			l, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("read: %v (got %q)", err, l)
			}
			return strings.TrimSuffix(l, "\n")
		}

		// Gossip before the handshake: told to handshake first, then closed.
		c, br := dial()
		c.Write([]byte("gossip:127.0.0.1:9:1:0:1764072000.0:hi\n"))
		if got := read(br); got != "error:handshake first: Connection with Peer:IP:PORT" {
			t.Errorf("before handshake: %q", got)
		}
		if _, err := br.ReadString('\n'); err == nil {
			t.Error("connection left open after a line before the handshake")
		}
		c.Close()

		// A handshake claiming another host's IP is refused.
		c, br = dial()
		c.Write([]byte("Connection with Peer:10.0.0.1:5000:3:0\n"))
		if got := read(br); got != "Connection refused:address mismatch" {
			t.Errorf("spoofed handshake: %q", got)
		}
		c.Close()

		// Malformed lines and a 2 MB line get error lines; MaxErrors closes.
		c, br = dial()
		go c.Write([]byte("no such verb\nregister:127.0.0.1:99999\n" + strings.Repeat("x", 2<<20) + "\n"))
		for i, want := range []string{`error:unknown verb "no such verb"`, `error:bad port: register: port "99999" is not in 1-65535`, "error:line too long"} {
			if got := read(br); !strings.HasPrefix(got, want) {
				t.Errorf("line %d: %q, want prefix %q", i, got, want)
			}
		}
		if _, err := br.ReadString('\n'); err == nil {
			t.Error("connection left open after MaxErrors malformed lines")
		}
		c.Close()
		if st := p.Stats(); st.BadLines != 3 {
			t.Errorf("BadLines = %d, want 3", st.BadLines)
		}

		// Still serving: a proper handshake from the right IP is accepted.
		other := netip.MustParseAddrPort("127.0.0.1:1")
		c, br = dial()
		c.Write([]byte("Connection with Peer:" + other.String() + ":100:5\n"))
		if got := read(br); !strings.HasPrefix(got, "Connection accepted:"+self.String()+":") || !strings.HasSuffix(got, ":0") {
			t.Errorf("real handshake: %q, want Connection accepted:%s:CAP:0", got, self)
		}
		// A neighbour bigger than itself: the peer names it its parent in the
		// broadcast tree.
		if got := read(br); got != "graft" {
			t.Errorf("bigger neighbour: %q, want a bare graft", got)
		}
		c.Write([]byte("Liveness Request:1764072000.500000:127.0.0.1:1\n"))
		if got := read(br); got != "Liveness Reply:1764072000.500000:127.0.0.1:1:"+self.String() {
			t.Errorf("liveness: %q", got)
		}
		c.Close()
	})
}
