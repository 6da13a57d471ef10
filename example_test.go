package whispernet_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/whispernet/whispernet"
	"github.com/whispernet/whispernet/node/memnet"
)

// localConfig is a node of a small network on this machine: it knows the
// seed, links to two others, and uses timers short enough that the
// network forms and notices a departure within a fraction of a second
// (the defaults suit real networks: liveness every 13 s).
func localConfig(seed string) whispernet.Config {
	cfg := whispernet.DefaultConfig() // listens on 127.0.0.1, a free port
	cfg.Seeds = []string{seed}
	cfg.Target = 2
	cfg.FillInterval = 50 * time.Millisecond
	cfg.RetryMin, cfg.RetryMax = 20*time.Millisecond, 200*time.Millisecond
	cfg.LivenessInterval = 200 * time.Millisecond
	return cfg
}

// waitForNeighbours polls until n has want neighbours.
func waitForNeighbours(n *whispernet.Node, want int) {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		count := 0
		for _, m := range n.Members() {
			if m.State == whispernet.StateNeighbour {
				count++
			}
		}
		if count == want {
			return
		}
	}
	log.Fatalf("%s: not %d neighbours after 10 s", n.Addr(), want)
}

// A seed and three nodes in one process: one node publishes, the two
// others receive the message, and then one node leaves.
func Example() {
	ctx := context.Background()
	seed, err := whispernet.NewSeed(whispernet.DefaultSeedConfig())
	if err != nil {
		log.Fatal(err)
	}
	if err := seed.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer seed.Close()

	name := map[string]string{} // address -> name, since the ports are picked at random
	var nodes []*whispernet.Node
	for _, who := range []string{"ann", "bob", "cat"} {
		n, err := whispernet.New(localConfig(seed.Addr()))
		if err != nil {
			log.Fatal(err)
		}
		n.Messages() // subscribe before Start, to miss nothing
		if err := n.Start(ctx); err != nil {
			log.Fatal(err)
		}
		defer n.Close()
		name[n.Addr()] = who
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		waitForNeighbours(n, 2)
	}
	ann, bob, cat := nodes[0], nodes[1], nodes[2]

	if err := ann.Publish(ctx, []byte("hello from ann")); err != nil {
		log.Fatal(err)
	}
	for _, n := range []*whispernet.Node{bob, cat} {
		m := <-n.Messages()
		fmt.Printf("%s received %q from %s (message %d)\n", name[n.Addr()], m.Data, name[m.Origin], m.Seq)
	}

	// cat leaves: it tells its neighbours and the seed, which drop it at
	// once (a crash, Close, would be found by the liveness checks).
	if err := cat.Leave(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("the seed lists", len(seed.Members()), "nodes")
	for _, n := range []*whispernet.Node{ann, bob} {
		for e := range n.Events() {
			if e.Kind == whispernet.EventJoin {
				continue // the joins that formed the network
			}
			fmt.Printf("%s: %s %s\n", name[n.Addr()], name[e.Addr], e.Kind)
			break
		}
	}
	// Output:
	// bob received "hello from ann" from ann (message 1)
	// cat received "hello from ann" from ann (message 1)
	// the seed lists 2 nodes
	// ann: cat leave
	// bob: cat leave
}

// Any bytes up to MaxPayload travel unchanged: here a binary record with
// a newline, a colon and a zero byte in it, which the classic text line
// could not carry.
func ExampleNode_Publish() {
	ctx := context.Background()
	seed, err := whispernet.NewSeed(whispernet.DefaultSeedConfig())
	if err != nil {
		log.Fatal(err)
	}
	if err := seed.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer seed.Close()
	var nodes []*whispernet.Node
	for range 2 {
		cfg := localConfig(seed.Addr())
		cfg.Target = 1
		n, err := whispernet.New(cfg)
		if err != nil {
			log.Fatal(err)
		}
		n.Messages()
		if err := n.Start(ctx); err != nil {
			log.Fatal(err)
		}
		defer n.Close()
		nodes = append(nodes, n)
	}
	waitForNeighbours(nodes[0], 1)

	if err := nodes[0].Publish(ctx, []byte("id:7\n\x00\xff")); err != nil {
		log.Fatal(err)
	}
	m := <-nodes[1].Messages()
	fmt.Printf("%q, %d bytes, %d hop(s)\n", m.Data, len(m.Data), m.Hops)

	err = nodes[0].Publish(ctx, make([]byte, whispernet.MaxPayload+1))
	fmt.Println(err)
	// Output:
	// "id:7\n\x00\xff", 7 bytes, 1 hop(s)
	// whispernet: payload too large: 65537 bytes, limit 65536
}

// A whole network in memory, for tests: the nodes and the seed share a
// memnet.Network instead of TCP, so nothing binds a port and the addresses
// are the ones asked for.
func ExampleConfig_transport() {
	ctx := context.Background()
	var network memnet.Network // the zero value is ready to use

	scfg := whispernet.DefaultSeedConfig()
	scfg.Listen, scfg.Transport = "10.0.0.1:8080", &network
	seed, err := whispernet.NewSeed(scfg)
	if err != nil {
		log.Fatal(err)
	}
	if err := seed.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer seed.Close()

	var nodes []*whispernet.Node
	for _, addr := range []string{"10.0.0.2:5000", "10.0.0.3:5000"} {
		cfg := localConfig(seed.Addr())
		cfg.Listen, cfg.Transport, cfg.Target = addr, &network, 1
		n, err := whispernet.New(cfg)
		if err != nil {
			log.Fatal(err)
		}
		n.Messages()
		if err := n.Start(ctx); err != nil {
			log.Fatal(err)
		}
		defer n.Close()
		nodes = append(nodes, n)
	}
	waitForNeighbours(nodes[1], 1)
	fmt.Println(seed.Members())
	for _, m := range nodes[1].Members() {
		fmt.Println(nodes[1].Addr(), "has", m.State, m.Addr)
	}
	// Output:
	// [10.0.0.2:5000 10.0.0.3:5000]
	// 10.0.0.3:5000 has neighbour 10.0.0.2:5000
}
