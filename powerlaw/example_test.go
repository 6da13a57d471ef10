package powerlaw_test

import (
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/whispernet/whispernet/powerlaw"
)

// The whole CSN09 recipe on the terrorism data set: fit, goodness of fit,
// and the comparison with the alternatives.
func Example() {
	f, err := os.Open("../testdata/powerlaw/terrorism.txt")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	data, err := powerlaw.ReadData(f)
	if err != nil {
		log.Fatal(err)
	}

	fit, err := powerlaw.Estimate(data)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("alpha=%.2f xmin=%d n_tail=%d D=%.3f\n", fit.Alpha, fit.Xmin, fit.NTail, fit.KS)

	// A fixed seed makes the p-value reproducible; 50 sets is enough to
	// see that p is far above the 0.1 at which CSN09 reject.
	p := powerlaw.Bootstrap(data, fit, 50, rand.New(rand.NewPCG(1, 2)), nil)
	fmt.Println("plausible:", p > 0.1)

	for _, compare := range []func([]int, powerlaw.Fit) (powerlaw.Comparison, error){
		powerlaw.CompareExponential, powerlaw.CompareLognormal,
	} {
		c, err := compare(data, fit)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("vs %s: R=%.2f p=%.2f\n", c.Alternative, c.R, c.P)
	}
	// Output:
	// alpha=2.37 xmin=12 n_tail=547 D=0.018
	// plausible: true
	// vs exponential: R=2.46 p=0.01
	// vs lognormal: R=-0.28 p=0.78
}

// ReadFreqtrack keeps each node's last reported degree.
func ExampleReadFreqtrack() {
	log := `127.0.0.1:5000=>1
127.0.0.1:5001=>1
[::1]:5002=>2
127.0.0.1:5000=>3
`
	degrees, err := powerlaw.ReadFreqtrack(strings.NewReader(log))
	fmt.Println(degrees, err)
	// Output: [3 1 2] <nil>
}

// EstimateAt fits α when xmin is fixed in advance, here the minimum degree
// 2 of Clauset's synthetic example.
func ExampleEstimateAt() {
	f, err := os.Open("../testdata/powerlaw/discrete_data.txt")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	data, err := powerlaw.ReadData(f)
	if err != nil {
		log.Fatal(err)
	}
	fit, err := powerlaw.EstimateAt(data, 2)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("alpha=%.2f logL=%.1f\n", fit.Alpha, fit.LogLikelihood)
	// Output: alpha=2.58 logL=-9155.6
}

// CCDF and CCDFAt give the two curves of a log-log plot.
func ExampleCCDF() {
	data := []int{1, 1, 1, 1, 2, 2, 3, 4, 8, 16}
	xs, ps := powerlaw.CCDF(data)
	for i := range xs {
		fmt.Printf("P(X≥%d)=%.1f ", xs[i], ps[i])
	}
	fmt.Println()
	// Output: P(X≥1)=1.0 P(X≥2)=0.6 P(X≥3)=0.4 P(X≥4)=0.3 P(X≥8)=0.2 P(X≥16)=0.1
}
