package node

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/whispernet/whispernet/wire"
)

// tconn is one peer-to-peer TCP connection: a writer goroutine draining
// two bounded lanes of encoded lines. Reading is done by the owner.
//
// The control lane (handshakes, liveness, ihave/graft/prune, errors) is
// always written first and never waits behind gossip; the gossip lane
// takes what is left of each write. A full gossip lane is backpressure,
// not a verdict on the neighbour: the line is not queued and the caller
// decides (Plumtree demotes it to an announcement, flooding drops it and
// counts it). A connection is closed for slowness only when its writes make
// no progress at all for the stall timeout, or when it has not taken a
// control line while ctrlMax of them piled up: then it has stopped reading.
type tconn struct {
	c      net.Conn
	wake   chan struct{} // capacity 1: lines are queued, or a drain was asked
	closed chan struct{} // closed once, by shut
	once   sync.Once

	mu       sync.Mutex
	ctrl     [][]byte // queued control lines, in order
	gossip   [][]byte // queued gossip lines, in order
	draining bool     // write what is queued, then close
	shutDown bool     // closed: queue nothing more
	kicked   bool     // a wake is due at the next kick (the loop batches them)

	listed bool // in the loop's list of connections to kick (loop-owned)

	gossipMax, ctrlMax int
	stall              time.Duration
	counters           *connCounters
}

// connCounters are a peer's runtime counters shared by its connections.
type connCounters struct {
	drops      atomic.Uint64 // gossip lines not queued (flood mode) or not demoted
	demoted    atomic.Uint64 // gossip lines announced (ihave) instead of queued
	slowCloses atomic.Uint64 // connections closed because they stopped reading
	writes     atomic.Uint64 // write system calls (memnet: Write calls), those that found the socket full included
	lines      atomic.Uint64 // lines written
	reads      atomic.Uint64 // read system calls (memnet: Read calls), those that found the socket empty included
}

// ctrlMaxLines bounds the control lane. Control lines are few (a liveness
// request per interval, an ihave line per lazy flush): a neighbour that
// leaves this many unread has stopped reading for minutes.
const ctrlMaxLines = 4096

// writeChunk is the most bytes of gossip put into one write call, so that
// a control line queued meanwhile waits for at most one chunk.
const writeChunk = 64 << 10

func newTConn(c net.Conn, gossipMax int, stall time.Duration, counters *connCounters) *tconn {
	t := &tconn{c: wrapConn(c, counters), wake: make(chan struct{}, 1), closed: make(chan struct{}),
		gossipMax: gossipMax, ctrlMax: ctrlMaxLines, stall: stall, counters: counters}
	go t.writer()
	return t
}

// send encodes and queues one control message and wakes the writer.
func (t *tconn) send(m *wire.Message) {
	line := m.Append(make([]byte, 0, 96))
	t.queue(append(line, '\n'), true)
	t.kick()
}

// queue adds an encoded line ('\n' included) to its lane without waking
// the writer (kick does); the line is shared, never modified: one
// forwarded message is encoded once for all neighbours. It reports false
// when a gossip line found its lane full and was not queued. A control
// line is always queued, unless the control lane is full: then the
// neighbour has stopped reading and the connection is closed.
func (t *tconn) queue(line []byte, control bool) bool {
	t.mu.Lock()
	if t.draining || t.shutDown {
		t.mu.Unlock()
		return true
	}
	if control {
		if len(t.ctrl) >= t.ctrlMax {
			t.mu.Unlock()
			t.counters.slowCloses.Add(1)
			t.shut()
			return true
		}
		t.ctrl = append(t.ctrl, line)
	} else {
		if len(t.gossip) >= t.gossipMax {
			t.mu.Unlock()
			return false
		}
		t.gossip = append(t.gossip, line)
	}
	t.kicked = true
	t.mu.Unlock()
	return true
}

// kick wakes the writer if lines were queued since the last kick. The
// loop queues a whole batch of lines, then kicks each connection once: one
// wake-up and one write call per connection and batch.
func (t *tconn) kick() {
	t.mu.Lock()
	k := t.kicked
	t.kicked = false
	t.mu.Unlock()
	if k {
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

// bufPool holds the writers' buffers: a connection holds one only while
// it writes, so that thousands of idle links do not each keep one.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

func (t *tconn) writer() {
	var ctrl, gossip [][]byte // the writer's side of the lanes, swapped with the queue's
	for {
		select {
		case <-t.wake:
		case <-t.closed:
			return
		}
		for {
			t.mu.Lock()
			ctrl, t.ctrl = t.ctrl, ctrl[:0]
			gossip, t.gossip = t.gossip, gossip[:0]
			drain := t.draining
			t.mu.Unlock()
			if len(ctrl) == 0 && len(gossip) == 0 {
				if drain {
					t.shut()
					return
				}
				break
			}
			bp := bufPool.Get().(*[]byte)
			buf := (*bp)[:0]
			for _, l := range ctrl {
				buf = append(buf, l...)
			}
			lines := len(ctrl)
			clear(ctrl)
			for i, l := range gossip {
				if len(buf) >= writeChunk {
					// Put the rest back in front of what came meanwhile,
					// behind any control line that came meanwhile.
					rest := gossip[i:len(gossip):len(gossip)]
					t.mu.Lock()
					if !t.shutDown {
						t.gossip = append(rest, t.gossip...)
					}
					t.mu.Unlock()
					clear(gossip[:i])
					gossip = nil
					break
				}
				buf = append(buf, l...)
				lines++
			}
			if gossip != nil {
				clear(gossip)
			}
			err := t.write(buf)
			if cap(buf) <= 2*writeChunk { // (a line may overrun the chunk; a gossip64 line by up to 90 KB)
				*bp = buf[:0]
				bufPool.Put(bp)
			}
			if err != nil {
				t.shut()
				return
			}
			t.counters.lines.Add(uint64(lines))
		}
	}
}

// write writes b whole. A write deadline that passes while bytes still
// move is no reason to give up: only a stall (no byte taken for t.stall)
// closes the connection, and counts as a slow close.
func (t *tconn) write(b []byte) error {
	for len(b) > 0 {
		t.c.SetWriteDeadline(time.Now().Add(t.stall))
		n, err := t.c.Write(b)
		b = b[n:]
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if n > 0 {
				continue
			}
			t.counters.slowCloses.Add(1)
		}
		return err
	}
	return nil
}

// closeAfterFlush closes the connection once the queued lines are written
// (bounded by the stall timeout).
func (t *tconn) closeAfterFlush() {
	t.mu.Lock()
	t.draining = true
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// shut closes the connection at once; queued lines are lost.
func (t *tconn) shut() {
	t.once.Do(func() {
		t.mu.Lock()
		t.shutDown = true
		t.ctrl, t.gossip = nil, nil
		t.mu.Unlock()
		close(t.closed)
		t.c.Close()
	})
}
