package dial

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/websocket"
)

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
	t.Run("NetDialer", func(t *testing.T) {
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

// testPKI is a CA that issues certificates for tests.
type testPKI struct {
	cert  *x509.Certificate
	key   *ecdsa.PrivateKey
	pem   []byte
	pool  *x509.CertPool
	nextN int64
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "feedmq test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testPKI{
		cert:  cert,
		key:   key,
		pem:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pool:  pool,
		nextN: 2,
	}
}

// issue returns a leaf certificate and its PEM encoding, certificate and key.
func (p *testPKI) issue(t *testing.T, cn string, usage x509.ExtKeyUsage, dnsNames ...string) (tls.Certificate, []byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.nextN),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		DNSNames:     dnsNames,
	}
	p.nextN++
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	require.NoError(t, err)
	return cert, certPEM, keyPEM
}

// tlsServer is a TLS echo server that reports what each client sent.
type tlsServer struct {
	addr   string
	hellos chan string            // SNI of each ClientHello
	peers  chan *x509.Certificate // client certificate of each handshake, or nil
}

// startTLSEcho serves TLS with a certificate for "localhost" only (no IP SANs).
// configure may change the server config.
func startTLSEcho(t *testing.T, pki *testPKI, configure func(*tls.Config)) *tlsServer {
	t.Helper()
	cert, _, _ := pki.issue(t, "localhost", x509.ExtKeyUsageServerAuth, "localhost")
	s := &tlsServer{hellos: make(chan string, 16), peers: make(chan *x509.Certificate, 16)}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			s.hellos <- hello.ServerName
			return nil, nil
		},
	}
	if configure != nil {
		configure(cfg)
	}
	ln := listenLoopback(t)
	s.addr = ln.Addr().String()
	serveConns(t, tls.NewListener(ln, cfg), func(c net.Conn) {
		tc := c.(*tls.Conn)
		if tc.HandshakeContext(context.Background()) != nil {
			return
		}
		var peer *x509.Certificate
		if pc := tc.ConnectionState().PeerCertificates; len(pc) > 0 {
			peer = pc[0]
		}
		s.peers <- peer
		echoConn(tc)
	})
	return s
}

// port returns the port of the server, for URLs that name another host.
func (s *tlsServer) port() string {
	_, port, _ := net.SplitHostPort(s.addr)
	return port
}

func TestDialTLS(t *testing.T) {
	pki := newTestPKI(t)

	t.Run("verification on by default", func(t *testing.T) {
		srv := startTLSEcho(t, pki, nil)
		_, err := directDialer().Dial(context.Background(), mustParseBrokerURL(t, "mqtts://localhost:"+srv.port()))
		require.Error(t, err)
		var verr *tls.CertificateVerificationError
		require.ErrorAs(t, err, &verr)
		var unknown x509.UnknownAuthorityError
		assert.ErrorAs(t, err, &unknown)
	})

	t.Run("trusted CA, SNI from URL host", func(t *testing.T) {
		srv := startTLSEcho(t, pki, nil)
		user := &tls.Config{RootCAs: pki.pool}
		o := &Dialer{Proxy: ProxyDirect, TLSConfig: user}
		for _, scheme := range []string{"mqtts", "ssl", "tls"} {
			conn := mustDial(t, o, scheme+"://localhost:"+srv.port())
			assertEcho(t, conn)
			assert.Equal(t, "localhost", <-srv.hellos, "MQTT 3.1.1 §5.4: SNI")
			state := conn.(*tls.Conn).ConnectionState()
			assert.GreaterOrEqual(t, state.Version, uint16(tls.VersionTLS12))
		}
		// Dial works on a clone.
		assert.Empty(t, user.ServerName)
		assert.Zero(t, user.MinVersion)
	})

	t.Run("host name verified", func(t *testing.T) {
		// The certificate names localhost only, not 127.0.0.1.
		srv := startTLSEcho(t, pki, nil)
		o := &Dialer{Proxy: ProxyDirect, TLSConfig: &tls.Config{RootCAs: pki.pool}}
		_, err := o.Dial(context.Background(), mustParseBrokerURL(t, "mqtts://"+srv.addr))
		var hostErr x509.HostnameError
		require.ErrorAs(t, err, &hostErr)
		assert.Equal(t, "", <-srv.hellos, "no SNI for an IP address")

		// An explicit ServerName wins over the URL host.
		o.TLSConfig.ServerName = "localhost"
		assertEcho(t, mustDial(t, o, "mqtts://"+srv.addr))
		assert.Equal(t, "localhost", <-srv.hellos)
	})

	t.Run("TLS 1.2 minimum", func(t *testing.T) {
		srv := startTLSEcho(t, pki, func(c *tls.Config) {
			c.MinVersion = tls.VersionTLS10
			c.MaxVersion = tls.VersionTLS11
		})
		o := &Dialer{Proxy: ProxyDirect, TLSConfig: &tls.Config{RootCAs: pki.pool}}
		_, err := o.Dial(context.Background(), mustParseBrokerURL(t, "mqtts://localhost:"+srv.port()))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "protocol version")
	})

	t.Run("client certificate", func(t *testing.T) {
		srv := startTLSEcho(t, pki, func(c *tls.Config) {
			c.ClientAuth = tls.RequireAndVerifyClientCert
			c.ClientCAs = pki.pool
		})
		clientCert, _, _ := pki.issue(t, "device-42", x509.ExtKeyUsageClientAuth)
		o := &Dialer{Proxy: ProxyDirect, TLSConfig: &tls.Config{
			RootCAs:      pki.pool,
			Certificates: []tls.Certificate{clientCert},
		}}
		assertEcho(t, mustDial(t, o, "mqtts://localhost:"+srv.port()))
		peer := <-srv.peers
		require.NotNil(t, peer)
		assert.Equal(t, "device-42", peer.Subject.CommonName)
	})
}

// TestTransportDialContext checks that the context aborts every stage of a
// dial to a peer that accepts and then stays silent.
func TestDialDialContext(t *testing.T) {
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

func TestParseBrokerURL(t *testing.T) {
	tests := []struct {
		in      string
		want    string // u.String(); empty when an error is expected
		wantErr string
	}{
		{in: "mqtt://broker.example", want: "mqtt://broker.example:1883"},
		{in: "tcp://broker.example:1884", want: "tcp://broker.example:1884"},
		{in: "mqtts://broker.example", want: "mqtts://broker.example:8883"},
		{in: "ssl://broker.example", want: "ssl://broker.example:8883"},
		{in: "tls://broker.example:9883", want: "tls://broker.example:9883"},
		{in: "ws://broker.example", want: "ws://broker.example:80/mqtt"},
		{in: "wss://broker.example", want: "wss://broker.example:443/mqtt"},
		{in: "wss://broker.example/ws?token=1", want: "wss://broker.example:443/ws?token=1"},
		{in: "MQTT://Broker.Example", want: "mqtt://Broker.Example:1883"},
		{in: "mqtt://broker.example/", want: "mqtt://broker.example:1883"},
		{in: "mqtt://broker.example:", want: "mqtt://broker.example:1883"},
		{in: "broker.example:1885", want: "mqtt://broker.example:1885"},
		{in: "broker.example", want: "mqtt://broker.example:1883"},
		{in: " broker.example ", want: "mqtt://broker.example:1883"},
		{in: "127.0.0.1", want: "mqtt://127.0.0.1:1883"},
		{in: "[::1]:1884", want: "mqtt://[::1]:1884"},
		{in: "::1", want: "mqtt://[::1]:1883"},
		{in: "mqtts://[2001:db8::1]", want: "mqtts://[2001:db8::1]:8883"},
		{in: "ws://[2001:db8::1]:8080", want: "ws://[2001:db8::1]:8080/mqtt"},
		{in: "mqtt://alice:s3cret@broker.example", want: "mqtt://alice:s3cret@broker.example:1883"},
		{in: "alice@broker.example", want: "mqtt://alice@broker.example:1883"},
		{in: "unix:///run/mosquitto/mqtt.sock", want: "unix:///run/mosquitto/mqtt.sock"},
		{in: "unix:/run/mosquitto/mqtt.sock", want: "unix:/run/mosquitto/mqtt.sock"},
		{in: "unix:mqtt.sock", want: "unix:mqtt.sock"},

		{in: "", wantErr: "empty broker URL"},
		{in: "ftp://broker.example", wantErr: `unsupported scheme "ftp"`},
		{in: "http://broker.example", wantErr: `unsupported scheme "http"`},
		{in: "mqtt://", wantErr: "missing host"},
		{in: "mqtt://:1883", wantErr: "missing host"},
		{in: "mqtt:broker.example", wantErr: "invalid port"}, // bare host "mqtt", port "broker.example"
		{in: "mqtt://broker.example:0", wantErr: "out of range"},
		{in: "mqtt://broker.example:65536", wantErr: "out of range"},
		{in: "mqtt://broker.example:x", wantErr: "invalid port"},
		{in: "mqtt://broker.example/mqtt", wantErr: "only meaningful for ws:// and wss://"},
		{in: "mqtts://broker.example?x=1", wantErr: "only meaningful for ws:// and wss://"},
		{in: "mqtt://broker.example#x", wantErr: "fragment"},
		{in: "unix://relative.sock", wantErr: "no host"},
		{in: "unix:", wantErr: "missing socket path"},
		{in: "unix:///x.sock?q=1", wantErr: "query"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := ParseBrokerURL(tt.in)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Regexp(t, "^dial: ", err.Error())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, u.String())
		})
	}
}

func TestParseBrokerURLUnixPath(t *testing.T) {
	for in, want := range map[string]string{
		"unix:///run/mqtt.sock":  "/run/mqtt.sock",
		"unix:/run/mqtt.sock":    "/run/mqtt.sock",
		"unix:rel.sock":          "rel.sock",
		"unix:///tmp/a%20b.sock": "/tmp/a b.sock",
	} {
		u := mustParseBrokerURL(t, in)
		assert.Equal(t, want, socketPath(u), in)
	}
}

// TestParseBrokerURLRedactsCredentials checks that neither the user name
// nor the password of a broker or proxy URL shows up in an error, even when
// an unescaped character breaks the user information apart.
func TestParseBrokerURLRedactsCredentials(t *testing.T) {
	for _, in := range []string{
		"ftp://alice:s3cret@broker.example",
		"mqtt://alice:s3cret@broker.example:x",
		"mqtt://alice:s3cret@broker.example:99999",
		"mqtt://alice:s3cret@broker.example/path",
		"mqtt://alice:s3cret@:1883",
		"mqtt://alice:s3cret@broker.example#x",
		"alice:s3cret@broker.example:x",
		"unix://alice:s3cret@host/x.sock",
		"mqtt://alice:s3/cret@broker.example",   // '/' cuts the password short
		"ws://alice:1234/cret@broker.example",   // ... leaving a valid host:port
		"mqtt://alice:s3?cret@broker.example",   // '?' likewise
		"mqtt://alice:s3#cret@broker.example",   // '#' likewise
		"mqtt://alice:s3%zzcret@broker.example", // bad escape
	} {
		t.Run(in, func(t *testing.T) {
			_, err := ParseBrokerURL(in)
			require.Error(t, err)
			assertRedacted(t, err)
		})
	}
	t.Run("proxy", func(t *testing.T) {
		for _, p := range []string{
			"http://alice:s3cret@proxy.example:3128",
			"socks5://alice:s3/cret@proxy.example",
			"socks5://alice:s3cret@:1080",
			"socks5://alice:s3cret@proxy.example:x",
		} {
			o := &Dialer{Proxy: p}
			_, err := o.Dial(context.Background(), mustParseBrokerURL(t, "mqtt://127.0.0.1:1"))
			require.Error(t, err, p)
			assertRedacted(t, err)
		}
	})
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"mqtt://alice:s3cret@broker.example:1883": "mqtt://xxxxx@broker.example:1883",
		"wss://alice@broker.example:443/mqtt":     "wss://xxxxx@broker.example:443/mqtt",
		"mqtts://broker.example:8883":             "mqtts://broker.example:8883",
		"unix:///run/mqtt.sock":                   "unix:///run/mqtt.sock",
	} {
		assert.Equal(t, want, Redact(mustParseBrokerURL(t, in)), in)
	}
}

func assertRedacted(t *testing.T, err error) {
	t.Helper()
	for _, secret := range []string{"alice", "s3", "cret", "1234"} {
		assert.NotContains(t, err.Error(), secret)
	}
}

// socksServer is a minimal SOCKS5 server (RFC 1928, RFC 1929): no
// authentication or username/password, CONNECT only.
type socksServer struct {
	addr       string
	user, pass string            // required credentials; empty: none
	hosts      map[string]string // domain name → address, for socks5h
	targets    chan string       // the address of each CONNECT request
}

func startSocks(t *testing.T, user, pass string, hosts map[string]string) *socksServer {
	t.Helper()
	s := &socksServer{user: user, pass: pass, hosts: hosts, targets: make(chan string, 16)}
	ln := listenLoopback(t)
	s.addr = ln.Addr().String()
	serveConns(t, ln, s.handle)
	return s
}

func (s *socksServer) handle(c net.Conn) {
	buf := make([]byte, 512)
	read := func(n int) []byte {
		if _, err := io.ReadFull(c, buf[:n]); err != nil {
			return nil
		}
		return buf[:n]
	}
	// Greeting: VER NMETHODS METHODS...
	hdr := read(2)
	if hdr == nil || hdr[0] != 5 {
		return
	}
	methods := read(int(hdr[1]))
	want := byte(0x00)
	if s.user != "" {
		want = 0x02
	}
	if !bytes.Contains(methods, []byte{want}) {
		c.Write([]byte{5, 0xff})
		return
	}
	c.Write([]byte{5, want})
	if want == 0x02 {
		// VER ULEN UNAME PLEN PASSWD
		if read(2) == nil {
			return
		}
		user := string(read(int(buf[1])))
		plen := read(1)
		if plen == nil {
			return
		}
		pass := string(read(int(plen[0])))
		if user != s.user || pass != s.pass {
			c.Write([]byte{1, 1})
			return
		}
		c.Write([]byte{1, 0})
	}
	// Request: VER CMD RSV ATYP DST.ADDR DST.PORT
	req := read(4)
	if req == nil {
		return
	}
	cmd, atyp := req[1], req[3]
	var host string
	switch atyp {
	case 1:
		host = net.IP(append([]byte{}, read(4)...)).String()
	case 4:
		host = net.IP(append([]byte{}, read(16)...)).String()
	case 3:
		n := read(1)
		if n == nil {
			return
		}
		host = string(read(int(n[0])))
	default:
		return
	}
	port := read(2)
	if port == nil {
		return
	}
	target := net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(port))))
	reply := func(code byte) { c.Write([]byte{5, code, 0, 1, 0, 0, 0, 0, 0, 0}) }
	if cmd != 1 {
		reply(0x07) // command not supported
		return
	}
	s.targets <- target
	addr := target
	if atyp == 3 {
		if addr = s.hosts[host]; addr == "" {
			reply(0x04) // host unreachable
			return
		}
	}
	up, err := net.Dial("tcp", addr)
	if err != nil {
		reply(0x05) // connection refused
		return
	}
	defer up.Close()
	reply(0x00)
	done := make(chan struct{})
	go func() {
		io.Copy(up, c)
		up.Close()
		close(done)
	}()
	io.Copy(c, up)
	c.Close()
	<-done
}

// assertNoneProxied checks that s received no CONNECT request.
func (s *socksServer) assertNoneProxied(t *testing.T) {
	t.Helper()
	select {
	case target := <-s.targets:
		t.Errorf("connection to %s went through the proxy", target)
	default:
	}
}

func TestSocks5Proxy(t *testing.T) {
	echoAddr := startEchoServer(t)

	t.Run("no auth", func(t *testing.T) {
		s := startSocks(t, "", "", nil)
		o := &Dialer{Proxy: "socks5://" + s.addr}
		assertEcho(t, mustDial(t, o, "mqtt://"+echoAddr))
		assert.Equal(t, echoAddr, <-s.targets)
	})

	t.Run("username and password", func(t *testing.T) {
		s := startSocks(t, "alice", "s3cret", nil)
		o := &Dialer{Proxy: "socks5://alice:s3cret@" + s.addr}
		assertEcho(t, mustDial(t, o, "mqtt://"+echoAddr))
		assert.Equal(t, echoAddr, <-s.targets)

		o.Proxy = "socks5://alice:wr0ng@" + s.addr
		_, err := o.Dial(context.Background(), mustParseBrokerURL(t, "mqtt://"+echoAddr))
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "wr0ng")
	})

	t.Run("socks5h sends the host name", func(t *testing.T) {
		s := startSocks(t, "", "", map[string]string{"broker.internal": echoAddr})
		_, port, _ := net.SplitHostPort(echoAddr)
		o := &Dialer{Proxy: "socks5h://" + s.addr}
		assertEcho(t, mustDial(t, o, "mqtt://broker.internal:"+port))
		assert.Equal(t, "broker.internal:"+port, <-s.targets)
	})

	t.Run("websocket through the proxy", func(t *testing.T) {
		srv, _ := startWebSocket(t, false, func(c *websocket.Conn) { io.Copy(c, c) })
		s := startSocks(t, "", "", nil)
		o := &Dialer{Proxy: "socks5://" + s.addr}
		assertEcho(t, mustDial(t, o, wsURL(srv, "/mqtt")))
		assert.Equal(t, srv.Listener.Addr().String(), <-s.targets)
	})

	t.Run("bad proxy", func(t *testing.T) {
		for _, p := range []string{"http://proxy.example:3128", "socks5://", "socks5://proxy.example/x"} {
			o := &Dialer{Proxy: p}
			_, err := o.Dial(context.Background(), mustParseBrokerURL(t, "mqtt://"+echoAddr))
			assert.ErrorContains(t, err, "dial: proxy", p)
		}
	})
}

func TestSocks5Environment(t *testing.T) {
	echoAddr := startEchoServer(t)
	s := startSocks(t, "", "", nil)
	t.Setenv("ALL_PROXY", "socks5://"+s.addr)
	t.Setenv("all_proxy", "")
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	u := "mqtt://" + echoAddr

	assertEcho(t, mustDial(t, &Dialer{}, u))
	assert.Equal(t, echoAddr, <-s.targets, "ALL_PROXY used")

	assertEcho(t, mustDial(t, &Dialer{Proxy: ProxyDirect}, u))
	s.assertNoneProxied(t)

	t.Setenv("NO_PROXY", "127.0.0.1")
	assertEcho(t, mustDial(t, &Dialer{}, u))
	s.assertNoneProxied(t)

	// Like proxy.FromEnvironment, an unusable ALL_PROXY is ignored.
	t.Setenv("NO_PROXY", "")
	t.Setenv("ALL_PROXY", "http://proxy.example:3128")
	assertEcho(t, mustDial(t, &Dialer{}, u))
}

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
