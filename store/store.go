package store

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/feedmq/feedmq/packets"
)

// Sentinel errors. Errors from a Store are one of these, wrap one of them, or
// wrap the operating system's error for a failed file operation.
var (
	// ErrClosed is returned by every call on a Store after Close.
	ErrClosed = errors.New("store: closed")

	// ErrInvalid reports a Put that the store refuses: a packet of a type
	// that is never stored, a key that does not fit its packet, or a packet
	// that cannot be encoded.
	ErrInvalid = errors.New("store: invalid entry")

	// ErrLocked reports that OpenFile found the directory in use by another
	// File, in this process or in another one.
	ErrLocked = errors.New("store: directory in use by another store")
)

// Direction says whose flow a stored packet belongs to.
type Direction uint8

const (
	// Outbound is our QoS 1 or 2 PUBLISH, possibly not yet given a packet
	// identifier (PacketID 0), or the PUBREL that replaced it once the
	// PUBREC came. It is keyed by the message's sequence number, which
	// orders resends (MQTT-4.6.0-1).
	Outbound Direction = iota + 1

	// Inbound is a received QoS 2 message whose PUBREC we sent and whose
	// PUBREL has not come yet. It is keyed by the packet identifier, and the
	// value is a *packets.Pubrec with that PacketID.
	Inbound
)

// String returns "outbound", "inbound", or Direction(n) for an unknown value.
func (d Direction) String() string {
	switch d {
	case Outbound:
		return "outbound"
	case Inbound:
		return "inbound"
	}
	return "Direction(" + strconv.Itoa(int(d)) + ")"
}

// Key identifies a stored packet.
type Key struct {
	Dir Direction
	// Seq is the sequence number of an Outbound message, or the packet
	// identifier (1..65535) of an Inbound one.
	Seq uint64
}

// String describes the key for errors and logs, as in "outbound 42".
func (k Key) String() string {
	return k.Dir.String() + " " + strconv.FormatUint(k.Seq, 10)
}

// compare orders keys as Load returns them: Outbound before Inbound, then by
// Seq.
func (k Key) compare(o Key) int {
	switch {
	case k.Dir < o.Dir:
		return -1
	case k.Dir > o.Dir:
		return 1
	case k.Seq < o.Seq:
		return -1
	case k.Seq > o.Seq:
		return 1
	}
	return 0
}

// Entry is a stored packet with its key.
type Entry struct {
	Key    Key
	Packet packets.Packet
}

// Store keeps session state that must outlive a connection (MQTT-4.1.0-1)
// and, for a File, the process. Implementations are safe for concurrent use.
type Store interface {
	// Put inserts or replaces the packet under k. The packet is encoded
	// before Put returns, so the caller may reuse its buffers afterwards.
	// Only a *packets.Publish with QoS 1 or 2 or a *packets.Pubrel under an
	// Outbound key, and a *packets.Pubrec whose PacketID is k.Seq under an
	// Inbound key, are accepted; anything else is an error wrapping
	// ErrInvalid, and the stored state is left as it was.
	Put(k Key, p packets.Packet) error

	// Delete removes the packet under k. A missing key is not an error.
	Delete(k Key) error

	// Load returns every entry: Outbound in Seq order, then Inbound in Seq
	// order. The packets are fresh values that own their memory.
	Load() ([]Entry, error)

	// Reset drops everything, as a clean session requires (MQTT-3.1.2-6).
	Reset() error

	// Close releases the store. Every later call, Close included, returns
	// ErrClosed.
	Close() error
}

// check reports whether p may be stored under k, with an error wrapping
// ErrInvalid when it may not.
func check(k Key, p packets.Packet) error {
	if why := misfit(k, p); why != "" {
		return fmt.Errorf("%w: %v: %s", ErrInvalid, k, why)
	}
	return nil
}

// misfit says why p may not be stored under k, or returns "" when it may.
func misfit(k Key, p packets.Packet) string {
	switch k.Dir {
	case Outbound:
		switch p := p.(type) {
		case *packets.Publish:
			if p == nil {
				return "nil *packets.Publish"
			}
			if p.QoS == packets.AtMostOnce {
				return "a QoS 0 PUBLISH is never stored"
			}
			return ""
		case *packets.Pubrel:
			if p == nil {
				return "nil *packets.Pubrel"
			}
			return ""
		}
	case Inbound:
		if k.Seq == 0 || k.Seq > 0xffff {
			return "an inbound key must be a packet identifier, 1 to 65535"
		}
		if p, ok := p.(*packets.Pubrec); ok {
			if p == nil {
				return "nil *packets.Pubrec"
			}
			if uint64(p.PacketID) != k.Seq {
				return "PUBREC packet identifier " + strconv.Itoa(int(p.PacketID)) + " differs from the key"
			}
			return ""
		}
	default:
		return "unknown direction"
	}
	if p == nil {
		return "nil packet"
	}
	return "a " + p.Type().String() + " is not stored " + k.Dir.String()
}
