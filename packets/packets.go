package packets

import (
	"io"
)

// DefaultMaxPacketSize bounds the packets a Reader accepts when its owner set
// no limit of its own. It is far below MaxPacketSize so that a hostile length
// prefix cannot make a reader allocate hundreds of megabytes.
const DefaultMaxPacketSize = 256 << 10

// Packet is an MQTT control packet. The generated types in this package are
// its only implementations.
type Packet interface {
	// Type returns the control packet type.
	Type() Type

	// Size returns the length of the encoded packet, fixed header included.
	Size() int

	// Append validates the packet and appends its encoding to dst. When the
	// packet is invalid it returns dst unchanged and an *Error.
	Append(dst []byte) ([]byte, error)

	// WriteTo encodes the packet and writes it to w in one Write call.
	WriteTo(w io.Writer) (int64, error)

	// Validate reports whether the packet may be sent, without encoding it.
	Validate() error

	// SizeVersion, AppendVersion and ValidateVersion are Size, Append and
	// Validate at protocol level v: ProtocolMQTT5 selects MQTT 5.0 and any
	// other level MQTT 3.1.1. Size, Append and Validate keep their MQTT
	// 3.1.1 meaning, except for AUTH, which exists only in MQTT 5.0, and
	// CONNECT, which always encodes the level its ProtocolLevel names.
	SizeVersion(v ProtocolLevel) int
	AppendVersion(dst []byte, v ProtocolLevel) ([]byte, error)
	ValidateVersion(v ProtocolLevel) error

	// String describes the packet for logs; passwords are never shown.
	String() string

	// decode fills the packet from its fixed header flags and body.
	decode(flags byte, d *decoder) error

	// size and encode are SizeVersion and AppendVersion, leaving out the
	// properties an encoder drops to fit a size budget: with trim 1 the
	// Reason String, with 2 also the User Properties.
	size(v5 bool, trim int) int
	encode(dst []byte, v5 bool, trim int) ([]byte, error)
}

// isV5 reports whether protocol level v is MQTT 5.0.
func isV5(v ProtocolLevel) bool { return v == 5 }

// ruleFor returns the rule an error names: rule for MQTT 3.1 and 3.1.1, and
// rule5 for MQTT 5.0, whose statement IDs are written MQTT5-….
func ruleFor(v5 bool, rule, rule5 string) string {
	if v5 {
		return rule5
	}
	return rule
}

// Decode decodes the first packet in b and reports how many bytes it used.
// Byte slices in the returned packet alias b. When b holds only part of a
// packet the error wraps io.ErrUnexpectedEOF, so a caller that buffers input
// can wait for more.
func Decode(b []byte) (Packet, int, error) {
	return decodeVersion(b, false)
}

// DecodeVersion is Decode for a connection at protocol level v: with
// ProtocolMQTT5 it decodes MQTT 5.0 packets (properties, reason codes,
// AUTH), with any other level MQTT 3.1.1 ones, as Decode does. CONNECT
// carries its own level, which takes precedence.
func DecodeVersion(b []byte, v ProtocolLevel) (Packet, int, error) {
	return decodeVersion(b, isV5(v))
}

func decodeVersion(b []byte, v5 bool) (Packet, int, error) {
	if len(b) < 2 {
		return nil, 0, decodeError(0, "", len(b), "", errShortInput)
	}
	n, used, err := consumeRemainingLength(b[1:])
	switch {
	case err == errShortInput:
		return nil, 0, decodeError(0, "", len(b), "", errShortInput)
	case err != nil:
		return nil, 0, decodeError(0, "RemainingLength", 1, "MQTT 3.1.1 §2.2.3", err)
	}
	header := 1 + used
	if len(b)-header < n {
		return nil, 0, decodeError(0, "", len(b), "", errShortInput)
	}
	p, err := decodePacket(nil, nil, b[0], b[header:header+n], header, v5)
	if err != nil {
		return nil, 0, err
	}
	return p, header + n, nil
}

// ReadPacket reads one packet from r, with DefaultMaxPacketSize as the bound.
// It reads no byte past the end of the packet, and the packet it returns owns
// its memory. Long-lived connections should use a Reader instead.
func ReadPacket(r io.Reader) (Packet, error) {
	return ReadPacketVersion(r, 4) // MQTT 3.1.1
}

// ReadPacketVersion is ReadPacket at protocol level v: a client reads its
// CONNACK with it before handing the connection to a Reader.
func ReadPacketVersion(r io.Reader, v ProtocolLevel) (Packet, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:1]); err != nil {
		return nil, err
	}
	i := 1
	for ; ; i++ {
		if _, err := io.ReadFull(r, hdr[i:i+1]); err != nil {
			return nil, eofInPacket(err, i)
		}
		if hdr[i]&0x80 == 0 || i == 4 {
			break
		}
	}
	n, used, err := consumeRemainingLength(hdr[1 : i+1])
	if err != nil {
		return nil, decodeError(0, "RemainingLength", 1, "MQTT 3.1.1 §2.2.3", err)
	}
	if n > DefaultMaxPacketSize {
		return nil, tooLarge(Type(hdr[0]>>4), n, DefaultMaxPacketSize)
	}
	body := make([]byte, n)
	if got, err := io.ReadFull(r, body); err != nil {
		return nil, eofInPacket(err, 1+used+got)
	}
	return decodePacket(nil, nil, hdr[0], body, 1+used, isV5(v))
}

// decodePacket decodes a body whose fixed header byte is first. When reuse is
// non-nil it supplies the value to decode into, indexed by type.
func decodePacket(reuse *[16]Packet, strs *interner, first byte, body []byte, header int, v5 bool) (Packet, error) {
	t := Type(first >> 4)
	var p Packet
	if reuse != nil {
		p = reuse[t]
	}
	if p == nil {
		p = newPacket(t, v5)
		if p == nil {
			name := "Type(" + itoa(int(t)) + ")" // AUTH is reserved in 3.1.1
			return nil, decodeError(0, "Type", 0, ruleFor(v5, "MQTT 3.1.1 §2.2.1", "MQTT 5.0 §2.1.2"), reason("packet type "+name+" is reserved"))
		}
		if reuse != nil {
			reuse[t] = p
		}
	}
	d := decoder{b: body, base: header, strs: strs, v5: v5}
	if v5 && t == 2 && len(body) == 2 && body[1] >= 1 && body[1] <= 5 {
		// Type 2 is CONNACK. A 3.1.1 server refuses a level-5 CONNECT with a 3.1.1 CONNACK,
		// 20 02 00 01 (MQTT 5.0 §3.1.2.2, MQTT5-3.1.2-2). No 5.0 CONNACK is
		// two bytes long, so decode it as 3.1.1: the caller sees ReturnCode
		// 1, the signal to fall back, rather than a malformed packet.
		d.v5 = false
	}
	if err := decodeBody(p, first&0x0f, &d); err != nil {
		return nil, err
	}
	if d.remaining() != 0 {
		return nil, decodeError(t, "", d.pos(), ruleFor(v5, "MQTT 3.1.1 §2.2.3", "MQTT 5.0 §2.1.4"), errTrailing)
	}
	return p, nil
}

func tooLarge(t Type, n, limit int) *Error {
	e := newError(opDecode, t, "RemainingLength", 1, "", ErrTooLarge)
	e.Reason = tooLargeReason(n, limit)
	return e
}

func tooLargeReason(n, limit int) string {
	return "remaining length " + itoa(n) + " exceeds the limit of " + itoa(limit) + " bytes"
}

// eofInPacket reports a stream that ended off bytes into a packet the way
// Decode reports the same bytes: an *Error wrapping io.ErrUnexpectedEOF.
// Other read errors (a closed connection, a deadline) pass through.
func eofInPacket(err error, off int) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return decodeError(0, "", off, "", errShortInput)
	}
	return err
}

// AppendWithin appends the encoding of p at protocol level v to dst, within
// a budget of max bytes, the peer's Maximum Packet Size (MQTT5-3.2.2-15);
// max <= 0 means no budget beyond the protocol's. To fit, the MQTT 5.0 acks
// (PUBACK, PUBREC, PUBREL, PUBCOMP), DISCONNECT and AUTH leave out the
// Reason String and then the User Properties (MQTT5-3.4.2-2, MQTT5-3.4.2-3
// and the same statements of §3.5, §3.6, §3.7, §3.14 and §3.15). Any other
// packet over the budget, a PUBLISH above all, is an *Error wrapping
// ErrTooLarge, never trimmed. p itself is not changed.
func AppendWithin(dst []byte, p Packet, v ProtocolLevel, max int) ([]byte, error) {
	v5 := isV5(v)
	if max <= 0 || p.size(v5, 0) <= max {
		return p.encode(dst, v5, 0)
	}
	if v5 && trimmable(p.Type()) {
		for trim := 1; trim <= 2; trim++ {
			if p.size(true, trim) <= max {
				return p.encode(dst, true, trim)
			}
		}
	}
	if err := p.ValidateVersion(v); err != nil {
		return dst, err
	}
	e := newError(opEncode, p.Type(), "", -1, ruleFor(v5, "MQTT 3.1.1 §2.2.3", "MQTT5-3.2.2-15"), ErrTooLarge)
	e.Reason = "packet of " + itoa(p.size(v5, 2)) + " bytes exceeds the peer's maximum packet size of " + itoa(max)
	return dst, e
}
