package cli

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/client/dial"
	"github.com/feedmq/feedmq/packets"
)

func parse(t *testing.T, tool Tool, args ...string) *Options {
	t.Helper()
	o, err := Parse(tool, args, noEnv)
	require.NoError(t, err)
	return o
}

// TestBrokerURL checks the broker address and transport each way of naming
// it gives, with mosquitto's rules for when TLS is on.
func TestBrokerURL(t *testing.T) {
	abs, err := filepath.Abs("rel.sock")
	require.NoError(t, err)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "mqtt://localhost:1883"},
		{[]string{"-h", "::1", "-p", "1884"}, "mqtt://[::1]:1884"},
		{[]string{"--cafile", "ca.pem"}, "mqtts://localhost:8883"},
		{[]string{"--capath", "dir", "-p", "1999"}, "mqtts://localhost:1999"},
		{[]string{"-p", "8883"}, "mqtts://localhost:8883"},
		{[]string{"--tls-use-os-certs"}, "mqtts://localhost:1883"},
		{[]string{"--cert", "c", "--key", "k", "--insecure"}, "mqtt://localhost:1883"}, // no CA: no TLS, as mosquitto
		{[]string{"-L", "mqtts://h/t"}, "mqtts://h:8883"},
		{[]string{"-L", "ws://h/t"}, "ws://h:1883/mqtt"},
		{[]string{"-L", "wss://h:443/t"}, "wss://h:443/mqtt"},
		{[]string{"--unix", "/tmp/mosq sock"}, "unix:///tmp/mosq%20sock"},
		{[]string{"--unix", "rel.sock"}, "unix://" + abs},
	} {
		t.Run(tc.want, func(t *testing.T) {
			o := parse(t, Pub, append([]string{"-t", "a", "-n"}, tc.args...)...)
			got, _ := o.BrokerURL()
			assert.Equal(t, tc.want, got)
			_, err := dial.ParseBrokerURL(got)
			assert.NoError(t, err)
		})
	}
}

func TestClientConfig(t *testing.T) {
	out := Output{Errors: io.Discard}
	cfg, err := parse(t, Sub, "-t", "a", "-I", "pre-").ClientConfig(out)
	require.NoError(t, err)
	assert.Equal(t, "pre-"+strconv.Itoa(os.Getpid()), cfg.ClientID)
	assert.False(t, cfg.PersistentSession)
	assert.Equal(t, packets.MaxRemainingLength, cfg.MaxPacketSize, "mqtt-sub takes any message mosquitto_sub takes")
	_, err = client.New(cfg)
	assert.NoError(t, err)
	cfg, err = parse(t, Sub, "-t", "a", "--max-packet-size", "4096").ClientConfig(out)
	require.NoError(t, err)
	assert.Equal(t, 4096, cfg.MaxPacketSize)

	o := parse(t, Sub, "-t", "a", "-k", "30", "-M", "5", "-c", "-i", "x", "-V", "31",
		"--will-topic", "w", "--will-payload", "bye", "--will-qos", "2", "--will-retain", "-u", "u", "-P", "p", "-A", "127.0.0.1")
	cfg, err = o.ClientConfig(out)
	require.NoError(t, err)
	assert.Equal(t, "x", cfg.ClientID)
	assert.Equal(t, 30*time.Second, cfg.KeepAlive)
	assert.Equal(t, 5, cfg.MaxInflight)
	assert.True(t, cfg.PersistentSession)
	assert.Equal(t, client.MQTT31, cfg.Protocol)
	assert.Equal(t, &client.Will{Topic: "w", Payload: []byte("bye"), QoS: 2, Retain: true}, cfg.Will)
	assert.Equal(t, "u", cfg.Username)
	assert.Equal(t, "p", cfg.Password)
	assert.Equal(t, dial.ProxyDirect, cfg.Transport.Proxy, "mosquitto ignores ALL_PROXY")
	require.NotNil(t, cfg.Transport.NetDialer)
	require.IsType(t, &net.TCPAddr{}, cfg.Transport.NetDialer.LocalAddr)
	assert.True(t, net.IPv4(127, 0, 0, 1).Equal(cfg.Transport.NetDialer.LocalAddr.(*net.TCPAddr).IP))
	assert.Nil(t, cfg.Transport.TLSConfig)
	_, err = client.New(cfg)
	assert.NoError(t, err)

	cfg, err = parse(t, Pub, "-t", "a", "-n", "--proxy", "socks5h://proxy").ClientConfig(out)
	require.NoError(t, err)
	assert.Equal(t, "socks5h://proxy", cfg.Transport.Proxy)
	assert.Zero(t, cfg.MaxPacketSize, "mqtt-pub receives only acknowledgments: the client's default")
}

func TestClientConfigErrors(t *testing.T) {
	certFile, _ := writeCert(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-i", ""}, "Error: Invalid id.\n"},
		{[]string{"-i", "\xff"}, "Error: Invalid id.\n"},
		{[]string{"-P", "secret"}, "Error: Problem setting username and/or password.\n"},
		{[]string{"--cafile", filepath.Join(t.TempDir(), "missing.pem")}, "Error: Problem setting TLS options: CA file: open "},
		{[]string{"--cafile", certFile, "--tls-version", "tlsv1.1"}, "Error: Problem setting TLS options: TLS version \"tlsv1.1\" is no longer supported"},
		{[]string{"--cafile", certFile, "--ciphers", "HIGH:!aNULL"}, "Error: Problem setting TLS options: --ciphers: unknown or unsupported cipher \"HIGH\""},
		{[]string{"--cafile", certFile, "--cert", certFile, "--key", certFile}, "Error: Problem setting TLS options: certificate file"},
		{[]string{"-A", "no such host.invalid"}, "Error: Invalid bind address no such host.invalid"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, err := parse(t, Pub, append([]string{"-t", "a", "-n"}, tc.args...)...).ClientConfig(Output{Errors: io.Discard})
			var ue *UsageError
			require.ErrorAs(t, err, &ue)
			assert.Contains(t, ue.Msg, tc.want)
			assert.NotContains(t, ue.Msg, "secret")
			assert.False(t, ue.Hint)
		})
	}
}

func TestClientConfigTLS(t *testing.T) {
	certFile, keyFile := writeCert(t)
	o := parse(t, Pub, "-t", "a", "-n", "--cafile", certFile, "--cert", certFile, "--key", keyFile, "--tls-alpn", "mqtt",
		"--tls-version", "tlsv1.3", "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256:TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "--insecure")
	cfg, err := o.ClientConfig(Output{Errors: io.Discard})
	require.NoError(t, err)
	assert.Equal(t, []string{"mqtts://localhost:8883"}, cfg.Brokers)
	tc := cfg.Transport.TLSConfig
	require.NotNil(t, tc)
	assert.Equal(t, []string{"mqtt"}, tc.NextProtos)
	assert.Equal(t, uint16(tls.VersionTLS13), tc.MinVersion)
	assert.Equal(t, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}, tc.CipherSuites)
	assert.Len(t, tc.Certificates, 1)
	assert.True(t, tc.InsecureSkipVerify)
	assert.NotNil(t, tc.VerifyConnection, "--insecure still checks the chain")
}

func TestCipherSuites(t *testing.T) {
	ids, err := CipherSuites("AES128-SHA, ecdhe-ecdsa-chacha20-poly1305 TLS_RSA_WITH_AES_256_GCM_SHA384")
	require.NoError(t, err)
	assert.Equal(t, []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384}, ids)
	_, err = CipherSuites("TLS_AES_128_GCM_SHA256")
	assert.ErrorContains(t, err, "TLS 1.3")
	_, err = CipherSuites("::")
	assert.ErrorContains(t, err, "no cipher")
}

func TestNewOutput(t *testing.T) {
	var stdout, stderr bytes.Buffer
	out := parse(t, Pub, "-t", "a", "-n", "--quiet").NewOutput(&stdout, &stderr)
	assert.Equal(t, io.Discard, out.Errors)
	assert.Nil(t, out.Trace)
	cfg, err := parse(t, Pub, "-t", "a", "-n").ClientConfig(out)
	require.NoError(t, err)
	assert.Nil(t, cfg.OnPacket, "no trace without -d")

	// -d traces on stdout, as mosquitto's tools do; --quiet silences
	// mosquitto_sub's "Subscribed" line, not the trace.
	o := parse(t, Sub, "-t", "a", "-d", "--quiet")
	out = o.NewOutput(&stdout, &stderr)
	require.NotNil(t, out.Trace)
	cfg, err = o.ClientConfig(out)
	require.NoError(t, err)
	require.NotNil(t, cfg.OnPacket)
	assert.Nil(t, cfg.Logger)
	cfg.OnPacket(false, &packets.Suback{PacketID: 1, ReturnCodes: []packets.SubackCode{0}})
	assert.Equal(t, "Client (null) received SUBACK\n", stdout.String())
	assert.Empty(t, stderr.String())
}

// TestConnectionLostWarning checks that a packet above --max-packet-size,
// which drops the connection, is reported without -d, and that the other
// causes of a reconnection stay quiet, as in mosquitto_sub.
func TestConnectionLostWarning(t *testing.T) {
	var stderr bytes.Buffer
	cfg, err := parse(t, Sub, "-t", "a", "--max-packet-size", "4").ClientConfig(Output{Errors: &stderr})
	require.NoError(t, err)
	cfg.OnConnectionLost(io.EOF)
	assert.Empty(t, stderr.String())

	r := packets.NewReader(bytes.NewReader([]byte{
		0x30, 0x05, // PUBLISH, remaining length 5
		0x00, 0x01, 'a', // topic "a"
		'x', 'y', // payload
	}))
	r.SetMaxPacketSize(4)
	_, err = r.ReadPacket()
	require.ErrorIs(t, err, packets.ErrTooLarge)
	cfg.OnConnectionLost(fmt.Errorf("client: malformed packet from the broker: %w", err))
	assert.Regexp(t, `^Warning: malformed packet from the broker: .*remaining length 5 exceeds the limit of 4 bytes \(see --max-packet-size\)\n$`, stderr.String())
}

// writeCert writes a self-signed certificate and its key as PEM files.
func writeCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certFile, keyFile
}
