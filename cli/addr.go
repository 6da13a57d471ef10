package cli

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/whispernet/whispernet/config"
	"github.com/whispernet/whispernet/wire"
)

// addrFlags are --listen, --advertise and --resolve-timeout, shared by peer
// and seed.
type addrFlags struct {
	listen, advertise string
	resolveWait       time.Duration
}

func addAddrFlags(fs *flag.FlagSet, role string, port int) *addrFlags {
	f := &addrFlags{}
	fs.StringVar(&f.listen, "listen", "", fmt.Sprintf("address to listen on, HOST:PORT (e.g. 0.0.0.0:%d in a container; a host name is looked up)", port))
	fs.StringVar(&f.advertise, "advertise", "", fmt.Sprintf("address the %s announces, HOST:PORT, what the others can reach (e.g. %s-3:%d; :%d is this machine's host name; default: the --listen address)", role, role, port, port))
	fs.DurationVar(&f.resolveWait, "resolve-timeout", 30*time.Second, "at start, keep looking up host names that do not resolve yet for this long")
	return f
}

// parseListen parses a --listen value: HOST:PORT where HOST may also be
// empty, 0.0.0.0 or [::] (every address of the machine).
func parseListen(s string) (host config.HostPort, any bool, err error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return config.HostPort{}, false, fmt.Errorf("%q is not HOST:PORT", s)
	}
	switch s[:i] {
	case "", "0.0.0.0", "[::]":
		port, err := wire.ParsePort(s[i+1:])
		if err != nil {
			return config.HostPort{}, false, err
		}
		ip := netip.IPv4Unspecified()
		if s[:i] == "[::]" {
			ip = netip.IPv6Unspecified()
		}
		return config.HostPort{IP: ip, Port: port}, true, nil
	}
	h, err := config.ParseHostPort(s)
	return h, false, err
}

// resolveAddrs turns --listen and --advertise into the address to listen
// on and the one to announce (the node's identity in the protocol).
// fallback is the classic address (--ip and --port) used when neither flag
// is given; it may be invalid when the command has none.
func (f *addrFlags) resolve(ctx context.Context, fallback netip.AddrPort) (listen, self netip.AddrPort, selfName config.HostPort, err error) {
	if f.listen == "" && f.advertise == "" {
		if !fallback.IsValid() {
			return listen, self, selfName, fmt.Errorf("give --listen or --advertise")
		}
		return fallback, fallback, config.HostPort{IP: fallback.Addr(), Port: fallback.Port()}, nil
	}
	lookup := func(flagName string, h config.HostPort) (netip.AddrPort, error) {
		list, err := config.ResolveAll(ctx, nil, []config.HostPort{h}, f.resolveWait, 500*time.Millisecond)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("--%s: %w", flagName, err)
		}
		return list[0], nil
	}
	var any bool
	if f.listen != "" {
		var h config.HostPort
		if h, any, err = parseListen(f.listen); err != nil {
			return listen, self, selfName, fmt.Errorf("--listen: %w", err)
		}
		if listen, err = lookup("listen", h); err != nil {
			return listen, self, selfName, err
		}
	}
	if f.advertise == "" {
		if any {
			return listen, self, selfName, fmt.Errorf("--listen %s is every address of this machine: say which one the others reach with --advertise HOST:PORT", f.listen)
		}
		return listen, listen, config.HostPort{IP: listen.Addr(), Port: listen.Port()}, nil
	}
	adv := f.advertise
	if strings.HasPrefix(adv, ":") {
		// ":5000" is this machine's host name: containers scaled from one
		// command line (compose --scale, a Deployment) each advertise
		// their own name, which the runtime's DNS resolves to them.
		host, herr := os.Hostname()
		if herr != nil {
			return listen, self, selfName, fmt.Errorf("--advertise %s: %w", adv, herr)
		}
		adv = host + adv
	}
	if selfName, err = config.ParseHostPort(adv); err != nil {
		return listen, self, selfName, fmt.Errorf("--advertise: %w", err)
	}
	if self, err = lookup("advertise", selfName); err != nil {
		return listen, self, selfName, err
	}
	if f.listen == "" {
		// Behind NAT or in a container the advertised address need not be
		// this machine's: listen on every address, on the advertised port.
		listen = netip.AddrPortFrom(netip.IPv4Unspecified(), self.Port())
	}
	return listen, self, selfName, nil
}

// resolveSeeds looks every seed of list up, waiting up to wait for names
// that do not resolve yet.
func resolveSeeds(ctx context.Context, list []config.HostPort, wait time.Duration) ([]netip.AddrPort, []config.HostPort, error) {
	addrs, err := config.ResolveAll(ctx, nil, list, wait, 500*time.Millisecond)
	if err != nil {
		return nil, nil, err
	}
	for _, h := range list {
		if h.IsName() {
			return addrs, list, nil
		}
	}
	return addrs, nil, nil // literals only: nothing to look up again
}
