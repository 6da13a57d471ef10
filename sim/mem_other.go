//go:build !linux

package sim

// TotalMemory returns the machine's physical memory in bytes, and whether
// it could be read: not on this system.
func TotalMemory() (uint64, bool) { return 0, false }
