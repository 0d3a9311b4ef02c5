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
	"github.com/feedmq/feedmq/internal/embedbroker"
	"github.com/feedmq/feedmq/internal/mosquittotest"
	"github.com/feedmq/feedmq/packets"
)

// MQTT 5.0 against real brokers: mosquitto 2.0 and the embedded mochi.
// Each test names the MQTT 5.0 conformance statements
// (shared/conformance-50.md) it covers.

// i5Config is a 5.0 client configuration for url with fast reconnects.
func i5Config(url, id string) client.Config {
	return client.Config{
		Brokers: []string{url}, ClientID: id, Protocol: client.MQTT5,
		Reconnect: client.Backoff{InitialDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond},
	}
}

// i5Counter counts the payloads a handler receives.
type i5Counter struct {
	mu    sync.Mutex
	seen  map[string]int
	bad   []string // messages whose topic is not the one their payload names
	total int
	want  int
	all   chan struct{}
}

func newI5Counter(want int) *i5Counter {
	return &i5Counter{seen: map[string]int{}, want: want, all: make(chan struct{})}
}

// handle records a message whose payload is "topic|n".
func (c *i5Counter) handle(m *client.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := string(m.Payload)
	if topic, _, _ := strings.Cut(p, "|"); topic != m.Topic {
		c.bad = append(c.bad, fmt.Sprintf("%q on %q", p, m.Topic))
	}
	c.seen[p]++
	c.total++
	if len(c.seen) == c.want {
		close(c.all)
	}
}

func (c *i5Counter) wait(t *testing.T) {
	t.Helper()
	select {
	case <-c.all:
	case <-time.After(30 * time.Second):
		c.mu.Lock()
		defer c.mu.Unlock()
		t.Fatalf("%d of %d messages arrived", len(c.seen), c.want)
	}
}

// TestIntegration5ReceiveMaximum: mosquitto's max_inflight_messages is the
// Receive Maximum of its CONNACK. With the broker's acknowledgments
// delayed, a proxy counts the QoS 1 and 2 PUBLISHes unacknowledged on the
// wire: never more than 10, also across 20 link cuts made with 10
// outstanding, where the persistent session resends; every message arrives,
// QoS 2 ones exactly once (MQTT5-3.3.4-7, MQTT5-4.9.0-1, MQTT5-4.9.0-2,
// MQTT5-4.4.0-1, MQTT5-4.3.3-6, MQTT5-4.3.2-3, MQTT5-4.3.3-3).
func TestIntegration5ReceiveMaximum(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Options{Extra: "max_inflight_messages 10", QuietLog: true})
	const n, limit, cuts = 300, 10, 20
	var mu sync.Mutex
	outstanding := map[int]map[uint16]bool{}
	most, cutsDone := 0, 0
	fromClient := func(l *w5Link, p packets.Packet) {
		pub, ok := p.(*packets.Publish)
		if !ok || pub.QoS == client.AtMostOnce {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if outstanding[l.id] == nil {
			outstanding[l.id] = map[uint16]bool{}
		}
		outstanding[l.id][pub.PacketID] = true
		most = max(most, len(outstanding[l.id]))
		if len(outstanding[l.id]) == limit && cutsDone < cuts {
			cutsDone++
			l.cut()
		}
	}
	fromBroker := func(l *w5Link, p packets.Packet) {
		var id uint16
		switch p := p.(type) {
		case *packets.Puback:
			id = p.PacketID
		case *packets.Pubcomp:
			id = p.PacketID
		case *packets.Pubrec:
			if p.ReasonCode < 0x80 {
				return
			}
			id = p.PacketID
		default:
			return
		}
		mu.Lock()
		delete(outstanding[l.id], id)
		mu.Unlock()
	}
	proxy := w5StartProxy(t, b.Addr(), w5Hooks{fromClient: fromClient, fromBroker: fromBroker, ackDelay: 2 * time.Millisecond})

	got := newI5Counter(n)
	sub := newClient(t, i5Config(b.URL(), "rm-sub"))
	_, err := sub.Subscribe(testCtx(t), "rm/#", client.ExactlyOnce, got.handle)
	require.NoError(t, err)

	cfg := i5Config(proxy.URL(), "rm-pub")
	cfg.PersistentSession, cfg.MaxPending = true, n
	events, onConnect := itEvents()
	cfg.OnConnect = onConnect
	pub := newClient(t, cfg)
	assert.EqualValues(t, limit, itRecvWithin(t, 5*time.Second, events, "connect").Server.ReceiveMaximum)

	ds := make([]*client.Delivery, n)
	for i := range ds {
		qos := client.AtLeastOnce + client.QoS(i%2)
		topic := fmt.Sprintf("rm/q%d", qos)
		ds[i], err = pub.PublishAsync(topic, fmt.Appendf(nil, "%s|%d", topic, i), client.WithQoS(qos))
		require.NoError(t, err)
	}
	ctx := testCtx(t)
	for i, d := range ds {
		require.NoError(t, d.Wait(ctx), "message %d", i)
	}
	got.wait(t)

	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d messages, %d cuts, at most %d unacknowledged", n, cutsDone, most)
	assert.Equal(t, cuts, cutsDone, "every cut was made with the window full")
	assert.Equal(t, limit, most, "the window filled, and never overflowed")
	got.mu.Lock()
	defer got.mu.Unlock()
	assert.Empty(t, got.bad)
	for p, k := range got.seen {
		if strings.HasPrefix(p, "rm/q2|") {
			assert.Equal(t, 1, k, "QoS 2 message %s delivered %d times", p, k)
		}
	}
}

// TestIntegration5TopicAliases: with Config.MQTT5.TopicAliases, 20 topics
// × 100 messages go to a mosquitto whose max_topic_alias is 5. A proxy
// checks every alias on the wire: within 1..5, never 0, and the first use
// of one on each connection carries its topic, after link cuts too
// (MQTT5-3.2.2-17, MQTT5-3.3.2-7, MQTT5-3.3.2-8, MQTT5-3.3.2-9,
// MQTT5-3.3.2-1). mosquitto resolves every one to the right topic and
// never disconnects the client.
func TestIntegration5TopicAliases(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Options{Extra: "max_topic_alias 5", QuietLog: true, Unbounded: true})
	const topics, perTopic, cuts = 20, 100, 5
	var mu sync.Mutex
	aliases := map[int]map[uint16]string{}
	published := map[int]int{}
	var problems []string
	aliased, cutsDone := 0, 0
	cutting := false
	fromClient := func(l *w5Link, p packets.Packet) {
		pub, ok := p.(*packets.Publish)
		if !ok {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		published[l.id]++
		if cutting && cutsDone < cuts && published[l.id]%50 == 0 {
			cutsDone++
			l.cut()
			return
		}
		a := w5Alias(pub)
		switch {
		case a == 0:
			if pub.TopicName == "" {
				problems = append(problems, "empty topic, no alias")
			}
		case a > 5:
			problems = append(problems, fmt.Sprintf("alias %d above the broker's 5", a))
		case pub.TopicName != "":
			if aliases[l.id] == nil {
				aliases[l.id] = map[uint16]string{}
			}
			aliases[l.id][a] = pub.TopicName
		case aliases[l.id][a] == "":
			problems = append(problems, fmt.Sprintf("connection %d: alias %d used before it carried a topic", l.id, a))
		default:
			aliased++
		}
	}
	proxy := w5StartProxy(t, b.Addr(), w5Hooks{fromClient: fromClient})

	got := newI5Counter(topics * perTopic)
	sub := newClient(t, i5Config(b.URL(), "ta-sub"))
	_, err := sub.Subscribe(testCtx(t), "ta/#", client.AtLeastOnce, got.handle)
	require.NoError(t, err)

	cfg := i5Config(proxy.URL(), "ta-pub")
	cfg.MQTT5.TopicAliases, cfg.PersistentSession, cfg.MaxPending = true, true, topics*perTopic
	events, onConnect := itEvents()
	cfg.OnConnect = onConnect
	lost := faultLost(&cfg)
	pub := newClient(t, cfg)
	assert.EqualValues(t, 5, itRecvWithin(t, 5*time.Second, events, "connect").Server.TopicAliasMaximum)

	publish := func(round int) {
		var ds []*client.Delivery
		for i := range perTopic / 2 {
			for tp := range topics {
				topic := fmt.Sprintf("ta/%d", tp)
				d, err := pub.PublishAsync(topic, fmt.Appendf(nil, "%s|%d.%d", topic, round, i), client.WithQoS(client.AtLeastOnce))
				require.NoError(t, err)
				ds = append(ds, d)
			}
		}
		ctx := testCtx(t)
		for i, d := range ds {
			require.NoError(t, d.Wait(ctx), "message %d", i)
		}
	}
	publish(0)
	faultNoRecv(t, lost, "connection loss without any cut")

	mu.Lock()
	cutting = true
	mu.Unlock()
	publish(1)
	got.wait(t)

	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d aliased PUBLISHes, %d cuts, %d connections", aliased, cutsDone, len(published))
	assert.Empty(t, problems)
	assert.Positive(t, aliased, "aliases were used")
	assert.Equal(t, cuts, cutsDone)
	for id := 1; id < len(published); id++ {
		assert.NotEmpty(t, aliases[id], "connection %d set aliases of its own", id)
	}
	for range cutsDone {
		assert.NotErrorIs(t, faultRecv(t, lost), client.ErrProtocolViolation)
	}
	faultNoRecv(t, lost, "connection loss beyond the cuts")
	got.mu.Lock()
	defer got.mu.Unlock()
	assert.Empty(t, got.bad, "mosquitto resolved every alias to its topic")
}

// TestIntegration5InboundAliasesMochi: mochi sends topic aliases to a
// client that allows them; handlers see whole topics, and the aliases start
// again on each connection (MQTT5-3.3.2-10, MQTT5-3.3.2-7).
func TestIntegration5InboundAliasesMochi(t *testing.T) {
	mb, err := embedbroker.Start()
	require.NoError(t, err)
	t.Cleanup(mb.Close)
	addr := strings.TrimPrefix(mb.URL(), "mqtt://")
	var mu sync.Mutex
	aliasedPerLink := map[int]int{}
	fromBroker := func(l *w5Link, p packets.Packet) {
		if pub, ok := p.(*packets.Publish); ok && pub.TopicName == "" && w5Alias(pub) != 0 {
			mu.Lock()
			aliasedPerLink[l.id]++
			mu.Unlock()
		}
	}
	proxy := w5StartProxy(t, addr, w5Hooks{fromBroker: fromBroker})
	const topics, each = 5, 10
	cfg := i5Config(proxy.URL(), "ia-sub")
	cfg.MQTT5.TopicAliasMaximum = 3
	events, onConnect := itEvents()
	cfg.OnConnect = onConnect
	sub := newClient(t, cfg)
	itRecvWithin(t, 5*time.Second, events, "connect")
	pub := newClient(t, i5Config(mb.URL(), "ia-pub"))
	for round := range 2 {
		got := newI5Counter(topics * each)
		_, err := sub.Subscribe(testCtx(t), "ia/#", client.AtLeastOnce, got.handle)
		require.NoError(t, err)
		for i := range each {
			for tp := range topics {
				topic := fmt.Sprintf("ia/%d", tp)
				require.NoError(t, pub.Publish(testCtx(t), topic, fmt.Appendf(nil, "%s|%d.%d", topic, round, i), client.WithQoS(client.AtLeastOnce)))
			}
		}
		got.wait(t)
		got.mu.Lock()
		assert.Empty(t, got.bad, "round %d: a handler saw a wrong topic", round)
		got.mu.Unlock()
		mu.Lock()
		assert.Positive(t, aliasedPerLink[round], "round %d: mochi sent aliased PUBLISHes", round)
		mu.Unlock()
		if round == 0 {
			proxy.cutLast()
			itRecvWithin(t, 5*time.Second, events, "reconnect")
		}
	}
}

// TestIntegration5ReasonCodes: mosquitto's refusals come back as reason
// codes: a bad password in CONNACK 0x87, a denied publish in PUBACK and
// PUBREC 0x87 (MQTT5-4.4.0-2, MQTT5-4.3.3-4, server statement
// MQTT5-3.2.2-6); "no matching subscribers" (0x10) is a success that
// Delivery.Reason shows. mosquitto 2.0.11 grants every SUBSCRIBE whatever
// its ACL file says (it filters at delivery), so SUBACK refusals are
// TestFault5SubscribeReasonCodes's.
func TestIntegration5ReasonCodes(t *testing.T) {
	acl := "user alice\ntopic readwrite open/#\ntopic readwrite lonely/#\ntopic read ro/#\n"
	b := mosquittotest.Start(t, mosquittotest.Options{Users: map[string]string{"alice": "secret"}, ACL: acl})
	ctx := testCtx(t)

	t.Run("bad password", func(t *testing.T) {
		cfg := i5Config(b.URL(), "rc-bad")
		cfg.Username, cfg.Password = "alice", "wrong"
		c, err := client.New(cfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		err = c.Connect(ctx)
		var ce *client.ConnectError
		require.ErrorAs(t, err, &ce)
		require.NotNil(t, ce.Reason)
		// mosquitto 2.0 answers a wrong password with 0x87 Not authorized,
		// not 0x86; TestFault5ConnackRefused covers 0x86.
		assert.ErrorIs(t, err, client.ErrNotAuthorized)
		assert.True(t, ce.Permanent())
	})

	cfg := i5Config(b.URL(), "rc-alice")
	cfg.Username, cfg.Password = "alice", "secret"
	c := newClient(t, cfg)

	t.Run("publish denied", func(t *testing.T) {
		for _, qos := range []client.QoS{client.AtLeastOnce, client.ExactlyOnce} {
			d, err := c.PublishAsync("ro/x", []byte("no"), client.WithQoS(qos))
			require.NoError(t, err)
			err = d.Wait(ctx)
			assert.ErrorIs(t, err, client.ErrNotAuthorized, "QoS %d", qos)
			assert.Equal(t, packets.ReasonNotAuthorized, d.Reason())
		}
		assert.Zero(t, c.Stats().Inflight)
	})
	t.Run("no matching subscribers", func(t *testing.T) {
		// mosquitto knows at PUBLISH for QoS 1 only; its PUBREC says 0x00.
		d, err := c.PublishAsync("lonely/nobody", []byte("x"), client.WithQoS(client.AtLeastOnce))
		require.NoError(t, err)
		require.NoError(t, d.Wait(ctx))
		assert.Equal(t, packets.ReasonNoMatchingSubscribers, d.Reason())
	})
}

// TestIntegration5Properties: a message's properties cross mosquitto
// intact, user properties in order (MQTT5-3.3.2-13, MQTT5-3.3.2-19,
// MQTT5-1.5.7-1); a will with properties is published on DisconnectWith
// 0x04 (MQTT5-3.1.2-9, MQTT5-3.1.3-1, MQTT5-3.14.2-1); and DisconnectWith a
// session expiry of 0 ends a persistent session (MQTT5-3.1.2-23).
func TestIntegration5Properties(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	got, h := itSink()
	sub := newClient(t, i5Config(b.URL(), "pr-sub"))
	_, err := sub.Subscribe(ctx, "pr/#", client.AtLeastOnce, h)
	require.NoError(t, err)

	t.Run("message", func(t *testing.T) {
		pub := newClient(t, i5Config(b.URL(), "pr-pub"))
		require.NoError(t, pub.Publish(ctx, "pr/msg", []byte("héllo"), client.WithQoS(client.AtLeastOnce),
			client.WithContentType("text/plain; charset=utf-8"), client.WithResponseTopic("pr/reply"),
			client.WithCorrelationData([]byte{0, 1, 2}), client.WithMessageExpiry(time.Hour), client.WithPayloadUTF8(),
			client.WithUserProperty("z", "1"), client.WithUserProperty("a", "2"), client.WithUserProperty("z", "3")))
		m := itRecv(t, ctx, got, "message")
		require.NotNil(t, m.Properties)
		mp := m.Properties
		assert.Equal(t, "text/plain; charset=utf-8", mp.ContentType)
		assert.Equal(t, "pr/reply", mp.ResponseTopic)
		assert.Equal(t, []byte{0, 1, 2}, mp.CorrelationData)
		assert.True(t, mp.PayloadUTF8)
		assert.InDelta(t, time.Hour.Seconds(), mp.Expiry.Seconds(), 5)
		assert.Equal(t, []client.UserProperty{{Key: "z", Value: "1"}, {Key: "a", Value: "2"}, {Key: "z", Value: "3"}}, mp.UserProperties)
	})

	t.Run("will on DisconnectWith 0x04", func(t *testing.T) {
		cfg := i5Config(b.URL(), "pr-will")
		cfg.Will = &client.Will{Topic: "pr/will", Payload: []byte("gone"), QoS: client.AtLeastOnce, Properties: &client.WillProperties{
			ContentType: "text/plain", ResponseTopic: "pr/will-reply", CorrelationData: []byte("w"),
			UserProperties: []client.UserProperty{{Key: "why", Value: "test"}}, PayloadUTF8: true,
		}}
		c := newClient(t, cfg)
		require.NoError(t, c.DisconnectWith(ctx, client.DisconnectOptions{Reason: packets.ReasonDisconnectWithWillMessage}))
		m := itRecv(t, ctx, got, "will")
		assert.Equal(t, "pr/will", m.Topic)
		assert.Equal(t, "gone", string(m.Payload))
		require.NotNil(t, m.Properties)
		assert.Equal(t, "text/plain", m.Properties.ContentType)
		assert.Equal(t, "pr/will-reply", m.Properties.ResponseTopic)
		assert.Equal(t, []byte("w"), m.Properties.CorrelationData)
		assert.True(t, m.Properties.PayloadUTF8)
		assert.Equal(t, []client.UserProperty{{Key: "why", Value: "test"}}, m.Properties.UserProperties)
	})

	t.Run("session expiry at DisconnectWith", func(t *testing.T) {
		for _, end := range []bool{false, true} {
			cfg := i5Config(b.URL(), fmt.Sprintf("pr-session-%t", end))
			cfg.PersistentSession = true
			events, onConnect := itEvents()
			cfg.OnConnect = onConnect
			first := newClient(t, cfg)
			assert.False(t, itRecv(t, ctx, events, "first").SessionPresent)
			var o client.DisconnectOptions
			if end {
				o.SessionExpiry = new(time.Duration)
			}
			require.NoError(t, first.DisconnectWith(ctx, o))
			newClient(t, cfg)
			assert.Equal(t, !end, itRecv(t, ctx, events, "second").SessionPresent, "session expiry 0 at DISCONNECT: %t", end)
		}
	})

	t.Run("refused by the handler", func(t *testing.T) {
		ctx := testCtx(t)
		// mosquitto takes the refusal as the end of the flow: the message
		// is not sent again, even on a resumed session.
		cfg := i5Config(b.URL(), "pr-refuse")
		cfg.PersistentSession = true
		var dialer itDialer
		cfg.Dial = dialer.Dial
		calls := make(chan string, 10)
		c := newClient(t, cfg)
		_, err := c.Subscribe(ctx, "pr/refuse", client.AtLeastOnce, func(m *client.Message) {
			calls <- string(m.Payload)
			if string(m.Payload) == "refused" {
				assert.NoError(t, m.Refuse(packets.ReasonImplementationSpecificError))
			}
		})
		require.NoError(t, err)
		pub := newClient(t, i5Config(b.URL(), "pr-refuse-pub"))
		require.NoError(t, pub.Publish(ctx, "pr/refuse", []byte("refused"), client.WithQoS(client.AtLeastOnce)))
		assert.Equal(t, "refused", itRecv(t, ctx, calls, "refused message"))
		itWaitLog(t, b, "Received PUBACK from pr-refuse", 1)
		require.NoError(t, dialer.last(t).Close())
		require.NoError(t, pub.Publish(ctx, "pr/refuse", []byte("next"), client.WithQoS(client.AtLeastOnce)))
		assert.Equal(t, "next", itRecv(t, ctx, calls, "next message"), "the refused message was not sent again")
	})
}
