package main

import (
	"context"
	"io"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// TestPlan: the light plan spreads rate × duration messages evenly; the
// classic plan gives every node count messages interval apart from a
// phase within the first interval; the same seed, the same plan.
func TestPlan(t *testing.T) {
	c := workloadConfig{lightRate: 10, lightDuration: 2 * time.Second, classicCount: 3, classicInterval: time.Second}
	light := plan(loadLight, 5, c, 1)
	if len(light) != 20 || light[0].at != 0 || light[19].at != 1900*time.Millisecond {
		t.Fatalf("light plan: %d messages from %v to %v", len(light), light[0].at, light[len(light)-1].at)
	}
	classic := plan(loadClassic, 4, c, 1)
	if len(classic) != 12 {
		t.Fatalf("classic plan: %d messages, want 12", len(classic))
	}
	byNode := map[int][]time.Duration{}
	for i, p := range classic {
		if i > 0 && p.at < classic[i-1].at {
			t.Fatalf("classic plan out of order at %d", i)
		}
		byNode[p.node] = append(byNode[p.node], p.at)
	}
	for node, ats := range byNode {
		if len(ats) != 3 || ats[0] >= time.Second || ats[1]-ats[0] != time.Second || ats[2]-ats[1] != time.Second {
			t.Errorf("node %d publishes at %v", node, ats)
		}
	}
	if !slices.Equal(plan(loadClassic, 4, c, 1), classic) || slices.Equal(plan(loadClassic, 4, c, 2), classic) {
		t.Error("the plan does not follow the seed")
	}
}

func TestPayload(t *testing.T) {
	for _, id := range []int{0, 7, 123456} {
		if got := parsePayload(payload(id)); got != id {
			t.Errorf("payload %d parses as %d", id, got)
		}
	}
	for _, bad := range []string{"", "bench", "bench x", "bench -1", "hello 3"} {
		if got := parsePayload([]byte(bad)); got != -1 {
			t.Errorf("%q parses as %d", bad, got)
		}
	}
}

func TestWithoutFlags(t *testing.T) {
	got := withoutFlags([]string{"-n", "200,500", "-degree", "8", "-json", "--loads=light", "-engines", "gossipsub", "-drain", "5s"}, "n", "loads", "engines", "json", "engine")
	if want := []string{"-degree", "8", "-drain", "5s"}; !slices.Equal(got, want) {
		t.Errorf("withoutFlags = %q, want %q", got, want)
	}
}

// TestBothEnginesSmall runs each engine on 8 nodes with 10 messages: every
// message reaches every node, and the figures are consistent.
func TestBothEnginesSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 8 WhisperNet nodes and 8 libp2p hosts")
	}
	o, err := parseFlags([]string{"-n", "8", "-light-duration", "1s", "-drain", "20s", "-form-timeout", "30s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []string{engineWhisperNet, engineGossipSub} {
		t.Run(e, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
			defer cancel()
			r, err := runEngine(ctx, o, e, 8, loadLight, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if r.Messages != 10 || r.Complete != 10 || r.Coverage != 1 || r.Deliveries != 70 {
				t.Errorf("%d of %d complete, coverage %v, %d deliveries; want 10 of 10, 1, 70", r.Complete, r.Messages, r.Coverage, r.Deliveries)
			}
			if r.AllP50 > r.AllP99 || r.AllP99 > r.AllMax || r.RMR < 0 || r.CPUSeconds <= 0 || r.PeakRSSMB <= 0 {
				t.Errorf("inconsistent figures: %+v", r)
			}
		})
	}
}

// stuckEngine accepts one publication and then blocks every Publish until
// its context ends, as an engine that cannot keep up.
type stuckEngine struct{ calls atomic.Int32 }

func (*stuckEngine) start(context.Context, options, int, *recorder, io.Writer) error { return nil }
func (s *stuckEngine) publish(ctx context.Context, _ int, _ []byte) error {
	if s.calls.Add(1) == 1 {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}
func (*stuckEngine) avgDegree() float64 { return 0 }
func (*stuckEngine) close()             {}

// TestStuckEngineIsBounded: an engine whose Publish blocks does not
// stretch the run past the plan plus the drain (twice: publications are
// given up at the cutoff, then the drain waits once more); what was not
// begun counts as unpublished, and nothing is complete.
func TestStuckEngineIsBounded(t *testing.T) {
	o, err := parseFlags([]string{"-n", "4", "-light-rate", "100", "-light-duration", "1s", "-drain", "300ms"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	r, err := measure(context.Background(), o, &stuckEngine{}, "stuck", 4, loadLight, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// 100 messages; the 256-slot semaphore never fills, so every
	// publication begins (none unpublished) and 99 block until the cutoff.
	if r.Messages != 100 || r.Complete != 0 || r.Unpublished != 0 || r.Coverage != 0 {
		t.Errorf("%d messages, %d complete, %d unpublished, coverage %v; want 100, 0, 0, 0", r.Messages, r.Complete, r.Unpublished, r.Coverage)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("took %v: the cutoff (plan 0.99 s + drain 0.3 s) did not bound it", d)
	}
	// With room for only a few Publish calls at once, the rest are given
	// up at the cutoff.
	o.load.lightRate, o.load.lightDuration = 1000, time.Second
	r, err = measure(context.Background(), o, &stuckEngine{}, "stuck", 4, loadLight, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if r.Messages != 1000 || r.Unpublished != 1000-257 {
		t.Errorf("%d messages, %d unpublished; want 1000 and %d (1 accepted + 256 blocked begun)", r.Messages, r.Unpublished, 1000-257)
	}
}
