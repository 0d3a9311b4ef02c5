// Tests of Dial over TLS, and the test CA that websocket_test.go uses too.

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
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
}

// TestDialTLSSettings: a TLS 1.2 minimum, and a client certificate.
func TestDialTLSSettings(t *testing.T) {
	pki := newTestPKI(t)

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
