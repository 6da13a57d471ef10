// Package fastnode is for tests that run nodes of package whispernet on
// the loopback interface: Config is the library's default configuration
// with the short timers of loopback.FastTimers, so that a network forms
// within a second and finds a stopped node dead within about a second.
package fastnode

import (
	"github.com/whispernet/whispernet"
	"github.com/whispernet/whispernet/internal/loopback"
	"github.com/whispernet/whispernet/peer"
)

// Config returns whispernet.DefaultConfig with loopback.FastTimers'
// liveness, refresh, fill, retry and handshake timers and loopback.Timeout
// for dials and seed requests. Like FastTimers, it leaves gossip, the
// target degree and the peer cap as they are.
func Config() whispernet.Config {
	var k peer.Config
	loopback.FastTimers(&k)
	c := whispernet.DefaultConfig()
	c.LivenessInterval, c.LivenessMisses = k.LivenessInterval, k.LivenessMisses
	c.RefreshInterval, c.FillInterval = k.RefreshInterval, k.FillInterval
	c.RetryMin, c.RetryMax, c.HandshakeTimeout = k.RetryMin, k.RetryMax, k.HandshakeTimeout
	c.DialTimeout, c.RequestTimeout = loopback.Timeout, loopback.Timeout
	return c
}
