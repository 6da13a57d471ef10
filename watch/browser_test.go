package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/whispernet/whispernet/internal/loopback"
	"github.com/whispernet/whispernet/node"
	"github.com/whispernet/whispernet/web"
)

// watchedNet starts a seed and n peers with /status servers, a Watcher of
// them polling every 100 ms, and the dashboard of its network.
func watchedNet(t *testing.T, ctx context.Context, n int) (peers []*node.Peer, servers map[netip.AddrPort]*httptest.Server, dash *httptest.Server) {
	t.Helper()
	ports := loopback.FreePorts(t, n+1)
	seeds := ports[:1]
	scfg := node.DefaultSeedConfig()
	scfg.Core.Self, scfg.Core.Seeds = seeds[0], seeds
	sd, err := node.NewSeed(scfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sd.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sd.Stop)
	statusAt := map[netip.AddrPort]string{}
	servers = map[netip.AddrPort]*httptest.Server{}
	for _, a := range ports[1:] {
		p, srv := startPeer(t, ctx, a, seeds)
		peers = append(peers, p)
		statusAt[a], servers[a] = strings.TrimPrefix(srv.URL, "http://"), srv
	}
	w, err := New(Config{Seeds: seeds, StatusAddr: func(p netip.AddrPort) string { return statusAt[p] },
		Interval: 100 * time.Millisecond, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); w.Run(wctx) }()
	t.Cleanup(func() { stop(); <-done })
	d := web.New(w.Network(), web.Options{Interval: 100 * time.Millisecond})
	dash = httptest.NewServer(d)
	t.Cleanup(func() { d.Close(); dash.Close() })
	return peers, servers, dash
}

func TestDashboardAPIObserved(t *testing.T) {
	if testing.Short() {
		t.Skip("starts loopback nodes")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, _, dash := watchedNet(t, ctx, 3)
	var st struct {
		Network struct {
			Observed bool `json:"observed"`
		} `json:"network"`
		Seeds []struct {
			Up         bool `json:"up"`
			Registered int  `json:"registered"`
		} `json:"seeds"`
		Counts struct {
			Peers int `json:"peers"`
		} `json:"counts"`
	}
	loopback.CheckFor(t, 10*time.Second, "the dashboard's state shows the 3 watched peers", func() error {
		resp, err := http.Get(dash.URL + "/api/state")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			return err
		}
		if !st.Network.Observed || len(st.Seeds) != 1 || !st.Seeds[0].Up || st.Seeds[0].Registered != 3 || st.Counts.Peers != 3 {
			return fmt.Errorf("state %+v", st)
		}
		return nil
	})
	// A control answers 409 with the reason.
	resp, err := http.Post(dash.URL+"/api/publish", "application/json", strings.NewReader(`{"text":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	var e struct{ Error string }
	json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict || !strings.Contains(e.Error, "run elsewhere") {
		t.Errorf("publish on an observed network: %s %q, want 409 and the reason", resp.Status, e.Error)
	}
}

// TestBrowserObserved opens the dashboard of a watched network in headless
// Chromium: the peers are drawn, the controls are off, the seed shows its
// registrations, and a peer that stops is drawn no more.
func TestBrowserObserved(t *testing.T) {
	exe := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			exe = p
			break
		}
	}
	if exe == "" {
		t.Skip("chromium not installed: apt-get install chromium (the browser test needs it)")
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	peers, servers, dash := watchedNet(t, ctx, 4)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 900))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	var mu sync.Mutex
	var jsErrors []string
	bctx, cancelB := chromedp.NewContext(allocCtx, chromedp.WithListener(func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok && e.ExceptionDetails != nil {
			mu.Lock()
			jsErrors = append(jsErrors, e.ExceptionDetails.Text)
			mu.Unlock()
		}
	}))
	defer cancelB()
	stop := time.AfterFunc(45*time.Second, cancelB) // the whole scenario is bounded
	defer stop.Stop()
	if err := chromedp.Do(bctx, chromedp.Navigate(dash.URL)); err != nil {
		t.Fatalf("open the dashboard in %s: %v", exe, err)
	}
	waitFor := func(what string, cond string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			tctx, c := context.WithTimeout(bctx, 5*time.Second)
			ok, err := chromedp.Run(tctx, chromedp.Evaluate[bool](cond))
			c()
			if err == nil && ok {
				return
			}
			if time.Now().After(deadline) || bctx.Err() != nil {
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("%s: not within 15 s (%v); JS errors: %v", what, err, jsErrors)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor("4 peers drawn, the controls off, the seed with 4 registered", `(() => {
		const hidden = el => el !== null && getComputedStyle(el).display === 'none';
		return document.querySelector('#graph').dataset.peers === '4' &&
			document.querySelector('#peer-count').textContent === '4' &&
			hidden(document.querySelector('#publish-form')) &&
			hidden(document.querySelector('#selection .buttons')) &&
			[...document.querySelectorAll('#seed-list button')].every(hidden) &&
			document.querySelectorAll('#seed-list li').length === 1 &&
			document.querySelector('#seed-list li .reg').textContent === '4 registered'; })()`)

	victim := peers[0]
	servers[victim.Addr()].Close()
	victim.Stop()
	waitFor("the stopped peer no longer drawn", fmt.Sprintf(`document.querySelector('#graph').dataset.peers === '3' &&
		document.querySelector('#feed li[data-kind="kill"][data-node=%q]') !== null`, victim.Addr().String()))
	mu.Lock()
	defer mu.Unlock()
	if len(jsErrors) > 0 {
		t.Errorf("JS errors: %v", jsErrors)
	}
}
