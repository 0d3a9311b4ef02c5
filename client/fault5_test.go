package client_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/brokertest"
	"github.com/feedmq/feedmq/packets"
)

// MQTT 5.0 fault cases: what no real broker does on request, scripted
// packet by packet. Each test names the MQTT 5.0 conformance statements
// (shared/conformance-50.md) it covers.

// w5NextSkipPing is w5Next that answers and skips PINGREQs, for tests with
// a short keep alive.
func w5NextSkipPing(t *testing.T, conn *brokertest.Conn) packets.Packet {
	t.Helper()
	for {
		p := w5Next(t, conn)
		if p.Type() != packets.TypePingreq {
			return p
		}
		w5Send(t, conn, &packets.Pingresp{})
	}
}

func w5ExpectSkipPing[P packets.Packet](t *testing.T, conn *brokertest.Conn) P {
	t.Helper()
	p := w5NextSkipPing(t, conn)
	v, ok := p.(P)
	require.True(t, ok, "the client sent %v, want %T", p, v)
	return v
}

// TestFault5SendQuota holds the client to the broker's Receive Maximum of
// 2: a third QoS>0 PUBLISH waits, but SUBSCRIBE, PUBREL and PINGREQ do not;
// a PUBREC gives nothing back, PUBCOMP and PUBACK do; and a new connection
// starts a new quota, resends included (MQTT5-3.3.4-7, MQTT5-3.3.4-8,
// MQTT5-4.9.0-1, MQTT5-4.9.0-2, MQTT5-4.9.0-3, MQTT5-4.4.0-1, MQTT5-3.3.1-1).
// The broker's Server Keep Alive of 1 s replaces the client's minute
// (MQTT5-3.1.2-21, MQTT5-3.2.2-21).
func TestFault5SendQuota(t *testing.T) {
	srv := brokertest.New(t)
	cfg := w5Config(srv)
	cfg.ClientID, cfg.PersistentSession, cfg.KeepAlive = "quota", true, time.Minute
	events, onConnect := itEvents()
	cfg.OnConnect = onConnect
	c, conn := w5Connect(t, srv, cfg, false, w5Props(func(ps *packets.Properties) {
		ps.SetReceiveMaximum(2)
		ps.SetServerKeepAlive(1)
	}))
	ev := faultRecv(t, events)
	assert.EqualValues(t, 2, ev.Server.ReceiveMaximum)
	assert.Equal(t, time.Second, ev.Server.KeepAlive)

	qos2 := client.WithQoS(client.ExactlyOnce)
	da, err := c.PublishAsync("quota/a", []byte("a"), qos2)
	require.NoError(t, err)
	db, err := c.PublishAsync("quota/b", []byte("b"), qos2)
	require.NoError(t, err)
	dc, err := c.PublishAsync("quota/c", []byte("c"), client.WithQoS(client.AtLeastOnce))
	require.NoError(t, err)
	pa := w5ExpectSkipPing[*packets.Publish](t, conn)
	pb := w5ExpectSkipPing[*packets.Publish](t, conn)
	assert.Equal(t, "a", string(pa.Payload))
	assert.Equal(t, "b", string(pb.Payload))

	// The quota is spent. A SUBSCRIBE made after c goes out before it.
	subErr := faultGo(func() error {
		_, err := c.Subscribe(t.Context(), "quota/in", client.AtLeastOnce, func(*client.Message) {})
		return err
	})
	sub := w5ExpectSkipPing[*packets.Subscribe](t, conn)
	w5Send(t, conn, &packets.Suback{PacketID: sub.PacketID, ReasonCodes: []packets.ReasonCode{packets.ReasonGrantedQoS1}})
	require.NoError(t, faultRecv(t, subErr))

	// PUBREC does not give the quota back, but its PUBREL is not held.
	w5Send(t, conn, &packets.Pubrec{PacketID: pa.PacketID})
	rel := w5ExpectSkipPing[*packets.Pubrel](t, conn)
	assert.Equal(t, pa.PacketID, rel.PacketID)

	// Nor is PINGREQ: one comes within the broker's keep alive, not ours.
	w5Expect[*packets.Pingreq](t, conn)
	w5Send(t, conn, &packets.Pingresp{})

	// PUBCOMP gives one back: c goes out.
	w5Send(t, conn, &packets.Pubcomp{PacketID: pa.PacketID})
	require.NoError(t, faultDone(t, da))
	pc := w5ExpectSkipPing[*packets.Publish](t, conn)
	assert.Equal(t, "c", string(pc.Payload))

	// Cut with b and c outstanding. The new connection's quota is 1: b is
	// resent, c waits until b's flow is over, PUBREC and PUBREL included.
	conn.Close()
	conn2, _ := w5Accept(t, srv, true, w5Props(func(ps *packets.Properties) { ps.SetReceiveMaximum(1) }))
	rb := w5Expect[*packets.Publish](t, conn2)
	assert.Equal(t, pb.PacketID, rb.PacketID)
	assert.True(t, rb.Dup)
	w5Send(t, conn2, &packets.Pubrec{PacketID: rb.PacketID})
	assert.Equal(t, rb.PacketID, w5Expect[*packets.Pubrel](t, conn2).PacketID)
	w5Send(t, conn2, &packets.Pubcomp{PacketID: rb.PacketID})
	rc := w5Expect[*packets.Publish](t, conn2)
	assert.Equal(t, pc.PacketID, rc.PacketID)
	assert.True(t, rc.Dup)
	w5Send(t, conn2, &packets.Puback{PacketID: rc.PacketID})
	require.NoError(t, faultDone(t, db))
	require.NoError(t, faultDone(t, dc))
}

// TestFault5ReceiveMaximumOverrun: a broker that sends more unacknowledged
// QoS 1 and 2 messages than the client's Receive Maximum is disconnected
// with 0x93 (MQTT 5.0 §3.3.4, server statement MQTT5-3.3.4-9). Messages
// acknowledged give their place back, and QoS 0 never counts.
func TestFault5ReceiveMaximumOverrun(t *testing.T) {
	srv := brokertest.New(t)
	cfg := w5Config(srv)
	cfg.MQTT5.ReceiveMaximum = 2
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	got := make(chan *client.Message, 100)
	cfg.DefaultHandler = func(m *client.Message) {
		if string(m.Payload) == "block" {
			<-release
		}
		got <- m
	}
	c, err := client.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	t.Cleanup(unblock)
	errc := faultGo(func() error { return c.Connect(t.Context()) })
	conn, connect := w5Accept(t, srv, false, nil)
	require.NoError(t, faultRecv(t, errc))
	assert.EqualValues(t, 2, connect.Properties.ReceiveMaximum, "CONNECT carries Receive Maximum")

	pub := func(id uint16, qos client.QoS, payload string) {
		w5Send(t, conn, &packets.Publish{TopicName: "rm/x", QoS: qos, PacketID: id, Payload: []byte(payload)})
	}
	for round := range 3 {
		pub(uint16(2*round+1), client.AtLeastOnce, "ok")
		pub(uint16(2*round+2), client.AtLeastOnce, "ok")
		pub(0, client.AtMostOnce, "qos0")
		for range 2 {
			w5Expect[*packets.Puback](t, conn)
		}
	}
	pub(10, client.AtLeastOnce, "block")
	pub(0, client.AtMostOnce, "qos0")
	pub(11, client.ExactlyOnce, "ok")
	pub(12, client.AtLeastOnce, "one too many")
	w5ExpectDisconnect(t, conn, packets.ReasonReceiveMaximumExceeded)
}

// TestFault5InboundTopicAliases: aliases from the broker are resolved
// before routing, so handlers see whole topics, and a new PUBLISH with a
// topic re-binds its alias (MQTT5-3.3.2-10, MQTT 5.0 §3.3.2.3.4). Every
// abuse ends the connection with the code the spec names: an alias of 0 or
// above the client's Topic Alias Maximum is 0x94 (server statements
// MQTT5-3.1.2-26, MQTT5-3.1.2-27, MQTT5-3.3.2-11), an empty topic without
// a known alias is 0x82, and aliases die with the connection
// (MQTT5-3.3.2-7).
func TestFault5InboundTopicAliases(t *testing.T) {
	alias := func(topic string, a uint16, payload string) *packets.Publish {
		p := &packets.Publish{TopicName: topic, Payload: []byte(payload), Properties: &packets.Properties{}}
		p.Properties.SetTopicAlias(a)
		return p
	}
	// rawAlias is a QoS 0 PUBLISH the codec would refuse to encode.
	rawAlias := func(topic string, a uint16) []byte {
		body := []byte{0, byte(len(topic))}
		body = append(body, topic...)
		body = append(body, 3, 0x23, byte(a>>8), byte(a), 'x')
		return append([]byte{0x30, byte(len(body))}, body...)
	}
	t.Run("resolved", func(t *testing.T) {
		srv := brokertest.New(t)
		cfg := w5Config(srv)
		cfg.MQTT5.TopicAliasMaximum = 3
		got, h := itSink()
		cfg.DefaultHandler = h
		c, err := client.New(cfg)
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, c.Close()) })
		errc := faultGo(func() error { return c.Connect(t.Context()) })
		conn, connect := w5Accept(t, srv, false, nil)
		require.NoError(t, faultRecv(t, errc))
		assert.EqualValues(t, 3, connect.Properties.TopicAliasMaximum)
		for _, p := range []*packets.Publish{
			alias("al/one", 1, "1"), alias("", 1, "2"),
			alias("al/three", 3, "3"), alias("", 3, "4"),
			alias("al/rebound", 1, "5"), alias("", 1, "6"), alias("", 3, "7"),
		} {
			w5Send(t, conn, p)
		}
		for _, want := range []string{"al/one", "al/one", "al/three", "al/three", "al/rebound", "al/rebound", "al/three"} {
			m := faultRecv(t, got)
			assert.Equal(t, want, m.Topic, "message %s", m.Payload)
			// The handler sees the full topic, and the alias only as a fact
			// about the wire (mqtt-sub's %A shows it).
			if assert.NotNil(t, m.Properties) {
				assert.Equal(t, client.MessageProperties{TopicAlias: m.Properties.TopicAlias}, *m.Properties)
				assert.NotZero(t, m.Properties.TopicAlias)
			}
		}
	})
	for _, tc := range []struct {
		name    string
		max     uint16
		send    [][]byte
		reason  packets.ReasonCode
		between bool // cut the connection after the first packet
	}{
		{name: "alias 0", max: 3, send: [][]byte{rawAlias("al/x", 0)}, reason: packets.ReasonTopicAliasInvalid},
		{name: "above our maximum", max: 3, send: [][]byte{rawAlias("al/x", 4)}, reason: packets.ReasonTopicAliasInvalid},
		{name: "none allowed", max: 0, send: [][]byte{rawAlias("al/x", 1)}, reason: packets.ReasonTopicAliasInvalid},
		{name: "unknown alias, empty topic", max: 3, send: [][]byte{rawAlias("al/x", 1), rawAlias("", 2)}, reason: packets.ReasonProtocolError},
		{name: "empty topic, no alias", max: 3, send: [][]byte{{0x30, 0x04, 0, 0, 0, 'x'}}, reason: packets.ReasonProtocolError},
		{name: "alias of the previous connection", max: 3, send: [][]byte{rawAlias("al/x", 1), rawAlias("", 1)}, reason: packets.ReasonProtocolError, between: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := brokertest.New(t)
			cfg := w5Config(srv)
			cfg.MQTT5.TopicAliasMaximum = tc.max
			got, h := itSink()
			cfg.DefaultHandler = h
			lost := faultLost(&cfg)
			_, conn := w5Connect(t, srv, cfg, false, nil)
			for i, b := range tc.send {
				if i == len(tc.send)-1 && tc.between {
					conn.Close()
					conn, _ = w5Accept(t, srv, false, nil)
				}
				conn.SendRaw(t, b)
				if i < len(tc.send)-1 {
					assert.Equal(t, "al/x", faultRecv(t, got).Topic)
				}
			}
			w5ExpectDisconnect(t, conn, tc.reason)
			err := faultRecv(t, lost)
			if tc.between {
				err = faultRecv(t, lost)
			}
			// Alias 0 the codec refuses already, as malformed.
			assert.True(t, errors.Is(err, client.ErrProtocolViolation) || errors.Is(err, packets.ErrMalformed), "%v", err)
			itEmpty(t, got, "after the bad alias")
		})
	}
}

// TestFault5OversizeInbound: the client's Maximum Packet Size is in
// CONNECT, and a broker that sends a larger packet breaks it (server
// statement MQTT5-3.1.2-24): the client answers DISCONNECT 0x95 instead of
// skipping it as it does for a 3.1.1 broker, which was never told.
func TestFault5OversizeInbound(t *testing.T) {
	srv := brokertest.New(t)
	cfg := w5Config(srv)
	cfg.MaxPacketSize = 100
	got, h := itSink()
	cfg.DefaultHandler = h
	c, err := client.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	errc := faultGo(func() error { return c.Connect(t.Context()) })
	conn, connect := w5Accept(t, srv, false, nil)
	require.NoError(t, faultRecv(t, errc))
	require.True(t, connect.Properties.Present.Has(packets.PropMaximumPacketSize))
	limit := int(connect.Properties.MaximumPacketSize)

	fits := &packets.Publish{TopicName: "big", QoS: client.AtLeastOnce, PacketID: 1}
	fits.Payload = make([]byte, limit-fits.SizeVersion(client.MQTT5))
	require.Equal(t, limit, fits.SizeVersion(client.MQTT5))
	w5Send(t, conn, fits)
	assert.Len(t, faultRecv(t, got).Payload, len(fits.Payload), "a packet of exactly the limit is taken")
	w5Expect[*packets.Puback](t, conn)

	over := &packets.Publish{TopicName: "big", QoS: client.AtLeastOnce, PacketID: 2, Payload: make([]byte, len(fits.Payload)+1)}
	w5Send(t, conn, over)
	w5ExpectDisconnect(t, conn, packets.ReasonPacketTooLarge)
	itEmpty(t, got, "oversize")
}

// TestFault5AckReasonCodes: a PUBACK or PUBREC of 0x80 or above fails the
// publish with a *ReasonError, ends the flow without PUBREL and is never
// retransmitted, even on a resumed session (MQTT5-4.3.3-4, MQTT5-4.4.0-2,
// MQTT5-4.9.0-2); 0x10 is a success that Delivery.Reason shows
// (MQTT 5.0 §3.4.2.1).
func TestFault5AckReasonCodes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		qos    client.QoS
		code   packets.ReasonCode
		target error // nil: success
	}{
		{"QoS 1 not authorized", client.AtLeastOnce, packets.ReasonNotAuthorized, client.ErrNotAuthorized},
		{"QoS 1 quota exceeded", client.AtLeastOnce, packets.ReasonQuotaExceeded, client.ErrQuotaExceeded},
		{"QoS 1 no matching subscribers", client.AtLeastOnce, packets.ReasonNoMatchingSubscribers, nil},
		{"QoS 2 not authorized", client.ExactlyOnce, packets.ReasonNotAuthorized, client.ErrNotAuthorized},
		{"QoS 2 unspecified", client.ExactlyOnce, packets.ReasonUnspecifiedError, client.ErrUnspecified},
		{"QoS 2 no matching subscribers", client.ExactlyOnce, packets.ReasonNoMatchingSubscribers, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := brokertest.New(t)
			cfg := w5Config(srv)
			cfg.PersistentSession = true
			events, onConnect := itEvents()
			cfg.OnConnect = onConnect
			c, conn := w5Connect(t, srv, cfg, false, nil)
			d, err := c.PublishAsync("ack/x", []byte("m"), client.WithQoS(tc.qos))
			require.NoError(t, err)
			p := w5Expect[*packets.Publish](t, conn)
			props := w5Props(func(ps *packets.Properties) { ps.SetReasonString("because") })
			if tc.qos == client.AtLeastOnce {
				w5Send(t, conn, &packets.Puback{PacketID: p.PacketID, ReasonCode: tc.code, Properties: props})
			} else {
				w5Send(t, conn, &packets.Pubrec{PacketID: p.PacketID, ReasonCode: tc.code, Properties: props})
			}
			if tc.target == nil {
				if tc.qos == client.ExactlyOnce {
					assert.Equal(t, p.PacketID, w5Expect[*packets.Pubrel](t, conn).PacketID)
					w5Send(t, conn, &packets.Pubcomp{PacketID: p.PacketID})
				}
				require.NoError(t, faultDone(t, d))
				assert.Equal(t, tc.code, d.Reason())
				return
			}
			err = faultDone(t, d)
			require.ErrorIs(t, err, tc.target)
			var re *client.ReasonError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tc.code, re.Code)
			assert.Equal(t, "because", re.Reason)
			assert.Equal(t, tc.code, d.Reason())
			assert.Zero(t, c.Stats().Inflight)

			// No PUBREL, and nothing resent on the resumed session: the
			// first packet of each connection is the marker.
			require.NoError(t, c.Publish(t.Context(), "ack/marker", nil))
			assert.Equal(t, "ack/marker", w5Expect[*packets.Publish](t, conn).TopicName)
			conn.Close()
			conn2, _ := w5Accept(t, srv, true, nil)
			faultRecv(t, events) // the first connection's
			faultRecv(t, events)
			require.NoError(t, c.Publish(t.Context(), "ack/marker2", nil))
			assert.Equal(t, "ack/marker2", w5Expect[*packets.Publish](t, conn2).TopicName)
		})
	}
}

// TestFault5UnexpectedAcks: a duplicate or unknown PUBACK, PUBREC or
// PUBCOMP is counted and ignored, but a SUBACK or UNSUBACK that matches no
// request is a protocol error answered with DISCONNECT 0x82 (server
// statements MQTT5-2.2.1-6, MQTT5-3.8.4-2, MQTT5-3.10.4-5).
func TestFault5UnexpectedAcks(t *testing.T) {
	srv := brokertest.New(t)
	c, conn := w5Connect(t, srv, w5Config(srv), false, nil)
	require.NoError(t, faultRecv(t, faultGo(func() error {
		d, err := c.PublishAsync("dup/x", nil, client.WithQoS(client.AtLeastOnce))
		require.NoError(t, err)
		p := w5Expect[*packets.Publish](t, conn)
		w5Send(t, conn, &packets.Puback{PacketID: p.PacketID})
		w5Send(t, conn, &packets.Puback{PacketID: p.PacketID})
		w5Send(t, conn, &packets.Pubrec{PacketID: 999})
		w5Send(t, conn, &packets.Pubcomp{PacketID: 998, ReasonCode: packets.ReasonPacketIdentifierNotFound})
		return d.Wait(t.Context())
	})))
	require.Eventually(t, func() bool { return c.Stats().UnexpectedAcks == 3 }, faultWait, itTick)
	assert.True(t, c.Stats().Connected)

	// The unknown PUBREC was answered with PUBREL 0x92, Packet Identifier
	// not found (MQTT5-3.6.2-1), so that the broker can end its flow.
	rel := w5Expect[*packets.Pubrel](t, conn)
	assert.Equal(t, uint16(999), rel.PacketID)
	assert.Equal(t, packets.ReasonPacketIdentifierNotFound, rel.ReasonCode)

	// So is a PUBREL for no message received: PUBCOMP 0x92 (MQTT5-3.7.2-1).
	w5Send(t, conn, &packets.Pubrel{PacketID: 997})
	comp := w5Expect[*packets.Pubcomp](t, conn)
	assert.Equal(t, uint16(997), comp.PacketID)
	assert.Equal(t, packets.ReasonPacketIdentifierNotFound, comp.ReasonCode)

	w5Send(t, conn, &packets.Suback{PacketID: 77, ReasonCodes: []packets.ReasonCode{0}})
	w5ExpectDisconnect(t, conn, packets.ReasonProtocolError)
}

// TestFault5SubscribeReasonCodes: SUBACK and UNSUBACK reason codes of 0x80
// or above are errors that name each refused filter and its code, and
// match the sentinels with errors.Is; codes below 0x80 (granted QoS, 0x11
// No subscription existed) are successes (MQTT 5.0 §3.9.3, §3.11.3; server
// statements MQTT5-3.8.4-6, MQTT5-3.8.4-7, MQTT5-3.9.3-1, MQTT5-3.11.3-1).
func TestFault5SubscribeReasonCodes(t *testing.T) {
	srv := brokertest.New(t)
	c, conn := w5Connect(t, srv, w5Config(srv), false, nil)

	suback := func(codes ...packets.ReasonCode) {
		sub := w5Expect[*packets.Subscribe](t, conn)
		w5Send(t, conn, &packets.Suback{PacketID: sub.PacketID, ReasonCodes: codes})
	}
	errc := faultGo(func() error {
		_, err := c.SubscribeMany(t.Context(), []client.TopicFilter{
			{Filter: "s/a", QoS: client.AtLeastOnce}, {Filter: "s/b", QoS: client.AtLeastOnce}, {Filter: "s/c", QoS: client.ExactlyOnce},
		}, func(*client.Message) {})
		return err
	})
	suback(packets.ReasonGrantedQoS1, packets.ReasonNotAuthorized, packets.ReasonTopicFilterInvalid)
	err := faultRecv(t, errc)
	var se *client.SubscribeError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, []string{"s/b", "s/c"}, se.Refused)
	assert.Equal(t, []packets.ReasonCode{packets.ReasonNotAuthorized, packets.ReasonTopicFilterInvalid}, se.Reasons)
	assert.ErrorIs(t, err, client.ErrSubscriptionRefused)
	assert.ErrorIs(t, err, client.ErrNotAuthorized)
	assert.ErrorIs(t, err, client.ErrTopicFilterInvalid)

	// 0x80 alone, with no Reason String, is still a 5.0 reason.
	errc = faultGo(func() error {
		_, err := c.Subscribe(t.Context(), "s/d", client.AtLeastOnce, func(*client.Message) {})
		return err
	})
	suback(packets.ReasonUnspecifiedError)
	err = faultRecv(t, errc)
	require.ErrorAs(t, err, &se)
	assert.Equal(t, []packets.ReasonCode{packets.ReasonUnspecifiedError}, se.Reasons)
	assert.ErrorIs(t, err, client.ErrUnspecified)

	errc = faultGo(func() error { return c.Unsubscribe(t.Context(), "s/a", "s/x", "s/y") })
	unsub := w5Expect[*packets.Unsubscribe](t, conn)
	w5Send(t, conn, &packets.Unsuback{PacketID: unsub.PacketID, ReasonCodes: []packets.ReasonCode{
		packets.ReasonSuccess, packets.ReasonNoSubscriptionExisted, packets.ReasonNotAuthorized,
	}})
	err = faultRecv(t, errc)
	assert.ErrorIs(t, err, client.ErrNotAuthorized)
	assert.Contains(t, err.Error(), `"s/y"`)

	errc = faultGo(func() error { return c.Unsubscribe(t.Context(), "s/a") })
	unsub = w5Expect[*packets.Unsubscribe](t, conn)
	w5Send(t, conn, &packets.Unsuback{PacketID: unsub.PacketID, ReasonCodes: []packets.ReasonCode{packets.ReasonNoSubscriptionExisted}})
	assert.NoError(t, faultRecv(t, errc), "0x11 is a success")

	// One code per filter, or the UNSUBACK is a protocol error
	// (MQTT5-3.11.3-1).
	errc = faultGo(func() error { return c.Unsubscribe(t.Context(), "s/a", "s/b") })
	unsub = w5Expect[*packets.Unsubscribe](t, conn)
	w5Send(t, conn, &packets.Unsuback{PacketID: unsub.PacketID, ReasonCodes: []packets.ReasonCode{0}})
	w5ExpectDisconnect(t, conn, packets.ReasonProtocolError)
	_ = errc // answered on the next connection, or with ErrClosed
}

// TestFault5ServerDisconnect: a DISCONNECT from the broker ends the
// connection without a DISCONNECT back (MQTT5-4.13.2-1) and its reason is
// the error. Session taken over stops reconnecting (server statement
// MQTT5-3.1.4-3); server busy waits longer before the next attempt.
func TestFault5ServerDisconnect(t *testing.T) {
	t.Run("session taken over", func(t *testing.T) {
		srv := brokertest.New(t)
		cfg := w5Config(srv)
		lost := faultLost(&cfg)
		c, conn := w5Connect(t, srv, cfg, false, nil)
		w5Send(t, conn, &packets.Disconnect{ReasonCode: packets.ReasonSessionTakenOver})
		conn.ExpectClosed(t)
		assert.ErrorIs(t, faultRecv(t, lost), client.ErrSessionTakenOver)
		faultRecv(t, c.Done())
		assert.ErrorIs(t, c.Err(), client.ErrSessionTakenOver)
		srv.ExpectNoConnection(t, 200*time.Millisecond)
	})
	t.Run("server moved", func(t *testing.T) {
		srv := brokertest.New(t)
		cfg := w5Config(srv)
		lost := faultLost(&cfg)
		_, conn := w5Connect(t, srv, cfg, false, nil)
		w5Send(t, conn, &packets.Disconnect{ReasonCode: packets.ReasonServerMoved, Properties: w5Props(func(ps *packets.Properties) {
			ps.SetServerReference("elsewhere:1883")
			ps.SetReasonString("maintenance")
		})})
		conn.ExpectClosed(t)
		err := faultRecv(t, lost)
		var re *client.ReasonError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, packets.TypeDisconnect, re.Packet)
		assert.Equal(t, "elsewhere:1883", re.ServerReference)
		assert.Contains(t, err.Error(), "maintenance")
		w5Accept(t, srv, false, nil) // it does come back
	})
	t.Run("server busy", func(t *testing.T) {
		srv := brokertest.New(t)
		cfg := w5Config(srv)
		// With no jitter to speak of, the first wait is 150 ms; busy must
		// make it at least the next step's 300 ms.
		cfg.Reconnect = client.Backoff{InitialDelay: 150 * time.Millisecond, MaxDelay: 10 * time.Second, Multiplier: 2, Jitter: 0.01}
		lost := faultLost(&cfg)
		_, conn := w5Connect(t, srv, cfg, false, nil)
		w5Send(t, conn, &packets.Disconnect{ReasonCode: packets.ReasonServerBusy})
		conn.ExpectClosed(t)
		assert.ErrorIs(t, faultRecv(t, lost), client.ErrServerBusy)
		srv.ExpectNoConnection(t, 250*time.Millisecond)
		w5Accept(t, srv, false, nil)
	})
}

// TestFault5ConnackLimits: what the broker states in CONNACK is enforced
// before anything is sent, with typed errors, never a downgrade
// (MQTT5-3.2.2-11, MQTT5-3.2.2-14, MQTT5-3.2.2-15).
func TestFault5ConnackLimits(t *testing.T) {
	const maxSize = 64
	for _, tc := range []struct {
		name    string
		props   func(*packets.Properties)
		refused func(ctx context.Context, c *client.Client) error
		target  error
	}{
		{
			name:  "Maximum QoS 1",
			props: func(ps *packets.Properties) { ps.SetMaximumQoS(1) },
			refused: func(ctx context.Context, c *client.Client) error {
				_, err := c.PublishAsync("lim/x", nil, client.WithQoS(client.ExactlyOnce))
				return err
			},
			target: client.ErrNotSupported,
		},
		{
			name:  "Retain Available 0",
			props: func(ps *packets.Properties) { ps.SetRetainAvailable(0) },
			refused: func(ctx context.Context, c *client.Client) error {
				return c.Publish(ctx, "lim/x", nil, client.WithRetain())
			},
			target: client.ErrNotSupported,
		},
		{
			name:  "Maximum Packet Size",
			props: func(ps *packets.Properties) { ps.SetMaximumPacketSize(maxSize) },
			refused: func(ctx context.Context, c *client.Client) error {
				return c.Publish(ctx, "lim/x", make([]byte, maxSize), client.WithQoS(client.AtLeastOnce))
			},
			target: client.ErrPacketTooLarge,
		},
		{
			name:  "Wildcard Subscription Available 0",
			props: func(ps *packets.Properties) { ps.SetWildcardSubscriptionAvailable(0) },
			refused: func(ctx context.Context, c *client.Client) error {
				_, err := c.Subscribe(ctx, "lim/+", client.AtLeastOnce, func(*client.Message) {})
				return err
			},
			target: client.ErrNotSupported,
		},
		{
			name:  "Shared Subscription Available 0",
			props: func(ps *packets.Properties) { ps.SetSharedSubscriptionAvailable(0) },
			refused: func(ctx context.Context, c *client.Client) error {
				_, err := c.Subscribe(ctx, "$share/g/lim", client.AtLeastOnce, func(*client.Message) {})
				return err
			},
			target: client.ErrNotSupported,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := brokertest.New(t)
			c, conn := w5Connect(t, srv, w5Config(srv), false, w5Props(tc.props))
			assert.ErrorIs(t, tc.refused(t.Context(), c), tc.target)
			// Nothing went out for it: the next packet is the marker.
			require.NoError(t, c.Publish(t.Context(), "lim/marker", nil))
			p := w5Expect[*packets.Publish](t, conn)
			assert.Equal(t, "lim/marker", p.TopicName)
			assert.Equal(t, client.AtMostOnce, p.QoS)
		})
	}

	// A publish of exactly Maximum Packet Size bytes goes out, with topic
	// aliases on or off: the alias that rides along the topic on first use
	// must not push it over (MQTT5-3.2.2-15).
	for _, aliases := range []bool{false, true} {
		t.Run("exactly Maximum Packet Size, aliases "+map[bool]string{false: "off", true: "on"}[aliases], func(t *testing.T) {
			srv := brokertest.New(t)
			cfg := w5Config(srv)
			cfg.MQTT5.TopicAliases = aliases
			c, conn := w5Connect(t, srv, cfg, false, w5Props(func(ps *packets.Properties) {
				ps.SetMaximumPacketSize(maxSize)
				ps.SetTopicAliasMaximum(5)
			}))
			p := packets.Publish{TopicName: "lim/exact", QoS: client.AtLeastOnce, PacketID: 1}
			payload := make([]byte, maxSize-p.SizeVersion(client.MQTT5))
			for range 2 {
				d, err := c.PublishAsync("lim/exact", payload, client.WithQoS(client.AtLeastOnce))
				require.NoError(t, err)
				raw := conn.ReadRaw(t)
				assert.LessOrEqual(t, len(raw), maxSize, "PUBLISH of %d bytes, the broker allows %d", len(raw), maxSize)
				got, _, err := packets.DecodeVersion(raw, client.MQTT5)
				require.NoError(t, err)
				w5Send(t, conn, &packets.Puback{PacketID: got.(*packets.Publish).PacketID})
				require.NoError(t, faultDone(t, d))
			}
		})
	}
}

// TestFault5OutboundTopicAliases: aliases stay within the broker's Topic
// Alias Maximum and are never 0, the first use of one on a connection
// carries the topic, and a new connection starts with none
// (MQTT5-3.2.2-17, MQTT5-3.2.2-18, MQTT5-3.3.2-7, MQTT5-3.3.2-8,
// MQTT5-3.3.2-9, MQTT5-3.3.2-1). No Topic Alias Maximum means no aliases.
func TestFault5OutboundTopicAliases(t *testing.T) {
	type wire struct {
		topic string
		alias uint16
	}
	read := func(t *testing.T, conn *brokertest.Conn, n int) []wire {
		var out []wire
		for range n {
			p := w5Expect[*packets.Publish](t, conn)
			out = append(out, wire{p.TopicName, w5Alias(p)})
		}
		return out
	}
	srv := brokertest.New(t)
	cfg := w5Config(srv)
	cfg.MQTT5.TopicAliases = true
	cfg.PersistentSession = true
	events, onConnect := itEvents()
	cfg.OnConnect = onConnect
	c, conn := w5Connect(t, srv, cfg, false, w5Props(func(ps *packets.Properties) { ps.SetTopicAliasMaximum(2) }))
	for _, topic := range []string{"ta/1", "ta/2", "ta/3", "ta/1", "ta/2", "ta/3"} {
		require.NoError(t, c.Publish(t.Context(), topic, []byte(topic)))
	}
	assert.Equal(t, []wire{{"ta/1", 1}, {"ta/2", 2}, {"ta/3", 0}, {"", 1}, {"", 2}, {"ta/3", 0}}, read(t, conn, 6))

	// A QoS 1 message cut off is resent on the next connection: its alias
	// of the old connection means nothing there.
	d, err := c.PublishAsync("ta/2", []byte("q1"), client.WithQoS(client.AtLeastOnce))
	require.NoError(t, err)
	first := w5Expect[*packets.Publish](t, conn)
	assert.Equal(t, wire{"", 2}, wire{first.TopicName, w5Alias(first)})
	conn.Close()
	conn, _ = w5Accept(t, srv, true, w5Props(func(ps *packets.Properties) { ps.SetTopicAliasMaximum(2) }))
	faultRecv(t, events)
	faultRecv(t, events)
	again := w5Expect[*packets.Publish](t, conn)
	assert.Equal(t, "ta/2", again.TopicName, "the first use on a new connection carries the topic")
	assert.True(t, again.Dup)
	w5Send(t, conn, &packets.Puback{PacketID: again.PacketID})
	require.NoError(t, faultDone(t, d))
	require.NoError(t, c.Publish(t.Context(), "ta/2", nil))
	require.NoError(t, c.Publish(t.Context(), "ta/1", nil))
	a := w5Alias(again)
	assert.NotZero(t, a)
	assert.Equal(t, []wire{{"", a}, {"ta/1", 3 - a}}, read(t, conn, 2))

	// A broker with no Topic Alias Maximum gets whole topics.
	conn.Close()
	conn, _ = w5Accept(t, srv, true, nil)
	faultRecv(t, events)
	for range 2 {
		require.NoError(t, c.Publish(t.Context(), "ta/1", nil))
	}
	assert.Equal(t, []wire{{"ta/1", 0}, {"ta/1", 0}}, read(t, conn, 2))
}

// TestFault5AssignedClientID: a client with no ClientID sends an empty one
// and reuses the identifier the broker assigned on every reconnection, so
// that its session can resume (MQTT5-3.1.3-2, MQTT5-3.1.3-3; server
// statements MQTT5-3.1.3-7, MQTT5-3.2.2-16).
func TestFault5AssignedClientID(t *testing.T) {
	srv := brokertest.New(t)
	cfg := w5Config(srv)
	cfg.ClientID = ""
	events, onConnect := itEvents()
	cfg.OnConnect = onConnect
	c, err := client.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, c.Close()) })
	errc := faultGo(func() error { return c.Connect(t.Context()) })
	conn, connect := w5Accept(t, srv, false, w5Props(func(ps *packets.Properties) { ps.SetAssignedClientIdentifier("auto-7") }))
	require.NoError(t, faultRecv(t, errc))
	assert.Equal(t, "", connect.ClientID)
	assert.Equal(t, "auto-7", faultRecv(t, events).Server.AssignedClientID)
	conn.Close()
	_, connect = w5Accept(t, srv, false, nil)
	assert.Equal(t, "auto-7", connect.ClientID)
}

// TestFault5Refuse: a handler refuses a message with a reason code, sent
// in its PUBACK or PUBREC (MQTT5-3.4.2-1, MQTT5-3.5.2-1, MQTT5-4.3.2-4,
// MQTT5-4.3.3-8); a refused QoS 2 identifier then starts a new message
// (MQTT5-4.3.3-9). Codes PUBACK cannot carry are refused.
func TestFault5Refuse(t *testing.T) {
	srv := brokertest.New(t)
	cfg := w5Config(srv)
	var mu sync.Mutex
	calls := map[string]int{}
	refuseErrs := make(chan error, 10)
	cfg.DefaultHandler = func(m *client.Message) {
		mu.Lock()
		calls[string(m.Payload)]++
		n := calls[string(m.Payload)]
		mu.Unlock()
		refuseErrs <- m.Refuse(packets.ReasonNoMatchingSubscribers)
		if n == 1 {
			refuseErrs <- m.Refuse(packets.ReasonNotAuthorized)
		} else {
			refuseErrs <- nil
		}
	}
	_, conn := w5Connect(t, srv, cfg, false, nil)

	w5Send(t, conn, &packets.Publish{TopicName: "r/1", QoS: client.AtLeastOnce, PacketID: 5, Payload: []byte("q1")})
	ack := w5Expect[*packets.Puback](t, conn)
	assert.Equal(t, packets.Puback{PacketID: 5, ReasonCode: packets.ReasonNotAuthorized}, *ack)

	w5Send(t, conn, &packets.Publish{TopicName: "r/2", QoS: client.ExactlyOnce, PacketID: 6, Payload: []byte("q2")})
	rec := w5Expect[*packets.Pubrec](t, conn)
	assert.Equal(t, packets.Pubrec{PacketID: 6, ReasonCode: packets.ReasonNotAuthorized}, *rec)
	// The same identifier again is a new message, delivered and accepted.
	w5Send(t, conn, &packets.Publish{TopicName: "r/2", QoS: client.ExactlyOnce, PacketID: 6, Payload: []byte("q2")})
	rec = w5Expect[*packets.Pubrec](t, conn)
	assert.Equal(t, packets.Pubrec{PacketID: 6}, *rec)
	w5Send(t, conn, &packets.Pubrel{PacketID: 6})
	assert.Equal(t, uint16(6), w5Expect[*packets.Pubcomp](t, conn).PacketID)

	for i := range 6 {
		err := faultRecv(t, refuseErrs)
		if i%2 == 0 {
			assert.Error(t, err, "0x10 refuses nothing")
		} else {
			assert.NoError(t, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, map[string]int{"q1": 1, "q2": 2}, calls)
}

// TestFault5ProtocolErrorsDisconnect: at 5.0 the client tells the broker
// why it closes: 0x81 for a malformed packet, 0x82 for a protocol error
// (MQTT 5.0 §4.13; MQTT5-3.3.1-4, MQTT5-2.1.3-1, server statement
// MQTT5-3.2.0-2), then sends nothing more (MQTT5-3.14.4-1).
func TestFault5ProtocolErrorsDisconnect(t *testing.T) {
	connack, err := (&packets.Connack{}).AppendVersion(nil, client.MQTT5)
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		raw    []byte
		reason packets.ReasonCode
	}{
		{"PUBLISH QoS 3", []byte{0x36, 0x06, 0, 1, 'x', 0, 1, 0}, packets.ReasonMalformedPacket},
		{"PUBACK with flags", []byte{0x41, 0x02, 0, 1}, packets.ReasonMalformedPacket},
		{"second CONNACK", connack, packets.ReasonProtocolError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := brokertest.New(t)
			cfg := w5Config(srv)
			lost := faultLost(&cfg)
			_, conn := w5Connect(t, srv, cfg, false, nil)
			conn.SendRaw(t, tc.raw)
			w5ExpectDisconnect(t, conn, tc.reason)
			err := faultRecv(t, lost)
			assert.True(t, errors.Is(err, client.ErrProtocolViolation) || strings.Contains(err.Error(), "malformed"), "%v", err)
		})
	}
}

// TestFault5DisconnectWith: DisconnectWith sends its reason code and
// session expiry (MQTT5-3.14.2-1), refuses a session expiry on a session
// that ends with the connection without sending anything, and refuses
// every 5.0 option on a 3.1.1 client.
func TestFault5DisconnectWith(t *testing.T) {
	srv := brokertest.New(t)
	cfg := w5Config(srv)
	cfg.PersistentSession = true
	c, conn := w5Connect(t, srv, cfg, false, nil)
	zero := time.Duration(0)
	require.NoError(t, c.DisconnectWith(t.Context(), client.DisconnectOptions{
		Reason: packets.ReasonDisconnectWithWillMessage, SessionExpiry: &zero, ReasonString: "bye",
		UserProperties: []client.UserProperty{{Key: "k", Value: "v"}},
	}))
	d := w5Expect[*packets.Disconnect](t, conn)
	assert.Equal(t, packets.ReasonDisconnectWithWillMessage, d.ReasonCode)
	assert.True(t, d.Properties.Present.Has(packets.PropSessionExpiryInterval))
	assert.Zero(t, d.Properties.SessionExpiryInterval)
	assert.Equal(t, "bye", d.Properties.ReasonString)
	assert.Equal(t, []client.UserProperty{{Key: "k", Value: "v"}}, d.Properties.UserProperties)
	conn.ExpectClosed(t)

	clean := w5Config(srv)
	c2, conn2 := w5Connect(t, srv, clean, false, nil)
	hour := time.Hour
	assert.Error(t, c2.DisconnectWith(t.Context(), client.DisconnectOptions{SessionExpiry: &hour}))
	require.NoError(t, c2.Publish(t.Context(), "dw/marker", nil))
	assert.Equal(t, "dw/marker", w5Expect[*packets.Publish](t, conn2).TopicName, "still connected, nothing sent")

	v311 := faultConfig(srv)
	c3, _ := faultConnect(t, srv, v311, false)
	assert.ErrorIs(t, c3.DisconnectWith(t.Context(), client.DisconnectOptions{Reason: packets.ReasonDisconnectWithWillMessage}), client.ErrNeedsMQTT5)
}

// TestFault5ConnackRefused: a CONNACK reason code of 0x80 or above is a
// *ConnectError carrying the reason, matched by errors.Is; the permanent
// ones stop the client, the others are retried (MQTT5-4.13.2-1, server
// statements MQTT5-3.2.2-6, MQTT5-3.2.2-7, MQTT5-3.1.3-8).
func TestFault5ConnackRefused(t *testing.T) {
	for _, tc := range []struct {
		code      packets.ReasonCode
		target    error
		permanent bool
	}{
		{packets.ReasonBadUserNameOrPassword, client.ErrBadUserNameOrPassword, true},
		{packets.ReasonNotAuthorized, client.ErrNotAuthorized, true},
		{packets.ReasonClientIdentifierNotValid, nil, true},
		{packets.ReasonServerBusy, client.ErrServerBusy, false},
	} {
		t.Run(tc.code.NameFor(packets.TypeConnack), func(t *testing.T) {
			srv := brokertest.New(t)
			cfg := w5Config(srv)
			cfg.ConnectRetry = true
			c, err := client.New(cfg)
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			errc := faultGo(func() error { return c.Connect(t.Context()) })
			conn := srv.Accept(t)
			w5Expect[*packets.Connect](t, conn)
			w5Send(t, conn, &packets.Connack{ReasonCode: tc.code, Properties: w5Props(func(ps *packets.Properties) { ps.SetReasonString("no") })})
			conn.ExpectClosed(t)
			if !tc.permanent {
				w5Accept(t, srv, false, nil) // tried again
				require.NoError(t, faultRecv(t, errc))
				return
			}
			err = faultRecv(t, errc)
			var ce *client.ConnectError
			require.ErrorAs(t, err, &ce)
			require.NotNil(t, ce.Reason)
			assert.Equal(t, tc.code, ce.Reason.Code)
			assert.Equal(t, "no", ce.Reason.Reason)
			assert.True(t, ce.Permanent())
			if tc.target != nil {
				assert.ErrorIs(t, err, tc.target)
			}
		})
	}
}
