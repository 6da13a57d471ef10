package main

import (
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestStaticBuildAndVersion builds the command as a release would
// (CGO_ENABLED=0, the version set with -ldflags) and checks that the binary
// is static (no ELF interpreter, no dynamic section: it runs in a FROM
// scratch image) and that --version prints the version and a commit.
func TestStaticBuildAndVersion(t *testing.T) {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		t.Skipf("no go command at %s: %v", gobin, err)
	}
	bin := filepath.Join(t.TempDir(), "whispernet")
	cmd := exec.Command(gobin, "build", "-o", bin, "-ldflags", "-X github.com/whispernet/whispernet/cli.Version=v9.8.7-test", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	if runtime.GOOS == "linux" {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Fatalf("the binary is dynamically linked (program header %v)", p.Type)
			}
		}
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("--version: %v", err)
	}
	line := strings.TrimSpace(string(out))
	if !strings.HasPrefix(line, "whispernet v9.8.7-test (commit ") || !strings.HasSuffix(line, runtime.Version()+")") {
		t.Fatalf("--version printed %q", line)
	}
	// The commit is what the go command recorded: vcs.revision when it
	// built inside a git checkout with -buildvcs on, else none ("unknown").
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	want := "commit unknown"
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			want = "commit " + s.Value
		}
	}
	if !strings.Contains(line, want) {
		t.Fatalf("--version printed %q, want %q in it", line, want)
	}
}
