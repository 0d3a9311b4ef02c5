package client_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/brokertest"
	"github.com/feedmq/feedmq/packets"
)

// scram is a SCRAM-style challenge and response over a shared secret: the
// client sends a nonce, the server a nonce of its own, the client proves
// it knows the secret over both, and the server proves it too.
type scram struct {
	secret      []byte
	clientNonce []byte
	serverNonce []byte
	proveWrong  bool // the client's proof is wrong (a bad secret)
}

func mac(secret []byte, parts ...[]byte) []byte {
	h := hmac.New(sha256.New, secret)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

func (s *scram) Method() string { return "SCRAM-TEST" }

func (s *scram) Start(context.Context) ([]byte, error) {
	s.clientNonce = []byte("client-nonce")
	return s.clientNonce, nil
}

func (s *scram) Continue(_ context.Context, challenge []byte) ([]byte, error) {
	s.serverNonce = challenge
	secret := s.secret
	if s.proveWrong {
		secret = []byte("wrong")
	}
	return mac(secret, []byte("client"), s.clientNonce, s.serverNonce), nil
}

func (s *scram) Done(_ context.Context, proof []byte) error {
	if !hmac.Equal(proof, mac(s.secret, []byte("server"), s.clientNonce, s.serverNonce)) {
		return errors.New("server proof does not verify")
	}
	return nil
}

// serveScram plays the server's side of one exchange on conn, starting with
// the client's first data, and returns the client's proof and whether it
// verified.
func serveScram(t *testing.T, conn *brokertest.Conn, secret, first []byte) (ok bool) {
	t.Helper()
	nonce := []byte("server-nonce")
	challenge := &packets.Auth{ReasonCode: packets.ReasonContinueAuthentication, Properties: &packets.Properties{}}
	challenge.Properties.SetAuthenticationMethod("SCRAM-TEST")
	challenge.Properties.SetAuthenticationData(nonce)
	conn.Send(t, challenge)
	answer := conn.Expect(t, packets.TypeAuth).(*packets.Auth)
	// Every AUTH names the method of the CONNECT (MQTT5-4.12.0-5), and
	// answers a challenge with 0x18 (MQTT5-4.12.0-3).
	assert.Equal(t, packets.ReasonContinueAuthentication, answer.ReasonCode)
	require.NotNil(t, answer.Properties)
	assert.Equal(t, "SCRAM-TEST", answer.Properties.AuthenticationMethod)
	return bytes.Equal(answer.Properties.AuthenticationData, mac(secret, []byte("client"), first, nonce))
}

func scramConfig(srv *brokertest.Server, a client.Authenticator) client.Config {
	cfg := faultConfig(srv)
	cfg.Protocol = client.MQTT5
	cfg.MQTT5.Authenticator = a
	return cfg
}

func successConnack(proof []byte) *packets.Connack {
	ack := &packets.Connack{Properties: &packets.Properties{}}
	ack.Properties.SetAuthenticationMethod("SCRAM-TEST")
	ack.Properties.SetAuthenticationData(proof)
	return ack
}

// TestFaultEnhancedAuthentication runs a challenge and response inside the
// handshake (MQTT 5.0 §4.12), and refuses a server whose proof does not
// verify. A message published during the exchange waits for CONNACK: after
// a CONNECT with an Authentication Method the client sends nothing but AUTH
// (or DISCONNECT) until CONNACK (MQTT5-3.1.2-30).
func TestFaultEnhancedAuthentication(t *testing.T) {
	secret := []byte("s3cret")
	for _, tc := range []struct {
		name      string
		goodProof bool
	}{{"server proof verifies", true}, {"server proof is wrong", false}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := brokertest.New(t)
			a := &scram{secret: secret}
			c, err := client.New(scramConfig(srv, a))
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			errc := faultGo(func() error { return c.Connect(context.Background()) })

			conn := srv.Accept(t)
			connect := conn.ExpectConnect(t)
			require.NotNil(t, connect.Properties)
			assert.Equal(t, "SCRAM-TEST", connect.Properties.AuthenticationMethod)
			first := connect.Properties.AuthenticationData
			assert.Equal(t, []byte("client-nonce"), first)
			d, err := c.PublishAsync("during/auth", []byte("x"), client.WithQoS(client.AtLeastOnce))
			require.NoError(t, err)
			// serveScram fails on anything but AUTH (MQTT5-3.1.2-30).
			require.True(t, serveScram(t, conn, secret, first), "the client's proof verifies")
			conn.ExpectNothing(t, quiet) // no PUBLISH before CONNACK (MQTT5-3.1.2-30)
			proof := mac(secret, []byte("server"), first, []byte("server-nonce"))
			if !tc.goodProof {
				proof = []byte("forged")
			}
			conn.Send(t, successConnack(proof))
			err = faultRecv(t, errc)
			if tc.goodProof {
				require.NoError(t, err)
				pub := conn.ExpectPublish(t) // the first packet after CONNACK
				assert.Equal(t, "during/auth", pub.TopicName)
				conn.Send(t, &packets.Puback{PacketID: pub.PacketID})
				require.NoError(t, faultDone(t, d))
				return
			}
			require.ErrorIs(t, err, client.ErrAuthentication)
			for {
				// A DISCONNECT may end the connection; the PUBLISH never goes out.
				p, open := conn.Receive(t)
				if !open {
					break
				}
				require.Equal(t, packets.TypeDisconnect, p.Type(), "after a failed authentication: %v", p)
			}
		})
	}
}

// TestFaultReauthenticate runs the exchange again on the live connection:
// AUTH 0x19 with the same method (MQTT5-4.12.1-1), then the challenge.
func TestFaultReauthenticate(t *testing.T) {
	secret := []byte("s3cret")
	srv := brokertest.New(t)
	a := &scram{secret: secret}
	c, err := client.New(scramConfig(srv, a))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	errc := faultGo(func() error { return c.Connect(context.Background()) })
	conn := srv.Accept(t)
	connect := conn.ExpectConnect(t)
	first := connect.Properties.AuthenticationData
	require.True(t, serveScram(t, conn, secret, first))
	conn.Send(t, successConnack(mac(secret, []byte("server"), first, []byte("server-nonce"))))
	require.NoError(t, faultRecv(t, errc))

	reauth := faultGo(func() error { return c.Reauthenticate(context.Background()) })
	start := conn.Expect(t, packets.TypeAuth).(*packets.Auth)
	assert.Equal(t, packets.ReasonReAuthenticate, start.ReasonCode, "MQTT5-4.12.1-1")
	assert.Equal(t, "SCRAM-TEST", start.Properties.AuthenticationMethod, "MQTT5-4.12.1-1")
	require.True(t, serveScram(t, conn, secret, start.Properties.AuthenticationData))
	done := &packets.Auth{ReasonCode: packets.ReasonSuccess, Properties: &packets.Properties{}}
	done.Properties.SetAuthenticationMethod("SCRAM-TEST")
	done.Properties.SetAuthenticationData(mac(secret, []byte("server"), start.Properties.AuthenticationData, []byte("server-nonce")))
	conn.Send(t, done)
	require.NoError(t, faultRecv(t, reauth))

	// The connection carries on.
	d, err := c.PublishAsync("after/reauth", []byte("x"), client.WithQoS(client.AtLeastOnce))
	require.NoError(t, err)
	pub := conn.ExpectPublish(t)
	conn.Send(t, &packets.Puback{PacketID: pub.PacketID})
	require.NoError(t, faultDone(t, d))
}

// TestFaultAuthProtocolErrors: an AUTH to a client that runs no exchange
// (MQTT5-4.12.0-7), or one naming another method than the CONNECT's
// (MQTT5-4.12.0-5), is a protocol error: DISCONNECT 0x82, then close
// (MQTT5-4.12.1-2 for a failed re-authentication).
func TestFaultAuthProtocolErrors(t *testing.T) {
	bad := &packets.Auth{ReasonCode: packets.ReasonContinueAuthentication, Properties: &packets.Properties{}}
	bad.Properties.SetAuthenticationMethod("OTHER")

	t.Run("AUTH without an exchange", func(t *testing.T) {
		srv := brokertest.New(t)
		cfg := faultConfig(srv)
		cfg.Protocol = client.MQTT5
		c, err := client.New(cfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		errc := faultGo(func() error { return c.Connect(context.Background()) })
		conn := srv.Accept(t)
		conn.ExpectConnect(t)
		conn.Send(t, &packets.Connack{})
		require.NoError(t, faultRecv(t, errc))
		conn.Send(t, bad)
		disc := conn.Expect(t, packets.TypeDisconnect).(*packets.Disconnect)
		assert.Equal(t, packets.ReasonProtocolError, disc.ReasonCode)
		conn.ExpectClosed(t)
	})

	t.Run("re-authentication answered with another method", func(t *testing.T) {
		secret := []byte("s3cret")
		srv := brokertest.New(t)
		c, err := client.New(scramConfig(srv, &scram{secret: secret}))
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		errc := faultGo(func() error { return c.Connect(context.Background()) })
		conn := srv.Accept(t)
		first := conn.ExpectConnect(t).Properties.AuthenticationData
		require.True(t, serveScram(t, conn, secret, first))
		conn.Send(t, successConnack(mac(secret, []byte("server"), first, []byte("server-nonce"))))
		require.NoError(t, faultRecv(t, errc))

		reauth := faultGo(func() error { return c.Reauthenticate(context.Background()) })
		conn.Expect(t, packets.TypeAuth)
		conn.Send(t, bad)
		require.ErrorIs(t, faultRecv(t, reauth), client.ErrProtocolViolation)
		disc := conn.Expect(t, packets.TypeDisconnect).(*packets.Disconnect)
		assert.Equal(t, packets.ReasonProtocolError, disc.ReasonCode)
		conn.ExpectClosed(t)
	})
}
