package client_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/client/dial"
	"github.com/feedmq/feedmq/internal/mosquittotest"
	"github.com/feedmq/feedmq/packets"
)

// Helpers of the integration tests against a real mosquitto. Their names
// start with "it" so they cannot collide with helpers of other test files
// in this package; newClient and testCtx come from mosquitto_test.go.

// itBackoff reconnects quickly, so tests that restart the broker stay short.
var itBackoff = client.Backoff{InitialDelay: 50 * time.Millisecond, MaxDelay: 200 * time.Millisecond}

// itTick is the polling interval of require.Eventually.
const itTick = 10 * time.Millisecond

// itSink returns a buffered channel and a handler that sends every message to
// it. The buffer is large enough that a handler never blocks in these tests.
func itSink() (chan *client.Message, func(*client.Message)) {
	ch := make(chan *client.Message, 1000)
	return ch, func(m *client.Message) { ch <- m }
}

// itRecv waits for the next value on ch, failing the test when ctx ends.
func itRecv[T any](t *testing.T, ctx context.Context, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		t.Fatalf("%s: nothing received: %v", what, ctx.Err())
		var zero T
		return zero
	}
}

// itRecvWithin is itRecv with its own deadline.
func itRecvWithin[T any](t *testing.T, d time.Duration, ch <-chan T, what string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return itRecv(t, ctx, ch, what)
}

// itEmpty asserts that nothing is waiting on ch right now.
func itEmpty(t *testing.T, ch <-chan *client.Message, what string) {
	t.Helper()
	select {
	case m := <-ch:
		t.Errorf("%s: unexpected message on %q: %q", what, m.Topic, m.Payload)
	default:
	}
}

// itWaitLog waits until the broker's log holds s at least n times. The log
// trails the broker slightly, so it is polled.
func itWaitLog(t *testing.T, b *mosquittotest.Broker, s string, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		return strings.Count(b.Log(), s) >= n
	}, 10*time.Second, itTick, "broker log never held %q %d time(s)", s, n)
}

// itDialer dials with the built-in transports and keeps every connection,
// so that a test can cut one abruptly, as a network failure would.
type itDialer struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (d *itDialer) Dial(ctx context.Context, u *url.URL) (net.Conn, error) {
	var o dial.Dialer
	nc, err := o.Dial(ctx, u)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.conns = append(d.conns, nc)
	d.mu.Unlock()
	return nc, nil
}

// last returns the latest connection dialled.
func (d *itDialer) last(t *testing.T) net.Conn {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	require.NotEmpty(t, d.conns, "nothing dialled")
	return d.conns[len(d.conns)-1]
}

// itClosedPort returns an mqtt:// URL on a loopback port nothing listens on.
func itClosedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return "mqtt://" + addr
}

// itEvents collects ConnectedEvents from Config.OnConnect without ever
// blocking the hooks goroutine.
func itEvents() (chan client.ConnectedEvent, func(client.ConnectedEvent)) {
	ch := make(chan client.ConnectedEvent, 100)
	return ch, func(ev client.ConnectedEvent) {
		select {
		case ch <- ev:
		default:
		}
	}
}

// itEachProtocol runs a test at MQTT 3.1.1 and at MQTT 5.0, so that every
// 3.1.1 guarantee it checks is checked at 5.0 too.
func itEachProtocol(t *testing.T, test func(t *testing.T, proto packets.ProtocolLevel)) {
	for _, proto := range []packets.ProtocolLevel{client.MQTT311, client.MQTT5} {
		t.Run(fmt.Sprintf("level %d", proto), func(t *testing.T) { test(t, proto) })
	}
}
