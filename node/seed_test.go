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

	"github.com/whispernet/whispernet/internal/loopback"
	"github.com/whispernet/whispernet/node/memnet"
)

// startTestSeed starts a seed at 127.0.0.1:9001 on a network of its own.
func startTestSeed(t *testing.T, tweak func(*SeedConfig)) *Seed {
	t.Helper()
	a := netip.AddrPortFrom(localhost, 9001)
	cfg := DefaultSeedConfig()
	cfg.Transport = new(memnet.Network)
	cfg.Core.Self = a
	cfg.Core.Seeds = []netip.AddrPort{a}
	if tweak != nil {
		tweak(&cfg)
	}
	s, err := NewSeed(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); s.Stop() })
	return s
}

// client is a plain client speaking to a seed line by line.
type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialSeed(t *testing.T, s *Seed) *client {
	t.Helper()
	c := dialRaw(t, s)
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

// dialRaw opens a connection to s from 127.0.0.1 on s's network.
func dialRaw(t *testing.T, s *Seed) net.Conn {
	t.Helper()
	c, err := s.cfg.Transport.Dial(context.Background(), localhost, s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ask sends a line and returns the reply line.
func (cl *client) ask(line string) string {
	cl.t.Helper()
	cl.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := cl.c.Write([]byte(line + "\n")); err != nil {
		cl.t.Fatalf("write %q: %v", line, err)
	}
	return cl.read()
}

func (cl *client) read() string {
	cl.t.Helper()
	reply, err := cl.br.ReadString('\n')
	if err != nil {
		cl.t.Fatalf("read: %v", err)
	}
	return strings.TrimSuffix(reply, "\n")
}

func TestSeedByHand(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := startTestSeed(t, nil)
		cl := dialSeed(t, s)
		steps := []struct{ send, want string }{
			{"peer list", "peer list:"},
			{"register:127.0.0.1:5000", "registered successfully"},
			{"register:127.0.0.1:5001", "registered successfully"},
			{"peer list", "peer list:127.0.0.1#5000:127.0.0.1#5001"},
			// Nobody listens at 5001: the seed's own probe fails, and only
			// then is it removed (wait: the probe runs meanwhile).
			{"Dead Node:127.0.0.1:5001:1732530000.25:127.0.0.1:5000", "ok:checking 127.0.0.1:5001"},
			{"wait", ""},
			{"Dead Node:127.0.0.1:5001:1732530000.25:127.0.0.1:5000", "ok:already removed 127.0.0.1:5001"},
			{"peer list", "peer list:127.0.0.1#5000"},
			{"register:10.1.2.3:5002", "error:register: 10.1.2.3 does not match your address 127.0.0.1"},
		}
		for _, st := range steps {
			if st.send == "wait" {
				synctest.Wait()
				continue
			}
			if got := cl.ask(st.send); got != st.want {
				t.Errorf("%q -> %q, want %q", st.send, got, st.want)
			}
		}
	})
}

func TestSeedHostileInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := startTestSeed(t, func(c *SeedConfig) { c.MaxErrors = 100 })
		cl := dialSeed(t, s)
		cases := []struct{ send, want string }{
			{"garbage", `error:unknown verb "garbage"`},
			{"register:1.2.3.999:5000", "error:bad address: register: \"1.2.3.999\" is not an IP address"},
			{"register:127.0.0.1:70000", `error:bad port: register: port "70000" is not in 1-65535`},
			{"register:127.0.0.1:0", `error:bad port: register: port "0" is not in 1-65535`},
			{"register:127.0.0.1", `error:wrong number of fields: register: missing port after "127.0.0.1"`},
			{"register", "error:wrong number of fields: register: missing IP:PORT"},
			{"register:127.0.0.1:5000\x00", "error:control byte in line (0x00 at byte 23)"},
			{"Dead Node:127.0.0.1:5000", "error:wrong number of fields: Dead Node: missing timestamp"},
			{"Liveness Request:1.0:127.0.0.1:5000", `error:a seed does not serve "Liveness Request"`},
		}
		for _, c := range cases {
			if got := cl.ask(c.send); got != c.want {
				t.Errorf("%q -> %q, want %q", c.send, got, c.want)
			}
		}
		// A 2 MB line is refused without being buffered and the connection
		// keeps working.
		big := strings.Repeat("A", 2<<20)
		cl.c.SetDeadline(time.Now().Add(10 * time.Second))
		go cl.c.Write([]byte(big + "\n"))
		if got := cl.read(); !strings.HasPrefix(got, "error:line too long") {
			t.Errorf("2 MB line -> %q", got)
		}
		if got := cl.ask("register:127.0.0.1:5000"); got != "registered successfully" {
			t.Errorf("after the long line: %q", got)
		}
		if st := s.Stats(); st.BadLines != 9 { // 8 malformed lines and the long one
			t.Errorf("BadLines = %d, want 9", st.BadLines)
		}
	})
}

func TestSeedClosesAfterTooManyErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := startTestSeed(t, func(c *SeedConfig) { c.MaxErrors = 3 })
		cl := dialSeed(t, s)
		for range 3 {
			cl.ask("nonsense")
		}
		if got := cl.read(); got != "error:closing after 3 errors" {
			t.Errorf("got %q", got)
		}
		if _, err := cl.br.ReadString('\n'); err == nil {
			t.Error("connection still open after too many errors")
		}
		// Others are still served.
		if got := dialSeed(t, s).ask("peer list"); got != "peer list:" {
			t.Errorf("fresh client: %q", got)
		}
	})
}

func TestSeedConnectionFloodAndSlowClients(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit = 20
		s := startTestSeed(t, func(c *SeedConfig) { c.MaxConnsPerIP = limit })
		// limit idle clients that never send a byte hold every slot...
		var idle []net.Conn
		for range limit {
			idle = append(idle, dialRaw(t, s))
		}
		loopback.CheckFor(t, 2*time.Second, "all idle connections admitted", func() error {
			if n := s.Stats().Conns; n != limit {
				return errorf("conns = %d", n)
			}
			return nil
		})
		// ...so the next ones are refused with a clear line, not left hanging.
		for range 30 {
			cl := dialSeed(t, s)
			cl.c.SetDeadline(time.Now().Add(2 * time.Second))
			if got := cl.read(); got != "error:too many connections from 127.0.0.1 (limit 20)" {
				t.Fatalf("flood connection got %q", got)
			}
		}
		if got := s.Stats().ConnRefused; got != 30 {
			t.Errorf("ConnRefused = %d, want 30", got)
		}
		// Freeing one slot lets a real client in, unaffected by the idle ones.
		idle[0].Close()
		loopback.CheckFor(t, 2*time.Second, "slot freed", func() error {
			if n := s.Stats().Conns; n != limit-1 {
				return errorf("conns = %d", n)
			}
			return nil
		})
		if got := dialSeed(t, s).ask("register:127.0.0.1:5000"); got != "registered successfully" {
			t.Errorf("real client after flood: %q", got)
		}
		for _, c := range idle[1:] {
			c.Close()
		}
	})
}

func TestSeedRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := startTestSeed(t, func(c *SeedConfig) { c.Rate, c.Burst, c.MaxErrors = 1, 5, 1000 })
		cl := dialSeed(t, s)
		limited := 0
		for range 20 {
			if strings.HasPrefix(cl.ask("peer list"), "error:rate limit exceeded") {
				limited++
			}
		}
		// A burst of 5, then 1 per second; the bubble's clock stands still
		// while the client is served, so exactly 15 of 20 are refused.
		if limited != 15 {
			t.Errorf("%d of 20 requests rate-limited, want 15", limited)
		}
		if got := s.Stats().RateLimited; got != uint64(limited) {
			t.Errorf("RateLimited = %d, want %d", got, limited)
		}
	})
}
