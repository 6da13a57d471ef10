package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
)

// gossipSub runs go-libp2p-pubsub's GossipSub with its default settings
// (mesh degree D = 6, heartbeat 1 s, every message signed and verified):
// n libp2p hosts on loopback TCP, each subscribed to one topic. Each host
// dials degree/2 random others, so the mean connection count is about
// -degree, as WhisperNet's target degree; the mesh forms over them.
type gossipSub struct {
	hosts  []host.Host
	topics []*pubsub.Topic
	subs   []*pubsub.Subscription
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

const benchTopic = "whispernet-bench"

func (g *gossipSub) start(ctx context.Context, o options, n int, rec *recorder, log io.Writer) error {
	ctx, g.cancel = context.WithCancel(ctx)
	for i := range n {
		h, err := libp2p.New(
			libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
			libp2p.Transport(tcp.NewTCPTransport),
			libp2p.DisableRelay(),
		)
		if err != nil {
			return fmt.Errorf("host %d: %w", i, err)
		}
		g.hosts = append(g.hosts, h)
		ps, err := pubsub.NewGossipSub(ctx, h, pubsub.WithRawTracer(dupTracer{rec}))
		if err != nil {
			return fmt.Errorf("gossipsub %d: %w", i, err)
		}
		t, err := ps.Join(benchTopic)
		if err != nil {
			return err
		}
		sub, err := t.Subscribe()
		if err != nil {
			return err
		}
		g.topics, g.subs = append(g.topics, t), append(g.subs, sub)
		self := h.ID()
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			for {
				m, err := sub.Next(ctx)
				if err != nil {
					return
				}
				if m.ReceivedFrom == self {
					continue // its own publication
				}
				rec.deliver(parsePayload(m.Data), time.Now())
			}
		}()
		if (i+1)%100 == 0 || i+1 == n {
			fmt.Fprintf(log, "bench: gossipsub: %d/%d hosts started\n", i+1, n)
		}
	}
	// The graph: each host dials degree/2 distinct random others, at the
	// join rate.
	rng := rand.New(rand.NewPCG(o.seed, 0x6055))
	dials := max(o.degree/2, 1)
	gap := time.Duration(float64(time.Second) / o.joinRate)
	sem := make(chan struct{}, 32)
	var dialWG sync.WaitGroup
	var dialErrs atomic.Int32
	for i, h := range g.hosts {
		picked := map[int]bool{i: true}
		for len(picked) < min(dials+1, n) {
			j := rng.IntN(n)
			if picked[j] {
				continue
			}
			picked[j] = true
			target := peer.AddrInfo{ID: g.hosts[j].ID(), Addrs: g.hosts[j].Addrs()}
			sem <- struct{}{}
			dialWG.Add(1)
			go func() {
				defer func() { <-sem; dialWG.Done() }()
				if err := h.Connect(ctx, target); err != nil {
					dialErrs.Add(1)
				}
			}()
		}
		time.Sleep(gap)
	}
	dialWG.Wait()
	if k := dialErrs.Load(); k > 0 {
		fmt.Fprintf(log, "bench: gossipsub: %d dials failed\n", k)
	}
	// Formed once every host sees a subscribed peer and the connection
	// counts have been quiet for 2 s; then two more heartbeats for the
	// mesh to settle.
	var lastSum int
	lastChange := time.Now()
	err := waitFormed(ctx, o.formWait, log, "gossipsub", func() (int, time.Time) {
		linked, sum := 0, 0
		for i, t := range g.topics {
			if len(t.ListPeers()) > 0 {
				linked++
			}
			sum += len(g.hosts[i].Network().Peers())
		}
		if sum != lastSum {
			lastSum, lastChange = sum, time.Now()
		}
		return linked, lastChange
	}, n)
	if err != nil {
		return err
	}
	time.Sleep(2 * time.Second)
	return nil
}

func (g *gossipSub) publish(ctx context.Context, i int, data []byte) error {
	return g.topics[i].Publish(ctx, data)
}

func (g *gossipSub) avgDegree() float64 {
	total := 0
	for _, h := range g.hosts {
		total += len(h.Network().Peers())
	}
	return float64(total) / float64(max(len(g.hosts), 1))
}

func (g *gossipSub) close() {
	if g.cancel != nil {
		g.cancel()
	}
	for _, s := range g.subs {
		s.Cancel()
	}
	var wg sync.WaitGroup
	for _, h := range g.hosts {
		wg.Add(1)
		go func() { defer wg.Done(); h.Close() }()
	}
	wg.Wait()
	g.wg.Wait()
}

// dupTracer counts the duplicate copies a host receives (pubsub's
// DuplicateMessage trace event) and ignores every other event.
type dupTracer struct{ rec *recorder }

func (t dupTracer) DuplicateMessage(msg *pubsub.Message) { t.rec.duplicate(parsePayload(msg.Data)) }

func (dupTracer) OnNewOutboundStream(peer.ID, protocol.ID)             {}
func (dupTracer) OnClosedOutboundStream(peer.ID)                       {}
func (dupTracer) Join(string)                                          {}
func (dupTracer) Leave(string)                                         {}
func (dupTracer) Graft(peer.ID, string)                                {}
func (dupTracer) Prune(peer.ID, string)                                {}
func (dupTracer) ValidateMessage(*pubsub.Message)                      {}
func (dupTracer) DeliverMessage(*pubsub.Message)                       {}
func (dupTracer) RejectMessage(*pubsub.Message, string)                {}
func (dupTracer) ThrottlePeer(peer.ID)                                 {}
func (dupTracer) RecvRPC(*pubsub.RPC)                                  {}
func (dupTracer) SendRPC(*pubsub.RPC, peer.ID)                         {}
func (dupTracer) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}
func (dupTracer) DropRPC(*pubsub.RPC, peer.ID)                         {}
func (dupTracer) UndeliverableMessage(*pubsub.Message)                 {}
