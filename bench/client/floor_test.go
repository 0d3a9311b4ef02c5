package client

import (
	"net"
	"testing"

	"github.com/feedmq/feedmq/bench/internal/sink"
	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/packets"
)

// BenchmarkFloorReceive measures what receiving a QoS 0 flood costs below
// any client, on this machine, beside feedmq's own SinkReceive figure:
//
//   - reader: a bare packets.Reader on the socket, which decodes each
//     PUBLISH in its read buffer and keeps nothing: the cost of the
//     system calls and the decoding.
//   - readercopy: the same, plus the one allocation every client that
//     hands a handler a message of its own must make: a copy of the
//     payload with room for a message header, as feedmq's Message is.
//
// The difference between the two is the price of that allocation (and of
// collecting it), which no client that gives handlers owned messages
// avoids.
func BenchmarkFloorReceive(b *testing.B) {
	addr := sharedSink(b)
	for _, payload := range [][]byte{benchPayload, bigPayload} {
		v := variant{client.AtMostOnce, payload}
		b.Run(v.String(), func(b *testing.B) {
			filter := func(b *testing.B) string { return sink.FloodTopic(0, b.N, len(payload), floodWindow) }
			b.Run("feedmq", func(b *testing.B) { sinkReceiveFeedmq(b, addr, client.Config{}, filter(b), v.qos) })
			b.Run("reader", func(b *testing.B) { floorReceive(b, addr, filter(b), false) })
			b.Run("readercopy", func(b *testing.B) { floorReceive(b, addr, filter(b), true) })
		})
	}
}

// floorSink keeps the last copy, so that the compiler keeps the copies.
var floorSink []byte

// floorReceive subscribes to filter with a bare connection and reads the
// flood with a packets.Reader, copying each payload when copies is set.
func floorReceive(b *testing.B, addr, filter string, copies bool) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	connect, err := (&packets.Connect{ProtocolName: "MQTT", ProtocolLevel: 4, CleanSession: true, ClientID: "floor"}).Append(nil)
	if err != nil {
		b.Fatal(err)
	}
	subscribe, err := (&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{TopicFilter: filter}}}).Append(nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := nc.Write(connect); err != nil {
		b.Fatal(err)
	}
	r := packets.NewReader(nc)
	if _, err := r.ReadPacket(); err != nil { // CONNACK
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	m := startMeter()
	if _, err := nc.Write(subscribe); err != nil {
		b.Fatal(err)
	}
	for n := 0; n < b.N; {
		p, err := r.ReadPacket()
		if err != nil {
			b.Fatal(err)
		}
		pub, ok := p.(*packets.Publish)
		if !ok {
			continue // SUBACK
		}
		n++
		if copies {
			// A message header's worth of room, as feedmq's Message
			// shares its allocation with the payload.
			floorSink = append(make([]byte, 0, len(pub.Payload)+len(pub.TopicName)+96), pub.Payload...)
		}
	}
	b.StopTimer()
	m.report(b)
}
