package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/mosquittotest"
)

// TestIntegrationUnsubscribe checks that no message for a filter arrives
// after Unsubscribe returned (MQTT-3.10.1-1, MQTT-3.10.3-1), and that
// subscribing again to a filter replaces its handler (MQTT-3.8.1-1,
// MQTT-3.8.3-1).
func TestIntegrationUnsubscribe(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{})
	qos1 := client.WithQoS(client.AtLeastOnce)

	t.Run("unsubscribe", func(t *testing.T) {
		ctx := testCtx(t)
		c := newClient(t, client.Config{Brokers: []string{b.URL()}})
		pub := newClient(t, client.Config{Brokers: []string{b.URL()}})
		got, h := itSink()
		_, err := c.Subscribe(ctx, "test/unsub/a", client.AtLeastOnce, h)
		require.NoError(t, err)
		markers, hm := itSink()
		_, err = c.Subscribe(ctx, "test/unsub/marker", client.AtLeastOnce, hm)
		require.NoError(t, err)

		require.NoError(t, pub.Publish(ctx, "test/unsub/a", []byte("before"), qos1))
		assert.Equal(t, "before", string(itRecv(t, ctx, got, "before").Payload))

		require.NoError(t, c.Unsubscribe(ctx, "test/unsub/a"))
		require.NoError(t, pub.Publish(ctx, "test/unsub/a", []byte("after"), qos1))
		// mosquitto forwards one publisher's messages in order, so the
		// marker comes after anything it would still send for the filter.
		require.NoError(t, pub.Publish(ctx, "test/unsub/marker", []byte("marker"), qos1))
		itRecv(t, ctx, markers, "marker")
		assert.EqualValues(t, 2, c.Stats().MessagesIn, "the broker sent nothing for the removed filter")
		itEmpty(t, got, "handler of the removed filter")
	})

	t.Run("subscribe again replaces the handler", func(t *testing.T) {
		ctx := testCtx(t)
		c := newClient(t, client.Config{Brokers: []string{b.URL()}})
		first, h1 := itSink()
		second, h2 := itSink()
		_, err := c.Subscribe(ctx, "test/replace", client.AtLeastOnce, h1)
		require.NoError(t, err)
		require.NoError(t, c.Publish(ctx, "test/replace", []byte("one"), qos1))
		assert.Equal(t, "one", string(itRecv(t, ctx, first, "first handler").Payload))

		_, err = c.Subscribe(ctx, "test/replace", client.AtLeastOnce, h2)
		require.NoError(t, err)
		require.NoError(t, c.Publish(ctx, "test/replace", []byte("two"), qos1))
		assert.Equal(t, "two", string(itRecv(t, ctx, second, "second handler").Payload))
		itEmpty(t, first, "replaced handler")
		assert.EqualValues(t, 2, c.Stats().MessagesIn, "one subscription, not two: each message once")
	})
}

// TestIntegrationSharedSubscription subscribes two clients to
// $share/g/test/shared: mosquitto 2 gives each message to one of them.
func TestIntegrationSharedSubscription(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	got, h := itSink()
	var members []*client.Client
	for range 2 {
		c := newClient(t, client.Config{Brokers: []string{b.URL()}})
		_, err := c.Subscribe(ctx, "$share/g/test/shared", client.AtLeastOnce, h)
		require.NoError(t, err)
		members = append(members, c)
	}
	pub := newClient(t, client.Config{Brokers: []string{b.URL()}})
	const n = 20
	for i := range n {
		require.NoError(t, pub.Publish(ctx, "test/shared", []byte(fmt.Sprint(i)), client.WithQoS(client.AtLeastOnce)))
	}
	seen := map[string]int{}
	for range n {
		m := itRecv(t, ctx, got, "shared message")
		assert.Equal(t, "test/shared", m.Topic)
		seen[string(m.Payload)]++
	}
	for i := range n {
		assert.Equal(t, 1, seen[fmt.Sprint(i)], "message %d", i)
	}
	// A last message, after which neither member has anything else.
	require.NoError(t, pub.Publish(ctx, "test/shared", []byte("last"), client.WithQoS(client.AtLeastOnce)))
	assert.Equal(t, "last", string(itRecv(t, ctx, got, "last").Payload))
	in0, in1 := members[0].Stats().MessagesIn, members[1].Stats().MessagesIn
	assert.EqualValues(t, n+1, in0+in1, "each message reached exactly one member")
	assert.Positive(t, in0, "round robin reaches the first member")
	assert.Positive(t, in1, "round robin reaches the second member")
	itEmpty(t, got, "duplicate")

	// Once the first member left the group, the second gets everything.
	require.NoError(t, members[0].Unsubscribe(ctx, "$share/g/test/shared"))
	for i := range 4 {
		require.NoError(t, pub.Publish(ctx, "test/shared", []byte(fmt.Sprint("solo", i)), client.WithQoS(client.AtLeastOnce)))
		assert.Equal(t, fmt.Sprint("solo", i), string(itRecv(t, ctx, got, "message after Unsubscribe").Payload))
	}
	assert.Equal(t, in0, members[0].Stats().MessagesIn, "nothing for the member that left")
	assert.Equal(t, in1+4, members[1].Stats().MessagesIn)
}

// TestIntegrationHandlerReentrancy calls the client from its own handler:
// Publish waiting for PUBACK, Subscribe, Unsubscribe and finally Disconnect.
// None may deadlock.
func TestIntegrationHandlerReentrancy(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	qos1 := client.WithQoS(client.AtLeastOnce)

	obs := newClient(t, client.Config{Brokers: []string{b.URL()}})
	outs, h := itSink()
	_, err := obs.Subscribe(ctx, "test/reent/out", client.AtLeastOnce, h)
	require.NoError(t, err)

	c := newClient(t, client.Config{Brokers: []string{b.URL()}})
	result := make(chan error, 1)
	var once sync.Once
	_, err = c.Subscribe(ctx, "test/reent/in", client.AtLeastOnce, func(m *client.Message) {
		once.Do(func() {
			result <- func() error {
				if err := c.Publish(hctx, "test/reent/out", []byte("from handler"), qos1); err != nil {
					return fmt.Errorf("Publish: %w", err)
				}
				extra, h := itSink()
				if _, err := c.Subscribe(hctx, "test/reent/extra", client.AtLeastOnce, h); err != nil {
					return fmt.Errorf("Subscribe: %w", err)
				}
				if err := c.Publish(hctx, "test/reent/extra", []byte("extra"), qos1); err != nil {
					return fmt.Errorf("Publish to the new subscription: %w", err)
				}
				select {
				case <-extra:
				case <-hctx.Done():
					return errors.New("the new subscription received nothing")
				}
				if err := c.Unsubscribe(hctx, "test/reent/extra"); err != nil {
					return fmt.Errorf("Unsubscribe: %w", err)
				}
				if err := c.Disconnect(hctx); err != nil {
					return fmt.Errorf("Disconnect: %w", err)
				}
				return nil
			}()
		})
	})
	require.NoError(t, err)
	require.NoError(t, obs.Publish(ctx, "test/reent/in", []byte("go"), qos1))

	select {
	case err := <-result:
		require.NoError(t, err)
	case <-hctx.Done():
		t.Fatal("the handler deadlocked")
	}
	select {
	case <-c.Done():
	case <-hctx.Done():
		t.Fatal("the client did not stop after Disconnect from its handler")
	}
	assert.NoError(t, c.Err())
	assert.Equal(t, "from handler", string(itRecv(t, ctx, outs, "message published by the handler").Payload))
	_, err = c.Subscribe(ctx, "test/reent/late", client.AtMostOnce, nil)
	assert.ErrorIs(t, err, client.ErrClosed)
}

// TestIntegrationOnConnectReentrancy subscribes and publishes from the
// OnConnect hook.
func TestIntegrationOnConnectReentrancy(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()

	got, h := itSink()
	hookErr := make(chan error, 1)
	var c *client.Client
	c, err := client.New(client.Config{
		Brokers: []string{b.URL()},
		OnConnect: func(client.ConnectedEvent) {
			if _, err := c.Subscribe(hctx, "test/onconnect", client.AtLeastOnce, h); err != nil {
				hookErr <- fmt.Errorf("Subscribe: %w", err)
				return
			}
			hookErr <- c.Publish(hctx, "test/onconnect", []byte("hello"), client.WithQoS(client.AtLeastOnce))
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, c.Close()) })
	require.NoError(t, c.Connect(ctx))
	select {
	case err := <-hookErr:
		require.NoError(t, err)
	case <-hctx.Done():
		t.Fatal("the OnConnect hook deadlocked")
	}
	assert.Equal(t, "hello", string(itRecv(t, hctx, got, "message published by the hook").Payload))
}

// TestIntegrationSlowHandler blocks one subscription's handler for three
// seconds on a client with a one-second keepalive: another subscription
// keeps receiving, and the client keeps pinging (MQTT-3.1.2-23), so the
// broker, which drops a client silent for 1.5 keepalives, keeps the
// connection. The blocked QoS 1 message is acknowledged once its handler
// returns (MQTT-4.3.2-2).
func TestIntegrationSlowHandler(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	const id = "it-slow"

	release := make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	slow := make(chan *client.Message, 1)
	fast, h := itSink()
	c := newClient(t, client.Config{Brokers: []string{b.URL()}, ClientID: id, KeepAlive: time.Second})
	t.Cleanup(unblock) // runs before Close, which waits for the handler
	_, err := c.Subscribe(ctx, "test/slow", client.AtLeastOnce, func(m *client.Message) {
		<-release
		slow <- m
	})
	require.NoError(t, err)
	// QoS 0 messages need no acknowledgment, so the client has nothing to
	// send but PINGREQ.
	_, err = c.Subscribe(ctx, "test/fast", client.AtMostOnce, h)
	require.NoError(t, err)

	pub := newClient(t, client.Config{Brokers: []string{b.URL()}})
	require.NoError(t, pub.Publish(ctx, "test/slow", []byte("blocked"), client.WithQoS(client.AtLeastOnce)))
	pings := strings.Count(b.Log(), "Received PINGREQ from "+id)

	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for i := 0; time.Since(start) < 3*time.Second; i++ {
		require.NoError(t, pub.Publish(ctx, "test/fast", []byte(fmt.Sprint(i))))
		m := itRecvWithin(t, time.Second, fast, fmt.Sprintf("fast message %d", i))
		assert.Equal(t, fmt.Sprint(i), string(m.Payload))
		<-tick.C
	}
	select {
	case <-slow:
		t.Fatal("the slow handler returned before it was released")
	default:
	}
	st := c.Stats()
	assert.True(t, st.Connected)
	assert.EqualValues(t, 1, st.Connects, "the connection survived")
	// Three seconds of a one-second keepalive: two PINGREQs at least (the
	// broker's log trails it slightly).
	itWaitLog(t, b, "Received PINGREQ from "+id, pings+2)
	assert.NotContains(t, b.Log(), "Client "+id+" has exceeded timeout")

	unblock()
	assert.Equal(t, "blocked", string(itRecv(t, ctx, slow, "slow message").Payload))
	// The PUBACK follows the handler.
	itWaitLog(t, b, "Received PUBACK from "+id, 1)
}

// TestIntegrationPullMode subscribes without a handler and reads the
// messages, in order, with NextMessage.
func TestIntegrationPullMode(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	c := newClient(t, client.Config{Brokers: []string{b.URL()}, ClientID: "it-pull"})
	_, err := c.Subscribe(ctx, "test/pull", client.AtLeastOnce, nil)
	require.NoError(t, err)
	pub := newClient(t, client.Config{Brokers: []string{b.URL()}})
	const n = 5
	for i := range n {
		require.NoError(t, pub.Publish(ctx, "test/pull", []byte(fmt.Sprint(i)), client.WithQoS(client.AtLeastOnce)))
	}
	for i := range n {
		m, err := c.NextMessage(ctx)
		require.NoError(t, err)
		assert.Equal(t, "test/pull", m.Topic)
		assert.Equal(t, fmt.Sprint(i), string(m.Payload))
		assert.Equal(t, client.AtLeastOnce, m.QoS)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	m, err := c.NextMessage(short)
	assert.Nil(t, m)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	// The messages read were acknowledged (MQTT-4.3.2-2).
	itWaitLog(t, b, "Received PUBACK from it-pull", n)
}

// TestIntegrationCloseFromHook closes the client from OnConnectionLost, on
// the hooks goroutine that Close otherwise waits for.
func TestIntegrationCloseFromHook(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var dialer itDialer
	closed := make(chan error, 1)
	var c *client.Client
	c, err := client.New(client.Config{
		Brokers: []string{b.URL()}, Dial: dialer.Dial, Reconnect: itBackoff,
		OnConnectionLost: func(error) { closed <- c.Close() },
	})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, c.Close()) })
	require.NoError(t, c.Connect(ctx))
	require.NoError(t, dialer.last(t).Close())
	select {
	case err := <-closed:
		assert.NoError(t, err)
	case <-hctx.Done():
		t.Fatal("Close from OnConnectionLost deadlocked")
	}
	select {
	case <-c.Done():
	case <-hctx.Done():
		t.Fatal("the client did not stop")
	}
}

// TestIntegrationDisconnectDrains publishes QoS 2 messages asynchronously
// and disconnects at once: Disconnect waits until every accepted message
// has completed its flow (MQTT-4.3.3-1) before it sends DISCONNECT.
func TestIntegrationDisconnectDrains(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	sub := newClient(t, client.Config{Brokers: []string{b.URL()}})
	got, h := itSink()
	_, err := sub.Subscribe(ctx, "test/drain", client.ExactlyOnce, h)
	require.NoError(t, err)

	c, err := client.New(client.Config{Brokers: []string{b.URL()}, ClientID: "it-drain", MaxInflight: 4})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, c.Close()) })
	require.NoError(t, c.Connect(ctx))
	const n = 50
	var ds []*client.Delivery
	for i := range n {
		d, err := c.PublishAsync("test/drain", []byte(fmt.Sprint(i)), client.WithQoS(client.ExactlyOnce))
		require.NoError(t, err)
		ds = append(ds, d)
	}
	require.NoError(t, c.Disconnect(ctx))
	for i, d := range ds {
		select {
		case <-d.Done():
			assert.NoError(t, d.Err(), "delivery %d", i)
		default:
			t.Errorf("delivery %d not complete when Disconnect returned", i)
		}
	}
	for i := range n {
		assert.Equal(t, fmt.Sprint(i), string(itRecv(t, ctx, got, fmt.Sprintf("message %d", i)).Payload))
	}
	itWaitLog(t, b, "Received DISCONNECT from it-drain", 1)
}
