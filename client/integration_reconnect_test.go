package client_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/mosquittotest"
	"github.com/feedmq/feedmq/packets"
	"github.com/feedmq/feedmq/store"
)

// TestIntegrationResubscribeAfterBrokerRestart restarts a broker without
// persistence under a subscribed client: the client reconnects by itself,
// finds no session (MQTT-3.1.2-6) and subscribes again, so a message
// published after the restart arrives.
func TestIntegrationResubscribeAfterBrokerRestart(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	const id = "it-resub"

	events, onConnect := itEvents()
	lost := make(chan error, 10)
	var reconnecting atomic.Int32
	sub := newClient(t, client.Config{
		Brokers: []string{b.URL()}, ClientID: id, Reconnect: itBackoff,
		OnConnect: onConnect,
		OnConnectionLost: func(err error) {
			select {
			case lost <- err:
			default:
			}
		},
		OnReconnecting: func(attempt int, delay time.Duration) {
			reconnecting.Add(1)
			assert.Positive(t, attempt)
			assert.LessOrEqual(t, delay, 2*itBackoff.MaxDelay, "delay within MaxDelay plus jitter")
		},
	})
	assert.False(t, itRecv(t, ctx, events, "first connect").SessionPresent)
	got, h := itSink()
	_, err := sub.Subscribe(ctx, "test/restart", client.AtLeastOnce, h)
	require.NoError(t, err)

	b.Restart()

	assert.Error(t, itRecv(t, ctx, lost, "OnConnectionLost"))
	assert.False(t, itRecv(t, ctx, events, "reconnect").SessionPresent)
	// The broker logs the SUBACK once the subscription exists.
	itWaitLog(t, b, "Sending SUBACK to "+id, 2)

	pub := newClient(t, client.Config{Brokers: []string{b.URL()}})
	require.NoError(t, pub.Publish(ctx, "test/restart", []byte("after"), client.WithQoS(client.AtLeastOnce)))
	assert.Equal(t, "after", string(itRecv(t, ctx, got, "message after the restart").Payload))

	assert.Positive(t, reconnecting.Load(), "OnReconnecting was called")
	st := sub.Stats()
	assert.EqualValues(t, 2, st.Connects)
	assert.Positive(t, st.Reconnects)
	assert.True(t, st.Connected)

	// A connection ended by Disconnect is not lost; hooks have run when
	// Disconnect returns.
	require.NoError(t, sub.Disconnect(ctx))
	assert.False(t, sub.Stats().Connected)
	assert.Empty(t, lost, "OnConnectionLost after Disconnect")
}

// TestIntegrationResubscribeLostSession restarts a broker without
// persistence under a client with a persistent session: the broker lost the
// session (Session Present 0), so the client must subscribe again although
// it asked for a persistent one.
func TestIntegrationResubscribeLostSession(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	const id = "it-resub-lost"
	events, onConnect := itEvents()
	sub := newClient(t, client.Config{
		Brokers: []string{b.URL()}, ClientID: id, PersistentSession: true, Reconnect: itBackoff, OnConnect: onConnect,
	})
	itRecv(t, ctx, events, "first connect")
	got, h := itSink()
	_, err := sub.Subscribe(ctx, "test/lost/+", client.ExactlyOnce, h)
	require.NoError(t, err)

	b.Restart()
	assert.False(t, itRecv(t, ctx, events, "reconnect").SessionPresent, "the broker kept nothing")
	itWaitLog(t, b, "Sending SUBACK to "+id, 2)
	pub := newClient(t, client.Config{Brokers: []string{b.URL()}})
	require.NoError(t, pub.Publish(ctx, "test/lost/x", []byte("after"), client.WithQoS(client.ExactlyOnce)))
	m := itRecv(t, ctx, got, "message after the restart")
	assert.Equal(t, "after", string(m.Payload))
	assert.Equal(t, client.ExactlyOnce, m.QoS)
}

// TestIntegrationPublishWhileBrokerDown queues QoS 1 messages while the
// broker is stopped; after the restart they are all delivered, in order
// (MQTT-4.6.0-1, MQTT-4.3.2-1), and each Delivery completes with nil. The
// subscriber's persistent session survives the restart in mosquitto's
// persistence file, so nothing depends on which client reconnects first.
func TestIntegrationPublishWhileBrokerDown(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{Persistence: true})
	ctx := testCtx(t)

	subEvents, onConnect := itEvents()
	sub := newClient(t, client.Config{
		Brokers: []string{b.URL()}, ClientID: "it-down-sub", PersistentSession: true,
		Reconnect: itBackoff, OnConnect: onConnect,
	})
	itRecv(t, ctx, subEvents, "subscriber connect")
	got, h := itSink()
	_, err := sub.Subscribe(ctx, "test/down", client.AtLeastOnce, h)
	require.NoError(t, err)
	pub := newClient(t, client.Config{Brokers: []string{b.URL()}, ClientID: "it-down-pub", Reconnect: itBackoff})

	b.Stop()
	require.Eventually(t, func() bool { return !pub.Stats().Connected && !sub.Stats().Connected },
		10*time.Second, itTick, "the clients never noticed the broker stopped")

	// QoS 0 is not queued without Config.QueueQoS0: not sent.
	assert.ErrorIs(t, pub.Publish(ctx, "test/down", []byte("qos0")), client.ErrNotConnected)

	const n = 10
	var ds []*client.Delivery
	for i := range n - 1 {
		d, err := pub.PublishAsync("test/down", []byte(fmt.Sprint(i)), client.WithQoS(client.AtLeastOnce))
		require.NoError(t, err)
		ds = append(ds, d)
	}
	// Publish gives up waiting, but the message is stored and still goes
	// out: the error says so.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err = pub.Publish(short, "test/down", []byte(fmt.Sprint(n-1)), client.WithQoS(client.AtLeastOnce))
	assert.ErrorIs(t, err, client.ErrDeliveryPending)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	// PublishAsync hands the message to the session goroutine and returns;
	// the gauge follows.
	require.Eventually(t, func() bool { return pub.Stats().Queued == n }, 10*time.Second, itTick)
	assert.Zero(t, pub.Stats().Inflight)
	for i, d := range ds {
		select {
		case <-d.Done():
			t.Fatalf("message %d completed while the broker was down: %v", i, d.Err())
		default:
		}
	}

	b.Restart()
	for i, d := range ds {
		assert.NoError(t, d.Wait(ctx), "delivery %d", i)
	}
	for i := range n {
		m := itRecv(t, ctx, got, fmt.Sprintf("message %d", i))
		assert.Equal(t, fmt.Sprint(i), string(m.Payload), "order")
	}
	assert.True(t, itRecv(t, ctx, subEvents, "subscriber reconnect").SessionPresent)
	// The last message is the Publish that gave up waiting: nothing waits
	// for its PUBACK, which the broker may send after the subscriber had
	// its copy.
	assert.Eventually(t, func() bool { st := pub.Stats(); return st.Queued == 0 && st.Inflight == 0 },
		10*time.Second, itTick, "the publisher's queue and window empty")
}

// TestIntegrationFileStoreClientRestart publishes QoS 1 and 2 messages while
// the broker is down and closes the client: the file store keeps them. A new
// client on the reopened store sends them after the broker is back
// (MQTT-4.4.0-1, MQTT-4.6.0-1, MQTT-4.1.0-1), and the subscriber receives
// each QoS 2 message exactly once (MQTT-4.3.3-1, MQTT-4.3.3-2).
func TestIntegrationFileStoreClientRestart(t *testing.T) {
	itEachProtocol(t, testIntegrationFileStoreClientRestart)
}

func testIntegrationFileStoreClientRestart(t *testing.T, proto packets.ProtocolLevel) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{Persistence: true})
	ctx := testCtx(t)
	dir := t.TempDir()
	const id = "it-file-pub"

	sub := newClient(t, client.Config{Protocol: proto,
		Brokers: []string{b.URL()}, ClientID: "it-file-sub", PersistentSession: true, Reconnect: itBackoff,
	})
	got, h := itSink()
	_, err := sub.Subscribe(ctx, "test/file/#", client.ExactlyOnce, h)
	require.NoError(t, err)

	st1, err := store.OpenFile(dir, nil)
	require.NoError(t, err)
	c1, err := client.New(client.Config{Protocol: proto,
		Brokers: []string{b.URL()}, ClientID: id, PersistentSession: true, Store: st1, Reconnect: itBackoff,
	})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, c1.Close()) })
	require.NoError(t, c1.Connect(ctx))

	b.Stop()
	require.Eventually(t, func() bool { return !c1.Stats().Connected }, 10*time.Second, itTick)
	const n = 6
	qos := func(i int) client.QoS { return client.AtLeastOnce + client.QoS(i%2) }
	var ds []*client.Delivery
	for i := range n {
		opts := []client.PublishOption{client.WithQoS(qos(i))}
		if proto == client.MQTT5 {
			// The store keeps a message's 5.0 properties across the restart.
			opts = append(opts, client.WithUserProperty("i", fmt.Sprint(i)), client.WithContentType("text/plain"))
		}
		d, err := c1.PublishAsync("test/file/m", []byte(fmt.Sprint(i)), opts...)
		require.NoError(t, err)
		ds = append(ds, d)
	}
	// Once the session took them, they are stored. (Closing before that is
	// TestIntegrationCloseRightAfterPublishAsync.)
	require.Eventually(t, func() bool { return c1.Stats().Queued == n }, 10*time.Second, itTick)
	// The process "exits": the client stops before the broker is back.
	require.NoError(t, c1.Close())
	for i, d := range ds {
		itRecv(t, ctx, d.Done(), fmt.Sprintf("delivery %d", i))
		assert.ErrorIs(t, d.Err(), client.ErrAbandoned, "delivery %d", i)
	}
	require.NoError(t, st1.Close())

	st2, err := store.OpenFile(dir, nil)
	require.NoError(t, err)
	// Registered before the client's Close, so it runs after it.
	t.Cleanup(func() { assert.NoError(t, st2.Close()) })
	entries, err := st2.Load()
	require.NoError(t, err)
	require.Len(t, entries, n, "every message is in the store")

	b.Restart()
	c2 := newClient(t, client.Config{Protocol: proto,
		Brokers: []string{b.URL()}, ClientID: id, PersistentSession: true, Store: st2, Reconnect: itBackoff,
		MaxPending: n,
	})
	require.Eventually(t, func() bool {
		entries, err := st2.Load()
		return err == nil && len(entries) == 0
	}, 10*time.Second, itTick, "the recovered messages were never acknowledged")

	// Everything the subscriber receives before a marker published after
	// the last PUBCOMP is what the recovered client sent.
	marker := newClient(t, client.Config{Protocol: proto, Brokers: []string{b.URL()}})
	require.NoError(t, marker.Publish(ctx, "test/file/marker", []byte("end"), client.WithQoS(client.AtLeastOnce)))
	// mosquitto forwards a QoS 1 message when it arrives and a QoS 2 one at
	// its PUBREL, so order holds per QoS only (MQTT 3.1.1 §4.6).
	seen := map[client.QoS][]string{}
	for {
		m := itRecv(t, ctx, got, "recovered message")
		if m.Topic == "test/file/marker" {
			break
		}
		seen[m.QoS] = append(seen[m.QoS], string(m.Payload))
		if proto == client.MQTT5 && assert.NotNil(t, m.Properties, "message %s", m.Payload) {
			assert.Equal(t, []client.UserProperty{{Key: "i", Value: string(m.Payload)}}, m.Properties.UserProperties)
			assert.Equal(t, "text/plain", m.Properties.ContentType)
		}
	}
	assert.Equal(t, []string{"0", "2", "4"}, seen[client.AtLeastOnce], "QoS 1 messages in order")
	assert.Equal(t, []string{"1", "3", "5"}, seen[client.ExactlyOnce], "QoS 2 messages each once, in order")
	st := c2.Stats()
	assert.Zero(t, st.Queued)
	assert.Zero(t, st.Inflight)

	// The recovered messages are complete, so MaxPending (n) has room again.
	t.Run("recovered messages free their MaxPending slots", func(t *testing.T) {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		assert.NoError(t, c2.Publish(pctx, "test/file/after", []byte("after"), client.WithQoS(client.AtLeastOnce)))
		d, err := c2.PublishAsync("test/file/after", []byte("after"), client.WithQoS(client.AtLeastOnce))
		if assert.NoError(t, err) {
			assert.NoError(t, d.Wait(pctx))
		}
	})
}

// TestIntegrationSeveralBrokers lists a closed port before the broker:
// Connect tries them in turn and connects to the second.
func TestIntegrationSeveralBrokers(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	events, onConnect := itEvents()
	c := newClient(t, client.Config{Brokers: []string{itClosedPort(t), b.URL()}, OnConnect: onConnect})
	assert.Equal(t, b.URL(), itRecv(t, ctx, events, "connect").Broker)
	got, h := itSink()
	_, err := c.Subscribe(ctx, "test/brokers", client.AtLeastOnce, h)
	require.NoError(t, err)
	require.NoError(t, c.Publish(ctx, "test/brokers", []byte("x"), client.WithQoS(client.AtLeastOnce)))
	assert.Equal(t, "x", string(itRecv(t, ctx, got, "message").Payload))
	assert.EqualValues(t, 1, c.Stats().Connects)
}

// TestIntegrationFailover connects to the first of two brokers; when it
// stops, the client moves to the second by itself and subscribes there.
func TestIntegrationFailover(t *testing.T) {
	t.Parallel()
	b1 := mosquittotest.Start(t, mosquittotest.Options{})
	b2 := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	events, onConnect := itEvents()
	c := newClient(t, client.Config{
		Brokers: []string{b1.URL(), b2.URL()}, ClientID: "it-failover", Reconnect: itBackoff, OnConnect: onConnect,
	})
	assert.Equal(t, b1.URL(), itRecv(t, ctx, events, "first connect").Broker)
	got, h := itSink()
	_, err := c.Subscribe(ctx, "test/failover", client.AtLeastOnce, h)
	require.NoError(t, err)

	b1.Stop()
	assert.Equal(t, b2.URL(), itRecv(t, ctx, events, "failover").Broker)
	itWaitLog(t, b2, "Sending SUBACK to it-failover", 1)
	pub := newClient(t, client.Config{Brokers: []string{b2.URL()}})
	require.NoError(t, pub.Publish(ctx, "test/failover", []byte("on b2"), client.WithQoS(client.AtLeastOnce)))
	assert.Equal(t, "on b2", string(itRecv(t, ctx, got, "message on the second broker").Payload))
}

// TestIntegrationCloseRightAfterPublishAsync closes a client whose broker is
// down right after PublishAsync accepted QoS 1 messages. Every Delivery must
// end: with ErrAbandoned for a message that is in the store (a client on the
// same store sends it later, MQTT-4.4.0-1), or with ErrClosed for one that
// was not accepted after all. None may stay pending forever, unstored.
func TestIntegrationCloseRightAfterPublishAsync(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	st := store.NewMemory()
	c, err := client.New(client.Config{Brokers: []string{b.URL()}, ClientID: "it-close-async", PersistentSession: true, Store: st})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, c.Close()) })
	require.NoError(t, c.Connect(ctx))
	b.Stop()
	require.Eventually(t, func() bool { return !c.Stats().Connected }, 10*time.Second, itTick)

	const n = 20
	var ds []*client.Delivery
	for i := range n {
		d, err := c.PublishAsync("test/close", []byte(fmt.Sprint(i)), client.WithQoS(client.AtLeastOnce))
		require.NoError(t, err)
		ds = append(ds, d)
	}
	require.NoError(t, c.Close())

	abandoned := 0
	wait, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var pending []int
	for i, d := range ds {
		select {
		case <-d.Done():
		case <-wait.Done():
		}
		select {
		case <-d.Done():
		default:
			pending = append(pending, i)
			continue
		}
		switch err := d.Err(); {
		case errors.Is(err, client.ErrAbandoned):
			abandoned++
		case errors.Is(err, client.ErrClosed):
		default:
			t.Errorf("delivery %d: %v, want ErrAbandoned or ErrClosed", i, err)
		}
	}
	assert.Empty(t, pending, "deliveries still pending 2s after Close returned")
	entries, err := st.Load()
	require.NoError(t, err)
	assert.Len(t, entries, abandoned, "every abandoned message, and only those, is in the store")
}
