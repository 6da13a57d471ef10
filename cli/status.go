package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/whispernet/whispernet/status"
)

func init() {
	register("status", "print a running node's status (from its --http address) as a table", runStatus)
}

// serveHTTP starts an HTTP server for h on addr and returns the address
// it listens on. It stops when ctx ends.
func serveHTTP(ctx context.Context, addr string, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("http: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }() // returns http.ErrServerClosed after Shutdown
	context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx) // past the timeout, connections are cut
	})
	return ln.Addr().String(), nil
}

// statusMux returns a mux with /metrics, /status, /healthz and pprof.
func statusMux(reg *status.Registry) *http.ServeMux {
	mux := http.NewServeMux()
	reg.Register(mux)
	return mux
}

const statusAbout = `
Fetches http://ADDR/status from a node started with --http ADDR (seed, peer
or net) and prints it as a table: every node with its role, degree and
target, message-list size, uptime and seeds, and every neighbour with its
last liveness round trip and unanswered requests.

Examples:
  whispernet peer --port 5000 --http 127.0.0.1:9000 &
  whispernet status 127.0.0.1:9000
  whispernet status 127.0.0.1:9000 --json`

func runStatus(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("status", "status ADDR [--json]", statusAbout, stdio)
	jsonOut := fs.Bool("json", false, "print the raw JSON document")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	pos, code, done := parseInterleaved(fs, args)
	if done {
		return code
	}
	if len(pos) != 1 {
		return usageErr(stdio, "status", "want exactly one ADDR (the node's --http address)")
	}
	url := pos[0]
	if !strings.Contains(url, "://") {
		url = "http://" + url
	}
	url = strings.TrimSuffix(url, "/") + "/status"
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return usageErr(stdio, "status", "%v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fail(stdio, "status", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fail(stdio, "status", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fail(stdio, "status", fmt.Errorf("%s: %s", url, resp.Status))
	}
	if *jsonOut {
		if _, err := stdio.Out.Write(body); err != nil {
			return ExitFail
		}
		return ExitOK
	}
	var doc status.Document
	if err := json.Unmarshal(body, &doc); err != nil {
		return fail(stdio, "status", errors.New(url+" did not return a status document"))
	}
	printStatus(stdio.Out, doc)
	return ExitOK
}

func printStatus(w io.Writer, doc status.Document) {
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tDEGREE/TARGET\tML\tREGISTRY\tUPTIME\tSEEDS")
	for _, n := range doc.Nodes {
		deg, reg := "-", "-"
		if n.Role == "peer" {
			deg = fmt.Sprintf("%d/%d", n.Degree, n.Target)
			if n.Frozen {
				deg += " frozen"
			}
		} else {
			reg = fmt.Sprint(n.Registry)
		}
		ml := "-"
		if n.Role == "peer" {
			ml = fmt.Sprint(n.MessageLog)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.1fs\t%s\n", n.Addr, n.Role, deg, ml, reg, n.UptimeS, strings.Join(n.Seeds, ","))
		for _, nb := range n.Neighbours {
			dir := "in"
			if nb.Outbound {
				dir = "out"
			}
			fmt.Fprintf(tw, "  -> %s\t%s\trtt %.2fms\tmisses %d\t\tlinked %.1fs\t\n", nb.Addr, dir, nb.RTTMs, nb.Misses, nb.SinceS)
		}
	}
	tw.Flush()
}
