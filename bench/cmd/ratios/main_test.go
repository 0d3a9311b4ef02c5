package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sampleOutput = `goos: linux
goarch: amd64
pkg: github.com/feedmq/feedmq/bench/codec
cpu: AMD EPYC
BenchmarkEncodePublish/feedmq-2         	 1000000	       100.0 ns/op	 900.00 MB/s	       0 B/op	       0 allocs/op
BenchmarkEncodePublish/paho-2           	 1000000	       300.0 ns/op	 300.00 MB/s	     360 B/op	       6 allocs/op
BenchmarkEncodePublish/mochi-2          	 1000000	       250.0 ns/op	 360.00 MB/s	     376 B/op	       4 allocs/op
BenchmarkEncodePublish/feedmq-2         	 1000000	       120.0 ns/op	 750.00 MB/s	       0 B/op	       0 allocs/op
BenchmarkEncodePublish/paho-2           	 1000000	       280.0 ns/op	 320.00 MB/s	     360 B/op	       6 allocs/op
BenchmarkEncodePublish/mochi-2          	 1000000	       260.0 ns/op	 340.00 MB/s	     376 B/op	       4 allocs/op
BenchmarkEncodePublish/feedmq-2         	 1000000	       110.0 ns/op	 800.00 MB/s	       0 B/op	       0 allocs/op
BenchmarkEncodePublish/paho-2           	 1000000	       330.0 ns/op	 280.00 MB/s	     360 B/op	       6 allocs/op
BenchmarkEncodePublish/mochi-2          	 1000000	       220.0 ns/op	 400.00 MB/s	     376 B/op	       4 allocs/op
BenchmarkDecodePublish/feedmq-2         	 1000000	       200.0 ns/op	 450.00 MB/s	     136 B/op	       3 allocs/op
BenchmarkDecodePublish/paho-2           	 1000000	       500.0 ns/op	 180.00 MB/s	     336 B/op	      10 allocs/op
BenchmarkDecodePublish/feedmq-reader-2  	 1000000	        50.0 ns/op	 1800.00 MB/s	      72 B/op	       2 allocs/op
BenchmarkDecodePublish/paho-reader-2    	 1000000	       600.0 ns/op	 150.00 MB/s	     336 B/op	      10 allocs/op
PASS
ok  	github.com/feedmq/feedmq/bench/codec	12.3s
`

func TestParseLine(t *testing.T) {
	tests := []struct {
		line string
		want key
		ok   bool
	}{
		{"BenchmarkEncodePublish/feedmq-2  10  45.6 ns/op  0 B/op  0 allocs/op", key{"EncodePublish", "", "feedmq"}, true},
		{"BenchmarkDecodePublish/feedmq-reader-16  10  45.6 ns/op", key{"DecodePublish", "", "feedmq-reader"}, true},
		{"BenchmarkDecodePublish/feedmq-reader  10  45.6 ns/op", key{"DecodePublish", "", "feedmq-reader"}, true}, // GOMAXPROCS=1
		{"BenchmarkSinkPublish/qos1-64B/pahogolang-2  10  45.6 ns/op  8.5 msgs/s", key{"SinkPublish", "qos1-64B", "pahogolang"}, true},
		{"BenchmarkEncodePublish-2  10  45.6 ns/op", key{}, false},            // no library
		{"BenchmarkEncodePublish/feedmq-2", key{}, false},                     // name printed before a failure
		{"BenchmarkA/b/c/d-2  10  45.6 ns/op", key{}, false},                  // too deep
		{"BenchmarkA/b-2  10  45.6 ns/op  1 B/op  x allocs/op", key{}, false}, // not a number
		{"--- FAIL: BenchmarkEncodePublish", key{}, false},
		{"PASS", key{}, false},
	}
	for _, tt := range tests {
		got, _, ok := parseLine(tt.line)
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseLine(%q) = %v, %v; want %v, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}

func TestMedian(t *testing.T) {
	ss := []sample{{"ns/op": 3}, {"ns/op": 1}, {"ns/op": 2}, {"B/op": 7}}
	if got := median(values(ss, "ns/op")); got != 2 {
		t.Errorf("odd median = %v, want 2", got)
	}
	if got := median(values(append(ss, sample{"ns/op": 10}), "ns/op")); got != 2.5 {
		t.Errorf("even median = %v, want 2.5", got)
	}
	if got := median(nil); got != -1 {
		t.Errorf("empty median = %v, want -1", got)
	}
}

// clientOutput is two repetitions of client benchmarks, with msgs/s.
const clientOutput = `# repetition 1 of 2
BenchmarkSinkPublish/qos1-64B/feedmq-2  	 100	 10000 ns/op	 9000 cpu-ns/op	 100000 msgs/s	 500 B/op	 8 allocs/op
BenchmarkSinkPublish/qos1-64B/paho-2    	 100	 20000 ns/op	 19000 cpu-ns/op	 50000 msgs/s	 1400 B/op	 39 allocs/op
BenchmarkSinkPublish/qos1-64B/pahogolang-2	 100	 40000 ns/op	 30000 cpu-ns/op	 25000 msgs/s	 4400 B/op	 53 allocs/op
BenchmarkSinkReceive/qos0-64B/feedmq-2  	 100	 1000 ns/op	 900 cpu-ns/op	 0.5 dropped/op	 500000 msgs/s	 100 B/op	 4 allocs/op
BenchmarkSinkReceive/qos0-64B/paho-2    	 100	 2000 ns/op	 1900 cpu-ns/op	 500000 msgs/s	 600 B/op	 16 allocs/op
# repetition 2 of 2
BenchmarkSinkPublish/qos1-64B/feedmq-2  	 100	 20000 ns/op	 9000 cpu-ns/op	 50000 msgs/s	 500 B/op	 8 allocs/op
BenchmarkSinkPublish/qos1-64B/paho-2    	 100	 30000 ns/op	 19000 cpu-ns/op	 33333 msgs/s	 1400 B/op	 39 allocs/op
BenchmarkSinkPublish/qos1-64B/pahogolang-2	 100	 40000 ns/op	 30000 cpu-ns/op	 25000 msgs/s	 4400 B/op	 53 allocs/op
BenchmarkSinkReceive/qos0-64B/feedmq-2  	 100	 1000 ns/op	 900 cpu-ns/op	 0.5 dropped/op	 500000 msgs/s	 100 B/op	 4 allocs/op
BenchmarkSinkReceive/qos0-64B/paho-2    	 100	 2000 ns/op	 1900 cpu-ns/op	 500000 msgs/s	 600 B/op	 16 allocs/op
`

func TestClientTable(t *testing.T) {
	res, err := parse(strings.NewReader(clientOutput), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := res.print(&out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"repetitions: 2",
		"| benchmark | variant | feedmq msgs/s | paho msgs/s | pahogolang msgs/s | paho/feedmq | pahogolang/feedmq | feedmq cpu-ns/op | paho cpu-ns/op | pahogolang cpu-ns/op | feedmq allocs (B) | paho allocs (B) | pahogolang allocs (B) | feedmq dropped |",
		// Ratios per repetition: paho 2.00 and 1.50, pahogolang 4.00 and 2.00.
		"| SinkPublish | qos1-64B | 75.0k | 41.7k | 25.0k | 1.75x (1.50–2.00) | 3.00x (2.00–4.00) | 9000 | 19000 | 30000 | 8 (500) | 39 (1400) | 53 (4400) | - |",
		// Compared by messages handled, not by ns/op: feedmq dropped half.
		"| SinkReceive | qos0-64B | 500k | 500k | - | 1.00x (1.00–1.00) | - | 900 | 1900 | - | 4 (100) | 16 (600) | - | 50.0% |",
	} {
		if !strings.Contains(squeeze(got), squeeze(want)) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestQuickFromEnv(t *testing.T) {
	for v, want := range map[string]bool{"": false, "0": false, "1": true, "yes": true} {
		t.Setenv(quickEnv, v)
		if got := quickFromEnv(); got != want {
			t.Errorf("%s=%q: quick %v, want %v", quickEnv, v, got, want)
		}
	}
}

func TestRunFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bench.txt")
	if err := os.WriteFile(path, []byte(sampleOutput), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-in", path}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"repetitions: 3",
		"| benchmark | variant | feedmq ns/op | paho ns/op | mochi ns/op | paho/feedmq | mochi/feedmq | feedmq allocs (B) | paho allocs (B) | mochi allocs (B) |",
		// feedmq median 110, paho 300, mochi 250; paho/feedmq per run
		// 3.00, 2.33, 3.00; mochi/feedmq 2.50, 2.17, 2.00.
		"| EncodePublish | feedmq | 110 | 300 | 250 | 3.00x (2.33–3.00) | 2.17x (2.00–2.50) | 0 (0) | 6 (360) | 4 (376) |",
		// mochi has no decode sample in this output.
		"| DecodePublish | feedmq | 200 | 500 | - | 2.50x | - | 3 (136) | 10 (336) | - |",
		// The reader variants pair with each other.
		"| DecodePublish | feedmq-reader | 50 | 600 | - | 12.00x | - | 2 (72) | 10 (336) | - |",
	} {
		if !strings.Contains(squeeze(got), squeeze(want)) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestUsage(t *testing.T) {
	err := run(context.Background(), []string{"-count", "0"}, io.Discard, io.Discard)
	if _, ok := err.(usageError); !ok {
		t.Errorf("run(-count 0) = %v, want a usageError", err)
	}
}

// squeeze collapses runs of spaces to one, so tests need not know the
// column widths.
func squeeze(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}
