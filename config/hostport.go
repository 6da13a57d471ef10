package config

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/whispernet/whispernet/identity"
	"github.com/whispernet/whispernet/wire"
)

// HostPort is one address as a person writes it in config.txt or a flag:
// an IP literal or a host name, and a port. Exactly one of Host and IP is
// set.
type HostPort struct {
	Host string     // a host name (lower case), or "" for a literal
	IP   netip.Addr // an IP literal, or the zero Addr for a name
	Port uint16
	// Key is the seed's public key when config.txt lists one after the
	// address (HOST:PORT KEY); zero otherwise. Seeds use it to check
	// each other's relays (seed.Config.SeedKeys).
	Key identity.PublicKey
}

// IsName reports whether h names a host (and must be looked up).
func (h HostPort) IsName() bool { return h.Host != "" }

// AddrPort returns the literal address; the zero AddrPort for a name.
func (h HostPort) AddrPort() netip.AddrPort {
	if h.IsName() {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(h.IP, h.Port)
}

// String returns h as it is written: NAME:PORT, IP:PORT or [IPv6]:PORT.
func (h HostPort) String() string {
	if h.IsName() {
		return h.Host + ":" + strconv.Itoa(int(h.Port))
	}
	return netip.AddrPortFrom(h.IP, h.Port).String()
}

// maxHostLen is the longest DNS name (RFC 1035), without a trailing dot.
const maxHostLen = 253

// ParseHostPort parses HOST:PORT, where HOST is a dotted IPv4 address, an
// IPv6 address in brackets or a host name (RFC 1123 labels of letters,
// digits, '-' and '_', as container runtimes name services). The
// unspecified, multicast and zoned addresses are refused as wire.ParseIP
// refuses them: nobody can be reached there.
func ParseHostPort(s string) (HostPort, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return HostPort{}, fmt.Errorf("%w: %q is not HOST:PORT", wire.ErrAddr, trunc(s))
	}
	host, portText := s[:i], s[i+1:]
	if looksLiteral(host) {
		a, err := wire.ParseAddrPort(s)
		if err != nil {
			return HostPort{}, err
		}
		return HostPort{IP: a.Addr(), Port: a.Port()}, nil
	}
	if err := checkHost(host); err != nil {
		return HostPort{}, fmt.Errorf("%w: %w", wire.ErrAddr, err)
	}
	port, err := wire.ParsePort(portText)
	if err != nil {
		return HostPort{}, fmt.Errorf("%w: %w", wire.ErrPort, err)
	}
	return HostPort{Host: strings.ToLower(strings.TrimSuffix(host, ".")), Port: port}, nil
}

// looksLiteral reports whether host is meant as an IP address: bracketed,
// holding a ':' (an unbracketed IPv6 address, which wire.ParseAddrPort
// explains), or only digits and dots. Everything else is a name, so
// "999.1.1.1" is a bad address, not a host to look up.
func looksLiteral(host string) bool {
	if strings.HasPrefix(host, "[") || strings.Contains(host, ":") || host == "" {
		return true
	}
	return strings.Trim(host, "0123456789.") == ""
}

func checkHost(host string) error {
	name := strings.TrimSuffix(host, ".")
	if len(name) > maxHostLen {
		return fmt.Errorf("host name of %d bytes over the %d limit", len(name), maxHostLen)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("%q is not a host name (empty or over-long label)", trunc(host))
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%q is not a host name (a label starts or ends with '-')", trunc(host))
		}
		for j := 0; j < len(label); j++ {
			c := label[j]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("%q is not a host name or IP address", trunc(host))
			}
		}
	}
	return nil
}

func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// Resolver looks host names up; *net.Resolver is one. Tests pass their
// own.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ErrNoAddress is returned when a name resolves to no usable address.
var ErrNoAddress = errors.New("no usable address")

// Resolve returns h's address: the literal itself, or the first IPv4
// address the name resolves to (else its first IPv6 address). r nil is
// net.DefaultResolver, which reads /etc/hosts first (inside "ip netns exec"
// that is /etc/netns/NAME/hosts, bind-mounted over it) and then DNS.
func Resolve(ctx context.Context, r Resolver, h HostPort) (netip.AddrPort, error) {
	if !h.IsName() {
		return h.AddrPort(), nil
	}
	if r == nil {
		r = net.DefaultResolver
	}
	ips, err := r.LookupNetIP(ctx, "ip", h.Host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("config: look up %s: %w", h.Host, err)
	}
	var v6 netip.Addr
	for _, ip := range ips {
		ip = ip.Unmap()
		if ip.Zone() != "" || ip.IsUnspecified() || ip.IsMulticast() {
			continue
		}
		if ip.Is4() {
			return netip.AddrPortFrom(ip, h.Port), nil
		}
		if !v6.IsValid() {
			v6 = ip
		}
	}
	if v6.IsValid() {
		return netip.AddrPortFrom(v6, h.Port), nil
	}
	return netip.AddrPort{}, fmt.Errorf("config: look up %s: %w", h.Host, ErrNoAddress)
}

// ResolveAll resolves every entry of list. A name that does not resolve
// yet (a container runtime's DNS answers only for started containers) is
// tried again every retry until wait has passed since the call; then the
// first failure is returned, naming the entry. Two entries that resolve to
// one address are an error, as duplicates in the file are.
func ResolveAll(ctx context.Context, r Resolver, list []HostPort, wait, retry time.Duration) ([]netip.AddrPort, error) {
	deadline := time.Now().Add(wait)
	out := make([]netip.AddrPort, len(list))
	for {
		var firstErr error
		for i, h := range list {
			if out[i].IsValid() {
				continue
			}
			a, err := Resolve(ctx, r, h)
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("seed %s: %w", h, err)
				}
				continue
			}
			out[i] = a
		}
		if firstErr == nil {
			break
		}
		if ctx.Err() != nil || !time.Now().Add(retry).Before(deadline) {
			return nil, firstErr
		}
		select {
		case <-time.After(retry):
		case <-ctx.Done():
			return nil, firstErr
		}
	}
	seen := make(map[netip.AddrPort]int, len(out))
	for i, a := range out {
		if j, dup := seen[a]; dup {
			return nil, fmt.Errorf("config: seeds %s and %s are both %s", list[j], list[i], a)
		}
		seen[a] = i
	}
	return out, nil
}
