package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/whispernet/whispernet"
	"github.com/whispernet/whispernet/config"
	"github.com/whispernet/whispernet/eventlog"
	"github.com/whispernet/whispernet/node"
	"github.com/whispernet/whispernet/status"
	"github.com/whispernet/whispernet/wire"
)

func init() {
	register("peer", "start one peer node (asks for the port on a terminal if --port is not given)", runPeer)
}

const peerAbout = `
Starts one peer (the classic peer.py). It registers with a random majority
(⌊n/2⌋+1) of the seeds in the config file, takes the union of their peer
lists, links to peers up to its capacity (drawn from a power law unless
--target is set), generates --gossip-count messages every --gossip-interval,
forwards every message it receives for the first time to all neighbours but
the sender, and checks its neighbours every --liveness-interval; one that
misses --liveness-misses requests in a row is reported dead to the seeds and
replaced. Events go to outputfile.log and degree changes to freqtrack.log in
--log-dir (events are echoed here).

Runs until interrupted. On Ctrl+C or SIGTERM it leaves gracefully: it tells
its neighbours and seeds (Leaving:IP:PORT), which drop it at once instead of
waiting for liveness checks, then exits.`

func runPeer(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("peer", "peer --port PORT [--ip IP] | --listen HOST:PORT [--advertise HOST:PORT] [--config config.txt] [flags]", peerAbout, stdio)
	d := node.DefaultPeerConfig()
	port := fs.Int("port", 0, "port to listen on (1-65535); asked for on a terminal when omitted")
	ipText := fs.String("ip", "127.0.0.1", "IP address to listen on and announce")
	cfgPath := fs.String("config", "config.txt", "seed list: one HOST:PORT per line (IP or host name)")
	af := addAddrFlags(fs, "peer", 5000)
	logDir := fs.String("log-dir", ".", "directory for outputfile.log and freqtrack.log")
	quiet := fs.Bool("quiet", false, "do not echo log lines to standard output")
	keyPath := fs.String("key", "", "the node's key file (Ed25519, PKCS#8 PEM), created with mode 0600 if missing; empty: a new key each start")
	httpAddr := fs.String("http", "", "serve /metrics, /status, /healthz and /debug/pprof on this address (e.g. 127.0.0.1:9000)")
	publishStdin := fs.Bool("publish-stdin", false, "publish each line of standard input as a gossip message (for scripts: echo hello | whispernet peer ... --publish-stdin)")
	leaveTimeout := fs.Duration("leave-timeout", 5*time.Second, "on Ctrl+C or SIGTERM, wait this long for the seeds to acknowledge the leave")
	pf := addPeerFlags(fs, d.Core)
	if code, done := parseNoArgs(fs, args, stdio); done {
		return code
	}
	ip, err := wire.ParseIP(*ipText)
	if err != nil {
		if a, perr := netip.ParseAddr(*ipText); perr == nil && a.Is6() {
			ip = a // accept a bare IPv6 on the command line
		} else {
			return usageErr(stdio, "peer", "--ip: %v", err)
		}
	}
	named := af.listen != "" || af.advertise != ""
	if named && (isSet(fs, "port") || isSet(fs, "ip")) {
		return usageErr(stdio, "peer", "give --listen/--advertise or --ip/--port, not both")
	}
	if !isSet(fs, "port") && !named {
		if !isTerminal(stdio.In) {
			return usageErr(stdio, "peer", "--port is required when standard input is not a terminal")
		}
		p, err := askPort(stdio)
		if err != nil {
			return usageErr(stdio, "peer", "%v", err)
		}
		*port = p
	}
	var classic netip.AddrPort
	if !named {
		if *port < 1 || *port > 65535 {
			return usageErr(stdio, "peer", "--port %d is not in 1-65535", *port)
		}
		classic = netip.AddrPortFrom(ip, uint16(*port))
	}
	listen, self, _, err := af.resolve(ctx, classic)
	if err != nil {
		return usageErr(stdio, "peer", "%v", err)
	}
	list, err := config.LoadSeedList(*cfgPath)
	if err != nil {
		return fail(stdio, "peer", err)
	}
	seeds, names, err := resolveSeeds(ctx, list, af.resolveWait)
	if err != nil {
		return fail(stdio, "peer", err)
	}
	cfg := whispernet.DefaultConfig()
	cfg.Listen, cfg.Advertise = listen.String(), self.String()
	for _, a := range seeds {
		cfg.Seeds = append(cfg.Seeds, a.String())
	}
	pf.applyConfig(&cfg)
	key, err := loadKey(stdio, "peer", *keyPath)
	if err != nil {
		return fail(stdio, "peer", err)
	}
	echo := stdio.Out
	if *quiet {
		echo = nil
	}
	lw, err := eventlog.OpenEcho(*logDir, echo)
	if err != nil {
		return fail(stdio, "peer", err)
	}
	defer lw.Close()
	cfg.EventLog = lw
	reg := status.NewRegistry()
	cfg.Key = key
	cfg.Runtime = func(rc *node.PeerConfig) {
		rc.SeedNames = names // the seeds were resolved above; look names up again when one is lost
		rc.Hooks.Deliver = func(self, from netip.AddrPort, m wire.Message, at time.Time) {
			if from != self {
				reg.ObserveDelivery(m.Time.Time(), at)
			}
		}
	}
	n, err := whispernet.New(cfg)
	if err != nil {
		return usageErr(stdio, "peer", "%v", err)
	}
	// The node outlives ctx (Start's ctx bounds only the start): when ctx
	// ends (Ctrl+C, SIGTERM) it leaves gracefully below.
	if err := n.Start(ctx); err != nil {
		return fail(stdio, "peer", err)
	}
	defer n.Close()
	if *httpAddr != "" {
		reg.AddPeer(n.Runtime())
		bound, err := serveHTTP(ctx, *httpAddr, statusMux(reg))
		if err != nil {
			return fail(stdio, "peer", err)
		}
		fmt.Fprintf(stdio.Err, "whispernet peer: metrics and status on http://%s/\n", bound)
	}
	fmt.Fprintf(stdio.Err, "whispernet peer: node ID %s, public key %s\n", key.ID(), key.Public())
	as := ""
	if listen != self {
		as = fmt.Sprintf(" (listening on %s)", listen)
	}
	fmt.Fprintf(stdio.Err, "whispernet peer: %s%s running with %d seed(s) in %s; logs in %s; Ctrl+C to stop\n", n.Addr(), as, len(seeds), *cfgPath, *logDir)
	if *publishStdin {
		// Lines are published in order, each once; the end of the input
		// only ends the publishing (the peer runs on until interrupted).
		go func() {
			sc := bufio.NewScanner(stdio.In)
			sc.Buffer(make([]byte, 0, 4096), whispernet.MaxPayload)
			for sc.Scan() {
				if err := n.Publish(ctx, []byte(sc.Text())); err != nil {
					fmt.Fprintf(stdio.Err, "whispernet peer: publish: %v\n", err)
					return
				}
			}
		}()
	}
	select {
	case <-n.Done():
	case <-ctx.Done():
		lctx, cancel := context.WithTimeout(context.Background(), *leaveTimeout)
		err := n.Leave(lctx)
		cancel()
		if err != nil {
			fmt.Fprintf(stdio.Err, "whispernet peer: %v (stopped anyway)\n", err)
		} else {
			fmt.Fprintf(stdio.Err, "whispernet peer: %s left the network\n", n.Addr())
		}
	}
	return ExitOK
}

// askPort prompts for the port, as the classic peer.py did.
func askPort(stdio Stdio) (int, error) {
	fmt.Fprint(stdio.Err, "Enter port: ")
	line, err := bufio.NewReader(stdio.In).ReadString('\n')
	if err != nil && line == "" {
		return 0, errors.New("no port given")
	}
	p, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("port %q is not in 1-65535", strings.TrimSpace(line))
	}
	return p, nil
}
