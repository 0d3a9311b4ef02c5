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
// until the next call to ReadPacket. Copy what must outlive it.
type Reader struct {
	r     *bufio.Reader
	buf   []byte
	max   int
	reuse [16]Packet
}

// NewReader returns a Reader that reads from r with DefaultMaxPacketSize as
// its bound.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 4096), max: DefaultMaxPacketSize}
}

// SetMaxPacketSize sets the largest Remaining Length the Reader accepts.
// Values outside 1..MaxRemainingLength select MaxRemainingLength.
func (r *Reader) SetMaxPacketSize(n int) {
	if n <= 0 || n > MaxRemainingLength {
		n = MaxRemainingLength
	}
	r.max = n
}

// ReadPacket reads the next packet. The length is checked against the bound
// before the buffer grows. At a clean end of stream between packets it returns
// io.EOF; inside a packet, an error wrapping io.ErrUnexpectedEOF.
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
		return nil, tooLarge(Type(first>>4), n, r.max)
	}
	if cap(r.buf) < n {
		r.buf = make([]byte, n)
	}
	body := r.buf[:n]
	if got, err := io.ReadFull(r.r, body); err != nil {
		return nil, eofInPacket(err, 1+used+got)
	}
	return decodePacket(&r.reuse, first, body, 1+used)
}

func itoa(n int) string { return strconv.Itoa(n) }
