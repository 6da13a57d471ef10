package peer

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/whispernet/whispernet/internal/script"
	"github.com/whispernet/whispernet/wire"
)

// The scripts in testdata/*.txt drive one Peer with these commands (the
// clock starts at base, Unix time 1764072000, and only moves when told):
//
//	new [self=IP:PORT] [seeds=A,B,...] [target=N] [rng=A,B] [gossip=D] [count=N]
//	    [delay=D] [live=D] [misses=N] [maxpeers=N] [maxknown=N] [refresh=D]
//	    [retrymin=D] [retrymax=D] [handshake=D] [fill=D] [ttl=D] [maxorigins=N]
//	start | stop | leave
//	tick [+D | =D | next]        advance the clock (by D, to base+D, or to
//	                             NextDeadline) and call Tick
//	advance +D                   advance the clock only
//	seedreply SEED REQ -> REPLY  SeedReply for an outstanding request; REQ is
//	                             the request line or just its verb
//	seedfail SEED REQ            SeedFailed for an outstanding request
//	open cN in|out IP:PORT       Opened (outbound: the dialed address)
//	recv cN LINE                 Receive a protocol line on cN
//	close cN                     Closed
//	dialfail IP:PORT             DialFailed
//	publish TEXT                 Publish
//	state | known | stats | deadline
//
// Output: the actions from Ready, one per line:
//
//	dial IP:PORT | send cN LINE | close cN | seedreq SEED LINE
//	deliver FROM LINE | log TEXT | degree N | dead IP:PORT
//	link up|down IP:PORT | left | neighbour left IP:PORT

var base = time.Unix(1764072000, 0).UTC()

type peerRun struct {
	t        *testing.T
	clock    script.Clock
	p        *Peer
	seedReqs map[netip.AddrPort][]wire.Message // outstanding seed requests
	dials    map[netip.AddrPort]bool           // outstanding dials
	track    tracker
}

func newPeerRun(t *testing.T) func(*script.Case) []string {
	r := &peerRun{t: t, clock: script.NewClock(base)}
	return r.run
}

func TestScripts(t *testing.T) { script.Run(t, "testdata/*.txt", newPeerRun) }

func mustAddr(s string) (netip.AddrPort, error) { return wire.ParseAddrPort(s) }

func (r *peerRun) run(c *script.Case) []string {
	cmd, name, rest, fields := c.Line, c.Cmd, c.Rest, c.Args
	if name != "new" && r.p == nil {
		return c.Fail(r.t, "no peer: use new first")
	}
	var out []string
	before := snapshotDials(r.p)
	switch name {
	case "new":
		cfg, rng, err := scriptConfig(c.KeyValues())
		if err != nil {
			return c.Fail(r.t, "%v", err)
		}
		p, err := New(cfg, rng)
		if err != nil {
			return []string{"error: " + err.Error()}
		}
		*r = peerRun{t: r.t, clock: script.NewClock(base), p: p, seedReqs: make(map[netip.AddrPort][]wire.Message), dials: make(map[netip.AddrPort]bool)}
		return []string{fmt.Sprintf("target %d", p.Target())}
	case "start":
		r.p.Start(r.clock.Now)
	case "stop":
		r.p.Stop(r.clock.Now)
	case "leave":
		r.p.Leave(r.clock.Now)
	case "advance", "tick":
		moved, err := r.clock.Move(fields, r.p.NextDeadline)
		if err != nil {
			return c.Fail(r.t, "%v", err)
		}
		out = append(out, moved...)
		if name == "tick" {
			r.p.Tick(r.clock.Now)
		}
	case "seedreply", "seedfail":
		if len(fields) < 2 {
			return c.Fail(r.t, "want SEED REQ")
		}
		seed, err := mustAddr(fields[0])
		if err != nil {
			return c.Fail(r.t, "%v", err)
		}
		reqText := strings.TrimPrefix(rest, fields[0]+" ")
		var reply wire.Message
		if name == "seedreply" {
			var replyText string
			var ok bool
			reqText, replyText, ok = strings.Cut(reqText, " -> ")
			if !ok {
				return c.Fail(r.t, "want SEED REQ -> REPLY")
			}
			if reply, err = wire.Parse(replyText); err != nil {
				return c.Fail(r.t, "reply: %v", err)
			}
		}
		req, ok := r.takeSeedReq(seed, reqText)
		if !ok {
			return c.Fail(r.t, "no outstanding request %q to %s", reqText, seed)
		}
		if name == "seedreply" {
			r.p.SeedReply(r.clock.Now, seed, req, reply)
		} else {
			r.p.SeedFailed(r.clock.Now, seed, req)
		}
	case "open":
		if len(fields) != 3 || (fields[1] != "in" && fields[1] != "out") {
			return c.Fail(r.t, "want open cN in|out IP:PORT")
		}
		id, err := connID(fields[0])
		if err != nil {
			return c.Fail(r.t, "%v", err)
		}
		a, err := mustAddr(fields[2])
		if err != nil {
			return c.Fail(r.t, "%v", err)
		}
		if fields[1] == "out" {
			if !r.dials[a] {
				return c.Fail(r.t, "the peer did not dial %s", a)
			}
			delete(r.dials, a)
		}
		r.p.Opened(r.clock.Now, id, a, fields[1] == "out")
	case "recv":
		if len(fields) < 2 {
			return c.Fail(r.t, "want recv cN LINE")
		}
		id, err := connID(fields[0])
		if err != nil {
			return c.Fail(r.t, "%v", err)
		}
		m, err := wire.Parse(strings.TrimPrefix(rest, fields[0]+" "))
		if err != nil {
			return c.Fail(r.t, "%v", err)
		}
		r.p.Receive(r.clock.Now, id, m)
	case "close":
		id, err := connID(rest)
		if err != nil {
			return c.Fail(r.t, "%v", err)
		}
		r.p.Closed(r.clock.Now, id)
	case "dialfail":
		a, err := mustAddr(rest)
		if err != nil {
			return c.Fail(r.t, "%v", err)
		}
		if !r.dials[a] {
			return c.Fail(r.t, "the peer did not dial %s", a)
		}
		delete(r.dials, a)
		r.p.DialFailed(r.clock.Now, a)
	case "publish":
		r.p.Publish(r.clock.Now, rest)
	case "lag":
		d, err := time.ParseDuration(rest)
		if err != nil {
			return c.Fail(r.t, "want lag DURATION: %v", err)
		}
		r.p.LoopLag(r.clock.Now, d)
	case "demote":
		if len(fields) < 2 {
			return c.Fail(r.t, "want demote cN LINE")
		}
		id, err := connID(fields[0])
		if err != nil {
			return c.Fail(r.t, "%v", err)
		}
		m, err := wire.Parse(strings.TrimPrefix(rest, fields[0]+" "))
		if err != nil {
			return c.Fail(r.t, "%v", err)
		}
		out = append(out, fmt.Sprintf("demoted %v", r.p.Demote(r.clock.Now, id, m)))
	case "state":
		return r.state()
	case "known":
		for _, k := range r.p.known {
			out = append(out, fmt.Sprintf("known %s cap=%d degree=%d failures=%d", k.addr, k.capacity, k.degree, k.failures))
		}
		if len(out) == 0 {
			out = append(out, "known none")
		}
		return out
	case "stats":
		return []string{statsLine(r.p.Stats())}
	case "deadline":
		d := r.p.NextDeadline()
		switch {
		case d.IsZero():
		case d.Equal(r.clock.Now):
			return []string{"deadline now"}
		case d.Before(r.clock.Now):
			return []string{"deadline overdue"}
		}
		return []string{"deadline " + r.clock.Rel(d)}
	default:
		return c.Fail(r.t, "unknown command %q", name)
	}
	acts := r.p.Ready()
	if err := checkInvariants(r.p, acts, &r.track); err != nil {
		r.t.Errorf("%s: %v", cmd, err)
	}
	if err := checkDials(r.p, before, acts); err != nil {
		r.t.Errorf("%s: %v", cmd, err)
	}
	for _, a := range acts {
		switch a.Kind {
		case Dial:
			if r.dials[a.Addr] {
				r.t.Errorf("%s: dialed %s while an earlier dial to it is outstanding", cmd, a.Addr)
			}
			r.dials[a.Addr] = true
		case SeedRequest:
			r.seedReqs[a.Addr] = append(r.seedReqs[a.Addr], a.Msg)
		}
		out = append(out, formatAction(a))
	}
	return out
}

// takeSeedReq removes and returns the oldest outstanding request to seed
// whose line is text, or whose line starts with text (a verb).
func (r *peerRun) takeSeedReq(seed netip.AddrPort, text string) (wire.Message, bool) {
	reqs := r.seedReqs[seed]
	for i, m := range reqs {
		line := wire.Format(m)
		if line == text || strings.HasPrefix(line, text+":") {
			r.seedReqs[seed] = slices.Delete(reqs, i, i+1)
			return m, true
		}
	}
	return wire.Message{}, false
}

func (r *peerRun) state() []string {
	p := r.p
	line := fmt.Sprintf("degree %d/%d", p.Degree(), p.Target())
	for _, n := range p.Neighbours() {
		dir := "in"
		if n.Outbound {
			dir = "out"
		}
		line += fmt.Sprintf(" %s(c%d %s)", n.Addr, n.Conn, dir)
	}
	out := []string{line}
	var pend []string
	for _, id := range p.connIDs() {
		c := p.conns[id]
		switch c.state {
		case pendingIn:
			pend = append(pend, fmt.Sprintf("c%d in from %s", id, wire.FormatIP(c.remoteIP)))
		case pendingOut:
			pend = append(pend, fmt.Sprintf("c%d out to %s", id, c.addr))
		}
	}
	if len(pend) > 0 {
		out = append(out, "pending "+strings.Join(pend, ", "))
	}
	var seeds []string
	for _, s := range p.RegisteredSeeds() {
		seeds = append(seeds, s.String())
	}
	out = append(out, "registered ["+strings.Join(seeds, " ")+"]")
	return out
}

func statsLine(s Stats) string {
	var parts []string
	add := func(name string, v uint64) {
		if v != 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", name, v))
		}
	}
	add("generated", s.Generated)
	add("received", s.Received)
	add("forwarded", s.Forwarded)
	add("duplicates", s.Duplicates)
	add("stale", s.Stale)
	add("overflow", s.Overflow)
	add("livenessSent", s.LivenessSent)
	add("livenessReply", s.LivenessReply)
	add("livenessMissed", s.LivenessMissed)
	add("deadReported", s.DeadReported)
	add("connsOpened", s.ConnsOpened)
	add("connsRefused", s.ConnsRefused)
	add("unexpected", s.Unexpected)
	add("ihaveSent", s.IHaveSent)
	add("graftSent", s.GraftSent)
	add("graftServed", s.GraftServed)
	add("pruneSent", s.PruneSent)
	add("missingDropped", s.MissingDropped)
	add("deadGivenUp", s.DeadGivenUp)
	add("neighboursLeft", s.NeighboursLeft)
	add("demoted", s.Demoted)
	add("lagStretched", s.LagStretched)
	return "stats " + strings.Join(parts, " ")
}

func formatAction(a Action) string {
	switch a.Kind {
	case Dial:
		return "dial " + a.Addr.String()
	case Send:
		return fmt.Sprintf("send c%d %s", a.Conn, wire.Format(a.Msg))
	case Close:
		return fmt.Sprintf("close c%d", a.Conn)
	case SeedRequest:
		return fmt.Sprintf("seedreq %s %s", a.Addr, wire.Format(a.Msg))
	case Deliver:
		return fmt.Sprintf("deliver %s %s", a.Addr, wire.Format(a.Msg))
	case Log:
		return "log " + a.Text
	case Degree:
		return fmt.Sprintf("degree %d", a.N)
	case Dead:
		return "dead " + a.Addr.String()
	case Link:
		if a.N == 0 {
			return "link down " + a.Addr.String()
		}
		return "link up " + a.Addr.String()
	case Wake:
		return "wake"
	case Left:
		return "left"
	case NeighbourLeft:
		return "neighbour left " + a.Addr.String()
	}
	return fmt.Sprintf("unknown action %+v", a)
}

// tracker follows what the actions say so far, for checkInvariants.
type tracker struct {
	lastDegree int
	links      map[netip.AddrPort]bool
}

// checkInvariants checks what must hold after every event: degree actions
// report the real degree, link actions match the neighbour set, the
// neighbour set never holds self or the same peer twice, and the peer never
// dials itself.
func checkInvariants(p *Peer, acts []Action, tr *tracker) error {
	if tr.links == nil {
		tr.links = make(map[netip.AddrPort]bool)
	}
	for _, a := range acts {
		switch a.Kind {
		case Degree:
			if a.N < 0 {
				return fmt.Errorf("negative degree action %d", a.N)
			}
			if a.N == tr.lastDegree {
				return fmt.Errorf("degree action %d repeats the previous value", a.N)
			}
			tr.lastDegree = a.N
		case Link:
			if up := a.N == 1; up == tr.links[a.Addr] {
				return fmt.Errorf("link %v action for %s, which is already in that state", up, a.Addr)
			}
			if a.N == 1 {
				tr.links[a.Addr] = true
			} else {
				delete(tr.links, a.Addr)
			}
		case Dial:
			if a.Addr == p.Self() {
				return fmt.Errorf("dialed itself")
			}
		}
	}
	if p.stopped {
		return nil
	}
	if tr.lastDegree != p.Degree() {
		return fmt.Errorf("last degree action says %d, Degree() is %d", tr.lastDegree, p.Degree())
	}
	if len(tr.links) != p.Degree() {
		return fmt.Errorf("link actions say %d links, Degree() is %d", len(tr.links), p.Degree())
	}
	seen := make(map[netip.AddrPort]bool)
	for _, n := range p.Neighbours() {
		if n.Addr == p.Self() {
			return fmt.Errorf("self %s among the neighbours", n.Addr)
		}
		if !n.Addr.IsValid() {
			return fmt.Errorf("invalid neighbour address on c%d", n.Conn)
		}
		if seen[n.Addr] {
			return fmt.Errorf("%s is a neighbour twice", n.Addr)
		}
		if !tr.links[n.Addr] {
			return fmt.Errorf("neighbour %s without a link-up action", n.Addr)
		}
		seen[n.Addr] = true
	}
	if len(p.Neighbours()) > p.cfg.MaxPeers {
		return fmt.Errorf("%d neighbours over MaxPeers %d", len(p.Neighbours()), p.cfg.MaxPeers)
	}
	// Lazy-push state stays within its bounds.
	if p.cacheLen > p.cfg.CacheSize || p.cacheLen > len(p.cache) || len(p.cache)&(len(p.cache)-1) != 0 || p.cacheHead >= max(len(p.cache), 1) {
		return fmt.Errorf("cache holds %d messages (head %d, ring of %d), over CacheSize %d or out of its ring", p.cacheLen, p.cacheHead, len(p.cache), p.cfg.CacheSize)
	}
	if len(p.missing) > p.cfg.MaxMissing {
		return fmt.Errorf("%d missing messages tracked, over MaxMissing %d", len(p.missing), p.cfg.MaxMissing)
	}
	if p.knownIdx.len() != len(p.known) {
		return fmt.Errorf("%d candidates indexed, %d known", p.knownIdx.len(), len(p.known))
	}
	for i, k := range p.known {
		if j, ok := p.knownIdx.get(k.addr); !ok || j != i {
			return fmt.Errorf("candidate %s at %d indexed at %d (%v)", k.addr, i, j, ok)
		}
	}
	if len(p.nbrIDs) != len(p.neighbours) || len(p.nbrAddrs) != len(p.neighbours) {
		return fmt.Errorf("%d neighbour IDs and %d addresses for %d neighbours", len(p.nbrIDs), len(p.nbrAddrs), len(p.neighbours))
	}
	for i, c := range p.neighbours {
		if p.nbrIDs[i] != c.id || p.nbrAddrs[i] != c.addr || p.conns[c.id] != c || c.state != established {
			return fmt.Errorf("neighbour %d (%s on c%d, state %d) listed as %s on c%d", i, c.addr, c.id, c.state, p.nbrAddrs[i], p.nbrIDs[i])
		}
		if p.protected(c) && c.lazy {
			return fmt.Errorf("tree link to %s (parent %v, child %v) is lazy", c.addr, c == p.parent, c.child)
		}
		if len(c.ihave) >= wire.MaxIDsPerLine {
			return fmt.Errorf("%d announcements queued for %s, a full line should have gone", len(c.ihave), c.addr)
		}
	}
	var due time.Time
	for _, c := range p.neighbours {
		if t := c.lastAlive.Add(p.aliveLimit()); due.IsZero() || t.Before(due) {
			due = t
		}
	}
	// Never later than the neighbours say (earlier only costs a scan: a
	// sign of life or a reply moves lastAlive on without a recount).
	if p.aliveDue.After(due) || due.IsZero() != p.aliveDue.IsZero() {
		return fmt.Errorf("liveness due %v, after what the neighbours say, %v", p.aliveDue, due)
	}
	if len(p.missKeys) != len(p.missing) {
		return fmt.Errorf("%d missing keys for %d missing messages", len(p.missKeys), len(p.missing))
	}
	for i := range p.missing {
		if p.missKeys[i] != missKey(p.missing[i].id) {
			return fmt.Errorf("missing %v under the key of another message", p.missing[i].id)
		}
	}
	if len(p.missing) > 0 && p.nextGraft.IsZero() {
		return fmt.Errorf("%d missing messages and no graft timer", len(p.missing))
	}
	return nil
}

// dialSnapshot is what a peer was dialing or linked to before an event.
type dialSnapshot struct {
	busy   map[netip.AddrPort]bool
	degree int
}

func snapshotDials(p *Peer) dialSnapshot {
	if p == nil {
		return dialSnapshot{}
	}
	s := dialSnapshot{busy: make(map[netip.AddrPort]bool), degree: p.Degree()}
	for _, m := range []map[netip.AddrPort]bool{p.dialing, p.probing} {
		for a := range m {
			s.busy[a] = true
		}
	}
	for a := range p.linked {
		s.busy[a] = true
	}
	for a := range p.awaiting {
		s.busy[a] = true
	}
	return s
}

// checkDials checks the dials and handshakes of one event against what the
// peer was busy with before it: a candidate is never dialed while a dial
// to it or a link with it exists (a probe redials a neighbour whose link
// just went down), nor twice in one event; a peer that is unlinked before
// and after the event dials one candidate at a time (the dial is then its
// only pending outbound connection); and only a peer with no neighbour
// says it is isolated, and only on a connection it dialed.
func checkDials(p *Peer, before dialSnapshot, acts []Action) error {
	var fresh []netip.AddrPort // dials of candidates, probes aside
	for _, a := range acts {
		switch a.Kind {
		case Dial:
			if p.probing[a.Addr] {
				continue
			}
			if before.busy[a.Addr] || slices.Contains(fresh, a.Addr) {
				return fmt.Errorf("dialed %s, which it was already dialing or linked to", a.Addr)
			}
			fresh = append(fresh, a.Addr)
		case Send:
			if a.Msg.Kind == wire.KindConnect && a.Msg.Isolated && (p.Degree() != 0 || !p.outbound[a.Conn]) {
				return fmt.Errorf("isolated handshake %q from a peer with %d neighbours", wire.Format(a.Msg), p.Degree())
			}
		}
	}
	if p.stopped || before.degree != 0 || p.Degree() != 0 || len(fresh) == 0 {
		return nil
	}
	if len(fresh) != 1 || p.pendingOut() != 1 {
		return fmt.Errorf("unlinked peer dialed %v with %d outbound connections pending", fresh, p.pendingOut())
	}
	return nil
}

func connID(s string) (ConnID, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "c"), 10, 64)
	if err != nil || !strings.HasPrefix(s, "c") {
		return 0, fmt.Errorf("bad connection name %q (want cN)", s)
	}
	return ConnID(n), nil
}

// scriptConfig builds a Config from DefaultConfig and key=value overrides.
// Scripts default to self 127.0.0.1:5000, one seed 127.0.0.1:8080, target
// 2 and rng seed 1,2.
func scriptConfig(kv map[string]string) (Config, *rand.Rand, error) {
	cfg := DefaultConfig()
	cfg.Self = netip.MustParseAddrPort("127.0.0.1:5000")
	cfg.Seeds = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:8080")}
	cfg.Target = 2
	// The scripts type classic unsigned gossip; signing is on with sign=on.
	cfg.Sign = false
	var s1, s2 uint64 = 1, 2
	cfg.Stagger = false // the scripts pin exact times (stagger_test.go tests it)
	var err error
	dur := func(v string, d *time.Duration) {
		if err == nil {
			*d, err = time.ParseDuration(v)
		}
	}
	num := func(v string, n *int) {
		if err == nil {
			*n, err = strconv.Atoi(v)
		}
	}
	for k, v := range kv {
		switch k {
		case "self":
			cfg.Self, err = mustAddr(v)
		case "seeds":
			cfg.Seeds = nil
			for _, s := range strings.Split(v, ",") {
				a, e := mustAddr(s)
				if e != nil {
					err = e
				}
				cfg.Seeds = append(cfg.Seeds, a)
			}
		case "target":
			num(v, &cfg.Target)
		case "sign":
			cfg.Sign = v == "on"
		case "rng":
			a, b, _ := strings.Cut(v, ",")
			if s1, err = strconv.ParseUint(a, 10, 64); err == nil {
				s2, err = strconv.ParseUint(b, 10, 64)
			}
		case "gossip":
			dur(v, &cfg.GossipInterval)
		case "count":
			num(v, &cfg.GossipCount)
		case "delay":
			dur(v, &cfg.GossipDelay)
		case "live":
			dur(v, &cfg.LivenessInterval)
		case "misses":
			num(v, &cfg.LivenessMisses)
		case "maxpeers":
			num(v, &cfg.MaxPeers)
		case "maxknown":
			num(v, &cfg.MaxKnown)
		case "refresh":
			dur(v, &cfg.RefreshInterval)
		case "retrymin":
			dur(v, &cfg.RetryMin)
		case "retrymax":
			dur(v, &cfg.RetryMax)
		case "handshake":
			dur(v, &cfg.HandshakeTimeout)
		case "fill":
			dur(v, &cfg.FillInterval)
		case "ttl":
			dur(v, &cfg.MessageTTL)
		case "maxorigins":
			num(v, &cfg.MaxOrigins)
		case "broadcast":
			cfg.Broadcast, err = ParseBroadcast(v)
		case "lazy":
			dur(v, &cfg.LazyInterval)
		case "graft":
			dur(v, &cfg.GraftTimeout)
		case "cache":
			num(v, &cfg.CacheSize)
		case "cachetime":
			dur(v, &cfg.CacheTime)
		case "maxmissing":
			num(v, &cfg.MaxMissing)
		default:
			return cfg, nil, fmt.Errorf("unknown config key %q", k)
		}
		if err != nil {
			return cfg, nil, fmt.Errorf("%s=%s: %w", k, v, err)
		}
	}
	return cfg, rand.New(rand.NewPCG(s1, s2)), nil
}
