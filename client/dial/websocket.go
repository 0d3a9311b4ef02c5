// MQTT over WebSocket (MQTT 3.1.1 §6), part one: the client's opening
// handshake (RFC 6455 §4.1), written and read by hand so that no net/http
// is linked. The connection it returns is in wsconn.go.

package dial

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"
)

// webSocketGUID is appended to the key to compute Sec-WebSocket-Accept
// (RFC 6455 §1.3).
const webSocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// maxHandshakeBytes bounds the status line and header fields of the
// server's handshake response, so a hostile server cannot make Dial buffer
// without end.
const maxHandshakeBytes = 64 << 10

// pastDeadline is a deadline in the past, which fails pending I/O at once.
var pastDeadline = time.Unix(1, 0)

// dialWebSocket connects to u over TCP or TLS and performs the WebSocket
// opening handshake. The request is built first, so a bad WebSocketHeaders
// entry fails before any I/O.
func (d *Dialer) dialWebSocket(ctx context.Context, u *url.URL) (net.Conn, error) {
	key := newWebSocketKey()
	req, err := d.upgradeRequest(u, key)
	if err != nil {
		return nil, err
	}
	var conn net.Conn
	if brokerSchemes[u.Scheme].kind == kindWSS {
		conn, err = d.dialTLS(ctx, u)
	} else {
		conn, err = d.dialTCP(ctx, u.Host)
	}
	if err != nil {
		return nil, err
	}
	return d.upgradeWebSocket(ctx, conn, req, key)
}

// upgradeWebSocket sends the opening handshake req, made with key, on conn
// and returns the MQTT byte stream over it. conn is closed on failure.
func (d *Dialer) upgradeWebSocket(ctx context.Context, conn net.Conn, req []byte, key string) (net.Conn, error) {
	// conn takes no context; expire its deadline when ctx ends so the
	// handshake returns. The callback is joined before returning.
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(interrupted)
		conn.SetDeadline(pastDeadline)
	})
	br, err := webSocketHandshake(conn, req, key)
	if !stop() {
		<-interrupted
		conn.Close()
		return nil, ctx.Err()
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("websocket handshake: %w", err)
	}
	maxFrame := int64(maxFrameBytes)
	if d.MaxFrameSize > 0 {
		maxFrame = int64(d.MaxFrameSize)
	}
	return &wsConn{raw: conn, br: br, maxFrame: maxFrame}, nil
}

// newWebSocketKey returns a Sec-WebSocket-Key: 16 random bytes in base64
// (RFC 6455 §4.1).
func newWebSocketKey() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return base64.StdEncoding.EncodeToString(b[:])
}

// acceptKey is the Sec-WebSocket-Accept a server must answer key with
// (RFC 6455 §4.2.2).
func acceptKey(key string) string {
	sum := sha1.Sum([]byte(key + webSocketGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// upgradeRequest returns the client's opening handshake for u (RFC 6455
// §4.1): a GET with the upgrade header fields, the "mqtt" subprotocol
// (MQTT-6.0.0-3) and the extra fields of WebSocketHeaders in sorted order.
func (d *Dialer) upgradeRequest(u *url.URL, key string) ([]byte, error) {
	host := hostHeader(u)
	origin, err := d.origin(u, host)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 512)
	b = append(b, "GET "+u.RequestURI()+" HTTP/1.1\r\n"...)
	b = append(b, "Host: "+host+"\r\n"...)
	b = append(b, "Upgrade: websocket\r\nConnection: Upgrade\r\n"...)
	b = append(b, "Sec-WebSocket-Key: "+key+"\r\n"...)
	b = append(b, "Sec-WebSocket-Version: 13\r\n"...)
	b = append(b, "Sec-WebSocket-Protocol: mqtt\r\n"...)
	b = append(b, "Origin: "+origin+"\r\n"...)
	for _, name := range slices.Sorted(maps.Keys(d.WebSocketHeaders)) {
		canonical := textproto.CanonicalMIMEHeaderKey(name)
		if handshakeField(canonical) {
			continue
		}
		if !validFieldName(name) {
			return nil, fmt.Errorf("WebSocket header %q: not a valid field name", name)
		}
		for _, v := range d.WebSocketHeaders[name] {
			// The value is left out of the error: it may be a credential.
			if strings.ContainsAny(v, "\r\n\x00") {
				return nil, fmt.Errorf("WebSocket header %q: line break or NUL in the value", name)
			}
			b = append(b, canonical+": "+strings.TrimSpace(v)+"\r\n"...)
		}
	}
	return append(b, "\r\n"...), nil
}

// hostHeader is the Host field for u. Browsers leave the default port out;
// some proxies compare it.
func hostHeader(u *url.URL) string {
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || port != brokerSchemes[u.Scheme].port {
		return u.Host
	}
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// origin is the Origin field: the one in WebSocketHeaders, whatever the case
// of its name, else the broker's own, http[s]:// plus host. It is written in
// lower case (RFC 6454 §6.2).
func (d *Dialer) origin(u *url.URL, host string) (string, error) {
	for _, name := range slices.Sorted(maps.Keys(d.WebSocketHeaders)) {
		vs := d.WebSocketHeaders[name]
		if !strings.EqualFold(name, "Origin") || len(vs) == 0 || vs[0] == "" {
			continue
		}
		o, err := url.Parse(vs[0])
		if err != nil || strings.ContainsAny(vs[0], "\r\n\x00") {
			return "", fmt.Errorf("WebSocket Origin header %q: not a URL", vs[0])
		}
		return strings.ToLower(o.String()), nil
	}
	if u.Scheme == "wss" {
		return "https://" + strings.ToLower(host), nil
	}
	return "http://" + strings.ToLower(host), nil
}

// handshakeField reports whether the handshake writes the field itself, so
// that WebSocketHeaders must not add it. name is in canonical form.
func handshakeField(name string) bool {
	switch name {
	case "Host", "Upgrade", "Connection", "Origin":
		return true
	}
	return strings.HasPrefix(name, "Sec-Websocket-")
}

// validFieldName reports whether name is an HTTP token (RFC 9110 §5.1).
func validFieldName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// webSocketHandshake sends req and checks the server's response (RFC 6455
// §4.1, the client's checks 1 to 6). It returns the reader to take frames
// from, which may already hold some that arrived with the response.
func webSocketHandshake(conn net.Conn, req []byte, key string) (*bufio.Reader, error) {
	if _, err := conn.Write(req); err != nil {
		return nil, err
	}
	limit := &io.LimitedReader{R: conn, N: maxHandshakeBytes}
	br := bufio.NewReader(limit)
	tp := textproto.NewReader(br)
	status, err := tp.ReadLine()
	if err == nil {
		err = checkStatusLine(status)
	}
	var header textproto.MIMEHeader
	if err == nil {
		header, err = tp.ReadMIMEHeader()
	}
	switch {
	case err != nil && limit.N <= 0:
		return nil, fmt.Errorf("response longer than %d bytes", maxHandshakeBytes)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return nil, fmt.Errorf("connection closed during the handshake: %w", io.ErrUnexpectedEOF)
	case err != nil:
		return nil, err
	}
	if err := checkUpgradeResponse(header, key); err != nil {
		return nil, err
	}
	limit.N = math.MaxInt64 // frames from here on
	return br, nil
}

// checkStatusLine accepts "HTTP/1.1 101 ..." only: any other status means
// the server did not switch to WebSocket.
func checkStatusLine(line string) error {
	proto, rest, _ := strings.Cut(line, " ")
	code, _, _ := strings.Cut(rest, " ")
	if !strings.HasPrefix(proto, "HTTP/1.") || len(code) != 3 {
		return fmt.Errorf("malformed status line %q", line)
	}
	if code != "101" {
		return fmt.Errorf("the server answered %q, not 101 Switching Protocols", rest)
	}
	return nil
}

// checkUpgradeResponse checks the header fields of a 101 response (RFC 6455
// §4.1). A response without Sec-WebSocket-Protocol is accepted, as
// x/net/websocket, this package's earlier WebSocket client, accepted it; a
// subprotocol other than "mqtt" is refused (MQTT-6.0.0-4).
func checkUpgradeResponse(h textproto.MIMEHeader, key string) error {
	if !strings.EqualFold(strings.TrimSpace(h.Get("Upgrade")), "websocket") {
		return fmt.Errorf("the Upgrade field is %q, want websocket", h.Get("Upgrade"))
	}
	if !hasToken(h.Values("Connection"), "upgrade") {
		return fmt.Errorf("the Connection field %q lacks upgrade", strings.Join(h.Values("Connection"), ", "))
	}
	if got := h.Get("Sec-WebSocket-Accept"); got != acceptKey(key) {
		return fmt.Errorf("the Sec-WebSocket-Accept field %q does not match the key sent", got)
	}
	if ext := h.Values("Sec-WebSocket-Extensions"); len(ext) > 0 {
		return fmt.Errorf("the server chose extension %q, which was not offered", strings.Join(ext, ", "))
	}
	if p := h.Values("Sec-WebSocket-Protocol"); len(p) > 0 && (len(p) > 1 || strings.TrimSpace(p[0]) != "mqtt") {
		return fmt.Errorf("the server chose subprotocol %q, want mqtt (MQTT-6.0.0-4)", strings.Join(p, ", "))
	}
	return nil
}

// hasToken reports whether the comma-separated lists in values hold token,
// without regard to case.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
