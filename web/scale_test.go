//go:build scale

// A measurement, not a unit test: go test -tags scale -run TestScale -v ./web/
// It opens the dashboard of a 1,000-peer network in headless Chromium and
// reports the page's frame rate while the layout runs and the cost of one
// sample on the server. docs/dashboard.md quotes its numbers.

package web

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/whispernet/whispernet"
	"github.com/whispernet/whispernet/localnet"
)

func TestScale(t *testing.T) {
	exe := findBrowser()
	if exe == "" {
		t.Skip("chromium not installed")
	}
	const peers = 1000
	start := time.Now()
	// The classic timers (liveness every 13 s): the test's fast ones keep
	// two cores busy with 1,000 peers, which measures the machine.
	n := startNetWith(t, peers, func(c *localnet.Config) {
		c.Peer = whispernet.DefaultConfig() // generates no gossip
		c.JoinRate = 500
	})
	t.Logf("%d peers started in %v", peers, time.Since(start).Round(time.Millisecond))
	d := newDashboard(t, n, Options{})
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1600, 1000))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(d.ts.URL)); err != nil {
		t.Fatal(err)
	}
	opened := time.Now()
	for {
		v, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#graph').dataset.peers`))
		if v == "1000" {
			t.Logf("1000 peers drawn %v after the page opened", time.Since(opened).Round(time.Millisecond))
			break
		}
		if time.Since(opened) > time.Minute {
			t.Fatalf("only %s peers drawn after a minute", v)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Frame intervals over 120 animation frames, while the layout runs.
	const measure = `new Promise(done => {
		const ts = [];
		const f = t => {
			ts.push(t);
			if (ts.length < 120) { requestAnimationFrame(f); return; }
			const d = ts.slice(1).map((t, i) => t - ts[i]).sort((a, b) => a - b);
			done({fps: 1000 * (ts.length - 1) / (ts[ts.length - 1] - ts[0]), p50_ms: d[d.length >> 1],
				p95_ms: d[Math.floor(d.length * 0.95)], alpha: window.dashboard.graph.alpha});
		};
		requestAnimationFrame(f);
	})`
	for range 3 {
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](measure, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("frames: %s", raw)
	}
	// The hub ticks on its own while the page is open; time a few more
	// samples beside it.
	const ticks = 40
	st := time.Now()
	for range ticks {
		d.srv.hub.tick(time.Now())
	}
	t.Logf("one server sample (hub tick): %v", time.Since(st)/ticks)
	var c Counts
	json.Unmarshal(d.srv.hub.last.counts, &c)
	t.Logf("counts: %+v", c)
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "dashboard-1000.png")
	if dir := os.Getenv("SCALE_SHOT_DIR"); dir != "" {
		p = filepath.Join(dir, "dashboard-1000.png")
	}
	os.WriteFile(p, png, 0o644)
	t.Logf("screenshot: %s", p)
}
