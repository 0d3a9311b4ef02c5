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

// TestFaultDisconnect calls Disconnect with a QoS 1 message in flight: the
// client waits for PUBACK, then sends DISCONNECT, closes the connection and
// sends nothing after it (MQTT-3.14.4-1, MQTT-3.14.4-2); it does not
// reconnect.
func TestFaultDisconnect(t *testing.T) {
	srv := brokertest.New(t)
	c, conn := faultConnect(t, srv, faultConfig(srv), false)
	d, err := c.PublishAsync("fault/bye", []byte("last"), client.WithQoS(client.AtLeastOnce))
	require.NoError(t, err)
	p := conn.ExpectPublish(t)
	ctx, cancel := context.WithTimeout(context.Background(), faultWait)
	defer cancel()
	disconnected := faultGo(func() error { return c.Disconnect(ctx) })
	conn.ExpectNothing(t, quiet) // the message is still in flight
	conn.Send(t, &packets.Puback{PacketID: p.PacketID})
	conn.Expect(t, packets.TypeDisconnect)
	conn.ExpectClosed(t) // MQTT-3.14.4-1, MQTT-3.14.4-2
	require.NoError(t, faultRecv(t, disconnected))
	assert.NoError(t, faultDone(t, d))
	srv.ExpectNoConnection(t, quiet)
	assert.ErrorIs(t, c.Publish(context.Background(), "a", nil), client.ErrClosed)
}

// TestFaultClose calls Close: DISCONNECT goes out at once, without waiting
// for the message in flight, then the connection is closed with nothing
// after DISCONNECT (MQTT-3.14.4-1, MQTT-3.14.4-2). The message ends with
// ErrAbandoned.
func TestFaultClose(t *testing.T) {
	srv := brokertest.New(t)
	c, conn := faultConnect(t, srv, faultConfig(srv), false)
	d, err := c.PublishAsync("fault/bye", []byte("last"), client.WithQoS(client.AtLeastOnce))
	require.NoError(t, err)
	conn.ExpectPublish(t)
	closed := faultGo(c.Close)
	conn.Expect(t, packets.TypeDisconnect)
	conn.ExpectClosed(t)
	require.NoError(t, faultRecv(t, closed))
	assert.ErrorIs(t, faultDone(t, d), client.ErrAbandoned)
	srv.ExpectNoConnection(t, quiet)
}

// TestFaultCloseIdle calls Close on an idle connection: DISCONNECT, then the
// connection is closed (MQTT-3.14.4-1, MQTT-3.14.4-2).
func TestFaultCloseIdle(t *testing.T) {
	srv := brokertest.New(t)
	c, conn := faultConnect(t, srv, faultConfig(srv), false)
	require.NoError(t, c.Close())
	conn.Expect(t, packets.TypeDisconnect)
	conn.ExpectClosed(t)
}

// TestFaultDisconnectIdle calls Disconnect on an idle connection.
func TestFaultDisconnectIdle(t *testing.T) {
	srv := brokertest.New(t)
	c, conn := faultConnect(t, srv, faultConfig(srv), false)
	require.NoError(t, c.Disconnect(context.Background()))
	conn.Expect(t, packets.TypeDisconnect)
	conn.ExpectClosed(t)
}
