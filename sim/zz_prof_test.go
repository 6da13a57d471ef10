package sim

import (
	"runtime"
	"runtime/pprof"
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/whispernet/whispernet/peer"
)

func TestZZProf(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("ZZN"))
	if n == 0 {
		t.Skip()
	}
	o := 100
	if v := os.Getenv("ZZO"); v != "" {
		o, _ = strconv.Atoi(v)
		cfg0 := DefaultConfig()
		_ = cfg0
	}
	cfg := benchConfig(n, o)
	if o == 0 {
		cfg.Crash = 0
	}
	if os.Getenv("ZZPT") != "" {
		cfg.Peer.Broadcast = peer.Plumtree
	}
	if v := os.Getenv("ZZCHUNK"); v != "" {
		cfg.chunk, _ = strconv.Atoi(v)
	}
	r, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("events %d ratio %v rmr %v", r.Events, r.DeliveryRatio, r.RMR)
}

func TestZZHeap(t *testing.T) {
	if os.Getenv("ZZHEAP") == "" {
		t.Skip()
	}
	cfg := benchConfig(10000, 100)
	_, err := Run(context.Background(), cfg, func(p Progress) {
		if p.Phase == "done" {
			runtime.GC()
			f, _ := os.Create("/tmp/heap.prof")
			pprof.WriteHeapProfile(f)
			f.Close()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}
