package sim_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/whispernet/whispernet/sim"
)

// Run a 100-peer network: 5 origins publish 2 messages each once the
// overlay has formed, and nobody crashes.
func ExampleRun() {
	cfg := sim.DefaultConfig()
	cfg.Peers, cfg.Origins, cfg.Messages, cfg.Crash = 100, 5, 2, 0
	cfg.Peer.GossipInterval = time.Second
	r, err := sim.Run(context.Background(), cfg, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("peers:", r.Peers, "messages:", r.Messages)
	fmt.Println("delivery ratio:", r.DeliveryRatio, "duplicates:", r.Duplicates)
	// Output:
	// peers: 100 messages: 10
	// delivery ratio: 1 duplicates: 0
}

// A script: settings, timed steps and expected outcomes.
func ExampleParseScript() {
	s, err := sim.ParseScript(strings.NewReader(`
peers 100
origins 5
messages 2
gossip-interval 1s
crash 0
at 1s freeze 1
expect frozen = 1
expect false_deaths.dead_reports = 0
`), sim.DefaultConfig())
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := sim.Run(context.Background(), s.Config, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("failed expectations:", len(s.Check(r)))
	// Output:
	// failed expectations: 0
}
