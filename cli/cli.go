// Package cli implements the whispernet command's subcommands. Each takes
// its arguments and standard streams and returns an exit code, so tests
// drive them exactly as a user would.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"golang.org/x/term"
)

// Stdio are a command's standard streams.
type Stdio struct {
	In       io.Reader
	Out, Err io.Writer
}

// Exit codes.
const (
	ExitOK    = 0
	ExitFail  = 1 // the command ran and failed
	ExitUsage = 2 // bad flags or arguments
)

type command struct {
	summary string
	run     func(ctx context.Context, args []string, io Stdio) int
}

var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, args []string, io Stdio) int) {
	commands[name] = command{summary: summary, run: run}
}

// Run runs the subcommand named by args[0].
func Run(ctx context.Context, args []string, stdio Stdio) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return c.run(ctx, []string{"--help"}, stdio)
			}
		}
		usage(stdio.Err)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	if args[0] == "--version" || args[0] == "-version" || args[0] == "-v" {
		return runVersion(ctx, args[1:], stdio)
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stdio.Err, "whispernet: unknown command %q\n", args[0])
		usage(stdio.Err)
		return ExitUsage
	}
	return c.run(ctx, args[1:], stdio)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "WhisperNet: a peer-to-peer gossip network with seed nodes, liveness checks and a power-law overlay.")
	fmt.Fprintln(w, "\nUsage: whispernet <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n, c := range commands {
		if c.summary != "" { // internal commands have none
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun \"whispernet <command> --help\" for a command's flags.")
}

// newFlagSet returns a FlagSet whose --help prints the synopsis and flags.
func newFlagSet(name, synopsis, about string, stdio Stdio) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdio.Err)
	fs.Usage = func() {
		fmt.Fprintf(stdio.Err, "Usage: whispernet %s\n\n%s\n\nFlags:\n", synopsis, strings.TrimSpace(about))
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags; it returns done=true with the exit code when the
// command must stop (help shown or bad flags).
func parse(fs *flag.FlagSet, args []string) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK, true
		}
		return ExitUsage, true
	}
	return 0, false
}

// parseNoArgs is parse for a command that takes flags only: an argument
// left over is a usage error.
func parseNoArgs(fs *flag.FlagSet, args []string, stdio Stdio) (code int, done bool) {
	if code, done := parse(fs, args); done {
		return code, true
	}
	if fs.NArg() > 0 {
		return usageErr(stdio, fs.Name(), "unexpected argument %q", fs.Arg(0)), true
	}
	return 0, false
}

// fail prints a one-line error for the command and returns ExitFail.
func fail(stdio Stdio, cmd string, err error) int {
	fmt.Fprintf(stdio.Err, "whispernet %s: %v\n", cmd, err)
	return ExitFail
}

// usageErr prints a one-line usage error and returns ExitUsage.
func usageErr(stdio Stdio, cmd, format string, args ...any) int {
	fmt.Fprintf(stdio.Err, "whispernet %s: %s\n", cmd, fmt.Sprintf(format, args...))
	fmt.Fprintf(stdio.Err, "Run \"whispernet %s --help\" for usage.\n", cmd)
	return ExitUsage
}

// isTerminal reports whether r or w (an io.Reader or io.Writer) is an
// interactive terminal. It asks the terminal driver (x/term, an ioctl),
// not the file mode: /dev/null is a character device too, and a peer
// started with </dev/null must not wait for typed lines.
func isTerminal(rw any) bool {
	f, ok := rw.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// isSet reports whether the flag name was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
