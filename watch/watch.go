// Package watch follows a WhisperNet network whose nodes run elsewhere —
// containers, pods, other hosts — from outside, as an operator would: it
// asks every seed for its peer list over the line protocol and every peer
// listed for its /status (the peers' --http), and turns what changed into a
// localnet.Tracker's events (join, link, unlink, freeze, kill, removed,
// seed up or down). The Tracker belongs to an observed localnet.Network, so
// the live dashboard (package web) draws the whole network: `whispernet
// watch`, the dashboard service of deploy/compose.yaml.
//
// What it can know is what the nodes publish: the overlay, degrees and
// targets, which seeds list whom. Gossip deliveries are not in /status, so
// the dashboard's message views stay empty; its controls answer
// localnet.ErrObserved.
package watch

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/whispernet/whispernet/localnet"
	"github.com/whispernet/whispernet/status"
)

// Config tunes a Watcher.
type Config struct {
	// Seeds are the seeds to ask for peer lists (resolved addresses).
	Seeds []netip.AddrPort
	// StatusPort is the port every peer serves /status on (its --http
	// port); a peer at IP:PORT is asked at http://IP:StatusPort/status.
	StatusPort uint16
	// StatusAddr, if set, replaces that rule: it returns the host:port of
	// a peer's /status (tests run many peers on one IP).
	StatusAddr func(peer netip.AddrPort) string
	// Interval is the time between two polls (0: 1 s).
	Interval time.Duration
	// Timeout bounds every request (0: 1 s). A peer whose /status does not
	// answer within it is shown frozen.
	Timeout time.Duration
	// Parallel bounds the /status requests in flight (0: 32).
	Parallel int
	// MaxPeers bounds the peers followed (0: 10,000): a seed that lists
	// more cannot make the watcher grow without limit.
	MaxPeers int
}

// Watcher polls a network and feeds an observed localnet.Network.
type Watcher struct {
	cfg    Config
	net    *localnet.Network
	client *http.Client

	mu    sync.Mutex // serialises Poll
	lists map[netip.AddrPort]map[netip.AddrPort]bool
	peers map[netip.AddrPort]*peerState
}

type peerState struct {
	started, frozen, gone bool
	nbrs                  map[netip.AddrPort]bool
}

// New returns a Watcher of the seeds in cfg.
func New(cfg Config) (*Watcher, error) {
	if len(cfg.Seeds) == 0 {
		return nil, errors.New("watch: no seeds")
	}
	if cfg.StatusPort == 0 && cfg.StatusAddr == nil {
		return nil, errors.New("watch: no status port")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 32
	}
	if cfg.MaxPeers <= 0 {
		cfg.MaxPeers = 10000
	}
	if cfg.StatusAddr == nil {
		port := cfg.StatusPort
		cfg.StatusAddr = func(p netip.AddrPort) string { return netip.AddrPortFrom(p.Addr(), port).String() }
	}
	return &Watcher{cfg: cfg, net: localnet.Observed(cfg.Seeds), client: &http.Client{Timeout: cfg.Timeout},
		lists: map[netip.AddrPort]map[netip.AddrPort]bool{}, peers: map[netip.AddrPort]*peerState{}}, nil
}

// Network is the observed network the Watcher feeds, for web.New.
func (w *Watcher) Network() *localnet.Network { return w.net }

// Run polls every Interval until ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		w.Poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll asks every seed and every known peer once and records what changed.
func (w *Watcher) Poll(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	tr := w.net.Tracker

	// The seeds' peer lists. A seed that does not answer keeps its last
	// list out of the count: it says nothing about who is gone.
	type removal struct{ seed, peer netip.AddrPort }
	var removals []removal
	listed := map[netip.AddrPort]bool{}
	lists := make([]map[netip.AddrPort]bool, len(w.cfg.Seeds))
	var wg sync.WaitGroup
	for i, s := range w.cfg.Seeds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lists[i], _ = peerList(ctx, s, w.cfg.Timeout, w.cfg.MaxPeers)
		}()
	}
	wg.Wait()
	for i, s := range w.cfg.Seeds {
		list := lists[i]
		w.net.SetSeed(s, list != nil, len(list))
		if list == nil {
			continue
		}
		for p := range w.lists[s] {
			if !list[p] {
				removals = append(removals, removal{s, p})
			}
		}
		w.lists[s] = list
		for p := range list {
			listed[p] = true
		}
	}

	// Every peer listed or still followed: its /status.
	var ask []netip.AddrPort
	for p := range listed {
		if len(w.peers) < w.cfg.MaxPeers || w.peers[p] != nil {
			ask = append(ask, p)
		}
	}
	for p, st := range w.peers {
		if !listed[p] && !st.gone {
			ask = append(ask, p)
		}
	}
	docs := make([]*status.Node, len(ask))
	sem := make(chan struct{}, w.cfg.Parallel)
	for i, p := range ask {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			docs[i] = w.peerStatus(ctx, p)
		}()
	}
	wg.Wait()

	now := time.Now()
	for i, p := range ask {
		st := w.peers[p]
		if st == nil {
			st = &peerState{nbrs: map[netip.AddrPort]bool{}}
			w.peers[p] = st
		}
		n := docs[i]
		if n == nil {
			switch {
			case st.started && !st.gone && !listed[p]:
				// Silent and listed by no seed that answers: gone.
				st.gone, st.frozen = true, false
				tr.Note("kill", p, "gone from every seed's peer list; its /status does not answer", now)
				for nb := range st.nbrs {
					tr.Link(p, nb, false, now)
				}
				clear(st.nbrs)
			case st.started && !st.gone && !st.frozen:
				st.frozen = true
				tr.Note("freeze", p, "its /status does not answer", now)
			}
			continue
		}
		if !st.started || st.gone {
			st.started, st.gone, st.frozen = true, false, false
			tr.Started(p, n.Target, now)
		} else if st.frozen {
			st.frozen = false
			tr.Note("thaw", p, "its /status answers again", now)
		}
		cur := map[netip.AddrPort]bool{}
		for _, nb := range n.Neighbours {
			if a, err := netip.ParseAddrPort(nb.Addr); err == nil {
				cur[a] = true
			}
		}
		for nb := range st.nbrs {
			if !cur[nb] {
				tr.Link(p, nb, false, now)
			}
		}
		for nb := range cur {
			if !st.nbrs[nb] {
				tr.Link(p, nb, true, now)
			}
		}
		st.nbrs = cur
	}
	// After the kills, so that the feed tells a crash before the removals
	// it caused (the dashboard clears a killed peer's ghost on removal).
	for _, r := range removals {
		tr.Removed(r.seed, r.peer, now)
	}
}

// peerStatus fetches a peer's /status and returns its node, or nil when it
// does not answer with one.
func (w *Watcher) peerStatus(ctx context.Context, p netip.AddrPort) *status.Node {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+w.cfg.StatusAddr(p)+"/status", nil)
	if err != nil {
		return nil
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	var doc status.Document
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&doc); err != nil {
		return nil
	}
	for i, n := range doc.Nodes {
		if n.Role == "peer" && n.Addr == p.String() {
			return &doc.Nodes[i]
		}
	}
	return nil
}

// peerList asks the seed at a for its peer list ("peer list" ->
// "peer list:IP#PORT:IP#PORT...") and returns it; nil when the seed does
// not answer with one.
func peerList(ctx context.Context, a netip.AddrPort, timeout time.Duration, limit int) (map[netip.AddrPort]bool, error) {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", a.String())
	if err != nil {
		return nil, fmt.Errorf("watch: seed %s: %w", a, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(conn, "peer list\n"); err != nil {
		return nil, fmt.Errorf("watch: seed %s: %w", a, err)
	}
	line, err := bufio.NewReaderSize(conn, 64<<10).ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("watch: seed %s: %w", a, err)
	}
	return parsePeerList(line, limit)
}

// parsePeerList reads a seed's "peer list:IP#PORT:..." reply, keeping at
// most limit entries.
func parsePeerList(line string, limit int) (map[netip.AddrPort]bool, error) {
	line = strings.TrimRight(line, "\r\n")
	rest, ok := strings.CutPrefix(line, "peer list")
	if !ok || (rest != "" && rest[0] != ':') {
		return nil, fmt.Errorf("watch: not a peer list: %.60q", line)
	}
	out := map[netip.AddrPort]bool{}
	for _, e := range splitEntries(strings.TrimPrefix(rest, ":")) {
		if e == "" {
			continue
		}
		host, port, ok := strings.Cut(e, "#")
		a, err := netip.ParseAddrPort(host + ":" + port)
		if !ok || err != nil {
			return nil, fmt.Errorf("watch: bad peer list entry %.60q", e)
		}
		if len(out) < limit {
			out[a] = true
		}
	}
	return out, nil
}

// splitEntries splits a peer list at the colons outside brackets: an IPv6
// entry is "[::1]#5000".
func splitEntries(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
		case ':':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}
