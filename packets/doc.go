// Package packets encodes and decodes the fourteen MQTT 3.1.1 control
// packets (and MQTT 3.1's CONNECT).
//
// The packet types and their methods are generated from spec/mqtt.json by
// the gen command; the hand-written files hold the wire primitives, the
// checks the generated code calls, the error type and the Reader. Do not
// edit *_gen.go: change the spec or gen and run go generate.
//
// # Encoding
//
// Every packet type has Append(dst) (validate, then append the encoding to a
// caller's buffer, allocating nothing when dst has room), Size, Validate and
// WriteTo. A packet MQTT forbids sending (a QoS 0 PUBLISH with a packet
// identifier, a wildcard in a topic name, a password without a user name...)
// is refused with an *Error and nothing is written.
//
// # Decoding
//
// Decode parses one packet from a byte slice, ReadPacket one from an
// io.Reader, and a Reader reads a stream of packets reusing its buffer and
// one value per packet type. Every defect is an *Error naming the packet, the
// field, the byte offset and the conformance statement (such as MQTT-3.3.2-2)
// it violates, and wraps ErrMalformed, ErrTooLarge or io.ErrUnexpectedEOF.
// Lengths are checked against the limit before any buffer grows; nothing
// panics on hostile input.
//
// A packet over a Reader's limit leaves the stream out of step, and the
// connection must be closed. With Reader.SetSkipOversizePublish a PUBLISH
// over the limit is instead read through without its payload being buffered,
// and reported as an *OversizeError carrying the PUBLISH without its payload
// (topic, QoS, packet identifier), so that the caller can acknowledge it and
// read on.
//
// # Memory
//
// Byte slices in a packet from Decode alias the input slice. A packet from
// Reader.ReadPacket, with every slice in it, is valid only until the next
// call to ReadPacket. Strings are always copies.
//
// The package has no goroutines and no global mutable state.
package packets

//go:generate go run ../gen -spec spec/mqtt.json
