// Tests of MQTT over WebSocket.

package dial

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/websocket"
)

// wsHandshake is what the test WebSocket server saw in an upgrade request.
type wsHandshake struct {
	protocols []string
	header    http.Header
	path      string
	host      string
}

// startWebSocket serves MQTT over WebSocket at any path, handing each
// connection to handle. The handshake requires the "mqtt" subprotocol
// (MQTT-6.0.0-3) and is reported on the returned channel.
func startWebSocket(t *testing.T, secure bool, handle func(*websocket.Conn)) (*httptest.Server, <-chan wsHandshake) {
	t.Helper()
	handshakes := make(chan wsHandshake, 16)
	ws := websocket.Server{
		Handshake: func(cfg *websocket.Config, req *http.Request) error {
			handshakes <- wsHandshake{
				protocols: cfg.Protocol,
				header:    req.Header.Clone(),
				path:      req.URL.Path,
				host:      req.Host,
			}
			for _, p := range cfg.Protocol {
				if p == "mqtt" {
					cfg.Protocol = []string{"mqtt"}
					return nil
				}
			}
			return errors.New("mqtt subprotocol not offered")
		},
		Handler: func(c *websocket.Conn) {
			c.PayloadType = websocket.BinaryFrame
			handle(c)
		},
	}
	// Hijacked connections escape httptest.Server.Close, so join handlers
	// here. Add runs before the hijack, hence before Close returns.
	var wg sync.WaitGroup
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		ws.ServeHTTP(w, r)
	})
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	if secure {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(func() {
		srv.Close()
		wg.Wait()
	})
	return srv, handshakes
}

// wsURL returns the ws:// or wss:// URL of srv with the given path.
func wsURL(srv *httptest.Server, path string) string {
	u, _ := url.Parse(srv.URL)
	u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	u.Path = path
	return u.String()
}

// wsFrame is one WebSocket data frame as the server saw it.
type wsFrame struct {
	payloadType byte
	data        []byte
}

// wsFrameCodec receives frames with their payload type.
var wsFrameCodec = websocket.Codec{
	Unmarshal: func(data []byte, payloadType byte, v any) error {
		*v.(*wsFrame) = wsFrame{payloadType, data}
		return nil
	},
}

func TestWebSocketHandshake(t *testing.T) {
	srv, handshakes := startWebSocket(t, false, func(c *websocket.Conn) { io.Copy(c, c) })
	o := directDialer()
	o.WebSocketHeaders = http.Header{
		"Authorization": {"Bearer t0ken"},
		"X-Device":      {"gw-7"},
		"Origin":        {"https://console.example"},
	}
	conn := mustDial(t, o, wsURL(srv, ""))
	assertEcho(t, conn)

	hs := <-handshakes
	assert.Equal(t, []string{"mqtt"}, hs.protocols, "MQTT-6.0.0-3")
	assert.Equal(t, "/mqtt", hs.path, "default path")
	assert.Equal(t, "Bearer t0ken", hs.header.Get("Authorization"))
	assert.Equal(t, "gw-7", hs.header.Get("X-Device"))
	assert.Equal(t, []string{"https://console.example"}, hs.header.Values("Origin"))
	assert.Equal(t, srv.Listener.Addr().String(), hs.host)
	assert.Equal(t, "https://console.example", http.Header(o.WebSocketHeaders).Get("Origin"), "options unchanged")

	// The default origin is the broker's own.
	conn = mustDial(t, directDialer(), wsURL(srv, "/custom"))
	assertEcho(t, conn)
	hs = <-handshakes
	assert.Equal(t, "/custom", hs.path)
	assert.Equal(t, "http://"+srv.Listener.Addr().String(), hs.header.Get("Origin"))
}

func TestWebSocketHostHeader(t *testing.T) {
	for in, want := range map[string]string{
		"ws://broker.example":        "broker.example",
		"ws://broker.example:8080":   "broker.example:8080",
		"wss://broker.example":       "broker.example",
		"wss://broker.example:80":    "broker.example:80",
		"wss://[2001:db8::1]":        "[2001:db8::1]",
		"ws://[2001:db8::1]:9001/ws": "[2001:db8::1]:9001",
	} {
		cfg, err := directDialer().webSocketConfig(mustParseBrokerURL(t, in))
		require.NoError(t, err)
		assert.Equal(t, want, cfg.Location.Host, in)
		assert.Nil(t, cfg.Location.User)
	}
}

func TestWebSocketRefusedHandshake(t *testing.T) {
	// A plain HTTP server answers the upgrade with 404.
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	_, err := directDialer().Dial(context.Background(), mustParseBrokerURL(t, wsURL(srv, "/mqtt")))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "websocket handshake")
}

// TestWebSocketStream checks MQTT-6.0.0-2: the client reads one byte stream
// whatever the framing.
func TestWebSocketStream(t *testing.T) {
	publish := []byte{
		0x30, 0x0c, // PUBLISH QoS 0, remaining length 12
		0x00, 0x03, 'a', '/', 'b', // topic "a/b"
		'h', 'e', 'l', 'l', 'o', '!', // payload
		'!',
	}
	twoPackets := []byte{
		0xd0, 0x00, // PINGRESP
		0x40, 0x02, 0x00, 0x01, // PUBACK packet ID 1
	}
	want := append(append([]byte{}, publish...), twoPackets...)

	srv, _ := startWebSocket(t, false, func(c *websocket.Conn) {
		// One packet over three frames, then two packets in one frame.
		for _, f := range [][]byte{publish[:1], publish[1:6], publish[6:], twoPackets} {
			if _, err := c.Write(f); err != nil {
				return
			}
		}
		io.Copy(io.Discard, c)
	})
	for name, read := range map[string]func(io.Reader, []byte) (int, error){
		"large reads":    io.ReadFull,
		"one-byte reads": func(r io.Reader, p []byte) (int, error) { return io.ReadFull(iotest.OneByteReader(r), p) },
		"3-byte reads": func(r io.Reader, p []byte) (int, error) {
			for n := 0; n < len(p); {
				m, err := r.Read(p[n:min(n+3, len(p))])
				n += m
				if err != nil {
					return n, err
				}
			}
			return len(p), nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			conn := mustDial(t, directDialer(), wsURL(srv, "/mqtt"))
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(dialPromptly)))
			got := make([]byte, len(want))
			_, err := read(conn, got)
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
}

// TestWebSocketTextFrame checks MQTT-6.0.0-1 on receipt: a text frame fails
// the read and closes the connection.
func TestWebSocketTextFrame(t *testing.T) {
	serverErr := make(chan error, 1)
	srv, _ := startWebSocket(t, false, func(c *websocket.Conn) {
		c.Write([]byte{0xd0, 0x00}) // binary PINGRESP
		websocket.Message.Send(c, "{\"not\":\"mqtt\"}")
		var f wsFrame
		serverErr <- wsFrameCodec.Receive(c, &f)
	})
	conn := mustDial(t, directDialer(), wsURL(srv, "/mqtt"))
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(dialPromptly)))

	got := make([]byte, 2)
	_, err := io.ReadFull(conn, got)
	require.NoError(t, err)
	assert.Equal(t, []byte{0xd0, 0x00}, got)

	_, err = conn.Read(got)
	require.ErrorIs(t, err, ErrNonBinaryFrame)
	assert.Contains(t, err.Error(), "MQTT-6.0.0-1")
	assert.Contains(t, err.Error(), "text frame")

	// The error sticks, and the client closed: x/net reports the close
	// frame as EOF.
	_, err2 := conn.Read(got)
	assert.Equal(t, err, err2)
	assert.Equal(t, io.EOF, <-serverErr)
	_, err = conn.Write([]byte{0xc0, 0x00})
	assert.Error(t, err)
}

// TestWebSocketClientFrames checks MQTT-6.0.0-1 on sending: each Write is
// one binary frame.
func TestWebSocketClientFrames(t *testing.T) {
	frames := make(chan wsFrame, 16)
	srv, _ := startWebSocket(t, false, func(c *websocket.Conn) {
		for {
			var f wsFrame
			if err := wsFrameCodec.Receive(c, &f); err != nil {
				close(frames)
				return
			}
			frames <- f
		}
	})
	conn := mustDial(t, directDialer(), wsURL(srv, "/mqtt"))
	writes := [][]byte{
		{0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00}, // CONNECT
		{0xc0, 0x00},                       // PINGREQ
		bytes.Repeat([]byte{0x5a}, 70_000), // needs the 64-bit length form
	}
	for _, w := range writes {
		n, err := conn.Write(w)
		require.NoError(t, err)
		assert.Equal(t, len(w), n)
	}
	n, err := conn.Write(nil)
	require.NoError(t, err)
	assert.Zero(t, n)
	require.NoError(t, conn.Close())

	for _, w := range writes {
		f, ok := <-frames
		require.True(t, ok)
		assert.Equal(t, byte(websocket.BinaryFrame), f.payloadType)
		assert.Equal(t, w, f.data)
	}
	_, ok := <-frames
	assert.False(t, ok, "no empty frame for an empty write")
}

func TestWebSocketSecure(t *testing.T) {
	srv, handshakes := startWebSocket(t, true, func(c *websocket.Conn) { io.Copy(c, c) })
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())

	// Untrusted by default.
	_, err := directDialer().Dial(context.Background(), mustParseBrokerURL(t, wsURL(srv, "")))
	var verr *tls.CertificateVerificationError
	require.ErrorAs(t, err, &verr)

	o := &Dialer{Proxy: ProxyDirect, TLSConfig: &tls.Config{RootCAs: pool}}
	conn := mustDial(t, o, wsURL(srv, ""))
	assertEcho(t, conn)
	hs := <-handshakes
	assert.Equal(t, []string{"mqtt"}, hs.protocols)
	assert.Equal(t, "/mqtt", hs.path)
	assert.Equal(t, "https://"+srv.Listener.Addr().String(), hs.header.Get("Origin"))
}

func TestWebSocketDeadlineAndClose(t *testing.T) {
	srv, _ := startWebSocket(t, false, func(c *websocket.Conn) { io.Copy(io.Discard, c) })

	t.Run("read deadline", func(t *testing.T) {
		conn := mustDial(t, directDialer(), wsURL(srv, ""))
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
		_, err := conn.Read(make([]byte, 1))
		assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	})

	t.Run("write deadline", func(t *testing.T) {
		conn := mustDial(t, directDialer(), wsURL(srv, ""))
		require.NoError(t, conn.SetWriteDeadline(time.Now().Add(-time.Second)))
		_, err := conn.Write([]byte{0xc0, 0x00})
		assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	})

	t.Run("close interrupts read and is idempotent", func(t *testing.T) {
		conn := mustDial(t, directDialer(), wsURL(srv, ""))
		readErr := make(chan error, 1)
		go func() {
			_, err := conn.Read(make([]byte, 1))
			readErr <- err
		}()
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			wg.Go(func() { errs[i] = conn.Close() })
		}
		wg.Wait()
		for _, err := range errs {
			assert.NoError(t, err)
		}
		select {
		case err := <-readErr:
			// EOF when the broker answered the close frame first.
			if !errors.Is(err, io.EOF) {
				assert.ErrorIs(t, err, net.ErrClosed)
			}
		case <-time.After(dialPromptly):
			t.Fatal("Read not interrupted by Close")
		}
		_, err := conn.Write([]byte{0xc0, 0x00})
		assert.Error(t, err)
		assert.NotNil(t, conn.LocalAddr())
		assert.Equal(t, srv.Listener.Addr().String(), conn.RemoteAddr().String())
	})
}

// TestWebSocketMaxFrameSize: a frame larger than MaxFrameSize is refused
// instead of being buffered whole, which is what lets a client bound its
// memory against a hostile broker.
func TestWebSocketMaxFrameSize(t *testing.T) {
	srv, _ := startWebSocket(t, false, func(c *websocket.Conn) {
		c.Write([]byte{0xd0, 0x00})   // a PINGRESP fits
		c.Write(make([]byte, 64<<10)) // 64 KiB does not
		io.Copy(io.Discard, c)        // hold the connection open
	})
	o := directDialer()
	o.MaxFrameSize = 1024
	conn := mustDial(t, o, wsURL(srv, "/mqtt"))
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(dialPromptly)))
	got := make([]byte, 2)
	_, err := io.ReadFull(conn, got)
	require.NoError(t, err)
	_, err = conn.Read(make([]byte, 4096))
	require.ErrorIs(t, err, websocket.ErrFrameTooLarge)
}
