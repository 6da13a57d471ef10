package node

import (
	"bufio"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/whispernet/whispernet/wire"
)

// tconn is one peer-to-peer TCP connection: a writer goroutine draining a
// bounded queue of lines. Reading is done by the owner.
type tconn struct {
	c       net.Conn
	queue   chan []byte
	closed  chan struct{}
	drain   chan struct{} // close after writing what is queued
	once    sync.Once
	dOnce   sync.Once
	drops   *atomic.Uint64
	full    int // consecutive sends that found the queue full (loop-owned)
	timeout time.Duration
}

func newTConn(c net.Conn, queueLen int, writeTimeout time.Duration, drops *atomic.Uint64) *tconn {
	t := &tconn{c: c, queue: make(chan []byte, queueLen), closed: make(chan struct{}), drain: make(chan struct{}), drops: drops, timeout: writeTimeout}
	go t.writer()
	return t
}

// send queues one message without blocking. It reports false when the
// queue is full (the message is dropped and counted).
func (t *tconn) send(m *wire.Message) bool {
	line := m.Append(make([]byte, 0, 96))
	return t.sendLine(append(line, '\n'))
}

// sendLine queues an encoded line ('\n' included) without blocking, like
// send. The line is shared, never modified: one forwarded message is
// encoded once for all neighbours.
func (t *tconn) sendLine(line []byte) bool {
	select {
	case t.queue <- line:
		t.full = 0
		return true
	case <-t.closed:
		return true
	default:
		t.drops.Add(1)
		t.full++
		return false
	}
}

func (t *tconn) writer() {
	w := bufio.NewWriterSize(t.c, 4096)
	for {
		select {
		case line := <-t.queue:
			t.c.SetWriteDeadline(time.Now().Add(t.timeout))
			if _, err := w.Write(line); err != nil {
				t.close()
				return
			}
			// Batch what is already queued into one write.
			for n := len(t.queue); n > 0; n-- {
				if _, err := w.Write(<-t.queue); err != nil {
					t.close()
					return
				}
			}
			if err := w.Flush(); err != nil {
				t.close()
				return
			}
		case <-t.drain:
			// Deliver what is queued (a refusal, an error line), then close.
			t.c.SetWriteDeadline(time.Now().Add(t.timeout))
			for n := len(t.queue); n > 0; n-- {
				if _, err := w.Write(<-t.queue); err != nil {
					break
				}
			}
			w.Flush()
			t.close()
			return
		case <-t.closed:
			return
		}
	}
}

// closeAfterFlush closes the connection once the queued lines are written
// (bounded by the write timeout).
func (t *tconn) closeAfterFlush() { t.dOnce.Do(func() { close(t.drain) }) }

func (t *tconn) close() {
	t.once.Do(func() {
		close(t.closed)
		t.c.Close()
	})
}
