package packets

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. Every error returned by this package is either one of
// these or an *Error that wraps one of them, so callers can classify failures
// with errors.Is.
var (
	// ErrMalformed reports bytes that do not form a valid MQTT control packet,
	// or a packet value that cannot be encoded because MQTT forbids it.
	ErrMalformed = errors.New("malformed packet")

	// ErrTooLarge reports a packet whose Remaining Length exceeds the
	// reader's maximum packet size. It is returned before any buffer grows.
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
	return e
}
