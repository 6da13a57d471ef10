package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// The workloads.
const (
	loadLight   = "light"
	loadClassic = "classic"
)

type workloadConfig struct {
	lightRate       float64
	lightDuration   time.Duration
	classicCount    int
	classicInterval time.Duration
}

// publication is one message of the plan: node publishes at offset from
// the start of the workload.
type publication struct {
	at   time.Duration
	node int
}

// plan returns the workload's publications in time order. It depends only
// on its arguments, so both engines run the same plan.
func plan(load string, n int, c workloadConfig, seed uint64) []publication {
	rng := rand.New(rand.NewPCG(seed, 0xbe9c4))
	var out []publication
	switch load {
	case loadLight:
		count := int(c.lightRate * c.lightDuration.Seconds())
		for k := range count {
			out = append(out, publication{at: time.Duration(float64(k) / c.lightRate * float64(time.Second)), node: rng.IntN(n)})
		}
	case loadClassic:
		// Each node starts at a random phase within the first interval,
		// as peers that came up at different times do: no burst of n
		// messages every interval.
		for i := range n {
			phase := time.Duration(rng.Int64N(int64(c.classicInterval)))
			for k := range c.classicCount {
				out = append(out, publication{at: phase + time.Duration(k)*c.classicInterval, node: i})
			}
		}
		slices.SortStableFunc(out, func(a, b publication) int { return int(a.at - b.at) })
	}
	return out
}

// payload is the message body for bench message id: short text, like a
// classic WhisperNet message, for both engines.
func payload(id int) []byte { return []byte("bench " + strconv.Itoa(id)) }

// parsePayload returns the id payload encodes, or -1.
func parsePayload(b []byte) int {
	s, ok := strings.CutPrefix(string(b), "bench ")
	if !ok {
		return -1
	}
	id, err := strconv.Atoi(s)
	if err != nil || id < 0 {
		return -1
	}
	return id
}

// msgStat follows one message.
type msgStat struct {
	sent      atomic.Int64 // Unix ns of the Publish call; 0 until published
	receivers atomic.Int32 // nodes it was delivered to, the origin excluded
	last      atomic.Int64 // Unix ns of the last delivery
	dups      atomic.Int64 // copies received again (duplicates)
}

// recorder collects deliveries from every node of an engine, concurrently.
type recorder struct {
	msgs []msgStat
	// hist counts deliveries by latency in milliseconds (the last bucket
	// holds everything beyond).
	hist [60001]atomic.Uint64
}

func newRecorder(messages int) *recorder { return &recorder{msgs: make([]msgStat, messages)} }

// deliver records the first delivery of message id to a node (not its
// origin) at t.
func (r *recorder) deliver(id int, t time.Time) {
	if id < 0 || id >= len(r.msgs) {
		return
	}
	m := &r.msgs[id]
	m.receivers.Add(1)
	ns := t.UnixNano()
	for {
		old := m.last.Load()
		if ns <= old || m.last.CompareAndSwap(old, ns) {
			break
		}
	}
	if sent := m.sent.Load(); sent > 0 {
		ms := min(max((ns-sent)/1e6, 0), int64(len(r.hist)-1))
		r.hist[ms].Add(1)
	}
}

// duplicate records a copy of message id that a node already had.
func (r *recorder) duplicate(id int) {
	if id >= 0 && id < len(r.msgs) {
		r.msgs[id].dups.Add(1)
	}
}

// complete reports how many messages reached all n-1 other nodes.
func (r *recorder) complete(n int) int {
	c := 0
	for i := range r.msgs {
		if int(r.msgs[i].receivers.Load()) >= n-1 {
			c++
		}
	}
	return c
}

// Result is one engine's run.
type Result struct {
	Engine string `json:"engine"`
	N      int    `json:"n"`
	Degree int    `json:"degree"` // the -degree asked for
	Load   string `json:"load"`
	// AvgDegree is the mean number of connections a node had when the
	// workload started (GossipSub: connected hosts; its mesh is a subset).
	AvgDegree float64 `json:"avg_degree"`
	// FormS is how long the nodes took to start and link.
	FormS float64 `json:"form_s"`
	// Messages were published; Complete reached every other node.
	Messages int `json:"messages"`
	Complete int `json:"complete"`
	// Coverage is the mean share of the other nodes a message reached.
	Coverage float64 `json:"coverage"`
	// AllMs are quantiles over complete messages of the time from the
	// publication until the last node had it, in ms.
	AllP50 float64 `json:"all_p50_ms"`
	AllP99 float64 `json:"all_p99_ms"`
	AllMax float64 `json:"all_max_ms"`
	// DeliveryP50 and P99 are over every delivery, in ms.
	DeliveryP50 float64 `json:"delivery_p50_ms"`
	DeliveryP99 float64 `json:"delivery_p99_ms"`
	// Deliveries counts first receipts; Duplicates copies received again.
	Deliveries uint64 `json:"deliveries"`
	Duplicates uint64 `json:"duplicates"`
	// RMR is the relative message redundancy, copies received ÷ (nodes
	// reached − 1) − 1, averaged over messages that reached two or more
	// nodes (0 for a spanning tree).
	RMR float64 `json:"rmr"`
	// CPUSeconds is the process CPU (user + system) from the first
	// publication until the end of the drain; TotalCPUSeconds the whole
	// process, start-up included. CPUUsPerDelivery is CPUSeconds per
	// delivery, in µs.
	CPUSeconds       float64 `json:"cpu_s"`
	TotalCPUSeconds  float64 `json:"total_cpu_s"`
	CPUUsPerDelivery float64 `json:"cpu_us_per_delivery"`
	// PeakRSSMB is the process's peak resident set, in MiB.
	PeakRSSMB float64 `json:"peak_rss_mb"`
	// WorkloadS is the wall time from the first publication until every
	// message was complete or the drain ran out.
	WorkloadS float64 `json:"workload_s"`
	// Late counts publications that started more than 100 ms after their
	// time in the plan (the engine's Publish could not keep up);
	// Unpublished those given up because they had not begun by the plan's
	// end plus the drain (they count as messages that reached nobody).
	Late        int `json:"late"`
	Unpublished int `json:"unpublished"`
}

// engine is one gossip implementation under test: n nodes in this
// process.
type engine interface {
	// start starts n nodes, links them and returns once the overlay has
	// formed (or form-timeout passed).
	start(ctx context.Context, o options, n int, rec *recorder, log io.Writer) error
	// publish has node i publish data.
	publish(ctx context.Context, i int, data []byte) error
	// avgDegree is the nodes' mean connection count now.
	avgDegree() float64
	close()
}

// runEngine runs the workload on one engine and measures it.
func runEngine(ctx context.Context, o options, name string, n int, load string, log io.Writer) (Result, error) {
	var e engine
	switch name {
	case engineWhisperNet:
		e = &whisperNet{}
	case engineGossipSub:
		e = &gossipSub{}
	default:
		return Result{}, fmt.Errorf("unknown engine %q", name)
	}
	return measure(ctx, o, e, name, n, load, log)
}

// measure runs the workload on e.
func measure(ctx context.Context, o options, e engine, name string, n int, load string, log io.Writer) (Result, error) {
	pubs := plan(load, n, o.load, o.seed)
	rec := newRecorder(len(pubs))
	r := Result{Engine: name, N: n, Degree: o.degree, Load: load, Messages: len(pubs)}
	t0 := time.Now()
	if err := e.start(ctx, o, n, rec, log); err != nil {
		e.close()
		return r, err
	}
	defer e.close()
	r.FormS = round(time.Since(t0).Seconds(), 2)
	r.AvgDegree = round(e.avgDegree(), 2)
	fmt.Fprintf(log, "bench: %s: %d nodes up and linked in %.1f s (mean degree %.2f); publishing %d messages (%s load)\n",
		name, n, r.FormS, r.AvgDegree, len(pubs), load)

	cpu0, _ := processUsage()
	start := time.Now()
	// An engine that cannot keep up must not stretch the run without
	// bound: publications not begun by the plan's end plus the drain are
	// given up (counted in Unpublished, and as reaching nobody), and
	// Publish calls still blocked then are cancelled.
	cutoff := start.Add(pubs[len(pubs)-1].at + o.drain)
	pubCtx, cancelPub := context.WithDeadline(ctx, cutoff)
	defer cancelPub()
	// Publications run on their own goroutines, so that a slow Publish
	// does not hold up the plan; at most 256 at once.
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	var late atomic.Int32
	var pubErr atomic.Value
publishing:
	for id, p := range pubs {
		if d := time.Until(start.Add(p.at)); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return r, ctx.Err()
			}
		}
		select {
		case sem <- struct{}{}:
		case <-pubCtx.Done():
			r.Unpublished = len(pubs) - id
			break publishing
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			now := time.Now()
			if now.Sub(start.Add(p.at)) > 100*time.Millisecond {
				late.Add(1)
			}
			rec.msgs[id].sent.Store(now.UnixNano())
			if err := e.publish(pubCtx, p.node, payload(id)); err != nil {
				pubErr.CompareAndSwap(nil, err)
			}
		}()
	}
	wg.Wait()
	if r.Unpublished > 0 {
		fmt.Fprintf(log, "bench: %s: %d publications not begun by the plan's end + drain: given up\n", name, r.Unpublished)
	}
	if err, _ := pubErr.Load().(error); err != nil {
		fmt.Fprintf(log, "bench: %s: a publication failed: %v\n", name, err)
	}
	// Drain: until every message reached every node, or the drain is over.
	deadline := time.Now().Add(o.drain)
	if cutoff.After(deadline) {
		deadline = cutoff
	}
	for time.Now().Before(deadline) && rec.complete(n) < len(pubs) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	r.WorkloadS = round(time.Since(start).Seconds(), 2)
	cpu1, rss := processUsage()
	r.CPUSeconds = round((cpu1 - cpu0).Seconds(), 3)
	r.TotalCPUSeconds = round(cpu1.Seconds(), 3)
	r.PeakRSSMB = round(float64(rss)/(1<<20), 1)
	r.Late = int(late.Load())
	summarise(&r, rec, n)
	fmt.Fprintf(log, "bench: %s: %d of %d messages complete, coverage %.4f, %.1f CPU-s\n", name, r.Complete, r.Messages, r.Coverage, r.CPUSeconds)
	return r, nil
}

// summarise fills r's delivery figures from rec.
func summarise(r *Result, rec *recorder, n int) {
	var all []float64
	var coverage, rmr float64
	nRMR := 0
	for i := range rec.msgs {
		m := &rec.msgs[i]
		recv := int(m.receivers.Load())
		dups := m.dups.Load()
		r.Deliveries += uint64(recv)
		r.Duplicates += uint64(dups)
		coverage += float64(recv) / float64(n-1)
		if recv >= n-1 && m.sent.Load() > 0 {
			r.Complete++
			all = append(all, float64(m.last.Load()-m.sent.Load())/1e6)
		}
		// Copies received = first receipts + duplicates; the origin's own
		// copy is neither. A spanning tree delivers each copy once.
		if recv >= 1 {
			rmr += float64(int64(recv)+dups)/float64(recv) - 1
			nRMR++
		}
	}
	if len(rec.msgs) > 0 {
		r.Coverage = round(coverage/float64(len(rec.msgs)), 4)
	}
	if nRMR > 0 {
		r.RMR = round(rmr/float64(nRMR), 3)
	}
	slices.Sort(all)
	r.AllP50, r.AllP99, r.AllMax = round(quantile(all, 0.5), 1), round(quantile(all, 0.99), 1), round(quantile(all, 1), 1)
	var total uint64
	for i := range rec.hist {
		total += rec.hist[i].Load()
	}
	rank := func(q float64) float64 {
		want := uint64(math.Ceil(q * float64(total)))
		var seen uint64
		for i := range rec.hist {
			seen += rec.hist[i].Load()
			if seen >= want && seen > 0 {
				return float64(i)
			}
		}
		return 0
	}
	if total > 0 {
		r.DeliveryP50, r.DeliveryP99 = rank(0.5), rank(0.99)
	}
	if r.Deliveries > 0 {
		r.CPUUsPerDelivery = round(r.CPUSeconds*1e6/float64(r.Deliveries), 2)
	}
}

// quantile returns the nearest-rank q-quantile of sorted xs (0 if empty).
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(xs)))) - 1
	return xs[max(i, 0)]
}

func round(x float64, digits int) float64 {
	f := math.Pow(10, float64(digits))
	return math.Round(x*f) / f
}

// writeTable prints the rows of one N and load side by side.
func writeTable(w io.Writer, rows []Result) {
	r0 := rows[0]
	fmt.Fprintf(w, "\n%d nodes, degree %d, %s load (%d messages)\n", r0.N, r0.Degree, r0.Load, r0.Messages)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "engine\tdegree\tcomplete\tcoverage\tall p50 ms\tall p99 ms\tall max ms\tdelivery p99 ms\tRMR\tCPU s\tµs/delivery\tpeak RSS MiB\tlate\tunpublished\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%.2f\t%d/%d\t%.4f\t%.1f\t%.1f\t%.1f\t%.0f\t%.3f\t%.2f\t%.2f\t%.0f\t%d\t%d\t\n",
			r.Engine, r.AvgDegree, r.Complete, r.Messages, r.Coverage, r.AllP50, r.AllP99, r.AllMax, r.DeliveryP99, r.RMR,
			r.CPUSeconds, r.CPUUsPerDelivery, r.PeakRSSMB, r.Late, r.Unpublished)
	}
	tw.Flush()
}
