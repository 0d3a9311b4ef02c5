package packets

import (
	"io"
	"unicode/utf8"
)

// Wire limits from MQTT 3.1.1 §1.5.3 and §2.2.3.
const (
	// MaxRemainingLength is the largest Remaining Length the four-byte
	// variable length encoding can express (§2.2.3).
	MaxRemainingLength = 268_435_455

	// MaxPacketSize is the largest complete packet: one type byte, four
	// length bytes and MaxRemainingLength bytes of body.
	MaxPacketSize = 1 + 4 + MaxRemainingLength

	// maxStringLen bounds UTF-8 strings and binary data, whose length is a
	// two-byte prefix (§1.5.3).
	maxStringLen = 65_535
)

var errUnexpectedEOF = io.ErrUnexpectedEOF

// Reasons reported by the primitives below.
const (
	errTruncated      = reason("field runs past the end of the packet")
	errShortInput     = reason("input ends inside the packet")
	errVarintTooLong  = reason("remaining length uses more than 4 bytes")
	errStringTooLong  = reason("longer than 65535 bytes")
	errBodyTooLong    = reason("remaining length would exceed 268435455 bytes")
	errTrailing       = reason("bytes left over after the last field")
	errInvalidUTF8    = reason("not well-formed UTF-8 (or encodes a surrogate)")
	errNullCharacter  = reason("contains U+0000")
	errPacketIDZero   = reason("packet identifier is 0")
	errReservedBits   = reason("reserved bits are not set as MQTT requires")
	errInvalidEnum    = reason("value is not one MQTT defines")
	errMissingElement = reason("must hold at least one entry")
	errVarintTooLarge = reason("exceeds 268435455, the largest variable byte integer")
	errOnlyInV5       = reason("exists only in MQTT 5.0")
	errOnlyInV3       = reason("exists only in MQTT 3.1 and 3.1.1")

	errPropertyNotAllowed = reason("property not allowed in this packet")
	errPropertyRepeated   = protocolReason("property appears more than once")
	errPropertyZero       = protocolReason("property value 0 is not allowed")
	errPropertyRange      = protocolReason("property value out of range")
	errNotBool            = protocolReason("property value must be 0 or 1")
)

// StringPair is a name and value, the value of a User Property (MQTT 5.0
// §1.5.7). Both strings follow the rules of UTF-8 strings (MQTT5-1.5.7-1).
type StringPair struct {
	Key   string
	Value string
}

// sizeRemainingLength returns how many bytes the variable length encoding of
// n takes (§2.2.3).
func sizeRemainingLength(n int) int {
	switch {
	case n < 1<<7:
		return 1
	case n < 1<<14:
		return 2
	case n < 1<<21:
		return 3
	default:
		return 4
	}
}

// appendRemainingLength appends the variable length encoding of n, which the
// caller has checked is at most MaxRemainingLength.
func appendRemainingLength(dst []byte, n int) []byte {
	for n >= 0x80 {
		dst = append(dst, byte(n)|0x80)
		n >>= 7
	}
	return append(dst, byte(n))
}

// consumeRemainingLength parses the variable length encoding at the start of
// b. It returns the value and the number of bytes used. A fifth continuation
// byte is malformed whatever follows it; fewer than needed is errShortInput.
func consumeRemainingLength(b []byte) (n, used int, err error) {
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, 0, errShortInput
		}
		n |= int(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return n, i + 1, nil
		}
	}
	return 0, 0, errVarintTooLong
}

// appendUint32 appends a four byte integer in network byte order (MQTT 5.0
// §1.5.3).
func appendUint32(dst []byte, v uint32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// checkVarint bounds a value written as a variable byte integer.
func checkVarint(v uint32) error {
	if v > MaxRemainingLength {
		return errVarintTooLarge
	}
	return nil
}

// appendUint16 appends v in network byte order (§1.5.2).
func appendUint16(dst []byte, v uint16) []byte {
	return append(dst, byte(v>>8), byte(v))
}

// appendString appends a length-prefixed UTF-8 string (§1.5.3). The caller
// has validated its length.
func appendString(dst []byte, s string) []byte {
	dst = appendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

// appendBinary appends length-prefixed binary data.
func appendBinary(dst []byte, b []byte) []byte {
	dst = appendUint16(dst, uint16(len(b)))
	return append(dst, b...)
}

// decoder walks the body of one packet. Offsets it reports are from the
// packet's first byte, so errors point at the byte a hex dump shows.
type decoder struct {
	b    []byte // body: the bytes after the fixed header
	off  int    // read position within b
	base int    // length of the fixed header

	// head is set when b may hold only the start of the body, for a Reader
	// skipping a packet too large to buffer: rest then returns nil, so the
	// payload is left out, and short records that a field ran past the end
	// of b, so that more of the body may complete it.
	head  bool
	short bool

	// v5 selects MQTT 5.0: properties, reason codes and AUTH.
	v5 bool

	// strs, when set, interns short strings: a Reader passes its own, so
	// that a stream repeating a few topic names allocates none of them
	// again.
	strs *interner
}

// interner keeps one copy of each short string a Reader decoded. Go strings
// are immutable, so a packet may share them with every other packet and
// its caller may keep them. It is bounded: when full it starts over.
type interner struct {
	m map[string]string
}

const (
	internMaxLen     = 128
	internMaxEntries = 512
)

func (in *interner) intern(b []byte) string {
	if len(b) > internMaxLen {
		return string(b)
	}
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	if in.m == nil || len(in.m) >= internMaxEntries {
		in.m = make(map[string]string, 64)
	}
	s := string(b)
	in.m[s] = s
	return s
}

// pos is the current offset from the start of the packet.
func (d *decoder) pos() int { return d.base + d.off }

func (d *decoder) remaining() int { return len(d.b) - d.off }

func (d *decoder) byte() (byte, error) {
	if d.off >= len(d.b) {
		d.short = true
		return 0, errTruncated
	}
	v := d.b[d.off]
	d.off++
	return v, nil
}

func (d *decoder) uint16() (uint16, error) {
	if len(d.b)-d.off < 2 {
		d.short = true
		return 0, errTruncated
	}
	v := uint16(d.b[d.off])<<8 | uint16(d.b[d.off+1])
	d.off += 2
	return v, nil
}

func (d *decoder) uint32() (uint32, error) {
	if len(d.b)-d.off < 4 {
		d.short = true
		return 0, errTruncated
	}
	b := d.b[d.off:]
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	d.off += 4
	return v, nil
}

// varint reads a variable byte integer (MQTT 5.0 §1.5.5): at most four
// bytes, so at most 268,435,455 whatever the input claims.
func (d *decoder) varint() (int, error) {
	n, used, err := consumeRemainingLength(d.b[d.off:])
	if err == errShortInput {
		d.short = true
		return 0, errTruncated
	}
	if err != nil {
		return 0, err
	}
	d.off += used
	return n, nil
}

func (d *decoder) varint32() (uint32, error) {
	n, err := d.varint()
	return uint32(n), err
}

// binary returns length-prefixed data. The slice aliases the packet buffer.
func (d *decoder) binary() ([]byte, error) {
	n, err := d.uint16()
	if err != nil {
		return nil, err
	}
	if len(d.b)-d.off < int(n) {
		d.short = true
		return nil, errTruncated
	}
	v := d.b[d.off : d.off+int(n) : d.off+int(n)]
	d.off += int(n)
	return v, nil
}

// string returns a length-prefixed string, copied out of the packet buffer.
func (d *decoder) string() (string, error) {
	v, err := d.binary()
	if err != nil {
		return "", err
	}
	if d.strs != nil {
		return d.strs.intern(v), nil
	}
	return string(v), nil
}

// rest returns everything not yet consumed. The slice aliases the packet
// buffer. In head mode it returns nil: what b holds of the payload is not all
// of it.
func (d *decoder) rest() []byte {
	if d.head {
		d.off = len(d.b)
		return nil
	}
	v := d.b[d.off:len(d.b):len(d.b)]
	d.off = len(d.b)
	return v
}

// checkUTF8 enforces MQTT-1.5.3-1: well-formed UTF-8 with no surrogate code
// points. Go's decoder rejects encoded surrogates, so ValidString suffices.
func checkUTF8(s string) error {
	if !utf8.ValidString(s) {
		return errInvalidUTF8
	}
	return nil
}

// checkNoNull enforces MQTT-1.5.3-2 and MQTT-4.7.3-2.
func checkNoNull(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return errNullCharacter
		}
	}
	return nil
}

// checkLen16 bounds a string or binary field to its two-byte length prefix.
func checkLen16(n int) error {
	if n > maxStringLen {
		return errStringTooLong
	}
	return nil
}

// Reasons used by generated code for presence and identifier rules.
const errUnexpectedField = reason("set although the packet's flags say the field is absent")

// checkNonZero enforces MQTT-2.3.1-1: packet identifiers are non-zero.
func checkNonZero(id uint16) error {
	if id == 0 {
		return errPacketIDZero
	}
	return nil
}

// checkEnum turns an enum type's Valid result into a check result.
func checkEnum(valid bool) error {
	if !valid {
		return errInvalidEnum
	}
	return nil
}

// elemField names a field of a list element in an error, such as
// "Subscriptions[2].TopicFilter". It runs only when an error is built.
func elemField(list string, i int, field string) string {
	s := list + "[" + itoa(i) + "]"
	if field != "" {
		s += "." + field
	}
	return s
}
