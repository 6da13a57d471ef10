package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/whispernet/whispernet/config"
	"github.com/whispernet/whispernet/status"
	"github.com/whispernet/whispernet/watch"
	"github.com/whispernet/whispernet/web"
)

func init() {
	register("watch", "serve the live dashboard of a network running elsewhere (containers, hosts), from its seeds and peers' /status", runWatch)
}

const watchAbout = `
Serves the live dashboard (docs/dashboard.md) of a network whose nodes run
elsewhere — containers, pods, other hosts — by watching it from outside:
every --interval it asks each seed of the config file for its peer list and
each listed peer for its /status at http://PEER-IP:--status-port/status (so
every peer must run with --http on that port). The page shows the overlay,
the degree distribution with its power-law fit, seeds up or down and an
event feed (joins, links, peers that stop answering, removals); it cannot
show gossip deliveries (they are not in /status) and its controls answer
that the nodes run elsewhere.

This is the dashboard service of deploy/compose.yaml (docs/deploy.md).

Examples:
  whispernet watch --config deploy/config.txt --http 0.0.0.0:7070
  whispernet watch --status-port 9000 --interval 2s`

func runWatch(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("watch", "watch [--config config.txt] [--status-port 9000] [--http ADDR]", watchAbout, stdio)
	cfgPath := fs.String("config", "config.txt", "seed list: one HOST:PORT per line; the seeds to ask for peer lists")
	statusPort := fs.Int("status-port", 9000, "the port every peer serves /status on (its --http port)")
	interval := fs.Duration("interval", time.Second, "time between two polls of the seeds and peers")
	timeout := fs.Duration("timeout", time.Second, "bound on each request; a peer whose /status does not answer in time is shown frozen")
	httpAddr := fs.String("http", defaultHTTP, "serve the dashboard, /metrics, /status and /healthz here")
	resolveWait := fs.Duration("resolve-timeout", 30*time.Second, "at start, keep looking up seed names that do not resolve yet for this long")
	if code, done := parseNoArgs(fs, args, stdio); done {
		return code
	}
	if *statusPort < 1 || *statusPort > 65535 {
		return usageErr(stdio, "watch", "--status-port %d is not in 1-65535", *statusPort)
	}
	if *interval <= 0 || *timeout <= 0 {
		return usageErr(stdio, "watch", "--interval and --timeout must be positive")
	}
	list, err := config.LoadSeedList(*cfgPath)
	if err != nil {
		return fail(stdio, "watch", err)
	}
	seeds, err := config.ResolveAll(ctx, nil, list, *resolveWait, time.Second)
	if err != nil {
		return fail(stdio, "watch", err)
	}
	w, err := watch.New(watch.Config{Seeds: seeds, StatusPort: uint16(*statusPort), Interval: *interval, Timeout: *timeout})
	if err != nil {
		return fail(stdio, "watch", err)
	}
	dash := web.New(w.Network(), web.Options{})
	defer dash.Close()
	// The dashboard's event streams never go idle: end them before the
	// HTTP server's graceful shutdown waits for idle connections.
	context.AfterFunc(ctx, func() { dash.Close() })
	bound, err := serveHTTP(ctx, *httpAddr, netHandler(dash, status.NewRegistry()))
	if err != nil {
		return fail(stdio, "watch", err)
	}
	fmt.Fprintf(stdio.Err, "whispernet watch: watching %d seed(s) of %s; live view at http://%s/\n", len(seeds), *cfgPath, bound)
	w.Run(ctx)
	return ExitOK
}
