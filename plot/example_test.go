package plot_test

import (
	"bytes"
	"fmt"
	"log"
	"strings"

	"github.com/whispernet/whispernet/plot"
	"github.com/whispernet/whispernet/powerlaw"
)

// Plot the degrees of a network from its freqtrack.log with the fitted
// power law. A command would call plot.DegreesFile("degrees.png", …).
func ExampleDegrees() {
	freqtrack := strings.NewReader(`127.0.0.1:5000=>1
127.0.0.1:5001=>2
127.0.0.1:5002=>1
127.0.0.1:5003=>4
127.0.0.1:5004=>1
127.0.0.1:5005=>9
127.0.0.1:5006=>2
127.0.0.1:5007=>1
`)
	degrees, err := powerlaw.ReadFreqtrack(freqtrack)
	if err != nil {
		log.Fatal(err)
	}
	fit, err := powerlaw.Estimate(degrees)
	if err != nil {
		log.Fatal(err)
	}
	var svg bytes.Buffer
	if err := plot.Degrees(&svg, "svg", degrees, &fit); err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Contains(svg.String(), "Total peers: 8"))
	// Output: true
}
