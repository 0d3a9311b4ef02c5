package store

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"strconv"

	"github.com/feedmq/feedmq/packets"
)

// A record is one stored packet as a File writes it and as Memory keeps it:
//
//	byte  0     magic 0xF5 (packet type 15 is reserved, so no bare MQTT packet starts so)
//	byte  1     format version, 1
//	byte  2     flags; bit 0 (flagNoPacketID) marks a PUBLISH stored before it had a packet identifier,
//	            bit 1 (flagV5) a packet encoded at MQTT 5.0 because it has properties
//	byte  3     reserved, 0
//	bytes 4-7   length of the packet, big-endian
//	bytes 8-11  CRC-32C (Castagnoli) of bytes 0-7 and of the packet, big-endian
//	bytes 12-   the packet, as its Append method encodes it
//
// MQTT cannot encode a QoS 1 or 2 PUBLISH without a packet identifier
// (MQTT-2.3.1-1), so such a PUBLISH is encoded with placeholderID and
// flagNoPacketID, and gets PacketID 0 back when decoded.
const (
	recordMagic   = 0xF5
	recordVersion = 1
	headerSize    = 12

	flagNoPacketID = 1 << 0
	flagV5         = 1 << 1

	placeholderID = 1

	// maxPacketSize is the longest encoded MQTT packet: a 4-byte Remaining
	// Length of the maximum value plus the first byte.
	maxPacketSize = 1 + 4 + packets.MaxRemainingLength
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendRecord checks that p may be stored under k and appends its record to
// dst. The record shares no memory with p.
func appendRecord(dst []byte, k Key, p packets.Packet) ([]byte, error) {
	if err := check(k, p); err != nil {
		return dst, err
	}
	var flags byte
	if pub, ok := p.(*packets.Publish); ok && pub.PacketID == 0 {
		cp := *pub
		cp.PacketID = placeholderID
		p = &cp
		flags |= flagNoPacketID
	}
	level := packets.ProtocolMQTT311
	if hasProperties(p) {
		// MQTT 5.0 properties (user properties, content type, expiry...)
		// are part of the message: kept by encoding at 5.0.
		level = packets.ProtocolMQTT5
		flags |= flagV5
	}
	start := len(dst)
	dst = slices.Grow(dst, headerSize+p.SizeVersion(level))
	dst = append(dst, recordMagic, recordVersion, flags, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	out, err := p.AppendVersion(dst, level)
	if err != nil {
		return dst[:start], fmt.Errorf("%w: %v: %w", ErrInvalid, k, err)
	}
	rec := out[start:]
	binary.BigEndian.PutUint32(rec[4:8], uint32(len(rec)-headerSize))
	crc := crc32.Update(0, castagnoli, rec[:8])
	crc = crc32.Update(crc, castagnoli, rec[headerSize:])
	binary.BigEndian.PutUint32(rec[8:12], crc)
	return out, nil
}

// corruptError says why a record cannot be used. It never quotes the
// record's bytes.
type corruptError struct {
	reason string
	err    error // the decode or check error, if any
}

func (e *corruptError) Error() string {
	if e.err != nil {
		return e.reason + ": " + e.err.Error()
	}
	return e.reason
}

func (e *corruptError) Unwrap() error { return e.err }

func corrupt(reason string) error { return &corruptError{reason: reason} }

// decodeRecord decodes the record b stored under k. The packet's byte slices
// alias b. Every defect is a *corruptError.
func decodeRecord(k Key, b []byte) (packets.Packet, error) {
	if len(b) < headerSize {
		return nil, corrupt("truncated: " + strconv.Itoa(len(b)) + " bytes is shorter than the header")
	}
	if b[0] != recordMagic {
		return nil, corrupt("bad magic byte")
	}
	if b[1] != recordVersion {
		return nil, corrupt("unknown format version " + strconv.Itoa(int(b[1])))
	}
	flags := b[2]
	if flags&^(flagNoPacketID|flagV5) != 0 || b[3] != 0 {
		return nil, corrupt("unknown flags")
	}
	n := binary.BigEndian.Uint32(b[4:8])
	if have := len(b) - headerSize; uint64(n) != uint64(have) {
		if uint64(n) > uint64(have) {
			return nil, corrupt("truncated: header says " + strconv.FormatUint(uint64(n), 10) + " packet bytes, found " + strconv.Itoa(have))
		}
		return nil, corrupt("trailing bytes: header says " + strconv.FormatUint(uint64(n), 10) + " packet bytes, found " + strconv.Itoa(have))
	}
	body := b[headerSize:]
	crc := crc32.Update(0, castagnoli, b[:8])
	crc = crc32.Update(crc, castagnoli, body)
	if crc != binary.BigEndian.Uint32(b[8:12]) {
		return nil, corrupt("CRC-32C mismatch")
	}
	level := packets.ProtocolMQTT311
	if flags&flagV5 != 0 {
		level = packets.ProtocolMQTT5
	}
	p, used, err := packets.DecodeVersion(body, level)
	if err != nil {
		return nil, &corruptError{reason: "undecodable packet", err: err}
	}
	if used != len(body) {
		return nil, corrupt("trailing bytes after the packet")
	}
	if flags&flagNoPacketID != 0 {
		pub, ok := p.(*packets.Publish)
		if !ok || pub.PacketID != placeholderID {
			return nil, corrupt("no-packet-identifier flag on a packet that cannot carry it")
		}
		pub.PacketID = 0
	}
	if why := misfit(k, p); why != "" {
		return nil, corrupt("wrong packet for the key: " + why)
	}
	return p, nil
}

// hasProperties reports whether p carries MQTT 5.0 properties or a reason
// code, which only a 5.0 encoding keeps.
func hasProperties(p packets.Packet) bool {
	switch p := p.(type) {
	case *packets.Publish:
		return p.Properties != nil
	case *packets.Pubrel:
		return p.Properties != nil || p.ReasonCode != 0
	case *packets.Pubrec:
		return p.Properties != nil || p.ReasonCode != 0
	}
	return false
}
