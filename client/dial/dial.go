package dial

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/proxy"
	"golang.org/x/net/websocket"
)

// Dialer holds the settings used when dialling a broker. The zero value
// dials plain TCP, TLS with the system roots, and WebSocket without extra
// headers, through the proxy named by the environment. A Dialer is not
// changed by Dial and may be used by several goroutines at once.
//
// TCP_NODELAY is on for every TCP connection, because that is Go's default,
// so mosquitto's --nodelay needs no counterpart here.
type Dialer struct {
	// TLSConfig is used for mqtts://, ssl://, tls:// and wss://. Nil means a
	// default configuration. Dial works on a clone: when ServerName is empty
	// it is set from the URL host, for SNI and host name verification
	// (MQTT 3.1.1 §5.4), and a zero MinVersion becomes TLS 1.2. Certificate
	// verification is never turned off implicitly.
	TLSConfig *tls.Config

	// WebSocketHeaders are extra header fields on the WebSocket upgrade
	// request, such as Authorization. An Origin field replaces the default
	// origin (http[s]:// plus the URL host). Host, Upgrade, Connection and
	// Sec-WebSocket-* are written by the handshake and are ignored here.
	// Names are matched without regard to case. An http.Header is
	// assignable to it.
	WebSocketHeaders map[string][]string

	// Proxy selects a SOCKS5 proxy for tcp, tls, ws and wss connections
	// (never for unix sockets), as "socks5://[user:pass@]host[:port]" or
	// "socks5h://..."; the port defaults to 1080. With either scheme the
	// proxy resolves host names, so they never reach the local resolver.
	// "direct" never uses a proxy. Empty takes the proxy from ALL_PROXY or
	// all_proxy and the exceptions from NO_PROXY or no_proxy, read on every
	// Dial, with the semantics of golang.org/x/net/proxy.FromEnvironment:
	// an unusable ALL_PROXY value is ignored.
	Proxy string

	// NetDialer is the base dialer: timeouts, keep-alive and local address.
	// Nil means a zero net.Dialer. It also connects to the proxy.
	NetDialer *net.Dialer

	// MaxFrameSize bounds one WebSocket frame received, which is read whole
	// before any packet in it is decoded. Zero means the largest MQTT
	// packet; a Client sets it from Config.MaxPacketSize when it is zero.
	MaxFrameSize int
}

// ProxyDirect is the [Dialer.Proxy] value that never uses a proxy,
// whatever the environment says.
const ProxyDirect = "direct"

// transportKind is the family of byte stream a URL scheme asks for.
type transportKind int

const (
	kindTCP transportKind = iota
	kindTLS
	kindWS
	kindWSS
	kindUnix
)

// brokerSchemes maps every accepted URL scheme to its transport and default port.
var brokerSchemes = map[string]struct {
	kind transportKind
	port string
}{
	"mqtt":  {kindTCP, "1883"},
	"tcp":   {kindTCP, "1883"},
	"mqtts": {kindTLS, "8883"},
	"ssl":   {kindTLS, "8883"},
	"tls":   {kindTLS, "8883"},
	"ws":    {kindWS, "80"},
	"wss":   {kindWSS, "443"},
	"unix":  {kindUnix, ""},
}

// defaultWebSocketPath is where brokers such as mosquitto and EMQX serve
// MQTT over WebSocket.
const defaultWebSocketPath = "/mqtt"

// ParseBrokerURL parses a broker address and fills in the defaults, so the
// result names the port (and for WebSocket the path) that Dial will use.
//
// Accepted schemes are mqtt:// and tcp:// (plain TCP, port 1883), mqtts://,
// ssl:// and tls:// (TLS, port 8883), ws:// (port 80) and wss:// (port 443)
// for WebSocket, where the path defaults to "/mqtt", and unix:///path/to.sock
// or unix:/path/to.sock for a Unix domain socket. A bare "host:port" or
// "host", including an IPv6 literal, means mqtt://.
//
// User information in the URL is kept, so the caller may use it as
// credentials, but it never appears in an error message.
func ParseBrokerURL(s string) (*url.URL, error) {
	raw := strings.TrimSpace(s)
	if raw == "" {
		return nil, errors.New("dial: empty broker URL")
	}
	if !strings.Contains(raw, "://") && !hasPrefixFold(raw, "unix:") {
		// A bare IPv6 literal has colons that url.Parse would read as a port.
		if a, err := netip.ParseAddr(raw); err == nil && a.Is6() {
			raw = "[" + strings.Replace(raw, "%", "%25", 1) + "]"
		}
		raw = "mqtt://" + raw
	}
	u, err := parseURL("broker URL", raw)
	if err != nil {
		return nil, err
	}
	return normalizeBrokerURL(u)
}

// parseURL is url.Parse with errors that never show user information. what
// names the setting in error messages.
func parseURL(what, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// *url.Error quotes the whole input, so keep only the cause, and
		// not even that when the input holds credentials: a '/' in a
		// password moves it into the host, and the cause quotes the port.
		cause := errors.New("malformed URL")
		if uerr := (*url.Error)(nil); errors.As(err, &uerr) && !strings.Contains(raw, "@") {
			cause = uerr.Err
		}
		return nil, fmt.Errorf("dial: %s %q: %w", what, redactString(raw), cause)
	}
	if u.User == nil && strings.Contains(raw, "@") {
		// Probably credentials cut short by an unescaped '/', '?' or '#'.
		return nil, fmt.Errorf("dial: %s %q: '@' after the host; percent-encode '/', '?' and '#' in user names and passwords", what, redactString(raw))
	}
	return u, nil
}

// normalizeBrokerURL validates u and returns a copy with the scheme in lower
// case and the default port and WebSocket path filled in.
func normalizeBrokerURL(u *url.URL) (*url.URL, error) {
	if u == nil {
		return nil, errors.New("dial: nil broker URL")
	}
	v := *u
	v.Scheme = strings.ToLower(v.Scheme)
	bad := func(format string, args ...any) error {
		return fmt.Errorf("dial: broker URL %q: "+format, append([]any{Redact(&v)}, args...)...)
	}
	scheme, ok := brokerSchemes[v.Scheme]
	if !ok {
		if v.Scheme == "" {
			return nil, bad("missing scheme")
		}
		return nil, bad("unsupported scheme %q (want mqtt, tcp, mqtts, ssl, tls, ws, wss or unix)", v.Scheme)
	}
	if v.Fragment != "" {
		return nil, bad("a fragment (#) is not allowed; percent-encode '#' in a password as %%23")
	}

	if scheme.kind == kindUnix {
		if v.Host != "" {
			return nil, bad("unix socket URLs have no host; write unix:///path/to.sock or unix:/path/to.sock")
		}
		if v.RawQuery != "" {
			return nil, bad("a query is not allowed")
		}
		if socketPath(&v) == "" {
			return nil, bad("missing socket path")
		}
		return &v, nil
	}

	if v.Opaque != "" || v.Hostname() == "" {
		return nil, bad("missing host")
	}
	port := v.Port()
	if port == "" {
		port = scheme.port
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, bad("port %q out of range", port)
	}
	v.Host = net.JoinHostPort(v.Hostname(), port)

	switch scheme.kind {
	case kindWS, kindWSS:
		if v.Path == "" {
			v.Path, v.RawPath = defaultWebSocketPath, ""
		}
	default:
		// A path here is usually a ws:// URL with the wrong scheme.
		if (v.Path != "" && v.Path != "/") || v.RawQuery != "" || v.ForceQuery {
			return nil, bad("a path or query is only meaningful for ws:// and wss://")
		}
		v.Path, v.RawPath = "", ""
	}
	return &v, nil
}

// socketPath returns the file name of a unix: URL: the path of unix:///p and
// unix:/p, or the opaque part of unix:relative.sock.
func socketPath(u *url.URL) string {
	if u.Opaque != "" {
		if p, err := url.PathUnescape(u.Opaque); err == nil {
			return p
		}
		return u.Opaque
	}
	return u.Path
}

// redactURL returns u as a string without its user information, for error
// messages. Unlike url.URL.Redacted it also drops the user name, which some
// brokers use as an access token.
func Redact(u *url.URL) string {
	if u.User == nil {
		return u.String()
	}
	v := *u
	v.User = url.User("xxxxx")
	return v.String()
}

// redactString removes the user information from a URL that did not parse.
// It cuts at the last '@', wherever it is, because where the user
// information ends is exactly what may be broken.
func redactString(s string) string {
	start := 0
	if i := strings.Index(s, "://"); i >= 0 {
		start = i + len("://")
	}
	if i := strings.LastIndex(s[start:], "@"); i >= 0 {
		return s[:start] + "xxxxx" + s[start+i:]
	}
	return s
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// Dial connects to the broker at u and returns a byte stream ready for the
// CONNECT packet. The URL is validated as [ParseBrokerURL] does, so a URL
// built by hand may leave out the default port. Dial has the signature of
// client.DialFunc; a nil *Dialer dials with the zero settings.
//
// The context bounds the whole dial: TCP connect, SOCKS5 negotiation, TLS
// handshake and WebSocket upgrade. When it ends first, the error matches
// ctx.Err() with errors.Is. Certificate problems surface as
// *tls.CertificateVerificationError, which wraps the x509 error.
//
// For ws:// and wss:// the connection speaks MQTT over WebSocket
// (MQTT 3.1.1 §6): it offers the "mqtt" subprotocol, each Write sends one
// binary frame, and Read returns the bytes of the broker's frames as one
// stream, however packets were split across frames. A text frame fails Read
// with [ErrNonBinaryFrame] and closes the connection. Unlike TCP, the first
// Read or Write error, an expired deadline included, is final, because a
// frame may have been cut in half; later calls return it again. Close may be
// called more than once.
func (d *Dialer) Dial(ctx context.Context, u *url.URL) (net.Conn, error) {
	v, err := normalizeBrokerURL(u)
	if err != nil {
		return nil, err
	}
	if d == nil {
		d = &Dialer{}
	}
	conn, err := d.dial(ctx, v)
	if err != nil {
		// Whatever the last failure looked like (a closed socket, an i/o
		// timeout), a finished context is the reason.
		if cerr := dialContextErr(ctx); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%v)", cerr, err)
		}
		return nil, fmt.Errorf("dial: %s: %w", Redact(v), err)
	}
	return conn, nil
}

// dialContextErr is ctx.Err, also when ctx's deadline has passed but its timer
// has not fired yet: dialers copy the deadline onto sockets, which may then
// time out first.
func dialContextErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

func (d *Dialer) dial(ctx context.Context, u *url.URL) (net.Conn, error) {
	switch brokerSchemes[u.Scheme].kind {
	case kindUnix:
		return d.netDialer().DialContext(ctx, "unix", socketPath(u))
	case kindTCP:
		return d.dialTCP(ctx, u.Host)
	case kindTLS:
		return d.dialTLS(ctx, u)
	case kindWS:
		conn, err := d.dialTCP(ctx, u.Host)
		if err != nil {
			return nil, err
		}
		return d.upgradeWebSocket(ctx, conn, u)
	case kindWSS:
		conn, err := d.dialTLS(ctx, u)
		if err != nil {
			return nil, err
		}
		return d.upgradeWebSocket(ctx, conn, u)
	}
	panic("dial: unreachable: scheme " + u.Scheme + " passed validation")
}

func (d *Dialer) netDialer() *net.Dialer {
	if d.NetDialer != nil {
		return d.NetDialer
	}
	return &net.Dialer{}
}

// dialTCP opens a TCP connection to addr, through the configured proxy.
func (d *Dialer) dialTCP(ctx context.Context, addr string) (net.Conn, error) {
	pd, err := d.proxyDialer()
	if err != nil {
		return nil, err
	}
	return pd.DialContext(ctx, "tcp", addr)
}

// dialTLS opens a TCP connection and completes the TLS handshake within ctx,
// so certificate errors surface here rather than on the first write.
func (d *Dialer) dialTLS(ctx context.Context, u *url.URL) (net.Conn, error) {
	conn, err := d.dialTCP(ctx, u.Host)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(conn, d.tlsConfig(u))
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

// tlsConfig returns the configuration for one dial to u. It clones, because
// the caller's config may be shared and must not change under them.
func (d *Dialer) tlsConfig(u *url.URL) *tls.Config {
	var cfg *tls.Config
	if d.TLSConfig != nil {
		cfg = d.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{}
	}
	// MQTT 3.1.1 §5.4: check the certificate against the host name and use
	// SNI. crypto/tls implements no NULL cipher suites, the other §5.4 point.
	if cfg.ServerName == "" {
		cfg.ServerName = u.Hostname()
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}

// proxyDialer returns the dialer for TCP connections as Proxy selects it.
func (d *Dialer) proxyDialer() (proxy.ContextDialer, error) {
	forward := d.netDialer()
	var (
		pd  proxy.Dialer
		err error
	)
	switch d.Proxy {
	case ProxyDirect:
		return forward, nil
	case "":
		pd = proxyFromEnvironment(forward)
	default:
		pd, err = proxyFromString(d.Proxy, forward)
		if err != nil {
			return nil, err
		}
	}
	cd, ok := pd.(proxy.ContextDialer)
	if !ok {
		return nil, fmt.Errorf("dial: proxy dialer %T cannot honour a context", pd)
	}
	return cd, nil
}

// proxyFromString parses an explicit Proxy setting.
func proxyFromString(s string, forward proxy.Dialer) (proxy.Dialer, error) {
	pu, err := parseURL("proxy", s)
	if err != nil {
		return nil, err
	}
	switch {
	case pu.Scheme != "socks5" && pu.Scheme != "socks5h":
		return nil, fmt.Errorf("dial: proxy %q: unsupported scheme %q (want socks5 or socks5h)", Redact(pu), pu.Scheme)
	case pu.Hostname() == "":
		return nil, fmt.Errorf("dial: proxy %q: missing host", Redact(pu))
	case pu.Path != "" && pu.Path != "/":
		return nil, fmt.Errorf("dial: proxy %q: unexpected path", Redact(pu))
	}
	pd, err := proxy.FromURL(pu, forward)
	if err != nil {
		return nil, fmt.Errorf("dial: proxy %q: %w", Redact(pu), err)
	}
	return pd, nil
}

// proxyFromEnvironment is proxy.FromEnvironmentUsing without its process-wide
// cache, so a changed environment takes effect on the next reconnect.
func proxyFromEnvironment(forward proxy.Dialer) proxy.Dialer {
	all := getenvEither("ALL_PROXY", "all_proxy")
	if all == "" {
		return forward
	}
	pu, err := url.Parse(all)
	if err != nil {
		return forward
	}
	p, err := proxy.FromURL(pu, forward)
	if err != nil {
		return forward
	}
	no := getenvEither("NO_PROXY", "no_proxy")
	if no == "" {
		return p
	}
	perHost := proxy.NewPerHost(p, forward)
	perHost.AddFromString(no)
	return perHost
}

func getenvEither(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

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
