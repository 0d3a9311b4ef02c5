package client_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/brokertest"
	"github.com/feedmq/feedmq/packets"
)

// TestFaultMessageExpiry: a message whose Message Expiry Interval runs out
// while it waits behind the send window is not sent and fails with
// ErrMessageExpired; one that waited less goes out with what remains of
// its interval. A QoS 2 message already sent never expires on the
// sender's side (MQTT5-4.3.3-7): after a cut it is resent, expired or not.
func TestFaultMessageExpiry(t *testing.T) {
	srv := brokertest.New(t)
	cfg := faultConfig(srv)
	cfg.Protocol = client.MQTT5
	cfg.PersistentSession = true
	cfg.MaxInflight = 1
	c, conn := faultConnect(t, srv, cfg, false)

	// The window's one place: a QoS 2 message with a 1 s expiry, sent.
	sent, err := c.PublishAsync("exp/sent", []byte("a"), client.WithQoS(client.ExactlyOnce), client.WithMessageExpiry(time.Second))
	require.NoError(t, err)
	first := conn.ExpectPublish(t)
	// Queued behind it: one that will expire, one with time to spare.
	late, err := c.PublishAsync("exp/late", []byte("b"), client.WithQoS(client.AtLeastOnce), client.WithMessageExpiry(time.Second))
	require.NoError(t, err)
	spare, err := c.PublishAsync("exp/spare", []byte("c"), client.WithQoS(client.AtLeastOnce), client.WithMessageExpiry(time.Hour))
	require.NoError(t, err)

	time.Sleep(1100 * time.Millisecond)
	conn.Close() // the sent one's expiry has passed
	conn, _ = srv.AcceptConnected(t, true)
	again := conn.ExpectPublish(t)
	assert.Equal(t, first.PacketID, again.PacketID, "MQTT5-4.3.3-7: resent although expired")
	assert.True(t, again.Dup)
	conn.Send(t, &packets.Pubrec{PacketID: again.PacketID})
	assert.Equal(t, again.PacketID, conn.ExpectAck(t, packets.TypePubrel))
	conn.Send(t, &packets.Pubcomp{PacketID: again.PacketID})
	require.NoError(t, faultDone(t, sent))

	// The window opened: the expired one is skipped, the other goes out
	// with what remains of its hour.
	next := conn.ExpectPublish(t)
	assert.Equal(t, "exp/spare", next.TopicName)
	require.NotNil(t, next.Properties)
	assert.InDelta(t, 3600, next.Properties.MessageExpiryInterval, 3)
	conn.Send(t, &packets.Puback{PacketID: next.PacketID})
	require.NoError(t, faultDone(t, spare))
	require.ErrorIs(t, faultDone(t, late), client.ErrMessageExpired)
}
