package client_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/brokertest"
	"github.com/feedmq/feedmq/packets"
)

// faultWait bounds every wait of the fault tests on the client's side.
const faultWait = 5 * time.Second

// faultConfig is a client configuration for a scripted broker, with fast
// reconnects.
func faultConfig(srv *brokertest.Server) client.Config {
	return client.Config{
		Brokers:        []string{srv.URL()},
		ClientID:       "fault-test",
		Dial:           srv.Dial,
		ConnectTimeout: 2 * time.Second,
		Reconnect:      client.Backoff{InitialDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond},
	}
}

// faultEachProtocol runs a fault test at MQTT 3.1.1 and at MQTT 5.0: the
// scripted broker speaks the level of the client's CONNECT, so one script
// checks a QoS flow, which 5.0 did not change, at both levels. Set
// cfg.Protocol = level in the test.
func faultEachProtocol(t *testing.T, test func(t *testing.T, level packets.ProtocolLevel)) {
	for _, level := range []packets.ProtocolLevel{client.MQTT311, client.MQTT5} {
		t.Run(fmt.Sprintf("level %d", level), func(t *testing.T) { test(t, level) })
	}
}

// faultConnect creates a client, connects it to srv, which accepts with
// the given Session Present flag, and closes the client with the test. It
// returns the broker's end of the connection.
func faultConnect(t *testing.T, srv *brokertest.Server, cfg client.Config, sessionPresent bool) (*client.Client, *brokertest.Conn) {
	t.Helper()
	c, err := client.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, c.Close()) })
	errc := faultGo(func() error { return c.Connect(context.Background()) })
	conn, _ := srv.AcceptConnected(t, sessionPresent)
	require.NoError(t, faultRecv(t, errc))
	return c, conn
}

// faultGo runs fn on a goroutine and returns where its result will arrive.
func faultGo(fn func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- fn() }()
	return ch
}

// recv waits a bounded time for a value.
func faultRecv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	timer := time.NewTimer(faultWait)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("nothing received within %v", faultWait)
	}
	var zero T
	return zero
}

// faultNoRecv fails the test if ch has a value ready now.
func faultNoRecv[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected %s: %v", what, v)
	default:
	}
}

// faultDone waits a bounded time for a Delivery and returns its outcome.
func faultDone(t *testing.T, d *client.Delivery) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), faultWait)
	defer cancel()
	return d.Wait(ctx)
}

// faultLost returns a channel fed by Config.OnConnectionLost.
func faultLost(cfg *client.Config) <-chan error {
	ch := make(chan error, 16)
	cfg.OnConnectionLost = func(err error) {
		select {
		case ch <- err:
		default:
		}
	}
	return ch
}
