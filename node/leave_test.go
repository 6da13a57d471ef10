package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/whispernet/whispernet/internal/loopback"
	"github.com/whispernet/whispernet/peer"
)

// TestLeaveGraceful: a peer that leaves is dropped by every seed at once
// and logged as left, its former neighbours log that it left and count it,
// nobody declares it dead, and Leave returns once that is done.
func TestLeaveGraceful(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 3)
		c.addPeers(6, nil)
		c.waitConnected()
		gone := c.peers[2]
		former := neighbours(gone)
		if len(former) == 0 {
			t.Fatalf("%s has no neighbour", gone.Addr())
		}
		var registered int
		gone.Inspect(func(core *peer.Peer) { registered = len(core.RegisteredSeeds()) })
		loopback.CheckFor(t, 5*time.Second, "registered with a majority", func() error {
			gone.Inspect(func(core *peer.Peer) { registered = len(core.RegisteredSeeds()) })
			if registered < 2 {
				return fmt.Errorf("registered with %d seeds", registered)
			}
			return nil
		})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		if err := gone.Leave(ctx); err != nil {
			t.Fatalf("Leave: %v", err)
		}
		took := time.Since(start)
		select {
		case <-gone.Done():
		default:
			t.Fatal("the peer runs on after Leave")
		}
		// Leave returned after the seeds answered: none lists it any more.
		for _, s := range c.seeds {
			if s.Has(gone.Addr()) {
				t.Errorf("seed %s still lists %s after Leave returned (%v)", s.Addr(), gone.Addr(), took)
			}
		}
		loopback.CheckFor(t, 5*time.Second, "former neighbours saw it leave", func() error {
			for _, p := range c.peers {
				if !former[p.Addr()] {
					continue
				}
				if n := p.Stats().NeighboursLeft; n != 1 {
					return fmt.Errorf("%s counted %d neighbours leaving", p.Addr(), n)
				}
			}
			return nil
		})
		c.mu.Lock()
		for self, dead := range c.dead {
			for _, d := range dead {
				t.Errorf("%s declared %s dead", self, d)
			}
		}
		c.mu.Unlock()
		c.log.Close()
		b, err := os.ReadFile(filepath.Join(c.dir, "outputfile.log"))
		if err != nil {
			t.Fatal(err)
		}
		log := string(b)
		for f := range former {
			if want := fmt.Sprintf("%s neighbour %s left; replacing it", f, gone.Addr()); !strings.Contains(log, want) {
				t.Errorf("log lacks %q", want)
			}
		}
		if n := strings.Count(log, fmt.Sprintf(" peer %s left", gone.Addr())); n < registered {
			t.Errorf("%d seeds logged %s as left, want at least the %d it was registered with", n, gone.Addr(), registered)
		}
		if strings.Contains(log, "dead node "+gone.Addr().String()) || strings.Contains(log, gone.Addr().String()+" is dead") {
			t.Errorf("%s was reported dead:\n%s", gone.Addr(), log)
		}
		if err := gone.Leave(ctx); !errors.Is(err, ErrStopped) {
			t.Errorf("Leave after Leave: %v, want ErrStopped", err)
		}
	})
}
