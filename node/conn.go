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
	gbytes   int      // bytes of the gossip lane (counted in counters.queued)
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
	budgetFull atomic.Uint64 // gossip lines not queued because the peer's queued gossip bytes were at queueMax

	queued   atomic.Int64 // gossip bytes queued on all the peer's connections (a shared line counts once per lane)
	queueMax int64        // PeerConfig.QueueBytes
}

// reserve counts n more queued gossip bytes; it reports false, counting
// nothing, if they would take the peer beyond its budget.
func (c *connCounters) reserve(n int) bool {
	if c.queued.Add(int64(n)) > c.queueMax {
		c.queued.Add(-int64(n))
		c.budgetFull.Add(1)
		return false
	}
	return true
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
// when a gossip line found its lane full, or the peer's budget of queued
// gossip bytes spent, and was not queued. A control line is always
// queued, unless the control lane is full: then the neighbour has stopped
// reading and the connection is closed.
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
		if len(t.gossip) >= t.gossipMax || !t.counters.reserve(len(line)) {
			t.mu.Unlock()
			return false
		}
		t.gossip = append(t.gossip, line)
		t.gbytes += len(line)
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
		t.wakeWriter()
	}
}

func (t *tconn) wakeWriter() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// bufPool holds the write buffers: a connection holds one only while it
// writes, so that thousands of idle links do not each keep one.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

func putBuf(bp *[]byte) {
	if cap(*bp) <= 2*writeChunk { // (a line may overrun the chunk; a gossip64 line by up to 90 KB)
		*bp = (*bp)[:0]
		bufPool.Put(bp)
	}
}

// take moves the queued lines into one write buffer, every control line
// first, then gossip up to writeChunk bytes (the rest stays queued, ahead
// of what comes next). It returns nil when nothing is queued. t.mu is
// held. The lanes keep no reference to what was taken: a connection holds
// at most its lanes and the one buffer being written.
func (t *tconn) take() *[]byte {
	if len(t.ctrl) == 0 && len(t.gossip) == 0 {
		return nil
	}
	bp := bufPool.Get().(*[]byte)
	buf := (*bp)[:0]
	for _, l := range t.ctrl {
		buf = append(buf, l...)
	}
	lines := len(t.ctrl)
	clear(t.ctrl)
	t.ctrl = t.ctrl[:0]
	i, g := 0, len(buf)
	for ; i < len(t.gossip) && len(buf) < writeChunk; i++ {
		buf = append(buf, t.gossip[i]...)
	}
	lines += i
	t.gbytes -= len(buf) - g
	t.counters.queued.Add(-int64(len(buf) - g))
	n := copy(t.gossip, t.gossip[i:])
	clear(t.gossip[n:])
	t.gossip = t.gossip[:n]
	*bp = buf
	t.counters.lines.Add(uint64(lines))
	return bp
}

func (t *tconn) writer() {
	for {
		select {
		case <-t.wake:
		case <-t.closed:
			return
		}
		for {
			t.mu.Lock()
			bp := t.take()
			drain := t.draining
			t.mu.Unlock()
			if bp == nil {
				if drain {
					t.shut()
					return
				}
				break
			}
			err := t.write(*bp)
			putBuf(bp)
			if err != nil {
				t.shut()
				return
			}
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
	t.wakeWriter()
}

// shut closes the connection at once; queued lines are lost.
func (t *tconn) shut() {
	t.once.Do(func() {
		t.mu.Lock()
		t.shutDown = true
		t.ctrl, t.gossip = nil, nil
		t.counters.queued.Add(-int64(t.gbytes))
		t.gbytes = 0
		t.mu.Unlock()
		close(t.closed)
		t.c.Close()
	})
}
