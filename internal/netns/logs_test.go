package netns_test

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// tracker follows the outputfile.log and freqtrack.log files of every node
// of a lab (each node writes its own, in its own directory) and keeps what
// the test asserts on: which seed lists which peer, every removal and why,
// every first receipt of a message, degrees, links and dead declarations,
// with the times the nodes logged them.
type tracker struct {
	mu      sync.Mutex
	offsets map[string]int64
	rest    map[string]string // an incomplete last line, per file

	listed    map[string]map[string]bool // seed -> peer -> listed now
	removals  []removal
	received  map[string]map[string][]time.Time // peer -> text -> receipt times
	generated map[string]time.Time              // text -> when its origin published it
	degree    map[string]int                    // peer -> degree (freqtrack)
	linked    map[string][]time.Time            // peer -> times a link came up
	declared  []declaration                     // "neighbour X is dead"
	starts    map[string]int                    // seed -> times it logged that it started
	adj       map[string]map[string]bool        // peer -> its neighbours, as its own log tells
	saidLeft  []declaration                     // "neighbour X left"
}

type removal struct {
	seed, peer, why string // why: "dead", "left", "expired"
	at              time.Time
}

type declaration struct {
	by, about string
	at        time.Time
}

func newTracker() *tracker {
	return &tracker{
		offsets: map[string]int64{}, rest: map[string]string{},
		listed: map[string]map[string]bool{}, received: map[string]map[string][]time.Time{},
		generated: map[string]time.Time{}, degree: map[string]int{}, linked: map[string][]time.Time{}, starts: map[string]int{}, adj: map[string]map[string]bool{},
	}
}

// poll reads what the files gained since the last call.
func (t *tracker) poll(files []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			continue // not written yet
		}
		f.Seek(t.offsets[path], io.SeekStart)
		r := bufio.NewReader(f)
		for {
			chunk, err := r.ReadString('\n')
			t.offsets[path] += int64(len(chunk))
			if err != nil {
				t.rest[path] += chunk
				break
			}
			line := t.rest[path] + strings.TrimSuffix(chunk, "\n")
			t.rest[path] = ""
			if strings.HasSuffix(path, "freqtrack.log") {
				t.degreeLine(line)
			} else {
				t.event(line, strings.Contains(path, "/seed-"))
			}
		}
		f.Close()
	}
}

func (t *tracker) degreeLine(line string) {
	addr, d, ok := strings.Cut(line, "=>")
	if n, err := strconv.Atoi(d); ok && err == nil {
		t.degree[addr] = n
	}
}

// event parses "<unix seconds>:<IP:PORT> <text>", a seed's line or a
// peer's.
func (t *tracker) event(line string, seed bool) {
	tsText, rest, ok := strings.Cut(line, ":")
	if !ok {
		return
	}
	self, text, ok := strings.Cut(rest, " ")
	if !ok {
		return
	}
	sec, err := strconv.ParseFloat(tsText, 64)
	if err != nil {
		return
	}
	at := time.Unix(0, int64(sec*1e9))
	word := func(prefix string) (string, bool) {
		r, ok := strings.CutPrefix(text, prefix)
		if !ok {
			return "", false
		}
		w, _, _ := strings.Cut(r, " ")
		return strings.TrimSuffix(w, ":"), true
	}
	if !seed {
		t.peerEvent(self, text, at, word)
		return
	}
	if strings.HasPrefix(text, "seed listening on") {
		t.listed[self] = map[string]bool{} // a (re)started seed knows nobody
		t.starts[self]++
		return
	}
	if p, ok := word("registered "); ok && strings.Contains(text, "(peer list size") {
		if t.listed[self] == nil {
			t.listed[self] = map[string]bool{}
		}
		t.listed[self][p] = true
		return
	}
	for _, r := range []struct{ prefix, why string }{{"removed dead node ", "dead"}, {"peer ", "left"}, {"expired ", "expired"}} {
		if p, ok := word(r.prefix); ok && (r.why != "left" || strings.Contains(text, " left")) {
			delete(t.listed[self], p)
			t.removals = append(t.removals, removal{seed: self, peer: p, why: r.why, at: at})
			return
		}
	}
}

func (t *tracker) peerEvent(self, text string, at time.Time, word func(string) (string, bool)) {
	if t.adj[self] == nil {
		t.adj[self] = map[string]bool{}
	}
	// Links up and down, from the lines the peer core writes for them.
	if p, ok := word("connected to "); ok {
		t.adj[self][p] = true
	} else if p, ok := strings.CutSuffix(text, " is alive again; link restored"); ok {
		t.adj[self][p] = true
	} else if p, ok := word("connection to "); ok && strings.Contains(text, " closed; checking") {
		delete(t.adj[self], p)
	} else if p, ok := word("neighbour "); ok {
		delete(t.adj[self], p)
	} else if p, ok := word("cutting off "); ok {
		delete(t.adj[self], p)
	} else if text == "stopped" || strings.HasPrefix(text, "leaving:") {
		t.adj[self] = map[string]bool{}
	}
	if msg, ok := strings.CutPrefix(text, "received "); ok {
		if i := strings.LastIndex(msg, " from "); i >= 0 {
			msg = msg[:i]
		}
		if t.received[self] == nil {
			t.received[self] = map[string][]time.Time{}
		}
		t.received[self][msg] = append(t.received[self][msg], at)
		return
	}
	if msg, ok := strings.CutPrefix(text, "generated "); ok {
		t.generated[msg] = at
		return
	}
	if strings.HasPrefix(text, "connected to ") || strings.HasSuffix(text, "is alive again; link restored") {
		t.linked[self] = append(t.linked[self], at)
		return
	}
	if p, ok := word("neighbour "); ok {
		switch {
		case strings.Contains(text, " is dead ("):
			t.declared = append(t.declared, declaration{by: self, about: p, at: at})
		case strings.Contains(text, " left; replacing it"):
			t.saidLeft = append(t.saidLeft, declaration{by: self, about: p, at: at})
		}
	}
}

// seedsListing returns the seeds that list peer now.
func (t *tracker) seedsListing(peer string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.seedsListingLocked(peer)
}

// receipts returns how often peer logged the first receipt of text.
func (t *tracker) receipts(peer, text string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.received[peer][text])
}

func (t *tracker) degreeOf(peer string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.degree[peer]
}

// linkedSince reports whether peer logged a link coming up after at.
func (t *tracker) linkedSince(peer string, at time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, x := range t.linked[peer] {
		if x.After(at) {
			return true
		}
	}
	return false
}

func (t *tracker) seedsListingLocked(peer string) []string {
	var out []string
	for s, m := range t.listed {
		if m[peer] {
			out = append(out, s)
		}
	}
	return out
}

// started returns how often seed has logged that it started.
func (t *tracker) started(seed string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.starts[seed]
}

// linkedBoth reports whether a and b each log the other as a neighbour.
func (t *tracker) linkedBothLocked(a, b string) bool { return t.adj[a][b] && t.adj[b][a] }

// reach returns the peers of among that from reaches over links both ends
// log as up, through peers of among only.
func (t *tracker) reach(from string, among []string) map[string]bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	in := map[string]bool{}
	for _, a := range among {
		in[a] = true
	}
	seen := map[string]bool{from: true}
	queue := []string{from}
	for len(queue) > 0 {
		a := queue[0]
		queue = queue[1:]
		for b := range t.adj[a] {
			if in[b] && !seen[b] && t.linkedBothLocked(a, b) {
				seen[b] = true
				queue = append(queue, b)
			}
		}
	}
	return seen
}
