package plot

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/whispernet/whispernet/powerlaw"
)

// Figure sizes. The two-panel figure is two of the single panels side by
// side.
const (
	panelWidth  = 6 * vg.Inch
	panelHeight = 4.5 * vg.Inch
)

// ErrNoData is returned when there is nothing to plot.
var ErrNoData = errors.New("plot: no data")

// Degrees draws the degree distribution of a network to w in format "png"
// or "svg": on the left, a bar chart of the number of peers with each
// degree and a box with the total number of peers and the average, largest
// and smallest degree (the classic visualizer's figure); on the right, the
// empirical CCDF P(X ≥ k) on log-log axes, where a power law is a straight
// line, with fit drawn over it from its xmin and its α and xmin in the
// legend. fit should come from [powerlaw.Estimate] on the same degrees; if
// it is nil the right panel shows the data alone.
//
// Degrees of zero (isolated peers) count in the bar chart and statistics
// but cannot appear on log axes. An empty or negative degree is an error.
func Degrees(w io.Writer, format string, degrees []int, fit *powerlaw.Fit) error {
	if err := checkDegrees(degrees, fit); err != nil {
		return err
	}
	bars, err := barPanel(degrees)
	if err != nil {
		return err
	}
	ccdf, err := ccdfPanel(degrees, fit)
	if err != nil {
		return err
	}
	return render(w, format, 2*panelWidth, panelHeight, func(dc draw.Canvas) error {
		tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Inch / 4, PadTop: vg.Inch / 8,
			PadBottom: vg.Inch / 8, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 8}
		cs := plot.Align([][]*plot.Plot{{bars, ccdf}}, tiles, dc)
		bars.Draw(cs[0][0])
		drawStats(bars, cs[0][0], degrees)
		ccdf.Draw(cs[0][1])
		return nil
	})
}

// DegreesFile is [Degrees] writing to the file at path, in the format its
// extension names (.png or .svg).
func DegreesFile(path string, degrees []int, fit *powerlaw.Fit) error {
	return writeFile(path, func(w io.Writer, format string) error {
		return Degrees(w, format, degrees, fit)
	})
}

// CCDFFit draws only the right-hand panel of [Degrees]: the log-log CCDF
// of degrees with fit (if not nil) over it.
func CCDFFit(w io.Writer, format string, degrees []int, fit *powerlaw.Fit) error {
	if err := checkDegrees(degrees, fit); err != nil {
		return err
	}
	p, err := ccdfPanel(degrees, fit)
	if err != nil {
		return err
	}
	return render(w, format, panelWidth, panelHeight, func(dc draw.Canvas) error {
		p.Draw(margin(dc))
		return nil
	})
}

// checkDegrees rejects input that would make a misleading figure rather
// than an obviously empty one.
func checkDegrees(degrees []int, fit *powerlaw.Fit) error {
	if len(degrees) == 0 {
		return fmt.Errorf("%w: no degrees", ErrNoData)
	}
	if m := slices.Min(degrees); m < 0 {
		return fmt.Errorf("plot: negative degree %d", m)
	}
	if fit != nil && (!(fit.Alpha > 1) || fit.Xmin < 1 || fit.N < 1 || fit.NTail < 1) {
		return fmt.Errorf("plot: unusable fit %v", *fit)
	}
	return nil
}

// barPanel builds the classic bar chart.
func barPanel(degrees []int) (*plot.Plot, error) {
	counts := make(map[int]int)
	for _, d := range degrees {
		counts[d]++
	}
	b := &bars{}
	for _, d := range slices.Sorted(maps.Keys(counts)) {
		b.xs = append(b.xs, d)
		b.ns = append(b.ns, counts[d])
	}
	p := plot.New()
	p.Title.Text = "Degree distribution"
	p.X.Label.Text = "Degree"
	p.Y.Label.Text = "Number of peers"
	p.X.Tick.Marker, p.Y.Tick.Marker = intTicks{}, intTicks{}
	p.Add(plotter.NewGrid(), b)
	p.X.Min, p.X.Max = float64(b.xs[0])-0.6, float64(b.xs[len(b.xs)-1])+0.6
	p.Y.Min = 0
	// Head-room so that the statistics box does not cover the top bars.
	p.Y.Max *= 1.35
	return p, nil
}

// bars is a bar chart over integer x positions. gonum's BarChart takes its
// bar width in absolute units and its Histogram in data units; neither
// works across the range of degree sequences: bars must be 0.8 degrees wide
// when there are a few dozen degrees and still visible when a hub pushes
// the axis out to thousands. bars uses whichever is wider.
type bars struct {
	xs []int // ascending
	ns []int
}

// minBarWidth keeps the bar of a lone high degree visible.
const minBarWidth = 1.5 // points

// Plot implements plot.Plotter.
func (b *bars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	half := max((trX(0.8)-trX(0))/2, vg.Points(minBarWidth)/2)
	for i, x := range b.xs {
		mid := trX(float64(x))
		top := trY(float64(b.ns[i]))
		box := []vg.Point{
			{X: mid - half, Y: c.Min.Y}, {X: mid + half, Y: c.Min.Y},
			{X: mid + half, Y: top}, {X: mid - half, Y: top},
		}
		c.FillPolygon(dataColor, c.ClipPolygonXY(box))
	}
}

// DataRange implements plot.DataRanger.
func (b *bars) DataRange() (xmin, xmax, ymin, ymax float64) {
	return float64(b.xs[0]), float64(b.xs[len(b.xs)-1]), 0, float64(slices.Max(b.ns))
}

// intTicks puts at most eight labelled ticks on whole numbers, 1, 2 or 5
// times a power of ten apart: degrees and peer counts are integers, and
// "12.50 peers" reads as a measurement error.
type intTicks struct{}

// Ticks implements plot.Ticker.
func (intTicks) Ticks(lo, hi float64) []plot.Tick {
	span := max(hi-lo, 1)
	mag := math.Pow(10, math.Floor(math.Log10(span/8)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if span/(m*mag) <= 8 {
			step = m * mag
			break
		}
	}
	step = max(step, 1) // never between integers
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		// +0 turns the −0 that Ceil gives for small negative lo into 0.
		ticks = append(ticks, plot.Tick{Value: v + 0, Label: strconv.FormatFloat(v+0, 'f', 0, 64)})
	}
	return ticks
}

// drawStats puts the classic statistics box in the top-right corner of the
// bar chart's data area.
func drawStats(p *plot.Plot, c draw.Canvas, degrees []int) {
	sum := 0
	for _, d := range degrees {
		sum += d
	}
	txt := fmt.Sprintf("Total peers: %d\nAverage degree: %.2f\nMax degree: %d\nMin degree: %d",
		len(degrees), float64(sum)/float64(len(degrees)), slices.Max(degrees), slices.Min(degrees))
	da := p.DataCanvas(c)
	sty := p.Legend.TextStyle
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YBottom
	// text.Style.Height over-counts multi-line text (it spaces lines by
	// ascent+descent+gap where the plain handler spaces them by the font
	// size), so the box is sized from the font's extents directly: n lines
	// span (n−1)·size + ascent + descent.
	e := sty.FontExtents()
	size := sty.Font.Size
	lines := vg.Length(strings.Count(txt, "\n") + 1)
	pad := vg.Points(5)
	w := sty.Width(txt) + 2*pad
	h := (lines-1)*size + e.Ascent + e.Descent + 2*pad
	right, top := da.Max.X-pad, da.Max.Y-pad
	box := []vg.Point{
		{X: right - w, Y: top}, {X: right, Y: top},
		{X: right, Y: top - h}, {X: right - w, Y: top - h},
	}
	da.FillPolygon(color.NRGBA{R: 0xff, G: 0xfc, B: 0xf0, A: 0xe6}, box)
	da.StrokeLines(draw.LineStyle{Color: color.Gray{0x80}, Width: vg.Points(0.5)}, append(box, box[0]))
	// The handler puts the last baseline at y + size − ascent; shift so
	// that the descenders of the last line sit pad above the box's bottom.
	da.FillText(sty, vg.Point{X: right - w + pad, Y: top - h + pad - (size - e.Ascent - e.Descent)}, txt)
}

// ccdfPanel builds the log-log CCDF with the fitted power law.
func ccdfPanel(degrees []int, fit *powerlaw.Fit) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Degree CCDF"
	p.X.Label.Text = "Degree k"
	p.Y.Label.Text = "P(X ≥ k)"
	xs, ps := powerlaw.CCDF(degrees)
	if len(xs) == 0 {
		// Every peer is isolated: nothing can go on log axes. Say so on
		// the panel instead of failing the whole figure.
		p.Title.Text = "Degree CCDF: no peer has degree ≥ 1"
		p.X.Label.Text, p.Y.Label.Text = "", ""
		p.HideAxes()
		return p, nil
	}
	pts := make(plotter.XYs, len(xs))
	for i := range xs {
		pts[i] = plotter.XY{X: float64(xs[i]), Y: ps[i]}
	}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return nil, fmt.Errorf("plot: %w", err)
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: dataColor, Radius: vg.Points(2.2), Shape: draw.CircleGlyph{}}
	p.Add(plotter.NewGrid(), sc)
	p.Legend.Add("data", sc)
	xmin, xmax := float64(xs[0]), float64(xs[len(xs)-1])
	ymin := ps[len(ps)-1]
	if fit != nil {
		if fit.Xmin > xs[len(xs)-1] {
			return nil, fmt.Errorf("plot: fit xmin %d is above the largest degree %d; is it a fit of these degrees?", fit.Xmin, xs[len(xs)-1])
		}
		line, err := fitLine(*fit, xs[len(xs)-1])
		if err != nil {
			return nil, err
		}
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("power law α=%.2f, xmin=%d", fit.Alpha, fit.Xmin), line)
		for _, pt := range line.XYs {
			ymin = min(ymin, pt.Y)
		}
	}
	p.Legend.Top = true
	p.Legend.XOffs, p.Legend.YOffs = -vg.Points(6), -vg.Points(6)
	// Explicit ranges with a margin: gonum's own padding of a log axis can
	// reach zero or collapse when all degrees are equal.
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = logTicks{}, logTicks{}
	p.X.Min, p.X.Max = xmin/1.25, xmax*1.25
	p.Y.Min, p.Y.Max = ymin/1.5, 1.5
	return p, nil
}

// fitLine samples the fitted CCDF from xmin to xmax at every integer when
// that is cheap, and at about 200 log-spaced integers otherwise, which is
// smooth at any zoom a report uses.
func fitLine(fit powerlaw.Fit, xmax int) (*plotter.Line, error) {
	const maxPoints = 200
	var pts plotter.XYs
	add := func(x int) {
		if y := fit.CCDFAt(x); y > 0 && !math.IsInf(y, 0) {
			pts = append(pts, plotter.XY{X: float64(x), Y: y})
		}
	}
	if xmax-fit.Xmin < maxPoints {
		for x := fit.Xmin; x <= xmax; x++ {
			add(x)
		}
	} else {
		ratio := math.Pow(float64(xmax)/float64(fit.Xmin), 1.0/maxPoints)
		last := 0
		for i := 0; i <= maxPoints; i++ {
			x := int(math.Round(float64(fit.Xmin) * math.Pow(ratio, float64(i))))
			if x > last {
				add(x)
				last = x
			}
		}
	}
	if len(pts) == 0 {
		return nil, fmt.Errorf("plot: fit %v gives no positive CCDF", fit)
	}
	line, err := plotter.NewLine(pts)
	if err != nil {
		return nil, fmt.Errorf("plot: %w", err)
	}
	line.LineStyle = draw.LineStyle{Color: fitColor, Width: vg.Points(2), Dashes: []vg.Length{vg.Points(6), vg.Points(3)}}
	return line, nil
}

// logTicks is plot.LogTicks, which labels only powers of ten, made useful
// for the one or two decades a network's degrees span: when fewer than
// three powers of ten are in range it also labels 2× and 5× each decade
// (2, 5, 10, 20, 50), or every tick if that is still too few.
type logTicks struct{}

// Ticks implements plot.Ticker.
func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.LogTicks{Prec: -1}.Ticks(lo, hi)
	labelled := func() int {
		n := 0
		for _, t := range ticks {
			if t.Label != "" && t.Value >= lo && t.Value <= hi {
				n++
			}
		}
		return n
	}
	for _, mantissas := range [][]float64{{2, 5}, {2, 3, 4, 5, 6, 7, 8, 9}} {
		if labelled() >= 3 {
			break
		}
		for i, t := range ticks {
			m := t.Value / math.Pow(10, math.Floor(math.Log10(t.Value)+1e-9))
			if slices.ContainsFunc(mantissas, func(x float64) bool { return math.Abs(m-x) < 1e-6 }) {
				ticks[i].Label = strconv.FormatFloat(t.Value, 'g', 6, 64)
			}
		}
	}
	return ticks
}
