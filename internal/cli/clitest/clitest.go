// Package clitest runs the command-line tools in tests: it builds mqtt-pub
// and mqtt-sub, finds mosquitto_pub and mosquitto_sub to compare them with,
// runs either with a clean environment, and waits for a mosquittotest
// broker to log what a test waits for.
package clitest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/feedmq/feedmq/internal/mosquittotest"
	"github.com/feedmq/feedmq/internal/syncbuf"
)

// Main is the TestMain of a tool's package. It builds the tool into *bin,
// makes the tool's getenv see an empty directory as HOME and
// XDG_CONFIG_HOME (so that no test reads an options file) and no
// MQTT_PASSWORD, runs the tests, and checks that no goroutine outlives them.
func Main(m *testing.M, name string, bin *string, getenv *func(string) string) {
	var err error
	if *bin, err = Build(".", name); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	home, err := os.MkdirTemp("", name+"-home-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*getenv = func(v string) string {
		switch v {
		case "HOME", "XDG_CONFIG_HOME":
			return home
		case "MQTT_PASSWORD":
			return ""
		}
		return os.Getenv(v)
	}
	code := m.Run()
	os.RemoveAll(filepath.Dir(*bin))
	os.RemoveAll(home)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// RunTimeout bounds every run of a tool.
const RunTimeout = 20 * time.Second

// Build compiles the main package in dir into a new temporary directory and
// returns the binary's path. Call it from TestMain; remove filepath.Dir of
// the result when done.
func Build(dir, name string) (string, error) {
	tmp, err := os.MkdirTemp("", "clitest-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(tmp, name)
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("go build %s: %v\n%s", dir, err, out)
	}
	return bin, nil
}

// Mosquitto returns the path of mosquitto_pub or mosquitto_sub, or "" when
// the mosquitto-clients package is not installed.
func Mosquitto(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if bin, ok := mosquittotest.Available(); ok {
		if p, err := exec.LookPath(filepath.Join(filepath.Dir(bin), name)); err == nil {
			return p
		}
	}
	return ""
}

// RequireMosquitto returns the path of mosquitto_pub or mosquitto_sub, and
// skips the test when it is missing.
func RequireMosquitto(t testing.TB, name string) string {
	t.Helper()
	p := Mosquitto(name)
	if p == "" {
		t.Skipf("%s not found; install it with apt-get install mosquitto-clients", name)
	}
	return p
}

// Env is the environment of a tool run: an empty directory as HOME and
// XDG_CONFIG_HOME, so that no options file is read, no MQTT_PASSWORD, and
// extra ("NAME=value").
func Env(t testing.TB, extra ...string) []string {
	dir := t.TempDir()
	env := []string{"HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "PATH=" + os.Getenv("PATH"), "TZ=" + os.Getenv("TZ")}
	return append(env, extra...)
}

// Result is how a run ended.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Proc is a running tool.
type Proc struct {
	cmd            *exec.Cmd
	cancel         context.CancelFunc
	stdout, stderr syncbuf.Buffer
	stdin          io.WriteCloser
	done           chan struct{}
	err            error
}

// Start runs bin with args. With withStdin, Stdin is a pipe to write to;
// otherwise stdin is empty. The process is killed when the test ends.
func Start(t testing.TB, bin string, env []string, withStdin bool, args ...string) *Proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), RunTimeout)
	p := &Proc{cancel: cancel, done: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, bin, args...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if withStdin {
		w, err := p.cmd.StdinPipe()
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		p.stdin = w
	}
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-p.done
	})
	return p
}

// Stdin is the pipe to the process's standard input (see Start).
func (p *Proc) Stdin() io.WriteCloser { return p.stdin }

// Stdout returns what the process printed so far.
func (p *Proc) Stdout() string { return p.stdout.String() }

// Stderr returns what the process printed on stderr so far.
func (p *Proc) Stderr() string { return p.stderr.String() }

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits for the process to exit, failing the test after timeout.
func (p *Proc) Wait(t testing.TB, timeout time.Duration) Result {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.cancel()
		<-p.done
		t.Fatalf("%s did not exit within %v; stdout:\n%s\nstderr:\n%s", p.cmd.Path, timeout, p.Stdout(), p.Stderr())
	}
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(p.err, &exit):
		code = exit.ExitCode()
	case p.err != nil:
		t.Fatalf("%s: %v", p.cmd.Path, p.err)
	}
	return Result{Stdout: p.Stdout(), Stderr: p.Stderr(), Code: code}
}

// Run runs bin with args and stdin to the end.
func Run(t testing.TB, bin string, env []string, stdin string, args ...string) Result {
	t.Helper()
	p := Start(t, bin, env, true, args...)
	io.WriteString(p.stdin, stdin)
	p.stdin.Close()
	return p.Wait(t, RunTimeout)
}

// WaitLog waits until the broker's log holds substr at least n times.
// mosquitto logs "Sending SUBACK to <client id>" once a subscription is in
// place, which tells when a subscriber is ready for messages.
func WaitLog(t testing.TB, b *mosquittotest.Broker, substr string, n int) {
	t.Helper()
	if !poll(10*time.Second, func() bool { return strings.Count(b.Log(), substr) >= n }) {
		t.Fatalf("the broker did not log %q %d times; log:\n%s", substr, n, b.Log())
	}
}

// WaitOutput waits until p printed substr on stdout.
func (p *Proc) WaitOutput(t testing.TB, substr string, timeout time.Duration) {
	t.Helper()
	if !poll(timeout, func() bool { return strings.Contains(p.Stdout(), substr) }) {
		t.Fatalf("%s did not print %q; stdout:\n%s\nstderr:\n%s", p.cmd.Path, substr, p.Stdout(), p.Stderr())
	}
}

// poll checks cond every 10ms until it holds or timeout passes: the broker's
// log and a process's output have no other way to announce themselves.
func poll(timeout time.Duration, cond func() bool) bool {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			return cond()
		}
	}
	return true
}

// randomID matches the client identifiers made up for a run: mqtt-pub's
// and mqtt-sub's ("feedmq-" and 16 hex digits), libmosquitto's at MQTT 3.1
// ("mosq-" and letters) and those mosquitto assigns at 5.0 ("auto-" and a
// UUID).
var randomID = regexp.MustCompile(`^Client (feedmq-[0-9a-f]{16}|mosq-[0-9A-Za-z]+|auto-[0-9A-F-]{36}) `)

// NormalizeTrace returns the lines of a -d trace with the client
// identifiers made up for the run replaced by "<random>". With nullIsRandom
// "(null)", the empty identifier mosquitto's tools send at 3.1.1 where
// ours make one up, is replaced too.
func NormalizeTrace(out string, nullIsRandom bool) []string {
	lines := strings.SplitAfter(out, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		l = randomID.ReplaceAllString(l, "Client <random> ")
		if nullIsRandom {
			if rest, ok := strings.CutPrefix(l, "Client (null) "); ok {
				l = "Client <random> " + rest
			}
		}
		lines[i] = l
	}
	return lines
}

// TraceStreams splits the lines of mqtt-sub's or mosquitto_sub's -d output
// into what arrived (received packets, and "Subscribed" after SUBACK), what
// was sent, and the rest: the messages printed. Each keeps its order.
// mosquitto_sub prints a message once its QoS 1 or 2 flow is acknowledged,
// on the one thread that also reads; mqtt-sub prints it from a handler
// goroutine, before the acknowledgment, while the reader goes on. Each
// stream is the same for both; their interleaving is not.
func TraceStreams(lines []string) (received, sent, messages []string) {
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "Client ") && strings.Contains(l, " received "),
			strings.HasPrefix(l, "Subscribed (mid: "), strings.HasPrefix(l, "Received DISCONNECT"):
			received = append(received, l)
		case strings.HasPrefix(l, "Client ") && strings.Contains(l, " sending "):
			sent = append(sent, l)
		default:
			messages = append(messages, l)
		}
	}
	return received, sent, messages
}
