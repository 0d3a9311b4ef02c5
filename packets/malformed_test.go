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

// decodeErrCase is hostile input and the error every decoding entry point
// must report for it.
type decodeErrCase struct {
	name   string
	wire   string // commented hex: one complete packet (Remaining Length matches)
	is     error  // ErrMalformed, ErrTooLarge or io.ErrUnexpectedEOF
	typ    Type
	field  string
	rule   string
	offset int
	// constraint marks rules that relate two fields (checked after the
	// whole packet is parsed). Their offsets are checked separately, in
	// TestDecodeConstraintOffset.
	constraint bool
}

// A valid minimal CONNECT, for orientation: offsets 0 type, 1 remaining
// length, 2-3 name length, 4-7 "MQTT", 8 level, 9 connect flags, 10-11 keep
// alive, 12-13 client id length.
//
//	10 0c 00 04 4d 51 54 54 04 02 00 3c 00 00
var decodeErrCases = []decodeErrCase{
	// Fixed header (§2.2).
	{name: "remaining length uses 5 bytes (§2.2.3)", wire: `30 80 80 80 80 01 // four continuation bytes, then a fifth`,
		is: ErrMalformed, field: "RemainingLength", rule: "MQTT 3.1.1 §2.2.3", offset: 1},
	{name: "remaining length uses 5 bytes, all ones", wire: `c0 ff ff ff ff 7f`,
		is: ErrMalformed, field: "RemainingLength", rule: "MQTT 3.1.1 §2.2.3", offset: 1},
	{name: "reserved type 0 (§2.2.1)", wire: `00 00`, is: ErrMalformed, field: "Type", rule: "MQTT 3.1.1 §2.2.1", offset: 0},
	{name: "reserved type 15 (§2.2.1)", wire: `f0 02 00 01`, is: ErrMalformed, field: "Type", rule: "MQTT 3.1.1 §2.2.1", offset: 0},

	// Reserved fixed header flags (MQTT-2.2.2-2; exhaustive in TestDecodeEveryWrongFlag).
	{name: "CONNECT flags 0001 (MQTT-2.2.2-2)", wire: `11 0c 00 04 4d 51 54 54 04 02 00 3c 00 00`,
		is: ErrMalformed, typ: TypeConnect, field: "Flags", rule: "MQTT-2.2.2-2"},
	{name: "CONNACK flags 1000 (MQTT-2.2.2-2)", wire: `28 02 00 00`, is: ErrMalformed, typ: TypeConnack, field: "Flags", rule: "MQTT-2.2.2-2"},
	{name: "PUBACK flags 0001 (MQTT-2.2.2-2)", wire: `41 02 00 01`, is: ErrMalformed, typ: TypePuback, field: "Flags", rule: "MQTT-2.2.2-2"},
	{name: "PUBREC flags 0010 (MQTT-2.2.2-2)", wire: `52 02 00 01`, is: ErrMalformed, typ: TypePubrec, field: "Flags", rule: "MQTT-2.2.2-2"},
	{name: "PUBREL flags 0000 (MQTT-3.6.1-1)", wire: `60 02 00 01`, is: ErrMalformed, typ: TypePubrel, field: "Flags", rule: "MQTT-3.6.1-1"},
	{name: "PUBCOMP flags 1111 (MQTT-2.2.2-2)", wire: `7f 02 00 01`, is: ErrMalformed, typ: TypePubcomp, field: "Flags", rule: "MQTT-2.2.2-2"},
	{name: "SUBSCRIBE flags 0000 (MQTT-3.8.1-1)", wire: `80 06 00 01 00 01 61 00`, is: ErrMalformed, typ: TypeSubscribe, field: "Flags", rule: "MQTT-3.8.1-1"},
	{name: "SUBACK flags 0010 (MQTT-2.2.2-2)", wire: `92 03 00 01 00`, is: ErrMalformed, typ: TypeSuback, field: "Flags", rule: "MQTT-2.2.2-2"},
	{name: "UNSUBSCRIBE flags 0000 (MQTT-3.10.1-1)", wire: `a0 05 00 01 00 01 61`, is: ErrMalformed, typ: TypeUnsubscribe, field: "Flags", rule: "MQTT-3.10.1-1"},
	{name: "UNSUBACK flags 0001 (MQTT-2.2.2-2)", wire: `b1 02 00 01`, is: ErrMalformed, typ: TypeUnsuback, field: "Flags", rule: "MQTT-2.2.2-2"},
	{name: "PINGREQ flags 0001 (MQTT-2.2.2-2)", wire: `c1 00`, is: ErrMalformed, typ: TypePingreq, field: "Flags", rule: "MQTT-2.2.2-2"},
	{name: "PINGRESP flags 0010 (MQTT-2.2.2-2)", wire: `d2 00`, is: ErrMalformed, typ: TypePingresp, field: "Flags", rule: "MQTT-2.2.2-2"},
	{name: "DISCONNECT flags 0100 (MQTT-3.14.1-1)", wire: `e4 00`, is: ErrMalformed, typ: TypeDisconnect, field: "Flags", rule: "MQTT-3.14.1-1"},

	// Bytes left over inside a packet (§2.2.3).
	{name: "PUBACK with remaining length 3", wire: `40 03 00 01 00 // id 1, then a stray byte at offset 4`,
		is: ErrMalformed, typ: TypePuback, field: "", rule: "MQTT 3.1.1 §2.2.3", offset: 4},
	{name: "PINGREQ with a body", wire: `c0 01 00`, is: ErrMalformed, typ: TypePingreq, rule: "MQTT 3.1.1 §2.2.3", offset: 2},
	{name: "CONNACK with remaining length 3", wire: `20 03 00 00 00`, is: ErrMalformed, typ: TypeConnack, rule: "MQTT 3.1.1 §2.2.3", offset: 4},
	{name: "CONNECT user name without its flag (MQTT-3.1.2-18)", wire: `
		10 0f 00 04 4d 51 54 54 04
		02          // connect flags: clean session only
		00 3c 00 00 // keep alive, empty client id
		00 01 75    // a user name the flags do not announce, at offset 14`,
		is: ErrMalformed, typ: TypeConnect, rule: "MQTT 3.1.1 §2.2.3", offset: 14},

	// PUBLISH (§3.3).
	{name: "PUBLISH QoS 3 (MQTT-3.3.1-4)", wire: `36 05 00 01 74 00 01 // flags 0110`,
		is: ErrMalformed, typ: TypePublish, field: "QoS", rule: "MQTT-3.3.1-4", offset: 0},
	{name: "PUBLISH QoS 3 with DUP and RETAIN (MQTT-3.3.1-4)", wire: `3f 05 00 01 74 00 01 // flags 1111`,
		is: ErrMalformed, typ: TypePublish, field: "QoS", rule: "MQTT-3.3.1-4", offset: 0},
	{name: "PUBLISH DUP at QoS 0 (MQTT-3.3.1-2)", wire: `38 03 00 01 74 // flags 1000`,
		is: ErrMalformed, typ: TypePublish, field: "Dup", rule: "MQTT-3.3.1-2", offset: 0, constraint: true},
	{name: "PUBLISH topic not UTF-8 (MQTT-1.5.3-1, MQTT-3.3.2-1)", wire: `30 05 00 03 61 ff 62 // "a", 0xff, "b"`,
		is: ErrMalformed, typ: TypePublish, field: "TopicName", rule: "MQTT-3.3.2-1", offset: 2},
	{name: "PUBLISH topic encodes a surrogate (MQTT-1.5.3-1, MQTT-3.3.2-1)", wire: `30 05 00 03 ed a0 80 // U+D800 as UTF-8`,
		is: ErrMalformed, typ: TypePublish, field: "TopicName", rule: "MQTT-3.3.2-1", offset: 2},
	{name: "PUBLISH topic has an overlong NUL (MQTT-1.5.3-1)", wire: `30 04 00 02 c0 80`,
		is: ErrMalformed, typ: TypePublish, field: "TopicName", rule: "MQTT-3.3.2-1", offset: 2},
	{name: "PUBLISH topic contains U+0000 (MQTT-4.7.3-2)", wire: `30 05 00 03 61 00 62`,
		is: ErrMalformed, typ: TypePublish, field: "TopicName", rule: "MQTT-4.7.3-2", offset: 2},
	{name: "PUBLISH topic contains + (MQTT-3.3.2-2)", wire: `30 05 00 03 61 2f 2b // "a/+"`,
		is: ErrMalformed, typ: TypePublish, field: "TopicName", rule: "MQTT-3.3.2-2", offset: 2},
	{name: "PUBLISH topic is # (MQTT-3.3.2-2)", wire: `30 03 00 01 23`,
		is: ErrMalformed, typ: TypePublish, field: "TopicName", rule: "MQTT-3.3.2-2", offset: 2},
	{name: "PUBLISH empty topic (MQTT-4.7.3-1)", wire: `30 02 00 00`,
		is: ErrMalformed, typ: TypePublish, field: "TopicName", rule: "MQTT-4.7.3-1", offset: 2},
	{name: "PUBLISH QoS 1 packet id 0 (MQTT-2.3.1-1)", wire: `32 05 00 01 74 00 00 // id at offset 5`,
		is: ErrMalformed, typ: TypePublish, field: "PacketID", rule: "MQTT-2.3.1-1", offset: 5},
	{name: "PUBLISH QoS 2 packet id 0 (MQTT-2.3.1-1)", wire: `34 05 00 01 74 00 00`,
		is: ErrMalformed, typ: TypePublish, field: "PacketID", rule: "MQTT-2.3.1-1", offset: 5},

	// Packet identifiers of the acks (MQTT-2.3.1-6, MQTT-2.3.1-7).
	{name: "PUBACK packet id 0 (MQTT-2.3.1-6)", wire: `40 02 00 00`, is: ErrMalformed, typ: TypePuback, field: "PacketID", rule: "MQTT-2.3.1-6", offset: 2},
	{name: "PUBREC packet id 0 (MQTT-2.3.1-6)", wire: `50 02 00 00`, is: ErrMalformed, typ: TypePubrec, field: "PacketID", rule: "MQTT-2.3.1-6", offset: 2},
	{name: "PUBREL packet id 0 (MQTT-2.3.1-6)", wire: `62 02 00 00`, is: ErrMalformed, typ: TypePubrel, field: "PacketID", rule: "MQTT-2.3.1-6", offset: 2},
	{name: "PUBCOMP packet id 0 (MQTT-2.3.1-6)", wire: `70 02 00 00`, is: ErrMalformed, typ: TypePubcomp, field: "PacketID", rule: "MQTT-2.3.1-6", offset: 2},
	{name: "SUBACK packet id 0 (MQTT-2.3.1-7)", wire: `90 03 00 00 00`, is: ErrMalformed, typ: TypeSuback, field: "PacketID", rule: "MQTT-2.3.1-7", offset: 2},
	{name: "UNSUBACK packet id 0 (MQTT-2.3.1-7)", wire: `b0 02 00 00`, is: ErrMalformed, typ: TypeUnsuback, field: "PacketID", rule: "MQTT-2.3.1-7", offset: 2},

	// SUBSCRIBE (§3.8).
	{name: "SUBSCRIBE packet id 0 (MQTT-2.3.1-1)", wire: `82 06 00 00 00 01 61 00`,
		is: ErrMalformed, typ: TypeSubscribe, field: "PacketID", rule: "MQTT-2.3.1-1", offset: 2},
	{name: "SUBSCRIBE without filters (MQTT-3.8.3-3)", wire: `82 02 00 01`,
		is: ErrMalformed, typ: TypeSubscribe, field: "Subscriptions", rule: "MQTT-3.8.3-3", offset: 4},
	{name: "SUBSCRIBE requested QoS 3 (MQTT-3.8.3-4)", wire: `82 06 00 01 00 01 61 03 // options at offset 7`,
		is: ErrMalformed, typ: TypeSubscribe, field: "Subscriptions[0].QoS", rule: "MQTT-3.8.3-4", offset: 7},
	{name: "SUBSCRIBE options reserved bit 2 (MQTT-3.8.3-4)", wire: `82 06 00 01 00 01 61 04`,
		is: ErrMalformed, typ: TypeSubscribe, field: "Subscriptions[0].Options", rule: "MQTT-3.8.3-4", offset: 7},
	{name: "SUBSCRIBE options reserved bit 7 (MQTT-3.8.3-4)", wire: `82 06 00 01 00 01 61 81`,
		is: ErrMalformed, typ: TypeSubscribe, field: "Subscriptions[0].Options", rule: "MQTT-3.8.3-4", offset: 7},
	{name: "SUBSCRIBE second options byte reserved bits (MQTT-3.8.3-4)", wire: `
		82 0a 00 01
		00 01 61 00 // "a" QoS 0
		00 01 62 05 // "b", options 0x05 at offset 11`,
		is: ErrMalformed, typ: TypeSubscribe, field: "Subscriptions[1].Options", rule: "MQTT-3.8.3-4", offset: 11},
	{name: "SUBSCRIBE filter #/a (MQTT-4.7.1-2)", wire: `82 08 00 01 00 03 23 2f 61 00`,
		is: ErrMalformed, typ: TypeSubscribe, field: "Subscriptions[0].TopicFilter", rule: "MQTT-4.7.1-2", offset: 4},
	{name: "SUBSCRIBE filter a# (MQTT-4.7.1-2)", wire: `82 07 00 01 00 02 61 23 00`,
		is: ErrMalformed, typ: TypeSubscribe, field: "Subscriptions[0].TopicFilter", rule: "MQTT-4.7.1-2", offset: 4},
	{name: "SUBSCRIBE filter a+/b (MQTT-4.7.1-3)", wire: `82 09 00 01 00 04 61 2b 2f 62 00`,
		is: ErrMalformed, typ: TypeSubscribe, field: "Subscriptions[0].TopicFilter", rule: "MQTT-4.7.1-3", offset: 4},
	{name: "SUBSCRIBE empty filter (MQTT-4.7.3-1)", wire: `82 05 00 01 00 00 00`,
		is: ErrMalformed, typ: TypeSubscribe, field: "Subscriptions[0].TopicFilter", rule: "MQTT-4.7.3-1", offset: 4},
	{name: "SUBSCRIBE filter with U+0000 (MQTT-4.7.3-2)", wire: `82 06 00 01 00 01 00 00`,
		is: ErrMalformed, typ: TypeSubscribe, field: "Subscriptions[0].TopicFilter", rule: "MQTT-4.7.3-2", offset: 4},
	{name: "SUBSCRIBE filter not UTF-8 (MQTT-3.8.3-1)", wire: `82 06 00 01 00 01 ff 00`,
		is: ErrMalformed, typ: TypeSubscribe, field: "Subscriptions[0].TopicFilter", rule: "MQTT-3.8.3-1", offset: 4},

	// UNSUBSCRIBE (§3.10).
	{name: "UNSUBSCRIBE packet id 0 (MQTT-2.3.1-1)", wire: `a2 05 00 00 00 01 61`,
		is: ErrMalformed, typ: TypeUnsubscribe, field: "PacketID", rule: "MQTT-2.3.1-1", offset: 2},
	{name: "UNSUBSCRIBE without filters (MQTT-3.10.3-2)", wire: `a2 02 00 01`,
		is: ErrMalformed, typ: TypeUnsubscribe, field: "TopicFilters", rule: "MQTT-3.10.3-2", offset: 4},
	{name: "UNSUBSCRIBE filter #/a (MQTT-4.7.1-2)", wire: `a2 07 00 01 00 03 23 2f 61`,
		is: ErrMalformed, typ: TypeUnsubscribe, field: "TopicFilters[0]", rule: "MQTT-4.7.1-2", offset: 4},
	{name: "UNSUBSCRIBE second filter a+/ (MQTT-4.7.1-3)", wire: `
		a2 0a 00 01
		00 01 61    // "a"
		00 03 61 2b 2f // "a+/" at offset 7`,
		is: ErrMalformed, typ: TypeUnsubscribe, field: "TopicFilters[1]", rule: "MQTT-4.7.1-3", offset: 7},
	{name: "UNSUBSCRIBE filter not UTF-8 (MQTT-3.10.3-1)", wire: `a2 05 00 01 00 01 ff`,
		is: ErrMalformed, typ: TypeUnsubscribe, field: "TopicFilters[0]", rule: "MQTT-3.10.3-1", offset: 4},
	{name: "UNSUBSCRIBE empty filter (MQTT-4.7.3-1)", wire: `a2 04 00 01 00 00`,
		is: ErrMalformed, typ: TypeUnsubscribe, field: "TopicFilters[0]", rule: "MQTT-4.7.3-1", offset: 4},

	// CONNACK (§3.2) and SUBACK (§3.9).
	{name: "CONNACK return code 6 (§3.2.2.3)", wire: `20 02 00 06`,
		is: ErrMalformed, typ: TypeConnack, field: "ReturnCode", rule: "MQTT 3.1.1 §3.2.2.3", offset: 3},
	{name: "CONNACK reserved ack flag bit 1 (§3.2.2.1)", wire: `20 02 02 00`,
		is: ErrMalformed, typ: TypeConnack, field: "AcknowledgeFlags", rule: "MQTT 3.1.1 §3.2.2.1", offset: 2},
	{name: "CONNACK reserved ack flag bit 7 (§3.2.2.1)", wire: `20 02 81 00`,
		is: ErrMalformed, typ: TypeConnack, field: "AcknowledgeFlags", rule: "MQTT 3.1.1 §3.2.2.1", offset: 2},
	{name: "CONNACK session present with code 5 (MQTT-3.2.2-4)", wire: `20 02 01 05`,
		is: ErrMalformed, typ: TypeConnack, field: "SessionPresent", rule: "MQTT-3.2.2-4", offset: 2, constraint: true},
	{name: "SUBACK return code 3 (MQTT-3.9.3-2)", wire: `90 03 00 01 03`,
		is: ErrMalformed, typ: TypeSuback, field: "ReturnCodes[0]", rule: "MQTT-3.9.3-2", offset: 4},
	{name: "SUBACK second return code 0x81 (MQTT-3.9.3-2)", wire: `90 04 00 01 00 81`,
		is: ErrMalformed, typ: TypeSuback, field: "ReturnCodes[1]", rule: "MQTT-3.9.3-2", offset: 5},
	{name: "SUBACK without return codes (MQTT-3.9.3-1)", wire: `90 02 00 01`,
		is: ErrMalformed, typ: TypeSuback, field: "ReturnCodes", rule: "MQTT-3.9.3-1", offset: 4},

	// CONNECT (§3.1).
	{name: "CONNECT reserved flag bit (MQTT-3.1.2-3)", wire: `10 0c 00 04 4d 51 54 54 04 03 00 3c 00 00 // flags 0x03`,
		is: ErrMalformed, typ: TypeConnect, field: "ConnectFlags", rule: "MQTT-3.1.2-3", offset: 9},
	{name: "CONNECT will QoS 3 (MQTT-3.1.2-14)", wire: `10 0c 00 04 4d 51 54 54 04 1e 00 3c 00 00 // flags: will QoS 3, will, clean`,
		is: ErrMalformed, typ: TypeConnect, field: "WillQoS", rule: "MQTT-3.1.2-14", offset: 9},
	{name: "CONNECT will QoS 1 without will flag (MQTT-3.1.2-13, MQTT-3.1.2-11)", wire: `10 0c 00 04 4d 51 54 54 04 0a 00 3c 00 00 // flags 0x0a`,
		is: ErrMalformed, typ: TypeConnect, field: "WillQoS", rule: "MQTT-3.1.2-13", offset: 9, constraint: true},
	{name: "CONNECT will retain without will flag (MQTT-3.1.2-15)", wire: `10 0c 00 04 4d 51 54 54 04 22 00 3c 00 00 // flags 0x22`,
		is: ErrMalformed, typ: TypeConnect, field: "WillRetain", rule: "MQTT-3.1.2-15", offset: 9, constraint: true},
	{name: "CONNECT password without user name (MQTT-3.1.2-22)", wire: `
		10 0f 00 04 4d 51 54 54 04
		42          // flags: password, clean session
		00 3c 00 00 // keep alive, empty client id
		00 01 70    // password "p"`,
		is: ErrMalformed, typ: TypeConnect, field: "PasswordFlag", rule: "MQTT-3.1.2-22", offset: 9, constraint: true},
	{name: "CONNECT empty client id without clean session (MQTT-3.1.3-7)", wire: `10 0c 00 04 4d 51 54 54 04 00 00 3c 00 00`,
		is: ErrMalformed, typ: TypeConnect, field: "ClientID", rule: "MQTT-3.1.3-7", offset: 12, constraint: true},
	{name: "CONNECT MQTT at level 3 (MQTT-3.1.2-1)", wire: `10 0c 00 04 4d 51 54 54 03 02 00 3c 00 00`,
		is: ErrMalformed, typ: TypeConnect, field: "ProtocolName", rule: "MQTT-3.1.2-1", offset: 2, constraint: true},
	{name: "CONNECT MQIsdp at level 4 (MQTT-3.1.2-1)", wire: `10 0e 00 06 4d 51 49 73 64 70 04 02 00 3c 00 00`,
		is: ErrMalformed, typ: TypeConnect, field: "ProtocolName", rule: "MQTT-3.1.2-1", offset: 2, constraint: true},
	{name: "CONNECT unknown name at level 4 (MQTT-3.1.2-1)", wire: `10 0c 00 04 6d 71 74 74 04 02 00 3c 00 00 // "mqtt"`,
		is: ErrMalformed, typ: TypeConnect, field: "ProtocolName", rule: "MQTT-3.1.2-1", offset: 2, constraint: true},
	{name: "CONNECT level 5 (MQTT-3.1.2-2)", wire: `10 0c 00 04 4d 51 54 54 05 02 00 3c 00 00`,
		is: ErrMalformed, typ: TypeConnect, field: "ProtocolLevel", rule: "MQTT-3.1.2-2", offset: 8},
	{name: "CONNECT level 0 (MQTT-3.1.2-2)", wire: `10 0c 00 04 4d 51 54 54 00 02 00 3c 00 00`,
		is: ErrMalformed, typ: TypeConnect, field: "ProtocolLevel", rule: "MQTT-3.1.2-2", offset: 8},
	{name: "CONNECT protocol name not UTF-8 (MQTT-1.5.3-1)", wire: `10 0c 00 04 4d 51 54 ff 04 02 00 3c 00 00`,
		is: ErrMalformed, typ: TypeConnect, field: "ProtocolName", rule: "MQTT-1.5.3-1", offset: 2},
	{name: "CONNECT client id contains U+0000 (MQTT-1.5.3-2)", wire: `10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 00`,
		is: ErrMalformed, typ: TypeConnect, field: "ClientID", rule: "MQTT-1.5.3-2", offset: 12},
	{name: "CONNECT client id not UTF-8 (MQTT-3.1.3-4)", wire: `10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 ff`,
		is: ErrMalformed, typ: TypeConnect, field: "ClientID", rule: "MQTT-3.1.3-4", offset: 12},
	{name: "CONNECT will topic with wildcard (MQTT-4.7.1-1)", wire: `
		10 11 00 04 4d 51 54 54 04
		06          // flags: will, clean
		00 3c 00 00 // keep alive, empty client id
		00 01 23    // will topic "#" at offset 14
		00 00       // will message`,
		is: ErrMalformed, typ: TypeConnect, field: "WillTopic", rule: "MQTT-4.7.1-1", offset: 14},
	{name: "CONNECT empty will topic (MQTT-4.7.3-1)", wire: `10 10 00 04 4d 51 54 54 04 06 00 3c 00 00 00 00 00 00`,
		is: ErrMalformed, typ: TypeConnect, field: "WillTopic", rule: "MQTT-4.7.3-1", offset: 14},
	{name: "CONNECT will topic not UTF-8 (MQTT-3.1.3-10)", wire: `10 11 00 04 4d 51 54 54 04 06 00 3c 00 00 00 01 ff 00 00`,
		is: ErrMalformed, typ: TypeConnect, field: "WillTopic", rule: "MQTT-3.1.3-10", offset: 14},
	{name: "CONNECT user name not UTF-8 (MQTT-3.1.3-11)", wire: `10 0f 00 04 4d 51 54 54 04 82 00 3c 00 00 00 01 ff`,
		is: ErrMalformed, typ: TypeConnect, field: "Username", rule: "MQTT-3.1.3-11", offset: 14},
	{name: "CONNECT user name contains U+0000 (MQTT-1.5.3-2)", wire: `10 0f 00 04 4d 51 54 54 04 82 00 3c 00 00 00 01 00`,
		is: ErrMalformed, typ: TypeConnect, field: "Username", rule: "MQTT-1.5.3-2", offset: 14},
}

// Wildcards for checkError.
const (
	anyType   Type = 0xff
	anyOffset      = -2
)

// checkError asserts that err is an *Error with the given classification.
func checkError(t *testing.T, err error, is error, op string, typ Type, field, rule string, offset int) *Error {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, is)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, op, e.Op, "Op")
	if typ != anyType {
		assert.Equal(t, typ, e.Type, "Type")
	}
	assert.Equal(t, field, e.Field, "Field")
	assert.Equal(t, rule, e.Rule, "Rule")
	if offset != anyOffset {
		assert.Equal(t, offset, e.Offset, "Offset")
	}
	assert.Same(t, is, e.Err)

	msg := err.Error()
	assert.True(t, strings.HasPrefix(msg, "packets: "+op), msg)
	if e.Type != 0 {
		assert.Contains(t, msg, e.Type.String())
	}
	if field != "" {
		assert.Contains(t, msg, " field "+field)
	}
	if rule != "" {
		assert.Contains(t, msg, "("+rule+")")
	}
	return e
}

// TestDecodeMalformed feeds each hostile packet to Decode, to a Reader and
// to ReadPacket; all three must reject it the same way.
func TestDecodeMalformed(t *testing.T) {
	for _, c := range decodeErrCases {
		t.Run(c.name, func(t *testing.T) {
			b := mustHex(c.wire)
			offset := c.offset
			if c.constraint {
				offset = anyOffset // see TestDecodeConstraintOffset
			}
			readerType := c.typ
			if c.field == "RemainingLength" {
				readerType = anyType // see TestRemainingLengthErrorType
			}

			p, n, err := Decode(b)
			assert.Nil(t, p)
			assert.Zero(t, n)
			checkError(t, err, c.is, opDecode, c.typ, c.field, c.rule, offset)

			r := NewReader(bytes.NewReader(b))
			p, err = r.ReadPacket()
			assert.Nil(t, p)
			checkError(t, err, c.is, opDecode, readerType, c.field, c.rule, offset)

			p, err = ReadPacket(bytes.NewReader(b))
			assert.Nil(t, p)
			checkError(t, err, c.is, opDecode, readerType, c.field, c.rule, offset)
		})
	}
}

// TestDecodeConstraintOffset: a decode error names the byte offset of the
// field it blames. Error documents Offset as "-1 when encoding", and the
// package doc promises every decode error names "the byte offset". Rules
// that relate two fields (MQTT-3.3.1-2, MQTT-3.2.2-4, MQTT-3.1.2-1,
// MQTT-3.1.2-13, MQTT-3.1.2-15, MQTT-3.1.2-22, MQTT-3.1.3-7) must point at
// the field they name: the fixed header for Dup, the flags byte for the
// CONNECT and CONNACK flags, the start of ProtocolName or ClientID.
func TestDecodeConstraintOffset(t *testing.T) {
	for _, c := range decodeErrCases {
		if !c.constraint {
			continue
		}
		_, _, err := Decode(mustHex(c.wire))
		var e *Error
		require.ErrorAs(t, err, &e, c.name)
		assert.Equal(t, c.offset, e.Offset, "%s: offset of %s", c.name, c.field)
		assert.Contains(t, err.Error(), " at offset ", c.name)
	}
}

// TestRemainingLengthErrorType: the same bad Remaining Length gets the same
// error from Decode, ReadPacket and a Reader. Error documents Type as "0
// when the fixed header itself is bad", which Decode and ReadPacket follow.
func TestRemainingLengthErrorType(t *testing.T) {
	b := mustHex(`30 80 80 80 80 01 // PUBLISH with a five-byte remaining length`)
	_, _, derr := Decode(b)
	_, perr := ReadPacket(bytes.NewReader(b))
	_, rerr := NewReader(bytes.NewReader(b)).ReadPacket()
	var de, pe, re *Error
	require.ErrorAs(t, derr, &de)
	require.ErrorAs(t, perr, &pe)
	require.ErrorAs(t, rerr, &re)
	assert.Equal(t, Type(0), de.Type, "Decode")
	assert.Equal(t, Type(0), pe.Type, "ReadPacket")
	assert.Equal(t, Type(0), re.Type, "Reader.ReadPacket")
	assert.Equal(t, derr.Error(), rerr.Error())
}

// TestDecodeEveryWrongFlag tries all 15 wrong flag nibbles of every packet
// whose flags are fixed (MQTT-2.2.2-1, MQTT-2.2.2-2).
func TestDecodeEveryWrongFlag(t *testing.T) {
	cases := []struct {
		wire  string // valid packet
		flags byte
		rule  string
	}{
		{`10 0c 00 04 4d 51 54 54 04 02 00 3c 00 00`, 0, "MQTT-2.2.2-2"},
		{`20 02 00 00`, 0, "MQTT-2.2.2-2"},
		{`40 02 00 01`, 0, "MQTT-2.2.2-2"},
		{`50 02 00 01`, 0, "MQTT-2.2.2-2"},
		{`62 02 00 01`, 2, "MQTT-3.6.1-1"},
		{`70 02 00 01`, 0, "MQTT-2.2.2-2"},
		{`82 06 00 01 00 01 61 00`, 2, "MQTT-3.8.1-1"},
		{`90 03 00 01 00`, 0, "MQTT-2.2.2-2"},
		{`a2 05 00 01 00 01 61`, 2, "MQTT-3.10.1-1"},
		{`b0 02 00 01`, 0, "MQTT-2.2.2-2"},
		{`c0 00`, 0, "MQTT-2.2.2-2"},
		{`d0 00`, 0, "MQTT-2.2.2-2"},
		{`e0 00`, 0, "MQTT-3.14.1-1"},
	}
	for _, c := range cases {
		b := mustHex(c.wire)
		typ := Type(b[0] >> 4)
		_, _, err := Decode(b)
		require.NoError(t, err, "%s with its own flags", typ)
		for f := byte(0); f < 16; f++ {
			if f == c.flags {
				continue
			}
			b[0] = byte(typ)<<4 | f
			_, _, err := Decode(b)
			checkError(t, err, ErrMalformed, opDecode, typ, "Flags", c.rule, 0)
		}
	}
}

// TestDecodeTruncated cuts every row of the codec table at every length: the
// result is io.ErrUnexpectedEOF, never a packet and never a panic. At length
// 0 the stream readers report a clean io.EOF instead.
func TestDecodeTruncated(t *testing.T) {
	for _, c := range codecCases {
		b := c.bytes()
		var cuts []int
		limit := 300
		if len(b) > 4096 {
			limit = 16 // a Reader allocates the whole (bounded) body before reading it
		}
		for i := 0; i < len(b) && i < limit; i++ {
			cuts = append(cuts, i)
		}
		cuts = append(cuts, len(b)/2, len(b)-1)
		for _, i := range cuts {
			prefix := b[:i:i]
			p, n, err := Decode(prefix)
			require.Nil(t, p, "%s cut at %d", c.name, i)
			require.Zero(t, n)
			require.ErrorIs(t, err, io.ErrUnexpectedEOF, "%s cut at %d", c.name, i)
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, opDecode, e.Op)

			r := NewReader(bytes.NewReader(prefix))
			r.SetMaxPacketSize(4 << 20)
			p, err = r.ReadPacket()
			require.Nil(t, p)
			if i == 0 {
				require.Equal(t, io.EOF, err)
			} else {
				require.ErrorIs(t, err, io.ErrUnexpectedEOF, "Reader: %s cut at %d", c.name, i)
				require.ErrorAs(t, err, &e, "Reader: %s cut at %d", c.name, i)
			}

			if len(b) <= DefaultMaxPacketSize {
				p, err = ReadPacket(bytes.NewReader(prefix))
				require.Nil(t, p)
				if i == 0 {
					require.Equal(t, io.EOF, err)
				} else {
					require.ErrorIs(t, err, io.ErrUnexpectedEOF, "ReadPacket: %s cut at %d", c.name, i)
					require.ErrorAs(t, err, &e, "ReadPacket: %s cut at %d", c.name, i)
				}
			}
		}
	}
}

// TestDecodeFieldOverrunIsMalformed: when a field runs past the end of the
// Remaining Length, the packet is complete but malformed. More input cannot
// fix it, so the error must wrap ErrMalformed, not io.ErrUnexpectedEOF
// (which Decode documents as "wait for more bytes").
func TestDecodeFieldOverrunIsMalformed(t *testing.T) {
	cases := []struct {
		name   string
		wire   string
		typ    Type
		field  string
		offset int
	}{
		{"PUBACK id cut by remaining length", `40 01 00 // remaining length 1, half a packet id`, TypePuback, "PacketID", 2},
		{"PUBLISH topic longer than the packet", `30 03 00 05 61 // topic length 5, one byte left`, TypePublish, "TopicName", 2},
		{"CONNECT ends before the client id", `10 0a 00 04 4d 51 54 54 04 02 00 3c`, TypeConnect, "ClientID", 12},
		{"SUBSCRIBE filter without options byte", `82 05 00 01 00 01 61`, TypeSubscribe, "Subscriptions[0].Options", 7},
		{"CONNACK with remaining length 1", `20 01 00`, TypeConnack, "ReturnCode", 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := mustHex(c.wire)
			// Another packet follows, so the input is not short.
			b = append(b, 0xc0, 0x00)
			_, _, err := Decode(b)
			require.Error(t, err)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, c.typ, e.Type)
			assert.Equal(t, c.field, e.Field)
			assert.Equal(t, c.offset, e.Offset)
			assert.ErrorIs(t, err, ErrMalformed, "a complete packet with an overrunning field is malformed")
			assert.NotErrorIs(t, err, io.ErrUnexpectedEOF, "more input cannot repair it; a buffering caller would wait forever")
		})
	}
}

// encodeErrCase is a packet value MQTT forbids sending.
type encodeErrCase struct {
	name  string
	pkt   Packet
	field string
	rule  string
}

func validConnect() *Connect {
	return &Connect{ProtocolName: "MQTT", ProtocolLevel: ProtocolMQTT311, CleanSession: true, ClientID: "c"}
}

func withConnect(f func(*Connect)) *Connect {
	c := validConnect()
	f(c)
	return c
}

var long = strings.Repeat("a", 65536)

var encodeErrCases = []encodeErrCase{
	// PUBLISH.
	{"PUBLISH QoS 3 (MQTT-3.3.1-4)", &Publish{QoS: 3, TopicName: "t", PacketID: 1}, "QoS", "MQTT-3.3.1-4"},
	{"PUBLISH DUP at QoS 0 (MQTT-3.3.1-2, MQTT-4.3.1-1)", &Publish{Dup: true, TopicName: "t"}, "Dup", "MQTT-3.3.1-2"},
	{"PUBLISH QoS 0 with packet id (MQTT-2.3.1-5)", &Publish{TopicName: "t", PacketID: 5}, "PacketID", "MQTT-2.3.1-5"},
	{"PUBLISH QoS 1 packet id 0 (MQTT-2.3.1-1)", &Publish{QoS: 1, TopicName: "t"}, "PacketID", "MQTT-2.3.1-1"},
	{"PUBLISH QoS 2 packet id 0 (MQTT-2.3.1-1)", &Publish{QoS: 2, TopicName: "t"}, "PacketID", "MQTT-2.3.1-1"},
	{"PUBLISH topic not UTF-8 (MQTT-1.5.3-1, MQTT-3.3.2-1)", &Publish{TopicName: "a\xffb"}, "TopicName", "MQTT-3.3.2-1"},
	{"PUBLISH topic encodes a surrogate (MQTT-1.5.3-1)", &Publish{TopicName: "\xed\xa0\x80"}, "TopicName", "MQTT-3.3.2-1"},
	{"PUBLISH topic contains U+0000 (MQTT-4.7.3-2)", &Publish{TopicName: "a\x00b"}, "TopicName", "MQTT-4.7.3-2"},
	{"PUBLISH topic with + (MQTT-3.3.2-2, MQTT-4.7.1-1)", &Publish{TopicName: "a/+"}, "TopicName", "MQTT-3.3.2-2"},
	{"PUBLISH topic with # (MQTT-3.3.2-2)", &Publish{TopicName: "a/#"}, "TopicName", "MQTT-3.3.2-2"},
	{"PUBLISH empty topic (MQTT-4.7.3-1)", &Publish{TopicName: ""}, "TopicName", "MQTT-4.7.3-1"},
	{"PUBLISH topic of 65536 bytes (MQTT-4.7.3-3)", &Publish{TopicName: long}, "TopicName", "MQTT-4.7.3-3"},

	// Packet identifiers.
	{"PUBACK id 0 (MQTT-2.3.1-6)", &Puback{}, "PacketID", "MQTT-2.3.1-6"},
	{"PUBREC id 0 (MQTT-2.3.1-6)", &Pubrec{}, "PacketID", "MQTT-2.3.1-6"},
	{"PUBREL id 0 (MQTT-2.3.1-6)", &Pubrel{}, "PacketID", "MQTT-2.3.1-6"},
	{"PUBCOMP id 0 (MQTT-2.3.1-6)", &Pubcomp{}, "PacketID", "MQTT-2.3.1-6"},
	{"UNSUBACK id 0 (MQTT-2.3.1-7)", &Unsuback{}, "PacketID", "MQTT-2.3.1-7"},
	{"SUBACK id 0 (MQTT-2.3.1-7)", &Suback{ReturnCodes: []SubackCode{0}}, "PacketID", "MQTT-2.3.1-7"},

	// SUBSCRIBE.
	{"SUBSCRIBE id 0 (MQTT-2.3.1-1)", &Subscribe{Subscriptions: []Subscription{{TopicFilter: "a"}}}, "PacketID", "MQTT-2.3.1-1"},
	{"SUBSCRIBE nil list (MQTT-3.8.3-3)", &Subscribe{PacketID: 1}, "Subscriptions", "MQTT-3.8.3-3"},
	{"SUBSCRIBE empty list (MQTT-3.8.3-3)", &Subscribe{PacketID: 1, Subscriptions: []Subscription{}}, "Subscriptions", "MQTT-3.8.3-3"},
	{"SUBSCRIBE QoS 3 (MQTT-3.8.3-4)", &Subscribe{PacketID: 1, Subscriptions: []Subscription{{TopicFilter: "a", QoS: 3}}}, "Subscriptions[0].QoS", "MQTT-3.8.3-4"},
	{"SUBSCRIBE filter #/a (MQTT-4.7.1-2)", &Subscribe{PacketID: 1, Subscriptions: []Subscription{{TopicFilter: "ok"}, {TopicFilter: "#/a"}}}, "Subscriptions[1].TopicFilter", "MQTT-4.7.1-2"},
	{"SUBSCRIBE filter a# (MQTT-4.7.1-2)", &Subscribe{PacketID: 1, Subscriptions: []Subscription{{TopicFilter: "a#"}}}, "Subscriptions[0].TopicFilter", "MQTT-4.7.1-2"},
	{"SUBSCRIBE filter a/#/b (MQTT-4.7.1-2)", &Subscribe{PacketID: 1, Subscriptions: []Subscription{{TopicFilter: "a/#/b"}}}, "Subscriptions[0].TopicFilter", "MQTT-4.7.1-2"},
	{"SUBSCRIBE filter a+/b (MQTT-4.7.1-3)", &Subscribe{PacketID: 1, Subscriptions: []Subscription{{TopicFilter: "a+/b"}}}, "Subscriptions[0].TopicFilter", "MQTT-4.7.1-3"},
	{"SUBSCRIBE filter +a (MQTT-4.7.1-3)", &Subscribe{PacketID: 1, Subscriptions: []Subscription{{TopicFilter: "+a"}}}, "Subscriptions[0].TopicFilter", "MQTT-4.7.1-3"},
	{"SUBSCRIBE empty filter (MQTT-4.7.3-1)", &Subscribe{PacketID: 1, Subscriptions: []Subscription{{TopicFilter: ""}}}, "Subscriptions[0].TopicFilter", "MQTT-4.7.3-1"},
	{"SUBSCRIBE filter with U+0000 (MQTT-4.7.3-2)", &Subscribe{PacketID: 1, Subscriptions: []Subscription{{TopicFilter: "\x00"}}}, "Subscriptions[0].TopicFilter", "MQTT-4.7.3-2"},
	{"SUBSCRIBE filter not UTF-8 (MQTT-3.8.3-1)", &Subscribe{PacketID: 1, Subscriptions: []Subscription{{TopicFilter: "\xc3"}}}, "Subscriptions[0].TopicFilter", "MQTT-3.8.3-1"},
	{"SUBSCRIBE filter of 65536 bytes (MQTT-4.7.3-3)", &Subscribe{PacketID: 1, Subscriptions: []Subscription{{TopicFilter: long}}}, "Subscriptions[0].TopicFilter", "MQTT-4.7.3-3"},

	// UNSUBSCRIBE.
	{"UNSUBSCRIBE id 0 (MQTT-2.3.1-1)", &Unsubscribe{TopicFilters: []string{"a"}}, "PacketID", "MQTT-2.3.1-1"},
	{"UNSUBSCRIBE no filters (MQTT-3.10.3-2)", &Unsubscribe{PacketID: 1}, "TopicFilters", "MQTT-3.10.3-2"},
	{"UNSUBSCRIBE filter #/a (MQTT-4.7.1-2)", &Unsubscribe{PacketID: 1, TopicFilters: []string{"#/a"}}, "TopicFilters[0]", "MQTT-4.7.1-2"},
	{"UNSUBSCRIBE filter a+/b (MQTT-4.7.1-3)", &Unsubscribe{PacketID: 1, TopicFilters: []string{"x", "a+/b"}}, "TopicFilters[1]", "MQTT-4.7.1-3"},
	{"UNSUBSCRIBE filter not UTF-8 (MQTT-3.10.3-1)", &Unsubscribe{PacketID: 1, TopicFilters: []string{"\xff"}}, "TopicFilters[0]", "MQTT-3.10.3-1"},
	{"UNSUBSCRIBE empty filter (MQTT-4.7.3-1)", &Unsubscribe{PacketID: 1, TopicFilters: []string{""}}, "TopicFilters[0]", "MQTT-4.7.3-1"},

	// CONNACK and SUBACK.
	{"CONNACK return code 6 (§3.2.2.3)", &Connack{ReturnCode: 6}, "ReturnCode", "MQTT 3.1.1 §3.2.2.3"},
	{"CONNACK session present with code 5 (MQTT-3.2.2-4)", &Connack{SessionPresent: true, ReturnCode: ConnackNotAuthorized}, "SessionPresent", "MQTT-3.2.2-4"},
	{"SUBACK return code 3 (MQTT-3.9.3-2)", &Suback{PacketID: 1, ReturnCodes: []SubackCode{0, 3}}, "ReturnCodes[1]", "MQTT-3.9.3-2"},
	{"SUBACK without codes (MQTT-3.9.3-1)", &Suback{PacketID: 1}, "ReturnCodes", "MQTT-3.9.3-1"},

	// CONNECT.
	{"CONNECT will QoS 3 (MQTT-3.1.2-14)", withConnect(func(c *Connect) { c.WillFlag, c.WillTopic, c.WillQoS = true, "w", 3 }), "WillQoS", "MQTT-3.1.2-14"},
	{"CONNECT will QoS without will flag (MQTT-3.1.2-13)", withConnect(func(c *Connect) { c.WillQoS = 1 }), "WillQoS", "MQTT-3.1.2-13"},
	{"CONNECT will retain without will flag (MQTT-3.1.2-15)", withConnect(func(c *Connect) { c.WillRetain = true }), "WillRetain", "MQTT-3.1.2-15"},
	{"CONNECT will topic without will flag (MQTT-3.1.2-11)", withConnect(func(c *Connect) { c.WillTopic = "w" }), "WillTopic", "MQTT-3.1.2-11"},
	{"CONNECT will message without will flag (MQTT-3.1.2-11)", withConnect(func(c *Connect) { c.WillMessage = []byte("m") }), "WillMessage", "MQTT-3.1.2-11"},
	{"CONNECT user name without its flag (MQTT-3.1.2-18)", withConnect(func(c *Connect) { c.Username = "u" }), "Username", "MQTT-3.1.2-18"},
	{"CONNECT password without its flag (MQTT-3.1.2-20)", withConnect(func(c *Connect) { c.UsernameFlag, c.Username, c.Password = true, "u", []byte("p") }), "Password", "MQTT-3.1.2-20"},
	{"CONNECT password without user name (MQTT-3.1.2-22)", withConnect(func(c *Connect) { c.PasswordFlag, c.Password = true, []byte("p") }), "PasswordFlag", "MQTT-3.1.2-22"},
	{"CONNECT empty client id without clean session (MQTT-3.1.3-7)", withConnect(func(c *Connect) { c.ClientID, c.CleanSession = "", false }), "ClientID", "MQTT-3.1.3-7"},
	{"CONNECT MQTT at level 3 (MQTT-3.1.2-1)", withConnect(func(c *Connect) { c.ProtocolLevel = ProtocolMQTT31 }), "ProtocolName", "MQTT-3.1.2-1"},
	{"CONNECT MQIsdp at level 4 (MQTT-3.1.2-1)", withConnect(func(c *Connect) { c.ProtocolName = "MQIsdp" }), "ProtocolName", "MQTT-3.1.2-1"},
	{"CONNECT empty protocol name (MQTT-3.1.2-1)", withConnect(func(c *Connect) { c.ProtocolName = "" }), "ProtocolName", "MQTT-3.1.2-1"},
	{"CONNECT level 5 (MQTT-3.1.2-2)", withConnect(func(c *Connect) { c.ProtocolLevel = 5 }), "ProtocolLevel", "MQTT-3.1.2-2"},
	{"CONNECT level 0 (MQTT-3.1.2-2)", withConnect(func(c *Connect) { c.ProtocolLevel = 0 }), "ProtocolLevel", "MQTT-3.1.2-2"},
	{"CONNECT protocol name not UTF-8 (MQTT-1.5.3-1)", withConnect(func(c *Connect) { c.ProtocolName = "MQT\xff" }), "ProtocolName", "MQTT-1.5.3-1"},
	{"CONNECT client id with U+0000 (MQTT-1.5.3-2)", withConnect(func(c *Connect) { c.ClientID = "a\x00" }), "ClientID", "MQTT-1.5.3-2"},
	{"CONNECT client id not UTF-8 (MQTT-3.1.3-4)", withConnect(func(c *Connect) { c.ClientID = "\xed\xbf\xbf" }), "ClientID", "MQTT-3.1.3-4"},
	{"CONNECT client id of 65536 bytes (§1.5.3)", withConnect(func(c *Connect) { c.ClientID = long }), "ClientID", "MQTT 3.1.1 §1.5.3"},
	{"CONNECT will topic with wildcard (MQTT-4.7.1-1)", withConnect(func(c *Connect) { c.WillFlag, c.WillTopic = true, "a/+" }), "WillTopic", "MQTT-4.7.1-1"},
	{"CONNECT empty will topic (MQTT-4.7.3-1)", withConnect(func(c *Connect) { c.WillFlag = true }), "WillTopic", "MQTT-4.7.3-1"},
	{"CONNECT will topic not UTF-8 (MQTT-3.1.3-10)", withConnect(func(c *Connect) { c.WillFlag, c.WillTopic = true, "\xff" }), "WillTopic", "MQTT-3.1.3-10"},
	{"CONNECT will topic with U+0000 (MQTT-4.7.3-2)", withConnect(func(c *Connect) { c.WillFlag, c.WillTopic = true, "\x00" }), "WillTopic", "MQTT-4.7.3-2"},
	{"CONNECT will topic of 65536 bytes (MQTT-4.7.3-3)", withConnect(func(c *Connect) { c.WillFlag, c.WillTopic = true, long }), "WillTopic", "MQTT-4.7.3-3"},
	{"CONNECT will message of 65536 bytes (§1.5.3)", withConnect(func(c *Connect) { c.WillFlag, c.WillTopic, c.WillMessage = true, "w", []byte(long) }), "WillMessage", "MQTT 3.1.1 §1.5.3"},
	{"CONNECT user name not UTF-8 (MQTT-3.1.3-11)", withConnect(func(c *Connect) { c.UsernameFlag, c.Username = true, "\xff" }), "Username", "MQTT-3.1.3-11"},
	{"CONNECT user name with U+0000 (MQTT-1.5.3-2)", withConnect(func(c *Connect) { c.UsernameFlag, c.Username = true, "\x00" }), "Username", "MQTT-1.5.3-2"},
	{"CONNECT user name of 65536 bytes (§1.5.3)", withConnect(func(c *Connect) { c.UsernameFlag, c.Username = true, long }), "Username", "MQTT 3.1.1 §1.5.3"},
	{"CONNECT password of 65536 bytes (§1.5.3)", withConnect(func(c *Connect) {
		c.UsernameFlag, c.Username, c.PasswordFlag, c.Password = true, "u", true, []byte(long)
	}), "Password", "MQTT 3.1.1 §1.5.3"},
}

// TestEncodeForbidden: Validate, Append and WriteTo refuse each value with
// the same *Error and write nothing.
func TestEncodeForbidden(t *testing.T) {
	for _, c := range encodeErrCases {
		t.Run(c.name, func(t *testing.T) {
			typ := c.pkt.Type()
			verr := c.pkt.Validate()
			checkError(t, verr, ErrMalformed, opEncode, typ, c.field, c.rule, -1)

			dst := make([]byte, 3, 64)
			copy(dst, "abc")
			for i := len(dst); i < cap(dst); i++ {
				dst[:cap(dst)][i] = 0xaa
			}
			out, err := c.pkt.Append(dst)
			checkError(t, err, ErrMalformed, opEncode, typ, c.field, c.rule, -1)
			assert.Equal(t, verr.Error(), err.Error())
			assert.Equal(t, []byte("abc"), out, "Append returns dst unchanged")
			assert.Equal(t, append([]byte("abc"), bytes.Repeat([]byte{0xaa}, 61)...), dst[:cap(dst)], "nothing written past len(dst)")

			var buf bytes.Buffer
			n, err := c.pkt.WriteTo(&buf)
			checkError(t, err, ErrMalformed, opEncode, typ, c.field, c.rule, -1)
			assert.Zero(t, n)
			assert.Zero(t, buf.Len())
		})
	}
}

// TestEncodeBodyTooLong: a body over 268,435,455 bytes cannot be framed
// (§2.2.3). The payload is never written to, so it costs address space only.
func TestEncodeBodyTooLong(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 256 MiB of address space")
	}
	p := &Publish{TopicName: "a", Payload: make([]byte, MaxRemainingLength-2)} // 3 + payload = max + 1
	out, err := p.Append(nil)
	assert.Nil(t, out)
	checkError(t, err, ErrMalformed, opEncode, TypePublish, "", "MQTT 3.1.1 §2.2.3", -1)

	p.Payload = p.Payload[:MaxRemainingLength-3] // exactly the maximum
	require.NoError(t, p.Validate())
	assert.Equal(t, MaxPacketSize, p.Size())
}

// TestTopicLengthBoundary: 65,535 bytes is the longest topic (MQTT-4.7.3-3).
func TestTopicLengthBoundary(t *testing.T) {
	topic := strings.Repeat("t", 65535)
	p := &Publish{TopicName: topic, Payload: []byte{}}
	b, err := p.Append(nil)
	require.NoError(t, err)
	require.Equal(t, []byte{0x30, 0x81, 0x80, 0x04, 0xff, 0xff}, b[:6], "remaining length 65537 = 0x01|cont, 0x00|cont, 0x04; topic length 0xffff")
	got, n, err := Decode(b)
	require.NoError(t, err)
	require.Equal(t, len(b), n)
	require.Equal(t, p, got)
}

// TestReaderTooLarge: a header claiming 200 MiB against a 100-byte limit is
// refused before the body is allocated or read.
func TestReaderTooLarge(t *testing.T) {
	// 209715200 = 100<<21: 0x00|cont, 0x00|cont, 0x00|cont, 0x64.
	claim := mustHex(`30 80 80 80 64 // PUBLISH, remaining length 209715200; no body follows`)

	read := func() error {
		r := NewReader(bytes.NewReader(claim))
		r.SetMaxPacketSize(100)
		p, err := r.ReadPacket()
		if p != nil {
			t.Error("got a packet")
		}
		return err
	}
	err := read()
	e := checkError(t, err, ErrTooLarge, opDecode, TypePublish, "RemainingLength", "", 1)
	assert.Equal(t, "remaining length 209715200 exceeds the limit of 100 bytes", e.Reason)
	assert.Equal(t, "packets: decode PUBLISH field RemainingLength at offset 1: remaining length 209715200 exceeds the limit of 100 bytes", err.Error())
	assert.NotErrorIs(t, err, ErrMalformed)

	const runs = 10
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < runs; i++ {
		_ = read()
	}
	runtime.ReadMemStats(&after)
	perRun := (after.TotalAlloc - before.TotalAlloc) / runs
	assert.Less(t, perRun, uint64(64<<10), "bytes allocated per refused read")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "bytes allocated by %d refused reads", runs)

	// Package-level ReadPacket applies DefaultMaxPacketSize the same way.
	runtime.ReadMemStats(&before)
	p, err := ReadPacket(bytes.NewReader(claim))
	runtime.ReadMemStats(&after)
	assert.Nil(t, p)
	checkError(t, err, ErrTooLarge, opDecode, TypePublish, "RemainingLength", "", 1)
	assert.Contains(t, err.Error(), "exceeds the limit of 262144 bytes")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20))
}

// TestReaderLimitEdge: the limit is on the Remaining Length and is inclusive.
func TestReaderLimitEdge(t *testing.T) {
	at := append(mustHex(`30 64 00 01 61 // PUBLISH, remaining length 100, topic "a"`), pattern(97)...)
	over := append(mustHex(`30 65 00 01 61 // remaining length 101`), pattern(98)...)

	r := NewReader(bytes.NewReader(append(at, over...)))
	r.SetMaxPacketSize(100)
	p, err := r.ReadPacket()
	require.NoError(t, err)
	require.Equal(t, &Publish{TopicName: "a", Payload: pattern(97)}, p)
	_, err = r.ReadPacket()
	checkError(t, err, ErrTooLarge, opDecode, TypePublish, "RemainingLength", "", 1)
	assert.Contains(t, err.Error(), "limit of 100 bytes")

	for _, n := range []int{0, -1, MaxRemainingLength + 1} {
		r := NewReader(nil)
		r.SetMaxPacketSize(n)
		assert.Equal(t, MaxRemainingLength, r.max, "SetMaxPacketSize(%d)", n)
	}
	assert.Equal(t, DefaultMaxPacketSize, NewReader(nil).max)
}

// TestDecodeHugeClaim: Decode never allocates for the claimed length; a
// short buffer is io.ErrUnexpectedEOF.
func TestDecodeHugeClaim(t *testing.T) {
	b := mustHex(`30 ff ff ff 7f 00 01 61 // remaining length 268435455, 3 bytes present`)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	p, n, err := Decode(b)
	runtime.ReadMemStats(&after)
	assert.Nil(t, p)
	assert.Zero(t, n)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20))
}

// TestErrorStrings checks a few messages exactly.
func TestErrorStrings(t *testing.T) {
	_, _, err := Decode(mustHex(`30 05 00 03 61 2f 2b`))
	assert.EqualError(t, err, `packets: decode PUBLISH field TopicName at offset 2: topic name contains a wildcard ('+' or '#') (MQTT-3.3.2-2)`)

	_, _, err = Decode(mustHex(`60 02 00 01`))
	assert.EqualError(t, err, `packets: decode PUBREL field Flags at offset 0: reserved bits are not set as MQTT requires (MQTT-3.6.1-1)`)

	err = (&Publish{TopicName: "t", PacketID: 5}).Validate()
	assert.EqualError(t, err, `packets: encode PUBLISH field PacketID: set although the packet's flags say the field is absent (MQTT-2.3.1-5)`)

	_, err = (&Subscribe{PacketID: 1, Subscriptions: []Subscription{{TopicFilter: "a#"}}}).Append(nil)
	assert.EqualError(t, err, `packets: encode SUBSCRIBE field Subscriptions[0].TopicFilter: '#' must be the last character and stand alone in its level (MQTT-4.7.1-2)`)

	_, _, err = Decode(mustHex(`f0 00`))
	assert.EqualError(t, err, `packets: decode field Type at offset 0: packet type Type(15) is reserved (MQTT 3.1.1 §2.2.1)`)

	_, _, err = Decode(mustHex(`30`))
	assert.EqualError(t, err, `packets: decode at offset 1: input ends inside the packet`)

	var e *Error
	require.True(t, errors.As(err, &e))
	assert.Equal(t, io.ErrUnexpectedEOF, errors.Unwrap(err))
}

// TestDecodeErrorOffsetAfterLongHeader: offsets count from the first byte of
// the packet, so a two-byte Remaining Length moves every field by one.
func TestDecodeErrorOffsetAfterLongHeader(t *testing.T) {
	topic := strings.Repeat("a", 200) + "/+"
	// Remaining length 2 + 202 = 204 = 0x4c | continuation, 0x01.
	b := append(mustHex(`30 cc 01 00 ca // PUBLISH, remaining length 204, topic length 202`), topic...)
	_, _, err := Decode(b)
	checkError(t, err, ErrMalformed, opDecode, TypePublish, "TopicName", "MQTT-3.3.2-2", 3)
	_, err = NewReader(bytes.NewReader(b)).ReadPacket()
	checkError(t, err, ErrMalformed, opDecode, TypePublish, "TopicName", "MQTT-3.3.2-2", 3)
}

// TestStreamTruncationIsError: a stream that ends inside a packet is a
// defect of the input, and the package doc promises that every defect is an
// *Error wrapping ErrMalformed, ErrTooLarge or io.ErrUnexpectedEOF. Reader
// and ReadPacket should report it as Decode does for the same bytes.
func TestStreamTruncationIsError(t *testing.T) {
	for _, wire := range []string{
		`30`,                // type byte only
		`30 80`,             // inside the remaining length
		`32 09 00 03 61 2f`, // inside the body
	} {
		b := mustHex(wire)
		_, _, derr := Decode(b)
		var de *Error
		require.ErrorAs(t, derr, &de)

		_, rerr := NewReader(bytes.NewReader(b)).ReadPacket()
		_, perr := ReadPacket(bytes.NewReader(b))
		for name, err := range map[string]error{"Reader.ReadPacket": rerr, "ReadPacket": perr} {
			require.ErrorIs(t, err, io.ErrUnexpectedEOF, "%s(% x)", name, b)
			var e *Error
			if assert.ErrorAs(t, err, &e, "%s(% x) returns %#v", name, b, err) {
				assert.Equal(t, de.Type, e.Type, "%s(% x): Type", name, b)
				assert.Equal(t, de.Field, e.Field, "%s(% x): Field", name, b)
				assert.Equal(t, de.Rule, e.Rule, "%s(% x): Rule", name, b)
				assert.Equal(t, de.Offset, e.Offset, "%s(% x): Offset", name, b)
				assert.Equal(t, derr.Error(), err.Error(), "%s(% x)", name, b)
			}
		}
	}
}
