// Tests of the WebSocket frame format, and wsPeer, the test server's end
// of a WebSocket connection, which frames by hand from RFC 6455.

package dial

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wsPeer is the test server's end of an upgraded connection.
type wsPeer struct {
	c  net.Conn
	br *bufio.Reader
}

// wsFrame is one frame as the test server sends or saw it, unmasked.
type wsFrame struct {
	fin    bool
	opcode byte
	masked bool
	data   []byte
}

// writeFrame sends f. A server's frames are unmasked; masked is there to
// break RFC 6455 §5.1.
func (p *wsPeer) writeFrame(f wsFrame) error {
	b := []byte{f.opcode}
	if f.fin {
		b[0] |= 0x80
	}
	var maskBit byte
	if f.masked {
		maskBit = 0x80
	}
	switch n := len(f.data); {
	case n <= 125:
		b = append(b, maskBit|byte(n))
	case n <= 0xffff:
		b = append(b, maskBit|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, maskBit|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	data := f.data
	if f.masked {
		key := []byte{0x37, 0xfa, 0x21, 0x3d}
		b = append(b, key...)
		data = make([]byte, len(f.data))
		for i := range data {
			data[i] = f.data[i] ^ key[i%4]
		}
	}
	_, err := p.c.Write(append(b, data...))
	return err
}

// binary sends data as one final binary frame.
func (p *wsPeer) binary(data []byte) error {
	return p.writeFrame(wsFrame{fin: true, opcode: 0x2, data: data})
}

// readFrame reads one of the client's frames and unmasks it.
func (p *wsPeer) readFrame() (wsFrame, error) {
	var h [2]byte
	if _, err := io.ReadFull(p.br, h[:]); err != nil {
		return wsFrame{}, err
	}
	f := wsFrame{fin: h[0]&0x80 != 0, opcode: h[0] & 0x0f, masked: h[1]&0x80 != 0}
	n := uint64(h[1] & 0x7f)
	var ext []byte
	switch n {
	case 126:
		ext = make([]byte, 2)
	case 127:
		ext = make([]byte, 8)
	}
	if _, err := io.ReadFull(p.br, ext); err != nil {
		return f, err
	}
	switch len(ext) {
	case 2:
		n = uint64(binary.BigEndian.Uint16(ext))
	case 8:
		n = binary.BigEndian.Uint64(ext)
	}
	var key [4]byte
	if f.masked {
		if _, err := io.ReadFull(p.br, key[:]); err != nil {
			return f, err
		}
	}
	f.data = make([]byte, n)
	if _, err := io.ReadFull(p.br, f.data); err != nil {
		return f, err
	}
	for i := range f.data {
		f.data[i] ^= key[i%4]
	}
	return f, nil
}

// closeStatus reads frames until the client's close frame and returns its
// status, or -1 when the connection ended without one.
func (p *wsPeer) closeStatus() int {
	for {
		f, err := p.readFrame()
		switch {
		case err != nil:
			return -1
		case f.opcode == 0x8 && len(f.data) >= 2:
			return int(binary.BigEndian.Uint16(f.data))
		case f.opcode == 0x8:
			return 0
		}
	}
}

// echo sends back each binary frame's payload in a frame of its own, and
// answers a close frame with one, until the connection ends.
func (p *wsPeer) echo() {
	for {
		f, err := p.readFrame()
		if err != nil {
			return
		}
		switch f.opcode {
		case 0x2:
			if p.binary(f.data) != nil {
				return
			}
		case 0x8:
			p.writeFrame(wsFrame{fin: true, opcode: 0x8, data: f.data})
			return
		}
	}
}

// discard reads frames until the connection ends.
func (p *wsPeer) discard() {
	for {
		if _, err := p.readFrame(); err != nil {
			return
		}
	}
}

// TestFrameHeader pins the client's frame headers: FIN, opcode, the mask bit
// and the shortest length form (RFC 6455 §5.2), then the mask key.
func TestFrameHeader(t *testing.T) {
	key := [4]byte{0xa1, 0xb2, 0xc3, 0xd4}
	for _, tt := range []struct {
		op   opcode
		n    int
		want string
	}{
		{opBinary, 0, "82 80 a1b2c3d4"},                            // FIN|binary, MASK|0
		{opBinary, 125, "82 fd a1b2c3d4"},                          // MASK|125
		{opBinary, 126, "82 fe 007e a1b2c3d4"},                     // MASK|126, 16-bit 126
		{opBinary, 65535, "82 fe ffff a1b2c3d4"},                   // largest 16-bit length
		{opBinary, 65536, "82 ff 0000000000010000 a1b2c3d4"},       // MASK|127, 64-bit length
		{opBinary, 268_435_460, "82 ff 0000000010000004 a1b2c3d4"}, // the largest MQTT packet
		{opPong, 4, "8a 84 a1b2c3d4"},                              // FIN|pong
		{opClose, 2, "88 82 a1b2c3d4"},                             // FIN|close
	} {
		want, err := hex.DecodeString(string(bytes.ReplaceAll([]byte(tt.want), []byte(" "), nil)))
		require.NoError(t, err)
		assert.Equal(t, want, appendFrameHeader(nil, tt.op, tt.n, key), "%v of %d bytes", tt.op, tt.n)
	}
}

// TestMaskBytes compares the word-wise masking with the definition in RFC
// 6455 §5.3, at every alignment.
func TestMaskBytes(t *testing.T) {
	key := [4]byte{0x01, 0x20, 0x03, 0x40}
	payload := make([]byte, 67)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	for pos := range 8 {
		for n := range len(payload) - pos {
			got := append([]byte{}, payload[pos:pos+n]...)
			maskBytes(got, key, pos)
			for i := range got {
				require.Equal(t, payload[pos+i]^key[(pos+i)%4], got[i], "pos %d, n %d, byte %d", pos, n, i)
			}
		}
	}
}

func TestOpcodeString(t *testing.T) {
	assert.Equal(t, "binary", opBinary.String())
	assert.Equal(t, "text", opText.String())
	assert.Equal(t, "opcode 0xb", opcode(0xb).String())
}
