// Package powerlaw fits discrete power laws to integer data, such as the
// degree sequence of a WhisperNet overlay, following Clauset, Shalizi &
// Newman, "Power-law distributions in empirical data", SIAM Review 51:661
// (2009), referred to below as CSN09.
//
// The model is the discrete power law on the tail x ≥ xmin,
//
//	p(x) = x^(−α) / ζ(α, xmin),
//
// where ζ is the Hurwitz zeta function. [Estimate] finds α by exact maximum
// likelihood for every candidate xmin (each distinct value of the data) and
// keeps the xmin whose fitted tail is closest to the data in
// Kolmogorov–Smirnov distance D, ties going to the smallest xmin. That is the
// procedure of CSN09 §3; the closed-form approximation of their eq. 3.7 is
// deliberately not used because it is off by more than 0.1 at small xmin.
//
// A fit is only the first half of the argument. [Bootstrap] computes the
// semi-parametric goodness-of-fit p-value of CSN09 §4.1 (is a power law
// plausible at all?), and [CompareExponential] and [CompareLognormal] run
// Vuong's normalised likelihood-ratio test of CSN09 §5 (is it better than the
// obvious alternatives?). A network whose degrees "follow a power law" should
// pass the first (p well above 0.1) and win or tie the second (R ≥ 0 or a
// large p).
//
// Data come from [ReadData] (one integer per line, the format of Clauset's
// reference data sets), [ReadFreqtrack] (the freqtrack.log written by peers)
// or [ReadAuto], which tells the two apart. [CCDF] and [Fit.CCDFAt] give the
// curves the plot package draws.
//
// The reference data sets in testdata/powerlaw reproduce the published
// figures of CSN09; the tests check them.
package powerlaw
