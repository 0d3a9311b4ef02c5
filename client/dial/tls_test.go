// Tests of Dial over TLS, and the test CA that websocket_test.go uses too.

package dial

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"

	"github.com/feedmq/feedmq/internal/testpki"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tlsServer is a TLS echo server that reports what each client sent.
type tlsServer struct {
	addr   string
	hellos chan string            // SNI of each ClientHello
	peers  chan *x509.Certificate // client certificate of each handshake, or nil
}

// startTLSEcho serves TLS with a certificate for "localhost" only (no IP SANs).
// configure may change the server config.
func startTLSEcho(t *testing.T, pki *testpki.PKI, configure func(*tls.Config)) *tlsServer {
	t.Helper()
	cert, _, _ := pki.Issue(t, "localhost", x509.ExtKeyUsageServerAuth, "localhost")
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
	pki := testpki.New(t)

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
		user := &tls.Config{RootCAs: pki.Pool}
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
		o := &Dialer{Proxy: ProxyDirect, TLSConfig: &tls.Config{RootCAs: pki.Pool}}
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
	pki := testpki.New(t)

	t.Run("TLS 1.2 minimum", func(t *testing.T) {
		srv := startTLSEcho(t, pki, func(c *tls.Config) {
			c.MinVersion = tls.VersionTLS10
			c.MaxVersion = tls.VersionTLS11
		})
		o := &Dialer{Proxy: ProxyDirect, TLSConfig: &tls.Config{RootCAs: pki.Pool}}
		_, err := o.Dial(context.Background(), mustParseBrokerURL(t, "mqtts://localhost:"+srv.port()))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "protocol version")
	})

	t.Run("client certificate", func(t *testing.T) {
		srv := startTLSEcho(t, pki, func(c *tls.Config) {
			c.ClientAuth = tls.RequireAndVerifyClientCert
			c.ClientCAs = pki.Pool
		})
		clientCert, _, _ := pki.Issue(t, "device-42", x509.ExtKeyUsageClientAuth)
		o := &Dialer{Proxy: ProxyDirect, TLSConfig: &tls.Config{
			RootCAs:      pki.Pool,
			Certificates: []tls.Certificate{clientCert},
		}}
		assertEcho(t, mustDial(t, o, "mqtts://localhost:"+srv.port()))
		peer := <-srv.peers
		require.NotNil(t, peer)
		assert.Equal(t, "device-42", peer.Subject.CommonName)
	})
}
