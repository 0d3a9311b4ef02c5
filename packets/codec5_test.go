package packets

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// MQTT 5.0 encodings worked out by hand from the OASIS MQTT Version 5.0
// standard. Test names cite its statements as MQTT5-x.y.z-n, so that they
// are never read as the 3.1.1 statement with the same number.

// props builds a Properties value with f.
func props(f func(*Properties)) *Properties {
	p := new(Properties)
	f(p)
	return p
}

var codec5Cases = []codecCase{
	// CONNECT (§3.1). The level byte 5 selects MQTT 5.0 (MQTT5-3.1.2-1).
	{
		name: "CONNECT/properties (MQTT5-3.1.2-1, MQTT5-3.1.3-3, MQTT5-2.2.2-1)",
		pkt: &Connect{ProtocolName: "MQTT", ProtocolLevel: ProtocolMQTT5, CleanSession: true, KeepAlive: 30, ClientID: "c",
			Properties: props(func(p *Properties) {
				p.SetSessionExpiryInterval(120)
				p.SetReceiveMaximum(20)
				p.UserProperties = []StringPair{{"k", "v"}}
			})},
		wire: `
			10 1d             // CONNECT, remaining length 29
			00 04 4d 51 54 54 // "MQTT"
			05                // level 5
			02                // clean start
			00 1e             // keep alive 30
			0f                // property length 15
			11 00 00 00 78    // Session Expiry Interval 120
			21 00 14          // Receive Maximum 20
			26 00 01 6b 00 01 76 // User Property "k"="v"
			00 01 63          // client id "c", first in the payload (MQTT5-3.1.3-3)
		`,
	},
	{
		name: "CONNECT/will properties, user name, password and authentication (MQTT5-3.1.2-9, MQTT5-3.1.3-1, MQTT5-3.1.2-17, MQTT5-3.1.2-19)",
		pkt: &Connect{ProtocolName: "MQTT", ProtocolLevel: ProtocolMQTT5,
			UsernameFlag: true, PasswordFlag: true, WillRetain: true, WillQoS: 1, WillFlag: true, CleanSession: true,
			KeepAlive: 10, ClientID: "id",
			Properties: props(func(p *Properties) {
				p.SetAuthenticationMethod("m")
				p.SetAuthenticationData([]byte("d"))
			}),
			WillProperties: props(func(p *Properties) {
				p.SetWillDelayInterval(5)
				p.SetPayloadFormatIndicator(1)
			}),
			WillTopic: "w", WillMessage: []byte("x"), Username: "u", Password: []byte("p")},
		wire: `
			10 2b             // CONNECT, remaining length 43
			00 04 4d 51 54 54 05
			ee                // user name, password, will retain, will QoS 1, will, clean start
			00 0a             // keep alive 10
			08                // property length 8
			15 00 01 6d       // Authentication Method "m"
			16 00 01 64       // Authentication Data "d"
			00 02 69 64       // client id "id"
			07                // will property length 7 (MQTT5-3.1.3-1: after the client id)
			01 01             // Payload Format Indicator 1
			18 00 00 00 05    // Will Delay Interval 5
			00 01 77          // will topic "w"
			00 01 78          // will payload "x"
			00 01 75          // user name "u"
			00 01 70          // password "p"
		`,
	},
	{
		name: "CONNECT/password without user name is legal in 5.0 (MQTT5-3.1.2-19)",
		pkt:  &Connect{ProtocolName: "MQTT", ProtocolLevel: ProtocolMQTT5, PasswordFlag: true, ClientID: "", Password: []byte("p")},
		wire: `
			10 10 00 04 4d 51 54 54 05
			40                // password only; no clean start with an empty client id is legal too
			00 00             // keep alive 0
			00                // no properties
			00 00             // empty client id
			00 01 70          // password "p"
		`,
	},

	// CONNACK (§3.2).
	{
		name: "CONNACK/properties",
		pkt: &Connack{SessionPresent: true, Properties: props(func(p *Properties) {
			p.SetAssignedClientIdentifier("x")
			p.SetServerKeepAlive(60)
			p.SetTopicAliasMaximum(10)
			p.SetMaximumQoS(1)
			p.SetRetainAvailable(0)
		})},
		wire: `
			20 11             // CONNACK, remaining length 17
			01                // session present
			00                // reason code Success
			0e                // property length 14
			12 00 01 78       // Assigned Client Identifier "x" (MQTT5-3.2.2-16)
			13 00 3c          // Server Keep Alive 60 (MQTT5-3.1.2-21)
			22 00 0a          // Topic Alias Maximum 10
			24 01             // Maximum QoS 1
			25 00             // Retain Available 0, present with value 0
		`,
	},
	{
		name: "CONNACK/refused, property length 0 written (MQTT5-2.2.2-1, MQTT5-4.13.2-1)",
		pkt:  &Connack{ReasonCode: ReasonNotAuthorized},
		wire: `20 03 00 87 00 // flags 0, Not authorized, no properties`,
	},

	// PUBLISH (§3.3).
	{
		name: "PUBLISH/QoS 0 without properties (MQTT5-2.2.2-1, MQTT5-2.2.1-2)",
		pkt:  &Publish{TopicName: "a/b", Payload: []byte("hi")},
		wire: `
			30 08             // PUBLISH QoS 0, remaining length 8
			00 03 61 2f 62    // topic "a/b"
			00                // property length 0: present although empty
			68 69             // payload "hi"
		`,
	},
	{
		name: "PUBLISH/every PUBLISH property, subscription identifiers in order (MQTT5-3.3.4-3, MQTT5-1.5.5-1)",
		pkt: &Publish{QoS: 1, Retain: true, TopicName: "t", PacketID: 7, Payload: []byte("p"),
			Properties: props(func(p *Properties) {
				p.SetPayloadFormatIndicator(1)
				p.SetMessageExpiryInterval(60)
				p.SetContentType("c")
				p.SetResponseTopic("r")
				p.SetCorrelationData([]byte("z"))
				p.SubscriptionIdentifiers = []uint32{1, 200}
				p.SetTopicAlias(3)
				p.UserProperties = []StringPair{{"a", "b"}}
			})},
		wire: `
			33 29             // PUBLISH QoS 1 retain, remaining length 41
			00 01 74          // topic "t"
			00 07             // packet id 7
			22                // property length 34
			01 01             // Payload Format Indicator 1 (UTF-8)
			02 00 00 00 3c    // Message Expiry Interval 60
			03 00 01 63       // Content Type "c"
			08 00 01 72       // Response Topic "r"
			09 00 01 7a       // Correlation Data "z"
			0b 01             // Subscription Identifier 1
			0b c8 01          // Subscription Identifier 200, two bytes, no more (MQTT5-1.5.5-1)
			23 00 03          // Topic Alias 3
			26 00 01 61 00 01 62 // User Property "a"="b"
			70                // payload "p"
		`,
	},
	{
		name: "PUBLISH/a byte order mark is a character, kept as it is (MQTT5-1.5.4-3)",
		pkt:  &Publish{TopicName: "\ufeffa", Payload: []byte{}, Properties: props(func(p *Properties) { p.SetContentType("\ufeff") })},
		wire: `30 0d 00 04 ef bb bf 61 06 03 00 03 ef bb bf // topic U+FEFF "a", Content Type U+FEFF`,
	},
	{
		name: "PUBLISH/empty topic name with a topic alias (MQTT5-3.3.2-1, MQTT5-4.7.3-1)",
		pkt:  &Publish{TopicName: "", Payload: []byte{}, Properties: props(func(p *Properties) { p.SetTopicAlias(1) })},
		wire: `30 06 00 00 03 23 00 01 // empty topic, Topic Alias 1, empty payload`,
	},

	// PUBACK, PUBREC, PUBREL, PUBCOMP (§3.4-§3.7): the shortest form.
	{name: "PUBACK/short form, success (MQTT5-2.2.1-5)", pkt: &Puback{PacketID: 7}, wire: `40 02 00 07`},
	{name: "PUBACK/reason code without properties (MQTT5-3.4.2-1)", pkt: &Puback{PacketID: 7, ReasonCode: ReasonNoMatchingSubscribers},
		wire: `40 03 00 07 10 // No matching subscribers, no property length`},
	{name: "PUBACK/success with a reason string", pkt: &Puback{PacketID: 7, Properties: props(func(p *Properties) { p.SetReasonString("no") })},
		wire: `40 09 00 07 00 05 1f 00 02 6e 6f // Success, property length 5, Reason String "no"`},
	{name: "PUBREC/failure (MQTT5-3.5.2-1)", pkt: &Pubrec{PacketID: 8, ReasonCode: ReasonUnspecifiedError}, wire: `50 03 00 08 80`},
	{name: "PUBREL/short form (MQTT5-3.6.1-1)", pkt: &Pubrel{PacketID: 9}, wire: `62 02 00 09 // flags 0010`},
	{name: "PUBREL/packet identifier not found (MQTT5-3.6.2-1)", pkt: &Pubrel{PacketID: 9, ReasonCode: ReasonPacketIdentifierNotFound}, wire: `62 03 00 09 92`},
	{name: "PUBCOMP/short form (MQTT5-3.7.2-1)", pkt: &Pubcomp{PacketID: 10}, wire: `70 02 00 0a`},
	{name: "PUBCOMP/user property after a success code", pkt: &Pubcomp{PacketID: 10, Properties: props(func(p *Properties) { p.UserProperties = []StringPair{{"k", "v"}} })},
		wire: `70 0b 00 0a 00 07 26 00 01 6b 00 01 76`},

	// SUBSCRIBE (§3.8).
	{
		name: "SUBSCRIBE/options and a subscription identifier (MQTT5-3.8.1-1, MQTT5-3.8.3-1, MQTT5-3.8.3-5)",
		pkt: &Subscribe{PacketID: 5, Properties: props(func(p *Properties) { p.SubscriptionIdentifiers = []uint32{10} }),
			Subscriptions: []Subscription{
				{TopicFilter: "a/+", QoS: 2, NoLocal: true, RetainAsPublished: true, RetainHandling: RetainSendIfNew},
				{TopicFilter: "b"},
			}},
		wire: `
			82 0f             // SUBSCRIBE, flags 0010, remaining length 15
			00 05             // packet id 5
			02 0b 0a          // property length 2: Subscription Identifier 10
			00 03 61 2f 2b    // "a/+"
			1e                // retain handling 1, retain as published, no local, QoS 2; bits 6-7 zero
			00 01 62 00       // "b", QoS 0
		`,
	},

	{
		name: "SUBSCRIBE/shared subscription (MQTT5-4.8.2-1, MQTT5-4.8.2-2)",
		pkt:  &Subscribe{PacketID: 1, Subscriptions: []Subscription{{TopicFilter: "$share/g/a/#", QoS: 1}}},
		wire: `82 12 00 01 00 00 0c 24 73 68 61 72 65 2f 67 2f 61 2f 23 01 // "$share/g/a/#", QoS 1`,
	},

	// SUBACK (§3.9), UNSUBSCRIBE (§3.10), UNSUBACK (§3.11).
	{name: "SUBACK/reason codes in order", pkt: &Suback{PacketID: 5, ReasonCodes: []ReasonCode{ReasonGrantedQoS2, ReasonWildcardSubscriptionsNotSupported}},
		wire: `90 05 00 05 00 02 a2 // no properties, Granted QoS 2, Wildcard Subscriptions not supported`},
	{
		name: "UNSUBSCRIBE/user property (MQTT5-3.10.1-1, MQTT5-3.10.3-1)",
		pkt:  &Unsubscribe{PacketID: 6, Properties: props(func(p *Properties) { p.UserProperties = []StringPair{{"k", "v"}} }), TopicFilters: []string{"a/#"}},
		wire: `
			a2 0f             // UNSUBSCRIBE, flags 0010
			00 06
			07 26 00 01 6b 00 01 76 // User Property "k"="v"
			00 03 61 2f 23    // "a/#"
		`,
	},
	{name: "UNSUBACK/reason codes", pkt: &Unsuback{PacketID: 6, ReasonCodes: []ReasonCode{ReasonSuccess, ReasonNoSubscriptionExisted}},
		wire: `b0 05 00 06 00 00 11`},

	// PINGREQ, PINGRESP (§3.12, §3.13) are as in 3.1.1.
	{name: "PINGREQ/", pkt: &Pingreq{}, wire: `c0 00`},
	{name: "PINGRESP/", pkt: &Pingresp{}, wire: `d0 00`},

	// DISCONNECT (§3.14).
	{name: "DISCONNECT/short form, normal disconnection (MQTT5-3.14.2-1)", pkt: &Disconnect{}, wire: `e0 00`},
	{name: "DISCONNECT/with will message (MQTT5-3.14.2-1)", pkt: &Disconnect{ReasonCode: ReasonDisconnectWithWillMessage}, wire: `e0 01 04`},
	{name: "DISCONNECT/server reference", pkt: &Disconnect{ReasonCode: ReasonUseAnotherServer, Properties: props(func(p *Properties) { p.SetServerReference("s") })},
		wire: `e0 06 9c 04 1c 00 01 73 // Use another server, Server Reference "s"`},

	// AUTH (§3.15).
	{name: "AUTH/short form (MQTT5-3.15.1-1)", pkt: &Auth{}, wire: `f0 00`},
	{
		name: "AUTH/continue with method and data (MQTT5-3.15.2-1, MQTT5-4.12.0-5)",
		pkt: &Auth{ReasonCode: ReasonContinueAuthentication, Properties: props(func(p *Properties) {
			p.SetAuthenticationMethod("m")
			p.SetAuthenticationData([]byte("ab"))
		})},
		wire: `
			f0 0b             // AUTH, flags 0000
			18                // Continue authentication
			09                // property length 9
			15 00 01 6d       // Authentication Method "m"
			16 00 02 61 62    // Authentication Data "ab"
		`,
	},
}

// TestCodec5Table: each packet encodes at level 5 to the bytes worked out
// by hand, and Decode at level 5 (and a Reader set to level 5) gives it
// back.
func TestCodec5Table(t *testing.T) {
	for _, c := range codec5Cases {
		t.Run(c.name, func(t *testing.T) {
			want := c.bytes()
			got, err := c.pkt.AppendVersion(nil, ProtocolMQTT5)
			require.NoError(t, err)
			require.Equal(t, want, got, "AppendVersion")
			require.Equal(t, len(want), c.pkt.SizeVersion(ProtocolMQTT5), "SizeVersion")
			require.NoError(t, c.pkt.ValidateVersion(ProtocolMQTT5))

			got, err = AppendWithin([]byte("x"), c.pkt, ProtocolMQTT5, len(want))
			require.NoError(t, err)
			require.Equal(t, append([]byte("x"), want...), got, "AppendWithin, exactly at the limit")

			p, n, err := DecodeVersion(want, ProtocolMQTT5)
			require.NoError(t, err)
			require.Equal(t, len(want), n)
			require.Equal(t, c.pkt, p)

			r := NewReader(bytes.NewReader(append(want[:len(want):len(want)], want...)))
			r.SetProtocol(ProtocolMQTT5)
			for range 2 {
				p, err = r.ReadPacket()
				require.NoError(t, err)
				require.Equal(t, c.pkt, p)
			}

			s := c.pkt.(fmt.Stringer).String()
			assert.True(t, strings.HasPrefix(s, c.pkt.Type().String()+"{"), s)
		})
	}
}

// TestCodec5Connect: CONNECT carries its level. Append, whose meaning is
// 3.1.1, refuses level 5 as before; AppendVersion at level 5 writes a
// level-4 CONNECT as 3.1.1, for a client that falls back.
func TestCodec5Connect(t *testing.T) {
	c := &Connect{ProtocolName: "MQTT", ProtocolLevel: ProtocolMQTT5, ClientID: "c"}
	_, err := c.Append(nil)
	checkError(t, err, ErrMalformed, opEncode, TypeConnect, "ProtocolLevel", "MQTT-3.1.2-2", -1)
	_, _, err = Decode(mustHex(`10 0e 00 04 4d 51 54 54 05 00 00 00 00 00 01 63`))
	checkError(t, err, ErrMalformed, opDecode, TypeConnect, "ProtocolLevel", "MQTT-3.1.2-2", 8)

	old := &Connect{ProtocolName: "MQTT", ProtocolLevel: ProtocolMQTT311, CleanSession: true}
	b311, err := old.Append(nil)
	require.NoError(t, err)
	b, err := old.AppendVersion(nil, ProtocolMQTT5)
	require.NoError(t, err)
	assert.Equal(t, b311, b)
	p, _, err := DecodeVersion(b, ProtocolMQTT5)
	require.NoError(t, err)
	assert.Equal(t, old, p)
}

// decode5Cases are legal encodings that are not the shortest form, or
// properties in another order than the encoder's: Decode accepts them, and
// encoding the result gives the canonical bytes (§2.2.2; "a decoder accepts
// every form").
var decode5Cases = []struct {
	name      string
	wire      string
	pkt       Packet
	canonical string
}{
	{"PUBACK with reason code 0 and property length 0", `40 04 00 07 00 00`, &Puback{PacketID: 7}, `40 02 00 07`},
	{"PUBACK with reason code 0 only", `40 03 00 07 00`, &Puback{PacketID: 7}, `40 02 00 07`},
	{"PUBREC with reason code and empty properties", `50 04 00 07 10 00`, &Pubrec{PacketID: 7, ReasonCode: ReasonNoMatchingSubscribers}, `50 03 00 07 10`},
	{"PUBREL long form", `62 04 00 07 00 00`, &Pubrel{PacketID: 7}, `62 02 00 07`},
	{"PUBCOMP long form", `70 04 00 07 92 00`, &Pubcomp{PacketID: 7, ReasonCode: ReasonPacketIdentifierNotFound}, `70 03 00 07 92`},
	{"DISCONNECT reason code 0 only", `e0 01 00`, &Disconnect{}, `e0 00`},
	{"DISCONNECT reason code 0 and empty properties", `e0 02 00 00`, &Disconnect{}, `e0 00`},
	{"AUTH reason code 0 and empty properties", `f0 02 00 00`, &Auth{}, `f0 00`},
	{
		"PUBLISH properties in another order",
		`30 0d 00 01 74 09 26 00 01 61 00 01 62 01 01`,
		&Publish{TopicName: "t", Payload: []byte{}, Properties: props(func(p *Properties) {
			p.UserProperties = []StringPair{{"a", "b"}}
			p.SetPayloadFormatIndicator(1)
		})},
		`30 0d 00 01 74 09 01 01 26 00 01 61 00 01 62`,
	},
	{
		"user properties keep their order, repeated names too (MQTT 5.0 §3.3.2.3.7)",
		`40 19 00 07 00 15 26 00 01 62 00 01 32 26 00 01 61 00 01 31 26 00 01 62 00 01 33`,
		&Puback{PacketID: 7, Properties: props(func(p *Properties) {
			p.UserProperties = []StringPair{{"b", "2"}, {"a", "1"}, {"b", "3"}}
		})},
		`40 19 00 07 00 15 26 00 01 62 00 01 32 26 00 01 61 00 01 31 26 00 01 62 00 01 33`,
	},
	{"subscription identifier in a non-minimal encoding is accepted", `30 07 00 01 74 03 0b 81 00`,
		&Publish{TopicName: "t", Payload: []byte{}, Properties: props(func(p *Properties) { p.SubscriptionIdentifiers = []uint32{1} })},
		`30 06 00 01 74 02 0b 01`},
}

func TestDecode5LongForms(t *testing.T) {
	for _, c := range decode5Cases {
		t.Run(c.name, func(t *testing.T) {
			p, n, err := DecodeVersion(mustHex(c.wire), ProtocolMQTT5)
			require.NoError(t, err)
			require.Equal(t, len(mustHex(c.wire)), n)
			require.Equal(t, c.pkt, p)
			b, err := p.AppendVersion(nil, ProtocolMQTT5)
			require.NoError(t, err)
			require.Equal(t, mustHex(c.canonical), b)
		})
	}
}

// TestStringShowsProperties: String lists the properties that are set and
// redacts the password and the authentication data.
func TestStringShowsProperties(t *testing.T) {
	c := codec5Cases[1].pkt.(*Connect)
	s := c.String()
	assert.Contains(t, s, `AuthenticationMethod:"m"`)
	assert.Contains(t, s, `AuthenticationData:<redacted>`)
	assert.Contains(t, s, `Password:<redacted>`)
	assert.Contains(t, s, `WillProperties:{PayloadFormatIndicator:1 WillDelayInterval:5}`)
	assert.NotContains(t, s, `"p"`)

	p := codec5Cases[6].pkt.(*Publish)
	assert.Contains(t, p.String(), `SubscriptionIdentifiers:[1 200]`)
	assert.Contains(t, p.String(), `UserProperties:["a":"b"]`)

	a := codec5Cases[len(codec5Cases)-1].pkt.(*Auth)
	assert.Equal(t, `AUTH{ReasonCode:24 Properties:{AuthenticationMethod:"m" AuthenticationData:<redacted>}}`, a.String())

	// A 3.1.1 packet reads as before: no 5.0 field is shown unless set.
	assert.Equal(t, `PUBACK{PacketID:7}`, (&Puback{PacketID: 7}).String())
}

// TestReasonCodes: each packet's set, and the names one number has in
// different packets (MQTT 5.0 §2.4).
func TestReasonCodes(t *testing.T) {
	sets := map[Type][]ReasonCode{
		TypeConnack:    {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f},
		TypePuback:     {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99},
		TypePubrec:     {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99},
		TypePubrel:     {0x00, 0x92},
		TypePubcomp:    {0x00, 0x92},
		TypeSuback:     {0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2},
		TypeUnsuback:   {0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91},
		TypeDisconnect: {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2},
		TypeAuth:       {0x00, 0x18, 0x19},
	}
	assert.Len(t, sets[TypeConnack], 22)
	assert.Len(t, sets[TypeDisconnect], 29)
	for typ := Type(0); typ < 16; typ++ {
		in := map[ReasonCode]bool{}
		for _, c := range sets[typ] {
			in[c] = true
		}
		for c := 0; c < 256; c++ {
			assert.Equal(t, in[ReasonCode(c)], ReasonCode(c).ValidFor(typ), "%s %#02x", typ, c)
		}
	}
	assert.Equal(t, "Success", ReasonSuccess.String())
	assert.Equal(t, "Normal disconnection", ReasonSuccess.NameFor(TypeDisconnect))
	assert.Equal(t, "Granted QoS 0", ReasonSuccess.NameFor(TypeSuback))
	assert.Equal(t, "Success", ReasonSuccess.NameFor(TypePuback))
	assert.Equal(t, "Packet too large", ReasonPacketTooLarge.NameFor(TypeDisconnect))
	assert.Equal(t, "ReasonCode(3)", ReasonCode(3).String())
	assert.Equal(t, "Topic Alias", PropTopicAlias.String())
}
