// Tests of the WebSocket opening handshake, and the loopback WebSocket
// server that this file and wsconn_test.go run the client against.

package dial

import (
	"bufio"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/feedmq/feedmq/internal/testpki"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wsServer is a WebSocket server on loopback for the tests. It is written
// from RFC 6455 apart from the client's code: net/http parses the upgrade
// request, and wsPeer frames by hand.
type wsServer struct {
	addr       string
	scheme     string                  // ws or wss
	handshakes chan wsHandshake        // each upgrade request, while there is room
	respond    func(io.Writer, string) // see wsServerConfig
}

// wsServerConfig shapes a test server.
type wsServerConfig struct {
	tls *tls.Config // nil: plain TCP
	// respond writes the handshake response to the client's key; nil: a
	// 101 that selects the mqtt subprotocol.
	respond func(w io.Writer, key string)
}

// wsHandshake is what the test server saw in an upgrade request.
type wsHandshake struct {
	protocols []string
	header    http.Header
	path      string
	host      string
}

// startWebSocket serves MQTT over WebSocket at any path, handing each
// upgraded connection to handle. It refuses an upgrade request that does
// not offer the "mqtt" subprotocol (MQTT-6.0.0-3) with 400.
func startWebSocket(t *testing.T, cfg wsServerConfig, handle func(*wsPeer)) *wsServer {
	t.Helper()
	s := &wsServer{scheme: "ws", handshakes: make(chan wsHandshake, 16), respond: cfg.respond}
	if s.respond == nil {
		s.respond = respond101("mqtt")
	}
	var ln net.Listener = listenLoopback(t)
	s.addr = ln.Addr().String()
	if cfg.tls != nil {
		s.scheme = "wss"
		ln = tls.NewListener(ln, cfg.tls)
	}
	serveConns(t, ln, func(c net.Conn) {
		if p := s.upgrade(c); p != nil {
			handle(p)
		}
	})
	return s
}

// upgrade reads the upgrade request on c and answers it, returning the
// server's end of the connection when the request was valid.
func (s *wsServer) upgrade(c net.Conn) *wsPeer {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil
	}
	var protocols []string
	for _, v := range req.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(v, ",") {
			protocols = append(protocols, strings.TrimSpace(p))
		}
	}
	select {
	case s.handshakes <- wsHandshake{protocols, req.Header.Clone(), req.URL.Path, req.Host}:
	default:
	}
	key := req.Header.Get("Sec-WebSocket-Key")
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(raw) != 16 || req.Method != http.MethodGet ||
		!strings.EqualFold(req.Header.Get("Upgrade"), "websocket") ||
		!strings.EqualFold(req.Header.Get("Connection"), "Upgrade") ||
		req.Header.Get("Sec-WebSocket-Version") != "13" || !slices.Contains(protocols, "mqtt") {
		io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
		return nil
	}
	s.respond(c, key)
	return &wsPeer{c: c, br: br}
}

// wsAccept is the Sec-WebSocket-Accept for key, by RFC 6455 §4.2.2.
func wsAccept(key string) string {
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// respond101 returns a handshake response that accepts the upgrade and
// selects protocol, or no subprotocol when it is empty.
func respond101(protocol string) func(io.Writer, string) {
	return func(w io.Writer, key string) {
		resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: " + wsAccept(key) + "\r\n"
		if protocol != "" {
			resp += "Sec-WebSocket-Protocol: " + protocol + "\r\n"
		}
		io.WriteString(w, resp+"\r\n")
	}
}

// wsURL returns the ws:// or wss:// URL of srv with the given path.
func wsURL(srv *wsServer, path string) string {
	return srv.scheme + "://" + srv.addr + path
}

func TestWebSocketHandshake(t *testing.T) {
	srv := startWebSocket(t, wsServerConfig{}, (*wsPeer).echo)
	d := directDialer()
	// An http.Header is assignable to WebSocketHeaders.
	d.WebSocketHeaders = http.Header{
		"Authorization": {"Bearer t0ken"},
		"x-device":      {"gw-7", "rack-2"},
		"Origin":        {"HTTPS://Console.Example"},
		"Upgrade":       {"h2c"}, // written by the handshake: ignored
	}
	assertEcho(t, mustDial(t, d, wsURL(srv, "")))

	hs := <-srv.handshakes
	assert.Equal(t, []string{"mqtt"}, hs.protocols, "MQTT-6.0.0-3")
	assert.Equal(t, "/mqtt", hs.path, "default path")
	assert.Equal(t, "Bearer t0ken", hs.header.Get("Authorization"))
	assert.Equal(t, []string{"gw-7", "rack-2"}, hs.header.Values("X-Device"))
	assert.Equal(t, []string{"https://console.example"}, hs.header.Values("Origin"))
	assert.Equal(t, []string{"websocket"}, hs.header.Values("Upgrade"))
	assert.Equal(t, srv.addr, hs.host)
	assert.Equal(t, "HTTPS://Console.Example", d.WebSocketHeaders["Origin"][0], "settings unchanged")

	// The default origin is the broker's own.
	assertEcho(t, mustDial(t, directDialer(), wsURL(srv, "/custom?k=v")))
	hs = <-srv.handshakes
	assert.Equal(t, "/custom", hs.path)
	assert.Equal(t, "http://"+srv.addr, hs.header.Get("Origin"))
}

// TestWebSocketUpgradeRequest pins the request bytes: RFC 6455 §4.1 with
// the sample key of §1.3, extra fields sorted and in canonical form.
func TestWebSocketUpgradeRequest(t *testing.T) {
	d := &Dialer{WebSocketHeaders: map[string][]string{
		"x-b":                    {" two "},
		"X-A":                    {"one"},
		"sec-websocket-protocol": {"mqttv5"}, // written by the handshake: ignored
	}}
	req, err := d.upgradeRequest(mustParseBrokerURL(t, "wss://broker.example/ws?t=1"), "dGhlIHNhbXBsZSBub25jZQ==")
	require.NoError(t, err)
	assert.Equal(t, "GET /ws?t=1 HTTP/1.1\r\n"+
		"Host: broker.example\r\n"+
		"Upgrade: websocket\r\n"+
		"Connection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"+
		"Sec-WebSocket-Version: 13\r\n"+
		"Sec-WebSocket-Protocol: mqtt\r\n"+
		"Origin: https://broker.example\r\n"+
		"X-A: one\r\n"+
		"X-B: two\r\n"+
		"\r\n", string(req))

	// RFC 6455 §1.3's example, worked both ways.
	assert.Equal(t, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", acceptKey("dGhlIHNhbXBsZSBub25jZQ=="))
	assert.Equal(t, acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), wsAccept("dGhlIHNhbXBsZSBub25jZQ=="))
	key, err := base64.StdEncoding.DecodeString(newWebSocketKey())
	require.NoError(t, err)
	assert.Len(t, key, 16)
}

func TestWebSocketHeaderValidation(t *testing.T) {
	for name, h := range map[string]map[string][]string{
		"line break in a value": {"Authorization": {"Bearer s3cret\r\nX-Evil: 1"}},
		"NUL in a value":        {"Authorization": {"s3cret\x00"}},
		"space in a name":       {"X Device": {"1"}},
		"colon in a name":       {"X-Device:": {"1"}},
		"empty name":            {"": {"1"}},
		"origin not a URL":      {"Origin": {"%zz"}},
	} {
		t.Run(name, func(t *testing.T) {
			// Nothing listens there: the request is checked before any I/O.
			d := &Dialer{Proxy: ProxyDirect, WebSocketHeaders: h}
			_, err := d.Dial(context.Background(), mustParseBrokerURL(t, "ws://127.0.0.1:1"))
			require.Error(t, err)
			assert.Regexp(t, `^dial: ws://127\.0\.0\.1:1/mqtt: WebSocket (Origin )?header `, err.Error())
			assert.NotContains(t, err.Error(), "s3cret", "values may be credentials")
		})
	}
}

func TestWebSocketHostHeader(t *testing.T) {
	for in, want := range map[string]string{
		"ws://broker.example":        "broker.example",
		"ws://broker.example:8080":   "broker.example:8080",
		"wss://broker.example":       "broker.example",
		"wss://broker.example:80":    "broker.example:80",
		"wss://[2001:db8::1]":        "[2001:db8::1]",
		"ws://[2001:db8::1]:9001/ws": "[2001:db8::1]:9001",
		"ws://alice:s3cret@host":     "host",
	} {
		assert.Equal(t, want, hostHeader(mustParseBrokerURL(t, in)), in)
	}
}

func TestWebSocketRefusedHandshake(t *testing.T) {
	t.Run("404 from an HTTP server", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		t.Cleanup(srv.Close)
		u := "ws://" + srv.Listener.Addr().String() + "/mqtt"
		_, err := directDialer().Dial(context.Background(), mustParseBrokerURL(t, u))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "websocket handshake")
		assert.Contains(t, err.Error(), "404 Not Found")
	})

	const upgrade = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	const accept = "Sec-WebSocket-Accept: {accept}\r\n"
	for _, tt := range []struct{ name, response, want string }{
		{"bad accept key", upgrade + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", "Sec-WebSocket-Accept"},
		{"no accept key", upgrade + "\r\n", "Sec-WebSocket-Accept"},
		{"no Upgrade", "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n" + accept + "\r\n", "Upgrade field"},
		{"no Connection upgrade", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n" + accept + "\r\n", "Connection field"},
		{"other subprotocol", upgrade + accept + "Sec-WebSocket-Protocol: mqttv5\r\n\r\n", "MQTT-6.0.0-4"},
		{"extension", upgrade + accept + "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n", "not offered"},
		{"status 200", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", `"200 OK"`},
		{"not HTTP", "SSH-2.0-OpenSSH_9.6\r\n\r\n", "malformed status line"},
		{"cut short", upgrade, "connection closed during the handshake"},
		{"endless header", upgrade + "X-Filler: " + strings.Repeat("a", 70_000) + "\r\n\r\n", "longer than 65536 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := startWebSocket(t, wsServerConfig{respond: func(w io.Writer, key string) {
				io.WriteString(w, strings.ReplaceAll(tt.response, "{accept}", wsAccept(key)))
			}}, func(*wsPeer) {})
			_, err := directDialer().Dial(context.Background(), mustParseBrokerURL(t, wsURL(srv, "")))
			require.Error(t, err)
			assert.Regexp(t, "^dial: ws://.*: websocket handshake: ", err.Error())
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestWebSocketNoSubprotocol: a server that selects no subprotocol is
// accepted, as x/net/websocket accepted it.
func TestWebSocketNoSubprotocol(t *testing.T) {
	srv := startWebSocket(t, wsServerConfig{respond: respond101("")}, (*wsPeer).echo)
	assertEcho(t, mustDial(t, directDialer(), wsURL(srv, "")))
}

// TestWebSocketFramesWithResponse: frames that arrive in the same segment
// as the handshake response are not lost.
func TestWebSocketFramesWithResponse(t *testing.T) {
	srv := startWebSocket(t, wsServerConfig{respond: func(w io.Writer, key string) {
		var b strings.Builder
		respond101("mqtt")(&b, key)
		b.Write([]byte{0x82, 0x02, 0xd0, 0x00}) // a binary frame: PINGRESP
		io.WriteString(w, b.String())
	}}, (*wsPeer).discard)
	conn := mustDial(t, directDialer(), wsURL(srv, ""))
	got := make([]byte, 2)
	_, err := io.ReadFull(conn, got)
	require.NoError(t, err)
	assert.Equal(t, []byte{0xd0, 0x00}, got)
}

func TestWebSocketSecure(t *testing.T) {
	pki := testpki.New(t)
	cert, _, _ := pki.Issue(t, "localhost", x509.ExtKeyUsageServerAuth, "localhost")
	srv := startWebSocket(t, wsServerConfig{tls: &tls.Config{Certificates: []tls.Certificate{cert}}}, (*wsPeer).echo)
	_, port, _ := net.SplitHostPort(srv.addr)
	u := fmt.Sprintf("wss://localhost:%s", port)

	// Untrusted by default.
	_, err := directDialer().Dial(context.Background(), mustParseBrokerURL(t, u))
	var verr *tls.CertificateVerificationError
	require.ErrorAs(t, err, &verr)

	d := &Dialer{Proxy: ProxyDirect, TLSConfig: &tls.Config{RootCAs: pki.Pool}}
	assertEcho(t, mustDial(t, d, u))
	hs := <-srv.handshakes // the untrusted dial never got this far
	assert.Equal(t, []string{"mqtt"}, hs.protocols)
	assert.Equal(t, "/mqtt", hs.path)
	assert.Equal(t, "https://localhost:"+port, hs.header.Get("Origin"))
}
