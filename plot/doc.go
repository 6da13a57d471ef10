// Package plot draws the figures WhisperNet reports, as PNG or SVG files:
//
//   - [Degrees]: the degree distribution of a network, as the classic
//     visualizer drew it (a bar chart of how many peers have each degree,
//     with a box of summary statistics), next to the view that actually
//     tests a power law: the complementary CDF on log-log axes with the
//     fitted power law of package powerlaw drawn over it from xmin.
//   - [CCDFFit]: that right-hand panel on its own.
//   - [CDF]: an empirical CDF of any sample of numbers, used for gossip
//     propagation and failure-detection times.
//
// It is a thin layer over gonum.org/v1/plot: the functions decide what a
// figure shows and check their input; gonum does the drawing. Every function
// renders completely in memory before it writes, so a failed call never
// leaves a truncated file behind.
package plot
