package web

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/whispernet/whispernet/localnet"
)

// Stream bounds.
const (
	// maxPendingFeed bounds the feed events waiting for one slow stream;
	// older ones are dropped and counted in the update's "skipped".
	maxPendingFeed = 256
	// initialFeed is how many past events a new stream starts with.
	initialFeed = 200
	// heartbeat keeps idle streams open through proxies and lets the
	// server notice a browser that went away.
	heartbeat = 15 * time.Second
)

// msgKey names a gossip message.
type msgKey struct {
	origin netip.AddrPort
	seq    uint32
}

// frame is what one sample of the network changed. Sections are JSON,
// marshalled once and shared by every stream; nil means unchanged.
type frame struct {
	counts, graph, degrees, messages, seeds json.RawMessage
	feed                                    []FeedEvent
	skipped                                 int
}

func (f *frame) empty() bool {
	return f.counts == nil && f.graph == nil && f.degrees == nil && f.messages == nil && f.seeds == nil && len(f.feed) == 0 && f.skipped == 0
}

// merge folds a newer frame into f: newer sections replace older ones,
// feed events accumulate up to maxPendingFeed.
func (f *frame) merge(n *frame) {
	for _, p := range []struct{ dst, src *json.RawMessage }{
		{&f.counts, &n.counts}, {&f.graph, &n.graph}, {&f.degrees, &n.degrees}, {&f.messages, &n.messages}, {&f.seeds, &n.seeds},
	} {
		if *p.src != nil {
			*p.dst = *p.src
		}
	}
	f.skipped += n.skipped
	f.feed = append(f.feed, n.feed...)
	if over := len(f.feed) - maxPendingFeed; over > 0 {
		f.skipped += over
		f.feed = append([]FeedEvent(nil), f.feed[over:]...)
	}
}

// Update is one event of the stream (event: update). Every field but At
// is omitted when unchanged since the previous update; Full marks the
// first update of a stream, which carries every section.
type Update struct {
	At       time.Time       `json:"at"`
	Full     bool            `json:"full,omitempty"`
	Counts   json.RawMessage `json:"counts,omitempty"`   // Counts
	Graph    json.RawMessage `json:"graph,omitempty"`    // Graph
	Degrees  json.RawMessage `json:"degrees,omitempty"`  // Degrees
	Messages json.RawMessage `json:"messages,omitempty"` // []Message
	Seeds    json.RawMessage `json:"seeds,omitempty"`    // []Seed
	// Feed holds the events since the previous update, oldest first;
	// Skipped counts events left out because the browser fell behind or
	// they happened faster than the tracker keeps them.
	Feed    []FeedEvent `json:"feed,omitempty"`
	Skipped int         `json:"skipped,omitempty"`
	// Watch reports the watched message when it changed.
	Watch *Watch `json:"watch,omitempty"`
}

// Watch is the progress of the message a stream watches.
type Watch struct {
	Message
	// Reset: Receipts start over (a new watch); otherwise they continue
	// the previous update's. Gone: the message is unknown.
	Reset    bool               `json:"reset,omitempty"`
	Gone     bool               `json:"gone,omitempty"`
	Receipts []localnet.Receipt `json:"receipts"`
	// ReceiptsKept is false once the tracker dropped the receipts of this
	// (by now old) message.
	ReceiptsKept bool `json:"receipts_kept"`
}

// client is one open stream.
type client struct {
	id     string
	notify chan struct{} // cap 1: an update is pending

	mu      sync.Mutex
	pending frame
	watch   msgKey // zero: none
	gen     uint64 // bumped by every watch change

	// Owned by the stream's goroutine.
	sentGen      uint64
	sentReceipts int
	lastWatch    []byte
}

// push merges f into the client's pending update without blocking: a
// slow browser costs a merge, never a wait.
func (c *client) push(f *frame) {
	c.mu.Lock()
	c.pending.merge(f)
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *client) take() frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.pending
	c.pending = frame{}
	return f
}

// hub samples the network while at least one stream is open and fans
// the changes out.
type hub struct {
	s      *Server
	tickMu sync.Mutex // one tick at a time

	mu      sync.Mutex
	clients map[string]*client
	running bool
	// last holds every section as last sent and feedSeq the newest feed
	// event sent: a new stream starts from them, then gets the diffs.
	last    frame
	feedSeq uint64
}

func newHub(s *Server) *hub {
	return &hub{s: s, clients: map[string]*client{}}
}

// join registers a stream and returns it with its first, full update.
func (h *hub) join() (*client, frame) {
	h.mu.Lock()
	idle := !h.running
	h.mu.Unlock()
	if idle {
		// No stream was open: sample now, so that the first update is
		// today's state rather than the one the last stream saw.
		h.tick(time.Now())
	}
	var b [8]byte
	rand.Read(b[:])
	c := &client{id: hex.EncodeToString(b[:]), notify: make(chan struct{}, 1)}
	h.mu.Lock()
	defer h.mu.Unlock()
	first := h.last
	first.feed, _ = h.s.feed.after(0, initialFeed)
	// Events newer than feedSeq arrive with the next tick.
	for len(first.feed) > 0 && first.feed[len(first.feed)-1].Seq > h.feedSeq {
		first.feed = first.feed[:len(first.feed)-1]
	}
	h.clients[c.id] = c
	if !h.running {
		h.running = true
		go h.run()
	}
	return c, first
}

func (h *hub) leave(c *client) {
	h.mu.Lock()
	delete(h.clients, c.id)
	h.mu.Unlock()
}

// watch sets the message a stream follows; false for an unknown stream.
func (h *hub) watch(id string, k msgKey) bool {
	h.mu.Lock()
	c := h.clients[id]
	h.mu.Unlock()
	if c == nil {
		return false
	}
	c.mu.Lock()
	c.watch = k
	c.gen++
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
	return true
}

// run ticks every Interval until no stream is left or the server closes.
func (h *hub) run() {
	t := time.NewTicker(h.s.opts.Interval)
	defer t.Stop()
	for {
		h.tick(time.Now())
		select {
		case <-t.C:
		case <-h.s.done:
			return
		}
		h.mu.Lock()
		if len(h.clients) == 0 {
			h.running = false
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
	}
}

// tick samples the network once and pushes what changed to every stream.
func (h *hub) tick(now time.Time) {
	h.tickMu.Lock()
	defer h.tickMu.Unlock()
	s := h.s
	s.feed.sync(s.net.Tracker, now)
	snap := s.net.Tracker.Snapshot(now, true)
	g := s.graph(snap)
	seeds := s.seeds()
	next := frame{
		counts:   marshal(s.counts(snap, g, seeds, now, false)),
		graph:    marshal(g),
		degrees:  marshal(s.degrees(snap.Degrees, now)),
		messages: marshal(s.messages(s.opts.Messages)),
		seeds:    marshal(seeds),
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var f frame
	f.feed, f.skipped = s.feed.after(h.feedSeq, maxPendingFeed)
	if n := len(f.feed); n > 0 {
		h.feedSeq = f.feed[n-1].Seq
	}
	for _, p := range []struct{ last, next, out *json.RawMessage }{
		{&h.last.counts, &next.counts, &f.counts},
		{&h.last.graph, &next.graph, &f.graph},
		{&h.last.degrees, &next.degrees, &f.degrees},
		{&h.last.messages, &next.messages, &f.messages},
		{&h.last.seeds, &next.seeds, &f.seeds},
	} {
		if !bytes.Equal(*p.last, *p.next) {
			*p.last, *p.out = *p.next, *p.next
		}
	}
	// Every stream is woken even by an empty frame: its watched message
	// may have moved.
	for _, c := range h.clients {
		c.push(&f)
	}
}

func marshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		// Only NaN or Inf can fail here, and the views round them away.
		return json.RawMessage(fmt.Sprintf(`{"error":%q}`, err.Error()))
	}
	return b
}

// handleStream serves /api/stream: Server-Sent Events, a hello event with
// the stream's id, then update events at most every Interval.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	c, first := s.hub.join()
	defer s.hub.leave(c)

	write := func(b []byte) bool {
		// A per-write deadline: a browser that stops reading is dropped
		// after WriteTimeout instead of holding its goroutine forever.
		_ = rc.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout)) // every server here supports it
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	hello, _ := json.Marshal(struct {
		Client     string `json:"client"`
		IntervalMs int64  `json:"interval_ms"`
	}{c.id, s.opts.Interval.Milliseconds()})
	if !write(fmt.Appendf(nil, "retry: 2000\nevent: hello\ndata: %s\n\n", hello)) {
		return
	}
	if !s.send(c, &first, true, write) {
		return
	}
	ping := time.NewTicker(heartbeat)
	defer ping.Stop()
	for {
		select {
		case <-c.notify:
			f := c.take()
			if !s.send(c, &f, false, write) {
				return
			}
		case <-ping.C:
			if !write([]byte(": ping\n\n")) {
				return
			}
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		}
	}
}

// send writes one update event: the frame plus the watched message's
// progress; nothing when neither has news.
func (s *Server) send(c *client, f *frame, full bool, write func([]byte) bool) bool {
	u := Update{At: time.Now(), Full: full, Counts: f.counts, Graph: f.graph, Degrees: f.degrees,
		Messages: f.messages, Seeds: f.seeds, Feed: f.feed, Skipped: f.skipped, Watch: s.watchUpdate(c)}
	if !full && f.empty() && u.Watch == nil {
		return true
	}
	b, err := json.Marshal(u)
	if err != nil {
		s.log.Error("dashboard: encode update", "err", err)
		return true
	}
	return write(fmt.Appendf(nil, "event: update\ndata: %s\n\n", b))
}

// watchUpdate returns the watched message's news for c, or nil. Receipts
// are sent incrementally: only those after the ones already sent.
func (s *Server) watchUpdate(c *client) *Watch {
	c.mu.Lock()
	k, gen := c.watch, c.gen
	c.mu.Unlock()
	reset := gen != c.sentGen
	if !k.origin.IsValid() {
		if reset {
			c.sentGen, c.sentReceipts, c.lastWatch = gen, 0, nil
		}
		return nil
	}
	d, ok := s.messageDetail(k.origin, k.seq)
	if !ok {
		if !reset {
			return nil
		}
		c.sentGen, c.sentReceipts, c.lastWatch = gen, 0, nil
		return &Watch{Message: Message{Origin: k.origin.String(), Seq: k.seq}, Reset: true, Gone: true, Receipts: []localnet.Receipt{}}
	}
	summary, _ := json.Marshal(d.Message)
	if !reset && bytes.Equal(summary, c.lastWatch) && len(d.Receipts) == c.sentReceipts {
		return nil
	}
	if reset || len(d.Receipts) < c.sentReceipts {
		reset, c.sentReceipts = true, 0
	}
	w := &Watch{Message: d.Message, Reset: reset, ReceiptsKept: d.ReceiptsKept, Receipts: d.Receipts[c.sentReceipts:]}
	c.sentGen, c.sentReceipts, c.lastWatch = gen, len(d.Receipts), summary
	return w
}
