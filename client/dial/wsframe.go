// The WebSocket frame format (RFC 6455 §5): opcodes, close status codes,
// the client's frame header and masking. wsconn.go reads and writes frames
// with them.

package dial

import (
	"encoding/binary"
	"fmt"
)

// Sizes of the frame format (RFC 6455 §5.2, §5.5).
const (
	maxFrameHeader    = 14  // 2 bytes, 8 of extended length, 4 of mask key
	maxControlPayload = 125 // control frames carry at most this much
)

// opcode is the frame type (RFC 6455 §5.2).
type opcode byte

// The opcodes of RFC 6455 §11.8. Those from opClose up are control frames.
const (
	opContinuation opcode = 0x0
	opText         opcode = 0x1
	opBinary       opcode = 0x2
	opClose        opcode = 0x8
	opPing         opcode = 0x9
	opPong         opcode = 0xa
)

// String returns the frame type's name, or its number when reserved.
func (op opcode) String() string {
	switch op {
	case opContinuation:
		return "continuation"
	case opText:
		return "text"
	case opBinary:
		return "binary"
	case opClose:
		return "close"
	case opPing:
		return "ping"
	case opPong:
		return "pong"
	}
	return fmt.Sprintf("opcode %#x", byte(op))
}

// WebSocket close status codes (RFC 6455 §7.4.1).
const (
	closeStatusNormal          = 1000
	closeStatusProtocolError   = 1002
	closeStatusUnsupportedData = 1003
	closeStatusMessageTooBig   = 1009
)

// frameHeader is the decoded start of a frame.
type frameHeader struct {
	fin    bool
	opcode opcode
	length int64 // payload bytes
}

// appendFrameHeader appends the header of a final, masked frame of n
// payload bytes, in the shortest length encoding (RFC 6455 §5.2).
func appendFrameHeader(b []byte, op opcode, n int, key [4]byte) []byte {
	b = append(b, 0x80|byte(op)) // FIN
	switch {
	case n <= 125:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, key[:]...)
}

// maskBytes masks b in place as the bytes at offset pos of a payload masked
// with key (RFC 6455 §5.3), eight bytes at a time.
func maskBytes(b []byte, key [4]byte, pos int) {
	var k [8]byte
	for i := range k {
		k[i] = key[(pos+i)&3]
	}
	k8 := binary.LittleEndian.Uint64(k[:])
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^k8)
	}
	for ; i < len(b); i++ {
		b[i] ^= k[i&7]
	}
}
