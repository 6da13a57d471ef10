package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/whispernet/whispernet/localnet"
	"github.com/whispernet/whispernet/summary"
	"github.com/whispernet/whispernet/wire"
)

// State is the answer of GET /api/state: the counters, the seeds and
// the network's configuration.
type State struct {
	At      time.Time `json:"at"`
	Counts  Counts    `json:"counts"`
	Seeds   []Seed    `json:"seeds"`
	Network Network   `json:"network"`
}

// Network is the part of the network's configuration the page shows.
type Network struct {
	Peers    int    `json:"peers"` // peers started by the network
	IP       string `json:"ip"`
	BasePort int    `json:"base_port"`
	// LivenessMs × LivenessMisses is how long a frozen peer goes
	// unnoticed; a killed one is noticed at once (its sockets close).
	LivenessMs     int64 `json:"liveness_ms"`
	LivenessMisses int   `json:"liveness_misses"`
	// DuplicatesTracked: messages carry per-message duplicate counts.
	DuplicatesTracked bool `json:"duplicates_tracked"`
	// IntervalMs is the shortest time between two stream updates.
	IntervalMs int64 `json:"interval_ms"`
	// Observed: the nodes run elsewhere (whispernet watch); the page
	// turns its controls off, which would answer 409.
	Observed bool `json:"observed,omitempty"`
}

// PeerDetail is the answer of GET /api/peers/{addr}.
type PeerDetail struct {
	Node
	// State is live, frozen or dead (killed, not yet removed by a seed).
	State      string   `json:"state"`
	Neighbours []string `json:"neighbours"`
	// Local: the peer runs in this process, so Stats and ID are
	// available. ID is its node ID (identity.PublicKey.ID).
	Local bool       `json:"local"`
	ID    string     `json:"id,omitempty"`
	Stats *PeerStats `json:"stats,omitempty"`
}

// PeerStats are an in-process peer's counters (node.PeerStats).
type PeerStats struct {
	Generated      uint64 `json:"generated"`
	Received       uint64 `json:"received"`
	Forwarded      uint64 `json:"forwarded"`
	Duplicates     uint64 `json:"duplicates"`
	LivenessSent   uint64 `json:"liveness_sent"`
	LivenessMissed uint64 `json:"liveness_missed"`
	DeadReported   uint64 `json:"dead_reported"`
	ConnsOpened    uint64 `json:"conns_opened"`
	QueueDrops     uint64 `json:"queue_drops"`
	BadLines       uint64 `json:"bad_lines"`
}

// PublishRequest is the body of POST /api/publish.
type PublishRequest struct {
	// Peer is the publishing peer; empty picks a random live, unfrozen one.
	Peer string `json:"peer"`
	// Text is the message text (one line; empty: a default text).
	Text string `json:"text"`
}

// Published is the answer of POST /api/publish. Seq is 0 (and Found
// false) if the message had not reached the tracker within a second,
// which happens only with peers in worker processes under load.
type Published struct {
	Origin string `json:"origin"`
	Seq    uint32 `json:"seq"`
	Text   string `json:"text"`
	Found  bool   `json:"found"`
}

// WatchRequest is the body of POST /api/watch: the stream Client (from
// its hello event) follows message (Origin, Seq); an empty Origin stops.
type WatchRequest struct {
	Client string `json:"client"`
	Origin string `json:"origin"`
	Seq    uint32 `json:"seq"`
}

// FeedPage is the answer of GET /api/feed.
type FeedPage struct {
	Events []FeedEvent `json:"events"`
	// Missing counts events after the requested one that are no longer
	// kept; Last is the newest event's sequence number, for the next call.
	Missing int    `json:"missing"`
	Last    uint64 `json:"last"`
}

// ActionResult is the answer of a control: what was done to whom.
type ActionResult struct {
	Action string `json:"action"`
	Addr   string `json:"addr"`
}

func (s *Server) handleState(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	s.feed.sync(s.net.Tracker, now)
	snap := s.net.Tracker.Snapshot(now, true)
	seeds := s.seeds()
	writeJSON(w, http.StatusOK, State{At: now, Counts: s.counts(snap, s.graph(snap), seeds, now, true), Seeds: seeds, Network: s.network()})
}

func (s *Server) network() Network {
	cfg := s.net.Config()
	return Network{Peers: cfg.Peers, IP: cfg.IP.String(), BasePort: cfg.BasePort,
		LivenessMs: cfg.Peer.LivenessInterval.Milliseconds(), LivenessMisses: cfg.Peer.LivenessMisses,
		DuplicatesTracked: s.net.Tracker.DuplicatesTracked(), IntervalMs: s.opts.Interval.Milliseconds(), Observed: s.net.Observed()}
}

func (s *Server) handleGraph(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	s.feed.sync(s.net.Tracker, now)
	writeJSON(w, http.StatusOK, s.graph(s.net.Tracker.Snapshot(now, true)))
}

func (s *Server) handleDegrees(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	writeJSON(w, http.StatusOK, s.degrees(s.net.Tracker.Snapshot(now, false).Degrees, now))
}

func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request) {
	n, err := intParam(r, "n", s.opts.Messages, 1, 256)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, s.messages(n))
}

func (s *Server) handleMessage(w http.ResponseWriter, r *http.Request) {
	origin, err := netip.ParseAddrPort(r.PathValue("origin"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "origin %q is not IP:PORT", r.PathValue("origin"))
		return
	}
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 32)
	if err != nil {
		writeError(w, http.StatusBadRequest, "seq %q is not a sequence number", r.PathValue("seq"))
		return
	}
	d, ok := s.messageDetail(origin, uint32(seq))
	if !ok {
		writeError(w, http.StatusNotFound, "no message %d from %s", seq, origin)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) handleFeed(w http.ResponseWriter, r *http.Request) {
	after, err := intParam(r, "after", 0, 0, math.MaxInt)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	limit, err := intParam(r, "limit", 200, 1, feedRing)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	s.feed.sync(s.net.Tracker, time.Now())
	evs, missing := s.feed.after(uint64(after), limit)
	writeJSON(w, http.StatusOK, FeedPage{Events: evs, Missing: missing, Last: s.feed.newest()})
}

func (s *Server) handlePeer(w http.ResponseWriter, r *http.Request) {
	a, ok := peerParam(w, r)
	if !ok {
		return
	}
	now := time.Now()
	s.feed.sync(s.net.Tracker, now)
	g := s.graph(s.net.Tracker.Snapshot(now, true))
	want := a.String()
	idx := -1
	for i, n := range g.Nodes {
		if n.Addr == want {
			idx = i
			break
		}
	}
	if idx < 0 {
		writeError(w, http.StatusNotFound, "%s is not a live peer of the network", a)
		return
	}
	d := PeerDetail{Node: g.Nodes[idx], State: "live", Neighbours: []string{}}
	switch {
	case d.Dead:
		d.State = "dead"
	case d.Frozen:
		d.State = "frozen"
	}
	for i := 0; i+1 < len(g.Edges); i += 2 {
		switch idx {
		case g.Edges[i]:
			d.Neighbours = append(d.Neighbours, g.Nodes[g.Edges[i+1]].Addr)
		case g.Edges[i+1]:
			d.Neighbours = append(d.Neighbours, g.Nodes[g.Edges[i]].Addr)
		}
	}
	if p, ok := s.net.LocalPeer(a); ok && !d.Dead {
		st := p.Stats()
		d.Local = true
		d.ID = p.Key().ID()
		d.Stats = &PeerStats{Generated: st.Generated, Received: st.Received, Forwarded: st.Forwarded, Duplicates: st.Duplicates,
			LivenessSent: st.LivenessSent, LivenessMissed: st.LivenessMissed, DeadReported: st.DeadReported,
			ConnsOpened: st.ConnsOpened, QueueDrops: st.QueueDrops, BadLines: st.BadLines}
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) handleSeeds(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.seeds())
}

func (s *Server) handlePublish(w http.ResponseWriter, r *http.Request) {
	var req PublishRequest
	if !readJSON(w, r, &req) {
		return
	}
	text := strings.TrimSpace(req.Text)
	if text == "" {
		text = "hello from the dashboard"
	}
	if len(text) > wire.MaxTextLen {
		writeError(w, http.StatusBadRequest, "text is %d bytes; at most %d", len(text), wire.MaxTextLen)
		return
	}
	if strings.ContainsFunc(text, unicode.IsControl) {
		writeError(w, http.StatusBadRequest, "text must be one line without control characters")
		return
	}
	var a netip.AddrPort
	if req.Peer == "" {
		var err error
		if a, err = s.randomPeer(); err != nil {
			writeError(w, http.StatusConflict, "%v", err)
			return
		}
	} else {
		var err error
		if a, err = netip.ParseAddrPort(req.Peer); err != nil {
			writeError(w, http.StatusBadRequest, "peer %q is not IP:PORT", req.Peer)
			return
		}
	}
	before := s.lastSeq(a, "")
	if err := s.net.Publish(a, text); err != nil {
		writeActionError(w, err)
		return
	}
	s.log.Info("dashboard: publish", "peer", a, "text", text)
	out := Published{Origin: a.String(), Text: text}
	// The tracker learns of the message from the origin's deliver hook:
	// at once for an in-process peer, a report line later for a worker's.
	deadline := time.Now().Add(time.Second)
	for {
		if seq := s.lastSeq(a, text); seq > before {
			out.Seq, out.Found = seq, true
			break
		}
		if time.Now().After(deadline) {
			break
		}
		select {
		case <-time.After(10 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// lastSeq returns the newest sequence number among the recent messages
// of origin (with the given text unless it is empty), 0 if none.
func (s *Server) lastSeq(origin netip.AddrPort, text string) uint32 {
	o := origin.String()
	for _, m := range s.net.Tracker.Messages(256, false) {
		if m.Origin == o && (text == "" || m.Text == text) {
			return m.Seq
		}
	}
	return 0
}

// randomPeer picks a live peer that is not frozen.
func (s *Server) randomPeer() (netip.AddrPort, error) {
	snap := s.net.Tracker.Snapshot(time.Now(), true)
	var ok []string
	for _, n := range snap.Nodes {
		if !n.Frozen {
			ok = append(ok, n.Addr)
		}
	}
	if len(ok) == 0 {
		return netip.AddrPort{}, errors.New("no live, unfrozen peer to publish from")
	}
	s.rngMu.Lock()
	i := s.rng.IntN(len(ok))
	s.rngMu.Unlock()
	return netip.ParseAddrPort(ok[i])
}

func (s *Server) handlePeerAction(w http.ResponseWriter, r *http.Request) {
	a, ok := peerParam(w, r)
	if !ok {
		return
	}
	if !drainBody(w, r) {
		return
	}
	action := r.PathValue("action")
	var err error
	switch action {
	case "kill":
		err = s.net.Kill(a)
	case "freeze":
		err = s.net.Freeze(a)
	case "thaw":
		err = s.net.Thaw(a)
	default:
		writeError(w, http.StatusNotFound, "no peer action %q: kill, freeze or thaw", action)
		return
	}
	if err != nil {
		writeActionError(w, err)
		return
	}
	s.log.Info("dashboard: "+action, "peer", a)
	writeJSON(w, http.StatusOK, ActionResult{Action: action, Addr: a.String()})
}

func (s *Server) handleSeedAction(w http.ResponseWriter, r *http.Request) {
	a, ok := peerParam(w, r)
	if !ok {
		return
	}
	if !drainBody(w, r) {
		return
	}
	if _, known := s.net.Seeds()[a]; !known {
		writeError(w, http.StatusNotFound, "%s is not a seed of the config", a)
		return
	}
	action := r.PathValue("action")
	var err error
	switch action {
	case "stop":
		err = s.net.StopSeed(a)
	case "start":
		err = s.net.StartSeed(a)
	default:
		writeError(w, http.StatusNotFound, "no seed action %q: stop or start", action)
		return
	}
	if err != nil {
		// The seed exists, so the only failures are "already running",
		// "not running" and a port taken while it was down.
		writeError(w, http.StatusConflict, "%v", err)
		return
	}
	s.log.Info("dashboard: seed "+action, "seed", a)
	writeJSON(w, http.StatusOK, ActionResult{Action: action, Addr: a.String()})
}

func (s *Server) handleWatch(w http.ResponseWriter, r *http.Request) {
	var req WatchRequest
	if !readJSON(w, r, &req) {
		return
	}
	var key msgKey
	if req.Origin != "" {
		a, err := netip.ParseAddrPort(req.Origin)
		if err != nil {
			writeError(w, http.StatusBadRequest, "origin %q is not IP:PORT", req.Origin)
			return
		}
		key = msgKey{a, req.Seq}
	}
	if !s.hub.watch(req.Client, key) {
		writeError(w, http.StatusNotFound, "no open stream %q", req.Client)
		return
	}
	writeJSON(w, http.StatusOK, req)
}

// peerParam parses the {addr} path value.
func peerParam(w http.ResponseWriter, r *http.Request) (netip.AddrPort, bool) {
	a, err := netip.ParseAddrPort(r.PathValue("addr"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "address %q is not IP:PORT", r.PathValue("addr"))
		return a, false
	}
	return a, true
}

func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s=%q: want an integer in %d..%d", name, v, lo, hi)
	}
	return n, nil
}

// maxBody bounds request bodies: the largest is a publish request.
const maxBody = 16 << 10

// readJSON decodes a JSON body; on failure it has answered.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad JSON body: %v", err)
		return false
	}
	return true
}

// drainBody accepts an empty or small body on a control endpoint.
func drainBody(w http.ResponseWriter, r *http.Request) bool {
	if _, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxBody)); err != nil {
		writeError(w, http.StatusBadRequest, "body: %v", err)
		return false
	}
	return true
}

func writeActionError(w http.ResponseWriter, err error) {
	if errors.Is(err, localnet.ErrUnknownPeer) {
		writeError(w, http.StatusNotFound, "%v", err)
		return
	}
	writeError(w, http.StatusConflict, "%v", err)
}

// apiError is the body of every error answer.
type apiError struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, apiError{Error: fmt.Sprintf(format, args...)})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"encoding the answer failed"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(b)
	w.Write([]byte("\n"))
}

// round is summary.Round made safe for JSON, which has no NaN or Inf (a
// fit on no data gives them): those become 0.
func round(x float64, digits int) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return summary.Round(x, digits)
}
