package sim

import (
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/whispernet/whispernet/powerlaw"
	"github.com/whispernet/whispernet/summary"
)

// Report is what a run measured. Every number comes from virtual time and
// the run's RNG seed, so the same Config gives the same Report, byte for
// byte once encoded; wall-clock figures are not part of it.
type Report struct {
	// Peers is how many peers joined; Seeds how many seeds ran.
	Peers int `json:"peers"`
	Seeds int `json:"seeds"`
	// RandSeed is the run's RNG seed.
	RandSeed uint64 `json:"rand_seed"`
	// FormationS is when the overlay had formed, in seconds from the
	// first join: every peer had joined, none was isolated, all were in
	// one component, and over the last Config.Quiet fewer links had
	// changed than a hundredth of them. Nil if the formation timeout came
	// first. The gossip plan and the steps start then.
	FormationS *float64 `json:"formation_s"`

	// The overlay at the end of the run, over the live peers (neither
	// crashed nor frozen).
	Live       int          `json:"live"`
	Links      int          `json:"links"`
	Components int          `json:"components"`
	Degree     DegreeStats  `json:"degree"`
	Fit        *FitSummary  `json:"fit"` // nil when the degrees cannot be fitted
	Registry   RegistryInfo `json:"registry"`
	// BelowTarget counts the live peers below their target degree.
	BelowTarget int `json:"below_target"`

	// Messages is how many gossip messages were published; Complete how
	// many reached every peer alive throughout the run.
	Messages int `json:"messages"`
	Complete int `json:"complete"`
	// DeliveryRatio is the deliveries to peers alive throughout the run
	// (joined at the start, never crashed or frozen; the origin excluded)
	// divided by the deliveries expected, messages × such peers.
	DeliveryRatio float64 `json:"delivery_ratio"`
	// Coverage is the mean over messages of the share of the peers alive
	// throughout (the origin excluded) that received the message.
	Coverage float64 `json:"coverage"`
	// Deliveries counts first receipts (the origins' own excluded);
	// MaxHops is the most links a first receipt of a complete message
	// crossed.
	Deliveries uint64 `json:"deliveries"`
	MaxHops    int    `json:"max_hops"`
	// Duplicates counts second deliveries of one message to one peer,
	// which the protocol forbids: it must be 0.
	Duplicates uint64 `json:"duplicates"`
	// PropagationMs is the time a complete message took to reach the last
	// peer that received it.
	PropagationMs Quantiles `json:"propagation_ms"`
	// LDH is the last delivery hop: the links the last first receipt of a
	// complete message crossed, averaged over messages; LDHMax the largest.
	LDH    float64 `json:"ldh"`
	LDHMax int     `json:"ldh_max"`
	// RMR is the relative message redundancy, copies received ÷ (peers
	// reached − 1) − 1 per message, averaged over messages: 0 for a
	// spanning tree, about the mean degree − 2 for flooding.
	RMR float64 `json:"rmr"`
	// Lost counts messages lost to the loss rate.
	Lost uint64 `json:"lost"`

	// DetectionS is how long failures took to be detected, in seconds
	// from the crash or freeze: until every peer with a link to it had
	// declared it dead, and until no seed listed it any more.
	DetectionS Detection `json:"detection_s"`
	// Undetected counts failures some live neighbour never declared dead
	// or some seed still lists.
	Undetected int `json:"undetected"`
	// FalsePositives counts live peers declared dead (declarations, not
	// distinct peers).
	FalsePositives int `json:"false_positives"`
	// FalseRemovals counts seeds' removals of live peers from their lists.
	FalseRemovals int `json:"false_removals"`
	// Crashed and Frozen count the peers crashed and frozen.
	Crashed int `json:"crashed"`
	Frozen  int `json:"frozen"`

	// AfterFailure follows the messages published after the last crash or
	// freeze (nil if nothing was published after one): the Plumtree paper's
	// massive-failure experiment (docs/sim.md).
	AfterFailure *AfterFailure `json:"after_failure,omitempty"`

	// CPULines and CPUBacklogMaxS: with the finite-CPU model on
	// (Config.CPU), the lines the peers' CPU handled and the most work the
	// shared cores owed at once, in seconds.
	CPULines       int64    `json:"cpu_lines,omitempty"`
	CPUBacklogMaxS *float64 `json:"cpu_backlog_max_s,omitempty"`

	// Events is the number of events simulated; VirtualS the virtual time
	// the run covered, in seconds.
	Events   uint64  `json:"events"`
	VirtualS float64 `json:"virtual_s"`

	// Raw samples for plots; not part of the JSON report.
	Degrees       []int         `json:"-"` // degree of every live peer
	PowerLaw      *powerlaw.Fit `json:"-"` // the full fit behind Fit
	Propagation   []float64     `json:"-"` // ms, one per complete message
	ReceiptDelays []float64     `json:"-"` // ms, quantiles of every first receipt's delay
	Detections    []float64     `json:"-"` // s, neighbours' detection of each failure
	SeedDetection []float64     `json:"-"` // s, seeds' detection of each failure
	Reliability   []float64     `json:"-"` // per message after the last crash, in publication order (AfterFailure)
}

// AfterFailure is how broadcast fared after the last failure (see
// summary.AfterFailure).
type AfterFailure = summary.AfterFailure

// The parts of a report that package summary defines, under the names sim
// has always used.
type (
	// DegreeStats summarises the degrees of the live peers.
	DegreeStats = summary.Degree
	// FitSummary is the power-law fit of the live peers' degrees (see
	// package powerlaw): no numbers on a tail under summary.MinTail.
	FitSummary = summary.Fit
	// RegistryInfo checks the seeds' peer lists at the end.
	RegistryInfo = summary.Registry
	// Quantiles are nearest-rank quantiles of a sample.
	Quantiles = summary.Quantiles
	// Detection holds failure-detection times.
	Detection = summary.Detection
	// Quantiles2 is the median and maximum of a sample.
	Quantiles2 = summary.Quantiles2
)

// Summary is the report in the schema `whispernet net --json` prints too:
// the common fields at the top, the simulator's own in Summary.Sim.
func (r *Report) Summary() summary.Summary {
	return summary.Summary{Source: summary.SourceSim, Peers: r.Peers, Seeds: r.Seeds, RandSeed: r.RandSeed, FormationS: r.FormationS,
		Live: r.Live, Links: r.Links, Components: r.Components, Degree: r.Degree, BelowTarget: r.BelowTarget, Fit: r.Fit,
		Messages:      summary.Messages{Seen: r.Messages, Complete: r.Complete, Coverage: r.Coverage},
		PropagationMs: r.PropagationMs, Deliveries: r.Deliveries, MaxHops: r.MaxHops,
		FalseDeaths: summary.FalseDeaths{DeadReports: r.FalsePositives, SeedRemovals: r.FalseRemovals},
		Sim: &summary.Sim{DeliveryRatio: r.DeliveryRatio, Duplicates: r.Duplicates, Lost: r.Lost, LDH: r.LDH, LDHMax: r.LDHMax,
			RMR: r.RMR, DetectionS: r.DetectionS, Undetected: r.Undetected, Crashed: r.Crashed, Frozen: r.Frozen,
			Registry: r.Registry, AfterFailure: r.AfterFailure,
			CPULines: r.CPULines, CPUBacklogMaxS: r.CPUBacklogMaxS, Events: r.Events, VirtualS: r.VirtualS}}
}

func (w *world) report() *Report {
	r := &Report{Peers: w.joinedN, Seeds: len(w.seeds), RandSeed: w.cfg.RandSeed, Events: w.events, VirtualS: summary.Round(float64(w.now)/1000, 3)}
	if w.formedOK {
		f := summary.Round(float64(w.formed)/1000, 3)
		r.FormationS = &f
	}
	w.reportOverlay(r)
	w.reportGossip(r)
	w.reportFailures(r)
	w.reportAfterFailure(r)
	if w.cpuOn {
		r.CPULines = w.cpuLines
		b := summary.Round(float64(w.cpuMaxBacklog)/1e9, 3)
		r.CPUBacklogMaxS = &b
	}
	return r
}

// reportAfterFailure fills r.AfterFailure and r.Reliability.
func (w *world) reportAfterFailure(r *Report) {
	at, n := int64(-1), 0
	for i := range w.failures {
		if f := &w.failures[i]; f.at >= at {
			if f.at > at {
				at, n = f.at, 0
			}
			n++
		}
	}
	if at < 0 {
		return
	}
	live := w.liveMask()
	a := &AfterFailure{CrashedS: summary.Round(float64(at)/1000, 3), Crashed: n, Min: 1}
	var sum float64
	healed := 0 // the first message of the complete run at the end, 0 if none
	for gi := range w.msgs {
		m := &w.msgs[gi]
		if m.created < at {
			continue
		}
		g, wt := w.delivered(m, live)
		rel := 1.0
		if wt > 0 {
			rel = float64(g) / float64(wt)
		}
		a.Messages++
		r.Reliability = append(r.Reliability, rel)
		if a.Messages == 1 {
			a.First = summary.Round(rel, 6)
		}
		sum += rel
		a.Min = min(a.Min, summary.Round(rel, 6))
		switch {
		case g < wt:
			healed = 0
		case healed == 0:
			healed = a.Messages
		}
	}
	if a.Messages == 0 {
		r.Reliability = nil
		return
	}
	a.Mean = summary.Round(sum/float64(a.Messages), 6)
	if healed > 0 {
		a.HealedAfter = &healed
	}
	r.AfterFailure = a
}

func (w *world) reportOverlay(r *Report) {
	live := func(i int32) bool { return w.peers[i].state == psAlive }
	total := 0
	for j := range w.peers {
		p := &w.peers[j]
		if !live(int32(j)) {
			continue
		}
		r.Live++
		d := int(p.degree)
		r.Degrees = append(r.Degrees, d)
		if d < p.core.Target() {
			r.BelowTarget++
		}
		total += d
		for _, i := range p.in {
			if !live(i) {
				continue
			}
			// Count each link once: from its lower end, or from the only
			// end that has it.
			if int32(j) < i || !slices.Contains(w.peers[i].in, int32(j)) {
				r.Links++
			}
		}
	}
	r.Components = w.components()
	if len(r.Degrees) > 0 {
		r.Degree = DegreeStats{Min: slices.Min(r.Degrees), Max: slices.Max(r.Degrees), Avg: summary.Round(float64(total)/float64(len(r.Degrees)), 3)}
	}
	if fit, err := powerlaw.Estimate(r.Degrees); err == nil {
		r.PowerLaw = &fit
		r.Fit = summary.NewFit(fit)
	}
	for j := range w.peers {
		p := &w.peers[j]
		listed := false
		for k := range w.seeds {
			if w.seeds[k].core.Has(w.addrs[j]) {
				listed = true
				if p.fail >= 0 && !w.failures[p.fail].thawed {
					r.Registry.Stale++
				}
			}
		}
		if live(int32(j)) && !listed {
			r.Registry.Unlisted++
		}
	}
}

func (w *world) reportGossip(r *Report) {
	r.Messages = len(w.msgs)
	r.Duplicates = w.duplicates
	r.Lost = w.lost
	live := w.liveMask()
	got, want := 0, 0
	var ldh, rmr, coverage float64
	nRMR, covered := 0, 0
	for gi := range w.msgs {
		m := &w.msgs[gi]
		g, wt := w.delivered(m, live)
		got += g
		want += wt
		r.Deliveries += uint64(m.receipts)
		if wt > 0 {
			coverage += float64(g) / float64(wt)
			covered++
		}
		if m.receipts > 0 {
			rmr += float64(m.copies)/float64(m.receipts) - 1
			nRMR++
		}
		if g == wt && m.receipts > 0 {
			r.Complete++
			r.Propagation = append(r.Propagation, float64(m.last-m.created))
			ldh += float64(m.lastHops)
			r.LDHMax = max(r.LDHMax, int(m.lastHops))
			r.MaxHops = max(r.MaxHops, int(m.maxHops))
		}
	}
	if want > 0 {
		r.DeliveryRatio = summary.Round(float64(got)/float64(want), 6)
	}
	if covered > 0 {
		r.Coverage = summary.Round(coverage/float64(covered), 6)
	}
	if r.Complete > 0 {
		r.LDH = summary.Round(ldh/float64(r.Complete), 2)
	}
	if nRMR > 0 {
		r.RMR = summary.Round(rmr/float64(nRMR), 3)
	}
	sorted := slices.Clone(r.Propagation)
	sort.Float64s(sorted)
	r.PropagationMs = Quantiles{P50: summary.Quantile(sorted, 0.5), P99: summary.Quantile(sorted, 0.99), Max: summary.Quantile(sorted, 1)}
	// The receipt-delay histogram, as 1000 evenly spaced quantiles: a
	// faithful CDF without keeping every receipt.
	var n uint64
	for _, c := range w.hist {
		n += c
	}
	if n > 0 {
		const points = 1000
		k, seen := 0, uint64(0)
		for p := 1; p <= points; p++ {
			rank := (n*uint64(p) + points - 1) / points
			for seen+w.hist[k] < rank {
				seen += w.hist[k]
				k++
			}
			r.ReceiptDelays = append(r.ReceiptDelays, float64(k))
		}
	}
}

func (w *world) reportFailures(r *Report) {
	var nb, sd []float64
	for fi := range w.failures {
		f := &w.failures[fi]
		if f.crash {
			r.Crashed++
		} else {
			r.Frozen++
		}
		if f.thawed {
			continue
		}
		undetected := false
		if f.hadNbrs {
			switch {
			case f.nbrDone >= 0:
				nb = append(nb, float64(f.nbrDone-f.at)/1000)
			case w.pendingNeighbours(f) == 0:
				// The neighbours it still had failed themselves: the
				// others had all declared it.
				nb = append(nb, float64(f.lastDecl-f.at)/1000)
			default:
				undetected = true
			}
		}
		if f.hadSeeds {
			if f.seedDone >= 0 {
				sd = append(sd, float64(f.seedDone-f.at)/1000)
			} else {
				undetected = true
			}
		}
		if undetected {
			r.Undetected++
		}
	}
	r.FalsePositives, r.FalseRemovals = w.falsePositives, w.falseRemovals
	r.Detections, r.SeedDetection = nb, sd
	nb, sd = slices.Clone(nb), slices.Clone(sd)
	sort.Float64s(nb)
	sort.Float64s(sd)
	r.DetectionS = Detection{
		Neighbours: Quantiles2{P50: summary.Quantile(nb, 0.5), Max: summary.Quantile(nb, 1)},
		Seeds:      Quantiles2{P50: summary.Quantile(sd, 0.5), Max: summary.Quantile(sd, 1)},
	}
}

// WriteText writes the report for people, one topic a line.
func (r *Report) WriteText(w io.Writer) error {
	var err error
	pf := func(format string, args ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, args...)
		}
	}
	pf("network      %d peers, %d seeds (rand seed %d)\n", r.Peers, r.Seeds, r.RandSeed)
	if r.FormationS != nil {
		pf("formation    %.3f s\n", *r.FormationS)
	} else {
		pf("formation    not reached (formation timeout)\n")
	}
	pf("overlay      %d live peers, %d links, %d component(s); degree min %d avg %.2f max %d\n",
		r.Live, r.Links, r.Components, r.Degree.Min, r.Degree.Avg, r.Degree.Max)
	if f := r.Fit; f.Meaningful() {
		pf("power law    alpha %.3f  xmin %d  KS %.4f\n", *f.Alpha, f.Xmin, *f.KS)
	} else if f != nil {
		pf("power law    %s (xmin %d)\n", f.Note, f.Xmin)
	} else {
		pf("power law    too few distinct degrees to fit\n")
	}
	pf("gossip       %d messages, %d reached every live peer; delivery ratio %.6f; %d duplicate deliveries; %d lost in transit\n",
		r.Messages, r.Complete, r.DeliveryRatio, r.Duplicates, r.Lost)
	pf("propagation  p50 %.0f ms  p99 %.0f ms  max %.0f ms; last delivery hop %.2f (max %d); RMR %.3f\n",
		r.PropagationMs.P50, r.PropagationMs.P99, r.PropagationMs.Max, r.LDH, r.LDHMax, r.RMR)
	pf("failures     %d crashed, %d frozen, %d undetected, %d false positives", r.Crashed, r.Frozen, r.Undetected, r.FalsePositives)
	if r.FalseRemovals > 0 {
		// Only when there are any: the line of a run without stays as it
		// always was.
		pf(", %d seed removals of live peers", r.FalseRemovals)
	}
	pf("\n")
	if a := r.AfterFailure; a != nil {
		healed := "never"
		if a.HealedAfter != nil {
			healed = fmt.Sprintf("from message %d on", *a.HealedAfter)
		}
		pf("after crash  %d crashed at %.3f s; %d messages after: reliability first %.6f mean %.6f min %.6f; all delivered %s\n",
			a.Crashed, a.CrashedS, a.Messages, a.First, a.Mean, a.Min, healed)
	}
	pf("detection    neighbours p50 %.3f s  max %.3f s; seeds p50 %.3f s  max %.3f s\n",
		r.DetectionS.Neighbours.P50, r.DetectionS.Neighbours.Max, r.DetectionS.Seeds.P50, r.DetectionS.Seeds.Max)
	pf("registry     %d stale entries of failed peers, %d live peers unlisted\n", r.Registry.Stale, r.Registry.Unlisted)
	if r.CPUBacklogMaxS != nil {
		pf("cpu          %d lines handled; the shared cores owed at most %.3f s of work\n", r.CPULines, *r.CPUBacklogMaxS)
	}
	pf("simulated    %d events, %.3f s of virtual time\n", r.Events, r.VirtualS)
	return err
}
