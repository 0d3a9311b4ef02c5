package mosquittotest_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/feedmq/feedmq/internal/mosquittotest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// clientTimeout bounds every mosquitto_pub and mosquitto_sub run.
const clientTimeout = 10 * time.Second

// tool finds mosquitto_pub or mosquitto_sub, which Debian installs in the
// mosquitto-clients package, separately from the broker.
func tool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if bin, ok := mosquittotest.Available(); ok {
		if p, err := exec.LookPath(filepath.Join(filepath.Dir(bin), name)); err == nil {
			return p
		}
	}
	t.Skipf("%s not found; install it with apt-get install mosquitto-clients", name)
	return ""
}

// command prepares a mosquitto client tool run bounded by clientTimeout.
func command(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	t.Cleanup(cancel)
	return exec.CommandContext(ctx, tool(t, name), args...)
}

// pub runs mosquitto_pub and returns its combined output.
func pub(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := command(t, "mosquitto_pub", args...).CombinedOutput()
	return string(out), err
}

// sub runs mosquitto_sub to completion and returns what it printed.
func sub(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := command(t, "mosquitto_sub", args...).CombinedOutput()
	return string(out), err
}

// hostArgs addresses the broker's plain listener.
func hostArgs(addr string) []string {
	host, port, _ := net.SplitHostPort(addr)
	return []string{"-h", host, "-p", port}
}

func args(base []string, more ...string) []string {
	return append(append([]string{}, base...), more...)
}

// waitLog waits until the broker's log contains s. The log trails the
// broker a little: a client can see the answer before the line is copied.
func waitLog(t *testing.T, b *mosquittotest.Broker, s string) {
	t.Helper()
	require.Eventually(t, func() bool {
		return strings.Contains(b.Log(), s)
	}, clientTimeout, 5*time.Millisecond, "log never contained %q", s)
}

func TestStartAddresses(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{})

	host, port, err := net.SplitHostPort(b.Addr())
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", host)
	assert.NotEqual(t, "0", port)
	assert.Equal(t, "mqtt://"+b.Addr(), b.URL())
	assert.Empty(t, b.TLSURL())
	assert.Empty(t, b.WSURL())
	assert.Empty(t, b.CAFile())
	assert.Nil(t, b.CertPool())
	assert.Nil(t, b.TLSConfig())
	waitLog(t, b, "running")
}

func TestPublishSubscribe(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{})
	h := hostArgs(b.Addr())

	var out bytes.Buffer
	s := command(t, "mosquitto_sub", args(h, "-i", "sub-1", "-t", "feeds/+", "-v", "-C", "1", "-W", "10")...)
	s.Stdout, s.Stderr = &out, &out
	require.NoError(t, s.Start())
	waitLog(t, b, "Received SUBSCRIBE from sub-1")

	got, err := pub(t, args(h, "-t", "feeds/temp", "-m", "21.5")...)
	require.NoError(t, err, got)
	require.NoError(t, s.Wait(), out.String())
	assert.Equal(t, "feeds/temp 21.5\n", out.String())
}

func TestUsersAndACL(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{
		Users: map[string]string{"alice": "s3cret", "bob": "hunter2"},
		ACL: "user alice\ntopic readwrite #\n\n" +
			"user bob\ntopic readwrite public/#\n",
	})
	h := hostArgs(b.Addr())
	alice := args(h, "-u", "alice", "-P", "s3cret")
	bob := args(h, "-u", "bob", "-P", "hunter2")

	t.Run("good password", func(t *testing.T) {
		out, err := pub(t, args(alice, "-t", "private/a", "-m", "from alice", "-r", "-q", "1")...)
		require.NoError(t, err, out)
		out, err = sub(t, args(alice, "-t", "private/a", "-C", "1", "-W", "10")...)
		require.NoError(t, err, out)
		assert.Equal(t, "from alice\n", out)
	})
	t.Run("wrong password", func(t *testing.T) {
		out, err := pub(t, args(h, "-u", "alice", "-P", "wrong", "-t", "x", "-m", "x")...)
		require.Error(t, err)
		assert.Contains(t, out, "not authorised")
	})
	t.Run("anonymous", func(t *testing.T) {
		out, err := pub(t, args(h, "-t", "x", "-m", "x")...)
		require.Error(t, err)
		assert.Contains(t, out, "not authorised")
	})
	t.Run("publish outside ACL", func(t *testing.T) {
		// MQTT 3.1.1 cannot refuse a PUBLISH, so mosquitto acknowledges
		// and drops it.
		out, err := pub(t, args(bob, "-i", "bob-1", "-t", "private/b", "-m", "from bob", "-r", "-q", "1")...)
		require.NoError(t, err, out)
		waitLog(t, b, "Denied PUBLISH from bob-1")

		out, err = pub(t, args(bob, "-t", "public/marker", "-m", "marker", "-r", "-q", "1")...)
		require.NoError(t, err, out)
		// mosquitto sends retained messages in subscription order, so a
		// retained private/b would arrive before the marker.
		out, err = sub(t, args(alice, "-t", "private/b", "-t", "public/marker", "-v", "-C", "1", "-W", "10")...)
		require.NoError(t, err, out)
		assert.Equal(t, "public/marker marker\n", out)
	})
	t.Run("subscribe outside ACL", func(t *testing.T) {
		// With an acl_file, mosquitto 2.0.11 grants the SUBSCRIBE and
		// checks read access per message, so the retained private/a (sent
		// before the marker if at all) never arrives.
		out, err := sub(t, args(bob, "-t", "private/a", "-t", "public/marker", "-v", "-C", "1", "-W", "10")...)
		require.NoError(t, err, out)
		assert.Equal(t, "public/marker marker\n", out)
	})
}

func TestInvalidUsername(t *testing.T) {
	if _, ok := mosquittotest.Available(); !ok {
		t.Skip("mosquitto not installed")
	}
	ft := runFake(t, false, mosquittotest.Options{Users: map[string]string{"a:b": "x"}})
	assert.True(t, ft.fataled)
	assert.Contains(t, ft.output(), "invalid username")
}

func TestTLS(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{TLS: true})
	require.NotEmpty(t, b.TLSAddr())
	assert.Equal(t, "mqtts://"+b.TLSAddr(), b.TLSURL())
	_, port, err := net.SplitHostPort(b.TLSAddr())
	require.NoError(t, err)

	// The server certificate verifies for both names a client might use.
	for _, host := range []string{"127.0.0.1", "localhost"} {
		tlsArgs := []string{"-h", host, "-p", port, "--cafile", b.CAFile()}
		out, err := pub(t, args(tlsArgs, "-t", "tls/"+host, "-m", "over tls to "+host, "-r")...)
		require.NoError(t, err, out)
		out, err = sub(t, args(tlsArgs, "-t", "tls/"+host, "-C", "1", "-W", "10")...)
		require.NoError(t, err, out)
		assert.Equal(t, "over tls to "+host+"\n", out)
	}

	// Go clients can use CertPool without a client certificate.
	conn, err := tls.Dial("tcp", b.TLSAddr(), &tls.Config{RootCAs: b.CertPool()})
	require.NoError(t, err)
	assert.Equal(t, "localhost", conn.ConnectionState().PeerCertificates[0].Subject.CommonName)
	require.NoError(t, conn.Close())

	// The plain listener still works next to the TLS one.
	out, err := sub(t, args(hostArgs(b.Addr()), "-t", "tls/127.0.0.1", "-C", "1", "-W", "10")...)
	require.NoError(t, err, out)
	assert.Equal(t, "over tls to 127.0.0.1\n", out)
}

func TestTLSRequireClientCert(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{TLS: true, RequireClientCert: true})
	host, port, err := net.SplitHostPort(b.TLSAddr())
	require.NoError(t, err)
	tlsArgs := []string{"-h", host, "-p", port, "--cafile", b.CAFile()}

	out, err := pub(t, args(tlsArgs, "-t", "mtls", "-m", "no cert")...)
	require.Error(t, err, "a client without a certificate got in: %s", out)

	withCert := args(tlsArgs, "--cert", b.ClientCertFile(), "--key", b.ClientKeyFile())
	out, err = pub(t, args(withCert, "-t", "mtls", "-m", "with cert", "-r")...)
	require.NoError(t, err, out)
	out, err = sub(t, args(withCert, "-t", "mtls", "-C", "1", "-W", "10")...)
	require.NoError(t, err, out)
	assert.Equal(t, "with cert\n", out)

	// TLSConfig carries the client certificate for Go clients.
	conn, err := tls.Dial("tcp", b.TLSAddr(), b.TLSConfig())
	require.NoError(t, err)
	require.NoError(t, conn.Close())
}

// TestRefusesWebSocketsOutsidePrivateNetwork: mosquitto 2.0.11 would listen
// on every interface.
func TestRefusesWebSocketsOutsidePrivateNetwork(t *testing.T) {
	if mosquittotest.InPrivateNetwork() {
		t.Skip("runs outside the namespace only")
	}
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { recover() }()
		mosquittotest.Start(ft, mosquittotest.Options{WebSockets: true})
	}()
	assert.Contains(t, ft.msg, "RunInPrivateNetwork")
}

// fatalRecorder records Fatal instead of failing the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	panic(f)
}

func TestWebSockets(t *testing.T) {
	t.Parallel()
	if !mosquittotest.RunInPrivateNetwork(t) {
		return
	}
	b := mosquittotest.Start(t, mosquittotest.Options{WebSockets: true})
	require.NotEmpty(t, b.WSAddr())
	assert.Equal(t, "ws://"+b.WSAddr()+"/mqtt", b.WSURL())

	conn, err := net.DialTimeout("tcp", b.WSAddr(), clientTimeout)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(clientTimeout)))

	key := make([]byte, 16)
	_, _ = rand.Read(key)
	fmt.Fprintf(conn, "GET /mqtt HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
		b.WSAddr(), base64.StdEncoding.EncodeToString(key))
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	assert.Equal(t, "mqtt", resp.Header.Get("Sec-WebSocket-Protocol"))

	// An MQTT CONNECT in a masked binary frame gets a CONNACK back.
	connect := []byte{
		0x10, 0x10, // CONNECT, remaining length 16
		0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x0a, // 3.1.1, clean session, keep alive 10 s
		0x00, 0x04, 'w', 's', '-', '1', // client identifier
	}
	mask := [4]byte{1, 2, 3, 4}
	frame := []byte{0x82, 0x80 | byte(len(connect))} // FIN + binary, masked length
	frame = append(frame, mask[:]...)
	for i, c := range connect {
		frame = append(frame, c^mask[i%4])
	}
	_, err = conn.Write(frame)
	require.NoError(t, err)

	var reply [6]byte
	_, err = io.ReadFull(r, reply[:])
	require.NoError(t, err)
	assert.Equal(t, []byte{0x82, 0x04, 0x20, 0x02, 0x00, 0x00}, reply[:], "binary frame with CONNACK accepted")
}

func TestRestartKeepsPortAndPersistentState(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{Persistence: true})
	addr := b.Addr()
	h := hostArgs(addr)

	out, err := pub(t, args(h, "-t", "state/retained", "-m", "kept", "-r", "-q", "1")...)
	require.NoError(t, err, out)
	// A persistent session with a QoS 1 subscription, then offline.
	out, err = sub(t, args(h, "-i", "durable", "-c", "-q", "1", "-t", "state/queued", "-E")...)
	require.NoError(t, err, out)
	out, err = pub(t, args(h, "-t", "state/queued", "-m", "queued while offline", "-q", "1")...)
	require.NoError(t, err, out)

	b.Restart()
	assert.Equal(t, addr, b.Addr())

	out, err = sub(t, args(h, "-t", "state/retained", "-C", "1", "-W", "10")...)
	require.NoError(t, err, out)
	assert.Equal(t, "kept\n", out)
	out, err = sub(t, args(h, "-i", "durable", "-c", "-q", "1", "-t", "state/queued", "-C", "1", "-W", "10")...)
	require.NoError(t, err, out)
	assert.Equal(t, "queued while offline\n", out)
}

func TestRestartWithoutPersistence(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{})
	addr := b.Addr()
	h := hostArgs(addr)
	out, err := pub(t, args(h, "-t", "gone", "-m", "lost on restart", "-r")...)
	require.NoError(t, err, out)
	out, err = pub(t, args(h, "-t", "marker", "-m", "fresh", "-r")...)
	require.NoError(t, err, out)

	b.Restart()
	assert.Equal(t, addr, b.Addr())
	out, err = pub(t, args(h, "-t", "marker", "-m", "after restart", "-r")...)
	require.NoError(t, err, out)
	// As in TestUsersAndACL: a surviving "gone" would come first.
	out, err = sub(t, args(h, "-t", "gone", "-t", "marker", "-C", "1", "-W", "10")...)
	require.NoError(t, err, out)
	assert.Equal(t, "after restart\n", out)
}

func TestKillAndRestart(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{})
	addr := b.Addr()

	b.Kill()
	_, err := net.DialTimeout("tcp", addr, clientTimeout)
	require.Error(t, err)
	assert.True(t, errors.Is(err, syscall.ECONNREFUSED), "dial after Kill: %v", err)
	assert.Contains(t, b.Log(), "signal: killed")
	b.Kill() // idempotent
	b.Stop()

	b.Restart()
	assert.Equal(t, addr, b.Addr())
	out, err := pub(t, args(hostArgs(addr), "-t", "back", "-m", "up", "-r")...)
	require.NoError(t, err, out)
	out, err = sub(t, args(hostArgs(addr), "-t", "back", "-C", "1", "-W", "10")...)
	require.NoError(t, err, out)
	assert.Equal(t, "up\n", out)
}

func TestStopIsIdempotentAndConcurrent(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(b.Stop)
	}
	wg.Wait()
	b.Stop()
	_, err := net.DialTimeout("tcp", b.Addr(), clientTimeout)
	require.Error(t, err)
	assert.Contains(t, b.Log(), "terminating", "SIGTERM let mosquitto shut down cleanly")
}

func TestExtraConfig(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{Extra: "max_packet_size 100"})
	h := hostArgs(b.Addr())
	// mosquitto drops the connection on an oversized packet; the client may
	// or may not notice before it exits, so only the effect is asserted.
	_, _ = pub(t, args(h, "-t", "big", "-m", strings.Repeat("x", 200), "-r", "-q", "1")...)
	out, err := pub(t, args(h, "-t", "marker", "-m", "small", "-r")...)
	require.NoError(t, err, out)
	out, err = sub(t, args(h, "-t", "big", "-t", "marker", "-C", "1", "-W", "10")...)
	require.NoError(t, err, out)
	assert.Equal(t, "small\n", out)
}

func TestStartRetriesWhenPortTaken(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    mosquittotest.Options
		logLine string
		addr    func(*mosquittotest.Broker) string // of the listener that got the taken port
	}{
		{"mqtt", mosquittotest.Options{}, "Address already in use", (*mosquittotest.Broker).Addr},
		{"websockets", mosquittotest.Options{WebSockets: true}, "Unable to create websockets listener", (*mosquittotest.Broker).WSAddr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.opts.WebSockets && !mosquittotest.RunInPrivateNetwork(t) {
				return
			}
			// Not parallel: TakePorts changes package state.
			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer l.Close()
			taken := l.Addr().(*net.TCPAddr).Port
			if tc.opts.WebSockets {
				mosquittotest.TakePorts(t, 0, taken)
			} else {
				mosquittotest.TakePorts(t, taken, 0)
			}

			b := mosquittotest.Start(t, tc.opts)
			assert.NotEqual(t, l.Addr().String(), tc.addr(b))
			assert.Contains(t, b.Log(), tc.logLine)
			out, err := pub(t, args(hostArgs(b.Addr()), "-t", "retried", "-m", "on new ports", "-r")...)
			require.NoError(t, err, out)
			out, err = sub(t, args(hostArgs(b.Addr()), "-t", "retried", "-C", "1", "-W", "10")...)
			require.NoError(t, err, out)
			assert.Equal(t, "on new ports\n", out)
		})
	}
}

func TestLogDumpedWhenTestFails(t *testing.T) {
	if _, ok := mosquittotest.Available(); !ok {
		t.Skip("mosquitto not installed")
	}
	ft := runFake(t, true, mosquittotest.Options{})
	assert.False(t, ft.fataled)
	assert.Contains(t, ft.output(), "mosquittotest: log of the broker on 127.0.0.1:")
	assert.Contains(t, ft.output(), "running")
}

func TestMissingBroker(t *testing.T) {
	t.Setenv("FEEDMQ_MOSQUITTO", filepath.Join(t.TempDir(), "no-such-mosquitto"))
	_, ok := mosquittotest.Available()
	assert.False(t, ok)

	t.Setenv("CI", "")
	t.Setenv("FEEDMQ_REQUIRE_BROKER", "")
	ft := runFake(t, false, mosquittotest.Options{})
	assert.True(t, ft.skipped)
	assert.False(t, ft.fataled)
	assert.Contains(t, ft.output(), "apt-get install mosquitto")

	t.Setenv("FEEDMQ_REQUIRE_BROKER", "1")
	ft = runFake(t, false, mosquittotest.Options{})
	assert.True(t, ft.fataled)
	assert.Contains(t, ft.output(), "mosquitto not found")

	t.Setenv("FEEDMQ_REQUIRE_BROKER", "")
	t.Setenv("CI", "true")
	ft = runFake(t, false, mosquittotest.Options{})
	assert.True(t, ft.fataled)
}

// fakeTB records what Start does with its testing.TB. Its own cleanups run
// when the subtest that owns it ends.
type fakeTB struct {
	testing.TB
	failed bool // what Failed reports

	mu               sync.Mutex
	out              strings.Builder
	skipped, fataled bool
}

func (f *fakeTB) Helper()      {}
func (f *fakeTB) Failed() bool { return f.failed }

func (f *fakeTB) Logf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fmt.Fprintf(&f.out, format+"\n", args...)
}

func (f *fakeTB) Fatal(args ...any) {
	f.record(&f.fataled, fmt.Sprintln(args...))
	runtime.Goexit()
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.record(&f.fataled, fmt.Sprintf(format+"\n", args...))
	runtime.Goexit()
}

func (f *fakeTB) Skip(args ...any) {
	f.record(&f.skipped, fmt.Sprintln(args...))
	runtime.Goexit()
}

func (f *fakeTB) record(flag *bool, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	*flag = true
	f.out.WriteString(msg)
}

func (f *fakeTB) output() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.out.String()
}

// runFake calls Start with a fakeTB inside a subtest, so that the cleanups
// Start registers have run when it returns.
func runFake(t *testing.T, failed bool, opts mosquittotest.Options) *fakeTB {
	t.Helper()
	var ft *fakeTB
	t.Run("fake", func(t *testing.T) {
		ft = &fakeTB{TB: t, failed: failed}
		done := make(chan struct{})
		// Its own goroutine, because Fatal and Skip end it with Goexit.
		go func() {
			defer close(done)
			mosquittotest.Start(ft, opts)
		}()
		<-done
	})
	return ft
}
