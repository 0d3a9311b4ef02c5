package packets

import (
	"bytes"
	"io"
	"testing"
)

// Fixtures shared by the benchmarks and the allocation budgets.

// benchPublish is a QoS 1 PUBLISH with a 20-byte topic and a 64-byte payload.
func benchPublish() *Publish {
	return &Publish{
		QoS:       AtLeastOnce,
		TopicName: "sensors/room-12/temp", // 20 bytes
		PacketID:  7,
		Payload:   bytes.Repeat([]byte{'x'}, 64),
	}
}

// benchConnect is a CONNECT with a will, a user name and a password.
func benchConnect() *Connect {
	return &Connect{
		ProtocolName:  "MQTT",
		ProtocolLevel: ProtocolMQTT311,
		CleanSession:  true,
		KeepAlive:     30,
		ClientID:      "feedmq-bench-client",
		WillFlag:      true,
		WillQoS:       AtLeastOnce,
		WillRetain:    true,
		WillTopic:     "clients/feedmq-bench-client/status",
		WillMessage:   []byte("offline"),
		UsernameFlag:  true,
		Username:      "bench",
		PasswordFlag:  true,
		Password:      []byte("correct horse battery staple"),
	}
}

// benchSubscribe is a SUBSCRIBE with three filters.
func benchSubscribe() *Subscribe {
	return &Subscribe{PacketID: 9, Subscriptions: []Subscription{
		{TopicFilter: "sensors/+/temp", QoS: AtLeastOnce},
		{TopicFilter: "alerts/#", QoS: ExactlyOnce},
		{TopicFilter: "$SYS/broker/uptime", QoS: AtMostOnce},
	}}
}

func mustAppend(tb testing.TB, p Packet) []byte {
	tb.Helper()
	b, err := p.Append(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// repeatReader returns its bytes over and over, forever.
type repeatReader struct {
	b   []byte
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.b[r.off:])
		n += c
		r.off = (r.off + c) % len(r.b)
	}
	return n, nil
}

var _ io.Reader = (*repeatReader)(nil)

func benchEncode(b *testing.B, p Packet) {
	buf := make([]byte, 0, p.Size())
	b.SetBytes(int64(p.Size()))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = p.Append(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func benchDecode(b *testing.B, p Packet) {
	wire := mustAppend(b, p)
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Decode(wire); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodePublish(b *testing.B)   { benchEncode(b, benchPublish()) }
func BenchmarkDecodePublish(b *testing.B)   { benchDecode(b, benchPublish()) }
func BenchmarkEncodeConnect(b *testing.B)   { benchEncode(b, benchConnect()) }
func BenchmarkDecodeConnect(b *testing.B)   { benchDecode(b, benchConnect()) }
func BenchmarkEncodeSubscribe(b *testing.B) { benchEncode(b, benchSubscribe()) }
func BenchmarkDecodeSubscribe(b *testing.B) { benchDecode(b, benchSubscribe()) }

// BenchmarkReaderPublish measures the Reader fast path over an endless
// stream of the same PUBLISH.
func BenchmarkReaderPublish(b *testing.B) {
	wire := mustAppend(b, benchPublish())
	r := NewReader(&repeatReader{b: wire})
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.ReadPacket(); err != nil {
			b.Fatal(err)
		}
	}
}
