package packets

import (
	"errors"
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
// The read buffer starts small and grows while the stream keeps it full, up
// to 64 KiB, so that a flood is read in few system calls; once reads bring
// little again it returns to its resting size, so a quiet connection holds
// little memory. A packet that fits the buffer is decoded where it lies;
// a larger one is read into a buffer of its own, kept until the stream
// quietens.
//
// A packet whose Remaining Length exceeds the limit (SetMaxPacketSize) is
// refused before any buffer grows. By default that leaves the stream out of
// step and the connection must be closed; with SetSkipOversizePublish a
// PUBLISH over the limit is read through and discarded instead, and the
// Reader stays usable.
type Reader struct {
	src   io.Reader
	buf   []byte // the read buffer: buf[r:w] was read from src and not yet consumed
	r, w  int
	rest  int    // the read buffer's resting size
	quiet int    // how many reads in a row brought less than half of rest
	full  bool   // whether the last read filled the space it was offered
	err   error  // src's error, returned once the bytes before it are consumed
	body  []byte // a packet too large for the read buffer

	max   int
	skip  bool // skip oversize PUBLISH packets
	v5    bool // decode MQTT 5.0
	reuse [16]Packet
	strs  interner
}

// maxReadBuffer is the size the read buffer grows to while reads fill it.
const maxReadBuffer = 64 << 10

// NewReader returns a Reader that reads from r with DefaultMaxPacketSize as
// its bound.
func NewReader(r io.Reader) *Reader { return NewReaderSize(r, 4096) }

// NewReaderSize is NewReader with a read buffer whose resting size is size
// bytes (at least 16, at most 64 KiB): a smaller one costs a quiet
// connection less memory. The buffer is allocated by the first read.
func NewReaderSize(r io.Reader, size int) *Reader {
	return &Reader{src: r, rest: min(max(size, 16), maxReadBuffer), max: DefaultMaxPacketSize}
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
	if err := r.fill(1); err != nil {
		return nil, err
	}
	// The fixed header: the type byte and one to four bytes of Remaining
	// Length, the last without its continuation bit.
	i := 1
	for {
		if err := r.fill(i + 1); err != nil {
			return nil, eofInPacket(err, r.w-r.r)
		}
		if r.buf[r.r+i]&0x80 == 0 || i == 4 {
			break
		}
		i++
	}
	first := r.buf[r.r]
	n, used, err := consumeRemainingLength(r.buf[r.r+1 : r.r+1+i])
	if err != nil {
		return nil, decodeError(0, "RemainingLength", 1, "MQTT 3.1.1 §2.2.3", err)
	}
	header := 1 + used
	if n > r.max {
		r.r += header
		t := Type(first >> 4)
		if !r.skip {
			return nil, tooLarge(t, n, r.max)
		}
		if p, ok := newPacket(t, r.v5).(skippable); ok {
			return nil, r.skipPacket(p, first, n, header)
		}
		return nil, &OversizeError{Type: t, Size: n, Limit: r.max}
	}

	var body []byte
	if header+n <= maxReadBuffer {
		// Decoded where it lies in the read buffer.
		if err := r.fill(header + n); err != nil {
			return nil, eofInPacket(err, r.w-r.r)
		}
		body = r.buf[r.r+header : r.r+header+n]
		r.r += header + n
	} else {
		r.r += header
		if cap(r.body) < n {
			r.body = make([]byte, n)
		}
		body = r.body[:n]
		got := copy(body, r.buf[r.r:r.w])
		r.r += got
		if got < n {
			if err := r.takeErr(); err != nil {
				return nil, eofInPacket(err, header+got)
			}
			// Straight from the stream: the packet is past the buffer.
			k, err := io.ReadFull(r.src, body[got:])
			if err != nil {
				return nil, eofInPacket(err, header+got+k)
			}
		}
	}
	return decodePacket(&r.reuse, &r.strs, first, body, header, r.v5)
}

// fill reads from the stream until at least need bytes (at most
// maxReadBuffer) are buffered, or returns the stream's error.
func (r *Reader) fill(need int) error { return r.fillAs(need, true) }

// fillAs is fill; with grow false the buffer keeps its size, for bytes
// that are only passed over.
func (r *Reader) fillAs(need int, grow bool) error {
	for empty := 0; r.w-r.r < need; {
		if err := r.takeErr(); err != nil {
			return err
		}
		r.makeRoom(need, grow)
		n, err := r.src.Read(r.buf[r.w:])
		if n < 0 || n > len(r.buf)-r.w {
			return errBadRead
		}
		r.full = n == len(r.buf)-r.w
		if n < r.rest/2 {
			r.quiet++
		} else {
			r.quiet = 0
		}
		r.w += n
		if err != nil {
			r.err = err
		} else if n == 0 {
			if empty++; empty == 100 {
				r.err = io.ErrNoProgress
			}
		}
	}
	return nil
}

// takeErr returns the stream's error once the bytes read before it have
// been used, and forgets it, as bufio does: a stream whose Read failed for
// a moment (a deadline) may be read again.
func (r *Reader) takeErr() error {
	err := r.err
	r.err = nil
	return err
}

// errBadRead reports a stream whose Read returned an impossible count.
var errBadRead = errors.New("packets: stream returned an invalid count from Read")

// makeRoom readies the read buffer for a read that must bring the buffered
// bytes to need: it sizes the buffer to the traffic and moves the unread
// bytes to its start.
func (r *Reader) makeRoom(need int, grow bool) {
	unread := r.w - r.r
	size := cap(r.buf)
	switch {
	case size == 0:
		size = r.rest
	case r.full && size < maxReadBuffer && grow:
		// The last read filled the buffer, so more is waiting in the
		// stream: read it in larger pieces.
		size *= 2
	case unread == 0 && size > r.rest && r.quiet >= 2:
		// The stream brings little now (the PINGRESPs of a quiet
		// connection): give back what a flood needed. Two reads, so
		// that one short read in a flood does not cost a regrowth.
		size, r.body = r.rest, nil
	}
	for size < need {
		size *= 2
	}
	// need is at most maxReadBuffer, and a resting size that is not a
	// power of two must not double past the bound.
	size = min(size, max(maxReadBuffer, need))
	if size != cap(r.buf) {
		nb := make([]byte, size)
		copy(nb, r.buf[r.r:r.w])
		r.buf, r.r, r.w = nb, 0, unread
	} else if r.r > 0 {
		copy(r.buf, r.buf[r.r:r.w])
		r.r, r.w = 0, unread
	}
}

// skippable is implemented by the packet types that end in a payload no
// rule constrains (a field of kind rest; in MQTT 3.1.1, PUBLISH's Payload).
// The generator marks them with headerString, String without the payload.
type skippable interface {
	Packet
	headerString() string
}

// skipPacket reads an oversize packet through, its fixed header already
// consumed: p is a new value of its type, first its fixed header byte, n its
// Remaining Length and header the length of its fixed header. It decodes the
// fields before the payload into p with the generated decoder, checking
// them, and discards the payload. It returns the *OversizeError reporting the
// skipped packet, or the *Error of the first defect.
func (r *Reader) skipPacket(p skippable, first byte, n, header int) error {
	// Wait for the start of the body: the bytes are part of this packet,
	// so waiting for them cannot stall the stream. They hold the fields
	// before the payload unless those are longer than the resting buffer.
	if err := r.fill(min(n, r.rest)); err != nil {
		return eofInPacket(err, header+r.w-r.r)
	}
	b := r.buf[r.r : r.r+min(n, r.w-r.r)]
	consumed := 0 // how much of the body has been taken out of the buffer
	for {
		d := decoder{b: b, base: header, head: true, v5: r.v5}
		err := decodeBody(p, first&0x0f, &d)
		if err == nil {
			break
		}
		if !d.short || len(b) == n {
			return err // the defect would be there with the whole body too
		}
		// A field runs past b. Copy b out and read on, doubling, so
		// that memory grows with the bytes that arrive, not with n, and
		// the read buffer keeps its bound.
		if consumed == 0 {
			b = append(make([]byte, 0, 2*len(b)), b...)
			r.r += len(b)
			consumed = len(b)
		}
		for want := min(n, 2*len(b)); len(b) < want; {
			if r.r == r.w {
				if err := r.fill(1); err != nil {
					return eofInPacket(err, header+len(b))
				}
			}
			k := min(want-len(b), r.w-r.r)
			b = append(b, r.buf[r.r:r.r+k]...)
			r.r += k
			consumed = len(b)
		}
	}

	// Discard the rest through the read buffer, which does not grow for
	// it: nothing grows with the payload.
	for rest := n - consumed; rest > 0; {
		if r.r == r.w {
			if err := r.fillAs(1, false); err != nil {
				return eofInPacket(err, header+n-rest)
			}
		}
		k := min(rest, r.w-r.r)
		r.r += k
		rest -= k
	}
	return &OversizeError{Type: p.Type(), Size: n, Limit: r.max, Packet: p, Skipped: true}
}

func itoa(n int) string { return strconv.Itoa(n) }
