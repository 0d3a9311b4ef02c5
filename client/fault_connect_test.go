package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/brokertest"
	"github.com/feedmq/feedmq/packets"
)

// TestFaultConnackWithheld accepts TCP and reads CONNECT, the first packet
// on the connection (MQTT-3.1.0-1, MQTT5-3.1.0-1), but never answers: Connect fails with
// ErrConnackTimeout after ConnectTimeout (MQTT 3.1.1 §3.1.4) and the client
// closes the connection.
func TestFaultConnackWithheld(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		srv := brokertest.New(t)
		cfg := faultLevel(srv, level)
		cfg.ConnectTimeout = 200 * time.Millisecond
		c, err := client.New(cfg)
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, c.Close()) })
		start := time.Now()
		errc := faultGo(func() error { return c.Connect(context.Background()) })
		conn := srv.Accept(t)
		conn.ExpectConnect(t) // the first packet (MQTT-3.1.0-1)
		err = faultRecv(t, errc)
		require.ErrorIs(t, err, client.ErrConnackTimeout)
		assert.GreaterOrEqual(t, time.Since(start), cfg.ConnectTimeout)
		conn.ExpectClosed(t)
		srv.ExpectNoConnection(t, quiet) // no ConnectRetry: no second attempt
	})
}

// TestFaultConnackRefused answers CONNECT with each refusal code: Connect
// returns a *ConnectError with the code. Codes 4 and 5 are permanent and end
// Connect at once even with ConnectRetry; codes 1 to 3 are retried until
// the context ends (MQTT 3.1.1 §3.2.2.3).
func TestFaultConnackRefused(t *testing.T) {
	codes := []packets.ConnackCode{
		packets.ConnackUnacceptableProtocolVersion,
		packets.ConnackIdentifierRejected,
		packets.ConnackServerUnavailable,
		packets.ConnackBadUsernameOrPassword,
		packets.ConnackNotAuthorized,
	}
	for _, code := range codes {
		permanent := code == packets.ConnackBadUsernameOrPassword || code == packets.ConnackNotAuthorized
		t.Run(code.String(), func(t *testing.T) {
			t.Run("once", func(t *testing.T) {
				srv := brokertest.New(t)
				c, err := client.New(faultConfig(srv))
				require.NoError(t, err)
				t.Cleanup(func() { assert.NoError(t, c.Close()) })
				errc := faultGo(func() error { return c.Connect(context.Background()) })
				conn := srv.Accept(t)
				conn.ExpectConnect(t)
				conn.Connack(t, false, code)
				err = faultRecv(t, errc)
				var ce *client.ConnectError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, code, ce.Code)
				assert.Equal(t, permanent, ce.Permanent())
				conn.ExpectClosed(t)
				srv.ExpectNoConnection(t, quiet)
			})
			t.Run("ConnectRetry", func(t *testing.T) {
				srv := brokertest.New(t)
				cfg := faultConfig(srv)
				cfg.ConnectRetry = true
				c, err := client.New(cfg)
				require.NoError(t, err)
				t.Cleanup(func() { assert.NoError(t, c.Close()) })
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				errc := faultGo(func() error { return c.Connect(ctx) })
				if permanent {
					conn := srv.Accept(t)
					conn.ExpectConnect(t)
					conn.Connack(t, false, code)
					err := faultRecv(t, errc)
					var ce *client.ConnectError
					require.ErrorAs(t, err, &ce, "a permanent refusal ends Connect at once")
					assert.Equal(t, code, ce.Code)
					srv.ExpectNoConnection(t, quiet)
					return
				}
				for range 3 {
					conn := srv.Accept(t)
					conn.ExpectConnect(t)
					conn.Connack(t, false, code)
					conn.ExpectClosed(t)
					faultNoRecv(t, errc, "Connect result while retrying")
				}
				cancel()
				err = faultRecv(t, errc)
				assert.ErrorIs(t, err, context.Canceled)
			})
		})
	}
}

// TestFaultReconnectRefused refuses the reconnection of an established
// client. A transient code (3) keeps it reconnecting; a permanent one (5)
// stops it: Done is closed and Err is the *ConnectError.
func TestFaultReconnectRefused(t *testing.T) {
	srv := brokertest.New(t)
	cfg := faultConfig(srv)
	lost := faultLost(&cfg)
	c, conn := faultConnect(t, srv, cfg, false)
	conn.Close()
	faultRecv(t, lost)

	conn = srv.Accept(t)
	conn.ExpectConnect(t)
	conn.Connack(t, false, packets.ConnackServerUnavailable)
	conn.ExpectClosed(t)

	conn = srv.Accept(t)
	conn.ExpectConnect(t)
	conn.Connack(t, false, packets.ConnackNotAuthorized)
	conn.ExpectClosed(t)
	faultRecv(t, c.Done())
	var ce *client.ConnectError
	require.ErrorAs(t, c.Err(), &ce)
	assert.Equal(t, packets.ConnackNotAuthorized, ce.Code)
	srv.ExpectNoConnection(t, quiet)
	err := c.Publish(context.Background(), "a", nil, client.WithQoS(client.AtLeastOnce))
	assert.True(t, errors.Is(err, client.ErrClosed), "publish after the client stopped: %v", err)
}

// TestFaultNeedsNoExtensions: the client sends a plain CONNECT of its level
// first (MQTT-3.1.0-1, MQTT5-3.1.0-1) and works with a broker that offers nothing beyond
// the specification (MQTT-7.0.0-2).
func TestFaultNeedsNoExtensions(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		srv := brokertest.New(t)
		c, err := client.New(faultLevel(srv, level))
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, c.Close()) })
		errc := faultGo(func() error { return c.Connect(context.Background()) })
		conn := srv.Accept(t)
		connect := conn.ExpectConnect(t)
		assert.Equal(t, "MQTT", connect.ProtocolName)
		assert.Equal(t, level, connect.ProtocolLevel)
		conn.Connack(t, false, packets.ConnackAccepted)
		require.NoError(t, faultRecv(t, errc))
		done := faultGo(func() error {
			return c.Publish(context.Background(), "plain", []byte("x"), client.WithQoS(client.AtLeastOnce))
		})
		pub := conn.Expect(t, packets.TypePublish).(*packets.Publish)
		conn.Send(t, &packets.Puback{PacketID: pub.PacketID})
		require.NoError(t, faultRecv(t, done))
	})
}

// TestFaultSessionPresentOnCleanSession: a clean-session client has no
// session state, so a CONNACK with Session Present 1 makes it close the
// connection (MQTT5-3.2.2-4; at 3.1.1 the broker broke MQTT-3.2.2-1):
// Connect fails with ErrProtocolViolation and nothing is sent after
// CONNECT.
func TestFaultSessionPresentOnCleanSession(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		srv := brokertest.New(t)
		c, err := client.New(faultLevel(srv, level))
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, c.Close()) })
		errc := faultGo(func() error { return c.Connect(context.Background()) })
		conn, connect := srv.AcceptConnected(t, true)
		assert.True(t, connect.CleanSession)
		conn.ExpectClosed(t)
		require.ErrorIs(t, faultRecv(t, errc), client.ErrProtocolViolation)
		srv.ExpectNoConnection(t, quiet)
	})
}
