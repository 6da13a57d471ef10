//go:build !linux

package localnet

import (
	"os"
	"time"
)

// Process figures are read from Linux's /proc and getrusage; elsewhere
// Usage reports no process.

func selfUsage() (time.Duration, uint64, bool) { return 0, 0, false }

func exitedUsage(*os.ProcessState) (time.Duration, uint64, bool) { return 0, 0, false }

func procUsage(int) (time.Duration, uint64, bool) { return 0, 0, false }
