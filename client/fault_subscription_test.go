package client_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/brokertest"
	"github.com/feedmq/feedmq/packets"
)

// TestFaultSubscribeAsyncPartialRefusal subscribes two filters without
// waiting; the broker refuses one (SUBACK 0x80, MQTT-3.9.3-2). Granted
// reports it in a *SubscribeError, the other filter keeps delivering to
// Next, and after a reconnect without a session only the granted filter is
// subscribed again.
func TestFaultSubscribeAsyncPartialRefusal(t *testing.T) {
	srv := brokertest.New(t)
	c, conn := faultConnect(t, srv, faultConfig(srv), false)
	sub, err := c.SubscribeAsync([]client.TopicFilter{{Filter: "ok/#", QoS: client.AtLeastOnce}, {Filter: "no/#", QoS: client.AtMostOnce}}, nil)
	require.NoError(t, err)
	s := conn.Expect(t, packets.TypeSubscribe).(*packets.Subscribe)
	require.Len(t, s.Subscriptions, 2)
	conn.Send(t, &packets.Suback{PacketID: s.PacketID, ReturnCodes: []packets.SubackCode{packets.SubackCode(client.AtLeastOnce), packets.SubackFailure}})

	ctx, cancel := context.WithTimeout(context.Background(), faultWait)
	defer cancel()
	granted, err := sub.Granted(ctx)
	var se *client.SubscribeError
	require.True(t, errors.As(err, &se), "%v", err)
	assert.ErrorIs(t, err, client.ErrSubscriptionRefused)
	assert.Equal(t, []string{"no/#"}, se.Refused)
	assert.Equal(t, client.AtLeastOnce, granted[0])

	conn.Send(t, &packets.Publish{TopicName: "ok/1", QoS: client.AtLeastOnce, PacketID: 7, Payload: []byte("hi")})
	m, err := sub.Next(ctx)
	require.NoError(t, err)
	assert.Equal(t, "ok/1", m.Topic)
	assert.EqualValues(t, 7, conn.ExpectAck(t, packets.TypePuback), "read with Next, then acknowledged")

	conn.Close()
	conn2, _ := srv.AcceptConnected(t, false)
	again := conn2.Expect(t, packets.TypeSubscribe).(*packets.Subscribe)
	require.Len(t, again.Subscriptions, 1, "the refused filter is not subscribed again")
	assert.Equal(t, "ok/#", again.Subscriptions[0].TopicFilter)
}
