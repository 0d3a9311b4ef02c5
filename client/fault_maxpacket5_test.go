package client_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/brokertest"
	"github.com/feedmq/feedmq/packets"
)

// TestFaultBrokerMaximumPacketSize: nothing the client sends exceeds the
// Maximum Packet Size of CONNACK (MQTT5-3.2.2-15). A SUBSCRIBE over it
// fails at once; a DISCONNECT leaves out its Reason String and then its
// User Properties to fit (MQTT5-3.14.2-3, MQTT5-3.14.2-4).
func TestFaultBrokerMaximumPacketSize(t *testing.T) {
	srv := brokertest.New(t)
	cfg := faultConfig(srv)
	cfg.Protocol = client.MQTT5
	c, err := client.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	errc := faultGo(func() error { return c.Connect(context.Background()) })
	conn := srv.Accept(t)
	conn.ExpectConnect(t)
	ack := &packets.Connack{Properties: &packets.Properties{}}
	ack.Properties.SetMaximumPacketSize(40)
	conn.Send(t, ack)
	require.NoError(t, faultRecv(t, errc))

	_, err = c.Subscribe(context.Background(), strings.Repeat("f", 50), client.AtLeastOnce, nil)
	require.ErrorIs(t, err, packets.ErrTooLarge, "refused at once, not sent")

	_, err = c.PublishAsync(strings.Repeat("t", 50), nil, client.WithQoS(client.AtLeastOnce))
	require.ErrorIs(t, err, client.ErrPacketTooLarge)

	sub := faultGo(func() error {
		_, err := c.Subscribe(context.Background(), "ok", client.AtLeastOnce, nil)
		return err
	})
	conn.AckSubscribe(t)
	require.NoError(t, faultRecv(t, sub))

	done := faultGo(func() error {
		return c.DisconnectWith(context.Background(), client.DisconnectOptions{
			Reason:         packets.ReasonNormalDisconnection,
			ReasonString:   strings.Repeat("r", 30),
			UserProperties: []client.UserProperty{{Key: "k", Value: "v"}},
		})
	})
	raw := conn.ReadRaw(t)
	assert.LessOrEqual(t, len(raw), 40)
	p, _, err := packets.DecodeVersion(raw, packets.ProtocolMQTT5)
	require.NoError(t, err)
	disc := p.(*packets.Disconnect)
	if disc.Properties != nil {
		assert.Empty(t, disc.Properties.ReasonString, "the Reason String is left out first")
	}
	require.NoError(t, faultRecv(t, done))
}
