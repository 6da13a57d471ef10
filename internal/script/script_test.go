package script

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

const sample = `# A comment.

echo a b
----
a
b

# Empty output.
quiet
----

set x=1 y flag=
----

# A comment at the end.
`

// recorder is a testing.TB that keeps what a helper reports.
type recorder struct {
	testing.TB
	errors []string
	fatal  bool
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatal(args ...any) {
	r.errors = append(r.errors, fmt.Sprint(args...))
	r.fatal = true
	runtime.Goexit()
}

// record runs f against a recorder in its own goroutine, so that Fatal can
// end it.
func record(f func(tb testing.TB)) *recorder {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

func TestParse(t *testing.T) {
	f, err := Parse("x.txt", []byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) != 3 {
		t.Fatalf("%d cases, want 3", len(f.Cases))
	}
	c := f.Cases[0]
	if c.Pos != "x.txt:3" || c.Line != "echo a b" || c.Cmd != "echo" || c.Rest != "a b" ||
		!slices.Equal(c.Args, []string{"a", "b"}) || !slices.Equal(c.Expected, []string{"a", "b"}) ||
		!slices.Equal(c.pre, []string{"# A comment.", ""}) {
		t.Errorf("case 0: %+v", c)
	}
	if c := f.Cases[1]; c.Pos != "x.txt:9" || c.Cmd != "quiet" || c.Rest != "" || len(c.Args) != 0 || len(c.Expected) != 0 {
		t.Errorf("case 1: %+v", c)
	}
	kv := f.Cases[2].KeyValues()
	if len(kv) != 3 || kv["x"] != "1" || kv["y"] != "" || kv["flag"] != "" {
		t.Errorf("KeyValues: %v", kv)
	}
	if !slices.Equal(f.tail, []string{"# A comment at the end."}) {
		t.Errorf("tail %q", f.tail)
	}
	// Writing the expected output back gives the file again.
	var want [][]string
	for _, c := range f.Cases {
		want = append(want, c.Expected)
	}
	if got := f.Format(want); got != sample {
		t.Errorf("Format:\n%s\nwant:\n%s", got, sample)
	}
}

func TestParseErrors(t *testing.T) {
	for _, text := range []string{"cmd\n", "cmd\nout\n", "a\n----\n\nb\n"} {
		if _, err := Parse("bad.txt", []byte(text)); err == nil || !strings.Contains(err.Error(), "is not followed by ----") {
			t.Errorf("Parse(%q): %v", text, err)
		}
	}
	if _, err := ParseFile(filepath.Join(t.TempDir(), "missing.txt")); err == nil {
		t.Error("ParseFile of a missing file succeeded")
	}
}

// echo answers "echo WORDS" with one line per word and anything else with
// nothing.
func echo(c *Case) []string {
	if c.Cmd == "echo" {
		return slices.Clone(c.Args)
	}
	return nil
}

func writeScript(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunFile(t *testing.T) {
	dir := t.TempDir()
	// A script that holds.
	if r := record(func(tb testing.TB) { RunFile(tb, writeScript(t, dir, "ok.txt", sample), echo) }); len(r.errors) != 0 {
		t.Errorf("errors on a script that holds: %q", r.errors)
	}
	// A wrong expectation is reported at its command.
	path := writeScript(t, dir, "wrong.txt", "# c\necho a\n----\nb\n")
	r := record(func(tb testing.TB) { RunFile(tb, path, echo) })
	if want := path + ":2: echo a\n--- got:\na\n--- want:\nb"; len(r.errors) != 1 || r.errors[0] != want {
		t.Errorf("errors %q, want %q", r.errors, want)
	}
	// An empty output line is written <empty>.
	empty := func(c *Case) []string { return []string{"x", ""} }
	if r := record(func(tb testing.TB) {
		RunFile(tb, writeScript(t, dir, "empty.txt", "e\n----\nx\n<empty>\n"), empty)
	}); len(r.errors) != 0 {
		t.Errorf("errors with <empty>: %q", r.errors)
	}
	// A file that does not parse is fatal.
	if r := record(func(tb testing.TB) { RunFile(tb, writeScript(t, dir, "bad.txt", "echo\n"), echo) }); !r.fatal {
		t.Error("a malformed script is not fatal")
	}
}

func TestRunFileRewrite(t *testing.T) {
	defer func(old bool) { *rewrite = old }(*rewrite)
	*rewrite = true
	dir := t.TempDir()
	// Stale output goes; comments, commands and blank-line layout stay.
	path := writeScript(t, dir, "stale.txt", "# c\n\necho a b\n----\nstale\n\nblank\n----\nold\n\n# end\n\n")
	r := record(func(tb testing.TB) {
		RunFile(tb, path, func(c *Case) []string {
			if c.Cmd == "blank" {
				return []string{""}
			}
			return echo(c)
		})
	})
	if len(r.errors) != 0 {
		t.Fatalf("errors while rewriting: %q", r.errors)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "# c\n\necho a b\n----\na\nb\n\nblank\n----\n<empty>\n\n# end\n"; string(got) != want {
		t.Errorf("rewritten:\n%q\nwant:\n%q", got, want)
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "one.txt", "echo 1\n----\n1\n")
	writeScript(t, dir, "two.txt", "echo 2\n----\n2\n")
	writeScript(t, dir, "other.md", "not a script")
	var names []string
	Run(t, filepath.Join(dir, "*.txt"), func(t *testing.T) func(*Case) []string {
		names = append(names, t.Name())
		return echo
	})
	if want := []string{"TestRun/one", "TestRun/two"}; !slices.Equal(names, want) {
		t.Errorf("subtests %v, want %v", names, want)
	}
}

func TestFail(t *testing.T) {
	c := &Case{Line: "frob x"}
	var out []string
	r := record(func(tb testing.TB) { out = c.Fail(tb, "no %s", "frob") })
	if !slices.Equal(r.errors, []string{"frob x: no frob"}) || !slices.Equal(out, []string{"HARNESS ERROR: no frob"}) {
		t.Errorf("errors %q, output %q", r.errors, out)
	}
}

func TestClock(t *testing.T) {
	base := time.Unix(1764072000, 0).UTC()
	c := NewClock(base)
	none := func() time.Time { return time.Time{} }
	at := func(d time.Duration) func() time.Time { return func() time.Time { return base.Add(d) } }
	for _, step := range []struct {
		args []string
		next func() time.Time
		out  []string
		err  string
		now  time.Duration
	}{
		{args: nil, now: 0},
		{args: []string{"+1.5s"}, now: 1500 * time.Millisecond},
		{args: []string{"+1m"}, now: time.Minute + 1500*time.Millisecond},
		{args: []string{"=10s"}, now: 10 * time.Second},
		{args: []string{"next"}, next: at(12 * time.Second), out: []string{"now +12s"}, now: 12 * time.Second},
		// A deadline that has passed leaves the clock.
		{args: []string{"next"}, next: at(time.Second), out: []string{"now +12s"}, now: 12 * time.Second},
		{args: []string{"next"}, next: none, err: "no deadline", now: 12 * time.Second},
		{args: []string{"5s"}, err: `bad time "5s"`, now: 12 * time.Second},
		{args: []string{"+x"}, err: `time: invalid duration "x"`, now: 12 * time.Second},
	} {
		out, err := c.Move(step.args, step.next)
		var msg string
		if err != nil {
			msg = err.Error()
		}
		if msg != step.err || !slices.Equal(out, step.out) || c.Now != base.Add(step.now) {
			t.Errorf("Move(%q): %q, %q, now %s; want %q, %q, +%v", step.args, out, msg, c.Rel(c.Now), step.out, step.err, step.now)
		}
	}
	if got := c.Rel(time.Time{}); got != "none" {
		t.Errorf("Rel(zero) = %q", got)
	}
	if got := c.Rel(base.Add(-time.Second)); got != "+-1s" {
		t.Errorf("Rel(base-1s) = %q", got)
	}
}
