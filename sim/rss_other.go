//go:build !unix

package sim

// PeakRSS returns the process's peak resident set size in bytes, as the
// kernel counts it, and whether it could be read.
func PeakRSS() (uint64, bool) { return 0, false }
