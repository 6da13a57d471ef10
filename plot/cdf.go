package plot

import (
	"fmt"
	"io"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// CDF draws the empirical cumulative distribution function of values to
// the file at path (.png or .svg): the fraction of values ≤ x against x, as
// a step line. It is the figure for samples whose whole distribution
// matters, not only a mean: gossip propagation times, failure-detection
// delays. title and xlabel label the figure; the y axis is always the
// fraction of the sample. NaN and infinite values are an error, because
// silently dropping them would misstate the fractions.
func CDF(path, title, xlabel string, values []float64) error {
	return writeFile(path, func(w io.Writer, format string) error {
		return CDFTo(w, format, title, xlabel, values)
	})
}

// CDFTo is [CDF] writing to w in format "png" or "svg".
func CDFTo(w io.Writer, format, title, xlabel string, values []float64) error {
	if len(values) == 0 {
		return fmt.Errorf("%w: no values", ErrNoData)
	}
	for i, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("plot: value %d is %v", i, v)
		}
	}
	sorted := slices.Sorted(slices.Values(values))
	n := float64(len(sorted))
	// The step line rises by 1/n at each value: it runs flat at the
	// previous fraction up to the value, then jumps.
	pts := make(plotter.XYs, 0, 2*len(sorted)+1)
	prev := 0.0
	for i, v := range sorted {
		if i+1 < len(sorted) && sorted[i+1] == v {
			continue // ties jump once, by their total
		}
		frac := float64(i+1) / n
		pts = append(pts, plotter.XY{X: v, Y: prev}, plotter.XY{X: v, Y: frac})
		prev = frac
	}
	line, err := plotter.NewLine(pts)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	line.LineStyle = draw.LineStyle{Color: dataColor, Width: vg.Points(1.5)}

	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = "Fraction ≤ x"
	p.Add(plotter.NewGrid(), line)
	p.Y.Min, p.Y.Max = 0, 1.02
	lo, hi := sorted[0], sorted[len(sorted)-1]
	if span := hi - lo; span > 0 {
		p.X.Min, p.X.Max = lo-0.02*span, hi+0.02*span
	} else {
		// A single distinct value: give the jump some room either side.
		pad := max(math.Abs(lo)*0.1, 1)
		p.X.Min, p.X.Max = lo-pad, hi+pad
	}
	return render(w, format, panelWidth, panelHeight, func(dc draw.Canvas) error {
		p.Draw(margin(dc))
		return nil
	})
}
