package packets

import (
	"bufio"
	"io"
	"strconv"
)

// Reader reads packets from a stream, reusing one buffer and one value of
// each packet type. It is the fast path for a connection's read loop.
//
// The Packet returned by ReadPacket, and every byte slice in it, is valid only
// until the next call to ReadPacket. Copy what must outlive it. Strings are
// the exception: they may be kept, and short ones are interned, so a stream
// that repeats a few topic names does not allocate them again.
//
// A packet whose Remaining Length exceeds the limit (SetMaxPacketSize) is
// refused before the buffer grows. By default that leaves the stream out of
// step and the connection must be closed; with SetSkipOversizePublish a
// PUBLISH over the limit is read through and discarded instead, and the
// Reader stays usable.
type Reader struct {
	r     *bufio.Reader
	buf   []byte
	max   int
	skip  bool // skip oversize PUBLISH packets
	v5    bool // decode MQTT 5.0
	reuse [16]Packet
	strs  interner
}

// NewReader returns a Reader that reads from r with DefaultMaxPacketSize as
// its bound.
func NewReader(r io.Reader) *Reader { return NewReaderSize(r, 4096) }

// NewReaderSize is NewReader with a read buffer of size bytes: a smaller
// one costs an idle connection less memory, a larger one takes more small
// packets per read. Packets larger than the buffer are read past it,
// straight into the packet buffer.
func NewReaderSize(r io.Reader, size int) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, size), max: DefaultMaxPacketSize}
}

// SetMaxPacketSize sets the largest Remaining Length the Reader accepts.
// Values outside 1..MaxRemainingLength select MaxRemainingLength.
func (r *Reader) SetMaxPacketSize(n int) {
	if n <= 0 || n > MaxRemainingLength {
		n = MaxRemainingLength
	}
	r.max = n
}

// SetProtocol sets the protocol level of the connection: ProtocolMQTT5
// decodes MQTT 5.0 packets (properties, reason codes, AUTH) and any other
// level MQTT 3.1.1 ones, the default. Call it once CONNECT has been sent,
// before the CONNACK is read.
func (r *Reader) SetProtocol(v ProtocolLevel) {
	r.v5 = isV5(v)
}

// SetSkipOversizePublish sets whether ReadPacket skips a PUBLISH whose
// Remaining Length exceeds the limit instead of leaving the stream out of
// step. It is off by default.
//
// When on, ReadPacket decodes the fields of such a PUBLISH that come before
// its payload (the fixed header flags, the topic name and, at QoS 1 and 2,
// the packet identifier) and checks them as it checks any PUBLISH
// (MQTT-3.3.1-4, MQTT-3.3.1-2, MQTT-3.3.2-2, MQTT-2.3.1-1 and the string rules
// of MQTT 3.1.1 §1.5.3 and §4.7.3). It then discards the payload as it
// arrives, without buffering it: memory use depends on the topic's length,
// not on the packet's. It returns an *OversizeError with Skipped set whose
// Packet is the *Publish without its payload, and the next ReadPacket reads
// the packet that follows. The caller should acknowledge a skipped QoS 1 or
// 2 PUBLISH so that the sender does not redeliver it.
//
// A defect in the fields read of a skipped PUBLISH is reported as for any
// packet, with an *Error wrapping ErrMalformed or io.ErrUnexpectedEOF, and the
// connection must be closed. An oversize packet of any other type is refused
// with an *OversizeError whose Skipped is false; the stream is then out of
// step and the connection must be closed too. That error also matches
// errors.As with an *Error target, as the one returned when the option is off.
//
// What can be skipped comes from the spec: a packet type whose last field is
// a payload no rule constrains. In MQTT 3.1.1 that is PUBLISH alone.
func (r *Reader) SetSkipOversizePublish(on bool) {
	r.skip = on
}

// ReadPacket reads the next packet. The length is checked against the bound
// before the buffer grows. At a clean end of stream between packets it returns
// io.EOF; inside a packet, an error wrapping io.ErrUnexpectedEOF.
//
// A packet over the bound is refused with an error wrapping ErrTooLarge: an
// *Error, or with SetSkipOversizePublish on an *OversizeError, which for a
// PUBLISH reports that the packet was skipped and the Reader can go on.
func (r *Reader) ReadPacket() (Packet, error) {
	first, err := r.r.ReadByte()
	if err != nil {
		return nil, err
	}
	var hdr [4]byte
	i := 0
	for ; ; i++ {
		if hdr[i], err = r.r.ReadByte(); err != nil {
			return nil, eofInPacket(err, 1+i)
		}
		if hdr[i]&0x80 == 0 || i == 3 {
			break
		}
	}
	n, used, err := consumeRemainingLength(hdr[:i+1])
	if err != nil {
		return nil, decodeError(0, "RemainingLength", 1, "MQTT 3.1.1 §2.2.3", err)
	}
	if n > r.max {
		t := Type(first >> 4)
		if !r.skip {
			return nil, tooLarge(t, n, r.max)
		}
		if p, ok := newPacket(t, r.v5).(skippable); ok {
			return nil, r.skipPacket(p, first, n, 1+used)
		}
		return nil, &OversizeError{Type: t, Size: n, Limit: r.max}
	}
	if cap(r.buf) < n {
		r.buf = make([]byte, n)
	}
	body := r.buf[:n]
	if got, err := io.ReadFull(r.r, body); err != nil {
		return nil, eofInPacket(err, 1+used+got)
	}
	return decodePacket(&r.reuse, &r.strs, first, body, 1+used, r.v5)
}

// skippable is implemented by the packet types that end in a payload no
// rule constrains (a field of kind rest; in MQTT 3.1.1, PUBLISH's Payload).
// The generator marks them with headerString, String without the payload.
type skippable interface {
	Packet
	headerString() string
}

// skipPacket reads an oversize packet through: p is a new value of its type,
// first its fixed header byte, n its Remaining Length and header the length
// of its fixed header. It decodes the fields before the payload into p with
// the generated decoder, checking them, and discards the payload. It returns
// the *OversizeError reporting the skipped packet, or the *Error of the first
// defect.
func (r *Reader) skipPacket(p skippable, first byte, n, header int) error {
	// Peek at the start of the body: the bytes are part of this packet, so
	// waiting for them cannot stall the stream. They hold the fields before
	// the payload unless those are longer than the bufio buffer.
	b, err := r.r.Peek(min(n, r.r.Size()))
	if err != nil {
		return eofInPacket(err, header+len(b))
	}
	consumed := 0 // how much of b has been taken out of the bufio buffer
	for {
		d := decoder{b: b, base: header, head: true, v5: r.v5}
		err := decodeBody(p, first&0x0f, &d)
		if err == nil {
			break
		}
		if !d.short || len(b) == n {
			return err // the defect would be there with the whole body too
		}
		// A field runs past what b holds. Copy b out, into the body
		// buffer while it has room (r.buf itself is never replaced, so
		// it stays within the limit), and read on, doubling, so that
		// memory grows with the bytes that arrive, not with n.
		if consumed == 0 {
			b = append(r.buf[:0], b...)
			r.r.Discard(len(b)) // buffered: cannot fail
			consumed = len(b)
		}
		for want := min(n, 2*len(b)); len(b) < want; {
			chunk, err := r.r.Peek(min(want-len(b), r.r.Size()))
			b = append(b, chunk...)
			r.r.Discard(len(chunk))
			consumed = len(b)
			if err != nil {
				return eofInPacket(err, header+len(b))
			}
		}
	}

	// Discard drops buffered bytes and refills the bufio buffer in place:
	// nothing grows with the payload.
	if got, err := r.r.Discard(n - consumed); err != nil {
		return eofInPacket(err, header+consumed+got)
	}
	return &OversizeError{Type: p.Type(), Size: n, Limit: r.max, Packet: p, Skipped: true}
}

func itoa(n int) string { return strconv.Itoa(n) }
