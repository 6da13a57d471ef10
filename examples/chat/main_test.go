package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is an output both the chat and the test use.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls out until it matches re.
func waitFor(t *testing.T, out *syncBuffer, re string) string {
	t.Helper()
	r := regexp.MustCompile(re)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := r.FindStringSubmatch(out.String()); m != nil {
			return m[len(m)-1]
		}
	}
	t.Fatalf("output never matched %q:\n%s", re, out.String())
	return ""
}

// Two chats: ann runs the seed, bob joins; a line typed in one appears in
// the other, and when bob's input ends he leaves.
func TestChat(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	annIn, annType := io.Pipe()
	bobIn, bobType := io.Pipe()
	var annOut, bobOut syncBuffer
	errs := make(chan error, 2)
	go func() { errs <- run(ctx, []string{"-name", "ann", "-seed-listen", "127.0.0.1:0"}, annIn, &annOut) }()
	seed := waitFor(t, &annOut, `others join with -seed (\S+)\n`)
	go func() { errs <- run(ctx, []string{"-name", "bob", "-seed", seed}, bobIn, &bobOut) }()
	waitFor(t, &annOut, `\* neighbour \S+: (join)`)
	waitFor(t, &bobOut, `\* neighbour \S+: (join)`)

	fmt.Fprintln(annType, "hello: bob")
	waitFor(t, &bobOut, "(ann: hello: bob)\n")
	fmt.Fprintln(bobType, "hi ann")
	waitFor(t, &annOut, "(bob: hi ann)\n")

	bobType.Close() // Ctrl+D
	if err := <-errs; err != nil {
		t.Fatalf("bob: %v", err)
	}
	waitFor(t, &annOut, `\* neighbour \S+: (leave)`)
	annType.Close()
	if err := <-errs; err != nil {
		t.Fatalf("ann: %v", err)
	}
	if strings.Contains(annOut.String(), "ann: hello") {
		t.Errorf("ann saw her own line:\n%s", annOut.String())
	}
}
