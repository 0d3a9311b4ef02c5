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
		{"BenchmarkEncodePublish/feedmq-2  10  45.6 ns/op  0 B/op  0 allocs/op", key{"EncodePublish", "feedmq"}, true},
		{"BenchmarkDecodePublish/feedmq-reader-16  10  45.6 ns/op", key{"DecodePublish", "feedmq-reader"}, true},
		{"BenchmarkDecodePublish/feedmq-reader  10  45.6 ns/op", key{"DecodePublish", "feedmq-reader"}, true}, // GOMAXPROCS=1
		{"BenchmarkEncodePublish-2  10  45.6 ns/op", key{}, false},                                            // no library
		{"BenchmarkEncodePublish/feedmq-2", key{}, false},                                                     // name printed before a failure
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
	ss := []sample{{nsPerOp: 3}, {nsPerOp: 1}, {nsPerOp: 2}}
	if got := median(ss, nsOf); got != 2 {
		t.Errorf("odd median = %v, want 2", got)
	}
	if got := median(append(ss, sample{nsPerOp: 10}), nsOf); got != 2.5 {
		t.Errorf("even median = %v, want 2.5", got)
	}
	if got := median(nil, nsOf); got != -1 {
		t.Errorf("empty median = %v, want -1", got)
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
		"runs per benchmark: 3",
		"| benchmark | feedmq API | feedmq ns/op | paho ns/op | mochi ns/op | paho/feedmq | mochi/feedmq | feedmq allocs | paho allocs | mochi allocs |",
		// feedmq median 110, paho 300 (2.73x), mochi 250 (2.27x).
		"| EncodePublish | feedmq | 110 | 300 | 250 | 2.73x | 2.27x | 0 | 6 | 4 |",
		// mochi has no decode sample in this output.
		"| DecodePublish | feedmq | 200 | 500 | - | 2.50x | - | 3 | 10 | - |",
		// The reader variants pair with each other.
		"| DecodePublish | feedmq-reader | 50 | 600 | - | 12.00x | - | 2 | 10 | - |",
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
