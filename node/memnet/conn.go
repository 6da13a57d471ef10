package memnet

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
)

// Conn is one end of a memnet connection; it implements net.Conn.
// Writes fill the other end's bounded buffer and block while it is full;
// Close lets the other end read what is buffered, then io.EOF, and makes
// its writes fail with syscall.EPIPE.
type Conn struct {
	local, remote netip.AddrPort
	in, out       *pipe // in: what this end reads; out: what it writes
	rdl, wdl      deadline
	closed        chan struct{}
	once          sync.Once
	release       func() // frees the local port (dialling end only)
}

func newPair(client, server netip.AddrPort, size int, release func()) (*Conn, *Conn) {
	up, down := newPipe(size), newPipe(size)
	c := &Conn{local: client, remote: server, in: down, out: up, closed: make(chan struct{}), release: release}
	s := &Conn{local: server, remote: client, in: up, out: down, closed: make(chan struct{})}
	return c, s
}

// Read reads what the other end wrote, waiting for data, its Close (then
// io.EOF), this end's Close or the read deadline.
func (c *Conn) Read(b []byte) (int, error) {
	n, err := c.in.read(b, c.closed, &c.rdl)
	if err != nil && !errors.Is(err, io.EOF) {
		err = c.opError("read", err)
	}
	return n, err
}

// Write writes all of b unless the other end closes, this end closes or
// the write deadline passes first; it reports how much was written.
func (c *Conn) Write(b []byte) (int, error) {
	n, err := c.out.write(b, c.closed, &c.wdl)
	if err != nil {
		err = c.opError("write", err)
	}
	return n, err
}

// Close closes this end. Pending and later Reads and Writes on it fail
// with an error wrapping net.ErrClosed.
func (c *Conn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.out.closeWrite()
		c.in.closeRead()
		c.rdl.stop()
		c.wdl.stop()
		if c.release != nil {
			c.release()
		}
	})
	return nil
}

// LocalAddr returns this end's address (a memnet.Addr).
func (c *Conn) LocalAddr() net.Addr { return Addr(c.local) }

// RemoteAddr returns the other end's address (a memnet.Addr).
func (c *Conn) RemoteAddr() net.Addr { return Addr(c.remote) }

// SetDeadline sets the read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.rdl.set(t)
	c.wdl.set(t)
	return nil
}

// SetReadDeadline sets when a pending or later Read fails with an error
// wrapping os.ErrDeadlineExceeded (zero: never).
func (c *Conn) SetReadDeadline(t time.Time) error { c.rdl.set(t); return nil }

// SetWriteDeadline sets when a pending or later Write fails with an error
// wrapping os.ErrDeadlineExceeded (zero: never).
func (c *Conn) SetWriteDeadline(t time.Time) error { c.wdl.set(t); return nil }

func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "memnet", Source: Addr(c.local), Addr: Addr(c.remote), Err: err}
}

// pipe is one direction of a connection: a ring buffer of fixed size.
// Waiters are woken through channels of capacity one rather than a
// sync.Cond, so that a wait can also select on a deadline and a close.
type pipe struct {
	mu       sync.Mutex
	buf      []byte
	r, n     int  // read position and bytes buffered
	eof      bool // the writing end closed: io.EOF once drained
	broken   bool // the reading end closed: writes fail
	readable chan struct{}
	writable chan struct{}
}

func newPipe(size int) *pipe {
	return &pipe{buf: make([]byte, size), readable: make(chan struct{}, 1), writable: make(chan struct{}, 1)}
}

func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (p *pipe) read(b []byte, closed <-chan struct{}, dl *deadline) (int, error) {
	for {
		select {
		case <-closed:
			return 0, net.ErrClosed
		case <-dl.wait():
			return 0, os.ErrDeadlineExceeded
		default:
		}
		p.mu.Lock()
		if p.n > 0 || len(b) == 0 {
			k := 0
			for k < len(b) && p.n > 0 {
				m := copy(b[k:], p.buf[p.r:min(len(p.buf), p.r+p.n)])
				k += m
				p.r = (p.r + m) % len(p.buf)
				p.n -= m
			}
			p.mu.Unlock()
			wake(p.writable)
			return k, nil
		}
		eof := p.eof
		p.mu.Unlock()
		if eof {
			return 0, io.EOF
		}
		select {
		case <-p.readable:
		case <-closed:
		case <-dl.wait():
		}
	}
}

func (p *pipe) write(b []byte, closed <-chan struct{}, dl *deadline) (int, error) {
	done := 0
	for {
		select {
		case <-closed:
			return done, net.ErrClosed
		case <-dl.wait():
			return done, os.ErrDeadlineExceeded
		default:
		}
		p.mu.Lock()
		if p.broken {
			p.mu.Unlock()
			return done, syscall.EPIPE
		}
		for done < len(b) && p.n < len(p.buf) {
			w := (p.r + p.n) % len(p.buf)
			end := len(p.buf)
			if w < p.r {
				end = p.r
			}
			m := copy(p.buf[w:end], b[done:])
			done += m
			p.n += m
		}
		p.mu.Unlock()
		if done > 0 {
			wake(p.readable)
		}
		if done == len(b) {
			return done, nil
		}
		select {
		case <-p.writable:
		case <-closed:
		case <-dl.wait():
		}
	}
}

// closeWrite marks the end of the data: the reader gets io.EOF once it has
// read what is buffered.
func (p *pipe) closeWrite() {
	p.mu.Lock()
	p.eof = true
	p.mu.Unlock()
	wake(p.readable)
}

// closeRead drops what is buffered and makes writes fail.
func (p *pipe) closeRead() {
	p.mu.Lock()
	p.broken = true
	p.r, p.n = 0, 0
	p.mu.Unlock()
	wake(p.writable)
}

// deadline is a channel closed when a time passes, reset by set.
type deadline struct {
	mu    sync.Mutex
	timer *time.Timer
	gen   uint64
	c     chan struct{} // closed once the deadline has passed
}

// set arms the deadline for t (zero: never). A deadline already passed is
// re-armed with a fresh channel, so waiters of the old one stay woken.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	if d.c == nil || isClosed(d.c) {
		d.c = make(chan struct{})
	}
	if t.IsZero() {
		return
	}
	dur := time.Until(t)
	if dur <= 0 {
		close(d.c)
		return
	}
	gen, c := d.gen, d.c
	d.timer = time.AfterFunc(dur, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.gen == gen {
			close(c)
		}
	})
}

// wait returns the channel closed when the deadline passes.
func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.c == nil {
		d.c = make(chan struct{})
	}
	return d.c
}

func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
