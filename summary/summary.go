// Package summary is the one schema of a run's summary: what `whispernet
// net --json` (real TCP peers on this machine) and `whispernet sim --json`
// (the same protocol cores in virtual time) print as their last line, so a
// script that reads one reads the other, and a run of one can be set beside
// a run of the other field by field.
//
// The fields of Summary itself mean the same for both commands. What only
// one side can measure lives in its own section: Net (process CPU and
// memory, links closed as too slow) and Sim (the simulator's delivery
// ratio, detection times, registry check and event count). A section is
// embedded, so its fields sit at the top level of the JSON object beside
// the common ones, and the other side's are absent: a script reads
// "slow_closes" from net and "delivery_ratio" from sim, and "messages" or
// "false_deaths" from either.
package summary

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat"

	"github.com/whispernet/whispernet/powerlaw"
)

// Sources of a summary.
const (
	SourceNet = "net"
	SourceSim = "sim"
)

// Summary is a run's summary.
type Summary struct {
	// Source is the command that measured: SourceNet or SourceSim.
	Source string `json:"source"`
	// Peers is how many peers started (net) or joined (sim); Seeds how
	// many seeds ran; RandSeed the run's random seed (0 in net: a fresh
	// random run).
	Peers    int    `json:"peers"`
	Seeds    int    `json:"seeds"`
	RandSeed uint64 `json:"rand_seed"`
	// FormationS is when the overlay had formed, in seconds from the
	// start: every peer started and none isolated, and the links had
	// settled (net: no link change for --stable-quiet; sim: one component
	// and under 1 % of the links changed over Config.Quiet). Nil when that
	// was not reached.
	FormationS *float64 `json:"formation_s"`

	// The overlay at the end of the run, over the live peers (net: started
	// and not killed; sim: neither crashed nor frozen).
	Live        int    `json:"live"`
	Links       int    `json:"links"`
	Components  int    `json:"components"`
	Degree      Degree `json:"degree"`
	BelowTarget int    `json:"below_target"` // live peers below their target degree
	// Fit is the power-law fit of the live peers' degrees; nil when the
	// degrees cannot be fitted at all (see NewFit for the rule on too few
	// points).
	Fit *Fit `json:"fit"`

	// Messages counts the gossip messages and how far they spread.
	Messages Messages `json:"messages"`
	// PropagationMs is the time a complete message took to reach the last
	// peer that received it, over the complete messages.
	PropagationMs Quantiles `json:"propagation_ms"`
	// Deliveries counts first receipts of messages, origins excluded.
	Deliveries uint64 `json:"deliveries"`
	// MaxHops is the most links any first receipt of a complete message
	// crossed.
	MaxHops int `json:"max_hops"`
	// FalseDeaths counts verdicts of death about peers that were alive.
	FalseDeaths FalseDeaths `json:"false_deaths"`

	// *Net holds what only `net` measures; nil from sim.
	*Net
	// *Sim holds what only `sim` measures; nil from net.
	*Sim
}

// Degree summarises the live peers' degrees.
type Degree struct {
	Min int     `json:"min"`
	Avg float64 `json:"avg"`
	Max int     `json:"max"`
}

// Quantiles are nearest-rank quantiles of a sample (0 when it is empty).
type Quantiles struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Messages says how far gossip spread.
type Messages struct {
	// Seen is how many distinct messages were published.
	Seen int `json:"seen"`
	// Complete is how many reached every peer they should have: net: every
	// peer live at the end; sim: every peer alive throughout the run (the
	// origin excluded in both).
	Complete int `json:"complete"`
	// Coverage is the mean, over the messages, of the share of those same
	// peers that received the message (1 when every message is complete,
	// 0 when there was none).
	Coverage float64 `json:"coverage"`
}

// FalseDeaths counts verdicts of death about peers that were alive: a
// neighbour's dead report (declarations, not distinct peers) and a seed's
// removal of the peer from its list. A peer that was killed (crashed) or
// frozen is not alive for this count; net also excuses the verdicts of the
// first GraceAfterThaw after a thaw, which a freeze caused.
type FalseDeaths struct {
	DeadReports  int `json:"dead_reports"`
	SeedRemovals int `json:"seed_removals"`
}

// Total is every false verdict.
func (f FalseDeaths) Total() int { return f.DeadReports + f.SeedRemovals }

// Net is what only `net` measures: the cost on this machine.
type Net struct {
	// SlowCloses counts links a peer closed because its neighbour made
	// no progress reading (node.PeerStats.SlowCloses); Demoted the gossip
	// lines announced instead of pushed because a neighbour's queue was
	// full (node.PeerStats.Demoted). Both summed over the running peers.
	SlowCloses uint64 `json:"slow_closes"`
	Demoted    uint64 `json:"demoted"`
	// CPUSeconds is the process CPU (user + system) of the net process
	// and all its worker processes over the whole run, the power-law
	// bootstrap of the summary excepted.
	CPUSeconds float64 `json:"cpu_s"`
	// CPUUsPerDelivery is CPUSeconds in microseconds divided by
	// Deliveries: the cost of one delivered message, everything the peers
	// do meanwhile (links, liveness, logs) included. 0 without deliveries.
	CPUUsPerDelivery float64 `json:"cpu_us_per_delivery"`
	// WritesPerDelivery and ReadsPerDelivery are the peers' system calls
	// to and from their neighbours (node.PeerStats.IO: reads that found
	// nothing, writes that found the socket full included) divided by
	// Deliveries; LinesPerWrite is the lines those writes carried, each.
	// 0 without deliveries or writes.
	WritesPerDelivery float64 `json:"writes_per_delivery"`
	ReadsPerDelivery  float64 `json:"reads_per_delivery"`
	LinesPerWrite     float64 `json:"lines_per_write"`
	// PeakRSSMB is the sum over the processes (the net process and each
	// worker) of each one's peak resident set, in MiB: an upper bound on
	// the peak of their total, since the peaks need not coincide.
	PeakRSSMB float64 `json:"peak_rss_mb"`
	// Processes is how many processes those figures cover.
	Processes int `json:"processes"`
	// CoverageOverTime samples the spread of gossip while the network ran
	// to its --duration (every --sample-every, and once at the end), so a
	// backlog that drains can be told from messages that are lost. Only
	// the end's sample when the run ended before it was stable.
	CoverageOverTime []CoverageSample `json:"coverage_over_time,omitempty"`
}

// CoverageSample is the spread of gossip at one moment of a net run.
type CoverageSample struct {
	// TS is seconds since the network started.
	TS float64 `json:"t_s"`
	// Seen, Complete and Coverage are Messages' counts at that moment;
	// Deliveries the first receipts so far.
	Seen       int     `json:"seen"`
	Complete   int     `json:"complete"`
	Coverage   float64 `json:"coverage"`
	Deliveries uint64  `json:"deliveries"`
}

// Sim is what only `sim` measures.
type Sim struct {
	// DeliveryRatio is the deliveries to peers alive throughout the run
	// divided by the deliveries expected (messages × such peers).
	DeliveryRatio float64 `json:"delivery_ratio"`
	// Duplicates counts second deliveries of one message to one peer
	// (the protocol forbids them: it must be 0); Lost the messages lost to
	// the loss rate.
	Duplicates uint64 `json:"duplicates"`
	Lost       uint64 `json:"lost"`
	// LDH is the last delivery hop of a complete message, averaged over
	// messages; LDHMax the largest.
	LDH    float64 `json:"ldh"`
	LDHMax int     `json:"ldh_max"`
	// RMR is the relative message redundancy: copies received ÷ (peers
	// reached − 1) − 1 per message, averaged over messages.
	RMR float64 `json:"rmr"`
	// DetectionS is how long failures took to be detected, in seconds.
	DetectionS Detection `json:"detection_s"`
	// Undetected counts failures some live neighbour never declared dead
	// or some seed still lists; Crashed and Frozen count the failures.
	Undetected int `json:"undetected"`
	Crashed    int `json:"crashed"`
	Frozen     int `json:"frozen"`
	// Registry checks the seeds' lists at the end.
	Registry Registry `json:"registry"`
	// AfterFailure follows the messages published after the last crash or
	// freeze; absent when nothing was published after one.
	AfterFailure *AfterFailure `json:"after_failure,omitempty"`
	// CPULines and CPUBacklogMaxS, with the finite-CPU model on: the
	// lines the peers' CPU handled, and the most work the shared cores
	// owed at once, in seconds.
	CPULines       int64    `json:"cpu_lines,omitempty"`
	CPUBacklogMaxS *float64 `json:"cpu_backlog_max_s,omitempty"`
	// Events is the number of events simulated; VirtualS the virtual time
	// covered, in seconds.
	Events   uint64  `json:"events"`
	VirtualS float64 `json:"virtual_s"`
}

// Detection holds failure-detection times: until every neighbour declared
// the failed peer dead, and until no seed listed it.
type Detection struct {
	Neighbours Quantiles2 `json:"neighbours"`
	Seeds      Quantiles2 `json:"seeds"`
}

// Quantiles2 is the median and maximum of a sample.
type Quantiles2 struct {
	P50 float64 `json:"p50"`
	Max float64 `json:"max"`
}

// Registry checks the seeds' peer lists at the end: Stale counts
// registrations of failed peers some seed still holds, Unlisted the live
// peers no seed lists.
type Registry struct {
	Stale    int `json:"stale"`
	Unlisted int `json:"unlisted"`
}

// MinTail is the fewest tail points (degrees ≥ xmin) from which a
// power-law fit is reported as a number. CSN09 (see package powerlaw)
// find the maximum-likelihood exponent reliable from about 50 tail points;
// below that its error is as large as the differences a fit is read for:
// the default 40-peer net run fits alpha 5.9 on a tail of 7 degrees.
const MinTail = 50

// Fit is a power-law fit of degrees, as a summary reports it. With fewer
// than MinTail points in the tail only Xmin, NTail and Note are given.
type Fit struct {
	Xmin  int `json:"xmin"`
	NTail int `json:"n_tail"`
	// Note says why the numbers are left out ("too few points ..."); empty
	// for a fit that stands.
	Note  string   `json:"note,omitempty"`
	Alpha *float64 `json:"alpha,omitempty"`
	KS    *float64 `json:"ks,omitempty"`
	// P is the bootstrap goodness-of-fit p (net, when it ran); RExp and
	// PExp the likelihood-ratio test against an exponential (net; R > 0
	// favours the power law).
	P    *float64 `json:"p,omitempty"`
	RExp *float64 `json:"lr_exponential_R,omitempty"`
	PExp *float64 `json:"lr_exponential_p,omitempty"`
}

// NewFit is the summary of fit. A tail shorter than MinTail gives a Fit
// without numbers and a Note saying so.
func NewFit(fit powerlaw.Fit) *Fit {
	f := &Fit{Xmin: fit.Xmin, NTail: fit.NTail}
	if fit.NTail < MinTail {
		f.Note = TooFewNote(fit.NTail)
		return f
	}
	f.Alpha, f.KS = ptr(Round(fit.Alpha, 4)), ptr(Round(fit.KS, 4))
	return f
}

// Meaningful reports whether the fit has numbers (NTail ≥ MinTail).
func (f *Fit) Meaningful() bool { return f != nil && f.Alpha != nil }

// TooFewNote is the sentence a report prints instead of a fit on n tail
// points.
func TooFewNote(n int) string {
	return fmt.Sprintf("too few points (n_tail %d, under %d) for a meaningful fit", n, MinTail)
}

// Quantile returns the q-quantile of sorted by the nearest-rank definition
// (gonum's stat.Empirical: the smallest value with at least a fraction q of
// the sample at or below it), or 0 for an empty sample. Both reports take
// their percentiles here, so a net run's p99 and a simulated run's mean the
// same thing. (The copies it replaced computed sorted[ceil(q·n)−1], the
// same rank: reports are unchanged.)
func Quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return stat.Quantile(q, stat.Empirical, sorted, nil)
}

// Round rounds x to digits decimals.
func Round(x float64, digits int) float64 {
	f := math.Pow(10, float64(digits))
	return math.Round(x*f) / f
}

func ptr[T any](v T) *T { return &v }

// AfterFailure is how broadcast fared after a simulated run's last crash
// or freeze (the Plumtree paper's massive-failure experiment): the
// reliability of each message published from then on (the fraction of the
// peers alive throughout, origin excluded, that delivered it), and how
// many messages it took until every later one reached all of them.
type AfterFailure struct {
	// CrashedS is when the last crash (or freeze) happened, in seconds
	// from the start; Crashed how many peers it took.
	CrashedS float64 `json:"crashed_s"`
	Crashed  int     `json:"crashed"`
	// Messages published after it; the reliability of the first, the
	// mean over all of them and the lowest.
	Messages int     `json:"messages"`
	First    float64 `json:"first"`
	Mean     float64 `json:"mean"`
	Min      float64 `json:"min"`
	// HealedAfter is the number of the first message (1 for the first
	// after the crash) from which every message reached every peer: 1 if
	// broadcast never faltered; nil if the last one still missed some.
	HealedAfter *int `json:"healed_after"`
}
