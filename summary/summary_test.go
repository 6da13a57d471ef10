package summary

import (
	"encoding/json"
	"testing"

	"github.com/whispernet/whispernet/powerlaw"
)

// TestNewFit: a tail of MinTail points gives numbers, one point fewer
// gives the note and no numbers.
func TestNewFit(t *testing.T) {
	few := NewFit(powerlaw.Fit{Alpha: 5.94117, Xmin: 7, NTail: MinTail - 1, KS: 0.123456})
	if few.Meaningful() || few.Alpha != nil || few.KS != nil || few.Xmin != 7 || few.NTail != 49 ||
		few.Note != "too few points (n_tail 49, under 50) for a meaningful fit" {
		t.Errorf("49 tail points: %+v", few)
	}
	b, _ := json.Marshal(few)
	if string(b) != `{"xmin":7,"n_tail":49,"note":"too few points (n_tail 49, under 50) for a meaningful fit"}` {
		t.Errorf("49 tail points encode as %s", b)
	}
	ok := NewFit(powerlaw.Fit{Alpha: 2.48612, Xmin: 3, NTail: MinTail, KS: 0.009549})
	if !ok.Meaningful() || *ok.Alpha != 2.4861 || *ok.KS != 0.0095 || ok.Note != "" {
		t.Errorf("50 tail points: %+v", ok)
	}
	var none *Fit
	if none.Meaningful() {
		t.Error("a nil fit is meaningful")
	}
}

// TestSchema pins the encoding both commands print: the common fields,
// then the fields of the side that measured, at the same level.
func TestSchema(t *testing.T) {
	formed := 2.08
	s := Summary{Source: SourceNet, Peers: 40, Seeds: 6, RandSeed: 1, FormationS: &formed, Live: 40, Links: 117, Components: 1,
		Degree: Degree{Min: 3, Avg: 5.85, Max: 23}, BelowTarget: 3, Fit: NewFit(powerlaw.Fit{Xmin: 3, NTail: 40}),
		Messages: Messages{Seen: 80, Complete: 80, Coverage: 1}, PropagationMs: Quantiles{P50: 5.2, P99: 38.2, Max: 38.2},
		Deliveries: 3120, MaxHops: 10, Net: &Net{CPUSeconds: 0.399, CPUUsPerDelivery: 127.937,
			WritesPerDelivery: 1.452, ReadsPerDelivery: 2.904, LinesPerWrite: 1.118, PeakRSSMB: 40.5, Processes: 1}}
	b, err := json.Marshal(s)
	want := `{"source":"net","peers":40,"seeds":6,"rand_seed":1,"formation_s":2.08,"live":40,"links":117,"components":1,` +
		`"degree":{"min":3,"avg":5.85,"max":23},"below_target":3,` +
		`"fit":{"xmin":3,"n_tail":40,"note":"too few points (n_tail 40, under 50) for a meaningful fit"},` +
		`"messages":{"seen":80,"complete":80,"coverage":1},"propagation_ms":{"p50":5.2,"p99":38.2,"max":38.2},` +
		`"deliveries":3120,"max_hops":10,"false_deaths":{"dead_reports":0,"seed_removals":0},` +
		`"slow_closes":0,"demoted":0,"cpu_s":0.399,"cpu_us_per_delivery":127.937,` +
		`"writes_per_delivery":1.452,"reads_per_delivery":2.904,"lines_per_write":1.118,"peak_rss_mb":40.5,"processes":1}`
	if err != nil || string(b) != want {
		t.Errorf("encoded\n%s\nwant\n%s", b, want)
	}
	var back Summary
	if err := json.Unmarshal(b, &back); err != nil || back.Net == nil || back.Sim != nil || back.Fit.Meaningful() || *back.FormationS != 2.08 {
		t.Errorf("decoded %+v, %v", back, err)
	}
}

func TestFalseDeathsTotal(t *testing.T) {
	if n := (FalseDeaths{DeadReports: 3, SeedRemovals: 2}).Total(); n != 5 {
		t.Errorf("total %d, want 5", n)
	}
}

// TestSectionsDoNotCollide: encoding/json silently drops fields of the
// same name at the same depth, so no name of Net, Sim and Summary's own
// may repeat. Every field of a full summary survives a round trip.
func TestSectionsDoNotCollide(t *testing.T) {
	one := 1.0
	s := Summary{Source: SourceSim, Peers: 1, Seeds: 1, RandSeed: 1, FormationS: &one, Live: 1, Links: 1, Components: 1,
		Degree: Degree{1, 1, 1}, BelowTarget: 1, Fit: &Fit{Xmin: 1, NTail: 1, Note: "n"}, Messages: Messages{1, 1, 1},
		PropagationMs: Quantiles{1, 1, 1}, Deliveries: 1, MaxHops: 1, FalseDeaths: FalseDeaths{1, 1},
		Net: &Net{SlowCloses: 1, Demoted: 1, CPUSeconds: 1, CPUUsPerDelivery: 1,
			WritesPerDelivery: 1, ReadsPerDelivery: 1, LinesPerWrite: 1, PeakRSSMB: 1, Processes: 1},
		Sim: &Sim{DeliveryRatio: 1, Duplicates: 1, Lost: 1, LDH: 1, LDHMax: 1, RMR: 1,
			DetectionS: Detection{Quantiles2{1, 1}, Quantiles2{1, 1}}, Undetected: 1, Crashed: 1, Frozen: 1,
			Registry: Registry{1, 1}, Events: 1, VirtualS: 1}}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]any
	json.Unmarshal(b, &keys)
	// 16 common fields, 9 of Net, 13 of Sim.
	if len(keys) != 16+9+13 {
		t.Errorf("%d top-level keys, want %d: %s", len(keys), 16+9+13, b)
	}
	var back Summary
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(back)
	if string(again) != string(b) {
		t.Errorf("round trip changed it:\n%s\n%s", b, again)
	}
}
