package client_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/brokertest"
	"github.com/feedmq/feedmq/packets"
)

// TestFaultDropNewRefusesAt5: with SlowConsumer DropNew, a QoS 1 or 2
// message dropped at 5.0 is still answered (MQTT5-4.5.0-2), with Quota
// exceeded (0x97), so that it does not hold a place of the broker's send
// quota; the message being handled is acknowledged normally.
func TestFaultDropNewRefusesAt5(t *testing.T) {
	for _, qos := range []client.QoS{client.AtLeastOnce, client.ExactlyOnce} {
		t.Run(qos.String(), func(t *testing.T) {
			srv := brokertest.New(t)
			cfg := faultConfig(srv)
			cfg.Protocol = client.MQTT5
			cfg.SlowConsumer = client.DropNew
			cfg.HandlerQueue = 1
			release := make(chan struct{})
			handled := make(chan string, 4)
			c, conn := faultConnect(t, srv, cfg, false)
			sub := faultGo(func() error {
				_, err := c.Subscribe(context.Background(), "drop/#", qos, func(m *client.Message) {
					handled <- string(m.Payload)
					<-release
				})
				return err
			})
			conn.AckSubscribe(t)
			require.NoError(t, faultRecv(t, sub))

			conn.Send(t, &packets.Publish{QoS: qos, TopicName: "drop/a", PacketID: 1, Payload: []byte("kept")})
			assert.Equal(t, "kept", faultRecv(t, handled))
			conn.Send(t, &packets.Publish{QoS: qos, TopicName: "drop/a", PacketID: 2, Payload: []byte("dropped")})
			want := packets.TypePuback
			if qos == client.ExactlyOnce {
				want = packets.TypePubrec
			}
			p := conn.Expect(t, want)
			id, code := ackOf(p)
			assert.Equal(t, uint16(2), id)
			assert.Equal(t, packets.ReasonQuotaExceeded, code)

			close(release)
			p = conn.Expect(t, want)
			id, code = ackOf(p)
			assert.Equal(t, uint16(1), id)
			assert.Equal(t, packets.ReasonSuccess, code)
			assert.EqualValues(t, 1, c.Stats().Dropped)
		})
	}
}

func ackOf(p packets.Packet) (uint16, packets.ReasonCode) {
	switch p := p.(type) {
	case *packets.Puback:
		return p.PacketID, p.ReasonCode
	case *packets.Pubrec:
		return p.PacketID, p.ReasonCode
	}
	return 0, 0
}
