// MQTT over WebSocket (MQTT 3.1.1 §6): the opening handshake and the
// connection that turns binary frames into a byte stream.

package dial

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/websocket"
)

// ErrNonBinaryFrame is returned by Read on a WebSocket connection when the
// broker sent a text or other non-binary data frame. MQTT-6.0.0-1 allows only
// binary frames; the connection is closed when this happens.
var ErrNonBinaryFrame = errors.New("dial: websocket: non-binary data frame received (MQTT-6.0.0-1)")

// maxFrameBytes bounds one received WebSocket frame: the largest MQTT packet,
// a 5-byte fixed header and a 268,435,455-byte remainder (MQTT 3.1.1 §2.2.3).
// x/net reads a frame whole; the client's packet reader applies its own,
// usually smaller, limit afterwards.
const maxFrameBytes = 5 + 268_435_455

// wsCloseTimeout bounds how long Close waits to send the close frame, so a
// broker that stopped reading, or a Write blocked on it, cannot stall Close.
const wsCloseTimeout = time.Second

// wsBinaryCodec is the codec for MQTT over WebSocket: it sends binary frames
// and refuses any other data frame (MQTT-6.0.0-1). Control frames are
// answered by x/net before Unmarshal sees anything.
var wsBinaryCodec = websocket.Codec{
	Marshal: func(v any) ([]byte, byte, error) {
		return v.([]byte), websocket.BinaryFrame, nil
	},
	Unmarshal: func(data []byte, payloadType byte, v any) error {
		if payloadType != websocket.BinaryFrame {
			if payloadType == websocket.TextFrame {
				return fmt.Errorf("%w: got a text frame", ErrNonBinaryFrame)
			}
			return fmt.Errorf("%w: got opcode %#x", ErrNonBinaryFrame, payloadType)
		}
		*v.(*[]byte) = data
		return nil
	},
}

// upgradeWebSocket performs the WebSocket opening handshake on conn and
// returns the MQTT byte stream over it. conn is closed on failure.
func (d *Dialer) upgradeWebSocket(ctx context.Context, conn net.Conn, u *url.URL) (net.Conn, error) {
	cfg, err := d.webSocketConfig(u)
	if err != nil {
		conn.Close()
		return nil, err
	}

	// websocket.NewClient takes no context; expire conn's deadline when ctx
	// ends so the handshake returns. The callback is joined before returning.
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(interrupted)
		conn.SetDeadline(pastDeadline)
	})
	ws, err := websocket.NewClient(cfg, conn)
	if !stop() {
		<-interrupted
		conn.Close()
		return nil, ctx.Err()
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("websocket handshake: %w", err)
	}
	ws.MaxPayloadBytes = maxFrameBytes
	if d.MaxFrameSize > 0 {
		ws.MaxPayloadBytes = d.MaxFrameSize
	}
	return &wsConn{ws: ws, raw: conn}, nil
}

// pastDeadline is a deadline in the past, which fails pending I/O at once.
var pastDeadline = time.Unix(1, 0)

// webSocketConfig builds the client handshake for u.
func (d *Dialer) webSocketConfig(u *url.URL) (*websocket.Config, error) {
	loc := &url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	// Browsers leave the default port out of Host; some proxies compare it.
	if host, port, err := net.SplitHostPort(u.Host); err == nil && port == brokerSchemes[u.Scheme].port {
		loc.Host = host
		if strings.Contains(host, ":") {
			loc.Host = "[" + host + "]"
		}
	}
	origin := &url.URL{Scheme: "http", Host: loc.Host}
	if u.Scheme == "wss" {
		origin.Scheme = "https"
	}
	header := http.Header(d.WebSocketHeaders).Clone()
	if header == nil {
		header = http.Header{}
	}
	// x/net writes Origin from the config, so a header would be sent twice.
	if s := header.Get("Origin"); s != "" {
		var err error
		if origin, err = url.Parse(s); err != nil {
			return nil, fmt.Errorf("dial: WebSocket Origin header %q: %w", s, err)
		}
	}
	header.Del("Origin")
	return &websocket.Config{
		Location: loc,
		Origin:   origin,
		Protocol: []string{"mqtt"}, // MQTT-6.0.0-3
		Version:  websocket.ProtocolVersionHybi13,
		Header:   header,
	}, nil
}

// wsConn presents a WebSocket connection as the byte stream MQTT needs.
//
// x/net may have consumed part of a frame when a Read or Write fails, even
// by deadline, so the first error of each direction is final and returned
// again by later calls; the client closes the connection on any I/O error
// anyway.
type wsConn struct {
	// immutable after upgradeWebSocket
	ws  *websocket.Conn
	raw net.Conn // the TCP or TLS connection under ws

	// rmu serialises Read and guards the fields below it. It is held while
	// Read waits for a frame, as net.Conn serialises concurrent reads.
	rmu  sync.Mutex
	rbuf []byte // unread rest of the last binary frame (MQTT-6.0.0-2)
	rerr error  // first read error, sticky

	werr atomic.Pointer[error] // first write error, sticky; x/net serialises writes

	closeOnce sync.Once
	closeErr  error
}

// Read returns bytes of the binary frames in order, regardless of how the
// broker split its packets into frames (MQTT-6.0.0-2).
func (c *wsConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for len(c.rbuf) == 0 {
		if c.rerr != nil {
			return 0, c.rerr
		}
		var frame []byte
		if err := wsBinaryCodec.Receive(c.ws, &frame); err != nil {
			if errors.Is(err, ErrNonBinaryFrame) {
				c.closeWithStatus(closeStatusUnsupportedData) // MQTT-6.0.0-1
			}
			c.rerr = err
			return 0, err
		}
		c.rbuf = frame
	}
	n := copy(p, c.rbuf)
	c.rbuf = c.rbuf[n:]
	return n, nil
}

// Write sends p as one binary frame (MQTT-6.0.0-1).
func (c *wsConn) Write(p []byte) (int, error) {
	if errp := c.werr.Load(); errp != nil {
		return 0, *errp
	}
	if len(p) == 0 {
		return 0, nil
	}
	if err := wsBinaryCodec.Send(c.ws, p); err != nil {
		c.werr.CompareAndSwap(nil, &err)
		return 0, err
	}
	return len(p), nil
}

// Close sends a close frame and closes the connection. It may be called
// more than once and concurrently with Read and Write, which it interrupts;
// later calls return what the first returned.
func (c *wsConn) Close() error {
	return c.closeWithStatus(closeStatusNormal)
}

// WebSocket close status codes (RFC 6455 §7.4.1).
const (
	closeStatusNormal          = 1000
	closeStatusUnsupportedData = 1003
)

// wsCloseCodec sends close frames; Marshal takes the status code as an int.
var wsCloseCodec = websocket.Codec{
	Marshal: func(v any) ([]byte, byte, error) {
		return binary.BigEndian.AppendUint16(nil, uint16(v.(int))), websocket.CloseFrame, nil
	},
}

func (c *wsConn) closeWithStatus(status int) error {
	c.closeOnce.Do(func() {
		// The close frame is a courtesy: bound it, which also releases a
		// Write stuck on a full send buffer holding the lock it needs.
		c.raw.SetWriteDeadline(time.Now().Add(wsCloseTimeout))
		wsCloseCodec.Send(c.ws, status)
		c.closeErr = c.raw.Close()
	})
	return c.closeErr
}

// LocalAddr returns the local network address of the underlying connection.
func (c *wsConn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// RemoteAddr returns the remote network address of the underlying connection.
func (c *wsConn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// SetDeadline sets the read and write deadlines of the underlying connection.
func (c *wsConn) SetDeadline(t time.Time) error { return c.raw.SetDeadline(t) }

// SetReadDeadline sets the read deadline of the underlying connection.
func (c *wsConn) SetReadDeadline(t time.Time) error { return c.raw.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline of the underlying connection.
func (c *wsConn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }
