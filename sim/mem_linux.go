package sim

import "syscall"

// TotalMemory returns the machine's physical memory in bytes, and whether
// it could be read.
func TotalMemory() (uint64, bool) {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil || si.Totalram == 0 {
		return 0, false
	}
	return uint64(si.Totalram) * uint64(si.Unit), true //nolint:unconvert // Totalram is a uint32 on 32-bit Linux
}
