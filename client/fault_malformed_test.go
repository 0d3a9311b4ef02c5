package client_test

import (
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/brokertest"
	"github.com/feedmq/feedmq/packets"
)

// TestFaultMalformedFromBroker sends packets a broker must not send, after a
// subscription to "#". Each time the client closes the connection
// (MQTT-4.8.0-1), OnConnectionLost gets an error that names the problem, no
// handler sees the bad message, and the client reconnects and works.
func TestFaultMalformedFromBroker(t *testing.T) {
	tests := []struct {
		name  string
		rule  string // conformance ID or section the case covers
		bytes []byte
		want  string // in the error text
	}{
		{"PUBLISH QoS 3", "MQTT-3.3.1-4", []byte{
			0x36,       // PUBLISH, QoS bits 11
			0x05,       // remaining length
			0x00, 0x01, // topic length
			'a',        // topic
			0x00, 0x01, // packet identifier
		}, "MQTT-3.3.1-4"},
		{"PUBREL flags 0000", "MQTT-2.2.2-2, MQTT-3.6.1-1", []byte{
			0x60,       // PUBREL with flags 0000 instead of 0010
			0x02,       // remaining length
			0x00, 0x01, // packet identifier
		}, "MQTT-3.6.1-1"},
		{"PUBACK flags 0001", "MQTT-2.2.2-2", []byte{
			0x41,       // PUBACK with flags 0001 instead of 0000
			0x02,       // remaining length
			0x00, 0x01, // packet identifier
		}, "MQTT-2.2.2-2"},
		{"topic not UTF-8", "MQTT-1.5.3-1", []byte{
			0x30,       // PUBLISH QoS 0
			0x04,       // remaining length
			0x00, 0x02, // topic length
			0xc3, 0x28, // invalid two-byte sequence
		}, "TopicName"},
		{"topic with a surrogate", "MQTT-1.5.3-1", []byte{
			0x30,       // PUBLISH QoS 0
			0x05,       // remaining length
			0x00, 0x03, // topic length
			0xed, 0xa0, 0x80, // U+D800 encoded
		}, "TopicName"},
		{"topic with U+0000", "MQTT-1.5.3-2, MQTT-4.7.3-2", []byte{
			0x30,       // PUBLISH QoS 0
			0x04,       // remaining length
			0x00, 0x02, // topic length
			'a', 0x00, // topic with a null character
		}, "MQTT-4.7.3-2"},
		{"topic with a wildcard", "MQTT-3.3.2-2", []byte{
			0x30,       // PUBLISH QoS 0
			0x04,       // remaining length
			0x00, 0x02, // topic length
			'a', '#', // topic
		}, "MQTT-3.3.2-2"},
		{"QoS 0 with DUP", "MQTT-3.3.1-2", []byte{
			0x38,       // PUBLISH, DUP=1, QoS 0
			0x04,       // remaining length
			0x00, 0x01, // topic length
			'a', 'x', // topic, payload
		}, "MQTT-3.3.1-2"},
		{"QoS 1 with identifier 0", "MQTT-2.3.1-1", []byte{
			0x32,       // PUBLISH QoS 1
			0x05,       // remaining length
			0x00, 0x01, // topic length
			'a',        // topic
			0x00, 0x00, // packet identifier 0
		}, "MQTT-2.3.1-1"},
		{"remaining length of 5 bytes", "MQTT 3.1.1 §2.2.3", []byte{
			0x30,                         // PUBLISH
			0xff, 0xff, 0xff, 0xff, 0x01, // five length bytes
		}, "RemainingLength"},
		{"reserved packet type 15", "MQTT 3.1.1 §2.2.1", []byte{0xf0, 0x00}, "reserved"},
		{"CONNACK after CONNACK", "MQTT-4.8.0-1, MQTT-3.2.0-1", []byte{
			0x20, 0x02, // CONNACK
			0x00, 0x00, // accepted
		}, "CONNACK"},
		{"PINGREQ from the broker", "MQTT-4.8.0-1", []byte{0xc0, 0x00}, "PINGREQ"},
		{"SUBACK with an unknown identifier", "MQTT-2.3.1-7", []byte{
			0x90,       // SUBACK
			0x03,       // remaining length
			0x12, 0x34, // no SUBSCRIBE has this identifier
			0x00, // granted QoS 0
		}, "SUBACK"},
		{"UNSUBACK with an unknown identifier", "MQTT-2.3.1-7", []byte{
			0xb0,       // UNSUBACK
			0x02,       // remaining length
			0x12, 0x34, // no UNSUBSCRIBE has this identifier
		}, "UNSUBACK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Log("covers", tt.rule)
			srv := brokertest.New(t)
			cfg := faultConfig(srv)
			lost := faultLost(&cfg)
			c, conn := faultConnect(t, srv, cfg, false)
			got := make(chan *client.Message, 10)
			faultSubscribe(t, c, conn, "#", client.AtLeastOnce, func(m *client.Message) { got <- m })

			conn.SendRaw(t, tt.bytes)
			conn.ExpectClosed(t)
			err := faultRecv(t, lost)
			require.Error(t, err)
			assert.True(t, errors.Is(err, packets.ErrMalformed) || errors.Is(err, client.ErrProtocolViolation),
				"want ErrMalformed or ErrProtocolViolation, got %v", err)
			assert.Contains(t, err.Error(), tt.want)

			faultReconnectWorks(t, srv, got)
		})
	}
}

// faultReconnectWorks accepts the reconnection of a clean-session client
// subscribed to "#", delivers one good message and checks it is the first
// the handler sees.
func faultReconnectWorks(t *testing.T, srv *brokertest.Server, got <-chan *client.Message) {
	t.Helper()
	conn, _ := srv.AcceptConnected(t, false)
	conn.AckSubscribe(t)
	conn.Send(t, &packets.Publish{QoS: client.AtLeastOnce, TopicName: "ok", PacketID: 1, Payload: []byte("ok")})
	assert.Equal(t, uint16(1), conn.ExpectAck(t, packets.TypePuback))
	m := faultRecv(t, got)
	assert.Equal(t, "ok", m.Topic, "no handler may see the bad packet")
	faultNoRecv(t, got, "message")
}

// TestFaultStreamEndsInsidePacket cuts the connection in the middle of a
// PUBLISH: the client reports the truncated stream, delivers nothing and
// reconnects.
func TestFaultStreamEndsInsidePacket(t *testing.T) {
	srv := brokertest.New(t)
	cfg := faultConfig(srv)
	lost := faultLost(&cfg)
	c, conn := faultConnect(t, srv, cfg, false)
	got := make(chan *client.Message, 10)
	faultSubscribe(t, c, conn, "#", client.AtLeastOnce, func(m *client.Message) { got <- m })
	conn.Drop(t, &packets.Publish{QoS: client.AtLeastOnce, TopicName: "cut", PacketID: 3, Payload: []byte("0123456789")})
	err := faultRecv(t, lost)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	faultReconnectWorks(t, srv, got)
}
