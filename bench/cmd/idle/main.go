// Command idle measures what an idle connection costs each client library:
// goroutines and resident memory per connection while N clients sit
// connected, and what is left once they have all disconnected.
//
// Run it from the bench module:
//
//	cd bench && go run ./cmd/idle                 # 1,000 connections, 5 repetitions
//	cd bench && BENCH_QUICK=1 go run ./cmd/idle   # 20 connections, once: a smoke test
//
// The clients connect to the sink broker (package sink), which runs in a
// process of its own. Every measurement runs in a fresh child process, one
// library at a time: feedmq, paho.mqtt.golang and paho.golang back to back in
// each repetition, so that the machine's changing load and one library's
// leftovers do not fall on another. The child
//
//  1. collects garbage, returns free memory to the kernel
//     (debug.FreeOSMemory) and takes a baseline: runtime.NumGoroutine, the
//     resident set from /proc/self/statm, and the Go heap's live objects
//     and its stack memory from runtime/metrics;
//  2. connects -n clients one after the other, each with its library's
//     defaults (clean session, keep-alive 60 s for paho.golang, the
//     library's default otherwise), and measures again the same way;
//  3. disconnects them all (feedmq Disconnect, paho Disconnect(250),
//     paho.golang Disconnect), measures at once, and measures the goroutines
//     again after up to one second for those still on their way out.
//
// The table shows, per library, medians over the repetitions with their
// range: goroutines, resident KiB, live heap KiB and stack KiB per
// connection, then what remained above the baseline after Disconnect.
// Resident memory also counts the library's code the first connection pages
// in and the runtime's own structures, and leaves out heap memory allocated
// but never touched, so it and the heap figure need not agree. The runtime
// keeps the stacks of exited goroutines for reuse, which is why stacks are
// not among what is left. Standard
// output gets the table; standard error, one line per measurement.
//
// Exit status is 0 on success, 1 on error and 2 on a usage error.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	pahogolang "github.com/eclipse/paho.golang/paho"
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/feedmq/feedmq/bench/internal/sink"
	"github.com/feedmq/feedmq/client"
)

// idleFor is how long the connections stay quiet before they are counted.
const idleFor = 2 * time.Second

func main() {
	sink.RunIfChild()
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(childMain(spec, os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "idle:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "idle:", err)
		os.Exit(1)
	}
}

// usageError reports bad command-line arguments.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const (
	// childEnv tells a child process what to measure:
	// "library,addr,n[,memprofile]".
	childEnv = "FEEDMQ_BENCH_IDLE"
	// quickEnv, set to anything but "" or "0", selects -quick.
	quickEnv = "BENCH_QUICK"
	// childTimeout bounds one measurement.
	childTimeout = 3 * time.Minute
	// grace is how long the child waits for goroutines still exiting after
	// Disconnect returned.
	grace = time.Second
)

// libraries are the clients measured, in the order they run.
var libraries = []string{"feedmq", "paho", "pahogolang"}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 1000, "connections per library")
	count := fs.Int("count", 5, "repetitions; the table shows medians")
	memprofile := fs.String("memprofile", "", "write heap profiles to `prefix`-<library>-connected.pprof and -after.pprof (last repetition's)")
	quick := fs.Bool("quick", os.Getenv(quickEnv) != "" && os.Getenv(quickEnv) != "0",
		"20 connections, one repetition: a smoke test (default from "+quickEnv+")")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() != 0 {
		return usageError{"unexpected arguments: " + strings.Join(fs.Args(), " ")}
	}
	if *quick {
		*n, *count = 20, 1
	}
	if *n < 1 || *count < 1 {
		return usageError{"-n and -count must be at least 1"}
	}

	broker, err := sink.Start()
	if err != nil {
		return err
	}
	defer broker.Close()
	exe, err := os.Executable()
	if err != nil {
		return err
	}

	start := time.Now()
	got := map[string][]measurement{}
	for rep := range *count {
		for _, lib := range libraries {
			cctx, cancel := context.WithTimeout(ctx, childTimeout)
			cmd := exec.CommandContext(cctx, exe)
			spec := fmt.Sprintf("%s,%s,%d", lib, broker.Addr(), *n)
			if *memprofile != "" {
				spec += "," + *memprofile
			}
			cmd.Env = append(os.Environ(), childEnv+"="+spec)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, stderr
			err := cmd.Run()
			cancel()
			if err != nil {
				return fmt.Errorf("%s, repetition %d: %w", lib, rep+1, err)
			}
			line := strings.TrimSpace(out.String())
			fmt.Fprintf(stderr, "repetition %d: %s %s\n", rep+1, lib, line)
			m, err := parseMeasurement(line)
			if err != nil {
				return fmt.Errorf("%s, repetition %d: %w", lib, rep+1, err)
			}
			got[lib] = append(got[lib], m)
		}
	}
	fmt.Fprintf(stderr, "# %d repetitions in %v\n", *count, time.Since(start).Round(time.Second))
	return printTable(stdout, *n, *count, got)
}

// snapshot is one measurement of the process.
type snapshot struct {
	goroutines int
	rss        int64 // bytes; -1 where /proc/self/statm is missing
	heap       int64 // bytes of live heap objects
	stacks     int64 // bytes of stack memory, goroutines' and freed but kept
}

// measurement is what a child reports.
type measurement struct {
	base, connected, after snapshot
	lateGoroutines         int // after the grace period
}

// take collects garbage, gives free memory back to the kernel and measures.
func take() snapshot {
	runtime.GC()
	debug.FreeOSMemory()
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/stacks:bytes"},
	}
	metrics.Read(s)
	return snapshot{
		goroutines: runtime.NumGoroutine(),
		rss:        residentBytes(),
		heap:       int64(s[0].Value.Uint64()),
		stacks:     int64(s[1].Value.Uint64()),
	}
}

// residentBytes returns the resident set size, or -1 when it is unknown.
func residentBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return -1
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return -1
	}
	return pages * int64(os.Getpagesize())
}

// conn is one connected client of any library.
type conn interface {
	disconnect(ctx context.Context) error
}

type feedmqConn struct{ c *client.Client }

func (f feedmqConn) disconnect(ctx context.Context) error { return f.c.Disconnect(ctx) }

type pahoConn struct{ c paho.Client }

func (p pahoConn) disconnect(context.Context) error { p.c.Disconnect(250); return nil }

type pahoGolangConn struct{ c *pahogolang.Client }

func (p pahoGolangConn) disconnect(context.Context) error {
	return p.c.Disconnect(&pahogolang.Disconnect{})
}

// connect connects client i of lib to addr with the library's defaults.
func connect(ctx context.Context, lib, addr string, i int) (conn, error) {
	id := fmt.Sprintf("idle-%s-%d-%d", lib, os.Getpid(), i)
	switch lib {
	case "feedmq":
		c, err := client.New(client.Config{Brokers: []string{"mqtt://" + addr}, ClientID: id})
		if err != nil {
			return nil, err
		}
		if err := c.Connect(ctx); err != nil {
			return nil, err
		}
		return feedmqConn{c}, nil
	case "paho":
		c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id))
		tok := c.Connect()
		select {
		case <-tok.Done():
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if err := tok.Error(); err != nil {
			return nil, err
		}
		return pahoConn{c}, nil
	case "pahogolang":
		var d net.Dialer
		nc, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		c := pahogolang.NewClient(pahogolang.ClientConfig{Conn: nc})
		if _, err := c.Connect(ctx, &pahogolang.Connect{ClientID: id, CleanStart: true, KeepAlive: 60}); err != nil {
			return nil, err
		}
		return pahoGolangConn{c}, nil
	}
	return nil, fmt.Errorf("unknown library %q", lib)
}

// childMain measures one library as spec ("library,addr,n[,memprofile]")
// says and prints the measurement on one line.
func childMain(spec string, stdout, stderr io.Writer) int {
	parts := strings.Split(spec, ",")
	n, err := 0, error(nil)
	if len(parts) == 3 || len(parts) == 4 {
		n, err = strconv.Atoi(parts[2])
	}
	if len(parts) < 3 || len(parts) > 4 || err != nil {
		fmt.Fprintf(stderr, "idle: bad %s=%q\n", childEnv, spec)
		return 2
	}
	lib, addr := parts[0], parts[1]
	profile := func(string) error { return nil }
	if len(parts) == 4 {
		profile = func(when string) error {
			f, err := os.Create(fmt.Sprintf("%s-%s-%s.pprof", parts[3], lib, when))
			if err != nil {
				return err
			}
			if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), childTimeout)
	defer cancel()

	var m measurement
	m.base = take()
	conns := make([]conn, 0, n)
	for i := range n {
		c, err := connect(ctx, lib, addr, i)
		if err != nil {
			fmt.Fprintf(stderr, "idle: %s: connection %d: %v\n", lib, i, err)
			return 1
		}
		conns = append(conns, c)
	}
	// Idle means idle: every library gets the same quiet time before the
	// count, so state kept only while traffic flows has gone.
	time.Sleep(idleFor)
	m.connected = take()
	if err := profile("connected"); err != nil {
		fmt.Fprintf(stderr, "idle: %v\n", err)
		return 1
	}
	for i, c := range conns {
		if err := c.disconnect(ctx); err != nil {
			fmt.Fprintf(stderr, "idle: %s: disconnect %d: %v\n", lib, i, err)
			return 1
		}
	}
	conns = nil
	m.after = take()
	deadline := time.Now().Add(grace)
	for runtime.NumGoroutine() > m.base.goroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling a count no channel reports
	}
	m.lateGoroutines = runtime.NumGoroutine()
	if err := profile("after"); err != nil {
		fmt.Fprintf(stderr, "idle: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, m.String())
	return 0
}

// String formats m as the child's output line.
func (m measurement) String() string {
	var b strings.Builder
	for _, s := range []struct {
		name string
		s    snapshot
	}{{"base", m.base}, {"connected", m.connected}, {"after", m.after}} {
		fmt.Fprintf(&b, "%s.goroutines=%d %s.rss=%d %s.heap=%d %s.stacks=%d ",
			s.name, s.s.goroutines, s.name, s.s.rss, s.name, s.s.heap, s.name, s.s.stacks)
	}
	fmt.Fprintf(&b, "late.goroutines=%d", m.lateGoroutines)
	return b.String()
}

// parseMeasurement parses a line written by measurement.String.
func parseMeasurement(line string) (measurement, error) {
	v := map[string]int64{}
	sc := bufio.NewScanner(strings.NewReader(line))
	sc.Split(bufio.ScanWords)
	for sc.Scan() {
		k, s, ok := strings.Cut(sc.Text(), "=")
		x, err := strconv.ParseInt(s, 10, 64)
		if !ok || err != nil {
			return measurement{}, fmt.Errorf("bad measurement %q", line)
		}
		v[k] = x
	}
	snap := func(name string) snapshot {
		return snapshot{int(v[name+".goroutines"]), v[name+".rss"], v[name+".heap"], v[name+".stacks"]}
	}
	if len(v) != 13 {
		return measurement{}, fmt.Errorf("bad measurement %q", line)
	}
	return measurement{snap("base"), snap("connected"), snap("after"), int(v["late.goroutines"])}, nil
}

// printTable writes medians and ranges per library.
func printTable(w io.Writer, n, count int, got map[string][]measurement) error {
	fmt.Fprintf(w, "%d idle connections per library to the sink broker; %s; %d repetitions, median (min–max)\n\n",
		n, runtime.Version(), count)
	rows := [][]string{{"library", "goroutines/conn", "RSS KiB/conn", "heap KiB/conn", "stacks KiB/conn",
		"goroutines left", "… after 1 s", "RSS KiB left", "heap KiB left"}}
	for _, lib := range libraries {
		ms := got[lib]
		col := func(f func(measurement) float64, prec int) string {
			var v []float64
			for _, m := range ms {
				v = append(v, f(m))
			}
			return spread(v, prec)
		}
		const kib = 1024
		fn := float64(n)
		rows = append(rows, []string{lib,
			col(func(m measurement) float64 { return float64(m.connected.goroutines-m.base.goroutines) / fn }, 1),
			col(func(m measurement) float64 { return float64(m.connected.rss-m.base.rss) / kib / fn }, 1),
			col(func(m measurement) float64 { return float64(m.connected.heap-m.base.heap) / kib / fn }, 1),
			col(func(m measurement) float64 { return float64(m.connected.stacks-m.base.stacks) / kib / fn }, 1),
			col(func(m measurement) float64 { return float64(m.after.goroutines - m.base.goroutines) }, 0),
			col(func(m measurement) float64 { return float64(m.lateGoroutines - m.base.goroutines) }, 0),
			col(func(m measurement) float64 { return float64(m.after.rss-m.base.rss) / kib }, 0),
			col(func(m measurement) float64 { return float64(m.after.heap-m.base.heap) / kib }, 0),
		})
	}
	return writeMarkdown(w, rows)
}

// spread formats the median of v and, for more than one value, its range.
func spread(v []float64, prec int) string {
	if len(v) == 0 {
		return "-"
	}
	s := slices.Sorted(slices.Values(v))
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', prec, 64) }
	if len(s) == 1 {
		return f(med)
	}
	return f(med) + " (" + f(s[0]) + "–" + f(s[len(s)-1]) + ")"
}

// writeMarkdown writes rows as a Markdown table, the first row as header,
// the first column left-aligned and the others right-aligned.
func writeMarkdown(w io.Writer, rows [][]string) error {
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
			if i == 0 {
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
		if i == 0 {
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
