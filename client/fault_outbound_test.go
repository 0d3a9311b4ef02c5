package client_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/brokertest"
	"github.com/feedmq/feedmq/packets"
)

// quiet is how long a test waits to see that the client sends nothing.
const quiet = 100 * time.Millisecond

// faultLevel is faultConfig at the given protocol level.
func faultLevel(srv *brokertest.Server, level packets.ProtocolLevel) client.Config {
	cfg := faultConfig(srv)
	cfg.Protocol = level
	return cfg
}

// faultPersistent is faultLevel with a persistent session.
func faultPersistent(srv *brokertest.Server, level packets.ProtocolLevel) client.Config {
	cfg := faultLevel(srv, level)
	cfg.PersistentSession = true
	return cfg
}

// TestFaultQoS1ResendAfterCut cuts the connection after the broker read a
// QoS 1 PUBLISH and before it answered. On the resumed session the client
// sends the PUBLISH again with DUP=1 and the same packet identifier, and
// Publish returns only after PUBACK (MQTT-4.4.0-1, MQTT-3.3.1-1,
// MQTT-2.3.1-3, MQTT-4.3.2-1, MQTT-3.1.2-4). At 5.0: the message takes a
// free identifier and goes out first with QoS 1 and DUP 0 (MQTT5-4.3.2-1,
// MQTT5-4.3.2-2), and is resent on the resumed session (MQTT5-4.4.0-1).
func TestFaultQoS1ResendAfterCut(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		srv := brokertest.New(t)
		c, conn := faultConnect(t, srv, faultPersistent(srv, level), false)
		published := faultGo(func() error {
			return c.Publish(context.Background(), "fault/qos1", []byte("hello"), client.WithQoS(client.AtLeastOnce))
		})
		first := conn.ExpectPublish(t)
		assert.Equal(t, client.AtLeastOnce, first.QoS)
		assert.False(t, first.Dup, "DUP on the first delivery (MQTT-4.3.2-1)")
		require.NotZero(t, first.PacketID, "MQTT-2.3.1-1")
		conn.Close()

		conn2, connect := srv.AcceptConnected(t, true)
		assert.False(t, connect.CleanSession, "MQTT-3.1.2-4")
		again := conn2.ExpectPublish(t)
		assert.True(t, again.Dup, "DUP on the resent PUBLISH (MQTT-3.3.1-1)")
		assert.Equal(t, first.PacketID, again.PacketID, "the resend keeps its packet identifier (MQTT-2.3.1-3, MQTT-4.4.0-1)")
		assert.Equal(t, "fault/qos1", again.TopicName)
		assert.Equal(t, []byte("hello"), again.Payload)
		assert.Equal(t, client.AtLeastOnce, again.QoS)
		faultNoRecv(t, published, "Publish result before PUBACK")

		conn2.Send(t, &packets.Puback{PacketID: again.PacketID})
		require.NoError(t, faultRecv(t, published))
		conn2.ExpectNothing(t, quiet)
	})
}

// TestFaultQoS1ResendOrder has several QoS 1 messages in flight when the
// connection is cut; one of them was acknowledged. The others are resent in
// their original order with their identifiers (MQTT-4.6.0-1, MQTT-4.4.0-1,
// MQTT-2.3.1-3; MQTT5-4.6.0-1), and the acknowledged one is not sent again.
func TestFaultQoS1ResendOrder(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		srv := brokertest.New(t)
		c, conn := faultConnect(t, srv, faultPersistent(srv, level), false)
		const n = 5
		var ds []*client.Delivery
		for i := range n {
			d, err := c.PublishAsync("fault/order", []byte(fmt.Sprint(i)), client.WithQoS(client.AtLeastOnce))
			require.NoError(t, err)
			ds = append(ds, d)
		}
		var ids []uint16
		for i := range n {
			p := conn.ExpectPublish(t)
			require.Equal(t, fmt.Sprint(i), string(p.Payload), "first delivery in publish order")
			ids = append(ids, p.PacketID)
		}
		conn.Send(t, &packets.Puback{PacketID: ids[2]})
		require.NoError(t, faultDone(t, ds[2]))
		conn.Close()

		conn2, _ := srv.AcceptConnected(t, true)
		for _, i := range []int{0, 1, 3, 4} {
			p := conn2.ExpectPublish(t)
			assert.Equal(t, fmt.Sprint(i), string(p.Payload), "resent in the original order (MQTT-4.6.0-1)")
			assert.Equal(t, ids[i], p.PacketID, "message %d keeps its identifier (MQTT-2.3.1-3)", i)
			assert.True(t, p.Dup, "MQTT-3.3.1-1")
		}
		conn2.ExpectNothing(t, quiet)
		for _, i := range []int{0, 1, 3, 4} {
			conn2.Send(t, &packets.Puback{PacketID: ids[i]})
		}
		for i, d := range ds {
			assert.NoError(t, faultDone(t, d), "message %d", i)
		}
	})
}

// TestFaultQoS2ResendPublish cuts the connection before PUBREC: the PUBLISH
// is resent with DUP=1 and the same identifier, then the flow completes
// (MQTT-4.4.0-1, MQTT-3.3.1-1, MQTT-2.3.1-3, MQTT-4.3.3-1). At 5.0 the first
// send has QoS 2 and DUP 0 (MQTT5-4.3.3-2).
func TestFaultQoS2ResendPublish(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		srv := brokertest.New(t)
		c, conn := faultConnect(t, srv, faultPersistent(srv, level), false)
		published := faultGo(func() error {
			return c.Publish(context.Background(), "fault/qos2", []byte("once"), client.WithQoS(client.ExactlyOnce))
		})
		first := conn.ExpectPublish(t)
		assert.Equal(t, client.ExactlyOnce, first.QoS)
		assert.False(t, first.Dup)
		conn.Close()

		conn2, _ := srv.AcceptConnected(t, true)
		again := conn2.ExpectPublish(t)
		assert.True(t, again.Dup, "MQTT-3.3.1-1")
		assert.Equal(t, first.PacketID, again.PacketID, "MQTT-2.3.1-3")
		assert.Equal(t, []byte("once"), again.Payload)
		conn2.Send(t, &packets.Pubrec{PacketID: again.PacketID})
		assert.Equal(t, again.PacketID, conn2.ExpectAck(t, packets.TypePubrel), "MQTT-2.3.1-6")
		faultNoRecv(t, published, "Publish result before PUBCOMP")
		conn2.Send(t, &packets.Pubcomp{PacketID: again.PacketID})
		require.NoError(t, faultRecv(t, published))
		conn2.ExpectNothing(t, quiet)
	})
}

// TestFaultQoS2ResendPubrel cuts the connection after the broker received
// PUBREL and before it sent PUBCOMP. On the resumed session the client sends
// PUBREL again, and never the PUBLISH (MQTT-4.3.3-1, MQTT-4.4.0-1): at 5.0
// the PUBREL stays unacknowledged, and Publish waits, until PUBCOMP
// (MQTT5-4.3.3-5).
func TestFaultQoS2ResendPubrel(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		srv := brokertest.New(t)
		c, conn := faultConnect(t, srv, faultPersistent(srv, level), false)
		published := faultGo(func() error {
			return c.Publish(context.Background(), "fault/qos2", []byte("once"), client.WithQoS(client.ExactlyOnce))
		})
		p := conn.ExpectPublish(t)
		conn.Send(t, &packets.Pubrec{PacketID: p.PacketID})
		assert.Equal(t, p.PacketID, conn.ExpectAck(t, packets.TypePubrel))
		conn.Close()

		for range 2 { // twice, to see that the PUBLISH stays retired
			conn2, _ := srv.AcceptConnected(t, true)
			assert.Equal(t, p.PacketID, conn2.ExpectAck(t, packets.TypePubrel), "PUBREL again, not PUBLISH (MQTT-4.3.3-1)")
			conn2.ExpectNothing(t, quiet)
			faultNoRecv(t, published, "Publish result before PUBCOMP")
			conn2.Close()
		}
		conn3, _ := srv.AcceptConnected(t, true)
		assert.Equal(t, p.PacketID, conn3.ExpectAck(t, packets.TypePubrel), "MQTT-4.3.3-1")
		conn3.Send(t, &packets.Pubcomp{PacketID: p.PacketID})
		require.NoError(t, faultRecv(t, published))
		conn3.ExpectNothing(t, quiet)
	})
}

// TestFaultQoS2PubrecThenCut ends the connection right after the client
// read PUBREC, before it could send PUBREL: the broker follows PUBREC with a
// second CONNACK, which makes the client close the connection. The message
// is released, so on the resumed session the client sends PUBREL and not
// the PUBLISH (MQTT-4.3.3-1, MQTT-4.4.0-1).
func TestFaultQoS2PubrecThenCut(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		srv := brokertest.New(t)
		c, conn := faultConnect(t, srv, faultPersistent(srv, level), false)
		published := faultGo(func() error {
			return c.Publish(context.Background(), "fault/qos2", []byte("once"), client.WithQoS(client.ExactlyOnce))
		})
		p := conn.ExpectPublish(t)
		pubrec, err := (&packets.Pubrec{PacketID: p.PacketID}).AppendVersion(nil, level)
		require.NoError(t, err)
		both, err := (&packets.Connack{}).AppendVersion(pubrec, level)
		require.NoError(t, err)
		conn.SendRaw(t, both) // PUBREC, CONNACK in one write
		disconnected := false
		for {
			got, open := conn.Receive(t)
			if !open {
				break
			}
			require.False(t, disconnected, "%v after DISCONNECT (MQTT5-3.14.4-1)", got)
			if level == client.MQTT5 && got.Type() == packets.TypeDisconnect {
				// At 5.0 the client names the protocol error first.
				assert.Equal(t, packets.ReasonProtocolError, got.(*packets.Disconnect).ReasonCode)
				disconnected = true
				continue
			}
			// The PUBREL may or may not have made it out before the close.
			require.Equal(t, packets.TypePubrel, got.Type(), "only PUBREL may follow PUBREC (MQTT-4.3.3-1), got %v", got)
		}

		conn2, _ := srv.AcceptConnected(t, true)
		assert.Equal(t, p.PacketID, conn2.ExpectAck(t, packets.TypePubrel), "PUBREL, not PUBLISH (MQTT-4.3.3-1)")
		conn2.Send(t, &packets.Pubcomp{PacketID: p.PacketID})
		require.NoError(t, faultRecv(t, published))
		conn2.ExpectNothing(t, quiet)
	})
}

// faultPublish3 publishes three QoS 2 messages, reads their PUBLISH, and
// answers them with PUBREC in the order c, a, b, checking that the PUBRELs
// follow that order (MQTT-4.6.0-4, MQTT5-4.6.0-4). Each new message takes a
// non-zero identifier not in use, and its first send has QoS 2 and DUP 0
// (MQTT5-4.3.3-1, MQTT5-4.3.3-2). It returns the identifiers in publish
// order.
func faultPublish3(t *testing.T, c *client.Client, conn *brokertest.Conn) ([]*client.Delivery, []uint16) {
	t.Helper()
	var ds []*client.Delivery
	for i := range 3 {
		d, err := c.PublishAsync("fault/pubrel", []byte(fmt.Sprint(i)), client.WithQoS(client.ExactlyOnce))
		require.NoError(t, err)
		ds = append(ds, d)
	}
	var ids []uint16
	for range 3 {
		p := conn.ExpectPublish(t)
		assert.Equal(t, client.ExactlyOnce, p.QoS, "MQTT5-4.3.3-2")
		assert.False(t, p.Dup, "DUP 0 on the first send (MQTT5-4.3.3-2)")
		require.NotZero(t, p.PacketID)
		require.NotContains(t, ids, p.PacketID, "identifier in use (MQTT5-4.3.3-1)")
		ids = append(ids, p.PacketID)
	}
	recOrder := []uint16{ids[2], ids[0], ids[1]}
	for _, id := range recOrder {
		conn.Send(t, &packets.Pubrec{PacketID: id})
	}
	for _, id := range recOrder {
		assert.Equal(t, id, conn.ExpectAck(t, packets.TypePubrel), "PUBRELs in PUBREC order (MQTT-4.6.0-4)")
	}
	return ds, ids
}

// TestFaultQoS2PubrelOrder answers three QoS 2 messages out of order: the
// PUBRELs follow the order of the PUBRECs (MQTT-4.6.0-4, MQTT5-4.6.0-4).
func TestFaultQoS2PubrelOrder(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		srv := brokertest.New(t)
		c, conn := faultConnect(t, srv, faultPersistent(srv, level), false)
		ds, ids := faultPublish3(t, c, conn)
		for _, id := range ids {
			conn.Send(t, &packets.Pubcomp{PacketID: id})
		}
		for i, d := range ds {
			assert.NoError(t, faultDone(t, d), "message %d", i)
		}
	})
}

// TestFaultQoS2PubrelResendOrder cuts the connection after three PUBRELs
// that went out in PUBREC order, which differs from publish order. The
// resent PUBRELs keep the PUBREC order too (MQTT-4.6.0-4, MQTT-4.4.0-1;
// MQTT5-4.6.0-4): the rule has no exception for re-sending.
func TestFaultQoS2PubrelResendOrder(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		srv := brokertest.New(t)
		c, conn := faultConnect(t, srv, faultPersistent(srv, level), false)
		ds, ids := faultPublish3(t, c, conn)
		conn.Close()

		conn2, _ := srv.AcceptConnected(t, true)
		var got []uint16
		for range 3 {
			got = append(got, conn2.ExpectAck(t, packets.TypePubrel))
		}
		assert.Equal(t, []uint16{ids[2], ids[0], ids[1]}, got, "resent PUBRELs in PUBREC order (MQTT-4.6.0-4); publish order was %v", ids)
		for _, id := range got {
			conn2.Send(t, &packets.Pubcomp{PacketID: id})
		}
		for i, d := range ds {
			assert.NoError(t, faultDone(t, d), "message %d", i)
		}
	})
}

// TestFaultCleanSessionResendsAsNew reconnects with a clean session while a
// QoS 1 message is unacknowledged and a QoS 2 message is released. The old
// session is gone (MQTT-3.1.2-6): the QoS 1 message is published again as a
// new message (DUP=0), and no PUBREL of the old session is sent. At 5.0,
// Clean Start 1 makes the client discard its session state too
// (MQTT5-3.1.2-4).
func TestFaultCleanSessionResendsAsNew(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		srv := brokertest.New(t)
		c, conn := faultConnect(t, srv, faultLevel(srv, level), false)
		d2, err := c.PublishAsync("fault/clean", []byte("two"), client.WithQoS(client.ExactlyOnce))
		require.NoError(t, err)
		p2 := conn.ExpectPublish(t)
		conn.Send(t, &packets.Pubrec{PacketID: p2.PacketID})
		conn.ExpectAck(t, packets.TypePubrel)
		d1, err := c.PublishAsync("fault/clean", []byte("one"), client.WithQoS(client.AtLeastOnce))
		require.NoError(t, err)
		p1 := conn.ExpectPublish(t)
		conn.Close()

		conn2, connect := srv.AcceptConnected(t, false)
		assert.True(t, connect.CleanSession, "MQTT-3.1.2-6")
		again := conn2.ExpectPublish(t)
		assert.False(t, again.Dup, "a new message in the new session: DUP=0 (MQTT-3.1.2-6, MQTT-4.3.2-1)")
		assert.NotZero(t, again.PacketID)
		assert.Equal(t, p1.Payload, again.Payload)
		assert.Equal(t, client.AtLeastOnce, again.QoS)
		conn2.ExpectNothing(t, quiet) // in particular no PUBREL of the old session
		conn2.Send(t, &packets.Puback{PacketID: again.PacketID})
		assert.NoError(t, faultDone(t, d1))
		// The broker owned the QoS 2 message once it sent PUBREC.
		assert.NoError(t, faultDone(t, d2))
	})
}

// TestFaultSessionLost has a QoS 2 message released and a QoS 1 message
// unacknowledged on a persistent session whose broker then loses it:
// CONNACK says Session Present 0 on the reconnect.
//
// At 5.0 a client that carries on discards its session state
// (MQTT5-3.2.2-5) and retransmits only into a session the broker reports
// (MQTT5-4.4.0-1), as TestFaultCleanSessionResendsAsNew does for a clean
// session: the QoS 1 message goes out as a new message (DUP=0), no PUBREL
// of the old session is sent, and the QoS 2 message was the broker's once
// it sent PUBREC. At 3.1.1 every reconnect with CleanSession 0 resends both
// with their identifiers (MQTT-4.4.0-1).
func TestFaultSessionLost(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		srv := brokertest.New(t)
		c, conn := faultConnect(t, srv, faultPersistent(srv, level), false)
		d2, err := c.PublishAsync("fault/lost", []byte("two"), client.WithQoS(client.ExactlyOnce))
		require.NoError(t, err)
		p2 := conn.ExpectPublish(t)
		conn.Send(t, &packets.Pubrec{PacketID: p2.PacketID})
		conn.ExpectAck(t, packets.TypePubrel)
		d1, err := c.PublishAsync("fault/lost", []byte("one"), client.WithQoS(client.AtLeastOnce))
		require.NoError(t, err)
		p1 := conn.ExpectPublish(t)
		conn.Close()

		conn2, connect := srv.AcceptConnected(t, false) // the broker lost the session
		assert.False(t, connect.CleanSession)
		if level == client.MQTT311 {
			assert.Equal(t, p2.PacketID, conn2.ExpectAck(t, packets.TypePubrel), "MQTT-4.4.0-1")
			conn2.Send(t, &packets.Pubcomp{PacketID: p2.PacketID})
		}
		again := conn2.ExpectPublish(t)
		if level == client.MQTT311 {
			assert.True(t, again.Dup, "MQTT-4.4.0-1")
			assert.Equal(t, p1.PacketID, again.PacketID, "MQTT-4.4.0-1")
		} else {
			assert.False(t, again.Dup, "a new message in the broker's new session: DUP=0 (MQTT5-3.2.2-5)")
			assert.NotZero(t, again.PacketID)
		}
		assert.Equal(t, p1.Payload, again.Payload)
		assert.Equal(t, client.AtLeastOnce, again.QoS)
		conn2.ExpectNothing(t, quiet) // in particular no PUBREL of the old session at 5.0
		conn2.Send(t, &packets.Puback{PacketID: again.PacketID})
		assert.NoError(t, faultDone(t, d1))
		assert.NoError(t, faultDone(t, d2))
	})
}

// TestFaultPacketIDsDistinct publishes many QoS 1 messages concurrently
// while the broker acknowledges them in a scrambled order: every PUBLISH
// carries a non-zero identifier not used by any message still in flight
// (MQTT-2.3.1-1, MQTT-2.3.1-2, MQTT-2.3.1-3; MQTT5-2.2.1-3, MQTT5-4.3.2-1).
func TestFaultPacketIDsDistinct(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		srv := brokertest.New(t)
		cfg := faultLevel(srv, level)
		cfg.MaxInflight = 20
		c, conn := faultConnect(t, srv, cfg, false)
		const workers, each = 4, 50
		ds := make(chan *client.Delivery, workers*each)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					d, err := c.PublishAsync("fault/ids", []byte(fmt.Sprint(w, i)), client.WithQoS(client.AtLeastOnce))
					if assert.NoError(t, err) {
						ds <- d
					}
				}
			})
		}
		rng := rand.New(rand.NewPCG(1, 2))
		var unacked []uint16
		busy := map[uint16]bool{}
		ack := func() {
			i := rng.IntN(len(unacked))
			id := unacked[i]
			unacked = append(unacked[:i], unacked[i+1:]...)
			delete(busy, id)
			conn.Send(t, &packets.Puback{PacketID: id})
		}
		for range workers * each {
			p := conn.ExpectPublish(t)
			require.NotZero(t, p.PacketID, "MQTT-2.3.1-1")
			require.False(t, busy[p.PacketID], "identifier %d is still in flight (MQTT-2.3.1-2)", p.PacketID)
			require.LessOrEqual(t, len(busy), cfg.MaxInflight)
			busy[p.PacketID] = true
			unacked = append(unacked, p.PacketID)
			if len(unacked) >= 10 {
				ack()
			}
		}
		for len(unacked) > 0 {
			ack()
		}
		wg.Wait()
		close(ds)
		for d := range ds {
			assert.NoError(t, faultDone(t, d))
		}
		conn.ExpectNothing(t, quiet)
	})
}

// TestFaultQoS0Wire checks a QoS 0 PUBLISH byte by byte: no packet
// identifier and DUP=0 (MQTT-2.3.1-5, MQTT-3.3.1-2, MQTT-4.3.1-1;
// MQTT5-2.2.1-2, MQTT5-3.3.1-2, MQTT5-4.3.1-1: sent once, QoS 0, DUP 0).
// It is not sent again after a reconnect.
func TestFaultQoS0Wire(t *testing.T) {
	want := map[packets.ProtocolLevel][]byte{
		client.MQTT311: {
			0x30,       // PUBLISH, DUP=0, QoS 0, RETAIN=0
			0x07,       // remaining length
			0x00, 0x03, // topic length
			'a', '/', 'b', // topic, then no packet identifier
			'h', 'i', // payload
		},
		client.MQTT5: {
			0x30,       // PUBLISH, DUP=0, QoS 0, RETAIN=0
			0x08,       // remaining length
			0x00, 0x03, // topic length
			'a', '/', 'b', // topic, then no packet identifier
			0x00,     // property length: none (MQTT5-2.2.2-1)
			'h', 'i', // payload
		},
	}
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		srv := brokertest.New(t)
		c, conn := faultConnect(t, srv, faultPersistent(srv, level), false)
		require.NoError(t, c.Publish(context.Background(), "a/b", []byte("hi")))
		assert.Equal(t, want[level], conn.ReadRaw(t))
		conn.Close()
		conn2, _ := srv.AcceptConnected(t, true)
		conn2.ExpectNothing(t, quiet)
	})
}

// TestFaultSendWindow withholds PUBACK with MaxInflight 2: only two PUBLISH
// packets are on the wire, and each PUBACK lets one more out, in order.
func TestFaultSendWindow(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		srv := brokertest.New(t)
		cfg := faultLevel(srv, level)
		cfg.MaxInflight = 2
		c, conn := faultConnect(t, srv, cfg, false)
		var ds []*client.Delivery
		for i := range 5 {
			d, err := c.PublishAsync("fault/window", []byte(fmt.Sprint(i)), client.WithQoS(client.AtLeastOnce))
			require.NoError(t, err)
			ds = append(ds, d)
		}
		var ids []uint16
		for i := range 2 {
			p := conn.ExpectPublish(t)
			assert.Equal(t, fmt.Sprint(i), string(p.Payload))
			ids = append(ids, p.PacketID)
		}
		conn.ExpectNothing(t, quiet)
		for i := 2; i < 5; i++ {
			conn.Send(t, &packets.Puback{PacketID: ids[0]})
			require.NoError(t, faultDone(t, ds[i-2]))
			ids = ids[1:]
			p := conn.ExpectPublish(t)
			assert.Equal(t, fmt.Sprint(i), string(p.Payload), "the next message, in publish order")
			ids = append(ids, p.PacketID)
			conn.ExpectNothing(t, quiet)
		}
		for _, id := range ids {
			conn.Send(t, &packets.Puback{PacketID: id})
		}
		for i, d := range ds {
			assert.NoError(t, faultDone(t, d), "message %d", i)
		}
	})
}

// TestFaultQoS2AnsweredWithPuback plays a broker that does QoS 1 at most
// and answers a QoS 2 PUBLISH with PUBACK, as RabbitMQ does: Publish ends
// at once with ErrQoSDowngraded instead of waiting for a PUBREC that never
// comes, and the packet id is free again. An ack for nothing in flight is
// counted and otherwise ignored.
func TestFaultQoS2AnsweredWithPuback(t *testing.T) {
	srv := brokertest.New(t)
	c, conn := faultConnect(t, srv, faultConfig(srv), false)
	errc := faultGo(func() error {
		return c.Publish(context.Background(), "fault/q2", []byte("x"), client.WithQoS(client.ExactlyOnce))
	})
	p := conn.ExpectPublish(t)
	start := time.Now()
	conn.Send(t, &packets.Puback{PacketID: p.PacketID})
	err := faultRecv(t, errc)
	assert.ErrorIs(t, err, client.ErrQoSDowngraded)
	assert.Less(t, time.Since(start), time.Second)
	assert.Zero(t, c.Stats().Inflight)

	conn.Send(t, &packets.Pubcomp{PacketID: 999})
	require.Eventually(t, func() bool { return c.Stats().UnexpectedAcks == 1 }, faultWait, 10*time.Millisecond)
	assert.True(t, c.Stats().Connected, "an unexpected ack does not end the connection")
}

// TestFaultPublishBufferReusedAfterGivingUp: a blocking Publish lends its
// payload to the client instead of copying it, until it returns. When ctx
// ends before the flow, Publish returns ErrDeliveryPending and the caller
// may reuse the buffer at once: the resend on the next connection still
// carries the bytes that were published (MQTT-4.4.0-1), whether the
// PUBLISH had been written or was still queued while offline.
func TestFaultPublishBufferReusedAfterGivingUp(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		for _, offline := range []bool{false, true} {
			t.Run(map[bool]string{false: "in flight", true: "queued offline"}[offline], func(t *testing.T) {
				srv := brokertest.New(t)
				c, conn := faultConnect(t, srv, faultPersistent(srv, level), false)
				if offline {
					conn.Close()
					require.Eventually(t, func() bool { return !c.Stats().Connected }, 5*time.Second, time.Millisecond)
				}
				buf := []byte("original payload")
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				defer cancel()
				err := c.Publish(ctx, "fault/lent", buf, client.WithQoS(client.AtLeastOnce))
				require.ErrorIs(t, err, client.ErrDeliveryPending)
				copy(buf, "overwritten!!!!!") // the caller's buffer again
				if !offline {
					first := conn.ExpectPublish(t)
					assert.Equal(t, []byte("original payload"), first.Payload)
					conn.Close()
				}

				conn2, _ := srv.AcceptConnected(t, true)
				again := conn2.ExpectPublish(t)
				assert.Equal(t, "fault/lent", again.TopicName)
				assert.Equal(t, []byte("original payload"), again.Payload, "the client kept its own copy")
				conn2.Send(t, &packets.Puback{PacketID: again.PacketID})
				require.Eventually(t, func() bool { return c.Stats().Inflight == 0 && c.Stats().Queued == 0 }, 5*time.Second, time.Millisecond)
			})
		}
	})
}

// TestFaultBurstKeepsOrder publishes a burst far larger than the socket's
// buffers to a broker that is not reading yet, with payloads from 100 B to
// 70 KB: the writer blocks, the client sets the burst aside in chunks,
// and once the broker reads, every PUBLISH arrives whole and in publish
// order.
func TestFaultBurstKeepsOrder(t *testing.T) {
	srv := brokertest.New(t)
	cfg := faultConfig(srv)
	cfg.MaxPending = 1000
	c, conn := faultConnect(t, srv, cfg, false)

	sizes := []int{100, 5000, 70000, 300, 64 << 10, 20000, 1}
	const n = 600
	payload := func(i int) []byte {
		p := make([]byte, sizes[i%len(sizes)])
		for j := range p {
			p[j] = byte(i*7 + j)
		}
		return p
	}
	var ds []*client.Delivery
	total := 0
	for i := range n {
		p := payload(i)
		total += len(p)
		d, err := c.PublishAsync(fmt.Sprintf("burst/%d", i), p)
		require.NoError(t, err, "message %d", i)
		ds = append(ds, d)
	}
	t.Logf("%d messages, %d bytes queued before the broker read any", n, total)
	for i := range n {
		p := conn.ExpectPublish(t)
		require.Equal(t, fmt.Sprintf("burst/%d", i), p.TopicName, "publish order")
		require.Equal(t, payload(i), p.Payload, "message %d whole", i)
	}
	for i, d := range ds {
		require.NoError(t, d.Wait(context.Background()), "message %d", i)
	}
}
