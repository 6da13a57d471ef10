package wire

import (
	"errors"
	"strconv"
	"time"
)

// Timestamp is a point in time on the wire: Unix time in seconds with a
// fractional part, as the classic system wrote it (1764072000.123456). It
// is held as whole microseconds so that it survives a round trip exactly.
type Timestamp int64

// TimestampOf converts t to a Timestamp, dropping sub-microsecond detail.
func TimestampOf(t time.Time) Timestamp { return Timestamp(t.UnixMicro()) }

// Time converts ts back to a time.Time.
func (ts Timestamp) Time() time.Time { return time.UnixMicro(int64(ts)) }

// String returns ts in wire form.
func (ts Timestamp) String() string { return string(ts.Append(nil)) }

// Append appends ts in wire form: seconds, '.', six digits of fraction,
// with a '-' before a time before 1970 (-1.5 is a second and a half
// before).
func (ts Timestamp) Append(b []byte) []byte {
	mag := uint64(ts)
	if ts < 0 {
		b = append(b, '-')
		mag = -mag // two's complement: right for the smallest int64 too
	}
	sec, us := mag/1e6, mag%1e6
	b = strconv.AppendUint(b, sec, 10)
	b = append(b, '.')
	frac := strconv.AppendUint(make([]byte, 0, 6), us, 10)
	for i := len(frac); i < 6; i++ {
		b = append(b, '0')
	}
	return append(b, frac...)
}

// ParseTimestamp parses [-]SECONDS[.FRACTION]: up to 12 digits of seconds
// and any number of fraction digits, of which the first six are kept. A
// leading '-' marks a time before 1970.
func ParseTimestamp(s string) (Timestamp, error) {
	neg := len(s) > 1 && s[0] == '-'
	body := s
	if neg {
		body = s[1:]
	}
	secText, frac, hasFrac := cutByte(body, '.')
	if secText == "" || len(secText) > 12 || (hasFrac && frac == "") {
		return 0, errors.New("timestamp " + strconv.Quote(truncate(s)) + " is not SECONDS.FRACTION")
	}
	var sec, us int64
	for i := 0; i < len(secText); i++ {
		c := secText[i]
		if c < '0' || c > '9' {
			return 0, errors.New("timestamp " + strconv.Quote(truncate(s)) + " is not SECONDS.FRACTION")
		}
		sec = sec*10 + int64(c-'0')
	}
	for i := 0; i < len(frac); i++ {
		c := frac[i]
		if c < '0' || c > '9' || i >= 64 {
			return 0, errors.New("timestamp " + strconv.Quote(truncate(s)) + " is not SECONDS.FRACTION")
		}
		if i < 6 {
			us = us*10 + int64(c-'0')
		}
	}
	for i := len(frac); i < 6; i++ {
		us *= 10
	}
	if neg {
		return -Timestamp(sec*1e6 + us), nil
	}
	return Timestamp(sec*1e6 + us), nil
}

func cutByte(s string, c byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
