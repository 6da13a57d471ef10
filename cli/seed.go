package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/whispernet/whispernet"
	"github.com/whispernet/whispernet/config"
	"github.com/whispernet/whispernet/eventlog"
	"github.com/whispernet/whispernet/identity"
	"github.com/whispernet/whispernet/node"
	"github.com/whispernet/whispernet/status"
)

func init() {
	register("seed", "start seed nodes: every seed of config.txt, or one with --listen", runSeed)
}

const seedAbout = `
Starts seed nodes, the bootstrap registry of WhisperNet. Without --listen
and --advertise it starts every seed listed in the config file (the classic
runner.py; they must be IP addresses of this machine); with them it starts
one seed: --listen 0.0.0.0:8080 --advertise seed-0:8080 in a container. Peers register with a seed, fetch its peer
list and report dead peers to it; the seed logs every change to
outputfile.log in --log-dir (and echoes it here). Talk to a seed by hand:

  nc 127.0.0.1 8080
  register:127.0.0.1:5000
  registered successfully
  peer list
  peer list:127.0.0.1#5000

Runs until interrupted (Ctrl+C or SIGTERM).`

func runSeed(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("seed", "seed [--config config.txt | --listen HOST:PORT [--advertise HOST:PORT]] [flags]", seedAbout, stdio)
	d := node.DefaultSeedConfig()
	cfgPath := fs.String("config", "config.txt", "seed list: one HOST:PORT [KEY] per line (IP or host name; KEY: the seed's public key, checked on its relays)")
	af := addAddrFlags(fs, "seed", 8080)
	logDir := fs.String("log-dir", ".", "directory for outputfile.log and freqtrack.log")
	perIP := fs.Int("max-conns-per-ip", d.MaxConnsPerIP, "open connections allowed from one remote IP")
	maxConns := fs.Int("max-conns", d.MaxConns, "open connections allowed in all, per seed")
	rate := fs.Float64("rate", d.Rate, "requests per second allowed on one connection (after a burst of --burst)")
	burst := fs.Int("burst", d.Burst, "request burst allowed on one connection")
	expiry := fs.Duration("expiry", d.Core.Expiry, "drop a registration not refreshed for this long (0: never)")
	probeTimeout := fs.Duration("probe-timeout", d.Core.ProbeTimeout, "a dead report removes a peer only if it does not answer the seed's own check within this long")
	quiet := fs.Bool("quiet", false, "do not echo log lines to standard output")
	keyPath := fs.String("key", "", "with --listen or --advertise: the seed's key file (Ed25519, PKCS#8 PEM), created with mode 0600 if missing")
	keyDir := fs.String("key-dir", "", "keep each seed's key in DIR/seed-IP-PORT.key (created with mode 0600 if missing); neither --key nor --key-dir: a new key each start")
	httpAddr := fs.String("http", "", "serve /metrics, /status, /healthz and /debug/pprof on this address (e.g. 127.0.0.1:9080)")
	if code, done := parseNoArgs(fs, args, stdio); done {
		return code
	}
	if *keyPath != "" && af.listen == "" && af.advertise == "" {
		return usageErr(stdio, "seed", "--key names one seed's key: use it with --listen or --advertise (or use --key-dir)")
	}
	keyFor := func(a netip.AddrPort) (*identity.Key, error) {
		switch {
		case *keyPath != "":
			return loadKey(stdio, "seed", *keyPath)
		case *keyDir != "":
			return loadKey(stdio, "seed", filepath.Join(*keyDir, seedKeyFile(a)))
		}
		return identity.Generate(nil)
	}
	limits := func(c *whispernet.SeedConfig) {
		c.MaxConnsPerIP, c.MaxConns, c.Rate, c.Burst, c.Expiry = *perIP, *maxConns, *rate, *burst, *expiry
		c.Runtime = func(rc *node.SeedConfig) { rc.Core.ProbeTimeout = *probeTimeout }
	}
	var err error
	if af.listen != "" || af.advertise != "" {
		listen, self, selfName, rerr := af.resolve(ctx, netip.AddrPort{})
		if rerr != nil {
			return usageErr(stdio, "seed", "%v", rerr)
		}
		// The config file, if present, names the other seeds, for relaying
		// removals; an explicit --config must be readable.
		var seeds []netip.AddrPort
		var names []config.HostPort
		var keys map[netip.AddrPort]identity.PublicKey
		if list, lerr := config.LoadSeedList(*cfgPath); lerr == nil {
			if seeds, names, err = resolveSeeds(ctx, list, af.resolveWait); err != nil {
				return fail(stdio, "seed", err)
			}
			keys = config.Keys(list, seeds)
			if names == nil {
				names = list
			}
		} else if isSet(fs, "config") {
			return fail(stdio, "seed", lerr)
		}
		if !slices.Contains(seeds, self) {
			seeds, names = append(seeds, self), append(names, selfName)
		}
		err = serveSeeds(ctx, stdio, []netip.AddrPort{self}, seeds, *logDir, *quiet, *httpAddr, keyFor, func(c *whispernet.SeedConfig) {
			limits(c)
			c.Listen = listen.String()
			probe := c.Runtime
			c.Runtime = func(rc *node.SeedConfig) {
				probe(rc)
				rc.SeedNames = names // resolved above; looked up again when lost
				rc.Core.SeedKeys = keys
			}
		})
	} else {
		var seeds []netip.AddrPort
		if seeds, err = config.LoadSeeds(*cfgPath); err != nil {
			if errors.Is(err, config.ErrHostName) {
				err = fmt.Errorf("%w (a seed named by host name is started alone: --listen 0.0.0.0:PORT --advertise NAME:PORT)", err)
			}
			return fail(stdio, "seed", err)
		}
		// The same file again, for the seed keys its lines may carry.
		list, lerr := config.LoadSeedList(*cfgPath)
		if lerr != nil {
			return fail(stdio, "seed", lerr)
		}
		keys := config.Keys(list, nil)
		err = serveSeeds(ctx, stdio, seeds, seeds, *logDir, *quiet, *httpAddr, keyFor, func(c *whispernet.SeedConfig) {
			limits(c)
			probe := c.Runtime
			c.Runtime = func(rc *node.SeedConfig) {
				probe(rc)
				rc.Core.SeedKeys = keys
			}
		})
	}
	if err != nil {
		return fail(stdio, "seed", err)
	}
	return ExitOK
}

// serveSeeds starts the seeds at addrs (all is the full seed list) and
// blocks until ctx ends.
func serveSeeds(ctx context.Context, stdio Stdio, addrs, all []netip.AddrPort, logDir string, quiet bool, httpAddr string, keyFor func(netip.AddrPort) (*identity.Key, error), tweak func(*whispernet.SeedConfig)) error {
	var echo = stdio.Out
	if quiet {
		echo = nil
	}
	lw, err := eventlog.OpenEcho(logDir, echo)
	if err != nil {
		return err
	}
	defer lw.Close()
	seeds, err := startSeeds(ctx, addrs, all, lw, keyFor, tweak)
	if err != nil {
		return err
	}
	defer func() {
		for _, s := range seeds {
			s.Close()
		}
	}()
	if httpAddr != "" {
		reg := status.NewRegistry()
		for _, s := range seeds {
			reg.AddSeed(s.Runtime())
		}
		bound, err := serveHTTP(ctx, httpAddr, statusMux(reg))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdio.Err, "whispernet seed: metrics and status on http://%s/\n", bound)
	}
	fmt.Fprintf(stdio.Err, "whispernet seed: %d seed(s) running; logs in %s; Ctrl+C to stop\n", len(seeds), logDir)
	<-ctx.Done()
	return nil
}

// startSeeds starts one seed per address; on failure it stops those
// already started.
func startSeeds(ctx context.Context, addrs, all []netip.AddrPort, lw *eventlog.Writer, keyFor func(netip.AddrPort) (*identity.Key, error), tweak func(*whispernet.SeedConfig)) ([]*whispernet.Seed, error) {
	var seeds []*whispernet.Seed
	for _, a := range addrs {
		cfg := whispernet.DefaultSeedConfig()
		key, err := keyFor(a)
		if err != nil {
			for _, o := range seeds {
				o.Close()
			}
			return nil, err
		}
		cfg.Listen, cfg.Advertise = a.String(), a.String()
		for _, o := range all {
			cfg.Peers = append(cfg.Peers, o.String())
		}
		cfg.EventLog = lw
		cfg.RandSeed = uint64(time.Now().UnixNano()) ^ uint64(a.Port())
		if tweak != nil {
			tweak(&cfg)
		}
		cfg.Key = key
		s, err := whispernet.NewSeed(cfg)
		if err == nil {
			err = s.Start(ctx)
		}
		if err != nil {
			for _, o := range seeds {
				o.Close()
			}
			return nil, err
		}
		seeds = append(seeds, s)
	}
	return seeds, nil
}

// seedKeyFile names a seed's key file in --key-dir: seed-127.0.0.1-8080.key
// (an IPv6 address with '_' for ':', which not every file system takes).
func seedKeyFile(a netip.AddrPort) string {
	ip := strings.ReplaceAll(a.Addr().String(), ":", "_")
	return fmt.Sprintf("seed-%s-%d.key", ip, a.Port())
}
