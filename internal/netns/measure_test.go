package netns_test

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/whispernet/whispernet/internal/netns"
)

// TestMeasureAcrossHosts is a measurement run, not a unit test: set
// WHISPERNET_NETNS_MEASURE=1 (as root). It runs the same network twice
// with the same binary and flags — 3 seeds and WHISPERNET_NETNS_PEERS
// peers (20), first each on a host of its own (a namespace on a bridge),
// then all on one loopback — publishes 40 messages one at a time from
// peer after peer, crashes three peers and freezes three, and reports
// propagation (publish to first receipt, at each peer and at the last
// one), detection (fault to gone from every seed) and the peers' CPU time
// per delivery (in all, and above the idle background measured over 5 quiet
// seconds first). docs/deploy.md quotes its output.
func TestMeasureAcrossHosts(t *testing.T) {
	if os.Getenv("WHISPERNET_NETNS_MEASURE") != "1" {
		t.Skip("a measurement run: set WHISPERNET_NETNS_MEASURE=1 (needs root)")
	}
	if runtime.GOOS != "linux" {
		t.Skip("network namespaces are Linux only")
	}
	if err := netns.Available(); err != nil {
		t.Skipf("network namespaces unavailable: %v", err)
	}
	netns.Sweep(prefix)
	peers := 20
	if v, err := strconv.Atoi(os.Getenv("WHISPERNET_NETNS_PEERS")); err == nil && v >= 4 {
		peers = v
	}
	for _, mode := range []struct {
		name string
		loop bool
	}{{"hosts (namespaces on a bridge)", false}, {"loopback (one namespace)", true}} {
		t.Run(strings.Fields(mode.name)[0], func(t *testing.T) {
			l := newLab(t, peers, mode.loop)
			for _, s := range l.seeds {
				l.start(s)
			}
			for _, p := range l.peers {
				l.start(p)
				time.Sleep(joinGap)
			}
			l.waitFor(30*time.Second, "every peer linked and listed by a majority", func() error { return l.settled(l.live()...) })
			time.Sleep(2 * time.Second) // let the overlay and the broadcast tree settle
			// The background (liveness, refreshes) measured over a quiet
			// window first, to tell what the messages themselves cost.
			idle0, idleAt := l.peerCPU(), time.Now()
			time.Sleep(5 * time.Second)
			idle, idleFor := l.peerCPU()-idle0, time.Since(idleAt)
			cpu0, pubAt := l.peerCPU(), time.Now()
			for i := range 40 {
				live := l.live()
				l.round(live[i%len(live)], "measure")
				time.Sleep(100 * time.Millisecond)
			}
			cpu, pubFor := l.peerCPU()-cpu0, time.Since(pubAt)
			background := time.Duration(float64(idle) * pubFor.Seconds() / idleFor.Seconds())
			for i := range 3 {
				p := l.peers[len(l.peers)-1-i]
				l.fault(p, "dead")
				at := time.Now()
				l.signal(p, syscall.SIGKILL)
				<-p.done
				l.checkGone(p, at, "crashed")
			}
			for i := range 3 {
				p := l.peers[len(l.peers)-4-i]
				l.fault(p, "dead")
				at := time.Now()
				l.signal(p, syscall.SIGSTOP)
				l.checkGone(p, at, "frozen")
			}
			l.finalChecks()
			deliveries := len(l.receipts)
			summary := fmt.Sprintf("%s, %d peers: %s", mode.name, peers, l.summary())
			if deliveries > 0 {
				summary += fmt.Sprintf("; peers' CPU %.0f µs per delivery (%d deliveries, %v CPU in %v; idle background %v in %v, so %.0f µs per delivery above it)",
					float64(cpu.Microseconds())/float64(deliveries), deliveries, cpu.Round(time.Millisecond), pubFor.Round(time.Millisecond),
					idle.Round(time.Millisecond), idleFor.Round(time.Millisecond), float64((cpu-background).Microseconds())/float64(deliveries))
			}
			t.Log(summary)
		})
	}
}

// summary states the propagation and detection figures.
func (l *lab) summary() string {
	q := func(ds []time.Duration, f float64) time.Duration {
		if len(ds) == 0 {
			return 0
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds[min(len(ds)-1, int(f*float64(len(ds))))]
	}
	var every []time.Duration
	for _, s := range l.spreads {
		every = append(every, s.took)
	}
	var crash, freeze []time.Duration
	for _, d := range l.detections {
		if d.what == "crashed" {
			crash = append(crash, d.took)
		} else {
			freeze = append(freeze, d.took)
		}
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
	return fmt.Sprintf("propagation per receipt p50 %s p99 %s max %s; to every peer p50 %s max %s (%d messages); crash gone from every seed in %s-%s; freeze in %.2f-%.2f s",
		ms(q(l.receipts, 0.5)), ms(q(l.receipts, 0.99)), ms(q(l.receipts, 1)), ms(q(every, 0.5)), ms(q(every, 1)), len(every),
		ms(q(crash, 0)), ms(q(crash, 1)), q(freeze, 0).Seconds(), q(freeze, 1).Seconds())
}

// peerCPU returns the CPU time (user and system) the peer processes have
// used so far, from /proc/PID/stat.
func (l *lab) peerCPU() time.Duration {
	var total time.Duration
	for _, p := range l.peers {
		if p.cmd == nil || p.cmd.Process == nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
		if err != nil {
			continue
		}
		// Fields after the command name in parentheses: utime and stime
		// are the 14th and 15th of the line, in clock ticks (100 a second
		// on Linux).
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		k, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(u+k) * 10 * time.Millisecond
	}
	return total
}
