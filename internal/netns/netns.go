// Package netns builds a small network of hosts out of Linux network
// namespaces for tests that must cross real IP hops: each host is a
// namespace with its own address in 198.18.0.0/15 (the benchmarking range,
// RFC 2544, never routed out), all joined by a bridge that lives in a hub
// namespace of its own, so nothing is added to the machine's own network.
// Host names resolve through /etc/netns/NAME/hosts, which "ip netns exec"
// bind-mounts over /etc/hosts inside the namespace (iproute2's standard
// mechanism), so a process run there reads the lab's names from the file
// every resolver reads first.
//
// It needs root and iproute2 ("ip"). Every namespace name starts with the
// lab's prefix and the creating process's PID, so Sweep can tell a lab
// whose test died (its PID is gone) from one that is running.
package netns

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Available reports why labs cannot be built here (nil: they can): not
// root, no "ip" command, or a kernel or sandbox that refuses namespaces.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("network namespaces need root (run the test as root, as CI does)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New(`no "ip" command (install iproute2)`)
	}
	name := fmt.Sprintf("wnprobe%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns add: %w: %s", err, bytes.TrimSpace(out))
	}
	_ = exec.Command("ip", "netns", "del", name).Run() // best effort: the probe namespace may be gone
	return nil
}

// Host is one host of a lab.
type Host struct {
	Name string     // host name, as the lab's hosts file lists it
	NS   string     // namespace name
	IP   netip.Addr // address on the lab's network
	port string     // the hub's end of its link
}

// Lab is a set of hosts on one bridge. Build it with New; Close removes
// every namespace and file it made.
type Lab struct {
	Prefix string // namespace prefix, with the PID: "wnft1234-"
	Hosts  []*Host
	hub    string
}

// New builds a lab of the named hosts; host i gets 198.18.0.(base+i)/16.
// prefix names its namespaces (prefix + PID + "-" + host). On error
// everything made so far is removed.
func New(prefix string, names []string) (l *Lab, err error) {
	l = &Lab{Prefix: fmt.Sprintf("%s%d-", prefix, os.Getpid())}
	l.hub = l.Prefix + "hub"
	defer func() {
		if err != nil {
			l.Close()
			l = nil
		}
	}()
	if err = ip("netns", "add", l.hub); err != nil {
		return l, err
	}
	if err = ip("-n", l.hub, "link", "add", "br0", "type", "bridge"); err != nil {
		return l, err
	}
	if err = ip("-n", l.hub, "link", "set", "br0", "up"); err != nil {
		return l, err
	}
	var hosts strings.Builder
	hosts.WriteString("127.0.0.1 localhost\n::1 localhost\n")
	for i, name := range names {
		h := &Host{Name: name, NS: l.Prefix + name, IP: netip.AddrFrom4([4]byte{198, 18, byte((i + 1) / 256), byte((i + 1) % 256)}), port: fmt.Sprintf("v%d", i)}
		l.Hosts = append(l.Hosts, h)
		fmt.Fprintf(&hosts, "%s %s\n", h.IP, h.Name)
	}
	for _, h := range l.Hosts {
		steps := [][]string{
			{"netns", "add", h.NS},
			{"-n", h.NS, "link", "set", "lo", "up"},
			// Both ends are made inside their namespaces: nothing
			// appears in the machine's own.
			{"-n", h.NS, "link", "add", "eth0", "type", "veth", "peer", "name", h.port, "netns", l.hub},
			{"-n", l.hub, "link", "set", h.port, "master", "br0"},
			{"-n", l.hub, "link", "set", h.port, "up"},
			{"-n", h.NS, "addr", "add", h.IP.String() + "/16", "dev", "eth0"},
			{"-n", h.NS, "link", "set", "eth0", "up"},
		}
		for _, s := range steps {
			if err = ip(s...); err != nil {
				return l, err
			}
		}
		if err = writeHosts(h.NS, hosts.String()); err != nil {
			return l, err
		}
	}
	return l, nil
}

// NewLoopback builds the same hosts as New, for comparison, but all in one
// namespace, on its loopback interface: host i gets 127.0.0.(i+1). Nothing
// crosses a link; Cut and Heal do not apply.
func NewLoopback(prefix string, names []string) (l *Lab, err error) {
	l = &Lab{Prefix: fmt.Sprintf("%s%d-", prefix, os.Getpid())}
	l.hub = l.Prefix + "lo"
	defer func() {
		if err != nil {
			l.Close()
			l = nil
		}
	}()
	if err = ip("netns", "add", l.hub); err != nil {
		return l, err
	}
	if err = ip("-n", l.hub, "link", "set", "lo", "up"); err != nil {
		return l, err
	}
	var hosts strings.Builder
	hosts.WriteString("127.0.0.1 localhost\n")
	for i, name := range names {
		h := &Host{Name: name, NS: l.hub, IP: netip.AddrFrom4([4]byte{127, 0, byte((i + 1) / 256), byte((i + 1) % 256)})}
		l.Hosts = append(l.Hosts, h)
		fmt.Fprintf(&hosts, "%s %s\n", h.IP, h.Name)
	}
	return l, writeHosts(l.hub, hosts.String())
}

// writeHosts gives namespace ns its own /etc/hosts: `ip netns exec`
// bind-mounts /etc/netns/NS/hosts over /etc/hosts, so host names resolve
// in the lab the way they would on a network.
func writeHosts(ns, hosts string) error {
	dir := filepath.Join("/etc/netns", ns)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "hosts"), []byte(hosts), 0o644)
}

// Host returns the host called name (nil if there is none).
func (l *Lab) Host(name string) *Host {
	for _, h := range l.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// Command returns a command that runs name with args on host h ("ip netns
// exec", which execs the program: the process's PID is the program's).
func (l *Lab) Command(h *Host, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// Cut takes host h's link down (from its side): it can reach nobody and
// nobody can reach it; its connections stay open and silent, as behind a
// pulled cable. Heal brings it back.
func (l *Lab) Cut(h *Host) error { return ip("-n", h.NS, "link", "set", "eth0", "down") }

// Heal brings host h's link back up (its address and routes with it).
func (l *Lab) Heal(h *Host) error { return ip("-n", h.NS, "link", "set", "eth0", "up") }

// Close kills whatever still runs in the lab's namespaces and removes them
// and their /etc/netns directories. It is safe to call twice.
func (l *Lab) Close() error {
	var errs []error
	for _, h := range l.Hosts {
		if h.NS != l.hub {
			errs = append(errs, remove(h.NS))
		}
	}
	errs = append(errs, remove(l.hub))
	return errors.Join(errs...)
}

// Sweep removes the namespaces of labs with prefix whose creating process
// no longer runs (a test killed before its cleanup), with what runs in
// them and their /etc/netns directories. It returns the names removed.
func Sweep(prefix string) ([]string, error) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return nil, fmt.Errorf("netns: ip netns list: %w", err)
	}
	var removed []string
	var errs []error
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		pidText, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil {
			continue
		}
		if pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue // its test is still running
		}
		errs = append(errs, remove(name))
		removed = append(removed, name)
	}
	return removed, errors.Join(errs...)
}

// remove kills the processes in namespace name and deletes it and its
// /etc/netns directory; a namespace that is already gone is no error.
func remove(name string) error {
	if out, err := exec.Command("ip", "netns", "pids", name).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL) // it may have exited meanwhile
			}
		}
	}
	var err error
	if out, e := exec.Command("ip", "netns", "del", name).CombinedOutput(); e != nil && !bytes.Contains(out, []byte("No such file")) {
		err = fmt.Errorf("netns: ip netns del %s: %w: %s", name, e, bytes.TrimSpace(out))
	}
	os.RemoveAll(filepath.Join("/etc/netns", name))
	return err
}

func ip(args ...string) error {
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("netns: ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
