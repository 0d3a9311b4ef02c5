// Package packets encodes and decodes the MQTT control packets of MQTT 3.1,
// 3.1.1 and 5.0: the fourteen packets of 3.1.1 (and 3.1's CONNECT), and in
// 5.0 their properties, reason codes and short acknowledgment forms, and
// AUTH.
//
// The packet types and their methods are generated from spec/mqtt.json, one
// spec for every version, by the gen command; the hand-written files hold
// the wire primitives, the checks the generated code calls, the error type
// and the Reader. Do not edit *_gen.go: change the spec or gen and run go
// generate.
//
// # Versions
//
// One type serves each packet in every version: the MQTT 5.0 fields
// (ReasonCode, ReasonCodes, Properties, WillProperties, the subscription
// options) are ignored in 3.1.1 and must then be left empty. The calls that
// take no protocol level (Append, Size, Validate, WriteTo, Decode,
// ReadPacket, a Reader before SetProtocol) speak MQTT 3.1.1, so code written
// for 3.1.1 keeps working. AppendVersion, SizeVersion, ValidateVersion,
// DecodeVersion and Reader.SetProtocol take the negotiated level;
// ProtocolMQTT5 selects 5.0. CONNECT carries its level: a CONNECT whose
// ProtocolLevel is 5 is encoded with AppendVersion(dst, ProtocolMQTT5)
// (Append, Size and WriteTo, which speak 3.1.1, refuse it), and decoding
// at level 5 reads a CONNECT of any level as that level. AUTH exists only
// in 5.0.
//
// Properties holds its values with a presence mask (Present) rather than a
// pointer per property, so that encoding allocates nothing; User Properties
// and Subscription Identifiers are slices and keep their order. A packet
// points to its Properties, nil when it has none: a 3.1.1 packet pays one
// word for them, and a Reader reuses the value it decoded into last time. Encoding writes the shortest
// legal form of the acknowledgments, DISCONNECT and AUTH, and AppendWithin
// fits a packet into the peer's Maximum Packet Size by leaving out the
// Reason String and then the User Properties where MQTT 5.0 allows it.
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
// it violates (MQTT5-… for 5.0 statements), and wraps ErrMalformed,
// ErrTooLarge or io.ErrUnexpectedEOF. For a defect, Error.Code is the MQTT
// 5.0 reason code to close the connection with: ReasonMalformedPacket, or
// ReasonProtocolError where the standard calls the defect a Protocol Error.
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
// Reader.ReadPacket, with every slice and Properties value in it,
// is valid only until the next call to ReadPacket. Strings are always
// copies.
//
// The package has no goroutines and no global mutable state.
package packets

//go:generate go run ../gen -spec spec/mqtt.json
