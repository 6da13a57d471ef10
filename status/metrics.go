package status

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/whispernet/whispernet/node"

	"github.com/whispernet/whispernet/peer"
)

// metric describes one whispernet_* series family.
type metric struct {
	desc *prometheus.Desc
	kind prometheus.ValueType
}

func newMetric(name, help string, kind prometheus.ValueType, labels ...string) metric {
	return metric{prometheus.NewDesc("whispernet_"+name, help, append([]string{"node"}, labels...), nil), kind}
}

// The series, documented in docs/metrics.md.
var (
	mGenerated   = newMetric("gossip_generated_total", "Gossip messages this peer originated.", prometheus.CounterValue)
	mReceived    = newMetric("gossip_received_total", "First receipts of other peers' gossip messages.", prometheus.CounterValue)
	mForwarded   = newMetric("gossip_forwarded_total", "Gossip copies sent to neighbours (own messages included).", prometheus.CounterValue)
	mDuplicates  = newMetric("gossip_duplicates_total", "Gossip copies dropped because the message was already seen.", prometheus.CounterValue)
	mDropped     = newMetric("gossip_dropped_total", "Gossip messages dropped unseen: too old to de-duplicate (stale) or no room for another origin (overflow).", prometheus.CounterValue, "reason")
	mLiveSent    = newMetric("liveness_requests_total", "Liveness requests sent.", prometheus.CounterValue)
	mLiveReplies = newMetric("liveness_replies_total", "Liveness replies received.", prometheus.CounterValue)
	mLiveMisses  = newMetric("liveness_misses_total", "Liveness requests that went a full interval unanswered.", prometheus.CounterValue)
	mDeadSent    = newMetric("dead_reports_sent_total", "Neighbours this peer declared dead and reported to its seeds.", prometheus.CounterValue)
	mDeadGivenUp = newMetric("dead_reports_given_up_total", "Dead Node reports a peer dropped after its seed stayed unreachable through every retry.", prometheus.CounterValue)
	mDeadRecv    = newMetric("dead_reports_received_total", "Dead Node reports a seed received (relayed ones included).", prometheus.CounterValue)
	mDeadAcc     = newMetric("dead_reports_accepted_total", "Dead Node reports that removed a registered peer.", prometheus.CounterValue)
	mConnOpened  = newMetric("connections_opened_total", "Neighbour links a peer established.", prometheus.CounterValue)
	mConnRefused = newMetric("connections_refused_total", "Handshakes a peer refused, or client connections a seed refused over its limits.", prometheus.CounterValue)
	mDegree      = newMetric("degree", "Current number of neighbours.", prometheus.GaugeValue)
	mTarget      = newMetric("target_degree", "The peer's target degree (capacity drawn from the power law).", prometheus.GaugeValue)
	mMsgList     = newMetric("message_list_origins", "Origins tracked in the peer's message list.", prometheus.GaugeValue)
	mRegistry    = newMetric("registry_peers", "Peers registered with a seed.", prometheus.GaugeValue)
	mQueueDrops  = newMetric("writer_queue_drops_total", "Lines dropped because a neighbour's writer queue was full.", prometheus.CounterValue)
	mBadLines    = newMetric("bad_lines_total", "Malformed or over-long lines received.", prometheus.CounterValue)
	mRateLimited = newMetric("rate_limited_total", "Seed requests refused by the per-connection rate limit.", prometheus.CounterValue)
	mRegs        = newMetric("registrations_total", "Register requests a seed accepted (new and refreshed).", prometheus.CounterValue)
	mExpired     = newMetric("registrations_expired_total", "Registrations a seed dropped for want of refresh.", prometheus.CounterValue)
	mLazy        = newMetric("lazy_push_total", "Plumtree traffic: message IDs announced (ihave_sent) and asked for (graft_sent), messages sent in answer to grafts (graft_served), prunes sent (prune_sent), announcements ignored for a full missing table (missing_dropped).", prometheus.CounterValue, "kind")
	mUp          = newMetric("up", "1 for every node this process runs (role label: peer or seed; frozen peers report 0).", prometheus.GaugeValue, "role")
)

var allMetrics = []metric{mGenerated, mReceived, mForwarded, mDuplicates, mDropped, mLiveSent, mLiveReplies, mLiveMisses,
	mDeadSent, mDeadGivenUp, mDeadRecv, mDeadAcc, mConnOpened, mConnRefused, mDegree, mTarget, mMsgList, mRegistry, mQueueDrops,
	mBadLines, mRateLimited, mRegs, mExpired, mLazy, mUp}

// collector reads every node's counters at scrape time.
type collector struct{ r *Registry }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range allMetrics {
		ch <- m.desc
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	emit := func(m metric, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, v, labels...)
	}
	peers, seeds := c.r.nodes()
	for _, s := range seeds {
		a := s.Addr().String()
		st := s.Stats()
		emit(mUp, 1, a, "seed")
		emit(mRegistry, float64(len(s.Peers())), a)
		emit(mDeadRecv, float64(st.DeadReports), a)
		emit(mDeadAcc, float64(st.DeadAccepted), a)
		emit(mConnRefused, float64(st.ConnRefused), a)
		emit(mBadLines, float64(st.BadLines), a)
		emit(mRateLimited, float64(st.RateLimited), a)
		emit(mRegs, float64(st.Registrations), a)
		emit(mExpired, float64(st.Expired), a)
	}
	samples := make([]PeerSample, 0, len(peers))
	for _, p := range peers {
		if smp, ok := Sample(p); ok {
			samples = append(samples, smp)
		}
	}
	for _, fn := range c.r.samplerList() {
		samples = append(samples, fn()...)
	}
	for _, smp := range samples {
		a, core, st := smp.Addr, smp.Stats.Stats, smp.Stats
		deg, target, ml := smp.Degree, smp.Target, smp.MessageList
		up := 1.0
		if smp.Frozen {
			up = 0
		}
		emit(mUp, up, a, "peer")
		emit(mGenerated, float64(core.Generated), a)
		emit(mReceived, float64(core.Received), a)
		emit(mForwarded, float64(core.Forwarded), a)
		emit(mDuplicates, float64(core.Duplicates), a)
		emit(mDropped, float64(core.Stale), a, "stale")
		emit(mDropped, float64(core.Overflow), a, "overflow")
		emit(mLazy, float64(core.IHaveSent), a, "ihave_sent")
		emit(mLazy, float64(core.GraftSent), a, "graft_sent")
		emit(mLazy, float64(core.GraftServed), a, "graft_served")
		emit(mLazy, float64(core.PruneSent), a, "prune_sent")
		emit(mLazy, float64(core.MissingDropped), a, "missing_dropped")
		emit(mLiveSent, float64(core.LivenessSent), a)
		emit(mLiveReplies, float64(core.LivenessReply), a)
		emit(mLiveMisses, float64(core.LivenessMissed), a)
		emit(mDeadSent, float64(core.DeadReported), a)
		emit(mDeadGivenUp, float64(core.DeadGivenUp), a)
		emit(mConnOpened, float64(core.ConnsOpened), a)
		emit(mConnRefused, float64(core.ConnsRefused), a)
		emit(mDegree, float64(deg), a)
		emit(mTarget, float64(target), a)
		emit(mMsgList, float64(ml), a)
		emit(mQueueDrops, float64(st.QueueDrops), a)
		emit(mBadLines, float64(st.BadLines), a)
	}
}

// PeerSample is one peer's counters at one moment, the unit /metrics is
// built from: read from an in-process peer by Sample, or reported by a
// worker process of a large local network.
type PeerSample struct {
	Addr        string         `json:"addr"`
	Frozen      bool           `json:"frozen,omitempty"`
	Degree      int            `json:"degree"`
	Target      int            `json:"target"`
	MessageList int            `json:"message_list"`
	Stats       node.PeerStats `json:"stats"`
}

// Sample reads p's counters; false when p is not running.
func Sample(p *node.Peer) (PeerSample, bool) {
	if !p.Alive() {
		return PeerSample{}, false
	}
	smp := PeerSample{Addr: p.Addr().String()}
	if !p.Inspect(func(c *peer.Peer) {
		smp.Degree, smp.Target, smp.MessageList = c.Degree(), c.Target(), c.MessageListLen()
	}) {
		return PeerSample{}, false
	}
	smp.Stats = p.Stats()
	smp.Frozen = p.Frozen()
	return smp, true
}
