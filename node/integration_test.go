package node

import (
	"fmt"
	"github.com/whispernet/whispernet/peer"
	"testing"
	"time"
)

func TestGossipReachesEveryPeerOnce(t *testing.T) {
	c := newCluster(t, 3)
	c.addPeers(8, nil)
	const msgs = 3
	checkFor(t, 15*time.Second, "all messages delivered", func() error {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, p := range c.peers {
			got := c.delivered[p.Addr()]
			for _, o := range c.peers {
				for s := 1; s <= msgs; s++ {
					k := fmt.Sprintf("%s/%d", o.Addr(), s)
					if got[k] != 1 {
						return fmt.Errorf("%s has %s %d times", p.Addr(), k, got[k])
					}
				}
			}
		}
		return nil
	})
	for _, p := range c.peers {
		var deg int
		p.Inspect(func(core *peer.Peer) { deg = core.Degree() })
		t.Logf("%s degree %d", p.Addr(), deg)
	}
}
