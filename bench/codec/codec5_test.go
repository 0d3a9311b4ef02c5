package codec

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"testing"

	pahogolang "github.com/eclipse/paho.golang/packets"
	"github.com/feedmq/feedmq/packets"
	mochi "github.com/mochi-mqtt/server/v2/packets"
)

// MQTT 5.0 codec rows: feedmq against paho.golang (MQTT 5.0 only; the
// "pahogolang" columns) and mochi, which speaks both versions. paho.mqtt.golang
// has no 5.0 codec. The packets:
//
//   - PUBLISH5: the PUBLISH of the 3.1.1 rows (QoS 1, 20-byte topic, 64-byte
//     payload) with four properties: Payload Format Indicator, Message Expiry
//     Interval, Content Type and one User Property.
//   - CONNECT5: the CONNECT of the 3.1.1 rows at level 5, with Session Expiry
//     Interval, Receive Maximum, Topic Alias Maximum and a User Property, and
//     a Will Delay Interval on the will.
//   - SUBACK5: packet ID 7 and three reason codes (Granted QoS 1, Granted QoS
//     2, Not authorized), no properties.
//
// The libraries write properties in different orders, so the encoders are
// checked by decoding each one's bytes with feedmq and comparing packets,
// not bytes.

const (
	pub5ContentType = "application/json"
	pub5Expiry      = 300
	conn5Expiry     = 3600
	conn5RecvMax    = 32
	conn5AliasMax   = 10
	conn5WillDelay  = 5
	suback5ID       = 7
)

var suback5Codes = []byte{0x01, 0x02, 0x87}

func feedmqPublish5() *packets.Publish {
	p := &packets.Publish{QoS: packets.AtLeastOnce, TopicName: pubTopic, PacketID: pubID, Payload: pubPayload,
		Properties: new(packets.Properties)}
	p.Properties.SetPayloadFormatIndicator(1)
	p.Properties.SetMessageExpiryInterval(pub5Expiry)
	p.Properties.SetContentType(pub5ContentType)
	p.Properties.UserProperties = []packets.StringPair{{Key: "unit", Value: "C"}}
	return p
}

func feedmqConnect5() *packets.Connect {
	c := &packets.Connect{ProtocolName: "MQTT", ProtocolLevel: packets.ProtocolMQTT5,
		UsernameFlag: true, PasswordFlag: true, WillRetain: true, WillQoS: packets.AtLeastOnce, WillFlag: true,
		CleanSession: true, KeepAlive: connKeepAlive, ClientID: connClientID, WillTopic: connWillTopic,
		WillMessage: connWillMessage, Username: connUsername, Password: connPassword,
		Properties: new(packets.Properties), WillProperties: new(packets.Properties)}
	c.Properties.SetSessionExpiryInterval(conn5Expiry)
	c.Properties.SetReceiveMaximum(conn5RecvMax)
	c.Properties.SetTopicAliasMaximum(conn5AliasMax)
	c.Properties.UserProperties = []packets.StringPair{{Key: "region", Value: "eu"}}
	c.WillProperties.SetWillDelayInterval(conn5WillDelay)
	return c
}

func feedmqSuback5() *packets.Suback {
	s := &packets.Suback{PacketID: suback5ID}
	for _, c := range suback5Codes {
		s.ReasonCodes = append(s.ReasonCodes, packets.ReasonCode(c))
	}
	return s
}

// Encoders. Each builds the packet as its library expects, every time.

func encodePublish5Feedmq(buf []byte) ([]byte, error) {
	return (&packets.Publish{
		QoS:       packets.AtLeastOnce,
		TopicName: pubTopic,
		PacketID:  pubID,
		Payload:   pubPayload,
		Properties: &packets.Properties{
			Present: packets.PropertySet(1)<<packets.PropPayloadFormatIndicator |
				packets.PropertySet(1)<<packets.PropMessageExpiryInterval |
				packets.PropertySet(1)<<packets.PropContentType,
			PayloadFormatIndicator: 1,
			MessageExpiryInterval:  pub5Expiry,
			ContentType:            pub5ContentType,
			UserProperties:         []packets.StringPair{{Key: "unit", Value: "C"}},
		},
	}).AppendVersion(buf[:0], packets.ProtocolMQTT5)
}

func encodePublish5Paho(buf *bytes.Buffer) error {
	buf.Reset()
	pf, exp := byte(1), uint32(pub5Expiry)
	p := &pahogolang.Publish{QoS: 1, Topic: pubTopic, PacketID: pubID, Payload: pubPayload,
		Properties: &pahogolang.Properties{PayloadFormat: &pf, MessageExpiry: &exp, ContentType: pub5ContentType,
			User: []pahogolang.User{{Key: "unit", Value: "C"}}}}
	_, err := p.WriteTo(buf)
	return err
}

func encodePublish5Mochi(buf *bytes.Buffer) error {
	buf.Reset()
	pk := mochi.Packet{
		FixedHeader:     mochi.FixedHeader{Type: mochi.Publish, Qos: 1},
		ProtocolVersion: 5,
		TopicName:       pubTopic,
		PacketID:        pubID,
		Payload:         pubPayload,
		Properties: mochi.Properties{PayloadFormat: 1, PayloadFormatFlag: true, MessageExpiryInterval: pub5Expiry,
			ContentType: pub5ContentType, User: []mochi.UserProperty{{Key: "unit", Val: "C"}}},
	}
	return pk.PublishEncode(buf)
}

func encodeConnect5Feedmq(buf []byte) ([]byte, error) {
	return (&packets.Connect{
		ProtocolName:  "MQTT",
		ProtocolLevel: packets.ProtocolMQTT5,
		UsernameFlag:  true,
		PasswordFlag:  true,
		WillRetain:    true,
		WillQoS:       packets.AtLeastOnce,
		WillFlag:      true,
		CleanSession:  true,
		KeepAlive:     connKeepAlive,
		Properties: &packets.Properties{
			Present: packets.PropertySet(1)<<packets.PropSessionExpiryInterval |
				packets.PropertySet(1)<<packets.PropReceiveMaximum |
				packets.PropertySet(1)<<packets.PropTopicAliasMaximum,
			SessionExpiryInterval: conn5Expiry,
			ReceiveMaximum:        conn5RecvMax,
			TopicAliasMaximum:     conn5AliasMax,
			UserProperties:        []packets.StringPair{{Key: "region", Value: "eu"}},
		},
		ClientID: connClientID,
		WillProperties: &packets.Properties{
			Present:           packets.PropertySet(1) << packets.PropWillDelayInterval,
			WillDelayInterval: conn5WillDelay,
		},
		WillTopic:   connWillTopic,
		WillMessage: connWillMessage,
		Username:    connUsername,
		Password:    connPassword,
	}).AppendVersion(buf[:0], packets.ProtocolMQTT5)
}

func encodeConnect5Paho(buf *bytes.Buffer) error {
	buf.Reset()
	exp, rm, tam, wd := uint32(conn5Expiry), uint16(conn5RecvMax), uint16(conn5AliasMax), uint32(conn5WillDelay)
	c := &pahogolang.Connect{ProtocolName: "MQTT", ProtocolVersion: 5,
		UsernameFlag: true, PasswordFlag: true, WillRetain: true, WillQOS: 1, WillFlag: true, CleanStart: true,
		KeepAlive: connKeepAlive, ClientID: connClientID, WillTopic: connWillTopic, WillMessage: connWillMessage,
		Username: connUsername, Password: connPassword,
		Properties: &pahogolang.Properties{SessionExpiryInterval: &exp, ReceiveMaximum: &rm, TopicAliasMaximum: &tam,
			User: []pahogolang.User{{Key: "region", Value: "eu"}}},
		WillProperties: &pahogolang.Properties{WillDelayInterval: &wd}}
	_, err := c.WriteTo(buf)
	return err
}

func encodeConnect5Mochi(buf *bytes.Buffer) error {
	buf.Reset()
	pk := mochi.Packet{
		FixedHeader:     mochi.FixedHeader{Type: mochi.Connect},
		ProtocolVersion: 5,
		Connect: mochi.ConnectParams{
			ProtocolName: connProtocolName, Clean: true, WillFlag: true, WillQos: 1, WillRetain: true,
			UsernameFlag: true, PasswordFlag: true, Keepalive: connKeepAlive, ClientIdentifier: connClientID,
			WillTopic: connWillTopic, WillPayload: connWillMessage, Username: connUsernameB, Password: connPassword,
			WillProperties: mochi.Properties{WillDelayInterval: conn5WillDelay},
		},
		Properties: mochi.Properties{SessionExpiryInterval: conn5Expiry, SessionExpiryIntervalFlag: true,
			ReceiveMaximum: conn5RecvMax, TopicAliasMaximum: conn5AliasMax,
			User: []mochi.UserProperty{{Key: "region", Val: "eu"}}},
	}
	return pk.ConnectEncode(buf)
}

func encodeSuback5Feedmq(buf []byte) ([]byte, error) {
	return (&packets.Suback{
		PacketID:    suback5ID,
		ReasonCodes: []packets.ReasonCode{packets.ReasonGrantedQoS1, packets.ReasonGrantedQoS2, packets.ReasonNotAuthorized},
	}).AppendVersion(buf[:0], packets.ProtocolMQTT5)
}

func encodeSuback5Paho(buf *bytes.Buffer) error {
	buf.Reset()
	s := &pahogolang.Suback{PacketID: suback5ID, Reasons: suback5Codes, Properties: &pahogolang.Properties{}}
	_, err := s.WriteTo(buf)
	return err
}

func encodeSuback5Mochi(buf *bytes.Buffer) error {
	buf.Reset()
	pk := mochi.Packet{FixedHeader: mochi.FixedHeader{Type: mochi.Suback}, ProtocolVersion: 5,
		PacketID: suback5ID, ReasonCodes: suback5Codes}
	return pk.SubackEncode(buf)
}

// benchEncode5 checks that each library's bytes decode with feedmq to the
// same packet, then times each encoder.
func benchEncode5(b *testing.B, want packets.Packet, e encoders) {
	wire, err := e.feedmq(nil)
	if err != nil {
		b.Fatalf("feedmq: encode: %v", err)
	}
	same := func(who string, bs []byte) {
		p, n, err := packets.DecodeVersion(bs, packets.ProtocolMQTT5)
		if err != nil || n != len(bs) {
			b.Fatalf("%s encodes % x, which feedmq does not decode whole: %v", who, bs, err)
		}
		if p.String() != want.String() {
			b.Fatalf("%s encodes %v, want %v", who, p, want)
		}
	}
	same("feedmq", wire)
	var pb, mb bytes.Buffer
	if err := e.paho(&pb); err != nil {
		b.Fatalf("pahogolang: encode: %v", err)
	}
	same("pahogolang", pb.Bytes())
	if err := e.mochi(&mb); err != nil {
		b.Fatalf("mochi: encode: %v", err)
	}
	same("mochi", mb.Bytes())

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
	for _, lib := range []struct {
		name string
		enc  func(*bytes.Buffer) error
	}{{"pahogolang", e.paho}, {"mochi", e.mochi}} {
		b.Run(lib.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(wire)))
			var buf bytes.Buffer
			buf.Grow(2 * len(wire))
			for b.Loop() {
				if err := lib.enc(&buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// decodeMochi5 is decodeMochi at protocol version 5, for the 5.0 packets.
func decodeMochi5(r *bytes.Reader, b []byte, pk *mochi.Packet) error {
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
	if len(b)-(1+used) != n {
		return mochi.ErrMalformedOffsetBytesOutOfRange
	}
	*pk = mochi.Packet{ProtocolVersion: 5, FixedHeader: fh}
	return decodeMochi5Body(pk, b[1+used:])
}

func decodeMochi5Body(pk *mochi.Packet, body []byte) error {
	if pk.FixedHeader.Type == mochi.Suback {
		return pk.SubackDecode(body)
	}
	return decodeMochiBody(pk, body)
}

// mochiStream5 is mochiStream at protocol version 5.
type mochiStream5 struct{ r *bufio.Reader }

func (s *mochiStream5) read(pk *mochi.Packet) error {
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
	*pk = mochi.Packet{ProtocolVersion: 5, FixedHeader: fh}
	p := make([]byte, fh.Remaining)
	if _, err := io.ReadFull(s.r, p); err != nil {
		return err
	}
	px := append([]byte{}, p[:]...)
	return decodeMochi5Body(pk, px)
}

// view5 reduces a decoded packet of any library to a comparable string:
// the packet identifier, the topic, the payload and how many properties of
// each kind it holds.
func view5Feedmq(p packets.Packet) string { return p.String() }

func view5Paho(cp *pahogolang.ControlPacket) string {
	switch c := cp.Content.(type) {
	case *pahogolang.Publish:
		return fmt.Sprintf("PUBLISH %d %s %x ct=%s user=%v exp=%d", c.PacketID, c.Topic, c.Payload, c.Properties.ContentType, c.Properties.User, *c.Properties.MessageExpiry)
	case *pahogolang.Connect:
		return fmt.Sprintf("CONNECT %s %s %s rm=%d user=%v wd=%d", c.ClientID, c.Username, c.WillTopic, *c.Properties.ReceiveMaximum, c.Properties.User, *c.WillProperties.WillDelayInterval)
	case *pahogolang.Suback:
		return fmt.Sprintf("SUBACK %d %x", c.PacketID, c.Reasons)
	}
	return cp.String()
}

func view5Mochi(pk *mochi.Packet) string {
	switch pk.FixedHeader.Type {
	case mochi.Publish:
		return fmt.Sprintf("PUBLISH %d %s %x ct=%s user=%v exp=%d", pk.PacketID, pk.TopicName, pk.Payload, pk.Properties.ContentType, pk.Properties.User, pk.Properties.MessageExpiryInterval)
	case mochi.Connect:
		return fmt.Sprintf("CONNECT %s %s %s rm=%d user=%v wd=%d", pk.Connect.ClientIdentifier, pk.Connect.Username, pk.Connect.WillTopic, pk.Properties.ReceiveMaximum, pk.Properties.User, pk.Connect.WillProperties.WillDelayInterval)
	case mochi.Suback:
		return fmt.Sprintf("SUBACK %d %x", pk.PacketID, pk.ReasonCodes)
	}
	return fmt.Sprintf("type %d", pk.FixedHeader.Type)
}

// benchDecode5 checks that every decoder reads the packet, then times each:
// over one slice, and over a stream through a 4 KiB buffer.
func benchDecode5(b *testing.B, wire []byte, want packets.Packet) {
	p, n, err := packets.DecodeVersion(wire, packets.ProtocolMQTT5)
	if err != nil || n != len(wire) || view5Feedmq(p) != want.String() {
		b.Fatalf("feedmq: DecodeVersion = %v, %d, %v; want %v", p, n, err, want)
	}
	var r bytes.Reader
	r.Reset(wire)
	cp, err := pahogolang.ReadPacket(&r)
	if err != nil {
		b.Fatalf("pahogolang: ReadPacket: %v", err)
	}
	var pk mochi.Packet
	if err := decodeMochi5(&r, wire, &pk); err != nil {
		b.Fatalf("mochi: decode: %v", err)
	}
	if view5Paho(cp) != view5Mochi(&pk) {
		b.Fatalf("pahogolang reads %s, mochi %s", view5Paho(cp), view5Mochi(&pk))
	}

	b.Run("feedmq", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(wire)))
		for b.Loop() {
			if _, _, err := packets.DecodeVersion(wire, packets.ProtocolMQTT5); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pahogolang", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(wire)))
		var r bytes.Reader
		for b.Loop() {
			r.Reset(wire)
			if _, err := pahogolang.ReadPacket(&r); err != nil {
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
			if err := decodeMochi5(&r, wire, &pk); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("feedmq-reader", func(b *testing.B) {
		rd := packets.NewReader(&replay{b: wire})
		rd.SetProtocol(packets.ProtocolMQTT5)
		if _, err := rd.ReadPacket(); err != nil {
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
	b.Run("pahogolang-reader", func(b *testing.B) {
		r := bufio.NewReaderSize(&replay{b: wire}, streamBufferSize)
		b.ReportAllocs()
		b.SetBytes(int64(len(wire)))
		for b.Loop() {
			if _, err := pahogolang.ReadPacket(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mochi-reader", func(b *testing.B) {
		s := mochiStream5{bufio.NewReaderSize(&replay{b: wire}, streamBufferSize)}
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

var (
	publish5Encoders = encoders{encodePublish5Feedmq, encodePublish5Paho, encodePublish5Mochi}
	connect5Encoders = encoders{encodeConnect5Feedmq, encodeConnect5Paho, encodeConnect5Mochi}
	suback5Encoders  = encoders{encodeSuback5Feedmq, encodeSuback5Paho, encodeSuback5Mochi}
)

func BenchmarkEncodePublish5(b *testing.B) { benchEncode5(b, feedmqPublish5(), publish5Encoders) }
func BenchmarkEncodeConnect5(b *testing.B) { benchEncode5(b, feedmqConnect5(), connect5Encoders) }
func BenchmarkEncodeSuback5(b *testing.B)  { benchEncode5(b, feedmqSuback5(), suback5Encoders) }

func BenchmarkDecodePublish5(b *testing.B) {
	benchDecode5(b, wireOf(b, encodePublish5Feedmq), feedmqPublish5())
}

func BenchmarkDecodeConnect5(b *testing.B) {
	benchDecode5(b, wireOf(b, encodeConnect5Feedmq), feedmqConnect5())
}

func BenchmarkDecodeSuback5(b *testing.B) {
	benchDecode5(b, wireOf(b, encodeSuback5Feedmq), feedmqSuback5())
}
