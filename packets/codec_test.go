package packets

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mustHex turns a commented hex listing into bytes. Everything from "//" to
// the end of a line is a comment; whitespace is ignored.
func mustHex(s string) []byte {
	var clean strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		clean.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(clean.String())
	if err != nil {
		panic("bad hex in test table: " + err.Error())
	}
	return b
}

// pattern returns n bytes that differ from their neighbours, so that a
// shifted or truncated payload cannot compare equal.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// codecCase is one packet and its encoding, worked out by hand from the
// MQTT 3.1.1 standard. Byte slices are written as Decode returns them:
// a present but empty field decodes to an empty, non-nil slice.
type codecCase struct {
	name string
	pkt  Packet
	wire string // commented hex
	tail []byte // appended to wire (large payloads)
}

func (c codecCase) bytes() []byte {
	return append(mustHex(c.wire), c.tail...)
}

var codecCases = []codecCase{
	// CONNECT (§3.1). Fixed header 0x10: type 1, flags 0000 (MQTT-2.2.2-1).
	{
		name: "CONNECT/minimal empty client id with clean session (MQTT-3.1.3-7 allows it)",
		pkt:  &Connect{ProtocolName: "MQTT", ProtocolLevel: ProtocolMQTT311, CleanSession: true, KeepAlive: 60},
		wire: `
			10          // CONNECT, flags 0000
			0c          // remaining length 12
			00 04       // protocol name length 4
			4d 51 54 54 // "MQTT" (MQTT-3.1.2-1)
			04          // protocol level 4
			02          // connect flags: clean session
			00 3c       // keep alive 60
			00 00       // client id: empty (MQTT-3.1.3-3: present and first)
		`,
	},
	{
		name: "CONNECT/clean session off",
		pkt:  &Connect{ProtocolName: "MQTT", ProtocolLevel: ProtocolMQTT311, ClientID: "c1"},
		wire: `
			10          // CONNECT
			0e          // remaining length 14
			00 04 4d 51 54 54 // "MQTT"
			04          // level 4
			00          // connect flags: none
			00 00       // keep alive 0
			00 02 63 31 // client id "c1"
		`,
	},
	{
		name: "CONNECT/will QoS 0 (MQTT-3.1.2-9)",
		pkt: &Connect{ProtocolName: "MQTT", ProtocolLevel: ProtocolMQTT311, CleanSession: true, KeepAlive: 10,
			ClientID: "c", WillFlag: true, WillTopic: "w", WillMessage: []byte("bye")},
		wire: `
			10          // CONNECT
			15          // remaining length 21
			00 04 4d 51 54 54 // "MQTT"
			04          // level 4
			06          // connect flags: will flag 0x04, clean session 0x02
			00 0a       // keep alive 10
			00 01 63    // client id "c"
			00 01 77    // will topic "w"
			00 03 62 79 65 // will message "bye"
		`,
	},
	{
		name: "CONNECT/will QoS 1 retained, empty will message",
		pkt: &Connect{ProtocolName: "MQTT", ProtocolLevel: ProtocolMQTT311, CleanSession: true, KeepAlive: 10,
			ClientID: "c", WillFlag: true, WillQoS: AtLeastOnce, WillRetain: true, WillTopic: "w", WillMessage: []byte{}},
		wire: `
			10          // CONNECT
			12          // remaining length 18
			00 04 4d 51 54 54 // "MQTT"
			04          // level 4
			2e          // connect flags: will retain 0x20, will QoS 1 0x08, will 0x04, clean 0x02
			00 0a       // keep alive 10
			00 01 63    // client id "c"
			00 01 77    // will topic "w"
			00 00       // will message: empty
		`,
	},
	{
		name: "CONNECT/will QoS 2",
		pkt: &Connect{ProtocolName: "MQTT", ProtocolLevel: ProtocolMQTT311, CleanSession: true, KeepAlive: 10,
			ClientID: "c", WillFlag: true, WillQoS: ExactlyOnce, WillTopic: "w", WillMessage: []byte("x")},
		wire: `
			10          // CONNECT
			13          // remaining length 19
			00 04 4d 51 54 54 // "MQTT"
			04          // level 4
			16          // connect flags: will QoS 2 0x10, will 0x04, clean 0x02
			00 0a       // keep alive 10
			00 01 63    // client id "c"
			00 01 77    // will topic "w"
			00 01 78    // will message "x"
		`,
	},
	{
		name: "CONNECT/user name without password (MQTT-3.1.2-18, MQTT-3.1.2-19, MQTT-3.1.2-20)",
		pkt: &Connect{ProtocolName: "MQTT", ProtocolLevel: ProtocolMQTT311, CleanSession: true, KeepAlive: 10,
			ClientID: "c", UsernameFlag: true, Username: "u"},
		wire: `
			10          // CONNECT
			10          // remaining length 16
			00 04 4d 51 54 54 // "MQTT"
			04          // level 4
			82          // connect flags: user name 0x80, clean 0x02
			00 0a       // keep alive 10
			00 01 63    // client id "c"
			00 01 75    // user name "u"
		`,
	},
	{
		name: "CONNECT/user name and password (MQTT-3.1.2-19, MQTT-3.1.2-21)",
		pkt: &Connect{ProtocolName: "MQTT", ProtocolLevel: ProtocolMQTT311, CleanSession: true, KeepAlive: 10,
			ClientID: "c", UsernameFlag: true, Username: "u", PasswordFlag: true, Password: []byte("p")},
		wire: `
			10          // CONNECT
			13          // remaining length 19
			00 04 4d 51 54 54 // "MQTT"
			04          // level 4
			c2          // connect flags: user name 0x80, password 0x40, clean 0x02
			00 0a       // keep alive 10
			00 01 63    // client id "c"
			00 01 75    // user name "u"
			00 01 70    // password "p"
		`,
	},
	{
		name: "CONNECT/user name and empty password",
		pkt: &Connect{ProtocolName: "MQTT", ProtocolLevel: ProtocolMQTT311, CleanSession: true, KeepAlive: 10,
			ClientID: "c", UsernameFlag: true, Username: "u", PasswordFlag: true, Password: []byte{}},
		wire: `
			10          // CONNECT
			12          // remaining length 18
			00 04 4d 51 54 54 // "MQTT"
			04          // level 4
			c2          // connect flags: user name, password, clean
			00 0a       // keep alive 10
			00 01 63    // client id "c"
			00 01 75    // user name "u"
			00 00       // password: empty
		`,
	},
	{
		name: "CONNECT/every field in payload order (MQTT-3.1.3-1)",
		pkt: &Connect{ProtocolName: "MQTT", ProtocolLevel: ProtocolMQTT311, KeepAlive: 300,
			ClientID: "id", WillFlag: true, WillQoS: AtLeastOnce, WillRetain: true, WillTopic: "will/t", WillMessage: []byte("gone"),
			UsernameFlag: true, Username: "user", PasswordFlag: true, Password: []byte("pw")},
		wire: `
			10          // CONNECT
			26          // remaining length 38
			00 04 4d 51 54 54 // "MQTT"
			04          // level 4
			ec          // connect flags: user 0x80, password 0x40, will retain 0x20, will QoS 1 0x08, will 0x04; clean session off
			01 2c       // keep alive 300
			00 02 69 64 // client id "id"
			00 06 77 69 6c 6c 2f 74 // will topic "will/t"
			00 04 67 6f 6e 65 // will message "gone"
			00 04 75 73 65 72 // user name "user"
			00 02 70 77 // password "pw"
		`,
	},
	{
		name: "CONNECT/MQTT 3.1 MQIsdp level 3",
		pkt:  &Connect{ProtocolName: "MQIsdp", ProtocolLevel: ProtocolMQTT31, CleanSession: true, KeepAlive: 60, ClientID: "c"},
		wire: `
			10          // CONNECT
			0f          // remaining length 15
			00 06 4d 51 49 73 64 70 // "MQIsdp"
			03          // level 3
			02          // connect flags: clean session
			00 3c       // keep alive 60
			00 01 63    // client id "c"
		`,
	},

	// CONNACK (§3.2). 0x20: flags 0000.
	{name: "CONNACK/accepted", pkt: &Connack{ReturnCode: ConnackAccepted}, wire: `20 02 00 00 // CONNACK, length 2, ack flags 0, code 0`},
	{name: "CONNACK/accepted, session present", pkt: &Connack{SessionPresent: true, ReturnCode: ConnackAccepted}, wire: `20 02 01 00 // ack flags: session present`},
	{name: "CONNACK/unacceptable protocol version", pkt: &Connack{ReturnCode: ConnackUnacceptableProtocolVersion}, wire: `20 02 00 01 // code 1`},
	{name: "CONNACK/identifier rejected", pkt: &Connack{ReturnCode: ConnackIdentifierRejected}, wire: `20 02 00 02 // code 2`},
	{name: "CONNACK/server unavailable", pkt: &Connack{ReturnCode: ConnackServerUnavailable}, wire: `20 02 00 03 // code 3`},
	{name: "CONNACK/bad user name or password", pkt: &Connack{ReturnCode: ConnackBadUsernameOrPassword}, wire: `20 02 00 04 // code 4`},
	{name: "CONNACK/not authorized", pkt: &Connack{ReturnCode: ConnackNotAuthorized}, wire: `20 02 00 05 // code 5`},

	// PUBLISH (§3.3). Flags are DUP, QoS (2 bits), RETAIN.
	{
		name: "PUBLISH/QoS 0 has no packet id (MQTT-2.3.1-5, MQTT-4.3.1-1)",
		pkt:  &Publish{TopicName: "a/b", Payload: []byte("hi")},
		wire: `
			30          // PUBLISH, DUP 0, QoS 0, RETAIN 0
			07          // remaining length 7
			00 03 61 2f 62 // topic "a/b", first in the variable header (MQTT-3.3.2-1)
			68 69       // payload "hi"
		`,
	},
	{
		name: "PUBLISH/QoS 0 retained",
		pkt:  &Publish{Retain: true, TopicName: "a/b", Payload: []byte("hi")},
		wire: `31 07 00 03 61 2f 62 68 69 // flags 0001: retain`,
	},
	{
		name: "PUBLISH/QoS 1",
		pkt:  &Publish{QoS: AtLeastOnce, TopicName: "a/b", PacketID: 10, Payload: []byte("hi")},
		wire: `
			32          // PUBLISH, QoS 1 (flags 0010)
			09          // remaining length 9
			00 03 61 2f 62 // topic "a/b"
			00 0a       // packet id 10
			68 69       // payload "hi"
		`,
	},
	{
		name: "PUBLISH/QoS 2",
		pkt:  &Publish{QoS: ExactlyOnce, TopicName: "a/b", PacketID: 0xbeef, Payload: []byte("hi")},
		wire: `34 09 00 03 61 2f 62 be ef 68 69 // flags 0100: QoS 2; packet id 0xbeef`,
	},
	{
		name: "PUBLISH/QoS 1 DUP (MQTT-3.3.1-1)",
		pkt:  &Publish{Dup: true, QoS: AtLeastOnce, TopicName: "a/b", PacketID: 1, Payload: []byte("hi")},
		wire: `3a 09 00 03 61 2f 62 00 01 68 69 // flags 1010: DUP, QoS 1`,
	},
	{
		name: "PUBLISH/QoS 2 DUP retained",
		pkt:  &Publish{Dup: true, QoS: ExactlyOnce, Retain: true, TopicName: "a/b", PacketID: 0xffff, Payload: []byte("hi")},
		wire: `3d 09 00 03 61 2f 62 ff ff 68 69 // flags 1101: DUP, QoS 2, RETAIN`,
	},
	{
		name: "PUBLISH/QoS 0 empty payload (MQTT-3.3.1-2 DUP 0)",
		pkt:  &Publish{TopicName: "t", Payload: []byte{}},
		wire: `
			30          // PUBLISH QoS 0
			03          // remaining length 3
			00 01 74    // topic "t"; no payload
		`,
	},
	{
		name: "PUBLISH/QoS 1 empty payload",
		pkt:  &Publish{QoS: AtLeastOnce, TopicName: "t", PacketID: 1, Payload: []byte{}},
		wire: `32 05 00 01 74 00 01 // topic "t", packet id 1, no payload`,
	},
	{
		name: "PUBLISH/BOM at start of topic is kept (MQTT-1.5.3-3)",
		pkt:  &Publish{TopicName: "\ufeffa", Payload: []byte{}},
		wire: `
			30          // PUBLISH QoS 0
			06          // remaining length 6
			00 04       // topic length 4
			ef bb bf 61 // U+FEFF "a": the BOM is neither stripped nor skipped
		`,
	},
	{
		name: "PUBLISH/$SYS topic and empty levels",
		pkt:  &Publish{TopicName: "$SYS//x/", Payload: []byte{0}},
		wire: `30 0b 00 08 24 53 59 53 2f 2f 78 2f 00 // "$SYS//x/", payload 00`,
	},
	{
		name: "PUBLISH/remaining length 127, last one-byte value (§2.2.3)",
		pkt:  &Publish{TopicName: "a", Payload: pattern(124)},
		wire: `30 7f 00 01 61 // remaining length 127 = 0x7f`,
		tail: pattern(124),
	},
	{
		name: "PUBLISH/remaining length 128, first two-byte value",
		pkt:  &Publish{TopicName: "a", Payload: pattern(125)},
		wire: `30 80 01 00 01 61 // 128 = 0x00 | continuation, then 0x01`,
		tail: pattern(125),
	},
	{
		name: "PUBLISH/remaining length 16383, last two-byte value",
		pkt:  &Publish{TopicName: "a", Payload: pattern(16380)},
		wire: `30 ff 7f 00 01 61 // 16383 = 0x7f | continuation, 0x7f`,
		tail: pattern(16380),
	},
	{
		name: "PUBLISH/remaining length 16384, first three-byte value",
		pkt:  &Publish{TopicName: "a", Payload: pattern(16381)},
		wire: `30 80 80 01 00 01 61 // 16384 = 0x80, 0x80, 0x01`,
		tail: pattern(16381),
	},
	{
		name: "PUBLISH/remaining length 2097151, last three-byte value",
		pkt:  &Publish{TopicName: "a", Payload: pattern(2097148)},
		wire: `30 ff ff 7f 00 01 61 // 2097151 = 0xff, 0xff, 0x7f`,
		tail: pattern(2097148),
	},
	{
		name: "PUBLISH/remaining length 2097152, first four-byte value",
		pkt:  &Publish{TopicName: "a", Payload: pattern(2097149)},
		wire: `30 80 80 80 01 00 01 61 // 2097152 = 0x80, 0x80, 0x80, 0x01`,
		tail: pattern(2097149),
	},

	// PUBACK, PUBREC, PUBREL, PUBCOMP (§3.4-§3.7) echo the PUBLISH id (MQTT-2.3.1-6).
	{name: "PUBACK", pkt: &Puback{PacketID: 1}, wire: `40 02 00 01 // PUBACK flags 0000, length 2, id 1`},
	{name: "PUBREC", pkt: &Pubrec{PacketID: 0xffff}, wire: `50 02 ff ff // PUBREC flags 0000, id 65535`},
	{name: "PUBREL flags 0010 (MQTT-3.6.1-1)", pkt: &Pubrel{PacketID: 0x1234}, wire: `62 02 12 34 // PUBREL flags 0010, id 0x1234`},
	{name: "PUBCOMP", pkt: &Pubcomp{PacketID: 7}, wire: `70 02 00 07 // PUBCOMP flags 0000, id 7`},

	// SUBSCRIBE (§3.8): flags 0010 (MQTT-3.8.1-1).
	{
		name: "SUBSCRIBE/one filter (MQTT-3.8.1-1)",
		pkt:  &Subscribe{PacketID: 1, Subscriptions: []Subscription{{TopicFilter: "a/+", QoS: AtLeastOnce}}},
		wire: `
			82          // SUBSCRIBE, flags 0010
			08          // remaining length 8
			00 01       // packet id 1
			00 03 61 2f 2b // filter "a/+"
			01          // requested QoS 1
		`,
	},
	{
		name: "SUBSCRIBE/three filters",
		pkt: &Subscribe{PacketID: 0x0102, Subscriptions: []Subscription{
			{TopicFilter: "a/#", QoS: AtMostOnce},
			{TopicFilter: "+/b", QoS: AtLeastOnce},
			{TopicFilter: "#", QoS: ExactlyOnce},
		}},
		wire: `
			82          // SUBSCRIBE
			12          // remaining length 18
			01 02       // packet id 0x0102
			00 03 61 2f 23 00 // "a/#" QoS 0
			00 03 2b 2f 62 01 // "+/b" QoS 1
			00 01 23 02 // "#" QoS 2
		`,
	},

	// SUBACK (§3.9).
	{name: "SUBACK/one code", pkt: &Suback{PacketID: 1, ReturnCodes: []SubackCode{SubackMaxQoS1}}, wire: `90 03 00 01 01 // SUBACK, length 3, id 1, granted QoS 1`},
	{
		name: "SUBACK/failure 0x80 in filter order (MQTT-3.9.3-1)",
		pkt:  &Suback{PacketID: 2, ReturnCodes: []SubackCode{SubackMaxQoS0, SubackFailure, SubackMaxQoS2}},
		wire: `
			90          // SUBACK flags 0000
			05          // remaining length 5
			00 02       // packet id 2
			00 80 02    // granted 0, failure, granted 2
		`,
	},

	// UNSUBSCRIBE (§3.10): flags 0010 (MQTT-3.10.1-1).
	{name: "UNSUBSCRIBE/one filter", pkt: &Unsubscribe{PacketID: 4, TopicFilters: []string{"x"}}, wire: `a2 05 00 04 00 01 78 // UNSUBSCRIBE flags 0010, id 4, "x"`},
	{
		name: "UNSUBSCRIBE/several filters (MQTT-3.10.1-1)",
		pkt:  &Unsubscribe{PacketID: 3, TopicFilters: []string{"a/b", "c/#", "+"}},
		wire: `
			a2          // UNSUBSCRIBE, flags 0010
			0f          // remaining length 15
			00 03       // packet id 3
			00 03 61 2f 62 // "a/b"
			00 03 63 2f 23 // "c/#"
			00 01 2b    // "+"
		`,
	},

	// UNSUBACK (§3.11), PINGREQ, PINGRESP, DISCONNECT (§3.12-§3.14).
	{name: "UNSUBACK", pkt: &Unsuback{PacketID: 3}, wire: `b0 02 00 03 // UNSUBACK flags 0000, id 3`},
	{name: "PINGREQ", pkt: &Pingreq{}, wire: `c0 00 // PINGREQ, no body`},
	{name: "PINGRESP", pkt: &Pingresp{}, wire: `d0 00 // PINGRESP, no body`},
	{name: "DISCONNECT", pkt: &Disconnect{}, wire: `e0 00 // DISCONNECT flags 0000, no body`},
}

// TestCodecTable checks every row byte for byte in both directions
// (MQTT-2.2.2-1: the fixed header flags are those of the spec table).
func TestCodecTable(t *testing.T) {
	for _, c := range codecCases {
		t.Run(c.name, func(t *testing.T) {
			want := c.bytes()

			got, err := c.pkt.Append(nil)
			require.NoError(t, err)
			require.Equal(t, want, got, "Append(nil)")
			require.Equal(t, len(want), c.pkt.Size(), "Size")
			require.NoError(t, c.pkt.Validate())
			require.Equal(t, c.pkt.Type(), Type(want[0]>>4), "Type matches the high nibble")

			prefix := []byte("prefix")
			got, err = c.pkt.Append(prefix)
			require.NoError(t, err)
			require.Equal(t, append([]byte("prefix"), want...), got, "Append appends")

			var buf bytes.Buffer
			n, err := c.pkt.WriteTo(&buf)
			require.NoError(t, err)
			require.Equal(t, int64(len(want)), n)
			require.Equal(t, want, buf.Bytes(), "WriteTo")

			p, used, err := Decode(want)
			require.NoError(t, err)
			require.Equal(t, len(want), used)
			require.Equal(t, c.pkt, p)

			// Bytes after the packet are not consumed.
			p, used, err = Decode(append(want[:len(want):len(want)], 0xc0, 0x00))
			require.NoError(t, err)
			require.Equal(t, len(want), used)
			require.Equal(t, c.pkt, p)

			// Every packet type has a String method for logs (the Packet
			// interface itself does not declare it).
			str, ok := c.pkt.(fmt.Stringer)
			require.True(t, ok, "%T has no String method", c.pkt)
			assert.True(t, strings.HasPrefix(str.String(), c.pkt.Type().String()+"{"), str.String())
		})
	}
}

// TestNilAndEmptySlicesEncodeAlike: Append does not distinguish a nil from
// an empty payload, will message or password.
func TestNilAndEmptySlicesEncodeAlike(t *testing.T) {
	pairs := [][2]Packet{
		{&Publish{TopicName: "t"}, &Publish{TopicName: "t", Payload: []byte{}}},
		{
			&Connect{ProtocolName: "MQTT", ProtocolLevel: 4, CleanSession: true, WillFlag: true, WillTopic: "w", UsernameFlag: true, Username: "u", PasswordFlag: true},
			&Connect{ProtocolName: "MQTT", ProtocolLevel: 4, CleanSession: true, WillFlag: true, WillTopic: "w", WillMessage: []byte{}, UsernameFlag: true, Username: "u", PasswordFlag: true, Password: []byte{}},
		},
	}
	for _, pair := range pairs {
		a, err := pair[0].Append(nil)
		require.NoError(t, err)
		b, err := pair[1].Append(nil)
		require.NoError(t, err)
		require.Equal(t, b, a)
		p, _, err := Decode(a)
		require.NoError(t, err)
		require.Equal(t, pair[1], p)
	}
}

func codecStream() []byte {
	var all []byte
	for _, c := range codecCases {
		all = append(all, c.bytes()...)
	}
	return all
}

// TestReaderStream reads all rows back to back, whole and split at every
// byte boundary (MQTT-7.1.2-1: packets arrive on an ordered byte stream with
// no framing of their own).
func TestReaderStream(t *testing.T) {
	all := codecStream()
	readers := map[string]func() io.Reader{
		"whole":          func() io.Reader { return bytes.NewReader(all) },
		"one byte":       func() io.Reader { return iotest.OneByteReader(bytes.NewReader(all)) },
		"half":           func() io.Reader { return iotest.HalfReader(bytes.NewReader(all)) },
		"EOF with data":  func() io.Reader { return iotest.DataErrReader(bytes.NewReader(all)) },
		"one byte + EOF": func() io.Reader { return iotest.DataErrReader(iotest.OneByteReader(bytes.NewReader(all))) },
	}
	for name, mk := range readers {
		t.Run(name, func(t *testing.T) {
			r := NewReader(mk())
			r.SetMaxPacketSize(4 << 20)
			for _, c := range codecCases {
				p, err := r.ReadPacket()
				require.NoError(t, err, c.name)
				// The packet is only valid until the next read: compare now.
				require.Equal(t, c.pkt, p, c.name)
			}
			p, err := r.ReadPacket()
			require.Nil(t, p)
			require.ErrorIs(t, err, io.EOF)
		})
	}
}

// TestReadPacketStream does the same with the package-level ReadPacket,
// whose bound is DefaultMaxPacketSize: larger rows are refused with
// ErrTooLarge and tested on their own.
func TestReadPacketStream(t *testing.T) {
	var small []codecCase
	var all []byte
	for _, c := range codecCases {
		b := c.bytes()
		if len(b) > DefaultMaxPacketSize {
			p, err := ReadPacket(bytes.NewReader(b))
			require.Nil(t, p)
			require.ErrorIs(t, err, ErrTooLarge, c.name)
			continue
		}
		small = append(small, c)
		all = append(all, b...)
	}
	require.Greater(t, len(small), 40)

	for name, r := range map[string]io.Reader{
		"whole":    bytes.NewReader(all),
		"one byte": iotest.OneByteReader(bytes.NewReader(all)),
	} {
		t.Run(name, func(t *testing.T) {
			var kept []Packet
			for _, c := range small {
				p, err := ReadPacket(r)
				require.NoError(t, err, c.name)
				require.Equal(t, c.pkt, p, c.name)
				kept = append(kept, p)
			}
			p, err := ReadPacket(r)
			require.Nil(t, p)
			require.ErrorIs(t, err, io.EOF)
			// Packets from ReadPacket own their memory.
			for i, c := range small {
				require.Equal(t, c.pkt, kept[i], c.name)
			}
		})
	}

	// ReadPacket reads no byte past the end of the packet.
	br := bytes.NewReader(all)
	left := len(all)
	for _, c := range small {
		_, err := ReadPacket(br)
		require.NoError(t, err)
		left -= len(c.bytes())
		require.Equal(t, left, br.Len(), c.name)
	}
}

// TestReadPacketBound checks the edge of DefaultMaxPacketSize: a Remaining
// Length equal to it is read, one more is refused before the body is read.
func TestReadPacketBound(t *testing.T) {
	// 262144 = 0x40000 = 0x00 | cont, 0x00 | cont, 0x10.
	atLimit := append(mustHex(`30 80 80 10 00 01 61 // PUBLISH, remaining length 262144, topic "a"`), pattern(DefaultMaxPacketSize-3)...)
	p, err := ReadPacket(bytes.NewReader(atLimit))
	require.NoError(t, err)
	require.Equal(t, &Publish{TopicName: "a", Payload: pattern(DefaultMaxPacketSize - 3)}, p)

	// 262145 = 0x01 | cont, 0x00 | cont, 0x10.
	over := mustHex(`30 81 80 10 // PUBLISH, remaining length 262145, no body`)
	p, err = ReadPacket(bytes.NewReader(over))
	require.Nil(t, p)
	require.ErrorIs(t, err, ErrTooLarge)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, TypePublish, e.Type)
	assert.Equal(t, "RemainingLength", e.Field)
	assert.Equal(t, 1, e.Offset)
	assert.Contains(t, err.Error(), "262144")
}

// TestReaderReusesValues documents the Reader's lifetime rule: the same
// value comes back for the same packet type, and its byte slices alias the
// Reader's read buffer, where the packet was decoded, so the next ReadPacket
// may overwrite them.
func TestReaderReusesValues(t *testing.T) {
	stream := mustHex(`
		30 05 00 01 61 78 79 // PUBLISH "a" payload "xy"
		30 05 00 01 62 7a 7a // PUBLISH "b" payload "zz"
	`)
	r := NewReader(bytes.NewReader(stream))
	p1, err := r.ReadPacket()
	require.NoError(t, err)
	first := p1.(*Publish)
	topic, payload := first.TopicName, first.Payload
	require.Equal(t, "a", topic)
	require.Equal(t, []byte("xy"), payload)

	p2, err := r.ReadPacket()
	require.NoError(t, err)
	require.Same(t, p1, p2)
	require.Equal(t, &Publish{TopicName: "b", Payload: []byte("zz")}, p2)
	assert.Equal(t, "a", topic, "strings are copies")
	inBuffer := func(b []byte) bool {
		start := uintptr(unsafe.Pointer(unsafe.SliceData(r.buf)))
		p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
		return p >= start && p+uintptr(len(b)) <= start+uintptr(cap(r.buf))
	}
	assert.True(t, inBuffer(payload), "the first payload aliases the read buffer")
	assert.True(t, inBuffer(p2.(*Publish).Payload), "the second payload aliases the read buffer")
}

// TestConnectStringRedactsPassword: String never shows the password.
func TestConnectStringRedactsPassword(t *testing.T) {
	c := &Connect{ProtocolName: "MQTT", ProtocolLevel: 4, CleanSession: true, ClientID: "c",
		UsernameFlag: true, Username: "u", PasswordFlag: true, Password: []byte("s3cr3t")}
	s := c.String()
	assert.NotContains(t, s, "s3cr3t")
	assert.Contains(t, s, "<redacted>")
	assert.Contains(t, s, `Username:"u"`)
}

func TestEnums(t *testing.T) {
	names := map[Type]string{
		TypeConnect: "CONNECT", TypeConnack: "CONNACK", TypePublish: "PUBLISH", TypePuback: "PUBACK",
		TypePubrec: "PUBREC", TypePubrel: "PUBREL", TypePubcomp: "PUBCOMP", TypeSubscribe: "SUBSCRIBE",
		TypeSuback: "SUBACK", TypeUnsubscribe: "UNSUBSCRIBE", TypeUnsuback: "UNSUBACK", TypePingreq: "PINGREQ",
		TypePingresp: "PINGRESP", TypeDisconnect: "DISCONNECT",
	}
	for v := 0; v < 16; v++ {
		typ := Type(v)
		name, ok := names[typ]
		assert.Equal(t, ok, typ.Valid(), "Type(%d).Valid", v)
		if ok {
			assert.Equal(t, name, typ.String())
			assert.Equal(t, typ, newPacket(typ, false).Type())
		} else {
			assert.Nil(t, newPacket(typ, false))
		}
	}
	// AUTH (15) exists in MQTT 5.0 only: reserved in 3.1.1, it has a name.
	assert.Equal(t, "AUTH", Type(15).String())
	assert.True(t, TypeAuth.ValidVersion(ProtocolMQTT5))
	assert.Equal(t, TypeAuth, newPacket(TypeAuth, true).Type())
	assert.Equal(t, "Type(0)", Type(0).String())

	for v := 0; v < 256; v++ {
		assert.Equal(t, v <= 2, QoS(v).Valid(), "QoS %d", v)
		assert.Equal(t, v <= 5, ConnackCode(v).Valid(), "ConnackCode %d", v)
		assert.Equal(t, v <= 2 || v == 0x80, SubackCode(v).Valid(), "SubackCode %d", v)
		assert.Equal(t, v == 3 || v == 4, ProtocolLevel(v).Valid(), "ProtocolLevel %d", v)
	}
	assert.Equal(t, "QoS(3)", QoS(3).String())
	assert.Equal(t, "failure", SubackFailure.String())
	assert.Equal(t, "not authorized", ConnackNotAuthorized.String())
}
