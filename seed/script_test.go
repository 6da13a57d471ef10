package seed

// A small datadriven-style runner for scenario scripts in testdata/.
//
// A script is a sequence of blocks. Each block is one command line, a line
// "----", and the expected output, one line each, ended by a blank line or
// the end of the file. Lines starting with '#' before a command are
// comments. Run the tests with -rewrite to regenerate the expected output
// from the code; every regenerated line must then be reviewed against the
// protocol before it is committed, or the test only snapshots bugs.

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of testdata scripts")

type scriptCase struct {
	pre  []string // comments and blank lines before the command
	line int      // line number of the command
	cmd  string
	want []string
}

func parseScript(t *testing.T, path string) (cases []scriptCase, tail []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	var pre []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			pre = append(pre, l)
			continue
		}
		c := scriptCase{pre: pre, line: i + 1, cmd: l}
		pre = nil
		if i+1 >= len(lines) || lines[i+1] != "----" {
			t.Fatalf("%s:%d: command %q is not followed by ----", path, i+1, l)
		}
		i += 2
		for ; i < len(lines) && lines[i] != ""; i++ {
			c.want = append(c.want, lines[i])
		}
		cases = append(cases, c)
	}
	return cases, pre
}

// runScripts runs every testdata/*.txt script matching glob, each as a
// subtest with a fresh state from newRun.
func runScripts(t *testing.T, glob string, newRun func(t *testing.T) func(cmd string) []string) {
	files, err := filepath.Glob(filepath.Join("testdata", glob))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts match %s (%v)", glob, err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			cases, tail := parseScript(t, path)
			run := newRun(t)
			var b strings.Builder
			for _, c := range cases {
				got := run(c.cmd)
				for i, g := range got {
					if g == "" {
						got[i] = "<empty>"
					}
				}
				if *rewrite {
					for _, l := range c.pre {
						b.WriteString(l + "\n")
					}
					b.WriteString(c.cmd + "\n----\n")
					for _, g := range got {
						b.WriteString(g + "\n")
					}
					b.WriteString("\n")
					continue
				}
				if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
					t.Errorf("%s:%d: %s\n--- got:\n%s\n--- want:\n%s", path, c.line, c.cmd,
						strings.Join(got, "\n"), strings.Join(c.want, "\n"))
				}
			}
			if *rewrite {
				for _, l := range tail {
					b.WriteString(l + "\n")
				}
				out := strings.TrimRight(b.String(), "\n") + "\n"
				if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// cmdArgs splits "name a b c" and parses key=value arguments.
func kvArgs(fields []string) map[string]string {
	kv := make(map[string]string)
	for _, f := range fields {
		k, v, _ := strings.Cut(f, "=")
		kv[k] = v
	}
	return kv
}
