package client_test

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/mosquittotest"
	"github.com/feedmq/feedmq/internal/syncbuf"
	"github.com/feedmq/feedmq/packets"
)

// TestIntegrationAuth authenticates against a mosquitto with a password
// file. The user name and password flags of CONNECT must match the fields
// present (MQTT-3.1.2-18, MQTT-3.1.2-19, MQTT-3.1.2-20, MQTT-3.1.2-21), and
// no password without a user name (MQTT-3.1.2-22): a broker that checks
// passwords accepts the right one and refuses the others. The password
// never shows in an error or in the client's log.
func TestIntegrationAuth(t *testing.T) {
	t.Parallel()
	const (
		user     = "alice"
		password = "C0rrect-H0rse-Battery-St4ple"
		wrong    = "Wr0ng-P4ssw0rd-Never-Logged"
	)
	b := mosquittotest.Start(t, mosquittotest.Options{Users: map[string]string{user: password}})
	var logs syncbuf.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		for _, secret := range []string{password, wrong} {
			assert.NotContains(t, logs.String(), secret, "the client logged a password")
		}
		if t.Failed() {
			t.Logf("client log:\n%s", logs.String())
		}
	})

	// refused connects with cfg and returns the CONNACK refusal.
	refused := func(t *testing.T, cfg client.Config) *client.ConnectError {
		t.Helper()
		cfg.Logger = logger
		c, err := client.New(cfg)
		require.NoError(t, err)
		defer func() { assert.NoError(t, c.Close()) }()
		err = c.Connect(testCtx(t))
		require.Error(t, err)
		for _, secret := range []string{password, wrong} {
			assert.NotContains(t, err.Error(), secret, "the error shows a password")
		}
		var ce *client.ConnectError
		require.ErrorAs(t, err, &ce)
		assert.True(t, ce.Permanent(), "code %d is permanent", ce.Code)
		assert.False(t, c.Stats().Connected)
		return ce
	}

	t.Run("good password", func(t *testing.T) {
		ctx := testCtx(t)
		c := newClient(t, client.Config{
			Brokers: []string{b.URL()}, ClientID: "it-auth-good",
			Username: user, Password: password, Logger: logger,
		})
		got, h := itSink()
		_, err := c.Subscribe(ctx, "test/auth", client.AtLeastOnce, h)
		require.NoError(t, err)
		require.NoError(t, c.Publish(ctx, "test/auth", []byte("hi"), client.WithQoS(client.AtLeastOnce)))
		assert.Equal(t, "hi", string(itRecv(t, ctx, got, "own message").Payload))
		itWaitLog(t, b, "as it-auth-good (p2, c1, k60, u'alice')", 1)
	})

	// mosquitto 2.0.11 refuses a wrong password and an unknown user with
	// return code 5, "not authorized", not 4 (its log shows "Sending CONNACK
	// to 127.0.0.1 (0, 5)"): mosquitto_unpwd_check's MOSQ_ERR_AUTH maps to
	// CONNACK_REFUSED_NOT_AUTHORIZED for MQTT 3.1 and 3.1.1. The client must
	// report the code the broker sent; both are permanent.
	t.Run("wrong password", func(t *testing.T) {
		ce := refused(t, client.Config{Brokers: []string{b.URL()}, Username: user, Password: wrong})
		assert.Equal(t, packets.ConnackNotAuthorized, ce.Code)
	})
	t.Run("unknown user", func(t *testing.T) {
		ce := refused(t, client.Config{Brokers: []string{b.URL()}, Username: "mallory", Password: wrong})
		assert.Equal(t, packets.ConnackNotAuthorized, ce.Code)
	})
	t.Run("wrong password in the URL", func(t *testing.T) {
		u := &url.URL{Scheme: "mqtt", User: url.UserPassword(user, wrong), Host: b.Addr()}
		ce := refused(t, client.Config{Brokers: []string{u.String()}})
		assert.Equal(t, packets.ConnackNotAuthorized, ce.Code)
		assert.NotContains(t, ce.Broker, wrong)
	})
	t.Run("anonymous", func(t *testing.T) {
		// No user name flag and no password flag (MQTT-3.1.2-18,
		// MQTT-3.1.2-20): anonymous access is off.
		ce := refused(t, client.Config{Brokers: []string{b.URL()}})
		assert.Equal(t, packets.ConnackNotAuthorized, ce.Code)
	})

	t.Run("credentials provider per connection", func(t *testing.T) {
		ctx := testCtx(t)
		var calls atomic.Int32
		var dialer itDialer
		c := newClient(t, client.Config{
			Brokers: []string{b.URL()}, ClientID: "it-auth-provider",
			// The configured password is wrong: the provider overrides it.
			Username: user, Password: wrong,
			Credentials: func(ctx context.Context) (string, string, error) {
				calls.Add(1)
				return user, password, nil
			},
			Dial: dialer.Dial, Reconnect: itBackoff, Logger: logger,
		})
		assert.EqualValues(t, 1, calls.Load())
		// Cut the connection: the reconnect asks for credentials again.
		require.NoError(t, dialer.last(t).Close())
		require.Eventually(t, func() bool {
			st := c.Stats()
			return st.Connected && st.Connects == 2
		}, 10*time.Second, itTick)
		assert.EqualValues(t, 2, calls.Load())
		require.NoError(t, c.Publish(ctx, "test/auth", []byte("x"), client.WithQoS(client.AtLeastOnce)))
	})

	t.Run("MQTT 3.1", func(t *testing.T) {
		ctx := testCtx(t)
		c := newClient(t, client.Config{
			Brokers: []string{b.URL()}, ClientID: "it-auth-mqtt31", Protocol: client.MQTT31,
			Username: user, Password: password, Logger: logger,
		})
		require.NoError(t, c.Publish(ctx, "test/auth31", []byte("x"), client.WithQoS(client.AtLeastOnce)))
		// mosquitto logs the protocol as p1 for MQTT 3.1 ("MQIsdp", level 3).
		itWaitLog(t, b, "as it-auth-mqtt31 (p1, c1, k60, u'alice')", 1)
	})
	t.Run("MQTT 3.1 wrong password", func(t *testing.T) {
		ce := refused(t, client.Config{Brokers: []string{b.URL()}, Protocol: client.MQTT31, Username: user, Password: wrong})
		assert.Equal(t, packets.ConnackNotAuthorized, ce.Code)
	})

	// Every attempt above was logged; none of those lines may show a
	// password (checked in Cleanup), but they must exist, or the check
	// proves nothing.
	assert.True(t, strings.Contains(logs.String(), "connection attempt failed"), "client log:\n%s", logs.String())
}
