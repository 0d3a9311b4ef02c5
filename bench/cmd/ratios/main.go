// Command ratios runs a package's comparison benchmarks several times and
// prints, for each benchmark, every library's median and how many times
// faster feedmq is than each other library, with the spread of that ratio
// across the repetitions.
//
// Run it from the bench module:
//
//	cd bench && go run ./cmd/ratios              # the codec, ./codec/
//	cd bench && go run ./cmd/ratios -pkg ./client/ -benchtime 400ms
//
// It builds the package's test binary once (go test -c) and runs it -count
// times (5 by default), each time as
//
//	go test -run=^$ -bench=. -benchmem -count=1 [-benchtime d]
//
// would, so that every repetition runs every benchmark once with the
// libraries of one benchmark back to back, and the machine's changing load
// falls on all of them alike. (go test -count=5 would run one library five
// times before the next.) The output goes to stderr as it comes and the
// table to stdout, so `go run ./cmd/ratios 2>raw.txt` keeps the raw lines
// for benchstat. With -in it reads saved benchmark output instead of
// running anything:
//
//	go run ./cmd/ratios -in raw.txt
//
// -quick, or BENCH_QUICK=1 in the environment, runs one repetition of one
// iteration of each benchmark (-benchtime=1x): a smoke test that the
// benchmarks and the table work, with numbers that mean nothing.
//
// A sub-benchmark is named Benchmark<Op>/<library> or
// Benchmark<Op>/<variant>/<library>. Libraries whose name starts with
// "feedmq" are baselines: each gets its own row, where the other libraries'
// sub-benchmarks with the same suffix are compared with it (feedmq-reader
// with paho-reader and mochi-reader). The n-th result of one sub-benchmark
// is paired with the n-th result of the others, which with repetitions is
// the one from the same run. Exit status is 0 on success, 1 on error and 2
// on a usage error.
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
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
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

// quickEnv, set to anything but "" or "0", selects -quick.
const quickEnv = "BENCH_QUICK"

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ratios", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pkg := fs.String("pkg", "./codec/", "the benchmarks' `package`, relative to the bench module")
	count := fs.Int("count", 5, "run every benchmark `n` times, one repetition after the other; the table shows medians")
	benchtime := fs.String("benchtime", "", "passed to go test -benchtime when set")
	bench := fs.String("bench", ".", "passed to go test -bench")
	quick := fs.Bool("quick", quickFromEnv(), "one repetition of one iteration each, to check that everything runs (default from "+quickEnv+")")
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
	if *quick {
		*count, *benchtime = 1, "1x"
	}

	var res *results
	var err error
	switch *in {
	case "":
		res, err = runBenchmarks(ctx, *pkg, *bench, *benchtime, *count, stderr)
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

// quickFromEnv reports whether quickEnv asks for quick mode.
func quickFromEnv() bool {
	v := os.Getenv(quickEnv)
	return v != "" && v != "0"
}

// runBenchmarks builds pkg's test binary, runs it count times in pkg's
// directory, and parses its output while copying it to w.
func runBenchmarks(ctx context.Context, pkg, bench, benchtime string, count int, w io.Writer) (*results, error) {
	if _, err := os.Stat("go.mod"); err != nil {
		return nil, errors.New("run from the bench module directory: go.mod not found")
	}
	dir, err := filepath.Abs(pkg)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "feedmq-ratios-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "bench.test")
	build := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, pkg)
	build.Stdout, build.Stderr = w, w
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("go test -c %s: %w", pkg, err)
	}

	args := []string{"-test.run=^$", "-test.bench=" + bench, "-test.benchmem", "-test.count=1"}
	shown := []string{"go", "test", "-run=^$", "-bench=" + bench, "-benchmem", "-count=1"}
	if benchtime != "" {
		args = append(args, "-test.benchtime="+benchtime)
		shown = append(shown, "-benchtime="+benchtime)
	}
	shown = append(shown, pkg)
	start := time.Now()
	pr, pw := io.Pipe()
	parsed := make(chan struct{})
	var res *results
	var perr error
	go func() {
		defer close(parsed)
		res, perr = parse(pr, w)
		io.Copy(io.Discard, pr)
	}()
	var runErr error
	for i := range count {
		fmt.Fprintf(pw, "# repetition %d of %d: %s\n", i+1, count, strings.Join(shown, " "))
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = pw, w
		if runErr = cmd.Run(); runErr != nil {
			runErr = fmt.Errorf("repetition %d: %s: %w", i+1, strings.Join(shown, " "), runErr)
			break
		}
	}
	pw.Close()
	<-parsed
	fmt.Fprintf(w, "# %d repetitions in %v\n", count, time.Since(start).Round(time.Second))
	if runErr != nil {
		return nil, runErr
	}
	return res, perr
}

// sample is one benchmark result line: its values by unit (ns/op, B/op,
// allocs/op, msgs/s and so on).
type sample map[string]float64

// key names a sub-benchmark: the operation (EncodePublish), the variant
// ("" or qos1-64B) and the library (paho).
type key struct{ op, variant, lib string }

// group names the sub-benchmarks of one operation and variant.
type group struct{ op, variant string }

// results holds every sample, in the order the benchmarks first appeared.
type results struct {
	header  []string // goos, goarch and cpu lines
	order   []group
	libs    map[group][]string
	samples map[key][]sample
	units   map[string]bool // every unit seen
}

// parse reads go test -bench output from r, copying every line to echo.
func parse(r io.Reader, echo io.Writer) (*results, error) {
	res := &results{libs: map[group][]string{}, samples: map[key][]sample{}, units: map[string]bool{}}
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
		g := group{k.op, k.variant}
		if _, seen := res.libs[g]; !seen {
			res.order = append(res.order, g)
		}
		if !slices.Contains(res.libs[g], k.lib) {
			res.libs[g] = append(res.libs[g], k.lib)
		}
		res.samples[k] = append(res.samples[k], s)
		for u := range s {
			res.units[u] = true
		}
	}
	return res, sc.Err()
}

// parseLine parses one result line such as
//
//	BenchmarkEncodePublish/feedmq-2  1000000  45.6 ns/op  1973 MB/s  0 B/op  0 allocs/op
//	BenchmarkSinkPublish/qos1-64B/paho-2  5000  119072 ns/op  8398 msgs/s  39 allocs/op
//
// The -2 suffix is GOMAXPROCS, which go test adds when it is not 1.
func parseLine(line string) (key, sample, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
		return key{}, nil, false
	}
	if _, err := strconv.Atoi(f[1]); err != nil {
		return key{}, nil, false
	}
	name := strings.TrimPrefix(f[0], "Benchmark")
	if i := strings.LastIndexByte(name, '-'); i >= 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i]
		}
	}
	parts := strings.Split(name, "/")
	var k key
	switch len(parts) {
	case 2:
		k = key{op: parts[0], lib: parts[1]}
	case 3:
		k = key{op: parts[0], variant: parts[1], lib: parts[2]}
	default:
		return key{}, nil, false
	}
	s := sample{}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return key{}, nil, false
		}
		s[f[i+1]] = v
	}
	if _, ok := s["ns/op"]; !ok {
		return key{}, nil, false
	}
	return k, s, true
}

// values returns the samples' values in unit, skipping samples without one.
func values(ss []sample, unit string) []float64 {
	var v []float64
	for _, s := range ss {
		if x, ok := s[unit]; ok {
			v = append(v, x)
		}
	}
	return v
}

// median returns the median of v, or -1 when v is empty.
func median(v []float64) float64 {
	if len(v) == 0 {
		return -1
	}
	v = slices.Sorted(slices.Values(v))
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}

// speedups returns, for each repetition both have, how many times faster
// base was than other: other's ns/op over base's, or base's msgs/s over
// other's when both report msgs/s, since a message feedmq drops takes time
// but is not a message handled.
func speedups(base, other []sample) []float64 {
	var r []float64
	for i := range min(len(base), len(other)) {
		b, o := base[i], other[i]
		if bm, ok := b["msgs/s"]; ok {
			if om, ok := o["msgs/s"]; ok && om > 0 {
				r = append(r, bm/om)
				continue
			}
		}
		if b["ns/op"] > 0 {
			r = append(r, o["ns/op"]/b["ns/op"])
		}
	}
	return r
}

// print writes the table: one row per operation, variant and feedmq
// library. A library "feedmq<suffix>" (feedmq-reader) is compared with
// "<lib><suffix>" (paho-reader, mochi-reader) of each other library, and
// plain "feedmq" with plain "<lib>"; a missing counterpart shows as "-".
func (res *results) print(w io.Writer) error {
	// The variant suffixes, from the baselines' names.
	var suffixes []string
	for _, g := range res.order {
		for _, lib := range res.libs[g] {
			if s, ok := strings.CutPrefix(lib, baselinePrefix); ok && s != "" && !slices.Contains(suffixes, s) {
				suffixes = append(suffixes, s)
			}
		}
	}
	// The other libraries, without suffixes, in order of first appearance.
	var others []string
	for _, g := range res.order {
		for _, lib := range res.libs[g] {
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
	// The headline is msgs/s when every benchmark reports it.
	headline, headlineFmt := "ns/op", num
	if res.units["msgs/s"] {
		headline, headlineFmt = "msgs/s", rate
		for _, ss := range res.samples {
			if len(values(ss, "msgs/s")) == 0 {
				headline, headlineFmt = "ns/op", num
				break
			}
		}
	}
	libs := append([]string{baselinePrefix}, others...)

	for _, h := range res.header {
		fmt.Fprintln(w, h)
	}
	fmt.Fprintf(w, "repetitions: %d; each value is the median of the repetitions; ratio = how many times faster feedmq is "+
		"(other ns/op ÷ feedmq ns/op, or feedmq msgs/s ÷ other msgs/s where reported), "+
		"median of the per-repetition ratios (min–max); above 1 means feedmq is faster\n\n", runs)

	cols := []string{"benchmark", "variant"}
	for _, l := range libs {
		cols = append(cols, l+" "+headline)
	}
	for _, o := range others {
		cols = append(cols, o+"/feedmq")
	}
	if res.units["cpu-ns/op"] {
		for _, l := range libs {
			cols = append(cols, l+" cpu-ns/op")
		}
	}
	allocsHeader := " allocs"
	if res.units["B/op"] {
		allocsHeader = " allocs (B)"
	}
	for _, l := range libs {
		cols = append(cols, l+allocsHeader)
	}
	if res.units["dropped/op"] {
		cols = append(cols, "feedmq dropped")
	}
	rows := [][]string{cols}
	for _, g := range res.order {
		for _, base := range res.libs[g] {
			if !strings.HasPrefix(base, baselinePrefix) {
				continue
			}
			suffix := strings.TrimPrefix(base, baselinePrefix)
			ss := []([]sample){res.samples[key{g.op, g.variant, base}]}
			for _, o := range others {
				ss = append(ss, res.samples[key{g.op, g.variant, o + suffix}])
			}
			variant := g.variant
			switch {
			case variant == "":
				variant = base
			case suffix != "":
				variant += " " + base
			}
			row := []string{g.op, variant}
			for _, s := range ss {
				row = append(row, headlineFmt(median(values(s, headline))))
			}
			for _, s := range ss[1:] {
				row = append(row, spread(speedups(ss[0], s)))
			}
			if res.units["cpu-ns/op"] {
				for _, s := range ss {
					row = append(row, num(median(values(s, "cpu-ns/op"))))
				}
			}
			for _, s := range ss {
				a := num(median(values(s, "allocs/op")))
				if res.units["B/op"] && a != "-" {
					a += " (" + num(median(values(s, "B/op"))) + ")"
				}
				row = append(row, a)
			}
			if res.units["dropped/op"] {
				d := median(values(ss[0], "dropped/op"))
				if d > 0 {
					row = append(row, strconv.FormatFloat(100*d, 'f', 1, 64)+"%")
				} else {
					row = append(row, num(d))
				}
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

// rate formats a number of messages per second with three significant
// digits: 762k, 12.4k, 1.20M.
func rate(v float64) string {
	switch {
	case v < 0:
		return "-"
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 2, 64) + "M"
	case v >= 1e5:
		return strconv.FormatFloat(v/1e3, 'f', 0, 64) + "k"
	case v >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', 2, 64) + "k"
	default:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
}

// spread formats ratios as "2.35x (1.90–2.61)": their median, and their
// range when there is more than one; "-" when there is none.
func spread(r []float64) string {
	if len(r) == 0 {
		return "-"
	}
	s := ratio(median(r))
	if len(r) > 1 {
		s += " (" + strconv.FormatFloat(slices.Min(r), 'f', 2, 64) + "–" + strconv.FormatFloat(slices.Max(r), 'f', 2, 64) + ")"
	}
	return s
}

// ratio formats a ratio as "2.35x".
func ratio(v float64) string {
	return strconv.FormatFloat(v, 'f', 2, 64) + "x"
}
