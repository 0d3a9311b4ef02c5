package client_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/mosquittotest"
	"github.com/feedmq/feedmq/packets"
	"github.com/feedmq/feedmq/store"
)

// TestIntegrationConnectedOnReturn checks that once Connect returned nil the
// client is connected: Stats says so, and a QoS 0 message, which is never
// queued without Config.QueueQoS0, goes out instead of failing with
// ErrNotConnected (MQTT-4.3.1-1, MQTT-3.3.4-1).
func TestIntegrationConnectedOnReturn(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	sub := newClient(t, client.Config{Brokers: []string{b.URL()}})
	got, h := itSink()
	_, err := sub.Subscribe(ctx, "test/connected/#", client.AtMostOnce, h)
	require.NoError(t, err)

	const rounds = 10
	for i := range rounds {
		c := newClient(t, client.Config{Brokers: []string{b.URL()}})
		st := c.Stats()
		assert.True(t, st.Connected, "round %d: Stats().Connected right after Connect returned", i)
		assert.EqualValues(t, 1, st.Connects, "round %d: Stats().Connects right after Connect returned", i)
		topic := fmt.Sprintf("test/connected/%d", i)
		if assert.NoError(t, c.Publish(ctx, topic, []byte("now")), "round %d: QoS 0 publish right after Connect returned", i) {
			assert.Equal(t, topic, itRecv(t, ctx, got, topic).Topic)
		}
	}
}

// TestIntegrationRetained publishes a retained message that a later
// subscriber receives with the retain flag, and clears it with an empty
// retained payload.
func TestIntegrationRetained(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	pub := newClient(t, client.Config{Brokers: []string{b.URL()}})
	qos1 := client.WithQoS(client.AtLeastOnce)

	require.NoError(t, pub.Publish(ctx, "test/retained/a", []byte("r1"), client.WithRetain(), qos1))
	require.NoError(t, pub.Publish(ctx, "test/retained-marker", []byte("marker"), client.WithRetain(), qos1))

	late := newClient(t, client.Config{Brokers: []string{b.URL()}})
	got, h := itSink()
	_, err := late.Subscribe(ctx, "test/retained/a", client.AtLeastOnce, h)
	require.NoError(t, err)
	m := itRecv(t, ctx, got, "retained message")
	assert.Equal(t, "test/retained/a", m.Topic)
	assert.Equal(t, "r1", string(m.Payload))
	assert.True(t, m.Retained, "a retained message sent on subscription has the retain flag")
	assert.Equal(t, client.AtLeastOnce, m.QoS)

	// A retained message published while subscribed reaches existing
	// subscribers as a live message, without the flag.
	require.NoError(t, pub.Publish(ctx, "test/retained/a", []byte("r2"), client.WithRetain(), qos1))
	m = itRecv(t, ctx, got, "live retained message")
	assert.Equal(t, "r2", string(m.Payload))
	assert.False(t, m.Retained)

	// An empty retained payload clears it: the empty message is forwarded to
	// current subscribers, and a new subscriber gets nothing.
	require.NoError(t, pub.Publish(ctx, "test/retained/a", nil, client.WithRetain(), qos1))
	m = itRecv(t, ctx, got, "clearing message")
	assert.Empty(t, m.Payload)

	fresh := newClient(t, client.Config{Brokers: []string{b.URL()}})
	cleared, h := itSink()
	_, err = fresh.Subscribe(ctx, "test/retained/a", client.AtLeastOnce, h)
	require.NoError(t, err)
	// mosquitto sends the retained messages of a SUBSCRIBE right after its
	// SUBACK, so anything retained on test/retained/a would be read before
	// the retained marker of the second SUBSCRIBE.
	markers, h := itSink()
	_, err = fresh.Subscribe(ctx, "test/retained-marker", client.AtLeastOnce, h)
	require.NoError(t, err)
	m = itRecv(t, ctx, markers, "retained marker")
	assert.Equal(t, "marker", string(m.Payload))
	assert.True(t, m.Retained)
	assert.EqualValues(t, 1, fresh.Stats().MessagesIn, "only the marker was received")
	itEmpty(t, cleared, "cleared retained message")
}

// TestIntegrationWill cuts a connection without DISCONNECT, so the broker
// publishes the will given in CONNECT (MQTT-3.1.2-9, MQTT-3.1.3-1,
// MQTT-3.1.3-10); after a clean Disconnect it does not.
func TestIntegrationWill(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	watcher := newClient(t, client.Config{Brokers: []string{b.URL()}})
	wills, h := itSink()
	_, err := watcher.Subscribe(ctx, "test/will/#", client.AtLeastOnce, h)
	require.NoError(t, err)

	t.Run("abrupt close", func(t *testing.T) {
		var dialer itDialer
		c := newClient(t, client.Config{
			Brokers: []string{b.URL()}, ClientID: "it-will-abrupt",
			Dial: dialer.Dial, Reconnect: client.Backoff{Disabled: true},
			Will: &client.Will{Topic: "test/will/abrupt", Payload: []byte("gone"), QoS: client.AtLeastOnce, Retain: true},
		})
		// The broker stays up; only this client's link breaks.
		require.NoError(t, dialer.last(t).Close())

		m := itRecv(t, ctx, wills, "will")
		assert.Equal(t, "test/will/abrupt", m.Topic)
		assert.Equal(t, "gone", string(m.Payload))
		assert.Equal(t, client.AtLeastOnce, m.QoS)

		// With reconnection disabled the client stops and says why.
		itRecv(t, ctx, c.Done(), "client stop")
		assert.Error(t, c.Err())

		// The will was retained.
		late := newClient(t, client.Config{Brokers: []string{b.URL()}})
		got, h := itSink()
		_, err := late.Subscribe(ctx, "test/will/abrupt", client.AtLeastOnce, h)
		require.NoError(t, err)
		m = itRecv(t, ctx, got, "retained will")
		assert.Equal(t, "gone", string(m.Payload))
		assert.True(t, m.Retained)
	})

	// cleanDisconnect connects a client with a will, publishes QoS 1 first
	// when warm, disconnects cleanly and checks that no will follows.
	cleanDisconnect := func(t *testing.T, id string, warm bool) {
		topic := "test/will/" + id
		c, err := client.New(client.Config{
			Brokers: []string{b.URL()}, ClientID: id,
			Will: &client.Will{Topic: topic, Payload: []byte("will"), QoS: client.AtLeastOnce},
		})
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, c.Close()) })
		require.NoError(t, c.Connect(ctx))
		if warm {
			require.NoError(t, c.Publish(ctx, "test/warm", []byte("x"), client.WithQoS(client.AtLeastOnce)))
		}
		require.NoError(t, c.Disconnect(ctx))
		// Once mosquitto saw the connection end, a will would have been
		// published before anything published after it.
		require.Eventually(t, func() bool {
			log := b.Log()
			return strings.Contains(log, "Client "+id+" disconnected.") ||
				strings.Contains(log, "Client "+id+" closed its connection.")
		}, 10*time.Second, itTick)
		assert.Contains(t, b.Log(), "Received DISCONNECT from "+id, "MQTT-3.14.4-1: no DISCONNECT was sent")
		pub := newClient(t, client.Config{Brokers: []string{b.URL()}})
		require.NoError(t, pub.Publish(ctx, topic, []byte("marker"), client.WithQoS(client.AtLeastOnce)))
		m := itRecv(t, ctx, wills, "marker")
		assert.Equal(t, "marker", string(m.Payload), "the will of a clean disconnect was published")
		if string(m.Payload) != "marker" {
			// Take the marker that follows the will, so that the next
			// round starts with nothing queued.
			itRecv(t, ctx, wills, "marker after the will")
		}
	}
	t.Run("clean disconnect", func(t *testing.T) { cleanDisconnect(t, "it-will-clean", true) })
	// Disconnect right after Connect returned must send DISCONNECT too.
	// The window is short, so try a few times.
	t.Run("clean disconnect right after connect", func(t *testing.T) {
		for i := range 10 {
			cleanDisconnect(t, fmt.Sprintf("it-will-quick-%d", i), false)
		}
	})
}

// TestIntegrationPersistentSession leaves a persistent session with a QoS 1
// subscription, lets messages be published while it is away, and resumes it
// with a new client on the same ClientID and store: the broker reports the
// session present and delivers what was queued (MQTT-3.1.2-4, MQTT-4.1.0-1,
// MQTT-3.1.3-2). A clean session then discards it (MQTT-3.1.2-6).
func TestIntegrationPersistentSession(t *testing.T) {
	itEachProtocol(t, testIntegrationPersistentSession)
}

func testIntegrationPersistentSession(t *testing.T, proto packets.ProtocolLevel) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	pub := newClient(t, client.Config{Protocol: proto, Brokers: []string{b.URL()}})
	st := store.NewMemory()
	const id = "it-persist"

	events, onConnect := itEvents()
	first := newClient(t, client.Config{Protocol: proto,
		Brokers: []string{b.URL()}, ClientID: id, PersistentSession: true, Store: st, OnConnect: onConnect,
	})
	assert.False(t, itRecv(t, ctx, events, "first connect").SessionPresent)
	_, err := first.Subscribe(ctx, "test/persist/#", client.AtLeastOnce, func(*client.Message) {})
	require.NoError(t, err)
	require.NoError(t, first.Disconnect(ctx))

	const n = 5
	for i := range n {
		require.NoError(t, pub.Publish(ctx, fmt.Sprintf("test/persist/%d", i), []byte(fmt.Sprint(i)), client.WithQoS(client.AtLeastOnce)))
	}

	// The new client has no subscription of its own: the broker's session
	// has it, and what arrives goes to DefaultHandler.
	got, h := itSink()
	events, onConnect = itEvents()
	second := newClient(t, client.Config{Protocol: proto,
		Brokers: []string{b.URL()}, ClientID: id, PersistentSession: true, Store: st,
		OnConnect: onConnect, DefaultHandler: h,
	})
	assert.True(t, itRecv(t, ctx, events, "resumed connect").SessionPresent, "MQTT-3.1.2-4: the session was kept")
	for i := range n {
		m := itRecv(t, ctx, got, fmt.Sprintf("queued message %d", i))
		assert.Equal(t, fmt.Sprintf("test/persist/%d", i), m.Topic)
		assert.Equal(t, fmt.Sprint(i), string(m.Payload))
		assert.Equal(t, client.AtLeastOnce, m.QoS)
	}
	require.NoError(t, second.Disconnect(ctx))

	// A clean session on the same ClientID discards the stored one
	// (MQTT-3.1.2-6) ...
	events, onConnect = itEvents()
	clean := newClient(t, client.Config{Protocol: proto, Brokers: []string{b.URL()}, ClientID: id, OnConnect: onConnect})
	assert.False(t, itRecv(t, ctx, events, "clean connect").SessionPresent)
	require.NoError(t, clean.Disconnect(ctx))
	// ... so a persistent one starts afresh.
	events, onConnect = itEvents()
	newClient(t, client.Config{Protocol: proto, Brokers: []string{b.URL()}, ClientID: id, PersistentSession: true, Store: st, OnConnect: onConnect})
	assert.False(t, itRecv(t, ctx, events, "persistent connect after a clean one").SessionPresent)
}

// TestIntegrationCleanSession subscribes on a clean session and disconnects:
// the broker keeps nothing, so messages published meanwhile are never
// delivered and the next connection has no session (MQTT-3.1.2-6).
func TestIntegrationCleanSession(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	pub := newClient(t, client.Config{Brokers: []string{b.URL()}})
	const id = "it-clean"

	first := newClient(t, client.Config{Brokers: []string{b.URL()}, ClientID: id})
	_, err := first.Subscribe(ctx, "test/clean/#", client.AtLeastOnce, func(*client.Message) {})
	require.NoError(t, err)
	require.NoError(t, first.Disconnect(ctx))
	for i := range 3 {
		require.NoError(t, pub.Publish(ctx, "test/clean/lost", []byte(fmt.Sprint(i)), client.WithQoS(client.AtLeastOnce)))
	}

	got, h := itSink()
	events, onConnect := itEvents()
	second := newClient(t, client.Config{Brokers: []string{b.URL()}, ClientID: id, OnConnect: onConnect, DefaultHandler: h})
	assert.False(t, itRecv(t, ctx, events, "second connect").SessionPresent)
	markers, h := itSink()
	_, err = second.Subscribe(ctx, "test/clean-marker", client.AtLeastOnce, h)
	require.NoError(t, err)
	require.NoError(t, pub.Publish(ctx, "test/clean-marker", []byte("marker"), client.WithQoS(client.AtLeastOnce)))
	assert.Equal(t, "marker", string(itRecv(t, ctx, markers, "marker").Payload))
	assert.EqualValues(t, 1, second.Stats().MessagesIn, "nothing was queued for a clean session")
	itEmpty(t, got, "message of the discarded session")
}

// TestIntegrationExactlyOnceAcrossReconnect cuts the connection while the
// handler of a QoS 2 message still runs, so the PUBREC has not gone out. On
// the resumed session mosquitto sends the PUBLISH again with DUP set; the
// client must not hand it to the handler a second time, and must send PUBREC
// once the handler returns so the flow completes (MQTT-4.3.3-2,
// MQTT-4.1.0-1, MQTT-3.1.2-4).
func TestIntegrationExactlyOnceAcrossReconnect(t *testing.T) {
	itEachProtocol(t, testIntegrationExactlyOnceAcrossReconnect)
}

func testIntegrationExactlyOnceAcrossReconnect(t *testing.T, proto packets.ProtocolLevel) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	const id = "it-exactly-once"

	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	var mu sync.Mutex
	calls := map[string]int{}
	var dialer itDialer
	sub := newClient(t, client.Config{Protocol: proto,
		Brokers: []string{b.URL()}, ClientID: id, PersistentSession: true,
		Dial: dialer.Dial, Reconnect: itBackoff,
	})
	t.Cleanup(unblock)
	done, h := itSink()
	_, err := sub.Subscribe(ctx, "test/eo/#", client.ExactlyOnce, func(m *client.Message) {
		mu.Lock()
		calls[string(m.Payload)]++
		mu.Unlock()
		if string(m.Payload) == "once" {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
		}
		h(m)
	})
	require.NoError(t, err)

	pub := newClient(t, client.Config{Protocol: proto, Brokers: []string{b.URL()}})
	require.NoError(t, pub.Publish(ctx, "test/eo/a", []byte("once"), client.WithQoS(client.ExactlyOnce)))
	itRecv(t, ctx, entered, "handler entered")

	require.NoError(t, dialer.last(t).Close())
	require.Eventually(t, func() bool { return sub.Stats().Connects == 2 && sub.Stats().Connected }, 10*time.Second, itTick)
	// mosquitto resends the unacknowledged PUBLISH with DUP=1.
	itWaitLog(t, b, "Sending PUBLISH to "+id+" (d1, q2", 1)

	unblock()
	assert.Equal(t, "once", string(itRecv(t, ctx, done, "first delivery").Payload))
	itWaitLog(t, b, "Received PUBCOMP from "+id, 1)

	require.NoError(t, pub.Publish(ctx, "test/eo/b", []byte("marker"), client.WithQoS(client.ExactlyOnce)))
	assert.Equal(t, "marker", string(itRecv(t, ctx, done, "marker").Payload))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 1, calls["once"], "the QoS 2 message reached the handler exactly once")
	assert.Equal(t, 1, calls["marker"])
}
