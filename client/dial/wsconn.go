// MQTT over WebSocket (MQTT 3.1.1 §6), part two: wsConn, the net.Conn that
// carries MQTT in binary frames (RFC 6455 §5): the byte stream over
// fragments, control frames, the closing handshake, and the errors of a
// broker that breaks the rules. The frame format is in wsframe.go.

package dial

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// ErrNonBinaryFrame is returned by Read on a WebSocket connection when the
// broker sent a text or other non-binary data frame. MQTT-6.0.0-1 allows only
// binary frames; the connection is closed when this happens.
var ErrNonBinaryFrame = errors.New("dial: websocket: non-binary data frame received (MQTT-6.0.0-1)")

// ErrFrameTooLarge is returned by Read on a WebSocket connection when the
// broker announced a frame longer than [Dialer.MaxFrameSize]. It is detected
// at the frame header, before any of the payload is read; the connection is
// closed.
var ErrFrameTooLarge = errors.New("dial: websocket: frame larger than MaxFrameSize")

// ErrWebSocketProtocol is returned by Read on a WebSocket connection when the
// broker broke RFC 6455: a masked frame, reserved bits or opcodes, a
// continuation frame out of place, or a malformed control frame. The
// connection is closed.
var ErrWebSocketProtocol = errors.New("dial: websocket: protocol error")

// maxFrameBytes bounds one received WebSocket frame when MaxFrameSize is
// zero: the largest MQTT packet, a 5-byte fixed header and a
// 268,435,455-byte remainder (MQTT 3.1.1 §2.2.3).
const maxFrameBytes = 5 + 268_435_455

// wsCloseTimeout bounds how long Close waits to send the close frame, so a
// broker that stopped reading, or a Write blocked on it, cannot stall Close.
const wsCloseTimeout = time.Second

// wsWriteBuffer is the size of the buffer a frame is masked into: a frame
// larger than that leaves in several writes to the connection.
const wsWriteBuffer = 32 << 10

// wsConn presents a WebSocket connection as the byte stream MQTT needs.
// Read streams the payload of binary frames straight into the caller's
// buffer, so memory does not grow with the frame size. A Read or Write
// error may leave a frame cut in half, so the first error of each direction
// is final and returned again by later calls; the client closes the
// connection on any I/O error anyway.
//
// Lock order: rmu before wmu (Read writes pongs and close frames).
type wsConn struct {
	// immutable after upgradeWebSocket
	raw      net.Conn // the TCP or TLS connection
	maxFrame int64    // largest payload accepted in one frame

	// rmu serialises Read and guards the fields below it. It is held while
	// Read waits for a frame, as net.Conn serialises concurrent reads.
	rmu       sync.Mutex
	br        *bufio.Reader // reads raw; may hold frames the handshake read
	remaining int64         // unread payload of the current binary frame
	inMessage bool          // a fragmented message began and has not ended
	rerr      error         // first read error, sticky
	hdr       [maxFrameHeader]byte
	ctl       [maxControlPayload]byte

	// wmu serialises frames: Write's, the pongs and close frames of Read,
	// and Close's. It guards the fields below it.
	wmu       sync.Mutex
	wbuf      []byte // the frame being masked, allocated on first write
	werr      error  // first write error, sticky
	closeSent bool   // no data frame may follow (RFC 6455 §5.5.1)

	closeOnce sync.Once
	closeErr  error
}

// Read returns bytes of the binary frames in order, regardless of how the
// broker split its packets into frames (MQTT-6.0.0-2). Pings are answered
// and pongs skipped on the way; a close frame is answered and ends the
// stream with io.EOF.
func (c *wsConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for c.remaining == 0 && c.rerr == nil {
		c.rerr = c.nextFrame()
	}
	if c.rerr != nil {
		return 0, c.rerr
	}
	if int64(len(p)) > c.remaining {
		p = p[:c.remaining]
	}
	n, err := c.br.Read(p)
	c.remaining -= int64(n)
	if err != nil {
		c.rerr = unexpectedEOF(err) // the frame was cut short
		if n == 0 {
			return 0, c.rerr
		}
		// The n bytes first; the next call returns the error.
	}
	return n, nil
}

// nextFrame reads one frame header and acts on it: a binary or continuation
// frame sets remaining, a control frame is handled whole.
func (c *wsConn) nextFrame() error {
	h, err := c.readHeader()
	if err != nil {
		return err
	}
	if h.opcode >= opClose {
		return c.control(h)
	}
	switch h.opcode {
	case opContinuation:
		if !c.inMessage {
			return c.protocolError("continuation frame outside a fragmented message (RFC 6455 §5.4)")
		}
	case opBinary:
		if c.inMessage {
			return c.protocolError("binary frame before the final fragment of the last message (RFC 6455 §5.4)")
		}
	default:
		// MQTT-6.0.0-1: binary frames only.
		c.closeWithStatus(closeStatusUnsupportedData)
		if h.opcode == opText {
			return fmt.Errorf("%w: got a text frame", ErrNonBinaryFrame)
		}
		return fmt.Errorf("%w: got a frame of reserved %v", ErrNonBinaryFrame, h.opcode)
	}
	if h.length > c.maxFrame {
		// Refused before a byte of it is read, however large it claims to be.
		c.closeWithStatus(closeStatusMessageTooBig)
		return fmt.Errorf("%w: %d bytes, MaxFrameSize %d", ErrFrameTooLarge, h.length, c.maxFrame)
	}
	c.inMessage = !h.fin
	c.remaining = h.length
	return nil
}

// readHeader reads and checks the start of a frame (RFC 6455 §5.2). A
// connection that ends between frames returns io.EOF.
func (c *wsConn) readHeader() (frameHeader, error) {
	b := c.hdr[:2]
	if _, err := io.ReadFull(c.br, b); err != nil {
		return frameHeader{}, err
	}
	h := frameHeader{fin: b[0]&0x80 != 0, opcode: opcode(b[0] & 0x0f), length: int64(b[1] & 0x7f)}
	switch {
	case b[0]&0x70 != 0:
		return h, c.protocolError("reserved bits set, and no extension was negotiated (RFC 6455 §5.2)")
	case b[1]&0x80 != 0:
		return h, c.protocolError("masked frame from the server (RFC 6455 §5.1)")
	}
	var ext []byte
	switch h.length {
	case 126:
		ext = c.hdr[2:4]
	case 127:
		ext = c.hdr[2:10]
	default:
		return h, nil
	}
	if _, err := io.ReadFull(c.br, ext); err != nil {
		return h, unexpectedEOF(err)
	}
	if len(ext) == 2 {
		h.length = int64(binary.BigEndian.Uint16(ext))
		return h, nil
	}
	n := binary.BigEndian.Uint64(ext)
	if n > 1<<63-1 {
		return h, c.protocolError("64-bit payload length with its top bit set (RFC 6455 §5.2)")
	}
	h.length = int64(n)
	return h, nil
}

// control handles a ping, pong or close frame (RFC 6455 §5.5). Control
// frames may come between the fragments of a message.
func (c *wsConn) control(h frameHeader) error {
	if !h.fin || h.length > maxControlPayload {
		return c.protocolError("fragmented control frame, or one over 125 bytes (RFC 6455 §5.5)")
	}
	payload := c.ctl[:h.length]
	if _, err := io.ReadFull(c.br, payload); err != nil {
		return unexpectedEOF(err)
	}
	switch h.opcode {
	case opPing:
		// RFC 6455 §5.5.2: a pong with the ping's payload. A failed write
		// is the next Write's error.
		c.writeControl(opPong, payload)
		return nil
	case opPong:
		return nil
	case opClose:
		// RFC 6455 §5.5.1: answer with the status received; the broker
		// then closes the TCP connection.
		if len(payload) > 2 {
			payload = payload[:2]
		}
		c.writeControl(opClose, payload)
		return io.EOF
	}
	return c.protocolError(fmt.Sprintf("reserved %v (RFC 6455 §5.2)", h.opcode))
}

// protocolError closes the connection with status 1002 and returns the error
// for reason.
func (c *wsConn) protocolError(reason string) error {
	c.closeWithStatus(closeStatusProtocolError)
	return fmt.Errorf("%w: %s", ErrWebSocketProtocol, reason)
}

// unexpectedEOF turns io.EOF into io.ErrUnexpectedEOF: the stream ended
// inside a frame.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Write sends p as one binary frame (MQTT-6.0.0-1). An empty p sends
// nothing.
func (c *wsConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	switch {
	case c.werr != nil:
		return 0, c.werr
	case len(p) == 0:
		return 0, nil
	case c.closeSent:
		return 0, fmt.Errorf("dial: websocket: write after the close frame: %w", net.ErrClosed)
	}
	if err := c.writeFrame(opBinary, p); err != nil {
		c.werr = err
		return 0, err
	}
	return len(p), nil
}

// writeControl sends a pong or close frame, unless a close frame already
// went out or a write failed. A close frame is sent once. The caller must
// not hold wmu.
func (c *wsConn) writeControl(op opcode, payload []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent || c.werr != nil {
		return
	}
	c.closeSent = op == opClose
	if err := c.writeFrame(op, payload); err != nil {
		c.werr = err
	}
}

// writeFrame sends payload as one final frame, masked with a fresh key as
// every client frame must be (RFC 6455 §5.3). The caller holds wmu.
func (c *wsConn) writeFrame(op opcode, payload []byte) error {
	var key [4]byte
	rand.Read(key[:]) // never fails (crypto/rand)
	if c.wbuf == nil {
		c.wbuf = make([]byte, 0, maxFrameHeader+wsWriteBuffer)
	}
	buf := appendFrameHeader(c.wbuf[:0], op, len(payload), key)
	for pos := 0; ; {
		n := min(len(payload)-pos, cap(buf)-len(buf))
		start := len(buf)
		buf = append(buf, payload[pos:pos+n]...)
		maskBytes(buf[start:], key, pos)
		pos += n
		if _, err := c.raw.Write(buf); err != nil {
			return err
		}
		if pos == len(payload) {
			return nil
		}
		buf = buf[:0]
	}
}

// Close sends a close frame and closes the connection. It may be called
// more than once and concurrently with Read and Write, which it interrupts;
// later calls return what the first returned.
func (c *wsConn) Close() error {
	return c.closeWithStatus(closeStatusNormal)
}

// closeWithStatus sends a close frame with status, unless one went out
// already, and closes the connection, once.
func (c *wsConn) closeWithStatus(status uint16) error {
	c.closeOnce.Do(func() {
		// The close frame is a courtesy: bound it, which also releases a
		// Write stuck on a full send buffer holding wmu.
		c.raw.SetWriteDeadline(time.Now().Add(wsCloseTimeout))
		c.writeControl(opClose, binary.BigEndian.AppendUint16(nil, status))
		c.closeErr = c.raw.Close()
	})
	return c.closeErr
}

// LocalAddr returns the local network address of the underlying connection.
func (c *wsConn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// RemoteAddr returns the remote network address of the underlying connection.
func (c *wsConn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// SetDeadline sets the read and write deadlines of the underlying connection.
func (c *wsConn) SetDeadline(t time.Time) error { return c.raw.SetDeadline(t) }

// SetReadDeadline sets the read deadline of the underlying connection.
func (c *wsConn) SetReadDeadline(t time.Time) error { return c.raw.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline of the underlying connection.
func (c *wsConn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }
