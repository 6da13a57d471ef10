package wire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// LineReader reads '\n'-terminated lines of at most a fixed length from a
// stream. Its buffer starts small and grows only as a line needs it, so an
// idle connection costs little; a line over the limit is discarded as it
// streams past, never held whole.
type LineReader struct {
	r    *bufio.Reader
	max  int
	long int // limit for gossip64 lines (0: max, like every other line)
	buf  []byte
}

// NewLineReader returns a LineReader over r that refuses lines longer than
// max bytes (MaxLineLen when max <= 0).
func NewLineReader(r io.Reader, max int) *LineReader {
	if max <= 0 {
		max = MaxLineLen
	}
	size := 512
	if max < size {
		size = max + 16 // bufio's minimum is 16
	}
	return &LineReader{r: bufio.NewReaderSize(r, size), max: max}
}

// NewPeerLineReader returns a LineReader for a link between peers: lines
// of at most MaxLineLen bytes, except gossip64 lines, which may run to
// MaxGossip64LineLen. The longer limit applies only once the line's first
// bytes have shown its verb, so no other line is ever buffered past
// MaxLineLen.
func NewPeerLineReader(r io.Reader) *LineReader {
	lr := NewLineReader(r, MaxLineLen)
	lr.long = MaxGossip64LineLen
	return lr
}

// ReadLine returns the next line without its "\n" (or "\r\n"). On an
// over-long line it skips to the end of that line and returns an error
// wrapping ErrTooLong; the reader stays usable. At the end of the stream it
// returns io.EOF (a final unterminated line is returned first if present).
func (lr *LineReader) ReadLine() (string, error) {
	if cap(lr.buf) > 2*lr.max+4 {
		lr.buf = nil // a gossip64 line grew it: do not keep that on an idle link
	}
	lr.buf = lr.buf[:0]
	limit := lr.max
	tooLong := false
	n := 0
	for {
		frag, err := lr.r.ReadSlice('\n')
		n += len(frag)
		if !tooLong {
			if len(lr.buf)+len(frag) > limit+2 && limit < lr.long && longVerb(lr.buf, frag) {
				limit = lr.long
			}
			if len(lr.buf)+len(frag) > limit+2 { // +2 for "\r\n"
				tooLong = true
				lr.buf = lr.buf[:0]
			} else {
				lr.buf = append(lr.buf, frag...)
			}
		}
		switch {
		case err == nil:
			if tooLong {
				return "", fmt.Errorf("%w (%d bytes, limit %d)", ErrTooLong, n-1, limit)
			}
			line := lr.buf[:len(lr.buf)-1]
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			if len(line) > limit && limit < lr.long && longVerb(line, nil) {
				limit = lr.long // the "+2" let it through without a look at its verb
			}
			if len(line) > limit {
				return "", fmt.Errorf("%w (%d bytes, limit %d)", ErrTooLong, len(line), limit)
			}
			return string(line), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if tooLong {
				return "", fmt.Errorf("%w (%d bytes, limit %d)", ErrTooLong, n, limit)
			}
			if len(lr.buf) == 0 {
				return "", io.EOF
			}
			// A final line without '\n' gets the same treatment as the
			// others: its CR dropped, its length checked (the +2 above
			// let up to two bytes over the limit through).
			line := lr.buf
			if line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			if len(line) > limit && limit < lr.long && longVerb(line, nil) {
				limit = lr.long // the "+2" let it through without a look at its verb
			}
			if len(line) > limit {
				return "", fmt.Errorf("%w (%d bytes, limit %d)", ErrTooLong, len(line), limit)
			}
			return string(line), nil
		default:
			return "", err
		}
	}
}

// longVerb reports whether a followed by b starts with the verb of a line
// that may be longer than MaxLineLen (gossip64, sgossip64).
func longVerb(a, b []byte) bool {
	return startsWith(a, b, gossip64Prefix) || startsWith(a, b, sgossip64Prefix)
}

// startsWith reports whether a followed by b starts with prefix.
func startsWith(a, b []byte, prefix string) bool {
	if len(a)+len(b) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := byte(0)
		if i < len(a) {
			c = a[i]
		} else {
			c = b[i-len(a)]
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// Buffered returns how many bytes are already read from the stream and not
// yet returned: a reader that batches lines reads on while it is not 0,
// without another system call.
func (lr *LineReader) Buffered() int { return lr.r.Buffered() }
