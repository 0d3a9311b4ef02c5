package client_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/client/dial"
	"github.com/feedmq/feedmq/internal/mosquittotest"
	"github.com/feedmq/feedmq/packets"
)

// itRoundTrip subscribes c to topic, publishes payload at QoS 1 and checks
// that it comes back intact.
func itRoundTrip(t *testing.T, c *client.Client, topic string, payloads ...[]byte) {
	t.Helper()
	ctx := testCtx(t)
	got, h := itSink()
	_, err := c.Subscribe(ctx, topic, client.AtLeastOnce, h)
	require.NoError(t, err)
	for _, p := range payloads {
		require.NoError(t, c.Publish(ctx, topic, p, client.WithQoS(client.AtLeastOnce)))
	}
	for i, p := range payloads {
		m := itRecv(t, ctx, got, fmt.Sprintf("message %d", i))
		assert.True(t, bytes.Equal(p, m.Payload), "message %d: %d bytes, want %d", i, len(m.Payload), len(p))
	}
}

// itConnectErr connects a client with cfg and returns Connect's error.
func itConnectErr(t *testing.T, cfg client.Config) error {
	t.Helper()
	cfg.ConnectTimeout = 5 * time.Second
	c, err := client.New(cfg)
	require.NoError(t, err)
	defer func() { assert.NoError(t, c.Close()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.Connect(ctx)
}

// TestIntegrationTLS connects over mqtts:// with the broker's CA, at 3.1.1
// and 5.0 (MQTT5-4.2.0-1: TLS is one of the ordered, lossless, two-way
// byte streams MQTT runs over), fails without it, and presents a client
// certificate where the broker requires one (MQTT 3.1.1 §5.4: the server
// certificate is checked against the host name).
func TestIntegrationTLS(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{TLS: true})
	mutual := mosquittotest.Start(t, mosquittotest.Options{TLS: true, RequireClientCert: true})

	t.Run("CA pool", func(t *testing.T) {
		// Over TLS at either level (MQTT5-4.2.0-1).
		itEachProtocol(t, func(t *testing.T, proto packets.ProtocolLevel) {
			c := newClient(t, client.Config{
				Brokers:   []string{b.TLSURL()},
				Transport: dial.Dialer{TLSConfig: &tls.Config{RootCAs: b.CertPool()}},
				Protocol:  proto,
			})
			itRoundTrip(t, c, fmt.Sprintf("test/tls/%d", proto), []byte("secret"))
		})
	})
	t.Run("unknown CA", func(t *testing.T) {
		err := itConnectErr(t, client.Config{Brokers: []string{b.TLSURL()}})
		require.Error(t, err)
		var unknown x509.UnknownAuthorityError
		assert.ErrorAs(t, err, &unknown, "%v", err)
		var refused *client.ConnectError
		assert.False(t, errors.As(err, &refused), "not a CONNACK refusal")
	})
	t.Run("host name", func(t *testing.T) {
		// The certificate names 127.0.0.1 and localhost; the URL host is
		// the name checked (SNI and verification, MQTT 3.1.1 §5.4).
		u := "mqtts://localhost:" + itPortOf(b.TLSAddr())
		c := newClient(t, client.Config{
			Brokers:   []string{u},
			Transport: dial.Dialer{TLSConfig: &tls.Config{RootCAs: b.CertPool()}},
		})
		itRoundTrip(t, c, "test/tls-localhost", []byte("x"))

		err := itConnectErr(t, client.Config{
			Brokers:   []string{b.TLSURL()},
			Transport: dial.Dialer{TLSConfig: &tls.Config{RootCAs: b.CertPool(), ServerName: "mqtt.example.com"}},
		})
		var mismatch x509.HostnameError
		assert.ErrorAs(t, err, &mismatch, "%v", err)
	})
	t.Run("client certificate required", func(t *testing.T) {
		c := newClient(t, client.Config{
			Brokers:   []string{mutual.TLSURL()},
			Transport: dial.Dialer{TLSConfig: mutual.TLSConfig()},
		})
		itRoundTrip(t, c, "test/mutual", []byte("x"))
	})
	t.Run("client certificate missing", func(t *testing.T) {
		err := itConnectErr(t, client.Config{
			Brokers:   []string{mutual.TLSURL()},
			Transport: dial.Dialer{TLSConfig: &tls.Config{RootCAs: mutual.CertPool()}},
		})
		require.Error(t, err)
		var refused *client.ConnectError
		assert.False(t, errors.As(err, &refused), "not a CONNACK refusal: %v", err)
	})
}

// TestIntegrationWebSocket speaks MQTT over ws:// to mosquitto's WebSockets
// listener: the client offers the "mqtt" subprotocol, which mosquitto
// requires (MQTT-6.0.0-3), and sends binary frames (MQTT-6.0.0-1). Packets
// and frames need not align (MQTT-6.0.0-2): the client's writer puts the
// PUBLISH packets queued by PublishAsync into shared frames, and a payload
// larger than the client's read buffer spans several reads of one frame.
//
// Kept to one short test: mosquitto 2.0.11 binds this listener on every
// interface, so it runs in a private network namespace whose only interface
// is loopback. Payloads stay small because that mosquitto sends large
// messages over WebSockets at about 40 KB/s (a 50 KB message takes 1.2 s
// whatever the client does; the frame arrives whole after that time).
func TestIntegrationWebSocket(t *testing.T) {
	t.Parallel()
	if !mosquittotest.RunInPrivateNetwork(t) {
		return
	}
	b := mosquittotest.Start(t, mosquittotest.Options{WebSockets: true})
	// The same at MQTT 5.0 (MQTT5-6.0.0-1, MQTT5-6.0.0-2, MQTT5-6.0.0-3;
	// WebSocket as the byte stream, MQTT5-4.2.0-1).
	for _, level := range []packets.ProtocolLevel{client.MQTT311, client.MQTT5} {
		t.Run(fmt.Sprintf("level %d", level), func(t *testing.T) {
			ctx := testCtx(t)
			topic := fmt.Sprintf("test/ws/%d", level)
			c := newClient(t, client.Config{Brokers: []string{b.WSURL()}, Protocol: level})
			got, h := itSink()
			_, err := c.Subscribe(ctx, topic, client.AtLeastOnce, h)
			require.NoError(t, err)

			var want [][]byte
			var ds []*client.Delivery
			for i := range 20 {
				p := []byte(fmt.Sprintf("message %d", i))
				if i == 10 {
					p = bytes.Repeat([]byte("0123456789abcdef"), 512) // 8 KB
				}
				d, err := c.PublishAsync(topic, p, client.WithQoS(client.AtLeastOnce))
				require.NoError(t, err)
				want, ds = append(want, p), append(ds, d)
			}
			for i, d := range ds {
				require.NoError(t, d.Wait(ctx), "delivery %d", i)
			}
			for i, p := range want {
				m := itRecv(t, ctx, got, fmt.Sprintf("message %d", i))
				assert.True(t, bytes.Equal(p, m.Payload), "message %d: %d bytes, want %d", i, len(m.Payload), len(p))
			}
		})
	}
	assert.Contains(t, b.Log(), "on port "+itPortOf(b.WSAddr()), "the client came in through the WebSockets listener")
}

func itPortOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}
