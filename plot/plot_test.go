package plot

import (
	"bytes"
	"errors"
	"image"
	_ "image/png" // register the decoder for image.DecodeConfig
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/whispernet/whispernet/powerlaw"
)

// sampleDegrees returns a small power-law degree sequence with a few
// isolated peers, like a freqtrack.log of a healthy run, and its fit.
func sampleDegrees(t testing.TB) ([]int, *powerlaw.Fit) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 1))
	s := powerlaw.NewSampler(2.6, 3)
	var ds []int
	for range 300 {
		ds = append(ds, min(s.Sample(r), 60))
	}
	for range 50 {
		ds = append(ds, r.IntN(3))
	}
	fit, err := powerlaw.Estimate(ds)
	if err != nil {
		t.Fatal(err)
	}
	return ds, &fit
}

// checkPNG decodes the header of a PNG and checks its size in pixels.
func checkPNG(t *testing.T, b []byte, wantW, wantH int) {
	t.Helper()
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not an image: %v", err)
	}
	if format != "png" || cfg.Width != wantW || cfg.Height != wantH {
		t.Errorf("got %s %d×%d, want png %d×%d", format, cfg.Width, cfg.Height, wantW, wantH)
	}
}

// checkSVG checks that b looks like a complete SVG document.
func checkSVG(t *testing.T, b []byte) {
	t.Helper()
	s := string(b)
	if !(strings.HasPrefix(s, "<?xml") || strings.Contains(s, "<svg")) || !strings.Contains(s, "</svg>") {
		t.Errorf("not an SVG document: %.80q…", s)
	}
}

// Pixel sizes at 144 dpi: a panel is 6×4.5 inches.
const (
	panelPxW = 6 * 144
	panelPxH = 4.5 * 144
)

// Most tests render SVG: it exercises the same layout code as PNG, and
// rasterising is what dominates the package's test time under -race.
// TestPNG renders one PNG per figure.

func TestDegrees(t *testing.T) {
	ds, fit := sampleDegrees(t)
	for _, f := range []*powerlaw.Fit{fit, nil} {
		var svg bytes.Buffer
		if err := Degrees(&svg, "SVG", ds, f); err != nil {
			t.Fatalf("fit %v: %v", f != nil, err)
		}
		checkSVG(t, svg.Bytes())
		// The statistics box and the legend are part of the figure.
		for _, want := range []string{"Total peers: 350", "Max degree: 60", "Min degree: 0", "Average degree: "} {
			if !strings.Contains(svg.String(), want) {
				t.Errorf("SVG lacks %q", want)
			}
		}
		if hasFit := strings.Contains(svg.String(), "power law α="); hasFit != (f != nil) {
			t.Errorf("fit legend present = %v, want %v", hasFit, f != nil)
		}
	}
}

// TestPNG renders each figure once as PNG and checks the image decodes
// with the documented size.
func TestPNG(t *testing.T) {
	ds, fit := sampleDegrees(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "DEGREES.PNG") // the extension is case-insensitive
	if err := DegreesFile(path, ds, fit); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	checkPNG(t, b, 2*panelPxW, panelPxH)

	var buf bytes.Buffer
	if err := CCDFFit(&buf, "png", ds, fit); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, buf.Bytes(), panelPxW, panelPxH)

	path = filepath.Join(dir, "cdf.png")
	if err := CDF(path, "Gossip propagation", "seconds", []float64{0.1, 0.4, 0.2, 0.9}); err != nil {
		t.Fatal(err)
	}
	if b, err = os.ReadFile(path); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, b, panelPxW, panelPxH)
}

func TestDegreesFile(t *testing.T) {
	ds, fit := sampleDegrees(t)
	dir := t.TempDir()
	for _, name := range []string{"degrees.svg", "DEGREES.SVG"} {
		path := filepath.Join(dir, name)
		if err := DegreesFile(path, ds, fit); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		checkSVG(t, b)
	}
	for _, name := range []string{"degrees.pdf", "degrees", "degrees.png.txt"} {
		path := filepath.Join(dir, name)
		if err := DegreesFile(path, ds, fit); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: error %v, want ErrFormat", name, err)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: failed call left a file", name)
		}
	}
	// Invalid data must not leave a file either.
	path := filepath.Join(dir, "empty.png")
	if err := DegreesFile(path, nil, nil); err == nil {
		t.Error("empty degrees accepted")
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Error("failed call left a file")
	}
	if err := DegreesFile(filepath.Join(dir, "no-such-dir", "d.svg"), ds, fit); err == nil {
		t.Error("unwritable path accepted")
	}
}

// TestDegreesEdgeCases renders the awkward inputs a real run produces:
// every peer isolated, every peer with the same degree, one hub far out.
func TestDegreesEdgeCases(t *testing.T) {
	hub := append(slices.Repeat([]int{1, 2, 2, 3, 3, 3}, 20), 1_000_000)
	hubFit, err := powerlaw.Estimate(hub)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		ds  []int
		fit *powerlaw.Fit
	}{
		"all isolated":   {[]int{0, 0, 0}, nil},
		"single degree":  {[]int{3, 3, 3}, nil},
		"single peer":    {[]int{7}, nil},
		"far hub":        {hub, &hubFit},
		"zeros and fits": {[]int{0, 1, 1, 2, 5}, &powerlaw.Fit{Alpha: 2, Xmin: 1, N: 4, NTail: 4}},
	} {
		// SVG: these cases exercise the layout logic, and rasterising five
		// figures would dominate the package's test time under -race.
		var b bytes.Buffer
		if err := Degrees(&b, "svg", tc.ds, tc.fit); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		checkSVG(t, b.Bytes())
	}
}

func TestDegreesErrors(t *testing.T) {
	ds, fit := sampleDegrees(t)
	tests := []struct {
		name    string
		format  string
		ds      []int
		fit     *powerlaw.Fit
		wantErr error // nil: any error
	}{
		{"empty", "png", nil, nil, ErrNoData},
		{"negative degree", "png", []int{1, -2}, nil, nil},
		{"zero fit", "png", ds, &powerlaw.Fit{}, nil},
		{"fit of other data", "png", []int{1, 2, 3}, &powerlaw.Fit{Alpha: 2.5, Xmin: 50, N: 10, NTail: 3}, nil},
		{"format", "jpeg", ds, fit, ErrFormat},
		{"no format", "", ds, fit, ErrFormat},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		err := Degrees(&b, tt.format, tt.ds, tt.fit)
		if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.wantErr)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "plot: ") {
			t.Errorf("%s: error %q lacks the package prefix", tt.name, err)
		}
		if b.Len() != 0 {
			t.Errorf("%s: %d bytes written despite the error", tt.name, b.Len())
		}
	}
}

func TestCCDFFit(t *testing.T) {
	ds, fit := sampleDegrees(t)
	var b bytes.Buffer
	if err := CCDFFit(&b, "svg", ds, fit); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, b.Bytes())
	if strings.Contains(b.String(), "Total peers") {
		t.Error("CCDFFit drew the bar chart's statistics")
	}
	b.Reset()
	if err := CCDFFit(&b, "svg", nil, nil); !errors.Is(err, ErrNoData) || b.Len() != 0 {
		t.Errorf("empty: error %v and %d bytes, want ErrNoData and none", err, b.Len())
	}
}

func TestCDF(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(2, 2))
	times := make([]float64, 1000)
	for i := range times {
		times[i] = r.ExpFloat64() * 0.3
	}
	for name, values := range map[string][]float64{
		"times.svg":  times,
		"single.svg": {4.2},
		"ties.svg":   {1, 1, 1, 2, 2, -3},
	} {
		path := filepath.Join(dir, name)
		if err := CDF(path, "Gossip propagation", "seconds", values); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		checkSVG(t, b)
		if !strings.Contains(string(b), "Gossip propagation") {
			t.Errorf("%s: title missing", name)
		}
	}
	for _, tc := range []struct {
		name    string
		path    string
		values  []float64
		wantErr error
	}{
		{"empty", "e.png", nil, ErrNoData},
		{"nan", "n.png", []float64{1, math.NaN()}, nil},
		{"inf", "i.png", []float64{math.Inf(1)}, nil},
		{"extension", "c.gif", []float64{1}, ErrFormat},
	} {
		path := filepath.Join(dir, tc.path)
		err := CDF(path, "t", "x", tc.values)
		if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.wantErr)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: failed call left a file", tc.name)
		}
	}
}

// failWriter fails every write, like a full disk.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteError(t *testing.T) {
	ds, fit := sampleDegrees(t)
	if err := Degrees(failWriter{}, "svg", ds, fit); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Degrees: error %v, want the write error", err)
	}
	if err := CDFTo(failWriter{}, "svg", "t", "x", []float64{1, 2}); err == nil {
		t.Error("CDFTo: write error swallowed")
	}
}

func TestIntTicks(t *testing.T) {
	labels := func(lo, hi float64) []string {
		var out []string
		for _, tk := range (intTicks{}).Ticks(lo, hi) {
			out = append(out, tk.Label)
		}
		return out
	}
	for _, tc := range []struct {
		lo, hi float64
		want   []string
	}{
		{-0.6, 0.6, []string{"0"}}, // not "-0"
		{0.4, 139.6, []string{"20", "40", "60", "80", "100", "120"}},
		{-0.6, 60.6, []string{"0", "10", "20", "30", "40", "50", "60"}},
		{0, 4, []string{"0", "1", "2", "3", "4"}},
		{2.4, 3.6, []string{"3"}},
	} {
		if got := labels(tc.lo, tc.hi); !slices.Equal(got, tc.want) {
			t.Errorf("ticks on [%g, %g] = %v, want %v", tc.lo, tc.hi, got, tc.want)
		}
	}
}

func TestLogTicks(t *testing.T) {
	labelled := func(lo, hi float64) []string {
		var out []string
		for _, tk := range (logTicks{}).Ticks(lo, hi) {
			if tk.Label != "" && tk.Value >= lo && tk.Value <= hi {
				out = append(out, tk.Label)
			}
		}
		return out
	}
	if got, want := labelled(0.8, 75), []string{"1", "2", "5", "10", "20", "50"}; !slices.Equal(got, want) {
		t.Errorf("degrees 1…60: labels %v, want %v", got, want)
	}
	if got, want := labelled(0.0005, 1.5), []string{"0.001", "0.01", "0.1", "1"}; !slices.Equal(got, want) {
		t.Errorf("probabilities: labels %v, want %v", got, want)
	}
	if got := labelled(2.4, 3.75); !slices.Equal(got, []string{"3"}) {
		t.Errorf("single degree 3: labels %v, want [3]", got)
	}
}

// BenchmarkDegrees measures the two-panel figure; PNG time is mostly
// rasterising and zlib, SVG time is layout alone.
func BenchmarkDegrees(b *testing.B) {
	ds, fit := sampleDegrees(b)
	for _, format := range []string{"png", "svg"} {
		b.Run(format, func(b *testing.B) {
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				if err := Degrees(&buf, format, ds, fit); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len()), "bytes")
		})
	}
}

func TestLines(t *testing.T) {
	var b bytes.Buffer
	s := []Series{{Name: "flood", X: []float64{0.1, 0.5, 0.9}, Y: []float64{1, 0.9, 0.2}}, {Name: "plumtree", X: []float64{0.1, 0.5, 0.9}, Y: []float64{1, 0.95, 0.3}}}
	if err := LinesTo(&b, "png", "t", "x", "y", s, 0, 1); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b.Bytes(), []byte("\x89PNG")) {
		t.Fatalf("not a PNG: % x", b.Bytes()[:8])
	}
	for _, bad := range [][]Series{nil, {{Name: "short", X: []float64{1}, Y: nil}}, {{Name: "nan", X: []float64{math.NaN()}, Y: []float64{1}}}} {
		if err := LinesTo(&b, "png", "t", "x", "y", bad, 0, 1); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
