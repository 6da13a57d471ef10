package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

func init() {
	register("health", "exit 0 if a node's /healthz answers 200, 1 if not (for container health checks)", runHealth)
}

// defaultHealthAddr is where the container image's nodes serve --http
// (Dockerfile, deploy/compose.yaml, deploy/k8s): the image's HEALTHCHECK
// runs "whispernet health" with no argument.
const defaultHealthAddr = "127.0.0.1:9000"

const healthAbout = `
Fetches http://ADDR/healthz (ADDR defaults to ` + defaultHealthAddr + `) and exits 0
if it answers 200 OK, 1 otherwise, printing why on stderr. It exists for
container health checks: an image built FROM scratch has no shell and no
curl, so the Dockerfile's HEALTHCHECK runs the whispernet binary itself.
ADDR may also be a full URL; one without a path gets /healthz.

Examples:
  whispernet health                          # the image's HEALTHCHECK
  whispernet health 127.0.0.1:9080
  whispernet health http://seed-0:9000/healthz`

func runHealth(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("health", "health [ADDR|URL] [--timeout D]", healthAbout, stdio)
	timeout := fs.Duration("timeout", 2*time.Second, "give up after this long (a health check must finish within its own timeout)")
	pos, code, done := parseInterleaved(fs, args)
	if done {
		return code
	}
	if len(pos) > 1 {
		return usageErr(stdio, "health", "want at most one ADDR or URL, got %d", len(pos))
	}
	url := defaultHealthAddr
	if len(pos) == 1 {
		url = pos[0]
	}
	url = healthURL(url)
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return usageErr(stdio, "health", "%v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fail(stdio, "health", err)
	}
	defer resp.Body.Close()
	// Drain a little so the connection closes cleanly; the body is "ok".
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fail(stdio, "health", fmt.Errorf("%s: %s", url, resp.Status))
	}
	return ExitOK
}

// healthURL turns ADDR or a URL into the /healthz URL to fetch: a bare
// address gets http:// and /healthz, a URL without a path gets /healthz.
func healthURL(s string) string {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	scheme, rest, _ := strings.Cut(s, "://")
	if !strings.Contains(rest, "/") {
		return scheme + "://" + rest + "/healthz"
	}
	return s
}
