package main

import (
	"runtime"
	"syscall"
	"time"
)

// processUsage returns this process's CPU time (user + system) and peak
// resident set in bytes, from getrusage.
func processUsage() (time.Duration, uint64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	rss := uint64(ru.Maxrss) * 1024 // KiB on Linux
	if runtime.GOOS == "darwin" {
		rss = uint64(ru.Maxrss) // bytes there
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), rss
}
