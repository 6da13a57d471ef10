package localnet

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of the CPU times in /proc/<pid>/stat: USER_HZ,
// which Linux fixes at 100 on every architecture it exposes to user space.
const clockTick = 10 * time.Millisecond

func selfUsage() (time.Duration, uint64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, false
	}
	return rusageCPU(&ru), uint64(ru.Maxrss) * 1024, true // Maxrss is in KiB
}

func rusageCPU(ru *syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func exitedUsage(ps *os.ProcessState) (time.Duration, uint64, bool) {
	if ps == nil {
		return 0, 0, false
	}
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return 0, 0, false
	}
	return rusageCPU(ru), uint64(ru.Maxrss) * 1024, true
}

// procUsage reads a running process's CPU time (utime + stime of
// /proc/<pid>/stat) and peak resident set (VmHWM of /proc/<pid>/status).
func procUsage(pid int) (time.Duration, uint64, bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	cpu, err := parseProcStat(stat)
	if err != nil {
		return 0, 0, false
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, false
	}
	rss, err := parseVmHWM(status)
	if err != nil {
		return 0, 0, false
	}
	return cpu, rss, true
}

// parseProcStat returns utime + stime from the text of /proc/<pid>/stat.
// The command name (field 2) is in parentheses and may hold spaces, so the
// fields are counted from the last ')'.
func parseProcStat(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("localnet: /proc stat without a command name")
	}
	// After ")": state (field 3) ... utime is field 14, stime field 15.
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("localnet: /proc stat has %d fields after the command name", len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	const most = uint64(math.MaxInt64 / int64(clockTick))
	if err1 != nil || err2 != nil || utime > most || stime > most-utime {
		return 0, fmt.Errorf("localnet: bad /proc stat times %q %q", f[11], f[12])
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// parseVmHWM returns the peak resident set in bytes from the text of
// /proc/<pid>/status ("VmHWM:  123456 kB").
func parseVmHWM(b []byte) (uint64, error) {
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("localnet: bad VmHWM line %q", strings.TrimSpace(line))
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("localnet: bad VmHWM line %q: %w", strings.TrimSpace(line), err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("localnet: no VmHWM line")
}
