package plot

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// ErrFormat is returned for an output format or file extension other than
// PNG and SVG.
var ErrFormat = errors.New("plot: unsupported format (want png or svg)")

// Colours shared by the figures, chosen to stay distinguishable in print
// and for the common forms of colour blindness (blue data, vermilion fit).
var (
	dataColor = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	fitColor  = color.RGBA{R: 0xd5, G: 0x5e, B: 0x00, A: 0xff}
)

// canvasFor returns an in-memory canvas of the given size for format,
// which is "png" or "svg" (case-insensitive). PNGs are rendered at 144 dpi
// so that they stay sharp on high-density screens and in slides.
func canvasFor(format string, w, h vg.Length) (vg.CanvasWriterTo, error) {
	switch strings.ToLower(format) {
	case "png":
		return pngCanvas{vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(144))}, nil
	case "svg":
		return vgsvg.New(w, h), nil
	}
	return nil, fmt.Errorf("%w: %q", ErrFormat, format)
}

// pngCanvas encodes with png.BestSpeed. Plots are large flat areas of a
// few colours, which the fastest zlib level already compresses well; the
// default level spends most of a figure's rendering time for a few percent
// smaller files.
type pngCanvas struct {
	*vgimg.Canvas
}

// WriteTo implements io.WriterTo.
func (c pngCanvas) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	err := enc.Encode(cw, c.Image())
	return cw.n, err
}

// countWriter counts the bytes written through it, for io.WriterTo.
type countWriter struct {
	w io.Writer
	n int64
}

// Write implements io.Writer.
func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// render draws a figure of size w×h with drawFn and writes it to out. The
// whole image is produced before the first byte is written.
func render(out io.Writer, format string, w, h vg.Length, drawFn func(draw.Canvas) error) error {
	c, err := canvasFor(format, w, h)
	if err != nil {
		return err
	}
	if err := drawFn(draw.New(c)); err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return fmt.Errorf("plot: encode %s: %w", format, err)
	}
	if _, err := out.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("plot: write: %w", err)
	}
	return nil
}

// formatOf returns the image format named by path's extension.
func formatOf(path string) (string, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".png", ".svg":
		return ext[1:], nil
	default:
		return "", fmt.Errorf("%w: file %q", ErrFormat, path)
	}
}

// writeFile renders into memory with write and only then creates path, so
// that an error leaves no file (or the previous one) behind.
func writeFile(path string, write func(w io.Writer, format string) error) error {
	format, err := formatOf(path)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := write(&buf, format); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}

// margin insets a single-panel figure so that its title and tick labels
// do not touch the image edge.
func margin(c draw.Canvas) draw.Canvas {
	m := vg.Inch / 8
	return draw.Crop(c, m, -m, m, -m)
}
