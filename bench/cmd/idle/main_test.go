package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/feedmq/feedmq/bench/internal/sink"
)

// TestMain lets the test binary serve as the sink and as a measuring child,
// as the command's own binary does.
func TestMain(m *testing.M) {
	sink.RunIfChild()
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(childMain(spec, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestMeasurementRoundTrip(t *testing.T) {
	want := measurement{
		base:           snapshot{1, 8 << 20, 400 << 10, 64 << 10},
		connected:      snapshot{5001, 50 << 20, 40 << 20, 16 << 20},
		after:          snapshot{2, 9 << 20, 500 << 10, 16 << 20},
		lateGoroutines: 1,
	}
	got, err := parseMeasurement(want.String())
	if err != nil || got != want {
		t.Errorf("parseMeasurement(%q) = %+v, %v; want %+v", want.String(), got, err, want)
	}
	if _, err := parseMeasurement("base.goroutines=1"); err == nil {
		t.Error("a partial line parsed")
	}
}

func TestSpread(t *testing.T) {
	for _, tt := range []struct {
		v    []float64
		want string
	}{
		{nil, "-"},
		{[]float64{2}, "2.0"},
		{[]float64{3, 1, 2}, "2.0 (1.0–3.0)"},
		{[]float64{4, 1, 2, 3}, "2.5 (1.0–4.0)"},
	} {
		if got := spread(tt.v, 1); got != tt.want {
			t.Errorf("spread(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

// TestRun measures a few connections of every library end to end.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-n", "3", "-count", "1"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, lib := range libraries {
		if !strings.Contains(out.String(), "| "+lib+" ") {
			t.Errorf("no row for %s:\n%s", lib, out.String())
		}
	}
}

func TestUsage(t *testing.T) {
	err := run(context.Background(), []string{"-n", "0"}, io.Discard, io.Discard)
	if _, ok := err.(usageError); !ok {
		t.Errorf("run(-n 0) = %v, want a usageError", err)
	}
}
