package status

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/whispernet/whispernet/node"
	"github.com/whispernet/whispernet/peer"
)

// Registry tracks the nodes of one process for /metrics and /status.
type Registry struct {
	mu       sync.Mutex
	peers    []*node.Peer
	seeds    []*node.Seed
	sources  []func() ([]*node.Peer, []*node.Seed)
	samplers []func() []PeerSample

	prom    *prometheus.Registry
	latency prometheus.Histogram
}

// NewRegistry returns an empty registry with the Go runtime and process
// collectors and the whispernet_* collectors registered.
func NewRegistry() *Registry {
	r := &Registry{prom: prometheus.NewRegistry()}
	r.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "whispernet_delivery_latency_seconds",
		Help:    "Time from a gossip message's creation at its origin to its first receipt by a peer, over all peers of this process.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18), // 0.1 ms .. 13 s
	})
	r.prom.MustRegister(r.latency, collector{r},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// AddPeer starts observing p.
func (r *Registry) AddPeer(p *node.Peer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.peers = append(r.peers, p)
}

// AddSeed starts observing s.
func (r *Registry) AddSeed(s *node.Seed) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seeds = append(r.seeds, s)
}

// AddSource observes the nodes fn returns at each scrape, for a set that
// changes (a local network's peers and restartable seeds).
func (r *Registry) AddSource(fn func() ([]*node.Peer, []*node.Seed)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sources = append(r.sources, fn)
}

// ObserveDelivery records one first receipt for the latency histogram.
func (r *Registry) ObserveDelivery(created, at time.Time) {
	r.latency.Observe(max(at.Sub(created), 0).Seconds())
}

// AddSampler adds peers known only by their samples (the worker processes
// of a large local network) to /metrics.
func (r *Registry) AddSampler(fn func() []PeerSample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samplers = append(r.samplers, fn)
}

func (r *Registry) samplerList() []func() []PeerSample {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.samplers)
}

func (r *Registry) nodes() ([]*node.Peer, []*node.Seed) {
	r.mu.Lock()
	peers, seeds, sources := slices.Clone(r.peers), slices.Clone(r.seeds), slices.Clone(r.sources)
	r.mu.Unlock()
	for _, fn := range sources {
		p, s := fn()
		peers, seeds = append(peers, p...), append(seeds, s...)
	}
	// A node added twice (or both added and listed by a source) is
	// observed once: the same series twice would fail the scrape.
	return uniqueBy(peers, (*node.Peer).Addr), uniqueBy(seeds, (*node.Seed).Addr)
}

// uniqueBy keeps the first of the elements with the same key.
func uniqueBy[T any](xs []T, key func(T) netip.AddrPort) []T {
	seen := make(map[netip.AddrPort]bool, len(xs))
	out := xs[:0]
	for _, x := range xs {
		if k := key(x); !seen[k] {
			seen[k] = true
			out = append(out, x)
		}
	}
	return out
}

// Register serves /metrics, /status, /healthz and /debug/pprof/ on mux.
func (r *Registry) Register(mux *http.ServeMux) {
	mux.Handle("GET /metrics", promhttp.HandlerFor(r.prom, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /status", r.serveStatus)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

// Document is the /status response.
type Document struct {
	Generated time.Time `json:"generated"`
	Nodes     []Node    `json:"nodes"`
}

// Node is one node's status.
type Node struct {
	Addr string `json:"addr"`
	// ID is the node ID, derived from Key, the node's Ed25519 public key
	// (unpadded base64url, as on the wire).
	ID         string          `json:"id"`
	Key        string          `json:"key"`
	Role       string          `json:"role"` // "peer" or "seed"
	UptimeS    float64         `json:"uptime_s"`
	Seeds      []string        `json:"seeds,omitempty"` // a peer's registered seeds
	Degree     int             `json:"degree"`
	Target     int             `json:"target,omitempty"`
	MessageLog int             `json:"message_list"` // origins tracked in the message list
	Registry   int             `json:"registry"`     // a seed's registered peers
	Frozen     bool            `json:"frozen,omitempty"`
	Neighbours []Neighbour     `json:"neighbours,omitempty"`
	PeerStats  *node.PeerStats `json:"peer_stats,omitempty"`
	SeedStats  *node.SeedStats `json:"seed_stats,omitempty"`
}

// Neighbour is one link of a peer.
type Neighbour struct {
	Addr      string  `json:"addr"`
	Outbound  bool    `json:"outbound"`
	SinceS    float64 `json:"since_s"`      // link age
	RTTMs     float64 `json:"rtt_ms"`       // last answered liveness request
	Misses    int     `json:"misses"`       // requests unanswered since the last reply
	LastAlive float64 `json:"last_alive_s"` // seconds since the last reply
	// Link is the link's place in the broadcast tree (docs/broadcast.md):
	// "parent", "child", "eager" (another eager link) or "lazy".
	Link string `json:"link"`
}

// linkRole names a neighbour's place in the broadcast tree.
func linkRole(nb peer.Neighbour) string {
	switch {
	case nb.Parent:
		return "parent"
	case nb.Child:
		return "child"
	case nb.Eager:
		return "eager"
	}
	return "lazy"
}

// Snapshot builds the status document now.
func (r *Registry) Snapshot() Document {
	peers, seeds := r.nodes()
	now := time.Now()
	doc := Document{Generated: now, Nodes: []Node{}}
	for _, s := range seeds {
		st := s.Stats()
		doc.Nodes = append(doc.Nodes, Node{Addr: s.Addr().String(), ID: s.Key().ID(), Key: s.Key().Public().String(), Role: "seed", UptimeS: secs(now.Sub(s.Started())), Registry: len(s.Peers()), SeedStats: &st})
	}
	for _, p := range peers {
		if !p.Alive() {
			continue
		}
		n := Node{Addr: p.Addr().String(), ID: p.Key().ID(), Key: p.Key().Public().String(), Role: "peer", UptimeS: secs(now.Sub(p.Started())), Frozen: p.Frozen()}
		ok := p.Inspect(func(c *peer.Peer) {
			n.Degree, n.Target, n.MessageLog = c.Degree(), c.Target(), c.MessageListLen()
			for _, s := range c.RegisteredSeeds() {
				n.Seeds = append(n.Seeds, s.String())
			}
			for _, nb := range c.Neighbours() {
				n.Neighbours = append(n.Neighbours, Neighbour{Addr: nb.Addr.String(), Outbound: nb.Outbound, SinceS: secs(now.Sub(nb.Since)),
					RTTMs: float64(nb.RTT.Microseconds()) / 1000, Misses: nb.Misses, LastAlive: secs(now.Sub(nb.LastAlive)), Link: linkRole(nb)})
			}
		})
		if !ok {
			continue
		}
		st := p.Stats()
		n.PeerStats = &st
		doc.Nodes = append(doc.Nodes, n)
	}
	return doc
}

func secs(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }

func (r *Registry) serveStatus(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(r.Snapshot()) // a client gone away: nowhere to report it
}
