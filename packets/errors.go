package packets

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. Every error returned by this package is either one of
// these, an *Error that wraps one of them, or an *OversizeError (which wraps
// ErrTooLarge), so callers can classify failures with errors.Is.
var (
	// ErrMalformed reports bytes that do not form a valid MQTT control packet,
	// or a packet value that cannot be encoded because MQTT forbids it.
	ErrMalformed = errors.New("malformed packet")

	// ErrTooLarge reports a packet whose Remaining Length exceeds the
	// reader's maximum packet size. It is returned before any buffer grows,
	// wrapped in an *Error or, from a Reader that skips oversize PUBLISH
	// packets, an *OversizeError.
	ErrTooLarge = errors.New("packet too large")
)

// Error describes why a packet could not be decoded or encoded. It names the
// packet, the field and, where MQTT numbers the requirement, the conformance
// statement that was violated.
type Error struct {
	Op     string // "decode" or "encode"
	Type   Type   // the control packet; 0 when the fixed header itself is bad
	Field  string // the offending field, or "" for the packet as a whole
	Offset int    // byte offset within the packet (from its first byte); -1 when encoding
	Rule   string // conformance ID such as "MQTT-3.3.2-2", or a spec section
	Reason string // what is wrong, in words
	Err    error  // ErrMalformed, ErrTooLarge or io.ErrUnexpectedEOF

	// Code is, for a decoding error wrapping ErrMalformed, the reason code
	// an MQTT 5.0 receiver closes the connection with (§4.13): 0x81
	// Malformed Packet, or 0x82 Protocol Error where the standard calls the
	// defect one (a repeated property, a forbidden property value). It is
	// 0 for other errors.
	Code ReasonCode
}

// Error describes the defect: the operation, packet, field, offset, what is
// wrong and the conformance statement, as in
// "packets: decode PUBLISH field TopicName at offset 2: ... (MQTT-3.3.2-2)".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("packets: ")
	b.WriteString(e.Op)
	if e.Type != 0 {
		b.WriteByte(' ')
		b.WriteString(e.Type.String())
	}
	if e.Field != "" {
		b.WriteString(" field ")
		b.WriteString(e.Field)
	}
	if e.Offset >= 0 && e.Op == opDecode {
		b.WriteString(" at offset ")
		b.WriteString(strconv.Itoa(e.Offset))
	}
	b.WriteString(": ")
	if e.Reason != "" {
		b.WriteString(e.Reason)
	} else if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	if e.Rule != "" {
		b.WriteString(" (")
		b.WriteString(e.Rule)
		b.WriteByte(')')
	}
	return b.String()
}

// Unwrap returns the sentinel that classifies the error.
func (e *Error) Unwrap() error { return e.Err }

const (
	opDecode = "decode"
	opEncode = "encode"
)

// reason is a static description of a defect, returned by the wire and
// validation helpers. Being a constant string type, returning one never
// allocates on the happy path or the error path.
type reason string

func (r reason) Error() string { return string(r) }

// decodeError builds the error for a defect found while decoding. Generated
// code calls it with the field and rule taken from the spec.
func decodeError(t Type, field string, off int, rule string, why error) error {
	return newError(opDecode, t, field, off, rule, why)
}

// protocolError is decodeError for a defect MQTT 5.0 calls a Protocol
// Error (0x82) rather than a Malformed Packet.
func protocolError(t Type, field string, off int, rule string, why error) error {
	e := newError(opDecode, t, field, off, rule, why)
	e.Code = codeProtocolError
	return e
}

// protocolReason is a reason whose defect is a Protocol Error.
type protocolReason string

func (r protocolReason) Error() string { return string(r) }

// Reason codes of decoding errors (MQTT 5.0 §2.4).
const (
	codeMalformed     = ReasonCode(0x81)
	codeProtocolError = ReasonCode(0x82)
)

// encodeError builds the error for a packet value that MQTT forbids sending.
func encodeError(t Type, field, rule string, why error) error {
	return newError(opEncode, t, field, -1, rule, why)
}

func newError(op string, t Type, field string, off int, rule string, why error) *Error {
	e := &Error{Op: op, Type: t, Field: field, Offset: off, Rule: rule, Err: ErrMalformed}
	switch {
	case why == nil:
	case errors.Is(why, errShortInput):
		// Only input that stops early is io.ErrUnexpectedEOF: more bytes
		// may complete it. A field overrunning a complete packet is
		// malformed, and waiting would not help.
		e.Err = errUnexpectedEOF
		e.Reason = why.Error()
	case errors.Is(why, ErrTooLarge):
		e.Err = ErrTooLarge
	default:
		e.Reason = why.Error()
	}
	if op == opDecode && e.Err == ErrMalformed {
		e.Code = codeMalformed
		if _, ok := why.(protocolReason); ok {
			e.Code = codeProtocolError
		}
	}
	return e
}

// OversizeError reports a packet whose Remaining Length exceeds a Reader's
// limit (see Reader.SetSkipOversizePublish). It wraps ErrTooLarge.
//
// When Skipped is true the packet was read through: the fields before its
// payload were decoded and checked as for any packet, the payload was
// discarded without being buffered, and the stream is still in step; the
// next ReadPacket returns the packet after it. Packet holds what was decoded,
// with the payload nil. For MQTT 3.1.1 it is always a *Publish, whose
// TopicName names what was dropped and whose QoS and PacketID say how to
// acknowledge it (PUBACK, or PUBREC and the PUBREL/PUBCOMP exchange that
// follows) so that the sender stops redelivering it.
//
// When Skipped is false nothing past the fixed header was read, Packet is
// nil, and the stream is out of step: the connection must be closed. Such an
// error also matches errors.As with an *Error target, which receives the same
// *Error a Reader that does not skip would have returned.
type OversizeError struct {
	Type    Type   // the control packet type from the fixed header
	Size    int    // the Remaining Length the fixed header claims
	Limit   int    // the Reader's maximum packet size
	Packet  Packet // the skipped packet without its payload; nil unless Skipped
	Skipped bool   // whether the packet was read through and the stream is in step
}

// Error names the packet, its size and the limit, and for a skipped packet
// the fields read, as in
// `packets: skipped PUBLISH{Dup:false QoS:1 Retain:false TopicName:"a/b" PacketID:7}:
// remaining length 3145743 exceeds the limit of 262144 bytes`. When the packet
// was not skipped the message is the one the equivalent *Error gives.
func (e *OversizeError) Error() string {
	if !e.Skipped {
		return e.asError().Error()
	}
	desc := e.Type.String()
	switch p := e.Packet.(type) {
	case skippable:
		desc = p.headerString()
	case Packet:
		desc = p.String()
	}
	return "packets: skipped " + desc + ": " + tooLargeReason(e.Size, e.Limit)
}

// Unwrap returns ErrTooLarge.
func (e *OversizeError) Unwrap() error { return ErrTooLarge }

// As lets errors.As find an *Error in an OversizeError that was not skipped:
// it stores the *Error a Reader that does not skip would have returned, so
// that code written for that Reader classifies the failure as before. A
// skipped PUBLISH is not a defect of the stream and matches no *Error.
func (e *OversizeError) As(target any) bool {
	t, ok := target.(**Error)
	if !ok || e.Skipped {
		return false
	}
	*t = e.asError()
	return true
}

func (e *OversizeError) asError() *Error { return tooLarge(e.Type, e.Size, e.Limit) }
