package codec

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"reflect"
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/feedmq/feedmq/packets"
	mochi "github.com/mochi-mqtt/server/v2/packets"
)

// The PUBLISH under test: QoS 1, a 20-byte topic and a 64-byte payload.
const (
	pubTopic = "sensors/room-1/tempC"
	pubID    = 0x2a
)

var pubPayload = []byte("{\"t\":21.5,\"unit\":\"C\",\"room\":1,\"seq\":123456789,\"ok\":true,\"v\":3.3}")

// The CONNECT under test: clean session, a QoS 1 retained will, a user name
// and a password.
const (
	connClientID  = "feedmq-bench-client"
	connKeepAlive = 30
	connWillTopic = "clients/feedmq-bench/status"
	connUsername  = "bench-user"
)

var (
	connProtocolName = []byte("MQTT") // mochi keeps the name as bytes
	connWillMessage  = []byte("offline")
	connUsernameB    = []byte(connUsername) // mochi keeps the user name as bytes
	connPassword     = []byte("s3cret-passw0rd")
)

// The SUBSCRIBE under test: three filters at QoS 1, 2 and 0.
const subID = 7

var (
	subFilters = []string{"sensors/+/tempC", "alerts/#", "cmd/feedmq-bench"}
	subQoS     = []byte{1, 2, 0}

	feedmqSubs = []packets.Subscription{
		{TopicFilter: subFilters[0], QoS: packets.QoS(subQoS[0])},
		{TopicFilter: subFilters[1], QoS: packets.QoS(subQoS[1])},
		{TopicFilter: subFilters[2], QoS: packets.QoS(subQoS[2])},
	}
	mochiSubs = mochi.Subscriptions{
		{Filter: subFilters[0], Qos: subQoS[0]},
		{Filter: subFilters[1], Qos: subQoS[1]},
		{Filter: subFilters[2], Qos: subQoS[2]},
	}
)

// ---------------------------------------------------------------------------
// Encoders. Each builds the packet the way its library expects and encodes
// it into a buffer the caller reuses.

func encodePublishFeedmq(buf []byte) ([]byte, error) {
	return (&packets.Publish{
		QoS:       packets.AtLeastOnce,
		TopicName: pubTopic,
		PacketID:  pubID,
		Payload:   pubPayload,
	}).Append(buf[:0])
}

func encodePublishPaho(buf *bytes.Buffer) error {
	buf.Reset()
	p := paho.NewControlPacket(paho.Publish).(*paho.PublishPacket)
	p.Qos = 1
	p.TopicName = pubTopic
	p.MessageID = pubID
	p.Payload = pubPayload
	return p.Write(buf)
}

func encodePublishMochi(buf *bytes.Buffer) error {
	buf.Reset()
	pk := mochi.Packet{
		FixedHeader:     mochi.FixedHeader{Type: mochi.Publish, Qos: 1},
		ProtocolVersion: 4,
		TopicName:       pubTopic,
		PacketID:        pubID,
		Payload:         pubPayload,
	}
	return pk.PublishEncode(buf)
}

func encodeConnectFeedmq(buf []byte) ([]byte, error) {
	return (&packets.Connect{
		ProtocolName:  "MQTT",
		ProtocolLevel: packets.ProtocolMQTT311,
		UsernameFlag:  true,
		PasswordFlag:  true,
		WillRetain:    true,
		WillQoS:       packets.AtLeastOnce,
		WillFlag:      true,
		CleanSession:  true,
		KeepAlive:     connKeepAlive,
		ClientID:      connClientID,
		WillTopic:     connWillTopic,
		WillMessage:   connWillMessage,
		Username:      connUsername,
		Password:      connPassword,
	}).Append(buf[:0])
}

func encodeConnectPaho(buf *bytes.Buffer) error {
	buf.Reset()
	p := paho.NewControlPacket(paho.Connect).(*paho.ConnectPacket)
	p.ProtocolName = "MQTT"
	p.ProtocolVersion = 4
	p.CleanSession = true
	p.WillFlag = true
	p.WillQos = 1
	p.WillRetain = true
	p.UsernameFlag = true
	p.PasswordFlag = true
	p.Keepalive = connKeepAlive
	p.ClientIdentifier = connClientID
	p.WillTopic = connWillTopic
	p.WillMessage = connWillMessage
	p.Username = connUsername
	p.Password = connPassword
	return p.Write(buf)
}

func encodeConnectMochi(buf *bytes.Buffer) error {
	buf.Reset()
	pk := mochi.Packet{
		FixedHeader:     mochi.FixedHeader{Type: mochi.Connect},
		ProtocolVersion: 4,
		Connect: mochi.ConnectParams{
			ProtocolName:     connProtocolName,
			Clean:            true,
			WillFlag:         true,
			WillQos:          1,
			WillRetain:       true,
			UsernameFlag:     true,
			PasswordFlag:     true,
			Keepalive:        connKeepAlive,
			ClientIdentifier: connClientID,
			WillTopic:        connWillTopic,
			WillPayload:      connWillMessage,
			Username:         connUsernameB,
			Password:         connPassword,
		},
	}
	return pk.ConnectEncode(buf)
}

func encodeSubscribeFeedmq(buf []byte) ([]byte, error) {
	return (&packets.Subscribe{
		PacketID:      subID,
		Subscriptions: feedmqSubs,
	}).Append(buf[:0])
}

func encodeSubscribePaho(buf *bytes.Buffer) error {
	buf.Reset()
	p := paho.NewControlPacket(paho.Subscribe).(*paho.SubscribePacket)
	p.MessageID = subID
	p.Topics = subFilters
	p.Qoss = subQoS
	return p.Write(buf)
}

func encodeSubscribeMochi(buf *bytes.Buffer) error {
	buf.Reset()
	pk := mochi.Packet{
		FixedHeader:     mochi.FixedHeader{Type: mochi.Subscribe, Qos: 1},
		ProtocolVersion: 4,
		PacketID:        subID,
		Filters:         mochiSubs,
	}
	return pk.SubscribeEncode(buf)
}

// ---------------------------------------------------------------------------
// Decoders. Each library is measured twice:
//
//   - over a byte slice holding one packet: feedmq's Decode; paho's
//     ReadPacket over a bytes.Reader reset to the slice; mochi's fixed-header
//     parse followed by the packet's decoder on a body that aliases the slice.
//   - over a stream that repeats the packet forever, read through a 4 KiB
//     bufio.Reader as a connection's read loop would: feedmq's Reader, paho's
//     ReadPacket, and mochi's Client.ReadFixedHeader plus Client.ReadPacket
//     steps (a fresh body, read in full, copied once more, then decoded).

// decodePaho decodes one packet with paho.ReadPacket, resetting r over b.
func decodePaho(r *bytes.Reader, b []byte) (paho.ControlPacket, error) {
	r.Reset(b)
	return paho.ReadPacket(r)
}

// decodeMochi decodes the one packet in b into pk: it parses the fixed header
// as mochi's Client.ReadFixedHeader does and hands the body, which aliases b,
// to the packet's decoder.
func decodeMochi(r *bytes.Reader, b []byte, pk *mochi.Packet) error {
	r.Reset(b)
	first, err := r.ReadByte()
	if err != nil {
		return err
	}
	var fh mochi.FixedHeader
	if err := fh.Decode(first); err != nil {
		return err
	}
	n, used, err := mochi.DecodeLength(r)
	if err != nil {
		return err
	}
	fh.Remaining = n
	// b holds exactly one packet.
	if len(b)-(1+used) != n {
		return mochi.ErrMalformedOffsetBytesOutOfRange
	}
	*pk = mochi.Packet{ProtocolVersion: 4, FixedHeader: fh}
	return decodeMochiBody(pk, b[1+used:])
}

// mochiStream reads packets from r step by step as mochi's
// Client.ReadFixedHeader and Client.ReadPacket do, less the server's
// counters and hooks.
type mochiStream struct {
	r *bufio.Reader
}

func (s *mochiStream) read(pk *mochi.Packet) error {
	first, err := s.r.ReadByte()
	if err != nil {
		return err
	}
	var fh mochi.FixedHeader
	if err := fh.Decode(first); err != nil {
		return err
	}
	if fh.Remaining, _, err = mochi.DecodeLength(s.r); err != nil {
		return err
	}
	*pk = mochi.Packet{ProtocolVersion: 4, FixedHeader: fh}
	p := make([]byte, fh.Remaining)
	if _, err := io.ReadFull(s.r, p); err != nil {
		return err
	}
	px := append([]byte{}, p[:]...)
	return decodeMochiBody(pk, px)
}

// decodeMochiBody dispatches on the packet type as Client.ReadPacket does.
func decodeMochiBody(pk *mochi.Packet, body []byte) error {
	switch pk.FixedHeader.Type {
	case mochi.Connect:
		return pk.ConnectDecode(body)
	case mochi.Publish:
		return pk.PublishDecode(body)
	case mochi.Subscribe:
		return pk.SubscribeDecode(body)
	}
	return fmt.Errorf("invalid packet type; %v", pk.FixedHeader.Type)
}

// streamBufferSize is the read buffer of every stream decoder, the size
// packets.NewReader uses.
const streamBufferSize = 4096

// replay is an io.Reader that returns the same bytes over and over, so a
// stream decoder can read the same packet forever without allocating.
type replay struct {
	b   []byte
	off int
}

func (r *replay) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.b[r.off:])
		n += c
		r.off += c
		if r.off == len(r.b) {
			r.off = 0
		}
	}
	return n, nil
}

// ---------------------------------------------------------------------------
// Views: what a decoded packet says, in one shape for all three libraries, so
// the checks can compare them.

type publishView struct {
	QoS     byte
	Topic   string
	ID      uint16
	Payload []byte
}

var wantPublish = publishView{QoS: 1, Topic: pubTopic, ID: pubID, Payload: pubPayload}

type connectView struct {
	ProtocolName  string
	ProtocolLevel byte
	CleanSession  bool
	WillFlag      bool
	WillQoS       byte
	WillRetain    bool
	UsernameFlag  bool
	PasswordFlag  bool
	KeepAlive     uint16
	ClientID      string
	WillTopic     string
	WillMessage   []byte
	Username      string
	Password      []byte
}

var wantConnect = connectView{
	ProtocolName: "MQTT", ProtocolLevel: 4,
	CleanSession: true, WillFlag: true, WillQoS: 1, WillRetain: true,
	UsernameFlag: true, PasswordFlag: true, KeepAlive: connKeepAlive,
	ClientID: connClientID, WillTopic: connWillTopic, WillMessage: connWillMessage,
	Username: connUsername, Password: connPassword,
}

type subscribeView struct {
	ID      uint16
	Filters []string
	QoS     []byte
}

var wantSubscribe = subscribeView{ID: subID, Filters: subFilters, QoS: subQoS}

func feedmqView(p packets.Packet) any {
	switch p := p.(type) {
	case *packets.Publish:
		return publishView{QoS: byte(p.QoS), Topic: p.TopicName, ID: p.PacketID, Payload: p.Payload}
	case *packets.Connect:
		return connectView{
			ProtocolName: p.ProtocolName, ProtocolLevel: byte(p.ProtocolLevel),
			CleanSession: p.CleanSession, WillFlag: p.WillFlag, WillQoS: byte(p.WillQoS), WillRetain: p.WillRetain,
			UsernameFlag: p.UsernameFlag, PasswordFlag: p.PasswordFlag, KeepAlive: p.KeepAlive,
			ClientID: p.ClientID, WillTopic: p.WillTopic, WillMessage: p.WillMessage,
			Username: p.Username, Password: p.Password,
		}
	case *packets.Subscribe:
		v := subscribeView{ID: p.PacketID}
		for _, s := range p.Subscriptions {
			v.Filters = append(v.Filters, s.TopicFilter)
			v.QoS = append(v.QoS, byte(s.QoS))
		}
		return v
	}
	return p
}

func pahoView(p paho.ControlPacket) any {
	switch p := p.(type) {
	case *paho.PublishPacket:
		return publishView{QoS: p.Qos, Topic: p.TopicName, ID: p.MessageID, Payload: p.Payload}
	case *paho.ConnectPacket:
		return connectView{
			ProtocolName: p.ProtocolName, ProtocolLevel: p.ProtocolVersion,
			CleanSession: p.CleanSession, WillFlag: p.WillFlag, WillQoS: p.WillQos, WillRetain: p.WillRetain,
			UsernameFlag: p.UsernameFlag, PasswordFlag: p.PasswordFlag, KeepAlive: p.Keepalive,
			ClientID: p.ClientIdentifier, WillTopic: p.WillTopic, WillMessage: p.WillMessage,
			Username: p.Username, Password: p.Password,
		}
	case *paho.SubscribePacket:
		return subscribeView{ID: p.MessageID, Filters: p.Topics, QoS: p.Qoss}
	}
	return p
}

func mochiView(pk *mochi.Packet) any {
	switch pk.FixedHeader.Type {
	case mochi.Publish:
		return publishView{QoS: pk.FixedHeader.Qos, Topic: pk.TopicName, ID: pk.PacketID, Payload: pk.Payload}
	case mochi.Connect:
		c := &pk.Connect
		return connectView{
			ProtocolName: string(c.ProtocolName), ProtocolLevel: pk.ProtocolVersion,
			CleanSession: c.Clean, WillFlag: c.WillFlag, WillQoS: c.WillQos, WillRetain: c.WillRetain,
			UsernameFlag: c.UsernameFlag, PasswordFlag: c.PasswordFlag, KeepAlive: c.Keepalive,
			ClientID: c.ClientIdentifier, WillTopic: c.WillTopic, WillMessage: c.WillPayload,
			Username: string(c.Username), Password: c.Password,
		}
	case mochi.Subscribe:
		v := subscribeView{ID: pk.PacketID}
		for _, s := range pk.Filters {
			v.Filters = append(v.Filters, s.Filter)
			v.QoS = append(v.QoS, s.Qos)
		}
		return v
	}
	return pk
}

// ---------------------------------------------------------------------------
// The benchmark bodies, shared by the three packet types.

// encoders names one packet's encoder in each library.
type encoders struct {
	feedmq func([]byte) ([]byte, error)
	paho   func(*bytes.Buffer) error
	mochi  func(*bytes.Buffer) error
}

// benchEncode checks that the three encoders produce the same bytes, then
// times each of them.
func benchEncode(b *testing.B, e encoders) {
	wire, err := e.feedmq(nil)
	if err != nil {
		b.Fatalf("feedmq: encode: %v", err)
	}
	var pb, mb bytes.Buffer
	if err := e.paho(&pb); err != nil {
		b.Fatalf("paho: encode: %v", err)
	}
	if err := e.mochi(&mb); err != nil {
		b.Fatalf("mochi: encode: %v", err)
	}
	if !bytes.Equal(pb.Bytes(), wire) {
		b.Fatalf("paho encodes % x, feedmq % x", pb.Bytes(), wire)
	}
	if !bytes.Equal(mb.Bytes(), wire) {
		b.Fatalf("mochi encodes % x, feedmq % x", mb.Bytes(), wire)
	}

	b.Run("feedmq", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(wire)))
		buf := make([]byte, 0, 2*len(wire))
		for b.Loop() {
			var err error
			if buf, err = e.feedmq(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("paho", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(wire)))
		var buf bytes.Buffer
		buf.Grow(2 * len(wire))
		for b.Loop() {
			if err := e.paho(&buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mochi", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(wire)))
		var buf bytes.Buffer
		buf.Grow(2 * len(wire))
		for b.Loop() {
			if err := e.mochi(&buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchDecode checks that every decoder reads want from wire, then times
// each of them.
func benchDecode(b *testing.B, wire []byte, want any) {
	check := func(who string, got any) {
		b.Helper()
		if !reflect.DeepEqual(got, want) {
			b.Fatalf("%s = %+v, want %+v", who, got, want)
		}
	}
	// Stream decoders read enough packets to wrap their buffer a few times.
	streamPackets := 4*streamBufferSize/len(wire) + 1

	p, n, err := packets.Decode(wire)
	if err != nil {
		b.Fatalf("feedmq: Decode: %v", err)
	}
	if n != len(wire) {
		b.Fatalf("feedmq: Decode used %d of %d bytes", n, len(wire))
	}
	check("feedmq: Decode", feedmqView(p))

	var r bytes.Reader
	cp, err := decodePaho(&r, wire)
	if err != nil {
		b.Fatalf("paho: ReadPacket: %v", err)
	}
	if r.Len() != 0 {
		b.Fatalf("paho: ReadPacket left %d of %d bytes", r.Len(), len(wire))
	}
	check("paho: ReadPacket", pahoView(cp))

	var pk mochi.Packet
	if err := decodeMochi(&r, wire, &pk); err != nil {
		b.Fatalf("mochi: decode: %v", err)
	}
	check("mochi: decode", mochiView(&pk))

	fr := packets.NewReader(&replay{b: wire})
	pr := bufio.NewReaderSize(&replay{b: wire}, streamBufferSize)
	ms := mochiStream{bufio.NewReaderSize(&replay{b: wire}, streamBufferSize)}
	for i := range streamPackets {
		p, err := fr.ReadPacket()
		if err != nil {
			b.Fatalf("feedmq: Reader.ReadPacket #%d: %v", i, err)
		}
		check(fmt.Sprintf("feedmq: Reader.ReadPacket #%d", i), feedmqView(p))
		cp, err := paho.ReadPacket(pr)
		if err != nil {
			b.Fatalf("paho: ReadPacket #%d from a stream: %v", i, err)
		}
		check(fmt.Sprintf("paho: ReadPacket #%d from a stream", i), pahoView(cp))
		if err := ms.read(&pk); err != nil {
			b.Fatalf("mochi: read #%d from a stream: %v", i, err)
		}
		check(fmt.Sprintf("mochi: read #%d from a stream", i), mochiView(&pk))
	}

	b.Run("feedmq", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(wire)))
		for b.Loop() {
			if _, _, err := packets.Decode(wire); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("paho", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(wire)))
		var r bytes.Reader
		for b.Loop() {
			if _, err := decodePaho(&r, wire); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mochi", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(wire)))
		var r bytes.Reader
		var pk mochi.Packet
		for b.Loop() {
			if err := decodeMochi(&r, wire, &pk); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("feedmq-reader", func(b *testing.B) {
		rd := packets.NewReader(&replay{b: wire})
		if _, err := rd.ReadPacket(); err != nil { // warm the reused buffers
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(wire)))
		for b.Loop() {
			if _, err := rd.ReadPacket(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("paho-reader", func(b *testing.B) {
		r := bufio.NewReaderSize(&replay{b: wire}, streamBufferSize)
		b.ReportAllocs()
		b.SetBytes(int64(len(wire)))
		for b.Loop() {
			if _, err := paho.ReadPacket(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mochi-reader", func(b *testing.B) {
		s := mochiStream{bufio.NewReaderSize(&replay{b: wire}, streamBufferSize)}
		var pk mochi.Packet
		b.ReportAllocs()
		b.SetBytes(int64(len(wire)))
		for b.Loop() {
			if err := s.read(&pk); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// wireOf returns feedmq's encoding of a packet, the bytes the decode
// benchmarks read; benchEncode has shown the other two libraries agree.
func wireOf(b *testing.B, encode func([]byte) ([]byte, error)) []byte {
	wire, err := encode(nil)
	if err != nil {
		b.Fatalf("feedmq: encode: %v", err)
	}
	return wire
}

// ---------------------------------------------------------------------------
// The benchmarks.

var (
	publishEncoders   = encoders{encodePublishFeedmq, encodePublishPaho, encodePublishMochi}
	connectEncoders   = encoders{encodeConnectFeedmq, encodeConnectPaho, encodeConnectMochi}
	subscribeEncoders = encoders{encodeSubscribeFeedmq, encodeSubscribePaho, encodeSubscribeMochi}
)

// checkPublishSizes fails b unless the PUBLISH fixture has the sizes the
// benchmark names promise.
func checkPublishSizes(b *testing.B) {
	if len(pubTopic) != 20 || len(pubPayload) != 64 {
		b.Fatalf("PUBLISH fixture has a %d-byte topic and a %d-byte payload, want 20 and 64", len(pubTopic), len(pubPayload))
	}
}

func BenchmarkEncodePublish(b *testing.B) {
	checkPublishSizes(b)
	benchEncode(b, publishEncoders)
}

func BenchmarkEncodeConnect(b *testing.B)   { benchEncode(b, connectEncoders) }
func BenchmarkEncodeSubscribe(b *testing.B) { benchEncode(b, subscribeEncoders) }

func BenchmarkDecodePublish(b *testing.B) {
	checkPublishSizes(b)
	benchDecode(b, wireOf(b, encodePublishFeedmq), wantPublish)
}

func BenchmarkDecodeConnect(b *testing.B) {
	benchDecode(b, wireOf(b, encodeConnectFeedmq), wantConnect)
}

func BenchmarkDecodeSubscribe(b *testing.B) {
	benchDecode(b, wireOf(b, encodeSubscribeFeedmq), wantSubscribe)
}
