package packets

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The property table of MQTT 5.0 §2.2.2.2, written out independently of
// the spec: for each property the bytes of one entry, the packets that
// allow it, one that does not, and a value the standard forbids.

// carrier builds a packet of one context around a properties value, and the
// wire bytes of that packet around a properties block.
type carrier struct {
	field string // the packet field holding the properties
	pkt   func(*Properties) Packet
	wire  func(block string) string
}

func rl(body string) string { // fixed-header remaining length of a hex body
	n := len(mustHex(body))
	return string(appendRemainingLengthHex(n))
}

func appendRemainingLengthHex(n int) []byte {
	var out []byte
	for _, b := range appendRemainingLength(nil, n) {
		out = append(out, []byte(" "+hexByte(b))...)
	}
	return out
}

func hexByte(b byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&0xf]})
}

func framed(first, body string) string { return first + rl(body) + " " + body }

var carriers = map[string]carrier{
	"Connect": {"Properties",
		func(pr *Properties) Packet {
			return &Connect{ProtocolName: "MQTT", ProtocolLevel: 5, CleanSession: true, ClientID: "c", Properties: pr}
		},
		func(b string) string { return framed("10", "00 04 4d 51 54 54 05 02 00 00 "+b+" 00 01 63") }},
	"Will": {"WillProperties",
		func(pr *Properties) Packet {
			return &Connect{ProtocolName: "MQTT", ProtocolLevel: 5, CleanSession: true, ClientID: "c",
				WillFlag: true, WillTopic: "w", WillMessage: []byte{}, WillProperties: pr}
		},
		func(b string) string {
			return framed("10", "00 04 4d 51 54 54 05 06 00 00 00 00 01 63 "+b+" 00 01 77 00 00")
		}},
	"Connack": {"Properties", func(pr *Properties) Packet { return &Connack{Properties: pr} },
		func(b string) string { return framed("20", "00 00 "+b) }},
	"Publish": {"Properties", func(pr *Properties) Packet { return &Publish{TopicName: "t", Payload: []byte{}, Properties: pr} },
		func(b string) string { return framed("30", "00 01 74 "+b) }},
	"Puback": {"Properties", func(pr *Properties) Packet { return &Puback{PacketID: 1, Properties: pr} },
		func(b string) string { return framed("40", "00 01 00 "+b) }},
	"Pubrec": {"Properties", func(pr *Properties) Packet { return &Pubrec{PacketID: 1, Properties: pr} },
		func(b string) string { return framed("50", "00 01 00 "+b) }},
	"Pubrel": {"Properties", func(pr *Properties) Packet { return &Pubrel{PacketID: 1, Properties: pr} },
		func(b string) string { return framed("62", "00 01 00 "+b) }},
	"Pubcomp": {"Properties", func(pr *Properties) Packet { return &Pubcomp{PacketID: 1, Properties: pr} },
		func(b string) string { return framed("70", "00 01 00 "+b) }},
	"Subscribe": {"Properties",
		func(pr *Properties) Packet {
			return &Subscribe{PacketID: 1, Properties: pr, Subscriptions: []Subscription{{TopicFilter: "a"}}}
		},
		func(b string) string { return framed("82", "00 01 "+b+" 00 01 61 00") }},
	"Suback": {"Properties", func(pr *Properties) Packet { return &Suback{PacketID: 1, Properties: pr, ReasonCodes: []ReasonCode{0}} },
		func(b string) string { return framed("90", "00 01 "+b+" 00") }},
	"Unsubscribe": {"Properties", func(pr *Properties) Packet {
		return &Unsubscribe{PacketID: 1, Properties: pr, TopicFilters: []string{"a"}}
	},
		func(b string) string { return framed("a2", "00 01 "+b+" 00 01 61") }},
	"Unsuback": {"Properties", func(pr *Properties) Packet {
		return &Unsuback{PacketID: 1, Properties: pr, ReasonCodes: []ReasonCode{0}}
	},
		func(b string) string { return framed("b0", "00 01 "+b+" 00") }},
	"Disconnect": {"Properties", func(pr *Properties) Packet { return &Disconnect{Properties: pr} },
		func(b string) string { return framed("e0", "00 "+b) }},
	"Auth": {"Properties", func(pr *Properties) Packet { return &Auth{Properties: pr} },
		func(b string) string { return framed("f0", "00 "+b) }},
}

// block is a properties block around entries: Property Length, entries.
func block(entries string) string { return rl(entries) + " " + entries }

var allContexts = []string{"Connect", "Will", "Connack", "Publish", "Puback", "Pubrec", "Pubrel", "Pubcomp",
	"Subscribe", "Suback", "Unsubscribe", "Unsuback", "Disconnect", "Auth"}

type propCase struct {
	name    string // Properties field
	entries string // hex of the entries
	set     func(*Properties)
	in      []string // contexts that allow it
	refuse  string   // a context that does not ("" when all do)
	repeat  []string // contexts where it may repeat
	dup     string   // entries with the property twice ("" = entries twice)
	// A forbidden value: its entries, a setter, and the rule named.
	bad, badRule string
	badSet       func(*Properties)
}

var propCases = []propCase{
	{name: "PayloadFormatIndicator", entries: `01 01`, set: func(p *Properties) { p.SetPayloadFormatIndicator(1) },
		in: []string{"Publish", "Will"}, refuse: "Puback",
		bad: `01 02`, badRule: "MQTT 5.0 §3.3.2.3.2", badSet: func(p *Properties) { p.SetPayloadFormatIndicator(2) }},
	{name: "MessageExpiryInterval", entries: `02 00 00 00 3c`, set: func(p *Properties) { p.SetMessageExpiryInterval(60) },
		in: []string{"Publish", "Will"}, refuse: "Connect"},
	{name: "ContentType", entries: `03 00 01 63`, set: func(p *Properties) { p.SetContentType("c") },
		in: []string{"Publish", "Will"}, refuse: "Subscribe",
		bad: `03 00 01 ff`, badRule: "MQTT5-3.3.2-19", badSet: func(p *Properties) { p.SetContentType("\xff") }},
	{name: "ResponseTopic", entries: `08 00 01 72`, set: func(p *Properties) { p.SetResponseTopic("r") },
		in: []string{"Publish", "Will"}, refuse: "Connack",
		bad: `08 00 01 23`, badRule: "MQTT5-3.3.2-14", badSet: func(p *Properties) { p.SetResponseTopic("#") }},
	{name: "CorrelationData", entries: `09 00 01 7a`, set: func(p *Properties) { p.SetCorrelationData([]byte("z")) },
		in: []string{"Publish", "Will"}, refuse: "Disconnect"},
	{name: "SubscriptionIdentifiers", entries: `0b 0a`, set: func(p *Properties) { p.SubscriptionIdentifiers = []uint32{10} },
		in: []string{"Publish", "Subscribe"}, refuse: "Unsubscribe", repeat: []string{"Publish"},
		bad: `0b 00`, badRule: "MQTT 5.0 §3.3.2.3.8", badSet: func(p *Properties) { p.SubscriptionIdentifiers = []uint32{0} }},
	{name: "SessionExpiryInterval", entries: `11 00 00 00 78`, set: func(p *Properties) { p.SetSessionExpiryInterval(120) },
		in: []string{"Connect", "Connack", "Disconnect"}, refuse: "Publish"},
	{name: "AssignedClientIdentifier", entries: `12 00 01 78`, set: func(p *Properties) { p.SetAssignedClientIdentifier("x") },
		in: []string{"Connack"}, refuse: "Connect"},
	{name: "ServerKeepAlive", entries: `13 00 3c`, set: func(p *Properties) { p.SetServerKeepAlive(60) },
		in: []string{"Connack"}, refuse: "Connect"},
	{name: "AuthenticationMethod", entries: `15 00 01 6d`, set: func(p *Properties) { p.SetAuthenticationMethod("m") },
		in: []string{"Connect", "Connack", "Auth"}, refuse: "Publish"},
	{name: "AuthenticationData", entries: `15 00 01 6d 16 00 01 64`,
		set: func(p *Properties) { p.SetAuthenticationMethod("m"); p.SetAuthenticationData([]byte("d")) },
		in:  []string{"Connect", "Connack", "Auth"}, refuse: "Pubrel", dup: `15 00 01 6d 16 00 01 64 16 00 01 64`,
		bad: `16 00 01 64`, badRule: "MQTT 5.0 §3.1.2.11.10", badSet: func(p *Properties) { p.SetAuthenticationData([]byte("d")) }},
	{name: "RequestProblemInformation", entries: `17 00`, set: func(p *Properties) { p.SetRequestProblemInformation(0) },
		in: []string{"Connect"}, refuse: "Connack",
		bad: `17 02`, badRule: "MQTT 5.0 §3.1.2.11.7", badSet: func(p *Properties) { p.SetRequestProblemInformation(2) }},
	{name: "WillDelayInterval", entries: `18 00 00 00 05`, set: func(p *Properties) { p.SetWillDelayInterval(5) },
		in: []string{"Will"}, refuse: "Connect"},
	{name: "RequestResponseInformation", entries: `19 01`, set: func(p *Properties) { p.SetRequestResponseInformation(1) },
		in: []string{"Connect"}, refuse: "Publish",
		bad: `19 02`, badRule: "MQTT 5.0 §3.1.2.11.6", badSet: func(p *Properties) { p.SetRequestResponseInformation(2) }},
	{name: "ResponseInformation", entries: `1a 00 01 69`, set: func(p *Properties) { p.SetResponseInformation("i") },
		in: []string{"Connack"}, refuse: "Connect"},
	{name: "ServerReference", entries: `1c 00 01 73`, set: func(p *Properties) { p.SetServerReference("s") },
		in: []string{"Connack", "Disconnect"}, refuse: "Auth"},
	{name: "ReasonString", entries: `1f 00 01 72`, set: func(p *Properties) { p.SetReasonString("r") },
		in: []string{"Connack", "Puback", "Pubrec", "Pubrel", "Pubcomp", "Suback", "Unsuback", "Disconnect", "Auth"}, refuse: "Publish",
		bad: `1f 00 01 00`, badRule: "MQTT5-1.5.4-2", badSet: func(p *Properties) { p.SetReasonString("\x00") }},
	{name: "ReceiveMaximum", entries: `21 00 14`, set: func(p *Properties) { p.SetReceiveMaximum(20) },
		in: []string{"Connect", "Connack"}, refuse: "Publish",
		bad: `21 00 00`, badRule: "MQTT 5.0 §3.1.2.11.3", badSet: func(p *Properties) { p.SetReceiveMaximum(0) }},
	{name: "TopicAliasMaximum", entries: `22 00 0a`, set: func(p *Properties) { p.SetTopicAliasMaximum(10) },
		in: []string{"Connect", "Connack"}, refuse: "Publish"},
	{name: "TopicAlias", entries: `23 00 03`, set: func(p *Properties) { p.SetTopicAlias(3) },
		in: []string{"Publish"}, refuse: "Connect",
		bad: `23 00 00`, badRule: "MQTT5-3.3.2-8", badSet: func(p *Properties) { p.SetTopicAlias(0) }},
	{name: "MaximumQoS", entries: `24 01`, set: func(p *Properties) { p.SetMaximumQoS(1) },
		in: []string{"Connack"}, refuse: "Connect",
		bad: `24 02`, badRule: "MQTT 5.0 §3.2.2.3.4", badSet: func(p *Properties) { p.SetMaximumQoS(2) }},
	{name: "RetainAvailable", entries: `25 00`, set: func(p *Properties) { p.SetRetainAvailable(0) },
		in: []string{"Connack"}, refuse: "Publish",
		bad: `25 02`, badRule: "MQTT 5.0 §3.2.2.3.5", badSet: func(p *Properties) { p.SetRetainAvailable(2) }},
	{name: "UserProperties", entries: `26 00 01 6b 00 01 76`, set: func(p *Properties) { p.UserProperties = []StringPair{{"k", "v"}} },
		in: allContexts, repeat: allContexts,
		bad: `26 00 01 6b 00 01 ff`, badRule: "MQTT5-1.5.7-1", badSet: func(p *Properties) { p.UserProperties = []StringPair{{"k", "\xff"}} }},
	{name: "MaximumPacketSize", entries: `27 00 00 04 00`, set: func(p *Properties) { p.SetMaximumPacketSize(1024) },
		in: []string{"Connect", "Connack"}, refuse: "Publish",
		bad: `27 00 00 00 00`, badRule: "MQTT 5.0 §3.1.2.11.4", badSet: func(p *Properties) { p.SetMaximumPacketSize(0) }},
	{name: "WildcardSubscriptionAvailable", entries: `28 00`, set: func(p *Properties) { p.SetWildcardSubscriptionAvailable(0) },
		in: []string{"Connack"}, refuse: "Connect",
		bad: `28 02`, badRule: "MQTT 5.0 §3.2.2.3.11", badSet: func(p *Properties) { p.SetWildcardSubscriptionAvailable(2) }},
	{name: "SubscriptionIdentifierAvailable", entries: `29 01`, set: func(p *Properties) { p.SetSubscriptionIdentifierAvailable(1) },
		in: []string{"Connack"}, refuse: "Subscribe",
		bad: `29 02`, badRule: "MQTT 5.0 §3.2.2.3.12", badSet: func(p *Properties) { p.SetSubscriptionIdentifierAvailable(2) }},
	{name: "SharedSubscriptionAvailable", entries: `2a 01`, set: func(p *Properties) { p.SetSharedSubscriptionAvailable(1) },
		in: []string{"Connack"}, refuse: "Suback",
		bad: `2a 05`, badRule: "MQTT 5.0 §3.2.2.3.13", badSet: func(p *Properties) { p.SetSharedSubscriptionAvailable(5) }},
}

func decode5Err(t *testing.T, wire string) *Error {
	t.Helper()
	p, n, err := DecodeVersion(mustHex(wire), ProtocolMQTT5)
	require.Error(t, err, "%s", wire)
	assert.Nil(t, p)
	assert.Zero(t, n)
	require.ErrorIs(t, err, ErrMalformed)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, opDecode, e.Op)
	return e
}

// TestPropertyTable covers every property: allowed where the standard
// allows it (MQTT 5.0 §2.2.2.2), refused elsewhere as a Malformed Packet,
// repeated where it may appear once as a Protocol Error, and a forbidden
// value (0, a byte flag above 1, a string breaking §1.5.4) refused.
func TestPropertyTable(t *testing.T) {
	require.Len(t, propCases, 27, "one case per property of MQTT 5.0 §2.2.2.2")
	for _, c := range propCases {
		t.Run(c.name, func(t *testing.T) {
			pr := props(c.set)
			for _, ctx := range c.in {
				car := carriers[ctx]
				want := mustHex(car.wire(block(c.entries)))
				pkt := car.pkt(pr)
				got, err := pkt.AppendVersion(nil, ProtocolMQTT5)
				require.NoError(t, err, ctx)
				assert.Equal(t, want, got, "%s carries %s", ctx, c.name)
				p, _, err := DecodeVersion(want, ProtocolMQTT5)
				require.NoError(t, err, ctx)
				assert.Equal(t, pkt, p, ctx)
			}

			if c.refuse != "" {
				car := carriers[c.refuse]
				e := decode5Err(t, car.wire(block(c.entries)))
				assert.Equal(t, car.field, e.Field, "refused in %s", c.refuse)
				assert.Equal(t, "MQTT 5.0 §2.2.2.2", e.Rule)
				assert.Equal(t, ReasonMalformedPacket, e.Code, "an identifier the packet does not allow is malformed")

				_, err := car.pkt(pr).AppendVersion(nil, ProtocolMQTT5)
				var ee *Error
				require.ErrorAs(t, err, &ee, "encoding %s in %s", c.name, c.refuse)
				assert.True(t, strings.HasPrefix(ee.Field, car.field+"."), ee.Field)
				assert.Equal(t, "MQTT 5.0 §2.2.2.2", ee.Rule)
			}

			dup := c.dup
			if dup == "" {
				dup = c.entries + " " + c.entries
			}
			for _, ctx := range c.in {
				car := carriers[ctx]
				wire := car.wire(block(dup))
				if contains(c.repeat, ctx) {
					p, _, err := DecodeVersion(mustHex(wire), ProtocolMQTT5)
					require.NoError(t, err, "%s may repeat in %s", c.name, ctx)
					assert.Contains(t, p.(interface{ String() string }).String(), c.name)
					continue
				}
				e := decode5Err(t, wire)
				assert.Equal(t, car.field+"."+c.name, e.Field, "repeated in %s", ctx)
				assert.Equal(t, ReasonProtocolError, e.Code, "a repeated property is a Protocol Error")
			}

			if c.bad != "" {
				car := carriers[c.in[0]]
				e := decode5Err(t, car.wire(block(c.bad)))
				assert.Equal(t, car.field+"."+c.name, e.Field)
				assert.Equal(t, c.badRule, e.Rule)
				_, err := car.pkt(props(c.badSet)).AppendVersion(nil, ProtocolMQTT5)
				var ee *Error
				require.ErrorAs(t, err, &ee)
				assert.True(t, strings.HasPrefix(ee.Field, car.field+"."+c.name), ee.Field)
				assert.Equal(t, c.badRule, ee.Rule)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestPropertyErrorCodes: the value rules of the table are Protocol Errors
// (0x82); broken strings are Malformed Packets (0x81) (MQTT 5.0 §2.2.2.2,
// §1.5.4).
func TestPropertyErrorCodes(t *testing.T) {
	protocol := map[string]bool{"PayloadFormatIndicator": true, "SubscriptionIdentifiers": true, "AuthenticationData": true,
		"RequestProblemInformation": true, "RequestResponseInformation": true, "ReceiveMaximum": true, "TopicAlias": true,
		"MaximumQoS": true, "RetainAvailable": true, "MaximumPacketSize": true, "WildcardSubscriptionAvailable": true,
		"SubscriptionIdentifierAvailable": true, "SharedSubscriptionAvailable": true}
	for _, c := range propCases {
		if c.bad == "" {
			continue
		}
		e := decode5Err(t, carriers[c.in[0]].wire(block(c.bad)))
		want := ReasonMalformedPacket
		if protocol[c.name] {
			want = ReasonProtocolError
		}
		assert.Equal(t, want, e.Code, c.name)
	}
}

// TestVarintMinimal: every Variable Byte Integer is written in the fewest
// bytes (MQTT5-1.5.5-1): subscription identifiers at each boundary, and a
// property length above 127.
func TestVarintMinimal(t *testing.T) {
	for _, c := range []struct {
		id   uint32
		wire string
	}{
		{127, `7f`}, {128, `80 01`}, {16383, `ff 7f`}, {16384, `80 80 01`}, {2097151, `ff ff 7f`}, {2097152, `80 80 80 01`}, {268435455, `ff ff ff 7f`},
	} {
		s := &Subscribe{PacketID: 1, Properties: props(func(p *Properties) { p.SubscriptionIdentifiers = []uint32{c.id} }),
			Subscriptions: []Subscription{{TopicFilter: "a"}}}
		entries := "0b " + c.wire
		want := carriers["Subscribe"].wire(block(entries))
		got, err := s.AppendVersion(nil, ProtocolMQTT5)
		require.NoError(t, err)
		assert.Equal(t, mustHex(want), got, "%d", c.id)
	}
	s := &Subscribe{PacketID: 1, Properties: props(func(p *Properties) { p.SubscriptionIdentifiers = []uint32{268435456} }),
		Subscriptions: []Subscription{{TopicFilter: "a"}}}
	_, err := s.AppendVersion(nil, ProtocolMQTT5)
	checkError(t, err, ErrMalformed, opEncode, TypeSubscribe, "Properties.SubscriptionIdentifiers[0]", "MQTT 5.0 §3.3.2.3.8", -1)

	// A Reason String of 200 bytes needs a two-byte Property Length.
	p := &Puback{PacketID: 1, Properties: props(func(p *Properties) { p.SetReasonString(strings.Repeat("r", 200)) })}
	b, err := p.AppendVersion(nil, ProtocolMQTT5)
	require.NoError(t, err)
	assert.Equal(t, mustHex(`40 d0 01 00 01 00 cb 01 1f 00 c8`), b[:11], "remaining length 208, property length 203")
}
