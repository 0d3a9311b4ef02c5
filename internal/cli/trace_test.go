package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/feedmq/feedmq/packets"
)

// tracePacket is one call of Trace.Packet.
type tracePacket struct {
	sent bool
	p    packets.Packet
}

// TestTrace checks each packet's line against what libmosquitto 2.0.11
// prints for it (the expected lines are copied from mosquitto_pub and
// mosquitto_sub -d runs), at 3.1.1 and at 5.0, where the broker may assign
// the client identifier.
func TestTrace(t *testing.T) {
	assigned := &packets.Properties{}
	assigned.SetAssignedClientIdentifier("auto-1234")
	for _, tc := range []struct {
		name       string
		subscribed bool
		in         []tracePacket
		want       string
	}{
		{"publish QoS 0 without an identifier", false, []tracePacket{
			{true, &packets.Connect{ProtocolLevel: packets.ProtocolMQTT311, UsernameFlag: true, Username: "alice", PasswordFlag: true, Password: []byte("s3cret")}},
			{false, &packets.Connack{}},
			{true, &packets.Publish{TopicName: "topic", Payload: []byte("hello")}},
			{true, &packets.Publish{TopicName: "topic", Payload: []byte("again")}},
			{true, &packets.Disconnect{}},
		}, `Client (null) sending CONNECT
Client (null) received CONNACK (0)
Client (null) sending PUBLISH (d0, q0, r0, m1, 'topic', ... (5 bytes))
Client (null) sending PUBLISH (d0, q0, r0, m2, 'topic', ... (5 bytes))
Client (null) sending DISCONNECT
`},
		{"publish QoS 1 and 2, refused", false, []tracePacket{
			{true, &packets.Connect{ProtocolLevel: packets.ProtocolMQTT311, ClientID: "id"}},
			{false, &packets.Connack{ReturnCode: packets.ConnackNotAuthorized}},
			{true, &packets.Publish{QoS: packets.AtLeastOnce, Retain: true, PacketID: 1, TopicName: "t", Payload: make([]byte, 300000)}},
			{false, &packets.Puback{PacketID: 1}},
			{true, &packets.Publish{Dup: true, QoS: packets.ExactlyOnce, PacketID: 2, TopicName: "t"}},
			{false, &packets.Pubrec{PacketID: 2}},
			{true, &packets.Pubrel{PacketID: 2}},
			{false, &packets.Pubcomp{PacketID: 2}},
			{true, &packets.Publish{TopicName: "t"}},
		}, `Client id sending CONNECT
Client id received CONNACK (5)
Client id sending PUBLISH (d0, q1, r1, m1, 't', ... (300000 bytes))
Client id received PUBACK (Mid: 1, RC:0)
Client id sending PUBLISH (d1, q2, r0, m2, 't', ... (0 bytes))
Client id received PUBREC (Mid: 2)
Client id sending PUBREL (m2)
Client id received PUBCOMP (Mid: 2, RC:0)
Client id sending PUBLISH (d0, q0, r0, m3, 't', ... (0 bytes))
`},
		{"subscribe and receive at 5.0", true, []tracePacket{
			{true, &packets.Connect{ProtocolLevel: packets.ProtocolMQTT5}},
			{false, &packets.Connack{ReasonCode: packets.ReasonSuccess, Properties: assigned}},
			{true, &packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{
				{TopicFilter: "a/#", QoS: packets.AtLeastOnce, RetainAsPublished: true},
				{TopicFilter: "b", QoS: packets.ExactlyOnce, NoLocal: true, RetainHandling: packets.RetainDoNotSend},
			}}},
			{false, &packets.Suback{PacketID: 1, ReasonCodes: []packets.ReasonCode{1, packets.ReasonNotAuthorized}}},
			{false, &packets.Publish{QoS: packets.AtLeastOnce, Retain: true, PacketID: 7, TopicName: "a/x", Payload: []byte("hi")}},
			{true, &packets.Puback{PacketID: 7, ReasonCode: packets.ReasonNoMatchingSubscribers}},
			{false, &packets.Publish{QoS: packets.ExactlyOnce, PacketID: 8, TopicName: "b", Payload: []byte("x")}},
			{true, &packets.Pubrec{PacketID: 8}},
			{false, &packets.Pubrel{PacketID: 8}},
			{true, &packets.Pubcomp{PacketID: 8}},
			{false, &packets.Publish{TopicName: "a/y"}},
			{false, &packets.Puback{PacketID: 3, ReasonCode: packets.ReasonNoMatchingSubscribers}},
			{true, &packets.Unsubscribe{PacketID: 2, TopicFilters: []string{"a/#", "b"}}},
			{false, &packets.Unsuback{PacketID: 2}},
			{true, &packets.Pingreq{}},
			{false, &packets.Pingresp{}},
			{true, &packets.Auth{}},
			{false, &packets.Auth{}},
			{false, &packets.Disconnect{ReasonCode: packets.ReasonSessionTakenOver}},
		}, `Client (null) sending CONNECT
Client auto-1234 received CONNACK (0)
Client auto-1234 sending SUBSCRIBE (Mid: 1, Topic: a/#, QoS: 1, Options: 0x08)
Client auto-1234 sending SUBSCRIBE (Mid: 1, Topic: b, QoS: 2, Options: 0x24)
Client auto-1234 received SUBACK
Subscribed (mid: 1): 1, 135
Client auto-1234 received PUBLISH (d0, q1, r1, m7, 'a/x', ... (2 bytes))
Client auto-1234 sending PUBACK (m7, rc16)
Client auto-1234 received PUBLISH (d0, q2, r0, m8, 'b', ... (1 bytes))
Client auto-1234 sending PUBREC (m8, rc0)
Client auto-1234 received PUBREL (Mid: 8)
Client auto-1234 sending PUBCOMP (m8)
Client auto-1234 received PUBLISH (d0, q0, r0, m0, 'a/y', ... (0 bytes))
Client auto-1234 received PUBACK (Mid: 3, RC:16)
Client auto-1234 sending UNSUBSCRIBE (Mid: 2, Topic: a/#)
Client auto-1234 sending UNSUBSCRIBE (Mid: 2, Topic: b)
Client auto-1234 received UNSUBACK
Client auto-1234 sending PINGREQ
Client auto-1234 received PINGRESP
Client auto-1234 received AUTH
Received DISCONNECT (142)
`},
		{"SUBACK at 3.1.1 with a refusal", true, []tracePacket{
			{true, &packets.Connect{ProtocolLevel: packets.ProtocolMQTT311, ClientID: "s"}},
			{false, &packets.Suback{PacketID: 4, ReturnCodes: []packets.SubackCode{2, packets.SubackFailure}}},
		}, `Client s sending CONNECT
Client s received SUBACK
Subscribed (mid: 4): 2, 128
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tr := NewTrace(&buf, tc.subscribed)
			for _, in := range tc.in {
				tr.Packet(in.sent, in.p)
			}
			assert.Equal(t, tc.want, buf.String())
			assert.NotContains(t, buf.String(), "s3cret")
		})
	}
}

// lineWriter records the writes it takes.
type lineWriter struct{ writes []string }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

// TestTraceWholeLines checks that a packet's lines leave in one write, so
// that mqtt-sub's messages, written by another goroutine, never land
// between them.
func TestTraceWholeLines(t *testing.T) {
	var w lineWriter
	tr := NewTrace(&w, true)
	tr.Packet(true, &packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{TopicFilter: "a"}, {TopicFilter: "b"}}})
	tr.Packet(false, &packets.Suback{PacketID: 1, ReturnCodes: []packets.SubackCode{0, 0}})
	tr.Packet(true, &packets.Auth{}) // nothing to print, nothing written
	if assert.Len(t, w.writes, 2) {
		assert.Equal(t, 2, strings.Count(w.writes[0], "\n"))
		assert.Equal(t, "Client (null) received SUBACK\nSubscribed (mid: 1): 0, 0\n", w.writes[1])
	}
}
