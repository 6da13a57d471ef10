package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/whispernet/whispernet/internal/loopback"
	"github.com/whispernet/whispernet/localnet"
)

// sse is one event read from a stream.
type sse struct {
	event, data string
	at          time.Time
}

// openStream reads /api/stream in a goroutine; the channel closes when
// the stream ends.
func openStream(t *testing.T, d *dashboard) <-chan sse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", d.ts.URL+"/api/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("stream Content-Type %q", ct)
	}
	ch := make(chan sse, 1024)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		var ev sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.event != "" {
					ev.at = time.Now()
					select {
					case ch <- ev:
					case <-ctx.Done():
						return
					}
				}
				ev = sse{}
			case strings.HasPrefix(line, "event: "):
				ev.event = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[len("data: "):]
			}
		}
	}()
	return ch
}

// next returns the next event of the given kind within d.
func next(t *testing.T, ch <-chan sse, kind string, d time.Duration) sse {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("stream ended while waiting for %s", kind)
			}
			if ev.event == kind {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event within %v", kind, d)
		}
	}
}

// untilUpdate reads updates until cond accepts one.
func untilUpdate(t *testing.T, ch <-chan sse, d time.Duration, what string, cond func(Update) bool) Update {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ev := next(t, ch, "update", time.Until(deadline))
		var u Update
		if err := json.Unmarshal([]byte(ev.data), &u); err != nil {
			t.Fatalf("update: %v", err)
		}
		if cond(u) {
			return u
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
	}
}

func TestStream(t *testing.T) {
	n := startLinkedNet(t, 10)
	d := newDashboard(t, n, Options{})
	ch := openStream(t, d)

	var hello struct {
		Client     string `json:"client"`
		IntervalMs int    `json:"interval_ms"`
	}
	if err := json.Unmarshal([]byte(next(t, ch, "hello", 5*time.Second).data), &hello); err != nil || hello.Client == "" || hello.IntervalMs != 250 {
		t.Fatalf("hello = %+v, %v", hello, err)
	}
	first := untilUpdate(t, ch, 5*time.Second, "first update", func(Update) bool { return true })
	var g Graph
	var c Counts
	if !first.Full || json.Unmarshal(first.Graph, &g) != nil || json.Unmarshal(first.Counts, &c) != nil || first.Degrees == nil || first.Seeds == nil || first.Messages == nil {
		t.Fatalf("the first update is not full: %+v", first)
	}
	if len(g.Nodes) != 10 || c.Peers != 10 || len(first.Feed) == 0 || first.Skipped != 0 {
		t.Errorf("first update: %d nodes, %d peers, %d feed events, %d skipped", len(g.Nodes), c.Peers, len(first.Feed), first.Skipped)
	}

	// Publish and watch: receipts arrive incrementally until 10/10.
	var pub Published
	d.do("POST", "/api/publish", `{"text":"watch me"}`, &pub)
	if !pub.Found {
		t.Fatalf("publish: %+v", pub)
	}
	if code := d.do("POST", "/api/watch", fmt.Sprintf(`{"client":%q,"origin":%q,"seq":%d}`, hello.Client, pub.Origin, pub.Seq), nil); code != 200 {
		t.Fatalf("watch: %d", code)
	}
	receipts := map[string]int{}
	reset, published := false, false
	w := untilUpdate(t, ch, 5*time.Second, "watched message complete", func(u Update) bool {
		for _, e := range u.Feed {
			published = published || e.Kind == "publish" && e.Node == pub.Origin
		}
		if u.Watch == nil {
			return false
		}
		if u.Watch.Origin != pub.Origin || u.Watch.Seq != pub.Seq {
			t.Fatalf("watch update for %s #%d", u.Watch.Origin, u.Watch.Seq)
		}
		reset = reset || u.Watch.Reset
		for _, r := range u.Watch.Receipts {
			receipts[r.Peer]++
		}
		return u.Watch.Reached == 10 && u.Watch.Live == 10
	})
	if !reset || len(receipts) != 9 || w.Watch.Receivers != 9 {
		t.Errorf("reset %v, %d receipts, %d receivers", reset, len(receipts), w.Watch.Receivers)
	}
	for p, k := range receipts {
		if k != 1 || p == pub.Origin {
			t.Errorf("receipt of %s sent %d times", p, k)
		}
	}
	// The feed brought the publish event (perhaps before the watch).
	if !published {
		untilUpdate(t, ch, 5*time.Second, "publish in the feed", func(u Update) bool {
			for _, e := range u.Feed {
				if e.Kind == "publish" && e.Node == pub.Origin {
					return true
				}
			}
			return false
		})
	}

	// Rate bound: with the network churning (messages every 20 ms), no
	// more than one update per Interval.
	stop := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				d.srv.net.PublishRandom(newRNG(), fmt.Sprintf("churn %d", i))
			}
		}
	}()
	var times []time.Time
	deadline := time.After(2 * time.Second)
collect:
	for {
		select {
		case ev := <-ch:
			if ev.event == "update" {
				times = append(times, ev.at)
			}
		case <-deadline:
			break collect
		}
	}
	close(stop)
	if len(times) < 4 || len(times) > 10 {
		t.Errorf("%d updates in 2 s with Interval 250 ms, want 4..9", len(times))
	}
	// Watching nothing stops the watch updates.
	d.do("POST", "/api/watch", fmt.Sprintf(`{"client":%q}`, hello.Client), nil)

	// Close ends the stream.
	d.srv.Close()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("the stream outlived Close")
		}
	}
}

// smallBufferIP is the loopback address the stuck client of
// TestSlowStream connects from; smallSendBuffers gives the server's end of
// its connections a small send buffer.
var smallBufferIP = net.IPv4(127, 0, 0, 2)

// smallSendBuffers wraps a listener so that connections from
// smallBufferIP get an 8 kB send buffer. Left alone, Linux grows a
// loopback socket's send buffer up to net.ipv4.tcp_wmem's maximum (4 MiB):
// a stream whose browser never reads then absorbs some 3 MB before a
// write blocks, seconds of updates at the test's churn, and many more
// seconds on a loaded machine where the updates come slower. Setting
// SO_SNDBUF turns that growth off for the socket.
func smallSendBuffers(l net.Listener) net.Listener { return smallSendListener{l} }

type smallSendListener struct{ net.Listener }

func (l smallSendListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		if ra, ok := tc.RemoteAddr().(*net.TCPAddr); ok && ra.IP.Equal(smallBufferIP) {
			_ = tc.SetWriteBuffer(8 << 10) // best effort: the test's deadline says if it did not work
		}
	}
	return c, err
}

// A browser that stops reading must not hold up the others: its updates
// are merged in place, never queued, and once its socket is full its
// write times out and the stream is dropped.
func TestSlowStream(t *testing.T) {
	n := startNet(t, 6)
	// WriteTimeout 1 s: the stuck stream stays open for at least that
	// long once its socket is full, long enough for the reader to get
	// several updates meanwhile even when ticks come slowly.
	d := newDashboardOn(t, n, Options{Interval: 50 * time.Millisecond, WriteTimeout: time.Second, Messages: 256}, smallSendBuffers)
	// The stuck client asks for the stream and never reads a byte; small
	// buffers at both ends make its connection fill up quickly.
	conn, err := dialSmallBuffer(d.ts.Listener.Addr().String())
	if err != nil {
		t.Skipf("cannot make a small-buffer connection: %v", err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /api/stream HTTP/1.1\r\nHost: %s\r\n\r\n", d.ts.Listener.Addr())
	ch := openStream(t, d)
	next(t, ch, "hello", 5*time.Second)
	clients := func() int {
		d.srv.hub.mu.Lock()
		defer d.srv.hub.mu.Unlock()
		return len(d.srv.hub.clients)
	}
	// The stuck client's request may reach the server after ours.
	loopback.CheckFor(t, 5*time.Second, "both streams open", func() error {
		if k := clients(); k != 2 {
			return fmt.Errorf("%d streams open, want 2", k)
		}
		return nil
	})
	// Churn: every update then carries a message list of up to 256
	// messages of 1 kB each.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		rng := newRNG()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
				n.PublishRandom(rng, fmt.Sprintf("flood %d %s", i, strings.Repeat("x", 1000)))
			}
		}
	}()
	defer func() { close(stop); <-done }()
	count := 0
	start := time.Now()
	// With 8 kB buffers at either end the stuck stream blocks within the
	// first few updates that carry messages (after 22-38 kB) and is
	// dropped WriteTimeout later: 1.1-1.4 s from here at load 20 (it took
	// 4-6 s, and 3 MB, with the buffers left to grow). 30 s is for a
	// loaded CI machine, not an expectation.
	deadline := time.After(30 * time.Second)
	for clients() > 1 {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("the reading stream ended")
			}
			if ev.event == "update" {
				count++
			}
		case <-deadline:
			t.Fatalf("the stuck stream was not dropped within 30 s (%d updates to the reader)", count)
		}
	}
	t.Logf("the stuck stream was dropped after %v (%d updates to the reader meanwhile)", time.Since(start).Round(time.Millisecond), count)
	// The reader kept getting updates meanwhile and still does.
	untilUpdate(t, ch, 2*time.Second, "update after the drop", func(Update) bool { return true })
	if count < 3 {
		t.Errorf("the reading client got %d updates while the other was stuck", count)
	}
}

func TestFrameCoalescing(t *testing.T) {
	c := &client{notify: make(chan struct{}, 1)}
	for i := range 1000 {
		f := frame{counts: json.RawMessage(fmt.Sprintf(`{"peers":%d}`, i))}
		if i%100 == 0 {
			f.graph = json.RawMessage(fmt.Sprintf(`{"v":%d}`, i))
		}
		for j := range 3 {
			f.feed = append(f.feed, FeedEvent{Event: localnet.Event{Seq: uint64(3*i + j + 1), Kind: "link"}})
		}
		c.push(&f) // never blocks although nobody reads
	}
	f := c.take()
	if string(f.counts) != `{"peers":999}` || string(f.graph) != `{"v":900}` || f.degrees != nil {
		t.Errorf("merged sections: counts %s graph %s", f.counts, f.graph)
	}
	if len(f.feed) != maxPendingFeed || f.skipped != 3000-maxPendingFeed || f.feed[len(f.feed)-1].Seq != 3000 {
		t.Errorf("feed: %d kept, %d skipped, last %d", len(f.feed), f.skipped, f.feed[len(f.feed)-1].Seq)
	}
	if g := c.take(); !g.empty() {
		t.Errorf("take left %+v", g)
	}
	if len(c.notify) != 1 {
		t.Errorf("notify holds %d wake-ups, want 1", len(c.notify))
	}
}

// The hub samples only while a stream is open.
func TestHubStops(t *testing.T) {
	n := startNet(t, 2)
	d := newDashboard(t, n, Options{Interval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", d.ts.URL+"/api/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	running := func() bool {
		d.srv.hub.mu.Lock()
		defer d.srv.hub.mu.Unlock()
		return d.srv.hub.running
	}
	if !running() {
		t.Errorf("no sampling with a stream open")
	}
	cancel()
	resp.Body.Close()
	loopback.CheckFor(t, 5*time.Second, "hub stops", func() error {
		if running() {
			return fmt.Errorf("still running")
		}
		return nil
	})
}

func newRNG() *rand.Rand { return rand.New(rand.NewPCG(rand.Uint64(), 1)) }
