package web

import (
	"bytes"
	"embed"
	"io/fs"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/whispernet/whispernet/localnet"
)

//go:embed assets
var assets embed.FS

// Options tune a Server. The zero value is ready to use.
type Options struct {
	// Interval is the shortest time between two updates one stream
	// sends, and how often the network is sampled while a browser
	// watches (0: 250 ms, at most 4 updates a second).
	Interval time.Duration
	// WriteTimeout drops a stream whose browser has not taken one update
	// within it (0: 10 s). It replaces the http.Server's WriteTimeout for
	// the stream, which would otherwise cut every stream short.
	WriteTimeout time.Duration
	// FitEvery is the shortest time between two power-law fits of the
	// degree sequence (0: 1 s); a fit runs only when the degrees changed.
	FitEvery time.Duration
	// StatsEvery is how often the in-process peers' counters (forwarded
	// copies, duplicates dropped) are summed (0: 2 s).
	StatsEvery time.Duration
	// Messages is how many recent messages the message list shows (0: 30).
	Messages int
	// AllowedHosts are host names the dashboard answers to besides IP
	// literals and localhost. Any other Host header is refused, so that a
	// web page cannot reach the dashboard through DNS rebinding.
	AllowedHosts []string
	// Logger receives diagnostics (nil: discarded).
	Logger *slog.Logger
	// RandSeed seeds the choice of a random publishing peer (0: random).
	RandSeed uint64
}

func (o *Options) fill() {
	if o.Interval <= 0 {
		o.Interval = 250 * time.Millisecond
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.FitEvery <= 0 {
		o.FitEvery = time.Second
	}
	if o.StatsEvery <= 0 {
		o.StatsEvery = 2 * time.Second
	}
	if o.Messages <= 0 {
		o.Messages = 30
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.RandSeed == 0 {
		o.RandSeed = rand.Uint64()
	}
}

// Server is the dashboard of one local network. It is an http.Handler
// serving the page at /, its scripts at /assets/ and the JSON API and
// event stream at /api/ (see docs/dashboard.md).
type Server struct {
	net     *localnet.Network
	opts    Options
	log     *slog.Logger
	handler http.Handler
	done    chan struct{}
	once    sync.Once

	rngMu sync.Mutex
	rng   *rand.Rand

	feed  *feedState
	fit   *fitCache
	cache *counterCache
	hub   *hub
}

// New returns the dashboard of n. It starts no goroutine until a browser
// opens the event stream; Close ends the open streams.
func New(n *localnet.Network, opts Options) *Server {
	opts.fill()
	s := &Server{
		net:   n,
		opts:  opts,
		log:   opts.Logger,
		done:  make(chan struct{}),
		rng:   rand.New(rand.NewPCG(opts.RandSeed, 0xda5b)),
		feed:  newFeedState(),
		fit:   &fitCache{every: opts.FitEvery},
		cache: &counterCache{},
	}
	s.hub = newHub(s)
	mux := http.NewServeMux()
	s.routes(mux)
	// Browsers send Sec-Fetch-Site or Origin: a cross-site page cannot
	// POST to the controls. The host check covers DNS rebinding, where
	// the attacker's page is same-origin with the dashboard.
	s.handler = s.checkHost(http.NewCrossOriginProtection().Handler(jsonErrors(mux)))
	return s
}

// ServeHTTP serves the dashboard.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// Close ends every open event stream and stops sampling. Call it before
// http.Server.Shutdown, which otherwise waits for the streams to go idle,
// and they never do. The page and the API keep working.
func (s *Server) Close() error {
	s.once.Do(func() { close(s.done) })
	return nil
}

func (s *Server) routes(mux *http.ServeMux) {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(sub)
	mux.HandleFunc("GET /{$}", s.handleIndex)
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", noDirs(files)))

	mux.HandleFunc("GET /api/state", s.handleState)
	mux.HandleFunc("GET /api/graph", s.handleGraph)
	mux.HandleFunc("GET /api/degrees", s.handleDegrees)
	mux.HandleFunc("GET /api/messages", s.handleMessages)
	mux.HandleFunc("GET /api/messages/{origin}/{seq}", s.handleMessage)
	mux.HandleFunc("GET /api/feed", s.handleFeed)
	mux.HandleFunc("GET /api/peers/{addr}", s.handlePeer)
	mux.HandleFunc("GET /api/seeds", s.handleSeeds)
	mux.HandleFunc("GET /api/stream", s.handleStream)

	mux.HandleFunc("POST /api/publish", s.handlePublish)
	mux.HandleFunc("POST /api/peers/{addr}/{action}", s.handlePeerAction)
	mux.HandleFunc("POST /api/seeds/{addr}/{action}", s.handleSeedAction)
	mux.HandleFunc("POST /api/watch", s.handleWatch)

}

// jsonErrors answers API requests that match no route (404, or 405 for a
// known path and another method) in JSON like every other API error.
func jsonErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			mux.ServeHTTP(w, r)
			return
		}
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r) // sets the path values h reads
			return
		}
		rec := &recorder{header: http.Header{}, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		if rec.code != http.StatusNotFound && rec.code != http.StatusMethodNotAllowed {
			maps.Copy(w.Header(), rec.header) // e.g. a redirect to the clean path
			w.WriteHeader(rec.code)
			w.Write(rec.body.Bytes())
			return
		}
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		writeError(w, rec.code, "%s %s: %s (the endpoints are in docs/dashboard.md)", r.Method, r.URL.Path, strings.ToLower(http.StatusText(rec.code)))
	})
}

// recorder captures the mux's own 404 and 405 answers.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(code int)        { r.code = code }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }

// handleIndex serves the page with a policy that forbids anything but
// this server's own scripts and styles: the page needs no CDN.
func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
	b, err := assets.ReadFile("assets/index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(b)
}

// noDirs hides directory listings of the embedded assets.
func noDirs(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// checkHost refuses requests whose Host header names a host other than
// an IP literal, localhost or one of Options.AllowedHosts.
func (s *Server) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.hostAllowed(r.Host) {
			writeError(w, http.StatusForbidden, "host %q is not allowed: open the dashboard by IP address or localhost, or allow the name", r.Host)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if host == "" {
		return true // HTTP/1.0 without Host: not a browser
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	host = strings.ToLower(host)
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	for _, a := range s.opts.AllowedHosts {
		if strings.EqualFold(a, host) {
			return true
		}
	}
	return false
}
