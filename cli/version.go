package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is the release this binary was built as. Set it at build time:
//
//	go build -ldflags "-X github.com/whispernet/whispernet/cli.Version=v1.2.0" ./cmd/whispernet
//
// The commit comes from the build information the go command records
// (vcs.revision) when it builds inside a git checkout with -buildvcs on
// (the default, unless GOFLAGS says -buildvcs=false); where there is no
// checkout (a container build without .git) set Commit the same way:
// -X github.com/whispernet/whispernet/cli.Commit=$(git rev-parse HEAD).
var (
	Version = "dev"
	Commit  = ""
)

func init() {
	register("version", "print the version and the commit this binary was built from", runVersion)
}

func runVersion(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("version", "version", "Prints the version, the commit (with \"+dirty\" for uncommitted changes) and the Go release.", stdio)
	if code, done := parse(fs, args); done {
		return code
	}
	fmt.Fprintln(stdio.Out, versionLine())
	return ExitOK
}

// versionLine is "whispernet VERSION (commit REV[+dirty], TIME, GOVERSION)".
func versionLine() string {
	rev, at, dirty := "unknown", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if Commit != "" {
		rev, dirty = Commit, false
	}
	if dirty {
		rev += "+dirty"
	}
	if at != "" {
		at = ", " + at
	}
	return fmt.Sprintf("whispernet %s (commit %s%s, %s)", Version, rev, at, runtime.Version())
}
