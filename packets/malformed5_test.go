package packets

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decodeErr5Case is hostile MQTT 5.0 input, the error every decoding entry
// point reports for it, and the reason code a client closes with.
type decodeErr5Case struct {
	name   string
	wire   string
	is     error
	typ    Type
	field  string
	rule   string
	offset int
	code   ReasonCode
}

const (
	malformed = ReasonMalformedPacket
	protocol  = ReasonProtocolError
)

var decodeErr5Cases = []decodeErr5Case{
	// Fixed header flags (MQTT5-2.1.3-1).
	{"PUBACK flags 0001 (MQTT5-2.1.3-1)", `41 02 00 01`, ErrMalformed, TypePuback, "Flags", "MQTT5-2.1.3-1", 0, malformed},
	{"PUBREL flags 0000 (MQTT5-3.6.1-1)", `60 02 00 01`, ErrMalformed, TypePubrel, "Flags", "MQTT5-3.6.1-1", 0, malformed},
	{"SUBSCRIBE flags 0000 (MQTT5-3.8.1-1)", `80 07 00 01 00 00 01 61 00`, ErrMalformed, TypeSubscribe, "Flags", "MQTT5-3.8.1-1", 0, malformed},
	{"UNSUBSCRIBE flags 0000 (MQTT5-3.10.1-1)", `a0 06 00 01 00 00 01 61`, ErrMalformed, TypeUnsubscribe, "Flags", "MQTT5-3.10.1-1", 0, malformed},
	{"DISCONNECT flags 0001 (MQTT5-3.14.1-1)", `e1 00`, ErrMalformed, TypeDisconnect, "Flags", "MQTT5-3.14.1-1", 0, malformed},
	{"AUTH flags 0001 (MQTT5-3.15.1-1)", `f1 00`, ErrMalformed, TypeAuth, "Flags", "MQTT5-3.15.1-1", 0, malformed},
	{"reserved type 0", `00 00`, ErrMalformed, 0, "Type", "MQTT 5.0 §2.1.2", 0, malformed},

	// PUBLISH.
	{"PUBLISH QoS 3 (MQTT5-3.3.1-4)", `36 06 00 01 74 00 01 00`, ErrMalformed, TypePublish, "QoS", "MQTT5-3.3.1-4", 0, malformed},
	{"PUBLISH DUP at QoS 0 (MQTT5-3.3.1-2)", `38 04 00 01 74 00`, ErrMalformed, TypePublish, "Dup", "MQTT5-3.3.1-2", 0, malformed},
	{"PUBLISH topic with wildcard (MQTT5-3.3.2-2)", `30 04 00 01 23 00`, ErrMalformed, TypePublish, "TopicName", "MQTT5-3.3.2-2", 2, malformed},
	{"PUBLISH topic not UTF-8 (MQTT5-3.3.2-1, MQTT5-1.5.4-1)", `30 04 00 01 ff 00`, ErrMalformed, TypePublish, "TopicName", "MQTT5-3.3.2-1", 2, malformed},
	{"PUBLISH topic encodes a surrogate (MQTT5-1.5.4-1)", `30 06 00 03 ed a0 80 00`, ErrMalformed, TypePublish, "TopicName", "MQTT5-3.3.2-1", 2, malformed},
	{"PUBLISH topic with U+0000 (MQTT5-1.5.4-2, MQTT5-4.7.3-2)", `30 04 00 01 00 00`, ErrMalformed, TypePublish, "TopicName", "MQTT5-4.7.3-2", 2, malformed},
	{"PUBLISH QoS 1 packet id 0 (MQTT5-2.2.1-3)", `32 06 00 01 74 00 00 00`, ErrMalformed, TypePublish, "PacketID", "MQTT5-2.2.1-3", 5, malformed},
	{"PUBLISH without property length (MQTT5-2.2.2-1)", `30 03 00 01 74`, ErrMalformed, TypePublish, "Properties", "MQTT 5.0 §2.2.2.1", 5, malformed},
	{"PUBLISH topic alias 0 (MQTT5-3.3.2-8)", `30 07 00 01 74 03 23 00 00`, ErrMalformed, TypePublish, "Properties.TopicAlias", "MQTT5-3.3.2-8", 6, protocol},
	{"PUBLISH response topic with wildcard (MQTT5-3.3.2-14)", `30 08 00 01 74 04 08 00 01 2b`, ErrMalformed, TypePublish, "Properties.ResponseTopic", "MQTT5-3.3.2-14", 6, malformed},
	{"PUBLISH response topic not UTF-8 (MQTT5-3.3.2-13)", `30 08 00 01 74 04 08 00 01 ff`, ErrMalformed, TypePublish, "Properties.ResponseTopic", "MQTT5-3.3.2-13", 6, malformed},
	{"PUBLISH content type not UTF-8 (MQTT5-3.3.2-19)", `30 08 00 01 74 04 03 00 01 c3`, ErrMalformed, TypePublish, "Properties.ContentType", "MQTT5-3.3.2-19", 6, malformed},
	{"PUBLISH user property name with U+0000 (MQTT5-1.5.7-1, MQTT5-1.5.4-2)", `30 0b 00 01 74 07 26 00 01 00 00 01 76`, ErrMalformed, TypePublish, "Properties.UserProperties", "MQTT5-1.5.4-2", 6, malformed},
	{"PUBLISH user property value not UTF-8 (MQTT5-1.5.7-1)", `30 0b 00 01 74 07 26 00 01 6b 00 01 ff`, ErrMalformed, TypePublish, "Properties.UserProperties", "MQTT5-1.5.7-1", 6, malformed},

	// Properties: lengths bounded by the packet, identifiers by the table.
	{"property length past the packet (§2.2.2.1)", `40 05 00 07 00 05 1f`, ErrMalformed, TypePuback, "Properties", "MQTT 5.0 §2.2.2.1", 5, malformed},
	{"property length of 268435455 in a 6-byte body", `40 07 00 07 00 ff ff ff 7f`, ErrMalformed, TypePuback, "Properties", "MQTT 5.0 §2.2.2.1", 5, malformed},
	{"property length in 5 bytes (§1.5.5)", `40 08 00 07 00 80 80 80 80 01`, ErrMalformed, TypePuback, "Properties", "MQTT 5.0 §2.2.2.1", 5, malformed},
	{"property value past the property length", `40 07 00 07 00 02 1f 00 05`, ErrMalformed, TypePuback, "Properties.ReasonString", "", 6, malformed},
	{"string property longer than the packet", `40 08 00 07 00 04 1f ff ff 61`, ErrMalformed, TypePuback, "Properties.ReasonString", "", 6, malformed},
	{"unknown property identifier 0x7f", `40 06 00 07 00 02 7f 00`, ErrMalformed, TypePuback, "Properties", "MQTT 5.0 §2.2.2.2", 6, malformed},
	{"property identifier above 63 in two bytes", `40 07 00 07 00 03 80 01 00`, ErrMalformed, TypePuback, "Properties", "MQTT 5.0 §2.2.2.2", 6, malformed},
	{"property identifier 0", `40 06 00 07 00 02 00 00`, ErrMalformed, TypePuback, "Properties", "MQTT 5.0 §2.2.2.2", 6, malformed},
	{"authentication data without method (§3.15.2.2.4)", `f0 07 18 05 16 00 02 61 62`, ErrMalformed, TypeAuth, "Properties.AuthenticationData", "MQTT 5.0 §3.1.2.11.10", 3, protocol},

	// Reason codes outside the packet's set.
	{"PUBACK reason 0x92 (MQTT5-3.4.2-1)", `40 03 00 07 92`, ErrMalformed, TypePuback, "ReasonCode", "MQTT5-3.4.2-1", 4, malformed},
	{"PUBREC reason 0x01 (MQTT5-3.5.2-1)", `50 03 00 07 01`, ErrMalformed, TypePubrec, "ReasonCode", "MQTT5-3.5.2-1", 4, malformed},
	{"PUBREL reason 0x10 (MQTT5-3.6.2-1)", `62 03 00 07 10`, ErrMalformed, TypePubrel, "ReasonCode", "MQTT5-3.6.2-1", 4, malformed},
	{"PUBCOMP reason 0x80 (MQTT5-3.7.2-1)", `70 03 00 07 80`, ErrMalformed, TypePubcomp, "ReasonCode", "MQTT5-3.7.2-1", 4, malformed},
	{"DISCONNECT reason 0x01 (MQTT5-3.14.2-1)", `e0 01 01`, ErrMalformed, TypeDisconnect, "ReasonCode", "MQTT5-3.14.2-1", 2, malformed},
	{"AUTH reason 0x80 (MQTT5-3.15.2-1)", `f0 01 80`, ErrMalformed, TypeAuth, "ReasonCode", "MQTT5-3.15.2-1", 2, malformed},
	{"CONNACK reason 0x10 (MQTT5-3.2.2-8)", `20 03 00 10 00`, ErrMalformed, TypeConnack, "ReasonCode", "MQTT5-3.2.2-8", 3, malformed},
	{"SUBACK reason 0x03 (MQTT5-3.9.3-2)", `90 05 00 01 00 00 03`, ErrMalformed, TypeSuback, "ReasonCodes[1]", "MQTT5-3.9.3-2", 6, malformed},
	{"SUBACK without reason codes (MQTT5-3.9.3-1)", `90 03 00 01 00`, ErrMalformed, TypeSuback, "ReasonCodes", "MQTT5-3.9.3-1", 5, malformed},
	{"UNSUBACK without reason codes (MQTT5-3.11.3-1)", `b0 03 00 01 00`, ErrMalformed, TypeUnsuback, "ReasonCodes", "MQTT5-3.11.3-1", 5, malformed},
	{"UNSUBACK reason 0x10 (MQTT5-3.11.3-2)", `b0 04 00 01 00 10`, ErrMalformed, TypeUnsuback, "ReasonCodes[0]", "MQTT5-3.11.3-2", 5, malformed},

	// Acknowledgments.
	{"PUBACK packet id 0 (MQTT5-2.2.1-5)", `40 02 00 00`, ErrMalformed, TypePuback, "PacketID", "MQTT5-2.2.1-5", 2, malformed},
	{"SUBACK packet id 0 (MQTT5-2.2.1-6)", `90 04 00 00 00 00`, ErrMalformed, TypeSuback, "PacketID", "MQTT5-2.2.1-6", 2, malformed},
	{"PUBACK cut inside the packet id", `40 01 00`, ErrMalformed, TypePuback, "PacketID", "", 2, malformed},

	// CONNACK.
	{"CONNACK reserved flag bits (MQTT5-3.2.2-1)", `20 03 02 00 00`, ErrMalformed, TypeConnack, "AcknowledgeFlags", "MQTT5-3.2.2-1", 2, malformed},
	{"CONNACK session present with a failure (MQTT5-3.2.2-6)", `20 03 01 80 00`, ErrMalformed, TypeConnack, "SessionPresent", "MQTT5-3.2.2-6", 2, malformed},
	{"CONNACK receive maximum 0", `20 06 00 00 03 21 00 00`, ErrMalformed, TypeConnack, "Properties.ReceiveMaximum", "MQTT 5.0 §3.1.2.11.3", 5, protocol},
	{"CONNACK maximum QoS 2", `20 05 00 00 02 24 02`, ErrMalformed, TypeConnack, "Properties.MaximumQoS", "MQTT 5.0 §3.2.2.3.4", 5, protocol},

	// SUBSCRIBE and UNSUBSCRIBE.
	{"SUBSCRIBE options bits 6-7 set (MQTT5-3.8.3-5)", `82 07 00 01 00 00 01 61 c0`, ErrMalformed, TypeSubscribe, "Subscriptions[0].Options", "MQTT5-3.8.3-5", 8, malformed},
	{"SUBSCRIBE QoS 3 (MQTT5-3.8.3-5)", `82 07 00 01 00 00 01 61 03`, ErrMalformed, TypeSubscribe, "Subscriptions[0].QoS", "MQTT5-3.8.3-5", 8, malformed},
	{"SUBSCRIBE retain handling 3 (§3.8.3.1)", `82 07 00 01 00 00 01 61 30`, ErrMalformed, TypeSubscribe, "Subscriptions[0].RetainHandling", "MQTT 5.0 §3.8.3.1", 8, protocol},
	{"SUBSCRIBE without filters (MQTT5-3.8.3-2)", `82 03 00 01 00`, ErrMalformed, TypeSubscribe, "Subscriptions", "MQTT5-3.8.3-2", 5, malformed},
	{"SUBSCRIBE filter not UTF-8 (MQTT5-3.8.3-1)", `82 07 00 01 00 00 01 ff 00`, ErrMalformed, TypeSubscribe, "Subscriptions[0].TopicFilter", "MQTT5-3.8.3-1", 5, malformed},
	{"SUBSCRIBE filter a/#/b (MQTT5-4.7.1-1)", `82 0b 00 01 00 00 05 61 2f 23 2f 62 00`, ErrMalformed, TypeSubscribe, "Subscriptions[0].TopicFilter", "MQTT5-4.7.1-1", 5, malformed},
	{"SUBSCRIBE filter a+ (MQTT5-4.7.1-2)", `82 08 00 01 00 00 02 61 2b 00`, ErrMalformed, TypeSubscribe, "Subscriptions[0].TopicFilter", "MQTT5-4.7.1-2", 5, malformed},
	{"SUBSCRIBE empty filter (MQTT5-4.7.3-1)", `82 06 00 01 00 00 00 00`, ErrMalformed, TypeSubscribe, "Subscriptions[0].TopicFilter", "MQTT5-4.7.3-1", 5, malformed},
	{"SUBSCRIBE two subscription identifiers", `82 0b 00 01 04 0b 01 0b 02 00 01 61 00`, ErrMalformed, TypeSubscribe, "Properties.SubscriptionIdentifiers", "MQTT 5.0 §2.2.2.2", 7, protocol},
	{"SUBSCRIBE $share/ without a share name (MQTT5-4.8.2-1)", `82 0e 00 01 00 00 09 24 73 68 61 72 65 2f 2f 61 00`, ErrMalformed, TypeSubscribe, "Subscriptions[0].TopicFilter", "MQTT5-4.8.2-1", 5, malformed},
	{"SUBSCRIBE share name with + (MQTT5-4.8.2-2)", `82 0f 00 01 00 00 0a 24 73 68 61 72 65 2f 2b 2f 61 00`, ErrMalformed, TypeSubscribe, "Subscriptions[0].TopicFilter", "MQTT5-4.8.2-2", 5, malformed},
	{"SUBSCRIBE no local on a shared subscription (MQTT5-3.8.3-4)", `82 10 00 01 00 00 0a 24 73 68 61 72 65 2f 67 2f 61 04`, ErrMalformed, TypeSubscribe, "Subscriptions[0].NoLocal", "MQTT5-3.8.3-4", 17, protocol},
	{"UNSUBSCRIBE $share/g without a filter (MQTT5-4.8.2-2)", `a2 0d 00 01 00 00 08 24 73 68 61 72 65 2f 67`, ErrMalformed, TypeUnsubscribe, "TopicFilters[0]", "MQTT5-4.8.2-2", 5, malformed},
	{"UNSUBSCRIBE without filters (MQTT5-3.10.3-2)", `a2 03 00 01 00`, ErrMalformed, TypeUnsubscribe, "TopicFilters", "MQTT5-3.10.3-2", 5, malformed},
	{"UNSUBSCRIBE filter not UTF-8 (MQTT5-3.10.3-1)", `a2 06 00 01 00 00 01 ff`, ErrMalformed, TypeUnsubscribe, "TopicFilters[0]", "MQTT5-3.10.3-1", 5, malformed},

	// CONNECT at level 5.
	{"CONNECT level 5 named MQIsdp (MQTT5-3.1.2-1)", `10 10 00 06 4d 51 49 73 64 70 05 02 00 00 00 00 01 63`, ErrMalformed, TypeConnect, "ProtocolName", "MQTT5-3.1.2-1", 2, malformed},
	{"CONNECT reserved flag (MQTT5-3.1.2-3)", `10 0e 00 04 4d 51 54 54 05 03 00 00 00 00 01 63`, ErrMalformed, TypeConnect, "ConnectFlags", "MQTT5-3.1.2-3", 9, malformed},
	{"CONNECT will QoS 3 (MQTT5-3.1.2-12)", `10 0e 00 04 4d 51 54 54 05 1e 00 00 00 00 01 63`, ErrMalformed, TypeConnect, "WillQoS", "MQTT5-3.1.2-12", 9, malformed},
	{"CONNECT will QoS without will (MQTT5-3.1.2-11)", `10 0e 00 04 4d 51 54 54 05 0a 00 00 00 00 01 63`, ErrMalformed, TypeConnect, "WillQoS", "MQTT5-3.1.2-11", 9, malformed},
	{"CONNECT will retain without will (MQTT5-3.1.2-13)", `10 0e 00 04 4d 51 54 54 05 22 00 00 00 00 01 63`, ErrMalformed, TypeConnect, "WillRetain", "MQTT5-3.1.2-13", 9, malformed},
	{"CONNECT client id not UTF-8 (MQTT5-3.1.3-4)", `10 0e 00 04 4d 51 54 54 05 02 00 00 00 00 01 ff`, ErrMalformed, TypeConnect, "ClientID", "MQTT5-3.1.3-4", 13, malformed},
	{"CONNECT will topic not UTF-8 (MQTT5-3.1.3-11)", `10 14 00 04 4d 51 54 54 05 06 00 00 00 00 01 63 00 00 01 ff 00 00`, ErrMalformed, TypeConnect, "WillTopic", "MQTT5-3.1.3-11", 17, malformed},
	{"CONNECT user name not UTF-8 (MQTT5-3.1.3-12)", `10 11 00 04 4d 51 54 54 05 82 00 00 00 00 01 63 00 01 ff`, ErrMalformed, TypeConnect, "Username", "MQTT5-3.1.3-12", 16, malformed},
	{"CONNECT will properties refuse a Reason String", `10 18 00 04 4d 51 54 54 05 06 00 00 00 00 01 63 04 1f 00 01 72 00 01 77 00 00`, ErrMalformed, TypeConnect, "WillProperties", "MQTT 5.0 §2.2.2.2", 17, malformed},
	{"CONNECT request problem information 2", `10 10 00 04 4d 51 54 54 05 02 00 00 02 17 02 00 01 63`, ErrMalformed, TypeConnect, "Properties.RequestProblemInformation", "MQTT 5.0 §3.1.2.11.7", 13, protocol},

	// Trailing bytes after the last field.
	{"PINGREQ with a body byte", `c0 01 00`, ErrMalformed, TypePingreq, "", "MQTT 5.0 §2.1.4", 2, malformed},
	{"CONNACK of two bytes accepting (3.1.1 shape, but only refusals are decoded so)", `20 02 00 00`, ErrMalformed, TypeConnack, "Properties", "MQTT 5.0 §2.2.2.1", 4, malformed},
}

// TestDecode5Malformed: Decode at level 5, a Reader at level 5 and, where
// the type exists, the 3.1.1 entry points disagree only as the versions do;
// each 5.0 defect names its field, its MQTT5- rule and whether it is a
// Malformed Packet or a Protocol Error (MQTT 5.0 §4.13).
func TestDecode5Malformed(t *testing.T) {
	for _, c := range decodeErr5Cases {
		t.Run(c.name, func(t *testing.T) {
			b := mustHex(c.wire)
			p, n, err := DecodeVersion(b, ProtocolMQTT5)
			assert.Nil(t, p)
			assert.Zero(t, n)
			e := checkError(t, err, c.is, opDecode, c.typ, c.field, c.rule, c.offset)
			assert.Equal(t, c.code, e.Code, "Code")

			r := NewReader(bytes.NewReader(b))
			r.SetProtocol(ProtocolMQTT5)
			p, err = r.ReadPacket()
			assert.Nil(t, p)
			e = checkError(t, err, c.is, opDecode, c.typ, c.field, c.rule, c.offset)
			assert.Equal(t, c.code, e.Code, "Code from a Reader")
		})
	}
}

// TestDecode5Truncated: every proper prefix of every 5.0 packet in the codec
// table is incomplete input (io.ErrUnexpectedEOF), never a panic or a
// packet, and a Reader reading it reports the same.
func TestDecode5Truncated(t *testing.T) {
	for _, c := range codec5Cases {
		b := c.bytes()
		for i := 0; i < len(b); i++ {
			p, _, err := DecodeVersion(b[:i], ProtocolMQTT5)
			require.Nil(t, p)
			require.ErrorIs(t, err, io.ErrUnexpectedEOF, "%s cut at %d", c.name, i)
			r := NewReader(bytes.NewReader(b[:i]))
			r.SetProtocol(ProtocolMQTT5)
			_, err = r.ReadPacket()
			if i == 0 {
				require.ErrorIs(t, err, io.EOF)
				continue
			}
			require.ErrorIs(t, err, io.ErrUnexpectedEOF, "%s cut at %d, Reader", c.name, i)
		}
	}
}

// TestConnack311RefusalAt5: a 3.1.1 server answers a level-5 CONNECT with
// the 3.1.1 refusal 20 02 00 01 (MQTT5-3.1.2-2, MQTT 5.0 §3.1.2.2). At
// level 5 it decodes as that 3.1.1 CONNACK, not as a malformed packet, so
// that a client can fall back to 3.1.1.
func TestConnack311RefusalAt5(t *testing.T) {
	for code := byte(1); code <= 5; code++ {
		b := []byte{0x20, 0x02, 0x00, code}
		p, n, err := DecodeVersion(b, ProtocolMQTT5)
		require.NoError(t, err)
		assert.Equal(t, 4, n)
		assert.Equal(t, &Connack{ReturnCode: ConnackCode(code)}, p)
		r := NewReader(bytes.NewReader(b))
		r.SetProtocol(ProtocolMQTT5)
		p, err = r.ReadPacket()
		require.NoError(t, err)
		assert.Equal(t, &Connack{ReturnCode: ConnackCode(code)}, p)
	}
}

// TestAuthIsReservedIn311: type 15 is reserved in 3.1.1 (MQTT 3.1.1
// §2.2.1); Decode and a Reader that was not set to level 5 refuse it, and
// AUTH cannot be encoded at level 4.
func TestAuthIsReservedIn311(t *testing.T) {
	_, _, err := Decode(mustHex(`f0 00`))
	checkError(t, err, ErrMalformed, opDecode, 0, "Type", "MQTT 3.1.1 §2.2.1", 0)
	_, err = NewReader(bytes.NewReader(mustHex(`f0 00`))).ReadPacket()
	checkError(t, err, ErrMalformed, opDecode, 0, "Type", "MQTT 3.1.1 §2.2.1", 0)
	_, err = (&Auth{}).AppendVersion(nil, ProtocolMQTT311)
	checkError(t, err, ErrMalformed, opEncode, TypeAuth, "", "MQTT 3.1.1 §2.2.1", -1)
}

// TestHostile5Bounded: a property length or a string length claiming more
// than the packet holds is refused before anything grows: decoding such
// input allocates only the packet, its properties, a first value and the
// error.
func TestHostile5Bounded(t *testing.T) {
	for _, wire := range []string{
		`40 07 00 07 00 ff ff ff 7f`,                // property length 268435455
		`40 08 00 07 00 04 1f ff ff 61`,             // reason string of 65535 bytes
		`30 0a 00 01 74 06 26 ff ff 00 ff ff`,       // user property of 65535 bytes
		`30 0b 00 01 74 07 0b ff ff ff 7f 0b 00`,    // subscription identifier at the maximum, then 0
		`82 0a 00 01 06 26 00 01 61 ff ff 00 01 61`, // user property value past the block
	} {
		b := mustHex(wire)
		_, _, err := DecodeVersion(b, ProtocolMQTT5)
		require.Error(t, err, wire)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		before := ms.TotalAlloc
		allocs := testing.AllocsPerRun(20, func() {
			if _, _, err := DecodeVersion(b, ProtocolMQTT5); err == nil {
				panic("decoded")
			}
		})
		runtime.ReadMemStats(&ms)
		assert.LessOrEqual(t, allocs, 5.0, wire)
		assert.Less(t, ms.TotalAlloc-before, uint64(64<<10), "%s: memory grew with a claimed length", wire)
	}
}

var encodeErr5Cases = []struct {
	name        string
	pkt         Packet
	v           ProtocolLevel
	field, rule string
}{
	{"PUBACK reason 0x92 (MQTT5-3.4.2-1)", &Puback{PacketID: 1, ReasonCode: 0x92}, 5, "ReasonCode", "MQTT5-3.4.2-1"},
	{"PUBREC reason 0x92 (MQTT5-3.5.2-1)", &Pubrec{PacketID: 1, ReasonCode: 0x92}, 5, "ReasonCode", "MQTT5-3.5.2-1"},
	{"PUBREL reason 0x10 (MQTT5-3.6.2-1)", &Pubrel{PacketID: 1, ReasonCode: 0x10}, 5, "ReasonCode", "MQTT5-3.6.2-1"},
	{"PUBCOMP reason 0x80 (MQTT5-3.7.2-1)", &Pubcomp{PacketID: 1, ReasonCode: 0x80}, 5, "ReasonCode", "MQTT5-3.7.2-1"},
	{"DISCONNECT reason 0x01 (MQTT5-3.14.2-1)", &Disconnect{ReasonCode: 0x01}, 5, "ReasonCode", "MQTT5-3.14.2-1"},
	{"AUTH reason 0x80 (MQTT5-3.15.2-1)", &Auth{ReasonCode: 0x80}, 5, "ReasonCode", "MQTT5-3.15.2-1"},
	{"PUBLISH QoS 0 with packet id (MQTT5-2.2.1-2)", &Publish{TopicName: "t", PacketID: 1}, 5, "PacketID", "MQTT5-2.2.1-2"},
	{"PUBLISH QoS 1 without packet id (MQTT5-2.2.1-3)", &Publish{QoS: 1, TopicName: "t"}, 5, "PacketID", "MQTT5-2.2.1-3"},
	{"PUBLISH DUP at QoS 0 (MQTT5-3.3.1-2)", &Publish{Dup: true, TopicName: "t"}, 5, "Dup", "MQTT5-3.3.1-2"},
	{"PUBLISH QoS 3 (MQTT5-3.3.1-4)", &Publish{QoS: 3, PacketID: 1, TopicName: "t"}, 5, "QoS", "MQTT5-3.3.1-4"},
	{"PUBLISH topic with wildcard (MQTT5-3.3.2-2, MQTT5-4.7.0-1)", &Publish{TopicName: "a/+"}, 5, "TopicName", "MQTT5-3.3.2-2"},
	{"PUBLISH topic of 65536 bytes (MQTT5-4.7.3-3)", &Publish{TopicName: long}, 5, "TopicName", "MQTT5-4.7.3-3"},
	{"PUBLISH topic alias 0 (MQTT5-3.3.2-8)", &Publish{TopicName: "t", Properties: props(func(p *Properties) { p.SetTopicAlias(0) })}, 5, "Properties.TopicAlias", "MQTT5-3.3.2-8"},
	{"PUBLISH reason string (not allowed)", &Publish{TopicName: "t", Properties: props(func(p *Properties) { p.SetReasonString("r") })}, 5, "Properties.ReasonString", "MQTT 5.0 §2.2.2.2"},
	{"PUBLISH properties at level 4", &Publish{TopicName: "t", Properties: props(func(p *Properties) { p.SetContentType("c") })}, 4, "Properties", "MQTT 3.1.1 §3.3"},
	{"PUBLISH empty topic at level 4 (MQTT-4.7.3-1)", &Publish{TopicName: ""}, 4, "TopicName", "MQTT-4.7.3-1"},
	{"PUBACK reason code at level 4", &Puback{PacketID: 1, ReasonCode: 0x10}, 4, "ReasonCode", "MQTT 3.1.1 §3.4"},
	{"SUBACK reason codes at level 4", &Suback{PacketID: 1, ReturnCodes: []SubackCode{0}, ReasonCodes: []ReasonCode{0}}, 4, "ReasonCodes", "MQTT 3.1.1 §3.9"},
	{"SUBACK return codes at level 5", &Suback{PacketID: 1, ReturnCodes: []SubackCode{0}, ReasonCodes: []ReasonCode{0}}, 5, "ReturnCodes", "MQTT 5.0 §3.9"},
	{"SUBACK without reason codes (MQTT5-3.9.3-1)", &Suback{PacketID: 1}, 5, "ReasonCodes", "MQTT5-3.9.3-1"},
	{"SUBSCRIBE no local at level 4", &Subscribe{PacketID: 1, Subscriptions: []Subscription{{TopicFilter: "a", NoLocal: true}}}, 4, "Subscriptions[0].NoLocal", "MQTT 3.1.1 §3.8"},
	{"SUBSCRIBE retain handling 3 (§3.8.3.1)", &Subscribe{PacketID: 1, Subscriptions: []Subscription{{TopicFilter: "a", RetainHandling: 3}}}, 5, "Subscriptions[0].RetainHandling", "MQTT 5.0 §3.8.3.1"},
	{"SUBSCRIBE QoS 3 (MQTT5-3.8.3-5)", &Subscribe{PacketID: 1, Subscriptions: []Subscription{{TopicFilter: "a", QoS: 3}}}, 5, "Subscriptions[0].QoS", "MQTT5-3.8.3-5"},
	{"SUBSCRIBE no filters (MQTT5-3.8.3-2)", &Subscribe{PacketID: 1}, 5, "Subscriptions", "MQTT5-3.8.3-2"},
	{"SUBSCRIBE no local on a shared subscription (MQTT5-3.8.3-4)", &Subscribe{PacketID: 1, Subscriptions: []Subscription{{TopicFilter: "a", NoLocal: true}, {TopicFilter: "$share/g/a", NoLocal: true}}}, 5, "Subscriptions[1].NoLocal", "MQTT5-3.8.3-4"},
	{"SUBSCRIBE $share/ without share name (MQTT5-4.8.2-1)", &Subscribe{PacketID: 1, Subscriptions: []Subscription{{TopicFilter: "$share/"}}}, 5, "Subscriptions[0].TopicFilter", "MQTT5-4.8.2-1"},
	{"SUBSCRIBE share name with # (MQTT5-4.8.2-2)", &Subscribe{PacketID: 1, Subscriptions: []Subscription{{TopicFilter: "$share/#"}}}, 5, "Subscriptions[0].TopicFilter", "MQTT5-4.8.2-2"},
	{"SUBSCRIBE share without filter (MQTT5-4.8.2-2)", &Subscribe{PacketID: 1, Subscriptions: []Subscription{{TopicFilter: "$share/g/"}}}, 5, "Subscriptions[0].TopicFilter", "MQTT5-4.8.2-2"},
	{"SUBSCRIBE two subscription identifiers", &Subscribe{PacketID: 1, Properties: props(func(p *Properties) { p.SubscriptionIdentifiers = []uint32{1, 2} }), Subscriptions: []Subscription{{TopicFilter: "a"}}}, 5, "Properties.SubscriptionIdentifiers", "MQTT 5.0 §2.2.2.2"},
	{"UNSUBSCRIBE no filters (MQTT5-3.10.3-2)", &Unsubscribe{PacketID: 1}, 5, "TopicFilters", "MQTT5-3.10.3-2"},
	{"CONNECT will properties without will (MQTT5-3.1.2-9)", &Connect{ProtocolName: "MQTT", ProtocolLevel: 5, ClientID: "c", WillProperties: props(func(p *Properties) { p.SetWillDelayInterval(1) })}, 5, "WillProperties", "MQTT5-3.1.2-9"},
	{"CONNECT user name without flag (MQTT5-3.1.2-16)", &Connect{ProtocolName: "MQTT", ProtocolLevel: 5, ClientID: "c", Username: "u"}, 5, "Username", "MQTT5-3.1.2-16"},
	{"CONNECT password without flag (MQTT5-3.1.2-18)", &Connect{ProtocolName: "MQTT", ProtocolLevel: 5, ClientID: "c", Password: []byte("p")}, 5, "Password", "MQTT5-3.1.2-18"},
	{"CONNECT will QoS 3 (MQTT5-3.1.2-12)", &Connect{ProtocolName: "MQTT", ProtocolLevel: 5, ClientID: "c", WillFlag: true, WillTopic: "w", WillQoS: 3}, 5, "WillQoS", "MQTT5-3.1.2-12"},
	{"CONNECT will QoS without will (MQTT5-3.1.2-11)", &Connect{ProtocolName: "MQTT", ProtocolLevel: 5, ClientID: "c", WillQoS: 1}, 5, "WillQoS", "MQTT5-3.1.2-11"},
	{"CONNECT will retain without will (MQTT5-3.1.2-13)", &Connect{ProtocolName: "MQTT", ProtocolLevel: 5, ClientID: "c", WillRetain: true}, 5, "WillRetain", "MQTT5-3.1.2-13"},
	{"CONNECT client id not UTF-8 (MQTT5-3.1.3-4)", &Connect{ProtocolName: "MQTT", ProtocolLevel: 5, ClientID: "\xff"}, 5, "ClientID", "MQTT5-3.1.3-4"},
	{"CONNECT will topic not UTF-8 (MQTT5-3.1.3-11)", &Connect{ProtocolName: "MQTT", ProtocolLevel: 5, WillFlag: true, WillTopic: "\xff"}, 5, "WillTopic", "MQTT5-3.1.3-11"},
	{"CONNECT user name not UTF-8 (MQTT5-3.1.3-12)", &Connect{ProtocolName: "MQTT", ProtocolLevel: 5, UsernameFlag: true, Username: "\xff"}, 5, "Username", "MQTT5-3.1.3-12"},
	{"CONNECT level 5 named MQIsdp (MQTT5-3.1.2-1)", &Connect{ProtocolName: "MQIsdp", ProtocolLevel: 5}, 5, "ProtocolName", "MQTT5-3.1.2-1"},
	{"CONNECT will content type not UTF-8 (MQTT5-3.3.2-19)", &Connect{ProtocolName: "MQTT", ProtocolLevel: 5, WillFlag: true, WillTopic: "w", WillProperties: props(func(p *Properties) { p.SetContentType("\xff") })}, 5, "WillProperties.ContentType", "MQTT5-3.3.2-19"},
	{"PUBACK user property value of 65536 bytes (§1.5.4)", &Puback{PacketID: 1, Properties: props(func(p *Properties) { p.UserProperties = []StringPair{{"k", long}} })}, 5, "Properties.UserProperties[0]", "MQTT 5.0 §1.5.4"},
}

// TestEncode5Forbidden: AppendVersion and ValidateVersion refuse each value
// with an *Error naming the field and its rule, and write nothing.
func TestEncode5Forbidden(t *testing.T) {
	for _, c := range encodeErr5Cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.pkt.ValidateVersion(c.v)
			checkError(t, err, ErrMalformed, opEncode, c.pkt.Type(), c.field, c.rule, -1)
			out, err := c.pkt.AppendVersion([]byte("abc"), c.v)
			checkError(t, err, ErrMalformed, opEncode, c.pkt.Type(), c.field, c.rule, -1)
			assert.Equal(t, []byte("abc"), out)
		})
	}
}

// TestAppendWithin: to fit the peer's Maximum Packet Size the acks,
// DISCONNECT and AUTH leave out the Reason String first and then the User
// Properties; a PUBLISH over the limit is an error, never trimmed
// (MQTT5-3.2.2-15).
func TestAppendWithin(t *testing.T) {
	pr := props(func(p *Properties) {
		p.SetReasonString("why")
		p.UserProperties = []StringPair{{"k", "v"}}
	})
	trimmed := []struct {
		rules string
		pkt   Packet
		head  string // fixed header type byte and what precedes the reason code
	}{
		{"MQTT5-3.4.2-2, MQTT5-3.4.2-3", &Puback{PacketID: 1, ReasonCode: 0x80, Properties: pr}, `40 _ 00 01 80`},
		{"MQTT5-3.5.2-2, MQTT5-3.5.2-3", &Pubrec{PacketID: 1, ReasonCode: 0x80, Properties: pr}, `50 _ 00 01 80`},
		{"MQTT5-3.6.2-2, MQTT5-3.6.2-3", &Pubrel{PacketID: 1, ReasonCode: 0x92, Properties: pr}, `62 _ 00 01 92`},
		{"MQTT5-3.7.2-2, MQTT5-3.7.2-3", &Pubcomp{PacketID: 1, ReasonCode: 0x92, Properties: pr}, `70 _ 00 01 92`},
		{"MQTT5-3.14.2-3, MQTT5-3.14.2-4", &Disconnect{ReasonCode: 0x80, Properties: pr}, `e0 _ 80`},
		{"MQTT5-3.15.2-2, MQTT5-3.15.2-3", &Auth{ReasonCode: 0x18, Properties: pr}, `f0 _ 18`},
	}
	for _, c := range trimmed {
		t.Run(c.pkt.Type().String()+" ("+c.rules+")", func(t *testing.T) {
			head := func(rest string, n int) []byte {
				b := mustHex(strings.Replace(c.head, "_", "00", 1) + rest)
				b[1] = byte(len(b) - 2)
				require.Equal(t, n, len(b))
				return b
			}
			full := c.pkt.SizeVersion(ProtocolMQTT5)
			// Both properties: 06 bytes of reason string, 07 of user property.
			all := head(` 0d 1f 00 03 77 68 79 26 00 01 6b 00 01 76`, full)
			noReason := head(` 07 26 00 01 6b 00 01 76`, full-6)
			none := head(``, full-6-8)

			b, err := AppendWithin(nil, c.pkt, ProtocolMQTT5, 0)
			require.NoError(t, err)
			assert.Equal(t, all, b, "no budget")
			b, err = AppendWithin(nil, c.pkt, ProtocolMQTT5, full-1)
			require.NoError(t, err)
			assert.Equal(t, noReason, b, "Reason String dropped")
			b, err = AppendWithin(nil, c.pkt, ProtocolMQTT5, full-6)
			require.NoError(t, err)
			assert.Equal(t, noReason, b, "Reason String dropped, exactly at the limit")
			b, err = AppendWithin(nil, c.pkt, ProtocolMQTT5, full-7)
			require.NoError(t, err)
			assert.Equal(t, none, b, "User Properties dropped too")
			b, err = AppendWithin([]byte("x"), c.pkt, ProtocolMQTT5, len(none)-1)
			checkError(t, err, ErrTooLarge, opEncode, c.pkt.Type(), "", "MQTT5-3.2.2-15", -1)
			assert.Equal(t, []byte("x"), b)
			assert.Equal(t, full, c.pkt.SizeVersion(ProtocolMQTT5), "the packet itself is unchanged")
		})
	}

	p := &Publish{TopicName: "t", Payload: make([]byte, 100), Properties: pr}
	p.Properties.SetReasonString("") // not allowed on PUBLISH anyway
	p.Properties.Present = p.Properties.Present.Without(PropReasonString)
	b, err := AppendWithin([]byte("x"), p, ProtocolMQTT5, p.SizeVersion(ProtocolMQTT5)-1)
	e := checkError(t, err, ErrTooLarge, opEncode, TypePublish, "", "MQTT5-3.2.2-15", -1)
	assert.Contains(t, e.Error(), "maximum packet size")
	assert.Equal(t, []byte("x"), b, "a PUBLISH is never trimmed")
	assert.True(t, errors.Is(err, ErrTooLarge))

	// A packet that is invalid anyway reports that, not its size.
	_, err = AppendWithin(nil, &Puback{}, ProtocolMQTT5, 1)
	checkError(t, err, ErrMalformed, opEncode, TypePuback, "PacketID", "MQTT5-2.2.1-5", -1)
}

// TestAllocs5: encoding MQTT 5.0 allocates nothing, with or without
// properties, and a Reader at level 5 decodes a PUBLISH with properties
// without allocating once warm.
func TestAllocs5(t *testing.T) {
	pub := &Publish{QoS: 1, PacketID: 7, TopicName: "sensors/room-1/tempC", Payload: pattern(64)}
	withProps := *pub
	withProps.Properties = props(func(p *Properties) {
		p.SetContentType("application/json")
		p.SetMessageExpiryInterval(300)
		p.UserProperties = []StringPair{{"unit", "C"}}
	})
	for _, p := range []Packet{pub, &withProps, codec5Cases[0].pkt, &Puback{PacketID: 1, ReasonCode: 0x10},
		&Suback{PacketID: 1, ReasonCodes: []ReasonCode{1, 2, 0x80}}, &Disconnect{ReasonCode: 4}} {
		buf := make([]byte, 0, p.SizeVersion(ProtocolMQTT5))
		allocs := testing.AllocsPerRun(100, func() {
			var err error
			if buf, err = p.AppendVersion(buf[:0], ProtocolMQTT5); err != nil {
				panic(err)
			}
		})
		assert.Zero(t, allocs, "%T.AppendVersion(5)", p)
		allocs = testing.AllocsPerRun(100, func() {
			if _, err := AppendWithin(buf[:0], p, ProtocolMQTT5, 1<<20); err != nil {
				panic(err)
			}
		})
		assert.Zero(t, allocs, "AppendWithin %T", p)
	}

	b, err := withProps.AppendVersion(nil, ProtocolMQTT5)
	require.NoError(t, err)
	r := NewReader(&repeatReader{b: b})
	r.SetProtocol(ProtocolMQTT5)
	for range 10 {
		p, err := r.ReadPacket()
		require.NoError(t, err)
		require.Equal(t, &withProps, p)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := r.ReadPacket(); err != nil {
			panic(err)
		}
	})
	assert.Zero(t, allocs, "a Reader at level 5, PUBLISH with properties")
}

// TestReader5SkipsOversizePublish: at level 5 a skipped PUBLISH has its
// properties decoded and checked, and the stream stays in step.
func TestReader5SkipsOversizePublish(t *testing.T) {
	big := &Publish{QoS: 1, PacketID: 9, TopicName: "big", Payload: pattern(5000),
		Properties: props(func(p *Properties) { p.SetTopicAlias(2) })}
	b1, err := big.AppendVersion(nil, ProtocolMQTT5)
	require.NoError(t, err)
	b2, err := (&Puback{PacketID: 9, ReasonCode: 0x10}).AppendVersion(nil, ProtocolMQTT5)
	require.NoError(t, err)
	r := NewReader(bytes.NewReader(append(b1, b2...)))
	r.SetProtocol(ProtocolMQTT5)
	r.SetMaxPacketSize(1024)
	r.SetSkipOversizePublish(true)
	_, err = r.ReadPacket()
	var oe *OversizeError
	require.ErrorAs(t, err, &oe)
	require.True(t, oe.Skipped)
	skipped := oe.Packet.(*Publish)
	assert.Equal(t, uint16(9), skipped.PacketID)
	assert.Equal(t, uint16(2), skipped.Properties.TopicAlias)
	assert.Contains(t, err.Error(), "TopicAlias:2")
	p, err := r.ReadPacket()
	require.NoError(t, err)
	assert.Equal(t, &Puback{PacketID: 9, ReasonCode: 0x10}, p)
}
