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

// BenchmarkFloorPublish measures what sending a QoS 0 stream costs below
// any client, on this machine, beside feedmq's own SinkPublishAsync figure:
// writer encodes each PUBLISH into a 64 KiB buffer, which it writes
// whenever the next packet would not fit. That is the copy of the payload
// and the system calls every client makes, and nothing else: no queue, no
// hand-off, no completion.
func BenchmarkFloorPublish(b *testing.B) {
	addr := sharedSink(b)
	for _, payload := range [][]byte{benchPayload, bigPayload} {
		v := variant{client.AtMostOnce, payload}
		b.Run(v.String(), func(b *testing.B) {
			b.Run("feedmq", func(b *testing.B) { sinkPublishAsyncFeedmq(b, addr, sinkConfig, v) })
			b.Run("writer", func(b *testing.B) { floorPublish(b, addr, payload) })
		})
	}
}

// floorPublish writes b.N QoS 0 PUBLISHes of payload on a bare connection.
func floorPublish(b *testing.B, addr string, payload []byte) {
	nc, r := floorConnect(b, addr)
	defer nc.Close()
	pub := &packets.Publish{TopicName: benchTopic, Payload: payload}
	buf := make([]byte, 0, 64<<10)
	b.ReportAllocs()
	b.ResetTimer()
	m := startMeter()
	for range b.N {
		var err error
		if buf, err = pub.Append(buf); err != nil {
			b.Fatal(err)
		}
		if len(buf) > cap(buf)-len(payload)-64 {
			if _, err := nc.Write(buf); err != nil {
				b.Fatal(err)
			}
			buf = buf[:0]
		}
	}
	if _, err := nc.Write(buf); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	m.report(b)
	// A PINGREQ answered means the sink read everything before it.
	ping, err := (&packets.Pingreq{}).Append(nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := nc.Write(ping); err != nil {
		b.Fatal(err)
	}
	if _, err := r.ReadPacket(); err != nil {
		b.Fatal(err)
	}
}

// floorConnect opens a bare connection to the sink and connects.
func floorConnect(b *testing.B, addr string) (net.Conn, *packets.Reader) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	connect, err := (&packets.Connect{ProtocolName: "MQTT", ProtocolLevel: 4, CleanSession: true, ClientID: "floor"}).Append(nil)
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
	return nc, r
}

// floorSink keeps the last copy, so that the compiler keeps the copies.
var floorSink []byte

// floorReceive subscribes to filter with a bare connection and reads the
// flood with a packets.Reader, copying each payload when copies is set.
func floorReceive(b *testing.B, addr, filter string, copies bool) {
	nc, r := floorConnect(b, addr)
	defer nc.Close()
	subscribe, err := (&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{TopicFilter: filter}}}).Append(nil)
	if err != nil {
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
