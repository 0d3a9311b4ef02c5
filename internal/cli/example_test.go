package cli_test

import (
	"fmt"
	"os"
	"time"

	"github.com/feedmq/feedmq/internal/cli"
)

// Parse reads the options as mosquitto_sub would, and a Printer prints
// messages as mosquitto_sub -F does.
func ExamplePrinter() {
	o, err := cli.Parse(cli.Sub, []string{"-t", "sensors/#", "-F", `%t\t%5p|%x|@Y-@m-@d`}, func(string) string { return "" })
	if err != nil {
		fmt.Println(err)
		return
	}
	p := cli.Printer{Format: o.Format, EOL: o.EOL, RandomFilter: o.RandomFilter}
	m := &cli.Message{Topic: "sensors/temp", Payload: []byte("21.5")}
	p.Print(os.Stdout, m, time.Date(2024, 3, 5, 14, 7, 9, 0, time.UTC))
	// Output: sensors/temp	 21.5|32312e35|2024-03-05
}

// ReportParseError prints a usage error as mosquitto does, and returns the
// exit status.
func ExampleReportParseError() {
	_, err := cli.Parse(cli.Pub, []string{"-t", "a", "-m", "x", "-q", "3"}, func(string) string { return "" })
	code := cli.ReportParseError(cli.Pub, err, os.Stdout, os.Stdout)
	fmt.Println("exit status", code)
	// Output:
	// Error: Invalid QoS given: 3
	//
	// Use 'mqtt-pub --help' to see usage.
	// exit status 1
}
