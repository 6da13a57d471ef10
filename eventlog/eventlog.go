// Package eventlog writes WhisperNet's two product logs: outputfile.log, one
// network event per line as "<timestamp>:<IP:PORT> <event>", and
// freqtrack.log, one "IP:PORT=>degree" line whenever a node's degree
// changes (the last line per node is its current degree).
//
// One Writer serves every node of a process, so a local network of many
// peers writes one pair of files. Lines are buffered and flushed every
// FlushInterval and on Close, always as whole lines in one write each, so
// several processes of one local network can append to the same files
// (O_APPEND) without tearing lines. A write error is kept and returned by
// Flush and Close rather than stopping the nodes.
package eventlog

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/whispernet/whispernet/wire"
)

// File names inside the log directory.
const (
	OutputFile = "outputfile.log"
	FreqFile   = "freqtrack.log"
)

// FlushInterval is how long a line may sit in the buffer.
const FlushInterval = 200 * time.Millisecond

// Writer appends to outputfile.log and freqtrack.log. It is safe for
// concurrent use. The zero value is not usable; call Open or New.
type Writer struct {
	mu     sync.Mutex
	out    lineBuffer
	freq   lineBuffer
	closer []io.Closer
	err    error // guarded by errMu
	errMu  sync.Mutex
	// jobs carries full buffers, in order, to the one goroutine that
	// writes the files (writeLoop): the nodes that log never wait for a
	// write system call, only for an append under mu (under load, hundreds
	// of peer loops waited on mu while it was held for a file write). The
	// channel's capacity bounds the memory: when the disk falls that far
	// behind, logging waits for it.
	jobs   chan job
	wdone  chan struct{}
	bufs   []*Buffer // every node's Buffer (under mu), for Flush and Close
	buf    []byte
	stop   chan struct{}
	done   chan struct{}
	closed sync.Once // closes stop exactly once, however many Close calls race
	shut   bool      // set by Close: later lines are dropped, not buffered
}

// Open creates (or appends to) the two logs in dir, creating dir if needed.
func Open(dir string) (*Writer, error) { return OpenEcho(dir, nil) }

// OpenEcho is Open, with every outputfile.log line also written to echo
// (a console) when echo is not nil.
func OpenEcho(dir string, echo io.Writer) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("eventlog: %w", err)
	}
	out, err := os.OpenFile(filepath.Join(dir, OutputFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("eventlog: %w", err)
	}
	freq, err := os.OpenFile(filepath.Join(dir, FreqFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		out.Close()
		return nil, fmt.Errorf("eventlog: %w", err)
	}
	var o io.Writer = out
	if echo != nil {
		o = io.MultiWriter(out, echo)
	}
	w := New(o, freq)
	w.closer = []io.Closer{out, freq}
	return w, nil
}

// New returns a Writer over two streams (io.Discard for either is fine).
func New(out, freq io.Writer) *Writer {
	w := &Writer{
		out:   lineBuffer{w: out},
		freq:  lineBuffer{w: freq},
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		jobs:  make(chan job, maxJobs),
		wdone: make(chan struct{}),
	}
	go w.flusher()
	go w.writeLoop()
	return w
}

// maxJobs is how many full buffers may wait for the disk (1 MiB).
const maxJobs = 16

// job is a buffer of whole lines for one stream, or (done set) a marker
// that is closed once every job before it is written.
type job struct {
	w    io.Writer
	b    []byte
	done chan struct{}
}

func (w *Writer) writeLoop() {
	defer close(w.wdone)
	for j := range w.jobs {
		if j.done != nil {
			close(j.done)
			continue
		}
		if _, err := j.w.Write(j.b); err != nil {
			w.keep(err)
		}
		if cap(j.b) <= 2*bufferLimit {
			b := j.b[:0]
			bufPool.Put(&b)
		}
	}
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, bufferLimit+4096); return &b }}

func (w *Writer) flusher() {
	defer close(w.done)
	t := time.NewTicker(FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			w.Flush()
		case <-w.stop:
			return
		}
	}
}

// Event appends "<timestamp>:<node> <text>" to outputfile.log.
func (w *Writer) Event(now time.Time, node netip.AddrPort, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.shut {
		return
	}
	b := wire.TimestampOf(now).Append(w.buf[:0])
	b = append(b, ':')
	b = node.AppendTo(b)
	b = append(b, ' ')
	b = append(b, text...)
	b = append(b, '\n')
	w.buf = b
	w.out.add(w.jobs, b)
}

// Degree appends "<node>=><degree>" to freqtrack.log.
func (w *Writer) Degree(node netip.AddrPort, degree int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.shut {
		return
	}
	b := node.AppendTo(w.buf[:0])
	b = append(b, "=>"...)
	b = strconv.AppendInt(b, int64(degree), 10)
	b = append(b, '\n')
	w.buf = b
	w.freq.add(w.jobs, b)
}

func (w *Writer) keep(err error) {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	if err != nil && w.err == nil {
		w.err = fmt.Errorf("eventlog: %w", err)
	}
}

func (w *Writer) firstErr() error {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.err
}

// Flush writes buffered lines out, waits until they are written, and
// returns the first error seen.
func (w *Writer) Flush() error {
	w.mu.Lock()
	if w.shut {
		w.mu.Unlock()
		return w.firstErr()
	}
	w.out.handOff(w.jobs)
	w.freq.handOff(w.jobs)
	for _, b := range w.bufs {
		b.handOff(false)
	}
	marker := make(chan struct{})
	w.jobs <- job{done: marker}
	w.mu.Unlock()
	<-marker
	return w.firstErr()
}

// Close flushes and closes the files. Later writes are lost.
func (w *Writer) Close() error {
	first := false
	w.closed.Do(func() { first = true; close(w.stop) })
	<-w.done
	if !first {
		<-w.wdone
		return w.firstErr()
	}
	w.mu.Lock()
	w.out.handOff(w.jobs)
	w.freq.handOff(w.jobs)
	for _, b := range w.bufs {
		b.handOff(true)
	}
	w.shut = true
	close(w.jobs)
	w.mu.Unlock()
	<-w.wdone // every line is written: nothing is lost on a clean exit
	err := w.firstErr()
	for _, c := range w.closer {
		err = errors.Join(err, c.Close())
	}
	return err
}

// bufferLimit is the buffered size that forces a flush before the timer.
const bufferLimit = 64 << 10

// lineBuffer holds whole lines; full, it goes to the write loop as one
// write.
type lineBuffer struct {
	w   io.Writer
	buf []byte
}

func (l *lineBuffer) add(jobs chan<- job, line []byte) {
	if l.buf == nil {
		l.buf = (*bufPool.Get().(*[]byte))[:0]
	}
	l.buf = append(l.buf, line...)
	if len(l.buf) >= bufferLimit {
		l.handOff(jobs)
	}
}

// handOff queues the buffered lines for writing (under Writer.mu, so
// that jobs keep the order of the lines).
func (l *lineBuffer) handOff(jobs chan<- job) {
	if len(l.buf) == 0 {
		return
	}
	jobs <- job{w: l.w, b: l.buf}
	l.buf = nil
}

// Buffer is one node's way into a Writer: its lines gather in a buffer of
// its own, with a lock of its own that only the node and the Writer's
// flush take, and go to the write loop a whole buffer at a time. With
// hundreds of nodes in one process logging every receipt, a lock shared
// by all of them for every line became a convoy (a goroutine dump of a
// 1,000-peer run found 479 of the 1,000 peer loops waiting for it while
// the write loop sat idle). A node's lines keep their order; lines of
// different nodes interleave a buffer at a time, as the lines of several
// processes sharing the files always have. Flush and Close of the Writer
// write every Buffer's lines.
type Buffer struct {
	w      *Writer
	mu     sync.Mutex
	out    []byte
	freq   []byte
	closed bool // the Writer is closed: lines are dropped
}

// nodeLimit is the buffered size at which a Buffer hands its lines over
// before the flush timer.
const nodeLimit = 8 << 10

// Buffer returns a new Buffer for one node's lines.
func (w *Writer) Buffer() *Buffer {
	b := &Buffer{w: w}
	w.mu.Lock()
	defer w.mu.Unlock()
	b.closed = w.shut
	w.bufs = append(w.bufs, b)
	return b
}

// Event appends "<timestamp>:<node> <text>" to outputfile.log.
func (b *Buffer) Event(now time.Time, node netip.AddrPort, text string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	l := wire.TimestampOf(now).Append(b.out)
	l = append(l, ':')
	l = node.AppendTo(l)
	l = append(l, ' ')
	l = append(l, text...)
	b.out = append(l, '\n')
	if len(b.out) >= nodeLimit {
		b.w.jobs <- job{w: b.w.out.w, b: b.out}
		b.out = nil
	}
}

// Degree appends "<node>=><degree>" to freqtrack.log.
func (b *Buffer) Degree(node netip.AddrPort, degree int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	l := node.AppendTo(b.freq)
	l = append(l, "=>"...)
	l = strconv.AppendInt(l, int64(degree), 10)
	b.freq = append(l, '\n')
	if len(b.freq) >= nodeLimit {
		b.w.jobs <- job{w: b.w.freq.w, b: b.freq}
		b.freq = nil
	}
}

// handOff queues the buffered lines for writing; close drops later ones.
// The Writer's mu is held.
func (b *Buffer) handOff(close bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.out) > 0 {
		b.w.jobs <- job{w: b.w.out.w, b: b.out}
		b.out = nil
	}
	if len(b.freq) > 0 {
		b.w.jobs <- job{w: b.w.freq.w, b: b.freq}
		b.freq = nil
	}
	if close {
		b.closed = true
	}
}
