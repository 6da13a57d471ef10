package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/whispernet/whispernet"
	"github.com/whispernet/whispernet/node"
	"github.com/whispernet/whispernet/wire"
)

// whisperNet runs WhisperNet through its library package: one seed and n
// nodes on loopback TCP, each with the fixed target degree -degree and
// the library's defaults otherwise (Plumtree, signed gossip, the classic
// timers). Deliveries are read from each node's Messages channel, as an
// application reads them; duplicates come from the runtime's hook.
type whisperNet struct {
	seed    *whispernet.Seed
	nodes   []*whispernet.Node
	degrees []atomic.Int32
	changed atomic.Int64 // Unix ns of the last degree change
	readers sync.WaitGroup
}

func (w *whisperNet) start(ctx context.Context, o options, n int, rec *recorder, log io.Writer) error {
	sc := whispernet.DefaultSeedConfig()
	// Every node shares one IP: the per-IP limits must admit them all.
	sc.MaxConns, sc.MaxConnsPerIP = 4*n+64, 4*n+64
	sc.RandSeed = o.seed
	seed, err := whispernet.NewSeed(sc)
	if err != nil {
		return err
	}
	if err := seed.Start(ctx); err != nil {
		return err
	}
	w.seed = seed
	w.degrees = make([]atomic.Int32, n)
	gap := time.Duration(float64(time.Second) / o.joinRate)
	next := time.Now()
	for i := range n {
		c := whispernet.DefaultConfig()
		c.Seeds = []string{seed.Addr()}
		c.Target = o.degree
		c.RandSeed = o.seed*1_000_003 + uint64(i) + 1
		c.MessageBuffer = 4096
		c.Runtime = func(pc *node.PeerConfig) {
			pc.Hooks.Degree = func(_ netip.AddrPort, d int) {
				w.degrees[i].Store(int32(d))
				w.changed.Store(time.Now().UnixNano())
			}
			pc.Hooks.Duplicate = func(_, _ netip.AddrPort, m wire.Message) { rec.duplicate(parsePayload([]byte(m.Text))) }
		}
		nd, err := whispernet.New(c)
		if err != nil {
			return err
		}
		msgs := nd.Messages() // before Start: miss nothing
		if err := nd.Start(ctx); err != nil {
			return fmt.Errorf("node %d: %w", i, err)
		}
		w.nodes = append(w.nodes, nd)
		w.readers.Add(1)
		go func() {
			defer w.readers.Done()
			for m := range msgs {
				rec.deliver(parsePayload(m.Data), time.Now())
			}
		}()
		if (i+1)%100 == 0 || i+1 == n {
			fmt.Fprintf(log, "bench: whispernet: %d/%d nodes started\n", i+1, n)
		}
		next = next.Add(gap)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
	}
	return waitFormed(ctx, o.formWait, log, "whispernet", func() (linked int, lastChange time.Time) {
		for i := range w.degrees {
			if w.degrees[i].Load() > 0 {
				linked++
			}
		}
		return linked, time.Unix(0, w.changed.Load())
	}, n)
}

// waitFormed polls until every node is linked and no link changed for
// 2 s, or timeout; a timeout is reported, not an error: the workload runs
// on the overlay as it is.
func waitFormed(ctx context.Context, timeout time.Duration, log io.Writer, name string, probe func() (int, time.Time), n int) error {
	deadline := time.Now().Add(timeout)
	for {
		linked, last := probe()
		if linked == n && time.Since(last) >= 2*time.Second {
			return nil
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(log, "bench: %s: overlay not formed after %v (%d of %d nodes linked); running anyway\n", name, timeout, linked, n)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (w *whisperNet) publish(ctx context.Context, i int, data []byte) error {
	return w.nodes[i].Publish(ctx, data)
}

func (w *whisperNet) avgDegree() float64 {
	total := 0
	for i := range w.degrees {
		total += int(w.degrees[i].Load())
	}
	return float64(total) / float64(max(len(w.degrees), 1))
}

func (w *whisperNet) close() {
	var wg sync.WaitGroup
	for _, nd := range w.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); nd.Close() }()
	}
	wg.Wait()
	w.readers.Wait()
	if w.seed != nil {
		w.seed.Close()
	}
}
