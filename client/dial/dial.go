// Dialer and its Dial: the scheme switch, plain TCP, Unix sockets and TLS.

package dial

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"
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

	// MaxFrameSize bounds the payload of one WebSocket frame received. A
	// larger frame fails Read with ErrFrameTooLarge as soon as its header
	// arrives, before any of its payload is read. Zero means the largest
	// MQTT packet; a Client sets it from Config.MaxPacketSize when it is
	// zero, since brokers send a packet per frame.
	MaxFrameSize int
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
// stream, however packets were split across frames or fragmented. Read
// answers the broker's pings and, when the broker closes, answers its close
// frame and returns io.EOF. A text frame fails Read with [ErrNonBinaryFrame],
// a frame over MaxFrameSize with [ErrFrameTooLarge], a breach of RFC 6455
// with [ErrWebSocketProtocol]; each closes the connection. Unlike TCP, the
// first Read or Write error, an expired deadline included, is final, because
// a frame may have been cut in half; later calls return it again. Close
// sends a close frame and may be called more than once.
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
	case kindWS, kindWSS:
		return d.dialWebSocket(ctx, u)
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
