package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"

	"github.com/whispernet/whispernet/plot"
	"github.com/whispernet/whispernet/powerlaw"
)

func init() {
	register("fit", "fit a discrete power law to a data file or freqtrack.log (Clauset-Shalizi-Newman)", runFit)
	register("plot", "plot a degree distribution: bar chart with stats and log-log CCDF with the fit", runPlot)
}

// parseInterleaved parses flags that may come before or after positional
// arguments ("fit words.txt --json") and returns the positionals.
func parseInterleaved(fs *flag.FlagSet, args []string) (pos []string, code int, done bool) {
	for {
		if code, done := parse(fs, args); done {
			return nil, code, true
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, 0, false
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// readDegrees reads integers or a freqtrack.log from path ("-": stdin).
func readDegrees(path string, stdin io.Reader) ([]int, error) {
	if path == "-" {
		return powerlaw.ReadAuto(stdin)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := powerlaw.ReadAuto(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}

const fitAbout = `
Fits a discrete power law to FILE following Clauset, Shalizi & Newman 2009:
the exact maximum-likelihood exponent alpha (Hurwitz zeta), xmin chosen by
minimising the Kolmogorov-Smirnov distance over the distinct values (ties to
the smallest), the KS statistic, the log-likelihood, an optional bootstrap
goodness-of-fit p-value, and likelihood-ratio tests against the exponential
and lognormal distributions (normalised R; R > 0 favours the power law).

FILE holds integers one per line (float notation of integers is fine; '#'
comments and blank lines are skipped; zeros are skipped), or is a
freqtrack.log, whose last degree per node is used. "-" reads stdin.

Examples:
  whispernet fit testdata/powerlaw/words.txt --bootstrap 1000
  whispernet fit freqtrack.log --json`

type lrResult struct {
	R float64 `json:"R"`
	P float64 `json:"p"`
}

type fitReport struct {
	Alpha         float64              `json:"alpha"`
	Xmin          int                  `json:"xmin"`
	N             int                  `json:"n"`
	NTail         int                  `json:"n_tail"`
	KS            float64              `json:"ks"`
	LogLikelihood float64              `json:"loglikelihood"`
	P             *float64             `json:"p"`
	LR            map[string]*lrResult `json:"lr"`
}

func runFit(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("fit", "fit FILE [--bootstrap N] [--json]", fitAbout, stdio)
	rounds := fs.Int("bootstrap", 0, "bootstrap rounds for the goodness-of-fit p-value (0: skip; 1000 gives p to about ±0.015)")
	jsonOut := fs.Bool("json", false, "print one JSON object")
	seed := fs.Uint64("seed", 1, "random seed of the bootstrap")
	pos, code, done := parseInterleaved(fs, args)
	if done {
		return code
	}
	if len(pos) != 1 {
		return usageErr(stdio, "fit", "want exactly one FILE, got %d arguments", len(pos))
	}
	if *rounds < 0 {
		return usageErr(stdio, "fit", "--bootstrap %d must not be negative", *rounds)
	}
	data, err := readDegrees(pos[0], stdio.In)
	if err != nil {
		return fail(stdio, "fit", err)
	}
	fit, err := powerlaw.Estimate(data)
	if err != nil {
		return fail(stdio, "fit", err)
	}
	rep := fitReport{Alpha: fit.Alpha, Xmin: fit.Xmin, N: fit.N, NTail: fit.NTail, KS: fit.KS, LogLikelihood: fit.LogLikelihood,
		LR: map[string]*lrResult{"exponential": nil, "lognormal": nil}}
	if c, err := powerlaw.CompareExponential(data, fit); err == nil {
		rep.LR["exponential"] = &lrResult{R: c.R, P: c.P}
	}
	if c, err := powerlaw.CompareLognormal(data, fit); err == nil {
		rep.LR["lognormal"] = &lrResult{R: c.R, P: c.P}
	}
	if *rounds > 0 {
		bar := newProgress(stdio.Err, "bootstrap rounds")
		p, err := powerlaw.BootstrapContext(ctx, data, fit, *rounds, rand.New(rand.NewPCG(*seed, 0xb007)), bar.update)
		bar.done()
		if err != nil {
			return fail(stdio, "fit", err)
		}
		rep.P = &p
	}
	if *jsonOut {
		b, _ := json.Marshal(rep)
		fmt.Fprintln(stdio.Out, string(b))
		return ExitOK
	}
	w := stdio.Out
	fmt.Fprintf(w, "alpha          %.4f ± %.4f\n", fit.Alpha, fit.AlphaErr)
	fmt.Fprintf(w, "xmin           %d\n", fit.Xmin)
	fmt.Fprintf(w, "n              %d\n", fit.N)
	fmt.Fprintf(w, "n_tail         %d\n", fit.NTail)
	fmt.Fprintf(w, "ks             %.4f\n", fit.KS)
	fmt.Fprintf(w, "loglikelihood  %.2f\n", fit.LogLikelihood)
	if rep.P != nil {
		fmt.Fprintf(w, "p              %.3f  (bootstrap, %d rounds; p >= 0.1: a power law is plausible)\n", *rep.P, *rounds)
	} else {
		fmt.Fprintln(w, "p              not computed (use --bootstrap N)")
	}
	for _, alt := range []string{"exponential", "lognormal"} {
		if r := rep.LR[alt]; r != nil {
			fmt.Fprintf(w, "LR vs %-12s R %+.3f  p %.3f  (%s)\n", alt, r.R, r.P, verdict(r))
		} else {
			fmt.Fprintf(w, "LR vs %-12s could not be computed\n", alt)
		}
	}
	return ExitOK
}

func verdict(r *lrResult) string {
	switch {
	case math.IsNaN(r.P) || r.P >= 0.1:
		return "inconclusive"
	case r.R > 0:
		return "favours the power law"
	default:
		return "favours the alternative"
	}
}

const plotAbout = `
Plots the degree distribution of FILE (default freqtrack.log; also a file of
integers, as fit reads): the classic bar chart of degree frequencies with a
stats box (total peers, average, max and min degree) and, beside it, the
log-log CCDF with the fitted power law drawn over it. The format follows the
extension of -o: .png or .svg.

Examples:
  whispernet plot                         # freqtrack.log -> degrees.png
  whispernet plot out/freqtrack.log -o out/degrees.svg`

func runPlot(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("plot", "plot [FILE] [-o degrees.png]", plotAbout, stdio)
	out := fs.String("o", "degrees.png", "output image: .png or .svg")
	pos, code, done := parseInterleaved(fs, args)
	if done {
		return code
	}
	if len(pos) > 1 {
		return usageErr(stdio, "plot", "want at most one FILE, got %d", len(pos))
	}
	in := "freqtrack.log"
	if len(pos) == 1 {
		in = pos[0]
	}
	data, err := readDegrees(in, stdio.In)
	if err != nil {
		return fail(stdio, "plot", err)
	}
	var fitp *powerlaw.Fit
	if fit, err := powerlaw.Estimate(data); err == nil {
		fitp = &fit
	} else {
		fmt.Fprintf(stdio.Err, "whispernet plot: no power-law fit drawn: %v\n", err)
	}
	if err := plot.DegreesFile(*out, data, fitp); err != nil {
		return fail(stdio, "plot", err)
	}
	fmt.Fprintf(stdio.Err, "whispernet plot: %d peers plotted to %s\n", len(data), *out)
	return ExitOK
}
