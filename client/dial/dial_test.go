// Tests of Dial over TCP and Unix sockets and of its context, and the
// loopback servers the other test files share.

package dial

import (
	"context"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives the tests: Dial and
// the WebSocket connection start none that outlive them, and every test
// server joins its own.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// dialPromptly bounds how long a dial may take after its context ended.
const dialPromptly = 5 * time.Second

// directDialer returns options that ignore any proxy set in the test's environment.
func directDialer() *Dialer { return &Dialer{Proxy: ProxyDirect} }

func mustParseBrokerURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := ParseBrokerURL(s)
	require.NoError(t, err)
	return u
}

// serveConns accepts connections on ln and runs handle for each on its own
// goroutine. Cleanup closes the listener and every connection, then waits
// for the handlers.
func serveConns(t *testing.T, ln net.Listener, handle func(net.Conn)) {
	t.Helper()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		conns  []net.Conn
		closed bool
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				c.Close()
				return
			}
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				handle(c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		closed = true
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return ln
}

func echoConn(c net.Conn) { io.Copy(c, c) }

// startEchoServer returns the address of a TCP echo server.
func startEchoServer(t *testing.T) string {
	ln := listenLoopback(t)
	serveConns(t, ln, echoConn)
	return ln.Addr().String()
}

// startSilentServer returns the address of a server that accepts connections and
// never sends a byte, and a channel that receives each accepted connection.
func startSilentServer(t *testing.T) (string, <-chan struct{}) {
	ln := listenLoopback(t)
	accepted := make(chan struct{}, 16)
	serveConns(t, ln, func(c net.Conn) {
		accepted <- struct{}{}
		io.Copy(io.Discard, c) // until cleanup closes c
	})
	return ln.Addr().String(), accepted
}

// assertEcho writes a short message to an echoing conn and checks the reply.
func assertEcho(t *testing.T, conn net.Conn) {
	t.Helper()
	require.NoError(t, conn.SetDeadline(time.Now().Add(dialPromptly)))
	msg := []byte{0xc0, 0x00} // PINGREQ
	_, err := conn.Write(msg)
	require.NoError(t, err)
	got := make([]byte, len(msg))
	_, err = io.ReadFull(conn, got)
	require.NoError(t, err)
	assert.Equal(t, msg, got)
}

func mustDial(t *testing.T, d *Dialer, rawURL string) net.Conn {
	t.Helper()
	conn, err := d.Dial(context.Background(), mustParseBrokerURL(t, rawURL))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestDialTCP(t *testing.T) {
	addr := startEchoServer(t)
	for _, scheme := range []string{"mqtt", "tcp"} {
		t.Run(scheme, func(t *testing.T) {
			assertEcho(t, mustDial(t, directDialer(), scheme+"://"+addr))
		})
	}
	t.Run("bare host:port", func(t *testing.T) {
		assertEcho(t, mustDial(t, directDialer(), addr))
	})
	t.Run("hand-built URL", func(t *testing.T) {
		conn, err := directDialer().Dial(context.Background(), &url.URL{Scheme: "TCP", Host: addr})
		require.NoError(t, err)
		defer conn.Close()
		assertEcho(t, conn)

		// It is validated as ParseBrokerURL does.
		_, err = directDialer().Dial(context.Background(), &url.URL{Scheme: "gopher", Host: addr})
		assert.ErrorContains(t, err, "unsupported scheme")
		_, err = directDialer().Dial(context.Background(), nil)
		assert.Error(t, err)
	})
	t.Run("nil options", func(t *testing.T) {
		t.Setenv("ALL_PROXY", "")
		t.Setenv("all_proxy", "")
		var o *Dialer
		conn, err := o.Dial(context.Background(), mustParseBrokerURL(t, addr))
		require.NoError(t, err)
		defer conn.Close()
		assertEcho(t, conn)
	})
	t.Run("refused, credentials redacted", func(t *testing.T) {
		ln := listenLoopback(t)
		closed := ln.Addr().String()
		ln.Close()
		_, err := directDialer().Dial(context.Background(), mustParseBrokerURL(t, "mqtt://alice:s3cret@"+closed))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "dial: mqtt://xxxxx@"+closed)
		assertRedacted(t, err)
		var opErr *net.OpError
		assert.ErrorAs(t, err, &opErr)
	})
}

// TestDialNetDialer: NetDialer dials the broker, and the proxy too.
func TestDialNetDialer(t *testing.T) {
	addr := startEchoServer(t)
	var mu sync.Mutex
	var dialed []string
	o := directDialer()
	o.NetDialer = &net.Dialer{Control: func(_, address string, _ syscall.RawConn) error {
		mu.Lock()
		defer mu.Unlock()
		dialed = append(dialed, address)
		return nil
	}}
	assertEcho(t, mustDial(t, o, "mqtt://"+addr))

	// It also dials the proxy.
	s := startSocks(t, "", "", nil)
	o.Proxy = "socks5://" + s.addr
	assertEcho(t, mustDial(t, o, "mqtt://"+addr))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{addr, s.addr}, dialed)
}

func TestDialUnix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mqtt.sock")
	ln, err := net.Listen("unix", path)
	require.NoError(t, err)
	serveConns(t, ln, echoConn)

	// The proxy never applies to unix sockets.
	o := &Dialer{Proxy: "socks5://127.0.0.1:1"}
	for _, u := range []string{"unix://" + path, "unix:" + path} {
		t.Run(u, func(t *testing.T) {
			assertEcho(t, mustDial(t, o, u))
		})
	}
}

// TestTransportDialContext checks that the context aborts every stage of a
// dial to a peer that accepts and then stays silent.
func TestDialContext(t *testing.T) {
	silent, accepted := startSilentServer(t)
	tests := []struct {
		name  string
		url   string
		proxy string
	}{
		{"TLS handshake", "mqtts://" + silent, ProxyDirect},
		{"WebSocket upgrade", "ws://" + silent, ProxyDirect},
		{"secure WebSocket", "wss://" + silent, ProxyDirect},
		{"SOCKS5 negotiation", "mqtt://127.0.0.1:1883", "socks5://" + silent},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/cancel", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				select {
				case <-accepted:
					cancel()
				case <-ctx.Done():
				}
			}()
			start := time.Now()
			_, err := (&Dialer{Proxy: tt.proxy}).Dial(ctx, mustParseBrokerURL(t, tt.url))
			require.ErrorIs(t, err, context.Canceled)
			assert.Less(t, time.Since(start), dialPromptly)
			assert.Regexp(t, "^dial: ", err.Error())
		})
		t.Run(tt.name+"/deadline", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := (&Dialer{Proxy: tt.proxy}).Dial(ctx, mustParseBrokerURL(t, tt.url))
			require.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Less(t, time.Since(start), dialPromptly)
			select {
			case <-accepted:
			case <-time.After(dialPromptly):
				t.Error("the dial never reached the server")
			}
		})
	}
}
