package mosquittotest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feedmq/feedmq/internal/syncbuf"
)

const (
	// readyTimeout bounds how long Start and Restart wait for mosquitto to
	// answer; it normally takes a few milliseconds.
	readyTimeout = 10 * time.Second
	// stopTimeout is how long Stop waits after SIGTERM before SIGKILL.
	stopTimeout = 5 * time.Second
	// probeTimeout bounds each dial and read of the readiness probe.
	probeTimeout = 500 * time.Millisecond
	// startAttempts is how often Start tries fresh ports when another
	// process took one between choosing it and mosquitto binding it.
	startAttempts = 4
	// maxDump is how much of the log a failed test prints.
	maxDump = 64 << 10
)

// notFound is the skip or failure message when there is no mosquitto.
const notFound = "mosquittotest: mosquitto not found; install it with apt-get install mosquitto " +
	"(the README test command does this), or set FEEDMQ_MOSQUITTO to its path"

// errPortTaken means mosquitto could not bind a chosen port.
var errPortTaken = errors.New("a listener port was taken by another process")

// Options configures the broker that Start runs. The zero value is an
// anonymous broker with one plain MQTT listener and no persistence.
type Options struct {
	// Users maps username to password. When non-empty, anonymous access is
	// off and a password file holding these users is written.
	Users map[string]string

	// ACL is the text of an acl_file, for example to make a topic
	// not authorized for a user. Empty means no ACL file.
	ACL string

	// TLS adds a TLS listener. A CA, a server certificate for 127.0.0.1,
	// ::1 and localhost, and a client certificate signed by the same CA are
	// generated for each broker.
	TLS bool

	// RequireClientCert makes the TLS listener reject clients without a
	// certificate signed by the CA. It only matters when TLS is set.
	RequireClientCert bool

	// WebSockets adds a listener that speaks MQTT over WebSockets.
	// mosquitto 2.0.11 binds it to all interfaces, not only loopback.
	WebSockets bool

	// Persistence makes mosquitto save sessions and retained messages in
	// the test's directory, so that they survive Restart. mosquitto saves
	// on a clean shutdown, so Kill loses what was not saved yet.
	Persistence bool

	// Extra is appended verbatim to the configuration, after the
	// listeners; listener options in it apply to the last listener unless
	// it starts its own. mosquitto rejects a second value for some options
	// that Start already sets, such as user.
	Extra string

	// Unbounded removes mosquitto's own limits on what it holds for a
	// client (max_inflight_messages, max_queued_messages and
	// max_queued_bytes), so a test that floods a subscriber measures the
	// client, not the broker's drops.
	Unbounded bool

	// QuietLog logs errors, warnings and notices only instead of every
	// packet, for tests that send millions.
	QuietLog bool
}

// Broker is a running (or stopped) mosquitto process. Its ports and files
// stay the same across Stop, Kill and Restart.
type Broker struct {
	// Immutable once Start returned.
	tb    testing.TB
	bin   string
	dir   string
	ports ports
	pki   *pki // nil unless Options.TLS

	log logBuffer

	// mu serialises Stop, Kill and Restart, which wait for the process
	// while holding it, and guards proc.
	mu   sync.Mutex
	proc *process // nil while stopped
}

// process is one run of mosquitto.
type process struct {
	cmd     *exec.Cmd
	logFrom int           // length of the log when this run started
	done    chan struct{} // closed once Wait returned
	err     error         // Wait's result; read it only after done
}

// Available reports the mosquitto binary that Start would run: the
// FEEDMQ_MOSQUITTO environment variable when set, else mosquitto on PATH or
// in an sbin directory, which PATH often lacks outside a root shell.
func Available() (path string, ok bool) {
	if p := os.Getenv("FEEDMQ_MOSQUITTO"); p != "" {
		if p, err := exec.LookPath(p); err == nil {
			return p, true
		}
		return "", false
	}
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p, true
	}
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto"} {
		if p, err := exec.LookPath(p); err == nil {
			return p, true
		}
	}
	return "", false
}

// required reports whether a missing broker is a failure rather than a
// reason to skip.
func required() bool {
	return os.Getenv("CI") != "" || os.Getenv("FEEDMQ_REQUIRE_BROKER") == "1"
}

// Start runs mosquitto configured by opts on free loopback ports and returns
// once it answers MQTT. It fails the test when mosquitto cannot start, and
// skips it when mosquitto is not installed (see the package doc for when it
// fails instead). A t.Cleanup stops the broker and, when the test failed,
// logs the end of the broker's log.
func Start(tb testing.TB, opts Options) *Broker {
	tb.Helper()
	bin, ok := Available()
	if !ok {
		if required() {
			tb.Fatal(notFound)
		}
		tb.Skip(notFound)
	}
	if opts.WebSockets && !InPrivateNetwork() {
		// mosquitto 2.0.11's WebSocket listener binds every interface.
		tb.Fatal("mosquittotest: a WebSockets listener needs RunInPrivateNetwork, so that it listens on loopback only")
	}
	b := &Broker{tb: tb, bin: bin, dir: tb.TempDir()}
	// Registered after TempDir, so it runs before the directory is removed
	// and mosquitto can save its persistence file on the way out.
	tb.Cleanup(func() {
		b.Stop()
		if tb.Failed() {
			tb.Logf("mosquittotest: log of the broker on %s (Broker.Log has all of it):\n%s", b.Addr(), Tail(b.Log(), maxDump))
		}
	})

	if err := writeAuthFiles(b.dir, opts); err != nil {
		tb.Fatalf("mosquittotest: %v", err)
	}
	if opts.TLS {
		p, err := newPKI(b.dir)
		if err != nil {
			tb.Fatalf("mosquittotest: generate certificates: %v", err)
		}
		b.pki = p
	}
	// Geteuid is -1 where there are no user IDs.
	root := os.Geteuid() == 0

	for attempt := 1; ; attempt++ {
		ps, err := choosePorts(opts)
		if err != nil {
			tb.Fatalf("mosquittotest: %v", err)
		}
		b.ports = ps
		conf := config(opts, ps, root)
		if err := os.WriteFile(filepath.Join(b.dir, configFile), []byte(conf), 0o600); err != nil {
			tb.Fatalf("mosquittotest: %v", err)
		}
		b.mu.Lock()
		err = b.startLocked()
		b.mu.Unlock()
		if err == nil {
			return b
		}
		if !errors.Is(err, errPortTaken) || attempt == startAttempts {
			tb.Fatalf("mosquittotest: %v", err)
		}
		tb.Logf("mosquittotest: %v; retrying with new ports", err)
	}
}

// choosePorts is freePorts, replaced by tests of the retry.
var choosePorts = freePorts

// freePorts picks a free loopback port for each listener opts needs. The
// listeners are held open together so the ports differ; another process may
// still take one before mosquitto binds it, which Start handles.
func freePorts(opts Options) (ports, error) {
	n := 1
	if opts.TLS {
		n++
	}
	if opts.WebSockets {
		n++
	}
	nums := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return ports{}, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		nums = append(nums, l.Addr().(*net.TCPAddr).Port)
	}
	ps := ports{mqtt: nums[0]}
	nums = nums[1:]
	if opts.TLS {
		ps.tls, nums = nums[0], nums[1:]
	}
	if opts.WebSockets {
		ps.ws = nums[0]
	}
	return ps, nil
}

// startLocked runs mosquitto and waits until it is ready. On failure the
// process is gone and b.proc is nil again.
func (b *Broker) startLocked() error {
	// Relative paths in the configuration resolve against cmd.Dir.
	cmd := exec.Command(b.bin, "-c", configFile)
	cmd.Dir = b.dir
	cmd.Stdout = &b.log
	cmd.Stderr = &b.log
	prepare(cmd)
	p := &process{cmd: cmd, done: make(chan struct{})}
	p.logFrom = b.log.notef("starting %s on %s", b.bin, b.Addr())
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	b.proc = p
	if err := b.waitReady(p); err != nil {
		b.stopLocked(kill)
		return err
	}
	return nil
}

// waitReady polls until mosquitto answers a CONNECT, it exits, or
// readyTimeout passes.
func (b *Broker) waitReady(p *process) error {
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		probeErr := b.probe()
		select {
		case <-p.done:
			out := b.log.since(p.logFrom)
			if strings.Contains(out, "Address already in use") ||
				strings.Contains(out, "Unable to create websockets listener") {
				return fmt.Errorf("%w (%v)", errPortTaken, p.err)
			}
			return fmt.Errorf("mosquitto exited before it was ready (%v)", p.err)
		default:
		}
		if probeErr == nil {
			return nil
		}
		select {
		case <-deadline.C:
			return fmt.Errorf("mosquitto not ready after %v: %w", readyTimeout, probeErr)
		case <-tick.C:
		case <-p.done: // reported at the top of the loop
		}
	}
}

// probe checks every listener. mosquitto opens all listeners before it
// serves anyone, so the CONNACK alone proves they are bound; the other
// dials catch a configuration that mosquitto accepted but cannot serve.
func (b *Broker) probe() error {
	if err := probeMQTT(b.Addr()); err != nil {
		return err
	}
	if b.ports.tls != 0 {
		d := &net.Dialer{Timeout: probeTimeout}
		conn, err := tls.DialWithDialer(d, "tcp", b.TLSAddr(), b.TLSConfig())
		if err != nil {
			return fmt.Errorf("TLS listener: %w", err)
		}
		conn.Close()
	}
	if b.ports.ws != 0 {
		conn, err := net.DialTimeout("tcp", b.WSAddr(), probeTimeout)
		if err != nil {
			return fmt.Errorf("WebSockets listener: %w", err)
		}
		conn.Close()
	}
	return nil
}

// probeMQTT sends an MQTT 3.1.1 CONNECT and expects a CONNACK with any
// return code: "not authorized" still proves mosquitto is serving.
func probeMQTT(addr string) error { return ProbeMQTT(addr, "mosquittotest-probe") }

// ProbeMQTT sends an anonymous MQTT 3.1.1 CONNECT as clientID to the broker
// at addr and expects a CONNACK with any return code, which proves the
// broker serves MQTT: "not authorized" is an answer too. It is written by
// hand, so that it tests the broker and not the codec.
func ProbeMQTT(addr, clientID string) error {
	conn, err := net.DialTimeout("tcp", addr, probeTimeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(probeTimeout)); err != nil {
		return err
	}
	connect := []byte{
		0x10, byte(10 + 2 + len(clientID)), // CONNECT, remaining length
		0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name
		0x04,       // protocol level 3.1.1
		0x02,       // clean session
		0x00, 0x0a, // keep alive 10 s
		0x00, byte(len(clientID)), // client identifier length
	}
	connect = append(connect, clientID...)
	if _, err := conn.Write(connect); err != nil {
		return err
	}
	var connack [4]byte
	if _, err := io.ReadFull(conn, connack[:]); err != nil {
		return fmt.Errorf("read CONNACK: %w", err)
	}
	if connack[0] != 0x20 || connack[1] != 0x02 {
		return fmt.Errorf("%s answered % x, not a CONNACK", addr, connack)
	}
	_, _ = conn.Write([]byte{0xe0, 0x00}) // DISCONNECT
	return nil
}

// Stop shuts mosquitto down with SIGTERM, so that it saves persistence, and
// waits for it to exit; after a timeout it kills it. Stop on a stopped
// broker does nothing.
func (b *Broker) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopLocked(terminate)
}

// Kill stops mosquitto with SIGKILL, as a crash or a pulled cable would: no
// DISCONNECT, no will suppression, nothing saved. The ports are kept, so
// Restart brings it back where clients expect it.
func (b *Broker) Kill() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopLocked(kill)
}

// Restart stops mosquitto (if it runs) and starts it again on the same ports
// with the same configuration, returning once it answers again. It fails the
// test when mosquitto does not come back, so call it from the test goroutine.
func (b *Broker) Restart() {
	b.tb.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopLocked(terminate)
	if err := b.startLocked(); err != nil {
		b.tb.Fatalf("mosquittotest: restart on %s: %v", b.Addr(), err)
	}
}

// stopLocked signals the running process, if any, and waits for it.
func (b *Broker) stopLocked(signal func(*exec.Cmd) error) {
	p := b.proc
	if p == nil {
		return
	}
	b.proc = nil
	select {
	case <-p.done:
		b.log.notef("mosquitto had exited by itself (%v)", p.err)
		return
	default:
	}
	if err := signal(p.cmd); err != nil {
		b.log.notef("signal mosquitto: %v", err)
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		b.log.notef("mosquitto still running %v after the signal; killing it", stopTimeout)
		_ = kill(p.cmd)
		<-p.done
	}
	b.log.notef("mosquitto exited (%v)", p.err)
}

// Addr is the host:port of the plain MQTT listener.
func (b *Broker) Addr() string { return hostPort(b.ports.mqtt) }

// URL is the plain MQTT listener as an mqtt:// URL.
func (b *Broker) URL() string { return "mqtt://" + b.Addr() }

// TLSAddr is the host:port of the TLS listener, or "" without Options.TLS.
func (b *Broker) TLSAddr() string { return hostPort(b.ports.tls) }

// TLSURL is the TLS listener as an mqtts:// URL, or "" without Options.TLS.
func (b *Broker) TLSURL() string { return prefixed("mqtts://", b.TLSAddr(), "") }

// WSAddr is the host:port of the WebSockets listener, or "" without
// Options.WebSockets.
func (b *Broker) WSAddr() string { return hostPort(b.ports.ws) }

// WSURL is the WebSockets listener as a ws:// URL with the conventional
// /mqtt path (mosquitto accepts any path), or "" without Options.WebSockets.
func (b *Broker) WSURL() string { return prefixed("ws://", b.WSAddr(), "/mqtt") }

// CAFile is the path of the PEM CA certificate that signed the server and
// client certificates, or "" without Options.TLS.
func (b *Broker) CAFile() string { return b.tlsFile(caFile) }

// ClientCertFile is the path of the PEM client certificate, or "" without
// Options.TLS.
func (b *Broker) ClientCertFile() string { return b.tlsFile(clientCertFile) }

// ClientKeyFile is the path of the client certificate's PEM (PKCS #8)
// private key, or "" without Options.TLS.
func (b *Broker) ClientKeyFile() string { return b.tlsFile(clientKeyFile) }

// CertPool returns a new pool holding the CA certificate, or nil without
// Options.TLS.
func (b *Broker) CertPool() *x509.CertPool {
	if b.pki == nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AddCert(b.pki.caCert)
	return pool
}

// TLSConfig returns a new client configuration that trusts the CA and
// presents the client certificate, or nil without Options.TLS.
func (b *Broker) TLSConfig() *tls.Config {
	if b.pki == nil {
		return nil
	}
	return &tls.Config{
		RootCAs:      b.CertPool(),
		Certificates: []tls.Certificate{b.pki.client},
	}
}

// Log returns everything mosquitto logged so far, across restarts, with
// lines starting "mosquittotest:" marking starts and stops. While mosquitto
// runs, the log trails it slightly (a client may see a reply before the
// matching line arrives), so poll for a line rather than reading once.
func (b *Broker) Log() string { return b.log.String() }

func (b *Broker) tlsFile(name string) string {
	if b.pki == nil {
		return ""
	}
	return filepath.Join(b.dir, name)
}

func hostPort(port int) string {
	if port == 0 {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

func prefixed(scheme, addr, path string) string {
	if addr == "" {
		return ""
	}
	return scheme + addr + path
}

// Tail returns the last n bytes of s, starting at a line, after a note of
// how many bytes before them it leaves out: the end of a long log, for a
// failed test to print.
func Tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := len(s) - n
	if i := strings.IndexByte(s[cut:], '\n'); i >= 0 {
		cut += i + 1
	}
	return fmt.Sprintf("[%d bytes omitted]\n%s", cut, s[cut:])
}

// logBuffer collects mosquitto's stdout and stderr. exec copies into it from
// its own goroutines while tests read it.
type logBuffer struct{ syncbuf.Buffer }

// since returns the log written from offset on.
func (l *logBuffer) since(offset int) string { return l.From(offset) }

// notef adds a line of our own and returns the log's length after it.
func (l *logBuffer) notef(format string, args ...any) int {
	return l.Printf("mosquittotest: "+format+"\n", args...)
}
