// Command ratios runs the codec comparison benchmarks and prints, for each
// benchmark, the median ns/op and allocs/op of every library and how many
// times slower paho and mochi are than feedmq.
//
// Run it from the bench module:
//
//	cd bench && go run ./cmd/ratios
//
// which runs
//
//	go test -run=^$ -bench=. -benchmem -count=5 ./codec/
//
// streams that output to stderr, and prints the table on stdout. With -in it
// reads saved benchmark output instead of running anything:
//
//	go run ./cmd/ratios -in bench.txt
//
// A sub-benchmark is named Benchmark<Op>/<library>[<suffix>]. Libraries whose
// name starts with "feedmq" are baselines: each gets its own row, where the
// other libraries' sub-benchmarks with the same suffix are compared with it
// (feedmq-reader with paho-reader and mochi-reader). Exit status is 0 on
// success, 1 on error and 2 on a usage error.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "ratios:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "ratios:", err)
		os.Exit(1)
	}
}

// usageError reports bad command-line arguments.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// baselinePrefix marks the library the others are compared with.
const baselinePrefix = "feedmq"

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ratios", flag.ContinueOnError)
	fs.SetOutput(stderr)
	count := fs.Int("count", 5, "run each benchmark `n` times; the table shows medians")
	benchtime := fs.String("benchtime", "", "passed to go test -benchtime when set")
	bench := fs.String("bench", ".", "passed to go test -bench")
	in := fs.String("in", "", "read benchmark output from `file` (- for stdin) instead of running go test")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() != 0 {
		return usageError{"unexpected arguments: " + strings.Join(fs.Args(), " ")}
	}
	if *count < 1 {
		return usageError{"-count must be at least 1"}
	}

	var res *results
	var err error
	switch *in {
	case "":
		res, err = runBenchmarks(ctx, *bench, *benchtime, *count, stderr)
	case "-":
		res, err = parse(os.Stdin, io.Discard)
	default:
		var f *os.File
		if f, err = os.Open(*in); err != nil {
			return err
		}
		res, err = parse(f, io.Discard)
		f.Close()
	}
	if err != nil {
		return err
	}
	if len(res.order) == 0 {
		return errors.New("no benchmark results found")
	}
	return res.print(stdout)
}

// runBenchmarks runs go test in the current directory, which must be the
// bench module, and parses its output while copying it to w.
func runBenchmarks(ctx context.Context, bench, benchtime string, count int, w io.Writer) (*results, error) {
	if _, err := os.Stat("codec"); err != nil {
		return nil, errors.New("run from the bench module directory: ./codec not found")
	}
	args := []string{"test", "-run=^$", "-bench=" + bench, "-benchmem", "-count=" + strconv.Itoa(count)}
	if benchtime != "" {
		args = append(args, "-benchtime="+benchtime)
	}
	args = append(args, "./codec/")
	fmt.Fprintln(w, "$ go", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Stderr = w
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	res, perr := parse(out, w)
	if perr != nil {
		io.Copy(io.Discard, out)
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("go test: %w", err)
	}
	return res, perr
}

// sample is one benchmark result line.
type sample struct {
	nsPerOp     float64
	bytesPerOp  float64
	allocsPerOp float64
}

// key names a sub-benchmark: the operation (EncodePublish) and the library
// (paho).
type key struct{ op, lib string }

// results holds every sample, in the order the benchmarks first appeared.
type results struct {
	header  []string // goos, goarch, pkg and cpu lines
	order   []string // operations
	libs    map[string][]string
	samples map[key][]sample
}

// parse reads go test -bench output from r, copying every line to echo.
func parse(r io.Reader, echo io.Writer) (*results, error) {
	res := &results{libs: map[string][]string{}, samples: map[key][]sample{}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(echo, line)
		for _, p := range []string{"goos:", "goarch:", "cpu:"} {
			if strings.HasPrefix(line, p) && !slices.Contains(res.header, line) {
				res.header = append(res.header, line)
			}
		}
		k, s, ok := parseLine(line)
		if !ok {
			continue
		}
		if _, seen := res.libs[k.op]; !seen {
			res.order = append(res.order, k.op)
		}
		if !slices.Contains(res.libs[k.op], k.lib) {
			res.libs[k.op] = append(res.libs[k.op], k.lib)
		}
		res.samples[k] = append(res.samples[k], s)
	}
	return res, sc.Err()
}

// parseLine parses one result line such as
//
//	BenchmarkEncodePublish/feedmq-2  1000000  45.6 ns/op  1973 MB/s  0 B/op  0 allocs/op
//
// The -2 suffix is GOMAXPROCS, which go test adds when it is not 1.
func parseLine(line string) (key, sample, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
		return key{}, sample{}, false
	}
	if _, err := strconv.Atoi(f[1]); err != nil {
		return key{}, sample{}, false
	}
	name := strings.TrimPrefix(f[0], "Benchmark")
	if i := strings.LastIndexByte(name, '-'); i >= 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i]
		}
	}
	op, lib, ok := strings.Cut(name, "/")
	if !ok {
		return key{}, sample{}, false
	}
	s := sample{nsPerOp: -1, bytesPerOp: -1, allocsPerOp: -1}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return key{}, sample{}, false
		}
		switch f[i+1] {
		case "ns/op":
			s.nsPerOp = v
		case "B/op":
			s.bytesPerOp = v
		case "allocs/op":
			s.allocsPerOp = v
		}
	}
	if s.nsPerOp < 0 {
		return key{}, sample{}, false
	}
	return key{op, lib}, s, true
}

// median returns the median of the values get picks from ss, or -1 when
// no sample has one.
func median(ss []sample, get func(sample) float64) float64 {
	var v []float64
	for _, s := range ss {
		if x := get(s); x >= 0 {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return -1
	}
	slices.Sort(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}

func nsOf(s sample) float64     { return s.nsPerOp }
func allocsOf(s sample) float64 { return s.allocsPerOp }

// print writes the table: one row per operation and feedmq variant. A
// variant "feedmq<suffix>" (feedmq-reader) is compared with "<lib><suffix>"
// (paho-reader, mochi-reader) of each other library, and plain "feedmq" with
// plain "<lib>"; a missing counterpart shows as "-".
func (res *results) print(w io.Writer) error {
	// The variant suffixes, from the baselines' names.
	var suffixes []string
	for _, op := range res.order {
		for _, lib := range res.libs[op] {
			if s, ok := strings.CutPrefix(lib, baselinePrefix); ok && s != "" && !slices.Contains(suffixes, s) {
				suffixes = append(suffixes, s)
			}
		}
	}
	// The other libraries, without variant suffixes, in order of first
	// appearance.
	var others []string
	for _, op := range res.order {
		for _, lib := range res.libs[op] {
			if strings.HasPrefix(lib, baselinePrefix) {
				continue
			}
			for _, s := range suffixes {
				lib = strings.TrimSuffix(lib, s)
			}
			if !slices.Contains(others, lib) {
				others = append(others, lib)
			}
		}
	}
	runs := 0
	for _, ss := range res.samples {
		runs = max(runs, len(ss))
	}

	for _, h := range res.header {
		fmt.Fprintln(w, h)
	}
	fmt.Fprintf(w, "runs per benchmark: %d (table shows medians); ratio = other ns/op ÷ feedmq ns/op, >1 means feedmq is faster\n\n", runs)

	cols := []string{"benchmark", "feedmq API", "feedmq ns/op"}
	for _, o := range others {
		cols = append(cols, o+" ns/op")
	}
	for _, o := range others {
		cols = append(cols, o+"/feedmq")
	}
	cols = append(cols, "feedmq allocs")
	for _, o := range others {
		cols = append(cols, o+" allocs")
	}
	rows := [][]string{cols}
	for _, op := range res.order {
		for _, base := range res.libs[op] {
			if !strings.HasPrefix(base, baselinePrefix) {
				continue
			}
			suffix := strings.TrimPrefix(base, baselinePrefix)
			baseNs := median(res.samples[key{op, base}], nsOf)
			row := []string{op, base, num(baseNs)}
			for _, o := range others {
				row = append(row, num(median(res.samples[key{op, o + suffix}], nsOf)))
			}
			for _, o := range others {
				row = append(row, ratio(median(res.samples[key{op, o + suffix}], nsOf), baseNs))
			}
			row = append(row, num(median(res.samples[key{op, base}], allocsOf)))
			for _, o := range others {
				row = append(row, num(median(res.samples[key{op, o + suffix}], allocsOf)))
			}
			rows = append(rows, row)
		}
	}
	return writeMarkdown(w, rows, 2)
}

// writeMarkdown writes rows as a Markdown table padded to line up in a
// terminal. The first row is the header; the first textCols columns are
// left-aligned and the rest, numbers, right-aligned.
func writeMarkdown(w io.Writer, rows [][]string, textCols int) error {
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c), 3)
		}
	}
	var b strings.Builder
	line := func(r []string) {
		b.WriteByte('|')
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i < textCols {
				b.WriteString(" " + c + pad + " |")
			} else {
				b.WriteString(" " + pad + c + " |")
			}
		}
		b.WriteByte('\n')
	}
	line(rows[0])
	b.WriteByte('|')
	for i, n := range width {
		if i < textCols {
			b.WriteString(" " + strings.Repeat("-", n) + " |")
		} else {
			b.WriteString(" " + strings.Repeat("-", n-1) + ": |")
		}
	}
	b.WriteByte('\n')
	for _, r := range rows[1:] {
		line(r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// num formats a median, with "-" for a missing value.
func num(v float64) string {
	switch {
	case v < 0:
		return "-"
	case v >= 100 || v == float64(int64(v)):
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
}

// ratio formats a/b as "2.35x", with "-" when either is missing.
func ratio(a, b float64) string {
	if a < 0 || b <= 0 {
		return "-"
	}
	return strconv.FormatFloat(a/b, 'f', 2, 64) + "x"
}
