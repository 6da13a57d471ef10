package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWatchUsage(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.txt")
	// A seed literal nothing listens on: watch starts, finds it down, and
	// keeps serving until its context ends.
	if err := os.WriteFile(cfg, []byte("127.0.0.1:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"--status-port", "0", "--config", cfg}, ExitUsage, "--status-port 0 is not in 1-65535"},
		{[]string{"--interval", "0s", "--config", cfg}, ExitUsage, "--interval and --timeout must be positive"},
		{[]string{"extra", "--config", cfg}, ExitUsage, `unexpected argument "extra"`},
		{[]string{"--config", filepath.Join(t.TempDir(), "none.txt")}, ExitFail, "none.txt"},
		{[]string{"--config", cfg, "--http", "127.0.0.1:0", "--interval", "50ms"}, ExitOK, "watching 1 seed(s) of " + cfg + "; live view at http://127.0.0.1:"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		code, _, stderr := run(t, ctx, append([]string{"watch"}, c.args...)...)
		cancel()
		if code != c.code || !strings.Contains(stderr, c.err) {
			t.Errorf("watch %q: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, c.code, c.err)
		}
	}
}
