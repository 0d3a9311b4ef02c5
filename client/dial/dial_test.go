// Tests of Dial over TCP, Unix sockets and TLS, of its context, and the
// loopback servers and test CA the other test files share.

package dial

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
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
