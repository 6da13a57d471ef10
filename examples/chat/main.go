// Command chat is a terminal chat over WhisperNet: every line you type
// reaches everyone else in the chat, and theirs appear here.
//
// Start the first one with a seed in the same process, then others that
// know the seed's address:
//
//	go run ./examples/chat -name ann -seed-listen 127.0.0.1:8080
//	go run ./examples/chat -name bob -seed 127.0.0.1:8080
//
// End with Ctrl+D (or Ctrl+C): the node leaves the network gracefully.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/whispernet/whispernet"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

// run is the whole program, with its input and output passed in so that
// a test can drive it.
func run(ctx context.Context, args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	name := fs.String("name", "", "your name in the chat (default: your address)")
	seedAddr := fs.String("seed", "", "address of a WhisperNet seed, IP:PORT")
	seedListen := fs.String("seed-listen", "", "run a seed in this process on IP:PORT (the first chat does)")
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on (port 0: any free port)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *seedListen != "" {
		scfg := whispernet.DefaultSeedConfig()
		scfg.Listen = *seedListen
		seed, err := whispernet.NewSeed(scfg)
		if err != nil {
			return err
		}
		if err := seed.Start(ctx); err != nil {
			return err
		}
		defer seed.Close()
		*seedAddr = seed.Addr()
		fmt.Fprintf(out, "* seed on %s: others join with -seed %s\n", seed.Addr(), seed.Addr())
	}
	if *seedAddr == "" {
		return fmt.Errorf("give -seed IP:PORT, or -seed-listen IP:PORT to run one")
	}

	cfg := whispernet.DefaultConfig()
	cfg.Listen = *listen
	cfg.Seeds = []string{*seedAddr}
	node, err := whispernet.New(cfg)
	if err != nil {
		return err
	}
	msgs, events := node.Messages(), node.Events()
	if err := node.Start(ctx); err != nil {
		return err
	}
	if *name == "" {
		*name = node.Addr()
	}
	fmt.Fprintf(out, "* %s joined as %s; type a line to send it, Ctrl+D to leave\n", *name, node.Addr())

	// Lines typed go out from their own goroutine; everything printed
	// comes from this one, so output lines never interleave.
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				return leave(node, out)
			}
			if strings.TrimSpace(line) == "" {
				continue
			}
			if err := node.Publish(ctx, []byte(*name+": "+line)); err != nil {
				fmt.Fprintln(out, "* not sent:", err)
			}
		case m := <-msgs:
			fmt.Fprintf(out, "%s\n", m.Data)
		case e := <-events:
			fmt.Fprintf(out, "* neighbour %s: %s\n", e.Addr, e.Kind)
		case <-ctx.Done():
			return leave(node, out)
		}
	}
}

// leave tells the neighbours and seeds that this node goes, giving them
// a few seconds at most.
func leave(node *whispernet.Node, out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Fprintln(out, "* leaving")
	return node.Leave(ctx)
}
