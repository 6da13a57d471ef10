//go:build unix

package sim

import (
	"runtime"
	"syscall"
)

// PeakRSS returns the process's peak resident set size in bytes, as the
// kernel counts it, and whether it could be read.
func PeakRSS() (uint64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return uint64(ru.Maxrss), true // bytes there
	}
	return uint64(ru.Maxrss) * 1024, true // KiB elsewhere
}
