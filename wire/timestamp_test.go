package wire_test

import (
	"strings"
	"testing"
	"time"

	"github.com/whispernet/whispernet/wire"
)

func TestParseTimestamp(t *testing.T) {
	tests := []struct {
		in   string
		want wire.Timestamp
		wire string // canonical form
	}{
		{"1764072000.123456", 1764072000_123456, "1764072000.123456"},
		{"1732530000.25", 1732530000_250000, "1732530000.250000"},
		{"1.25", 1_250000, "1.250000"},
		{"1.5", 1_500000, "1.500000"},
		{"1", 1_000000, "1.000000"},
		{"0", 0, "0.000000"},
		{"0.0", 0, "0.000000"},
		{"0.000001", 1, "0.000001"},
		{"0.0000009", 0, "0.000000"},                                        // 7th digit dropped, not rounded
		{"1.1234567", 1_123456, "1.123456"},                                 // truncated to microseconds
		{"1.999999999", 1_999999, "1.999999"},                               // truncated, not rounded up
		{"00001.5", 1_500000, "1.500000"},                                   // leading zeros
		{"999999999999.999999", 999999999999_999999, "999999999999.999999"}, // 12 digits of seconds
		{"1." + strings.Repeat("9", 64), 1_999999, "1.999999"},              // longest fraction
		{"-1.5", -1_500000, "-1.500000"},                                    // before 1970
		{"-0.000001", -1, "-0.000001"},
		{"-1", -1_000000, "-1.000000"},
		{"-0", 0, "0.000000"},
		{"-999999999999.999999", -999999999999_999999, "-999999999999.999999"},
	}
	for _, tc := range tests {
		got, err := wire.ParseTimestamp(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseTimestamp(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			continue
		}
		if s := got.String(); s != tc.wire {
			t.Errorf("ParseTimestamp(%q).String() = %q, want %q", tc.in, s, tc.wire)
		}
		if back, err := wire.ParseTimestamp(got.String()); err != nil || back != got {
			t.Errorf("round trip of %q: %d, %v", tc.in, back, err)
		}
	}
}

func TestParseTimestampRefuses(t *testing.T) {
	for _, in := range []string{
		"", ".", "1.", ".5", "-", "--1", "-.5", "- 1", "+1", "1e9", "1E9", "1.2.3", "1,5", " 1", "1 ", "1.5 ",
		"0x10", "NaN", "Inf", "1.-5", "1._5", "1_000", "١", "1.٥",
		"1234567890123",                // 13 digits of seconds
		"1." + strings.Repeat("0", 65), // fraction over 64 digits
		strings.Repeat("9", 1000),      // long garbage
		"1764072000.123456:127.0.0.1",  // a whole field list
	} {
		got, err := wire.ParseTimestamp(in)
		if err == nil {
			t.Errorf("ParseTimestamp(%.40q) = %d, want error", in, got)
			continue
		}
		if !strings.HasPrefix(err.Error(), "timestamp ") || !strings.HasSuffix(err.Error(), " is not SECONDS.FRACTION") {
			t.Errorf("ParseTimestamp(%.40q) error %q", in, err)
		}
		if len(err.Error()) > 4*64+64 {
			t.Errorf("ParseTimestamp(%.40q) error is %d bytes: not truncated", in, len(err.Error()))
		}
	}
}

func TestTimestampTime(t *testing.T) {
	at := time.Unix(1764072000, 123456789)
	ts := wire.TimestampOf(at)
	if ts != 1764072000_123456 {
		t.Fatalf("TimestampOf(%v) = %d", at, ts)
	}
	if got, want := ts.Time(), time.Unix(1764072000, 123456000); !got.Equal(want) {
		t.Errorf("Time() = %v, want %v", got, want)
	}
	if got := ts.String(); got != "1764072000.123456" {
		t.Errorf("String() = %q", got)
	}
	if got := string(ts.Append([]byte("t="))); got != "t=1764072000.123456" {
		t.Errorf("Append = %q", got)
	}
	// Whole seconds and sub-10µs fractions keep six digits.
	for ts, want := range map[wire.Timestamp]string{
		0:                 "0.000000",
		5:                 "0.000005",
		1_000000:          "1.000000",
		1_050000:          "1.050000",
		1764072000_000001: "1764072000.000001",
	} {
		if got := ts.String(); got != want {
			t.Errorf("Timestamp(%d).String() = %q, want %q", int64(ts), got, want)
		}
	}
}
