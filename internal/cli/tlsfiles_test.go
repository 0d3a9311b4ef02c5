package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/feedmq/feedmq/internal/testpki"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/mosquittotest"
)

// tlsFixture is a test CA and the files TLSFiles reads, in a temporary
// directory.
type tlsFixture struct {
	pki                       *testpki.PKI
	dir                       string
	caFile, certFile, keyFile string
	garbage, damaged          string // a PEM file without a certificate, a damaged one
}

func newTLSFixture(t *testing.T) *tlsFixture {
	t.Helper()
	f := &tlsFixture{pki: testpki.New(t), dir: t.TempDir()}
	write := func(name string, data []byte) string {
		p := filepath.Join(f.dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o600))
		return p
	}
	f.caFile = write("ca.PEM", f.pki.PEM)
	_, certPEM, keyPEM := f.pki.Issue(t, "device-42", x509.ExtKeyUsageClientAuth)
	f.certFile = write("client.crt", certPEM)
	f.keyFile = write("client.key", keyPEM)
	f.garbage = write("garbage.pem", []byte("not a certificate\n"))
	f.damaged = write("damaged.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}))
	return f
}

func TestTLSFilesConfig(t *testing.T) {
	f := newTLSFixture(t)
	pki, caFile, certFile, keyFile := f.pki, f.caFile, f.certFile, f.keyFile

	t.Run("CA file", func(t *testing.T) {
		cfg, err := TLSFiles{CAFile: caFile}.Config()
		require.NoError(t, err)
		require.NotNil(t, cfg.RootCAs)
		assert.True(t, cfg.RootCAs.Equal(pki.Pool))
		assert.False(t, cfg.InsecureSkipVerify)
		assert.Nil(t, cfg.VerifyConnection)
	})
	t.Run("no files: system roots", func(t *testing.T) {
		cfg, err := TLSFiles{}.Config()
		require.NoError(t, err)
		assert.Nil(t, cfg.RootCAs)
		assert.Empty(t, cfg.Certificates)
	})
	t.Run("system roots and CA file", func(t *testing.T) {
		if _, err := x509.SystemCertPool(); err != nil {
			t.Skip("no system roots:", err)
		}
		cfg, err := TLSFiles{CAFile: caFile, UseSystemRoots: true}.Config()
		require.NoError(t, err)
		want, err := x509.SystemCertPool()
		require.NoError(t, err)
		want.AddCert(pki.Cert)
		assert.True(t, cfg.RootCAs.Equal(want))
	})
	t.Run("client certificate", func(t *testing.T) {
		cfg, err := TLSFiles{CertFile: certFile, KeyFile: keyFile}.Config()
		require.NoError(t, err)
		require.Len(t, cfg.Certificates, 1)
		assert.Equal(t, "device-42", cfg.Certificates[0].Leaf.Subject.CommonName)
	})
	t.Run("settings", func(t *testing.T) {
		cfg, err := TLSFiles{ServerName: "broker.example", ALPN: []string{"mqtt"}, MinVersion: "tlsv1.3"}.Config()
		require.NoError(t, err)
		assert.Equal(t, "broker.example", cfg.ServerName)
		assert.Equal(t, []string{"mqtt"}, cfg.NextProtos)
		assert.Equal(t, uint16(tls.VersionTLS13), cfg.MinVersion)
	})
	t.Run("insecure", func(t *testing.T) {
		cfg, err := TLSFiles{CAFile: caFile, Insecure: true}.Config()
		require.NoError(t, err)
		assert.True(t, cfg.InsecureSkipVerify)
		assert.NotNil(t, cfg.VerifyConnection, "the chain is still verified")
	})
}

// TestTLSFilesCAPath reads a directory of CA files as c_rehash leaves it.
func TestTLSFilesCAPath(t *testing.T) {
	f := newTLSFixture(t)
	pki, dir := f.pki, f.dir
	caDir := filepath.Join(dir, "capath")
	require.NoError(t, os.Mkdir(caDir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(caDir, "ca.PEM"), pki.PEM, 0o600))
	require.NoError(t, os.Symlink("ca.PEM", filepath.Join(caDir, "0123abcd.0")))
	require.NoError(t, os.WriteFile(filepath.Join(caDir, "README"), []byte("hashed CA dir\n"), 0o600))
	require.NoError(t, os.Mkdir(filepath.Join(caDir, "sub"), 0o700))
	cfg, err := TLSFiles{CAPath: caDir}.Config()
	require.NoError(t, err)
	assert.True(t, cfg.RootCAs.Equal(pki.Pool))

	_, err = TLSFiles{CAPath: filepath.Join(caDir, "sub")}.Config()
	require.Error(t, err)
	assert.Contains(t, err.Error(), filepath.Join(caDir, "sub"))
	assert.Contains(t, err.Error(), "no PEM certificate")
}

func TestTLSFilesConfigErrors(t *testing.T) {
	f := newTLSFixture(t)
	dir, caFile, certFile, keyFile, garbage, damaged := f.dir, f.caFile, f.certFile, f.keyFile, f.garbage, f.damaged
	errorTests := []struct {
		name  string
		files TLSFiles
		want  []string
		is    error
	}{
		{"missing CA file", TLSFiles{CAFile: filepath.Join(dir, "nope.pem")}, []string{"CA file: ", "nope.pem"}, os.ErrNotExist},
		{"CA file without certificates", TLSFiles{CAFile: garbage}, []string{garbage, "no PEM certificate"}, nil},
		{"damaged CA certificate", TLSFiles{CAFile: damaged}, []string{damaged, "PEM block 1"}, nil},
		{"missing CA path", TLSFiles{CAPath: filepath.Join(dir, "nodir")}, []string{"CA path: ", "nodir"}, os.ErrNotExist},
		{"certificate without key", TLSFiles{CertFile: certFile}, []string{certFile, "without a key file"}, nil},
		{"key without certificate", TLSFiles{KeyFile: keyFile}, []string{keyFile, "without a certificate file"}, nil},
		{"missing key file", TLSFiles{CertFile: certFile, KeyFile: filepath.Join(dir, "nokey")}, []string{"key file: ", "nokey"}, os.ErrNotExist},
		{"key does not match", TLSFiles{CertFile: certFile, KeyFile: caFile}, []string{certFile, caFile}, nil},
		{"old TLS version", TLSFiles{MinVersion: "tlsv1.1"}, []string{`"tlsv1.1"`, "no longer supported"}, nil},
		{"unknown TLS version", TLSFiles{MinVersion: "sslv3"}, []string{`"sslv3"`, "unknown TLS version"}, nil},
	}
	for _, tt := range errorTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.files.Config()
			require.Error(t, err)
			// Worded for "Error: Problem setting TLS options: %s."
			assert.NotRegexp(t, `^\w+: `, err.Error(), "no package prefix")
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
		})
	}
}

func TestTLSVersionParsing(t *testing.T) {
	for in, want := range map[string]uint16{
		"":        0,
		"tlsv1.2": tls.VersionTLS12,
		"TLSv1.2": tls.VersionTLS12,
		"tlsv1.3": tls.VersionTLS13,
	} {
		got, err := parseTLSVersion(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"tlsv1", "tlsv1.0", "tlsv1.1", "1.2", "tls1.2"} {
		_, err := parseTLSVersion(in)
		assert.Error(t, err, in)
	}
}

// TestTLSFilesDial uses TLSFiles end to end, including mosquitto's meaning
// of --insecure: no host name check, but still a chain check.
func TestTLSFilesDial(t *testing.T) {
	pki := testpki.New(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.PEM")
	require.NoError(t, os.WriteFile(caFile, pki.PEM, 0o600))
	_, certPEM, keyPEM := pki.Issue(t, "device-42", x509.ExtKeyUsageClientAuth)
	certFile, keyFile := filepath.Join(dir, "c.crt"), filepath.Join(dir, "c.key")
	require.NoError(t, os.WriteFile(certFile, certPEM, 0o600))
	require.NoError(t, os.WriteFile(keyFile, keyPEM, 0o600))

	srv := startTLSEcho(t, pki)
	_, port, err := net.SplitHostPort(srv.addr)
	require.NoError(t, err)
	dialWith := func(f TLSFiles, addr string) error {
		cfg, err := f.Config()
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := (&tls.Dialer{Config: cfg}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		defer conn.Close()
		require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
		msg := []byte{0xc0, 0x00} // PINGREQ
		_, err = conn.Write(msg)
		require.NoError(t, err)
		got := make([]byte, len(msg))
		_, err = io.ReadFull(conn, got)
		require.NoError(t, err)
		assert.Equal(t, msg, got)
		return nil
	}

	files := TLSFiles{CAFile: caFile, CertFile: certFile, KeyFile: keyFile}
	require.NoError(t, dialWith(files, "localhost:"+port))
	assert.Equal(t, "device-42", (<-srv.peers).Subject.CommonName)

	// 127.0.0.1 is not in the certificate: refused unless insecure.
	err = dialWith(files, srv.addr)
	var hostErr x509.HostnameError
	require.ErrorAs(t, err, &hostErr)

	files.Insecure = true
	require.NoError(t, dialWith(files, srv.addr))

	// Insecure does not mean "trust anyone": an unknown CA is still refused.
	other := testpki.New(t)
	otherCA := filepath.Join(dir, "other.PEM")
	require.NoError(t, os.WriteFile(otherCA, other.PEM, 0o600))
	files.CAFile = otherCA
	err = dialWith(files, srv.addr)
	var unknown x509.UnknownAuthorityError
	require.ErrorAs(t, err, &unknown)
}

// TestTLSFilesMosquitto connects the client to mosquitto with the files
// mosquittotest wrote, as mqtt-pub and mqtt-sub do.
func TestTLSFilesMosquitto(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Options{TLS: true})
	mutual := mosquittotest.Start(t, mosquittotest.Options{TLS: true, RequireClientCert: true})
	connect := func(broker string, files TLSFiles) error {
		tc, err := files.Config()
		require.NoError(t, err)
		cfg := client.Config{Brokers: []string{broker}, ConnectTimeout: 5 * time.Second}
		cfg.Transport.TLSConfig = tc
		c, err := client.New(cfg)
		require.NoError(t, err)
		defer func() { assert.NoError(t, c.Close()) }()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return c.Connect(ctx)
	}

	t.Run("insecure", func(t *testing.T) {
		// --insecure drops the host name check only: the chain is still
		// verified against the CA file.
		assert.NoError(t, connect(b.TLSURL(), TLSFiles{CAFile: b.CAFile(), ServerName: "mqtt.example.com", Insecure: true}))
		err := connect(b.TLSURL(), TLSFiles{CAFile: mutual.CAFile(), Insecure: true})
		assert.Error(t, err, "a certificate of another CA is refused even with Insecure")
	})
	t.Run("CA file and client certificate", func(t *testing.T) {
		files := TLSFiles{CAFile: b.CAFile(), CertFile: b.ClientCertFile(), KeyFile: b.ClientKeyFile()}
		assert.NoError(t, connect(b.TLSURL(), files))
	})
	t.Run("client certificate required", func(t *testing.T) {
		files := TLSFiles{CAFile: mutual.CAFile(), CertFile: mutual.ClientCertFile(), KeyFile: mutual.ClientKeyFile()}
		assert.NoError(t, connect(mutual.TLSURL(), files))
		assert.Error(t, connect(mutual.TLSURL(), TLSFiles{CAFile: mutual.CAFile()}))
	})
}

// tlsEcho is a TLS echo server on loopback with a certificate for
// "localhost" only (no IP SANs), which requires a client certificate.
type tlsEcho struct {
	addr  string
	peers chan *x509.Certificate // client certificate of each handshake
}

func startTLSEcho(t *testing.T, pki *testpki.PKI) *tlsEcho {
	t.Helper()
	cert, _, _ := pki.Issue(t, "localhost", x509.ExtKeyUsageServerAuth, "localhost")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pki.Pool,
	})
	require.NoError(t, err)
	s := &tlsEcho{addr: ln.Addr().String(), peers: make(chan *x509.Certificate, 16)}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				tc := c.(*tls.Conn)
				tc.SetDeadline(time.Now().Add(5 * time.Second))
				if tc.HandshakeContext(context.Background()) != nil {
					return
				}
				s.peers <- tc.ConnectionState().PeerCertificates[0]
				io.Copy(tc, tc)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return s
}
