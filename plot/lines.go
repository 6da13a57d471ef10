package plot

import (
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is one named line of a [Lines] figure: points (X[i], Y[i]).
type Series struct {
	Name string
	X, Y []float64
}

// seriesColors tell up to four lines apart (blue, vermilion, bluish green,
// reddish purple: distinguishable for the common colour blindnesses); more
// lines reuse them with other dashes.
var seriesColors = []color.Color{dataColor, fitColor,
	color.RGBA{R: 0x00, G: 0x9e, B: 0x73, A: 0xff}, color.RGBA{R: 0xcc, G: 0x79, B: 0xa7, A: 0xff}}

// Lines draws series as lines with their points marked, with a legend, to
// the file at path (.png or .svg). It is the figure for a measurement swept
// over a parameter: one line per setting of another. ymin and ymax fix the
// y axis when ymin < ymax. NaN and infinite values are an error.
func Lines(path, title, xlabel, ylabel string, series []Series, ymin, ymax float64) error {
	return writeFile(path, func(w io.Writer, format string) error {
		return LinesTo(w, format, title, xlabel, ylabel, series, ymin, ymax)
	})
}

// LinesTo is [Lines] writing to w in format "png" or "svg".
func LinesTo(w io.Writer, format, title, xlabel, ylabel string, series []Series, ymin, ymax float64) error {
	if len(series) == 0 {
		return fmt.Errorf("%w: no series", ErrNoData)
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Add(plotter.NewGrid())
	p.Legend.Top = false
	p.Legend.Left = true
	for i, s := range series {
		if len(s.X) != len(s.Y) || len(s.X) == 0 {
			return fmt.Errorf("%w: series %q has %d x and %d y values", ErrNoData, s.Name, len(s.X), len(s.Y))
		}
		pts := make(plotter.XYs, len(s.X))
		for j := range s.X {
			if bad(s.X[j]) || bad(s.Y[j]) {
				return fmt.Errorf("plot: series %q point %d is (%v, %v)", s.Name, j, s.X[j], s.Y[j])
			}
			pts[j] = plotter.XY{X: s.X[j], Y: s.Y[j]}
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		c := seriesColors[i%len(seriesColors)]
		line.LineStyle = draw.LineStyle{Color: c, Width: vg.Points(1.5)}
		if k := i / len(seriesColors); k > 0 {
			line.Dashes = []vg.Length{vg.Points(float64(2 + 2*k)), vg.Points(2)}
		}
		points.Shape = draw.CircleGlyph{}
		points.Color = c
		p.Add(line, points)
		p.Legend.Add(s.Name, line, points)
	}
	if ymin < ymax {
		p.Y.Min, p.Y.Max = ymin, ymax
	}
	return render(w, format, panelWidth, panelHeight, func(dc draw.Canvas) error {
		p.Draw(margin(dc))
		return nil
	})
}

func bad(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
