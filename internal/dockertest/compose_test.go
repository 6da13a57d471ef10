package dockertest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/whispernet/whispernet/status"
)

// The network the test runs and its timers: short liveness timers so that
// a fault is detected in seconds, and gossip that lasts 20 s, long enough
// to span the faults even where the overlay is found connected late (on a
// loaded machine "docker-compose up" alone can take 15 s).
const (
	numPeers         = 8
	livenessInterval = time.Second
	livenessMisses   = 3
	gossipCount      = 40
	gossipInterval   = 500 * time.Millisecond
	gossipDelay      = 8 * time.Second
	// probeTimeout bounds a seed's own check of a peer reported dead
	// (--probe-timeout): a frozen peer is removed that long after the
	// report.
	probeTimeout = 500 * time.Millisecond
)

// detectBound is how soon a crashed or frozen peer must be gone from every
// seed: misses × interval for its neighbours to notice, plus 2 s for the
// report to reach the seeds, each seed's own probe (probeTimeout) and the
// relay.
const detectBound = livenessMisses*livenessInterval + 2*time.Second

func TestComposeNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the Docker test builds an image and runs 11 containers for about a minute")
	}
	if _, err := exec.LookPath("docker-compose"); err != nil {
		t.Skip("docker-compose is not installed; the Docker test needs it (see docs/deploy.md)")
	}
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Skipf("no Docker engine: docker info: %v: %s", err, firstLine(string(out)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute) // a hard bound on every docker call
	defer cancel()
	start := time.Now()
	c := newCluster(t, ctx)
	t.Logf("binary and image built in %.1f s", time.Since(start).Seconds())

	// Create first, then start: creating the containers is the slow part
	// on a loaded machine, and the gossip timers run from each start.
	createAt := time.Now()
	c.compose("up", "--no-start", "--scale", fmt.Sprintf("peer=%d", numPeers))
	upAt := time.Now()
	c.compose("start")
	c.discover()
	t.Logf("containers created in %.1f s, started in %.1f s", upAt.Sub(createAt).Seconds(), time.Since(upAt).Seconds())
	seeds := []*container{c.one("seed-0"), c.one("seed-1"), c.one("seed-2")}
	peers := c.all("peer")
	if len(peers) != numPeers {
		t.Fatalf("%d peer containers, want %d", len(peers), numPeers)
	}

	// 1. The overlay forms: every peer registered with a majority of the
	// seeds and the overlay connected.
	var regs map[*container][]*container // peer -> seeds listing it
	var graph map[*container][]*container
	waitFor(t, 60*time.Second, "every peer registered with 2 of 3 seeds and the overlay connected", func() string {
		regs = c.registrations(seeds)
		for _, p := range peers {
			if len(regs[p]) < 2 {
				return fmt.Sprintf("%s is listed by %d seeds", p, len(regs[p]))
			}
		}
		var err error
		if graph, err = c.overlay(peers); err != nil {
			return err.Error()
		}
		if n := components(peers, graph, nil); n != 1 {
			return fmt.Sprintf("the overlay has %d components", n)
		}
		return ""
	})
	formedAt := time.Now()
	t.Logf("overlay of %d peers connected %.1f s after docker-compose start", numPeers, formedAt.Sub(upAt).Seconds())

	// 2. Gossip has begun; then one peer crashes and another freezes,
	// chosen so that the live peers stay connected without them.
	waitFor(t, gossipDelay+30*time.Second, "every peer generated 3 messages", func() string {
		for _, p := range peers {
			if n := len(c.logs(p).generated); n < 3 {
				return fmt.Sprintf("%s generated %d", p, n)
			}
		}
		return ""
	})
	graph, err := c.overlay(peers)
	if err != nil {
		t.Fatal(err)
	}
	killed, frozen, ok := victims(peers, graph)
	if !ok {
		t.Fatalf("no two peers whose loss leaves the overlay connected: %v", graph)
	}
	live := slices.DeleteFunc(slices.Clone(peers), func(p *container) bool { return p == killed || p == frozen })
	docker(t, ctx, "kill", killed.id)
	killedAt := time.Now()
	docker(t, ctx, "pause", frozen.id)
	frozenAt := time.Now()
	c.paused = frozen
	t.Logf("killed %s and paused %s", killed, frozen)

	// 3. Both are gone from every seed within misses × interval + 2 s.
	gone := map[*container]time.Duration{}
	deadline := time.Now().Add(detectBound + 10*time.Second)
	for len(gone) < 2 && time.Now().Before(deadline) {
		lists := c.registrations(seeds)
		for v, at := range map[*container]time.Time{killed: killedAt, frozen: frozenAt} {
			if _, done := gone[v]; !done && len(lists[v]) == 0 {
				gone[v] = time.Since(at)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	for v, what := range map[*container]string{killed: "killed", frozen: "paused"} {
		d, ok := gone[v]
		switch {
		case !ok:
			t.Errorf("the %s peer %s is still listed by a seed %.0f s later", what, v, detectBound.Seconds()+10)
		case d > detectBound:
			t.Errorf("the %s peer %s left the last seed after %.2f s, want at most %.0f s", what, v, d.Seconds(), detectBound.Seconds())
		default:
			t.Logf("the %s peer left every seed %.2f s after the fault (bound %.0f s)", what, d.Seconds(), detectBound.Seconds())
		}
	}

	// 4. Every message a live peer published reaches every other live peer
	// exactly once (messages created before the overlay was connected are
	// exempt: no peer path existed for them).
	want := map[string]*container{} // message text -> live origin
	var logs map[*container]peerLog
	waitFor(t, gossipDelay+time.Duration(gossipCount)*gossipInterval+30*time.Second, "every live peer generated all its messages and received every live peer's", func() string {
		logs = map[*container]peerLog{}
		for _, p := range live {
			logs[p] = c.logs(p)
			if n := len(logs[p].generated); n < gossipCount {
				return fmt.Sprintf("%s generated %d of %d", p, n, gossipCount)
			}
		}
		clear(want)
		for _, p := range live {
			for _, m := range logs[p].generated {
				if created(m).After(formedAt) {
					want[m] = p
				}
			}
		}
		for _, p := range live {
			for m, origin := range want {
				if origin != p && len(logs[p].received[m]) == 0 {
					return fmt.Sprintf("%s has not received %s", p, m)
				}
			}
		}
		return ""
	})
	afterFaults := 0
	for m := range want {
		if created(m).After(frozenAt) {
			afterFaults++
		}
	}
	if len(want) == 0 || afterFaults == 0 {
		t.Fatalf("%d messages published after the overlay formed, %d after the faults: the gossip (%v delay, %d × %v) ended too soon for the checks",
			len(want), afterFaults, gossipDelay, gossipCount, gossipInterval)
	}
	var spread []float64
	for m, origin := range want {
		last := 0.0
		for _, p := range live {
			if p == origin {
				continue
			}
			if got := logs[p].received[m]; len(got) != 1 {
				t.Errorf("%s received %s %d times, want exactly once", p, m, len(got))
			} else {
				last = max(last, got[0].Sub(created(m)).Seconds()*1000)
			}
		}
		spread = append(spread, last)
	}
	for _, p := range live { // the victims' messages too: never twice
		for m, at := range logs[p].received {
			if len(at) > 1 {
				t.Errorf("%s received %s %d times", p, m, len(at))
			}
		}
	}
	sort.Float64s(spread)
	t.Logf("%d messages (%d after the faults) from %d live origins, each delivered once to the %d other live peers; spread to the last of them: p50 %.1f ms, p99 %.1f ms, max %.1f ms",
		len(want), afterFaults, len(live), len(live)-1, quantile(spread, 0.5), quantile(spread, 0.99), quantile(spread, 1))

	// 5. The image's HEALTHCHECK ("whispernet health" on /healthz) reports
	// every live node and the dashboard healthy.
	waitFor(t, 30*time.Second, "every live container healthy", func() string {
		for _, k := range append(append(slices.Clone(seeds), live...), c.one("dashboard")) {
			if h := strings.TrimSpace(docker(t, ctx, "inspect", "-f", "{{.State.Health.Status}}", k.id)); h != "healthy" {
				return fmt.Sprintf("%s is %s", k, h)
			}
		}
		return ""
	})

	// 6. The dashboard ("whispernet watch" in its own container) draws the
	// overlay the live peers report, link for link, without the victims.
	dash := c.one("dashboard")
	waitFor(t, 15*time.Second, "the dashboard's graph equal to the live peers' overlay", func() string {
		g, err := c.overlay(live)
		if err != nil {
			return err.Error()
		}
		want := linkSet(g)
		nodes, got, err := dashboardGraph(dash.dashboard)
		if err != nil {
			return err.Error()
		}
		var wantNodes []string
		for _, p := range live {
			wantNodes = append(wantNodes, net.JoinHostPort(p.ip, "5000"))
		}
		slices.Sort(wantNodes)
		if !slices.Equal(nodes, wantNodes) {
			return fmt.Sprintf("live nodes %q, want %q", nodes, wantNodes)
		}
		if !slices.Equal(got, want) {
			return fmt.Sprintf("links %q, the peers report %q", got, want)
		}
		return ""
	})

	// 7. No live peer was removed: every seed that listed one at the start
	// lists it still, and no seed logged its removal.
	final := c.registrations(seeds)
	for _, p := range live {
		for _, s := range regs[p] {
			if !slices.Contains(final[p], s) {
				t.Errorf("seed %s no longer lists the live peer %s", s, p)
			}
		}
	}
	for _, s := range seeds {
		for _, line := range c.logLines(s) {
			if _, rest, ok := strings.Cut(line, "removed dead node "); ok {
				who := c.who(strings.Fields(rest)[0])
				if who != killed && who != frozen {
					t.Errorf("seed %s removed %s, which was not a victim: %s", s, who, line)
				}
			}
		}
	}

	// 8. A graceful leave: "docker stop" sends SIGTERM, the peer tells its
	// seeds and neighbours it is leaving before it exits. Every seed that
	// listed it logs it as left, none as dead, and no neighbour reports it.
	leaver := live[0]
	leaverAddr := net.JoinHostPort(leaver.ip, "5000")
	docker(t, ctx, "stop", "-t", "10", leaver.id)
	stoppedAt := time.Now()
	waitFor(t, 2*time.Second, "the stopped peer gone from every seed", func() string {
		if l := c.registrations(seeds)[leaver]; len(l) > 0 {
			return fmt.Sprintf("listed by %v", l)
		}
		return ""
	})
	t.Logf("the peer stopped with SIGTERM left every seed %.2f s after docker stop returned", time.Since(stoppedAt).Seconds())
	for _, s := range seeds {
		left := false
		for _, line := range c.logLines(s) {
			left = left || strings.Contains(line, "peer "+leaverAddr+" left")
			if strings.Contains(line, "removed dead node "+leaverAddr) {
				t.Errorf("seed %s counted the leaving peer as dead: %s", s, line)
			}
		}
		if !left && slices.Contains(regs[leaver], s) {
			t.Errorf("seed %s did not log the leaving peer %s as left", s, leaverAddr)
		}
	}
	for _, p := range live[1:] {
		for _, line := range c.logLines(p) {
			if strings.Contains(line, "neighbour "+leaverAddr+" is dead") {
				t.Errorf("%s reported the leaving peer dead: %s", p, line)
			}
		}
	}
}

// cluster is one compose project: its image, its containers, the
// environment docker-compose runs with.
type cluster struct {
	t                   *testing.T
	ctx                 context.Context
	root, file, project string
	image               string
	env                 []string
	byName              map[string]*container   // hostname and IP -> container
	services            map[string][]*container // service -> its containers
	paused              *container              // unpaused before teardown
}

// container is one node's container and its addresses.
type container struct {
	id, service, hostname, ip string
	http, tcp, dashboard      string // published host addresses of :9000, :8080 and :7070
}

func (c *container) String() string { return c.service + "(" + c.hostname + " " + c.ip + ")" }

// newCluster builds the static binary and the image from the repository's
// Dockerfile and registers the teardown: the compose project down with its
// volumes and the image removed, whatever the test's outcome.
func newCluster(t *testing.T, ctx context.Context) *cluster {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, "deploy", "compose.yaml")
	sweep(t, ctx, file)
	var b [4]byte
	rand.Read(b[:])
	// The test process's PID in the name lets a later run sweep what a
	// killed one left behind (see sweep).
	project := fmt.Sprintf("%s%dx%s", projectPrefix, os.Getpid(), hex.EncodeToString(b[:]))
	c := &cluster{t: t, ctx: ctx, root: root, file: file, project: project,
		image: "whispernet-test:" + project, byName: map[string]*container{}}

	// The build context the Dockerfile expects: bin/whispernet and
	// deploy/config.txt (the same files its .dockerignore lets through).
	dir := t.TempDir()
	for _, d := range []string{"bin", "deploy"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The flags of cmd/whispernet's static-build test (no -trimpath), so
	// that the two builds share the compiled packages in the build cache.
	build := exec.CommandContext(ctx, goTool(), "build", "-o", filepath.Join(dir, "bin", "whispernet"), "./cmd/whispernet")
	build.Dir, build.Env = root, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	for _, f := range []string{"Dockerfile", filepath.Join("deploy", "config.txt")} {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		// A fresh context: the test's may have expired.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		exec.CommandContext(ctx, "docker", "rmi", "-f", c.image).Run()
	})
	docker(t, ctx, "build", "-q", "-t", c.image, dir)
	// The entrypoint runs in the empty image: a static binary.
	if out := docker(t, ctx, "run", "--rm", c.image, "--version"); !strings.HasPrefix(out, "whispernet ") {
		t.Fatalf("docker run %s --version: %q", c.image, out)
	}

	c.env = append(os.Environ(),
		"WHISPERNET_IMAGE="+c.image,
		"WHISPERNET_LIVENESS_INTERVAL="+livenessInterval.String(),
		"WHISPERNET_LIVENESS_MISSES="+strconv.Itoa(livenessMisses),
		"WHISPERNET_GOSSIP_INTERVAL="+gossipInterval.String(),
		"WHISPERNET_GOSSIP_COUNT="+strconv.Itoa(gossipCount),
		"WHISPERNET_GOSSIP_DELAY="+gossipDelay.String(),
		"WHISPERNET_PROBE_TIMEOUT="+probeTimeout.String(),
		// Free host ports: the defaults (9100, 8080, ...) may be taken.
		"WHISPERNET_PEER_HTTP=127.0.0.1:", "WHISPERNET_DASHBOARD=127.0.0.1:")
	for i := range 3 {
		c.env = append(c.env, fmt.Sprintf("WHISPERNET_SEED%d_HTTP=127.0.0.1:", i), fmt.Sprintf("WHISPERNET_SEED%d_TCP=127.0.0.1:", i))
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if c.paused != nil {
			exec.CommandContext(ctx, "docker", "unpause", c.paused.id).Run()
		}
		if t.Failed() {
			out, _ := c.run(ctx, "logs", "--no-color", "--tail=30")
			t.Logf("docker-compose logs (last 30 lines of each):\n%s", out)
		}
		if out, err := c.run(ctx, "down", "-v", "--remove-orphans", "-t", "2"); err != nil {
			t.Errorf("docker-compose down: %v\n%s", err, out)
		}
	})
	return c
}

// projectPrefix starts every compose project (and image tag) this test
// creates: wntest<PID>x<random>.
const projectPrefix = "wntest"

var projectName = regexp.MustCompile(`^` + projectPrefix + `([0-9]+)x[0-9a-f]+$`)

// sweep removes the compose projects and images of earlier runs whose test
// process is gone (killed by a timeout before its cleanup ran); those of
// runs still going are left alone.
func sweep(t *testing.T, ctx context.Context, file string) {
	out, err := exec.CommandContext(ctx, "docker", "ps", "-a", "--format", `{{.Label "com.docker.compose.project"}}`).Output()
	if err != nil {
		return
	}
	imgs, _ := exec.CommandContext(ctx, "docker", "images", "--format", "{{.Repository}}:{{.Tag}}", "whispernet-test").Output()
	names := strings.Fields(string(out))
	for _, img := range strings.Fields(string(imgs)) {
		names = append(names, strings.TrimPrefix(img, "whispernet-test:"))
	}
	slices.Sort(names)
	for _, name := range slices.Compact(names) {
		m := projectName.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue // still running (or not ours to judge)
		}
		t.Logf("sweeping %s, left by a test process (PID %d) that is gone", name, pid)
		if ids, _ := exec.CommandContext(ctx, "docker", "ps", "-q", "--filter", "status=paused", "--filter", "label=com.docker.compose.project="+name).Output(); len(ids) > 0 {
			exec.CommandContext(ctx, "docker", append([]string{"unpause"}, strings.Fields(string(ids))...)...).Run()
		}
		exec.CommandContext(ctx, "docker-compose", "-f", file, "-p", name, "down", "-v", "--remove-orphans", "-t", "1").Run()
		exec.CommandContext(ctx, "docker", "rmi", "-f", "whispernet-test:"+name).Run()
	}
}

// goTool is the go command that runs this test.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

func (c *cluster) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker-compose", append([]string{"-f", c.file, "-p", c.project}, args...)...)
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *cluster) compose(args ...string) string {
	c.t.Helper()
	out, err := c.run(c.ctx, args...)
	if err != nil {
		c.t.Fatalf("docker-compose %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func docker(t *testing.T, ctx context.Context, args ...string) string {
	t.Helper()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// discover finds every container of the project with its addresses, in
// one docker-compose and one docker call (each docker-compose call costs
// a second or more on a loaded machine).
func (c *cluster) discover() {
	c.t.Helper()
	ids := strings.Fields(c.compose("ps", "-q"))
	if len(ids) == 0 {
		c.t.Fatal("docker-compose ps: no containers")
	}
	raw := docker(c.t, c.ctx, append([]string{"inspect", "-f",
		`{{.Id}}|{{index .Config.Labels "com.docker.compose.service"}}|{{.Config.Hostname}}|{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}|{{json .NetworkSettings.Ports}}`}, ids...)...)
	c.services = map[string][]*container{}
	for _, line := range strings.Split(strings.TrimSpace(raw), "\n") {
		parts := strings.SplitN(line, "|", 5)
		if len(parts) != 5 {
			c.t.Fatalf("docker inspect: %q", line)
		}
		var ports map[string][]struct{ HostIp, HostPort string }
		if err := json.Unmarshal([]byte(parts[4]), &ports); err != nil {
			c.t.Fatalf("docker inspect %s ports: %v", parts[0], err)
		}
		hostAddr := func(p string) string {
			if b := ports[p]; len(b) > 0 {
				return net.JoinHostPort(b[0].HostIp, b[0].HostPort)
			}
			return ""
		}
		k := &container{id: parts[0], service: parts[1], hostname: parts[2], ip: parts[3],
			http: hostAddr("9000/tcp"), tcp: hostAddr("8080/tcp"), dashboard: hostAddr("7070/tcp")}
		c.byName[k.hostname], c.byName[k.ip] = k, k
		c.services[k.service] = append(c.services[k.service], k)
	}
}

// all returns the containers of a service (as discover found them).
func (c *cluster) all(service string) []*container { return c.services[service] }

func (c *cluster) one(service string) *container {
	c.t.Helper()
	all := c.all(service)
	if len(all) != 1 {
		c.t.Fatalf("service %s has %d containers, want 1", service, len(all))
	}
	return all[0]
}

// who maps an address a node wrote (hostname or IP, with a port or a
// "#port") to its container; nil if it is no container of the project.
func (c *cluster) who(addr string) *container {
	host := addr
	if i := strings.LastIndexAny(addr, ":#"); i >= 0 {
		host = addr[:i]
	}
	return c.byName[strings.Trim(host, "[]")]
}

// registrations asks every seed for its peer list over the line protocol
// and returns, for each peer, the seeds that list it.
func (c *cluster) registrations(seeds []*container) map[*container][]*container {
	out := map[*container][]*container{}
	for _, s := range seeds {
		for _, e := range peerList(s.tcp) {
			if p := c.who(e); p != nil {
				out[p] = append(out[p], s)
			}
		}
	}
	return out
}

// peerList sends "peer list" to a seed and returns the entries of its
// reply (nil if the seed does not answer).
func peerList(addr string) []string {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("peer list\n")); err != nil {
		return nil
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), "peer list")
	if err != nil || !ok {
		return nil
	}
	return strings.FieldsFunc(rest, func(r rune) bool { return r == ':' })
}

// overlay reads every peer's /status and returns its neighbours.
func (c *cluster) overlay(peers []*container) (map[*container][]*container, error) {
	g := map[*container][]*container{}
	client := http.Client{Timeout: 2 * time.Second}
	for _, p := range peers {
		resp, err := client.Get("http://" + p.http + "/status")
		if err != nil {
			return nil, fmt.Errorf("%s /status: %w", p, err)
		}
		var doc status.Document
		err = json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if err != nil || len(doc.Nodes) != 1 {
			return nil, fmt.Errorf("%s /status: %d nodes (%w)", p, len(doc.Nodes), err)
		}
		for _, nb := range doc.Nodes[0].Neighbours {
			if q := c.who(nb.Addr); q != nil {
				g[p] = append(g[p], q)
			}
		}
	}
	return g, nil
}

// components counts the connected components of the overlay on peers
// without the excluded ones.
func components(peers []*container, g map[*container][]*container, excluded map[*container]bool) int {
	seen := map[*container]bool{}
	n := 0
	for _, p := range peers {
		if seen[p] || excluded[p] {
			continue
		}
		n++
		stack := []*container{p}
		seen[p] = true
		for len(stack) > 0 {
			x := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, y := range g[x] {
				if !seen[y] && !excluded[y] && slices.Contains(peers, y) {
					seen[y] = true
					stack = append(stack, y)
				}
			}
		}
	}
	return n
}

// victims picks a peer to kill and one to freeze whose loss leaves the
// other peers connected, so that every live peer can still reach every
// other one: the assertion is about connected live peers.
func victims(peers []*container, g map[*container][]*container) (kill, freeze *container, ok bool) {
	for i, a := range peers {
		for _, b := range peers[i+1:] {
			if components(peers, g, map[*container]bool{a: true, b: true}) == 1 {
				return a, b, true
			}
		}
	}
	return nil, nil, false
}

// peerLog is what a peer's log says about gossip.
type peerLog struct {
	generated []string               // texts, in order
	received  map[string][]time.Time // text -> receipt times (more than one: a duplicate delivery)
}

// logLines returns a container's log (docker logs: the node echoes its
// outputfile.log lines to stdout).
func (c *cluster) logLines(k *container) []string {
	c.t.Helper()
	out, err := exec.CommandContext(c.ctx, "docker", "logs", k.id).CombinedOutput()
	if err != nil {
		c.t.Fatalf("docker logs %s: %v\n%s", k, err, out)
	}
	return strings.Split(string(out), "\n")
}

// logs parses a peer's "generated TEXT" and "received TEXT from ADDR"
// lines. Each line starts with "<timestamp>:<node> ".
func (c *cluster) logs(k *container) peerLog {
	l := peerLog{received: map[string][]time.Time{}}
	for _, line := range c.logLines(k) {
		head, event, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if text, ok := strings.CutPrefix(event, "generated "); ok {
			l.generated = append(l.generated, text)
		} else if rest, ok := strings.CutPrefix(event, "received "); ok {
			if i := strings.LastIndex(rest, " from "); i >= 0 {
				l.received[rest[:i]] = append(l.received[rest[:i]], unixTime(head))
			}
		}
	}
	return l
}

// created is a gossip text's creation time: its first field.
func created(text string) time.Time { return unixTime(text) }

// unixTime reads the Unix-seconds timestamp that starts s ("1764072000.123456:...").
func unixTime(s string) time.Time {
	ts, _, _ := strings.Cut(s, ":")
	f, err := strconv.ParseFloat(ts, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(0, int64(f*1e9))
}

func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(q*float64(len(sorted)-1)+0.5)]
}

// waitFor polls cond (which returns "" when satisfied, else what it is
// still waiting for) until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, still waiting for %s: %s", timeout, what, why)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

// linkSet returns an overlay's links, each once as "a-b" with a < b (IP
// addresses on the peer port).
func linkSet(g map[*container][]*container) []string {
	var out []string
	for p, nbs := range g {
		for _, q := range nbs {
			a, b := net.JoinHostPort(p.ip, "5000"), net.JoinHostPort(q.ip, "5000")
			if a < b {
				out = append(out, a+"-"+b)
			} else if !slices.Contains(g[q], p) {
				out = append(out, b+"-"+a) // reported by one end only
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// dashboardGraph reads the dashboard's /api/graph: its live (not dead, not
// frozen) nodes and its links in linkSet's form.
func dashboardGraph(addr string) (nodes, links []string, err error) {
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://" + addr + "/api/graph")
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	var g struct {
		Nodes []struct {
			Addr         string
			Dead, Frozen bool
		}
		Edges []int
	}
	if err := json.NewDecoder(resp.Body).Decode(&g); err != nil {
		return nil, nil, fmt.Errorf("dashboard /api/graph: %w", err)
	}
	for _, n := range g.Nodes {
		if !n.Dead && !n.Frozen {
			nodes = append(nodes, n.Addr)
		}
	}
	for i := 0; i+1 < len(g.Edges); i += 2 {
		a, b := g.Nodes[g.Edges[i]].Addr, g.Nodes[g.Edges[i+1]].Addr
		if b < a {
			a, b = b, a
		}
		links = append(links, a+"-"+b)
	}
	slices.Sort(nodes)
	slices.Sort(links)
	return nodes, slices.Compact(links), nil
}
