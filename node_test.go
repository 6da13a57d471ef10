package whispernet_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/whispernet/whispernet"
	"github.com/whispernet/whispernet/identity"
	"github.com/whispernet/whispernet/internal/fastnode"
	"github.com/whispernet/whispernet/internal/loopback"
	"github.com/whispernet/whispernet/node"
	"github.com/whispernet/whispernet/node/memnet"
	"github.com/whispernet/whispernet/wire"
)

// wait bounds every condition the tests poll for.
const wait = 20 * time.Second

// fastConfig is a node with loopback timers: a network forms in well
// under a second and a silent neighbour is dead after about a second.
func fastConfig(seed string, tr node.Transport) whispernet.Config {
	cfg := fastnode.Config()
	cfg.Seeds = []string{seed}
	cfg.Transport = tr
	return cfg
}

// network is a seed and n nodes that all link to each other (n <= 4:
// each node's target is n-1), ready once every node has every other as a
// neighbour.
type network struct {
	seed  *whispernet.Seed
	nodes []*whispernet.Node
}

// Every node but those in lazy subscribes to Messages before it starts.
func startNetwork(t testing.TB, n int, tr node.Transport, tweak func(*whispernet.Config), lazy ...int) *network {
	t.Helper()
	ctx := context.Background()
	scfg := whispernet.DefaultSeedConfig()
	scfg.Transport = tr
	s, err := whispernet.NewSeed(scfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	net := &network{seed: s}
	for range n {
		cfg := fastConfig(s.Addr(), tr)
		cfg.Target = n - 1
		if tweak != nil {
			tweak(&cfg)
		}
		nd, err := whispernet.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(lazy, len(net.nodes)) {
			nd.Messages()
		}
		if err := nd.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nd.Close() })
		net.nodes = append(net.nodes, nd)
	}
	loopback.CheckFor(t, wait, "every node linked to every other", func() error {
		for _, nd := range net.nodes {
			if got := neighbours(nd); len(got) != n-1 {
				return fmt.Errorf("%s has neighbours %v", nd.Addr(), got)
			}
		}
		return nil
	})
	return net
}

// neighbours returns the addresses of nd's neighbours, sorted.
func neighbours(nd *whispernet.Node) []string {
	var out []string
	for _, m := range nd.Members() {
		if m.State == whispernet.StateNeighbour {
			out = append(out, m.Addr)
		}
	}
	return out
}

// receive reads n messages from nd, failing the test after wait.
func receive(t *testing.T, nd *whispernet.Node, n int) []whispernet.Message {
	t.Helper()
	var out []whispernet.Message
	timeout := time.After(wait)
	for len(out) < n {
		select {
		case m, ok := <-nd.Messages():
			if !ok {
				t.Fatalf("%s: Messages closed after %d of %d", nd.Addr(), len(out), n)
			}
			out = append(out, m)
		case <-timeout:
			t.Fatalf("%s: %d of %d messages after %v", nd.Addr(), len(out), n, wait)
		}
	}
	return out
}

// payloads every node must receive byte for byte: classic text, text the
// classic line cannot carry, and binary up to the limit.
func payloads() [][]byte {
	big := make([]byte, whispernet.MaxPayload)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(r.Uint32())
	}
	return [][]byte{
		[]byte("hello"),
		[]byte(""),
		[]byte("a:b:c"),
		[]byte("two\nlines\r\n"),
		[]byte("nul\x00byte"),
		[]byte("\xff\xfe not UTF-8"),
		bytes.Repeat([]byte("x"), 1025),
		big,
	}
}

func testExactDelivery(t *testing.T, tr node.Transport) {
	net := startNetwork(t, 3, tr, nil)
	ctx := context.Background()
	want := payloads()
	for _, p := range want {
		if err := net.nodes[0].Publish(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, nd := range net.nodes[1:] {
		got := receive(t, nd, len(want))
		slices.SortFunc(got, func(a, b whispernet.Message) int { return int(a.Seq) - int(b.Seq) })
		for i, m := range got {
			if m.Origin != net.nodes[0].Addr() || m.Seq != uint32(i+1) || !bytes.Equal(m.Data, want[i]) {
				t.Errorf("%s: message %d = %s#%d, %d bytes %.40q; want %s#%d, %d bytes %.40q", nd.Addr(), i,
					m.Origin, m.Seq, len(m.Data), m.Data, net.nodes[0].Addr(), i+1, len(want[i]), want[i])
			}
			if m.OriginKey != net.nodes[0].Key().Public() {
				t.Errorf("%s: message %d signed by %v, want the origin's key %v", nd.Addr(), i, m.OriginKey, net.nodes[0].Key().Public())
			}
			if m.Received.Before(m.Sent.Add(-time.Second)) || m.Hops < 1 || m.Hops > 2 {
				t.Errorf("%s: message %d sent %v received %v hops %d", nd.Addr(), i, m.Sent, m.Received, m.Hops)
			}
		}
	}
	// The publisher does not receive its own messages, and nobody gets a
	// second copy: a last message is the next thing everyone reads.
	if err := net.nodes[1].Publish(ctx, []byte("last")); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 2} {
		m := receive(t, net.nodes[i], 1)[0]
		if m.Origin != net.nodes[1].Addr() || string(m.Data) != "last" {
			t.Errorf("node %d: after the payloads got %s#%d %.40q, want %s's \"last\"", i, m.Origin, m.Seq, m.Data, net.nodes[1].Addr())
		}
	}
}

func TestExactDeliveryTCP(t *testing.T) { testExactDelivery(t, nil) }

func TestExactDeliveryMemnet(t *testing.T) { testExactDelivery(t, new(memnet.Network)) }

func TestPublishErrors(t *testing.T) {
	ctx := context.Background()
	var mn memnet.Network
	s, err := whispernet.NewSeed(whispernet.SeedConfig{Listen: "127.0.0.1:0", Transport: &mn, MaxConns: 8, MaxConnsPerIP: 8, Rate: 10, Burst: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	nd, err := whispernet.New(fastConfig(s.Addr(), &mn))
	if err != nil {
		t.Fatal(err)
	}
	if err := nd.Publish(ctx, []byte("x")); !errors.Is(err, whispernet.ErrNotStarted) {
		t.Errorf("Publish before Start = %v, want ErrNotStarted", err)
	}
	if err := nd.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := nd.Start(ctx); !errors.Is(err, whispernet.ErrStarted) {
		t.Errorf("second Start = %v, want ErrStarted", err)
	}
	if err := nd.Publish(ctx, make([]byte, whispernet.MaxPayload)); err != nil {
		t.Errorf("Publish of MaxPayload bytes = %v", err)
	}
	err = nd.Publish(ctx, make([]byte, whispernet.MaxPayload+1))
	if !errors.Is(err, whispernet.ErrPayloadTooLarge) || err.Error() != "whispernet: payload too large: 65537 bytes, limit 65536" {
		t.Errorf("Publish of MaxPayload+1 bytes = %v, want ErrPayloadTooLarge", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := nd.Publish(cancelled, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish with a cancelled context = %v", err)
	}
	if s := nd.Stats().Runtime.Generated; s != 1 {
		t.Errorf("%d messages published, want 1 (the MaxPayload one)", s)
	}
	if err := nd.Close(); err != nil {
		t.Fatal(err)
	}
	if err := nd.Publish(ctx, []byte("x")); !errors.Is(err, whispernet.ErrStopped) {
		t.Errorf("Publish after Close = %v, want ErrStopped", err)
	}
	if err := nd.Start(ctx); !errors.Is(err, whispernet.ErrStopped) {
		t.Errorf("Start after Close = %v, want ErrStopped", err)
	}
	if _, ok := <-nd.Messages(); ok {
		t.Error("Messages not closed after Close")
	}
	if _, ok := <-nd.Events(); ok {
		t.Error("Events not closed after Close")
	}
	select {
	case <-nd.Done():
	default:
		t.Error("Done not closed after Close")
	}
	if m := nd.Members(); m != nil {
		t.Errorf("Members after Close = %v", m)
	}
	if err := nd.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// An application that does not read gets the first MessageBuffer messages
// and a count of the rest; the network is not held up.
func TestMessagesOverflow(t *testing.T) {
	net := startNetwork(t, 3, new(memnet.Network), func(c *whispernet.Config) { c.MessageBuffer = 3 }, 2)
	ctx := context.Background()
	a, b, c := net.nodes[0], net.nodes[1], net.nodes[2]
	for i := range 10 {
		if err := a.Publish(ctx, []byte{byte('0' + i)}); err != nil {
			t.Fatal(err)
		}
	}
	loopback.CheckFor(t, wait, "ten messages received, seven dropped", func() error {
		s := b.Stats()
		if s.Runtime.Received != 10 || s.MessagesDropped != 7 {
			return fmt.Errorf("received %d, dropped %d", s.Runtime.Received, s.MessagesDropped)
		}
		// c never asked for Messages: it forwards, drops nothing, copies nothing.
		if s := c.Stats(); s.Runtime.Received != 10 || s.MessagesDropped != 0 {
			return fmt.Errorf("unsubscribed node: received %d, dropped %d", s.Runtime.Received, s.MessagesDropped)
		}
		return nil
	})
	for i, m := range receive(t, b, 3) {
		if m.Seq != uint32(i+1) || string(m.Data) != string(rune('0'+i)) {
			t.Errorf("message %d: #%d %q, want #%d %q", i, m.Seq, m.Data, i+1, string(rune('0'+i)))
		}
	}
	// Room again: the next message is delivered.
	if err := a.Publish(ctx, []byte("after")); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, b, 1)[0]; m.Seq != 11 || string(m.Data) != "after" {
		t.Errorf("after draining got #%d %q", m.Seq, m.Data)
	}
	if d := b.Stats().MessagesDropped; d != 7 {
		t.Errorf("dropped %d, want 7", d)
	}
}

// nextEvent reads nd's next event, failing after wait.
func nextEvent(t *testing.T, nd *whispernet.Node) whispernet.Event {
	t.Helper()
	select {
	case e := <-nd.Events():
		return e
	case <-time.After(wait):
		t.Fatalf("%s: no event after %v", nd.Addr(), wait)
	}
	return whispernet.Event{}
}

func TestMembersAndEventsCrash(t *testing.T) {
	net := startNetwork(t, 3, new(memnet.Network), nil)
	a, b, c := net.nodes[0], net.nodes[1], net.nodes[2]
	// Each saw the other two join, in some order.
	for _, nd := range net.nodes {
		var joined []string
		for range 2 {
			e := nextEvent(t, nd)
			if e.Kind != whispernet.EventJoin {
				t.Fatalf("%s: event %v %s, want join", nd.Addr(), e.Kind, e.Addr)
			}
			joined = append(joined, e.Addr)
		}
		slices.Sort(joined)
		if want := neighbours(nd); !slices.Equal(joined, want) {
			t.Errorf("%s: joined %v, neighbours %v", nd.Addr(), joined, want)
		}
	}
	// a's members: b and c as neighbours, with the capacity the seed
	// listed, nothing else.
	ms := a.Members()
	if len(ms) != 2 {
		t.Fatalf("members of %s: %+v", a.Addr(), ms)
	}
	for _, m := range ms {
		if m.State != whispernet.StateNeighbour || (m.Addr != b.Addr() && m.Addr != c.Addr()) || m.Since.IsZero() {
			t.Errorf("member %+v", m)
		}
	}
	// c crashes: a sees the link go, then finds c dead.
	c.Close()
	if e := nextEvent(t, a); e.Kind != whispernet.EventDown || e.Addr != c.Addr() {
		t.Fatalf("after the crash: %v %s, want down %s", e.Kind, e.Addr, c.Addr())
	}
	if e := nextEvent(t, a); e.Kind != whispernet.EventDead || e.Addr != c.Addr() {
		t.Fatalf("after the crash: %v %s, want dead %s", e.Kind, e.Addr, c.Addr())
	}
	loopback.CheckFor(t, wait, "c dead in a's members and gone from the seed", func() error {
		var got []string
		for _, m := range a.Members() {
			got = append(got, m.State.String()+" "+m.Addr)
		}
		want := []string{"neighbour " + b.Addr(), "dead " + c.Addr()}
		if !slices.Equal(got, want) {
			return fmt.Errorf("members %v, want %v", got, want)
		}
		if got, want := net.seed.Members(), sorted(a.Addr(), b.Addr()); !slices.Equal(got, want) {
			return fmt.Errorf("seed members %v, want %v", got, want)
		}
		return nil
	})
}

// With EventBuffer 0 a node sends no events, so it has none to drop, and
// its Events channel only closes when it stops; Members still tells the
// neighbours it lost.
func TestEventsOff(t *testing.T) {
	net := startNetwork(t, 3, new(memnet.Network), func(c *whispernet.Config) { c.EventBuffer = 0 })
	a, b, c := net.nodes[0], net.nodes[1], net.nodes[2]
	c.Close()
	loopback.CheckFor(t, wait, "c dead in a's members", func() error {
		var got []string
		for _, m := range a.Members() {
			got = append(got, m.State.String()+" "+m.Addr)
		}
		if want := []string{"neighbour " + b.Addr(), "dead " + c.Addr()}; !slices.Equal(got, want) {
			return fmt.Errorf("members %v, want %v", got, want)
		}
		return nil
	})
	select {
	case e := <-a.Events():
		t.Errorf("an event with events off: %+v", e)
	default:
	}
	if d := a.Stats().EventsDropped; d != 0 {
		t.Errorf("%d events dropped with events off, want 0 (none sent)", d)
	}
	a.Close()
	if _, ok := <-a.Events(); ok {
		t.Error("Events not closed after Close")
	}
}

// Messages first asked for after Close is a closed channel; a node that
// never asked forwarded and copied nothing.
func TestMessagesAfterClose(t *testing.T) {
	net := startNetwork(t, 2, new(memnet.Network), nil, 1)
	a, b := net.nodes[0], net.nodes[1]
	if err := a.Publish(context.Background(), []byte("unread")); err != nil {
		t.Fatal(err)
	}
	loopback.CheckFor(t, wait, "b received it", func() error {
		if s := b.Stats(); s.Runtime.Received != 1 || s.MessagesDropped != 0 {
			return fmt.Errorf("received %d, dropped %d", s.Runtime.Received, s.MessagesDropped)
		}
		return nil
	})
	b.Close()
	if m, ok := <-b.Messages(); ok {
		t.Errorf("Messages after Close delivered %+v", m)
	}
}

// A node that leaves is dropped by its neighbours and the seed at once,
// and nobody reports it dead.
func TestLeave(t *testing.T) {
	net := startNetwork(t, 3, new(memnet.Network), nil)
	a, b, c := net.nodes[0], net.nodes[1], net.nodes[2]
	for _, nd := range net.nodes {
		for range 2 {
			if e := nextEvent(t, nd); e.Kind != whispernet.EventJoin {
				t.Fatalf("%s: %v %s, want join", nd.Addr(), e.Kind, e.Addr)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	cAddr := c.Addr()
	if err := c.Leave(ctx); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	// Leave returns once the seed answered: it has dropped c already.
	if got, want := net.seed.Members(), sorted(a.Addr(), b.Addr()); !slices.Equal(got, want) {
		t.Errorf("seed members after Leave: %v, want %v", got, want)
	}
	for _, nd := range []*whispernet.Node{a, b} {
		if e := nextEvent(t, nd); e.Kind != whispernet.EventLeave || e.Addr != cAddr {
			t.Errorf("%s: %v %s, want leave %s", nd.Addr(), e.Kind, e.Addr, cAddr)
		}
		var got []string
		for _, m := range nd.Members() {
			got = append(got, m.State.String()+" "+m.Addr)
		}
		other := a.Addr()
		if nd == a {
			other = b.Addr()
		}
		if want := []string{"neighbour " + other, "left " + cAddr}; !slices.Equal(got, want) {
			t.Errorf("%s: members %v, want %v", nd.Addr(), got, want)
		}
	}
	// Still linked to each other, and nothing else happened: a message
	// from a reaches b as the next thing b sees.
	if err := a.Publish(ctx, []byte("after c")); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, b, 1)[0]; string(m.Data) != "after c" {
		t.Errorf("b got %q", m.Data)
	}
	for _, nd := range []*whispernet.Node{a, b} {
		if s := nd.Stats().Runtime; s.DeadReported != 0 || s.NeighboursLeft != 1 {
			t.Errorf("%s: dead reported %d, neighbours left %d; want 0 and 1", nd.Addr(), s.DeadReported, s.NeighboursLeft)
		}
		select {
		case e := <-nd.Events():
			t.Errorf("%s: unexpected event %v %s", nd.Addr(), e.Kind, e.Addr)
		default:
		}
	}
	if _, ok := <-c.Messages(); ok {
		t.Error("c's Messages open after Leave")
	}
	if err := c.Leave(ctx); !errors.Is(err, whispernet.ErrStopped) {
		t.Errorf("second Leave = %v, want ErrStopped", err)
	}
}

func sorted(s ...string) []string {
	slices.SortFunc(s, func(a, b string) int {
		return netip.MustParseAddrPort(a).Compare(netip.MustParseAddrPort(b))
	})
	return s
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tweak  func(*whispernet.Config)
		detail string
	}{
		{"no seeds", func(c *whispernet.Config) { c.Seeds = nil }, "no seeds"},
		{"seed without port", func(c *whispernet.Config) { c.Seeds = []string{"127.0.0.1"} }, `seed "127.0.0.1"`},
		{"seed port 0", func(c *whispernet.Config) { c.Seeds = []string{"127.0.0.1:0"} }, `port "0" is not in 1-65535`},
		{"listen host name", func(c *whispernet.Config) { c.Listen = "localhost:0" }, "the host must be an IP address"},
		{"every interface without advertise", func(c *whispernet.Config) { c.Listen = ":5000" }, "set Advertise"},
		{"no message buffer", func(c *whispernet.Config) { c.MessageBuffer = 0 }, "MessageBuffer"},
		{"negative event buffer", func(c *whispernet.Config) { c.EventBuffer = -1 }, "EventBuffer not negative"},
		{"liveness", func(c *whispernet.Config) { c.LivenessMisses = 0 }, "liveness misses 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := whispernet.DefaultConfig()
			cfg.Seeds = []string{"127.0.0.1:8080"}
			tc.tweak(&cfg)
			_, err := whispernet.New(cfg)
			if !errors.Is(err, whispernet.ErrConfig) || !strings.Contains(err.Error(), tc.detail) {
				t.Errorf("New = %v, want ErrConfig with %q", err, tc.detail)
			}
		})
	}
	cfg := whispernet.DefaultConfig()
	cfg.Seeds = []string{"127.0.0.1:8080"}
	cfg.Listen, cfg.Advertise = ":0", "127.0.0.1:0"
	if _, err := whispernet.New(cfg); err != nil {
		t.Errorf("every interface with Advertise: %v", err)
	}
}

// The library's defaults publish nothing by themselves.
func TestDefaultsGenerateNothing(t *testing.T) {
	if g := whispernet.DefaultConfig().Generate; g != 0 {
		t.Fatalf("DefaultConfig().Generate = %d", g)
	}
	net := startNetwork(t, 2, new(memnet.Network), func(c *whispernet.Config) { c.GenerateDelay = 0 })
	if err := net.nodes[0].Publish(context.Background(), []byte("only")); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, net.nodes[1], 1)[0]; string(m.Data) != "only" || m.Seq != 1 {
		t.Errorf("first message %s#%d %q, want the application's", m.Origin, m.Seq, m.Data)
	}
	if s := net.nodes[1].Stats().Runtime.Generated; s != 0 {
		t.Errorf("generated %d", s)
	}
}

// A node keeps the key it is given and makes one when given none; the
// Runtime hook sees the whole runtime configuration and its hooks still
// run beside the node's own.
func TestKeyAndRuntimeHook(t *testing.T) {
	key := identity.FromSeed(bytes.Repeat([]byte{7}, 32))
	var hooked atomic.Int64
	first := true
	net := startNetwork(t, 2, new(memnet.Network), func(c *whispernet.Config) {
		if first {
			first = false
			c.Key = key
			c.Runtime = func(rc *node.PeerConfig) {
				if rc.Core.Key != key || rc.Core.GossipCount != 0 || !rc.Core.Self.IsValid() {
					t.Errorf("runtime config: key %v, gossip count %d, self %v", rc.Core.Key, rc.Core.GossipCount, rc.Core.Self)
				}
				rc.Hooks.Deliver = func(self, from netip.AddrPort, m wire.Message, at time.Time) { hooked.Add(1) }
			}
		}
	})
	a, b := net.nodes[0], net.nodes[1]
	if a.Key() != key {
		t.Errorf("a's key %v, want the configured one", a.Key().ID())
	}
	if b.Key() == nil || b.Key().ID() == key.ID() {
		t.Errorf("b's key %v: want a fresh one", b.Key())
	}
	if err := b.Publish(context.Background(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, a, 1)[0]; string(m.Data) != "x" {
		t.Errorf("a got %q", m.Data)
	}
	if n := hooked.Load(); n != 1 {
		t.Errorf("the Runtime hook's Deliver ran %d times, want 1", n)
	}
}

// A node that listens on every interface announces the address it is
// told to, with the port it was given; a host name is looked up.
func TestListenEverywhereAdvertise(t *testing.T) {
	ctx := context.Background()
	s, err := whispernet.NewSeed(whispernet.DefaultSeedConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var nodes []*whispernet.Node
	for _, adv := range []string{"127.0.0.1:0", "localhost:0"} {
		cfg := fastConfig(s.Addr(), nil)
		cfg.Listen, cfg.Advertise, cfg.Target = "0.0.0.0:0", adv, 1
		nd, err := whispernet.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		nd.Messages()
		if err := nd.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer nd.Close()
		a, err := netip.ParseAddrPort(nd.Addr())
		if err != nil || a.Addr() != netip.MustParseAddr("127.0.0.1") || a.Port() == 0 {
			t.Fatalf("advertise %s: Addr() = %q", adv, nd.Addr())
		}
		if l := nd.Runtime().ListenAddr(); !l.Addr().IsUnspecified() || l.Port() != a.Port() {
			t.Errorf("advertise %s: listening on %v", adv, l)
		}
		nodes = append(nodes, nd)
	}
	loopback.CheckFor(t, wait, "the two linked", func() error {
		if got := neighbours(nodes[0]); !slices.Equal(got, []string{nodes[1].Addr()}) {
			return fmt.Errorf("neighbours %v", got)
		}
		return nil
	})
	if err := nodes[1].Publish(ctx, []byte("via 0.0.0.0")); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, nodes[0], 1)[0]; m.Origin != nodes[1].Addr() || string(m.Data) != "via 0.0.0.0" {
		t.Errorf("got %s %q", m.Origin, m.Data)
	}
	if got, want := s.Members(), sorted(nodes[0].Addr(), nodes[1].Addr()); !slices.Equal(got, want) {
		t.Errorf("seed members %v, want %v", got, want)
	}
}

// A seed passes a dead report on to the seeds in SeedConfig.Peers: the
// crashed node disappears from a seed nobody reported it to.
func TestSeedPeersRelay(t *testing.T) {
	ctx := context.Background()
	var mn memnet.Network
	start := func(peers ...string) *whispernet.Seed {
		cfg := whispernet.DefaultSeedConfig()
		cfg.Transport, cfg.Peers = &mn, peers
		s, err := whispernet.NewSeed(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	b := start()
	a := start(b.Addr())
	node := func(seeds ...string) *whispernet.Node {
		cfg := fastConfig(seeds[0], &mn)
		cfg.Seeds, cfg.Target = seeds, 1
		nd, err := whispernet.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := nd.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nd.Close() })
		return nd
	}
	n1 := node(a.Addr(), b.Addr()) // registers with both (a majority of two)
	n2 := node(a.Addr())           // reports to a only
	loopback.CheckFor(t, wait, "n1 at both seeds, linked to n2", func() error {
		if !slices.Contains(b.Members(), n1.Addr()) || !slices.Equal(neighbours(n2), []string{n1.Addr()}) {
			return fmt.Errorf("seed b %v, n2's neighbours %v", b.Members(), neighbours(n2))
		}
		return nil
	})
	n1.Close()
	loopback.CheckFor(t, wait, "n1 gone from both seeds", func() error {
		if got, want := a.Members(), []string{n2.Addr()}; !slices.Equal(got, want) {
			return fmt.Errorf("seed a %v, want %v", got, want)
		}
		if got := b.Members(); len(got) != 0 {
			return fmt.Errorf("seed b %v, want none", got)
		}
		return nil
	})
	if sa, sb := a.Runtime().Stats(), b.Runtime().Stats(); sa.RelaysSent != 1 || sb.DeadAccepted != 1 || sb.DeadReports != 1 {
		t.Errorf("seed a relayed %d; seed b got %d reports, accepted %d; want 1, 1, 1", sa.RelaysSent, sb.DeadReports, sb.DeadAccepted)
	}
}

func TestSeedLifecycle(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		tweak  func(*whispernet.SeedConfig)
		detail string
	}{
		{"listen without port", func(c *whispernet.SeedConfig) { c.Listen = "127.0.0.1" }, `Listen "127.0.0.1"`},
		{"bad peer", func(c *whispernet.SeedConfig) { c.Peers = []string{"x y:1"} }, `seed peer "x y:1"`},
		{"no rate", func(c *whispernet.SeedConfig) { c.Rate = 0 }, "must be positive"},
	} {
		cfg := whispernet.DefaultSeedConfig()
		tc.tweak(&cfg)
		if _, err := whispernet.NewSeed(cfg); !errors.Is(err, whispernet.ErrConfig) || !strings.Contains(err.Error(), tc.detail) {
			t.Errorf("%s: NewSeed = %v, want ErrConfig with %q", tc.name, err, tc.detail)
		}
	}
	cfg := whispernet.DefaultSeedConfig()
	cfg.Transport = new(memnet.Network)
	s, err := whispernet.NewSeed(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr() != "" || s.Members() != nil || s.Key() != nil {
		t.Errorf("before Start: Addr %q, Members %v, Key %v", s.Addr(), s.Members(), s.Key())
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); !errors.Is(err, whispernet.ErrStarted) {
		t.Errorf("second Start = %v", err)
	}
	addr := s.Addr()
	if a, err := netip.ParseAddrPort(addr); err != nil || a.Port() == 0 || s.Key() == nil {
		t.Errorf("Addr %q (%v), key %v", addr, err, s.Key())
	}
	if m := s.Members(); m == nil || len(m) != 0 {
		t.Errorf("a new seed's members: %#v, want empty", m)
	}
	s.Close()
	if s.Addr() != addr || s.Members() != nil {
		t.Errorf("after Close: Addr %q (want %q), Members %v", s.Addr(), addr, s.Members())
	}
	if err := s.Start(ctx); !errors.Is(err, whispernet.ErrStopped) {
		t.Errorf("Start after Close = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// With signing off, messages travel unsigned and arrive without a key.
func TestUnsigned(t *testing.T) {
	net := startNetwork(t, 2, new(memnet.Network), func(c *whispernet.Config) { c.Sign = false })
	if err := net.nodes[0].Publish(context.Background(), []byte("plain\x00")); err != nil {
		t.Fatal(err)
	}
	m := receive(t, net.nodes[1], 1)[0]
	if string(m.Data) != "plain\x00" || !m.OriginKey.IsZero() {
		t.Errorf("got %q signed by %v, want unsigned", m.Data, m.OriginKey)
	}
	if !whispernet.DefaultConfig().Sign {
		t.Error("DefaultConfig does not sign")
	}
}

// Publish, Members and Stats may be called from many goroutines at once;
// every message arrives exactly once, with the payload its publisher gave.
func TestConcurrentUse(t *testing.T) {
	net := startNetwork(t, 3, new(memnet.Network), func(c *whispernet.Config) { c.MessageBuffer = 1024 })
	a, b := net.nodes[0], net.nodes[1]
	ctx := context.Background()
	const goroutines, each = 4, 50
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				if err := a.Publish(ctx, fmt.Appendf(nil, "g%d:%d\n", g, i)); err != nil {
					t.Error(err)
					return
				}
				a.Members()
				a.Stats()
			}
		})
	}
	got := receive(t, b, goroutines*each)
	wg.Wait()
	seqs := map[uint32]bool{}
	payloads := map[string]bool{}
	for _, m := range got {
		seqs[m.Seq] = true
		payloads[string(m.Data)] = true
	}
	for g := range goroutines {
		for i := range each {
			if p := fmt.Sprintf("g%d:%d\n", g, i); !payloads[p] {
				t.Errorf("b never got %q", p)
			}
		}
	}
	if len(seqs) != goroutines*each || len(payloads) != goroutines*each {
		t.Errorf("%d distinct sequence numbers and %d distinct payloads in %d messages", len(seqs), len(payloads), len(got))
	}
	for s := uint32(1); s <= goroutines*each; s++ {
		if !seqs[s] {
			t.Errorf("sequence number %d missing", s)
		}
	}
}
