package localnet

import (
	"os"
	"testing"
	"time"
)

// A /proc/<pid>/stat line whose command name holds spaces and a ')':
// utime 1234 and stime 56 ticks of 10 ms.
const statLine = "4242 (net worker) x) S 1 4242 4242 0 -1 4194560 2718 0 0 0 1234 56 0 0 20 0 12 0 99 1 2 18446744073709551615\n"

func TestParseProcStat(t *testing.T) {
	cpu, err := parseProcStat([]byte(statLine))
	if err != nil || cpu != 12900*time.Millisecond {
		t.Fatalf("parseProcStat = %v, %v; want 12.9s", cpu, err)
	}
	for _, bad := range []string{"", "4242 no parens S 1", "4242 (x) S 1 2 3", "4242 (x) S 1 4242 4242 0 -1 4194560 2718 0 0 0 12a4 56 0"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("parseProcStat(%q) took it", bad)
		}
	}
}

func TestParseVmHWM(t *testing.T) {
	status := "Name:\tnet\nVmPeak:\t  999999 kB\nVmHWM:\t   40960 kB\nVmRSS:\t   30000 kB\n"
	rss, err := parseVmHWM([]byte(status))
	if err != nil || rss != 40960*1024 {
		t.Fatalf("parseVmHWM = %d, %v; want %d", rss, err, 40960*1024)
	}
	for _, bad := range []string{"", "VmRSS:\t1 kB\n", "VmHWM:\t12 MB\n", "VmHWM:\tx kB\n", "VmHWM:\n"} {
		if _, err := parseVmHWM([]byte(bad)); err == nil {
			t.Errorf("parseVmHWM(%q) took it", bad)
		}
	}
}

// FuzzProcParsers: neither parser panics, and what they accept is
// non-negative.
func FuzzProcParsers(f *testing.F) {
	f.Add([]byte(statLine))
	f.Add([]byte("VmHWM:\t   40960 kB\n"))
	f.Add([]byte("1 ()) R"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if cpu, err := parseProcStat(b); err == nil && cpu < 0 {
			t.Fatalf("negative CPU %v", cpu)
		}
		parseVmHWM(b)
	})
}

// TestProcUsageSelf: /proc and getrusage agree on this process's CPU
// time (to a few ticks) and both see its memory.
func TestProcUsageSelf(t *testing.T) {
	// Burn some CPU so that the figures are well above a tick.
	deadline := time.Now().Add(50 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	ruCPU, ruRSS, ok := selfUsage()
	if !ok {
		t.Fatal("getrusage failed")
	}
	procCPU, procRSS, ok := procUsage(os.Getpid())
	if !ok {
		t.Fatal("/proc/self unreadable")
	}
	if ruCPU <= 0 || ruRSS == 0 || procRSS == 0 {
		t.Fatalf("getrusage %v %d B, /proc %v %d B: want positive figures", ruCPU, ruRSS, procCPU, procRSS)
	}
	if d := ruCPU - procCPU; d < -5*clockTick || d > 5*clockTick+10*time.Millisecond {
		t.Errorf("CPU: getrusage %v, /proc %v", ruCPU, procCPU)
	}
	if _, _, ok := procUsage(1 << 30); ok {
		t.Error("procUsage of a pid that cannot exist succeeded")
	}
}
