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
	"github.com/feedmq/feedmq/internal/brokertest"
	"github.com/feedmq/feedmq/packets"
	"github.com/feedmq/feedmq/store"
)

// faultSubscribe subscribes c to filter while the broker grants it.
func faultSubscribe(t *testing.T, c *client.Client, conn *brokertest.Conn, filter string, qos client.QoS, h func(*client.Message)) {
	t.Helper()
	granted := make(chan client.QoS, 1)
	errc := faultGo(func() error {
		q, err := c.Subscribe(context.Background(), filter, qos, h)
		granted <- q
		return err
	})
	sub := conn.AckSubscribe(t)
	require.Len(t, sub.Subscriptions, 1)
	assert.Equal(t, filter, sub.Subscriptions[0].TopicFilter)
	require.NoError(t, faultRecv(t, errc))
	assert.Equal(t, qos, <-granted)
}

// TestFaultInboundQoS1AckAfterHandler sends a QoS 1 message whose handler
// blocks: PUBACK, with the message's identifier, goes out only after the
// handler returned (MQTT-4.3.2-2, MQTT-2.3.1-6, MQTT-3.3.4-1;
// MQTT5-3.3.4-1, MQTT5-4.3.2-4).
func TestFaultInboundQoS1AckAfterHandler(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		srv := brokertest.New(t)
		c, conn := faultConnect(t, srv, faultLevel(srv, level), false)
		entered := make(chan *client.Message, 1)
		release := make(chan struct{})
		faultSubscribe(t, c, conn, "in/#", client.AtLeastOnce, func(m *client.Message) {
			entered <- m
			<-release
		})
		conn.Send(t, &packets.Publish{QoS: client.AtLeastOnce, TopicName: "in/a", PacketID: 7, Payload: []byte("seven")})
		m := faultRecv(t, entered)
		assert.Equal(t, "in/a", m.Topic)
		assert.Equal(t, []byte("seven"), m.Payload)
		assert.Equal(t, client.AtLeastOnce, m.QoS)
		conn.ExpectNothing(t, quiet) // the handler still has it
		close(release)
		assert.Equal(t, uint16(7), conn.ExpectAck(t, packets.TypePuback), "PUBACK echoes the identifier (MQTT-2.3.1-6)")
		conn.ExpectNothing(t, quiet)
	})
}

// TestFaultInboundAckOrder sends several QoS 1 or QoS 2 messages on one
// subscription, the first with a slow handler: the PUBACKs, or PUBRECs,
// follow the order of receipt (MQTT-4.6.0-2, MQTT-4.6.0-3; MQTT5-4.6.0-2,
// MQTT5-4.6.0-3).
func TestFaultInboundAckOrder(t *testing.T) {
	for _, tc := range []struct {
		qos  client.QoS
		ack  packets.Type
		rule string
	}{
		{client.AtLeastOnce, packets.TypePuback, "PUBACKs in receipt order (MQTT-4.6.0-2, MQTT5-4.6.0-2)"},
		{client.ExactlyOnce, packets.TypePubrec, "PUBRECs in receipt order (MQTT-4.6.0-3, MQTT5-4.6.0-3)"},
	} {
		t.Run(tc.ack.String(), func(t *testing.T) {
			faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
				srv := brokertest.New(t)
				c, conn := faultConnect(t, srv, faultLevel(srv, level), false)
				release := make(chan struct{})
				faultSubscribe(t, c, conn, "in/#", tc.qos, func(m *client.Message) {
					if string(m.Payload) == "slow" {
						<-release
					}
				})
				ids := []uint16{30, 10, 20, 11, 12}
				for i, id := range ids {
					payload := []byte{byte(id)}
					if i == 0 {
						payload = []byte("slow")
					}
					conn.Send(t, &packets.Publish{QoS: tc.qos, TopicName: "in/a", PacketID: id, Payload: payload})
				}
				conn.ExpectNothing(t, quiet)
				close(release)
				for _, id := range ids {
					assert.Equal(t, id, conn.ExpectAck(t, tc.ack), tc.rule)
				}
			})
		})
	}
}

// TestFaultInboundQoS1IdentifierReuse: once a QoS 1 message was
// acknowledged, a PUBLISH with the same identifier is a new message and is
// delivered again, whatever its DUP flag says (MQTT5-4.3.2-5; 3.1.1 has no
// exactly-once promise at QoS 1 either).
func TestFaultInboundQoS1IdentifierReuse(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		srv := brokertest.New(t)
		c, conn := faultConnect(t, srv, faultLevel(srv, level), false)
		got := make(chan *client.Message, 10)
		faultSubscribe(t, c, conn, "in/#", client.AtLeastOnce, func(m *client.Message) { got <- m })
		for i, dup := range []bool{false, true, false} {
			payload := []byte(fmt.Sprint("message ", i))
			conn.Send(t, &packets.Publish{QoS: client.AtLeastOnce, Dup: dup, TopicName: "in/a", PacketID: 7, Payload: payload})
			assert.Equal(t, uint16(7), conn.ExpectAck(t, packets.TypePuback))
			m := faultRecv(t, got)
			assert.Equal(t, payload, m.Payload, "identifier 7 after its PUBACK is a new message (MQTT5-4.3.2-5)")
			assert.Equal(t, dup, m.Duplicate)
		}
		conn.ExpectNothing(t, quiet)
		faultNoRecv(t, got, "extra delivery")
	})
}

// TestFaultInboundUnmatched sends messages no subscription matches, and no
// DefaultHandler is set: they are acknowledged anyway, per QoS
// (MQTT-4.5.0-2, MQTT-3.3.4-1; MQTT5-4.5.0-2, MQTT5-3.3.4-1: nothing for
// QoS 0, PUBACK, PUBREC), and no handler runs.
func TestFaultInboundUnmatched(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		srv := brokertest.New(t)
		c, conn := faultConnect(t, srv, faultLevel(srv, level), false)
		var calls atomic.Int32
		faultSubscribe(t, c, conn, "in/#", client.ExactlyOnce, func(*client.Message) { calls.Add(1) })
		conn.Send(t, &packets.Publish{QoS: client.AtMostOnce, TopicName: "other/0", Payload: []byte("0")})
		conn.Send(t, &packets.Publish{QoS: client.AtLeastOnce, TopicName: "other/1", PacketID: 20, Payload: []byte("1")})
		assert.Equal(t, uint16(20), conn.ExpectAck(t, packets.TypePuback), "MQTT-4.5.0-2")
		conn.Send(t, &packets.Publish{QoS: client.ExactlyOnce, TopicName: "other/2", PacketID: 21, Payload: []byte("2")})
		assert.Equal(t, uint16(21), conn.ExpectAck(t, packets.TypePubrec), "MQTT-4.5.0-2")
		conn.Send(t, &packets.Pubrel{PacketID: 21})
		assert.Equal(t, uint16(21), conn.ExpectAck(t, packets.TypePubcomp))
		conn.ExpectNothing(t, quiet)
		assert.Zero(t, calls.Load())
	})
}

// TestFaultInboundQoS2ExactlyOnce drives the receiver side of QoS 2 through
// duplicates and a reconnect: the handler runs once until PUBREL, every
// duplicate is answered with PUBREC, PUBREL with PUBCOMP, and after that the
// identifier names a new message (MQTT-4.3.3-2, MQTT-4.6.0-3, MQTT-2.3.1-6,
// MQTT-4.1.0-1). At 5.0: a repeat before PUBREL gets PUBREC and is not
// delivered again (MQTT5-4.3.3-10), PUBREL gets PUBCOMP with its identifier
// (MQTT5-4.3.3-11), and after PUBCOMP the identifier is a new message
// (MQTT5-4.3.3-12).
func TestFaultInboundQoS2ExactlyOnce(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		srv := brokertest.New(t)
		c, conn := faultConnect(t, srv, faultPersistent(srv, level), false)
		got := make(chan *client.Message, 10)
		faultSubscribe(t, c, conn, "in/#", client.ExactlyOnce, func(m *client.Message) { got <- m })
		pub := &packets.Publish{QoS: client.ExactlyOnce, TopicName: "in/q2", PacketID: 9, Payload: []byte("nine")}

		conn.Send(t, pub)
		m := faultRecv(t, got)
		assert.Equal(t, []byte("nine"), m.Payload)
		assert.Equal(t, uint16(9), conn.ExpectAck(t, packets.TypePubrec), "MQTT-2.3.1-6")

		dup := *pub
		dup.Dup = true
		conn.Send(t, &dup)
		assert.Equal(t, uint16(9), conn.ExpectAck(t, packets.TypePubrec), "a duplicate is answered with PUBREC (MQTT-4.3.3-2)")
		conn.Close()

		conn2, _ := srv.AcceptConnected(t, true)
		conn2.Send(t, &dup)
		assert.Equal(t, uint16(9), conn2.ExpectAck(t, packets.TypePubrec), "MQTT-4.3.3-2 across reconnects")
		conn2.Send(t, &packets.Pubrel{PacketID: 9})
		assert.Equal(t, uint16(9), conn2.ExpectAck(t, packets.TypePubcomp))
		faultNoRecv(t, got, "second delivery before PUBREL (MQTT-4.3.3-2)")

		// Released: the identifier is free, the next PUBLISH with it is new.
		again := &packets.Publish{QoS: client.ExactlyOnce, TopicName: "in/q2", PacketID: 9, Payload: []byte("nine again")}
		conn2.Send(t, again)
		m = faultRecv(t, got)
		assert.Equal(t, []byte("nine again"), m.Payload, "after PUBCOMP the identifier is a new message (MQTT-4.3.3-2)")
		assert.Equal(t, uint16(9), conn2.ExpectAck(t, packets.TypePubrec))
		conn2.Send(t, &packets.Pubrel{PacketID: 9})
		assert.Equal(t, uint16(9), conn2.ExpectAck(t, packets.TypePubcomp))
		conn2.ExpectNothing(t, quiet)
		faultNoRecv(t, got, "extra delivery")
	})
}

// TestFaultInboundQoS2DuplicateDuringHandler sends the duplicate while the
// handler still holds the first copy: it is not delivered again, and the
// flow completes once the handler returned (MQTT-4.3.3-2, MQTT5-4.3.3-10,
// MQTT5-4.3.3-11).
func TestFaultInboundQoS2DuplicateDuringHandler(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		srv := brokertest.New(t)
		c, conn := faultConnect(t, srv, faultLevel(srv, level), false)
		got := make(chan *client.Message, 10)
		release := make(chan struct{})
		faultSubscribe(t, c, conn, "in/#", client.ExactlyOnce, func(m *client.Message) {
			got <- m
			<-release
		})
		pub := &packets.Publish{QoS: client.ExactlyOnce, TopicName: "in/q2", PacketID: 4, Payload: []byte("four")}
		conn.Send(t, pub)
		faultRecv(t, got)
		dup := *pub
		dup.Dup = true
		conn.Send(t, &dup)
		conn.ExpectNothing(t, quiet) // the handler has not returned: not ours yet
		close(release)
		assert.Equal(t, uint16(4), conn.ExpectAck(t, packets.TypePubrec))
		conn.Send(t, &packets.Pubrel{PacketID: 4})
		for {
			p := conn.Next(t)
			if p.Type() == packets.TypePubcomp {
				assert.Equal(t, uint16(4), p.(*packets.Pubcomp).PacketID)
				break
			}
			// A second PUBREC, for the duplicate, is allowed.
			require.Equal(t, &packets.Pubrec{PacketID: 4}, p)
		}
		conn.ExpectNothing(t, quiet)
		faultNoRecv(t, got, "second delivery (MQTT-4.3.3-2)")
	})
}

// TestFaultCleanSessionForgetsInboundQoS2 receives a QoS 2 message, then
// reconnects with a clean session before PUBREL. The new session has no
// state of the old one (MQTT-3.1.2-6): a PUBLISH with the same identifier
// is a new message and is delivered; the subscription is made again. At
// 5.0, Clean Start 1 discards the client's session state (MQTT5-3.1.2-4).
func TestFaultCleanSessionForgetsInboundQoS2(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		srv := brokertest.New(t)
		c, conn := faultConnect(t, srv, faultLevel(srv, level), false)
		got := make(chan *client.Message, 10)
		faultSubscribe(t, c, conn, "in/#", client.ExactlyOnce, func(m *client.Message) { got <- m })
		conn.Send(t, &packets.Publish{QoS: client.ExactlyOnce, TopicName: "in/q2", PacketID: 5, Payload: []byte("old")})
		faultRecv(t, got)
		assert.Equal(t, uint16(5), conn.ExpectAck(t, packets.TypePubrec))
		conn.Close()

		conn2, connect := srv.AcceptConnected(t, false)
		assert.True(t, connect.CleanSession)
		sub := conn2.AckSubscribe(t)
		assert.Equal(t, "in/#", sub.Subscriptions[0].TopicFilter)
		conn2.Send(t, &packets.Publish{QoS: client.ExactlyOnce, TopicName: "in/q2", PacketID: 5, Payload: []byte("new")})
		m := faultRecv(t, got)
		assert.Equal(t, []byte("new"), m.Payload, "no stale QoS 2 state reused (MQTT-3.1.2-6)")
		assert.Equal(t, uint16(5), conn2.ExpectAck(t, packets.TypePubrec))
	})
}

// TestFaultSessionLostForgetsInboundQoS2 uses a persistent session whose
// broker lost it: CONNACK says Session Present 0 on the reconnect. The
// broker's identifiers start afresh, so a PUBLISH reusing the identifier of
// a QoS 2 message still waiting for PUBREL in the client's old session is a
// new message and must be delivered; keeping the old receiver state would
// drop it as a duplicate. Session Present 0 means no session state on the
// broker (MQTT 3.1.1 §3.2.2.2, MQTT-3.2.2-3) and the exactly-once state is
// part of the session (MQTT-4.1.0-1, MQTT-4.3.3-2). The subscription is
// made again. At 5.0 a client that continues after Session Present 0
// discards its session state (MQTT5-3.2.2-5).
func TestFaultSessionLostForgetsInboundQoS2(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		srv := brokertest.New(t)
		c, conn := faultConnect(t, srv, faultPersistent(srv, level), false)
		got := make(chan *client.Message, 10)
		faultSubscribe(t, c, conn, "in/#", client.ExactlyOnce, func(m *client.Message) { got <- m })
		conn.Send(t, &packets.Publish{QoS: client.ExactlyOnce, TopicName: "in/q2", PacketID: 1, Payload: []byte("old")})
		faultRecv(t, got)
		assert.Equal(t, uint16(1), conn.ExpectAck(t, packets.TypePubrec))
		conn.Close()

		conn2, connect := srv.AcceptConnected(t, false) // the broker lost the session
		assert.False(t, connect.CleanSession)
		conn2.AckSubscribe(t)
		conn2.Send(t, &packets.Publish{QoS: client.ExactlyOnce, TopicName: "in/q2", PacketID: 1, Payload: []byte("new")})
		assert.Equal(t, uint16(1), conn2.ExpectAck(t, packets.TypePubrec))
		// PUBREC of a new message follows its handler, so it is here by now.
		select {
		case m := <-got:
			assert.Equal(t, []byte("new"), m.Payload)
		default:
			t.Fatal("a new message of the broker's new session was taken for a duplicate and not delivered")
		}
	})
}

// TestFaultNoStaleAckAfterSessionLost: a QoS 1 handler still running when
// the broker comes back without the session must not PUBACK its old packet
// id on the new connection, where that id may name another message
// (MQTT-3.1.2-6, MQTT-4.1.0-1, MQTT5-3.2.2-5).
func TestFaultNoStaleAckAfterSessionLost(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		srv := brokertest.New(t)
		c, conn := faultConnect(t, srv, faultPersistent(srv, level), false)
		release := make(chan struct{})
		started := make(chan struct{}, 10)
		faultSubscribe(t, c, conn, "in/#", client.AtLeastOnce, func(m *client.Message) {
			started <- struct{}{}
			<-release
		})
		conn.Send(t, &packets.Publish{QoS: client.AtLeastOnce, TopicName: "in/q1", PacketID: 5, Payload: []byte("old")})
		faultRecv(t, started)
		conn.Close()

		conn2, _ := srv.AcceptConnected(t, false) // the broker lost the session
		conn2.AckSubscribe(t)
		close(release)
		conn2.ExpectNothing(t, 200*time.Millisecond)

		// The client still acknowledges messages of the new session.
		conn2.Send(t, &packets.Publish{QoS: client.AtLeastOnce, TopicName: "in/q1", PacketID: 5, Payload: []byte("new")})
		assert.Equal(t, uint16(5), conn2.ExpectAck(t, packets.TypePuback))
	})
}

// TestFaultSessionLastsAsLongAsConnection: even a clean session keeps its
// state for the whole connection, so a QoS 2 message resent on the same
// connection before PUBREL is not delivered again (MQTT-4.1.0-2,
// MQTT-4.3.3-2; MQTT5-4.1.0-1, MQTT5-4.3.3-10).
func TestFaultSessionLastsAsLongAsConnection(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		srv := brokertest.New(t)
		c, conn := faultConnect(t, srv, faultLevel(srv, level), false)
		got := make(chan *client.Message, 10)
		faultSubscribe(t, c, conn, "in/#", client.ExactlyOnce, func(m *client.Message) { got <- m })
		p := &packets.Publish{QoS: client.ExactlyOnce, TopicName: "in/a", PacketID: 3, Payload: []byte("x")}
		conn.Send(t, p)
		faultRecv(t, got)
		assert.Equal(t, uint16(3), conn.ExpectAck(t, packets.TypePubrec))
		p.Dup = true
		conn.Send(t, p)
		assert.Equal(t, uint16(3), conn.ExpectAck(t, packets.TypePubrec))
		conn.Send(t, &packets.Pubrel{PacketID: 3})
		assert.Equal(t, uint16(3), conn.ExpectAck(t, packets.TypePubcomp))
		faultNoRecv(t, got, "a duplicate within the session")
	})
}

// failingInbound is a store whose inbound writes fail, as a full disk would.
type failingInbound struct{ store.Store }

func (f failingInbound) Put(k store.Key, p packets.Packet) error {
	if k.Dir == store.Inbound {
		return errors.New("disk full")
	}
	return f.Store.Put(k, p)
}

// TestFaultTransientErrorClosesConnection: when the client cannot record an
// inbound QoS 2 message, it closes the connection rather than acknowledge
// it (MQTT-4.8.0-2); the broker's redelivery on the next connection is
// answered without running the handler again.
func TestFaultTransientErrorClosesConnection(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		srv := brokertest.New(t)
		cfg := faultPersistent(srv, level)
		cfg.Store = failingInbound{store.NewMemory()}
		lost := faultLost(&cfg)
		c, conn := faultConnect(t, srv, cfg, false)
		got := make(chan *client.Message, 10)
		faultSubscribe(t, c, conn, "in/#", client.ExactlyOnce, func(m *client.Message) { got <- m })
		p := &packets.Publish{QoS: client.ExactlyOnce, TopicName: "in/a", PacketID: 9, Payload: []byte("x")}
		conn.Send(t, p)
		faultRecv(t, got)
		conn.ExpectClosed(t)
		assert.ErrorContains(t, faultRecv(t, lost), "disk full")

		conn2, _ := srv.AcceptConnected(t, true)
		p.Dup = true
		conn2.Send(t, p)
		assert.Equal(t, uint16(9), conn2.ExpectAck(t, packets.TypePubrec))
		faultNoRecv(t, got, "a redelivery of a message the handler had")
	})
}

// TestFaultOrderedAcks: with Config.OrderedAcks, PUBACKs follow the order
// the messages arrived in across subscriptions (MQTT-4.6.0-2,
// MQTT5-4.6.0-2): a message
// for a fast handler waits for an earlier one in a slow handler. Without it
// the fast subscription is acknowledged at once.
func TestFaultOrderedAcks(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		for _, ordered := range []bool{true, false} {
			t.Run(map[bool]string{true: "ordered", false: "per subscription"}[ordered], func(t *testing.T) {
				srv := brokertest.New(t)
				cfg := faultConfig(srv)
				cfg.OrderedAcks = ordered
				c, conn := faultConnect(t, srv, cfg, false)
				release := make(chan struct{})
				faultSubscribe(t, c, conn, "slow/#", client.AtLeastOnce, func(*client.Message) { <-release })
				faultSubscribe(t, c, conn, "fast/#", client.AtLeastOnce, func(*client.Message) {})
				conn.Send(t, &packets.Publish{QoS: client.AtLeastOnce, TopicName: "slow/a", PacketID: 1})
				conn.Send(t, &packets.Publish{QoS: client.AtLeastOnce, TopicName: "fast/a", PacketID: 2})
				if ordered {
					conn.ExpectNothing(t, 100*time.Millisecond)
					close(release)
					assert.Equal(t, uint16(1), conn.ExpectAck(t, packets.TypePuback))
					assert.Equal(t, uint16(2), conn.ExpectAck(t, packets.TypePuback))
					return
				}
				assert.Equal(t, uint16(2), conn.ExpectAck(t, packets.TypePuback))
				close(release)
				assert.Equal(t, uint16(1), conn.ExpectAck(t, packets.TypePuback))
			})
		}
	})
}

// TestFaultRepublish: a handler republishes the message it received, as a
// gateway does. The received PUBLISH has DUP 1; the client's PUBLISH has
// DUP 0, because DUP says only whether that packet is a retransmission
// (MQTT-3.3.1-3, MQTT5-3.3.1-3). At 5.0 the received message carries the
// Subscription Identifier of the client's subscription, and neither the
// republished message nor the Reply to it carries one (MQTT5-3.3.4-6).
func TestFaultRepublish(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		srv := brokertest.New(t)
		c, conn := faultConnect(t, srv, faultLevel(srv, level), false)
		errs := make(chan error, 2)
		subscribed := faultGo(func() error {
			_, err := c.Subscribe(context.Background(), "in/#", client.AtLeastOnce, func(m *client.Message) {
				_, err := c.PublishAsync("out/"+m.Topic, m.Payload, client.WithQoS(m.QoS))
				errs <- err
				if level == client.MQTT5 {
					errs <- c.Reply(context.Background(), m, []byte("reply"))
				}
			})
			return err
		})
		sub := conn.AckSubscribe(t)
		require.NoError(t, faultRecv(t, subscribed))
		in := &packets.Publish{QoS: client.AtLeastOnce, Dup: true, TopicName: "in/a", PacketID: 4, Payload: []byte("x")}
		if level == client.MQTT5 {
			require.NotNil(t, sub.Properties)
			require.Len(t, sub.Properties.SubscriptionIdentifiers, 1)
			in.Properties = &packets.Properties{SubscriptionIdentifiers: sub.Properties.SubscriptionIdentifiers}
			in.Properties.SetResponseTopic("reply/to")
			in.Properties.SetCorrelationData([]byte("c1"))
		}
		conn.Send(t, in)

		want := map[string]bool{"out/in/a": true}
		if level == client.MQTT5 {
			want["reply/to"] = true
		}
		acked := false
		for len(want) > 0 || !acked {
			switch p := conn.Next(t).(type) {
			case *packets.Puback:
				assert.Equal(t, in.PacketID, p.PacketID)
				acked = true
			case *packets.Publish:
				require.True(t, want[p.TopicName], "unexpected %v", p)
				delete(want, p.TopicName)
				assert.False(t, p.Dup, "the received DUP is not copied (MQTT5-3.3.1-3)")
				if p.Properties != nil {
					assert.Empty(t, p.Properties.SubscriptionIdentifiers, "a PUBLISH the client sends (MQTT5-3.3.4-6)")
				}
				if p.TopicName == "reply/to" {
					require.NotNil(t, p.Properties)
					assert.Equal(t, []byte("c1"), p.Properties.CorrelationData)
				} else {
					assert.Equal(t, client.AtLeastOnce, p.QoS)
					conn.Send(t, &packets.Puback{PacketID: p.PacketID})
				}
			default:
				t.Fatalf("unexpected %v", p)
			}
		}
		assert.NoError(t, faultRecv(t, errs), "republish")
		if level == client.MQTT5 {
			assert.NoError(t, faultRecv(t, errs), "reply")
		}
		conn.ExpectNothing(t, quiet)
	})
}
