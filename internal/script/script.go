// Package script runs scripted tests: small datadriven-style files of
// commands and the output each one must give.
//
// A script is a sequence of blocks. Each block is one command line, a line
// "----", and the expected output, one line each, ended by a blank line or
// the end of the file. Lines before a command that are blank or start with
// '#' are comments. For example:
//
//	# Start the peer.
//	start
//	----
//	log starting
//	seedreq 127.0.0.1:8080 register:127.0.0.1:5000:3:0
//
// A test supplies the interpreter, a func from a Case to its output lines,
// and Run or RunFile feed it every case of a file in order and compare what
// it says with the file. An output line that is empty is written <empty>,
// since a blank line ends a block.
//
// Run the tests with -rewrite (a flag this package adds to the test binary)
// to write the interpreter's output back into the files as the expected
// output, comments and all. Every rewritten line must then be reviewed
// before it is committed, or the test only snapshots bugs.
//
// The package is for tests; it imports testing and registers -rewrite.
//
// Why not cockroachdb/datadriven, whose file format this is: most commands
// here carry a protocol line as their argument ("recv c1 Connection with
// Peer:10.0.0.1:5000:2:0", "seedreply S register -> registered
// successfully"). Counted over the 35 scripts of peer, seed and sim: 411 of
// the 699 commands are such lines, and 17 hold a word with '=' that is not
// key=value. datadriven hands a command its arguments parsed by its own
// grammar (key, key=val, key=(a, b)), so each of those lines would move
// into the block's input section, making every block a line longer and the
// scripts harder to read, for the same comparison and -rewrite that these
// 231 lines already give.
package script

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of testdata scripts")

// Case is one block of a script.
type Case struct {
	Pos      string   // file:line of the command
	Line     string   // the command line as written
	Cmd      string   // the command: Line up to the first space
	Rest     string   // Line after the first space, as written
	Args     []string // Rest split into words
	Expected []string // the expected output, one line each

	pre []string // comments and blank lines before the command
}

// KeyValues reads the arguments as key=value words; a word without "="
// is a key with an empty value.
func (c *Case) KeyValues() map[string]string {
	kv := make(map[string]string)
	for _, a := range c.Args {
		k, v, _ := strings.Cut(a, "=")
		kv[k] = v
	}
	return kv
}

// Fail reports a command the interpreter cannot run, as a test error
// naming the command, and returns an output line that says so.
func (c *Case) Fail(t testing.TB, format string, args ...any) []string {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	t.Errorf("%s: %s", c.Line, msg)
	return []string{"HARNESS ERROR: " + msg}
}

// File is a parsed script.
type File struct {
	Path  string
	Cases []*Case

	tail []string // comments and blank lines after the last case
}

// ParseFile reads and parses the script at path.
func ParseFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse parses a script; path names it in positions and errors.
func Parse(path string, data []byte) (*File, error) {
	f := &File{Path: path}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	var pre []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			pre = append(pre, l)
			continue
		}
		if i+1 >= len(lines) || lines[i+1] != "----" {
			return nil, fmt.Errorf("%s:%d: command %q is not followed by ----", path, i+1, l)
		}
		c := &Case{Pos: fmt.Sprintf("%s:%d", path, i+1), Line: l, pre: pre}
		c.Cmd, c.Rest, _ = strings.Cut(l, " ")
		c.Args = strings.Fields(c.Rest)
		pre = nil
		for i += 2; i < len(lines) && lines[i] != ""; i++ {
			c.Expected = append(c.Expected, lines[i])
		}
		f.Cases = append(f.Cases, c)
	}
	f.tail = pre
	return f, nil
}

// Format writes the script back with got[i] as the expected output of
// case i.
func (f *File) Format(got [][]string) string {
	var b strings.Builder
	for i, c := range f.Cases {
		for _, l := range c.pre {
			b.WriteString(l + "\n")
		}
		b.WriteString(c.Line + "\n----\n")
		for _, g := range got[i] {
			b.WriteString(g + "\n")
		}
		b.WriteString("\n")
	}
	for _, l := range f.tail {
		b.WriteString(l + "\n")
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

// Run runs every script matching pattern (as in filepath.Glob), each as a
// subtest named after the file without its extension, with an interpreter
// from newRun: a fresh one per file.
func Run(t *testing.T, pattern string, newRun func(t *testing.T) func(*Case) []string) {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts match %s (%v)", pattern, err)
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(strings.TrimSuffix(name, filepath.Ext(name)), func(t *testing.T) {
			RunFile(t, path, newRun(t))
		})
	}
}

// RunFile runs the cases of the script at path through run in order and
// reports each whose output differs from the file's; with -rewrite it
// writes the output into the file instead.
func RunFile(t testing.TB, path string, run func(*Case) []string) {
	t.Helper()
	f, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := make([][]string, len(f.Cases))
	for i, c := range f.Cases {
		out := run(c)
		for j, l := range out {
			if l == "" {
				out[j] = "<empty>"
			}
		}
		got[i] = out
		if !*rewrite && strings.Join(out, "\n") != strings.Join(c.Expected, "\n") {
			t.Errorf("%s: %s\n--- got:\n%s\n--- want:\n%s", c.Pos, c.Line,
				strings.Join(out, "\n"), strings.Join(c.Expected, "\n"))
		}
	}
	if *rewrite {
		if err := os.WriteFile(path, []byte(f.Format(got)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Clock is a script's fake clock: it starts at Base and moves only when a
// command moves it.
type Clock struct {
	Base, Now time.Time
}

// NewClock returns a clock standing at base.
func NewClock(base time.Time) Clock { return Clock{Base: base, Now: base} }

// Rel writes t as its offset from Base ("+1m30s"), or "none" for the zero
// time.
func (c *Clock) Rel(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return "+" + t.Sub(c.Base).String()
}

// Move moves the clock as the arguments of a command like
// "tick [+D | =D | next]" say: no argument leaves it, +D moves it on by D,
// =D sets it to Base+D, and next moves it to next() (the deadline of the
// thing under test) unless that has passed, and says "now +D".
func (c *Clock) Move(args []string, next func() time.Time) ([]string, error) {
	switch {
	case len(args) == 0:
	case args[0] == "next":
		d := next()
		if d.IsZero() {
			return nil, fmt.Errorf("no deadline")
		}
		if d.After(c.Now) {
			c.Now = d
		}
		return []string{"now " + c.Rel(c.Now)}, nil
	case strings.HasPrefix(args[0], "+"), strings.HasPrefix(args[0], "="):
		d, err := time.ParseDuration(args[0][1:])
		if err != nil {
			return nil, err
		}
		if args[0][0] == '+' {
			c.Now = c.Now.Add(d)
		} else {
			c.Now = c.Base.Add(d)
		}
	default:
		return nil, fmt.Errorf("bad time %q", args[0])
	}
	return nil, nil
}
