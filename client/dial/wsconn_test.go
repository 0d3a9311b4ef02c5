// Tests of the WebSocket connection: the byte stream over binary frames,
// fragmentation, control frames, limits, protocol errors and closing.

package dial

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWebSocketStream checks MQTT-6.0.0-2: the client reads one byte stream
// whatever the framing.
func TestWebSocketStream(t *testing.T) {
	publish := []byte{
		0x30, 0x0c, // PUBLISH QoS 0, remaining length 12
		0x00, 0x03, 'a', '/', 'b', // topic "a/b"
		'h', 'e', 'l', 'l', 'o', '!', // payload
		'!',
	}
	twoPackets := []byte{
		0xd0, 0x00, // PINGRESP
		0x40, 0x02, 0x00, 0x01, // PUBACK packet ID 1
	}
	want := append(append([]byte{}, publish...), twoPackets...)

	srv := startWebSocket(t, wsServerConfig{}, func(p *wsPeer) {
		// One packet over three frames, an empty frame, then two packets
		// in one frame.
		for _, f := range [][]byte{publish[:1], publish[1:6], publish[6:], {}, twoPackets} {
			if p.binary(f) != nil {
				return
			}
		}
		p.discard()
	})
	for name, read := range map[string]func(io.Reader, []byte) (int, error){
		"large reads":    io.ReadFull,
		"one-byte reads": func(r io.Reader, p []byte) (int, error) { return io.ReadFull(iotest.OneByteReader(r), p) },
		"3-byte reads": func(r io.Reader, p []byte) (int, error) {
			for n := 0; n < len(p); {
				m, err := r.Read(p[n:min(n+3, len(p))])
				n += m
				if err != nil {
					return n, err
				}
			}
			return len(p), nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			conn := mustDial(t, directDialer(), wsURL(srv, "/mqtt"))
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(dialPromptly)))
			got := make([]byte, len(want))
			_, err := read(conn, got)
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
}

// TestWebSocketFragmented reads a message in fragments (RFC 6455 §5.4) with
// a ping and a pong between them; the ping is answered with its payload.
func TestWebSocketFragmented(t *testing.T) {
	pongs := make(chan wsFrame, 1)
	srv := startWebSocket(t, wsServerConfig{}, func(p *wsPeer) {
		for _, f := range []wsFrame{
			{fin: false, opcode: 0x2, data: []byte{0x40, 0x02}}, // PUBACK, in three fragments
			{fin: false, opcode: 0x0, data: []byte{0x00}},
			{fin: true, opcode: 0x9, data: []byte("are you there?")}, // ping
			{fin: true, opcode: 0xa, data: []byte("unsolicited")},    // pong: ignored
			{fin: true, opcode: 0x0, data: []byte{0x07}},
			{fin: true, opcode: 0x2, data: []byte{0xd0, 0x00}}, // PINGRESP, whole
		} {
			if p.writeFrame(f) != nil {
				return
			}
		}
		f, err := p.readFrame()
		if err == nil {
			pongs <- f
		}
		p.discard()
	})
	conn := mustDial(t, directDialer(), wsURL(srv, ""))
	require.NoError(t, conn.SetDeadline(time.Now().Add(dialPromptly)))
	got := make([]byte, 6)
	_, err := io.ReadFull(conn, got)
	require.NoError(t, err)
	assert.Equal(t, []byte{0x40, 0x02, 0x00, 0x07, 0xd0, 0x00}, got)

	pong := <-pongs
	assert.Equal(t, wsFrame{fin: true, opcode: 0xa, masked: true, data: []byte("are you there?")}, pong)
}

// TestWebSocketTextFrame checks MQTT-6.0.0-1 on receipt: a text frame fails
// the read and closes the connection with status 1003.
func TestWebSocketTextFrame(t *testing.T) {
	status := make(chan int, 1)
	srv := startWebSocket(t, wsServerConfig{}, func(p *wsPeer) {
		p.binary([]byte{0xd0, 0x00}) // PINGRESP
		p.writeFrame(wsFrame{fin: true, opcode: 0x1, data: []byte(`{"not":"mqtt"}`)})
		status <- p.closeStatus()
	})
	conn := mustDial(t, directDialer(), wsURL(srv, "/mqtt"))
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(dialPromptly)))

	got := make([]byte, 2)
	_, err := io.ReadFull(conn, got)
	require.NoError(t, err)
	assert.Equal(t, []byte{0xd0, 0x00}, got)

	_, err = conn.Read(got)
	require.ErrorIs(t, err, ErrNonBinaryFrame)
	assert.Contains(t, err.Error(), "MQTT-6.0.0-1")
	assert.Contains(t, err.Error(), "text frame")

	// The error sticks, and the client closed.
	_, err2 := conn.Read(got)
	assert.Equal(t, err, err2)
	assert.Equal(t, 1003, <-status)
	_, err = conn.Write([]byte{0xc0, 0x00})
	assert.Error(t, err)
}

// TestWebSocketReservedDataOpcode: a data frame of a reserved opcode is
// not binary either (MQTT-6.0.0-1).
func TestWebSocketReservedDataOpcode(t *testing.T) {
	status := make(chan int, 1)
	srv := startWebSocket(t, wsServerConfig{}, func(p *wsPeer) {
		p.writeFrame(wsFrame{fin: true, opcode: 0x3, data: []byte{0xd0, 0x00}})
		status <- p.closeStatus()
	})
	conn := mustDial(t, directDialer(), wsURL(srv, ""))
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(dialPromptly)))
	_, err := conn.Read(make([]byte, 2))
	require.ErrorIs(t, err, ErrNonBinaryFrame)
	assert.Contains(t, err.Error(), "reserved opcode 0x3")
	assert.Equal(t, 1003, <-status)
}

// TestWebSocketClientFrames checks MQTT-6.0.0-1 on sending: each Write is
// one final binary frame, masked (RFC 6455 §5.3), and Close sends status
// 1000.
func TestWebSocketClientFrames(t *testing.T) {
	frames := make(chan wsFrame, 16)
	srv := startWebSocket(t, wsServerConfig{}, func(p *wsPeer) {
		defer close(frames)
		for {
			f, err := p.readFrame()
			if err != nil {
				return
			}
			frames <- f
		}
	})
	conn := mustDial(t, directDialer(), wsURL(srv, "/mqtt"))
	writes := [][]byte{
		{0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00}, // CONNECT
		{0xc0, 0x00},                        // PINGREQ
		bytes.Repeat([]byte{0x5a}, 300),     // the 16-bit length form
		bytes.Repeat([]byte{0xa5}, 70_000),  // the 64-bit length form, masked in several writes
		bytes.Repeat([]byte{0x3c}, 200_003), // not a multiple of the mask or buffer sizes
	}
	for _, w := range writes {
		n, err := conn.Write(w)
		require.NoError(t, err)
		assert.Equal(t, len(w), n)
	}
	n, err := conn.Write(nil)
	require.NoError(t, err)
	assert.Zero(t, n)
	require.NoError(t, conn.Close())

	for _, w := range writes {
		f, ok := <-frames
		require.True(t, ok)
		assert.Equal(t, wsFrame{fin: true, opcode: 0x2, masked: true, data: w}, f)
	}
	f, ok := <-frames
	require.True(t, ok, "no close frame")
	assert.Equal(t, wsFrame{fin: true, opcode: 0x8, masked: true, data: []byte{0x03, 0xe8}}, f, "close, 1000")
	_, ok = <-frames
	assert.False(t, ok, "no empty frame for an empty write")
}

// TestWebSocketProtocolErrors: frames that break RFC 6455 fail Read with
// ErrWebSocketProtocol and close the connection with status 1002.
func TestWebSocketProtocolErrors(t *testing.T) {
	for _, tt := range []struct {
		name  string
		frame []byte // after a binary PINGRESP
		want  string
	}{
		{"masked frame", []byte{0x82, 0x82, 1, 2, 3, 4, 0xd1, 0x02}, "masked frame"},
		{"reserved bit", []byte{0xc2, 0x02, 0xd0, 0x00}, "reserved bits"},
		{"continuation first", []byte{0x80, 0x02, 0xd0, 0x00}, "continuation frame outside"},
		{"binary inside a message", []byte{0x02, 0x01, 0xd0, 0x82, 0x01, 0x00}, "before the final fragment"},
		{"fragmented ping", []byte{0x09, 0x00}, "fragmented control frame"},
		{"ping over 125 bytes", append([]byte{0x89, 0x7e, 0x00, 0x7e}, make([]byte, 126)...), "over 125 bytes"},
		{"reserved control opcode", []byte{0x8b, 0x00}, "reserved opcode 0xb"},
		{"length with its top bit set", []byte{0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0}, "top bit"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status := make(chan int, 1)
			srv := startWebSocket(t, wsServerConfig{}, func(p *wsPeer) {
				p.binary([]byte{0xd0, 0x00})
				p.c.Write(tt.frame)
				status <- p.closeStatus()
			})
			conn := mustDial(t, directDialer(), wsURL(srv, ""))
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(dialPromptly)))
			got := make([]byte, 16)
			n, err := io.ReadAtLeast(conn, got, 2)
			require.NoError(t, err)
			assert.Equal(t, []byte{0xd0, 0x00}, got[:n])
			_, err = io.ReadAll(conn) // the first fragment of a message may come first
			require.ErrorIs(t, err, ErrWebSocketProtocol)
			assert.Contains(t, err.Error(), tt.want)
			assert.Equal(t, 1002, <-status)
		})
	}
}

// TestWebSocketMaxFrameSize: a frame larger than MaxFrameSize is refused at
// its header, before its payload is read, which is what lets a client bound
// its memory against a hostile broker.
func TestWebSocketMaxFrameSize(t *testing.T) {
	for name, frame := range map[string][]byte{
		"64 KiB":            append([]byte{0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0}, make([]byte, 64<<10)...),
		"1 TiB, never sent": {0x82, 0x7f, 0, 0, 1, 0, 0, 0, 0, 0},
		"fragment":          {0x02, 0x01, 0xd0, 0x80, 0x7e, 0x04, 0x01},
	} {
		t.Run(name, func(t *testing.T) {
			status := make(chan int, 1)
			srv := startWebSocket(t, wsServerConfig{}, func(p *wsPeer) {
				p.binary([]byte{0xd0, 0x00}) // a PINGRESP fits
				p.c.Write(frame)
				status <- p.closeStatus()
			})
			d := directDialer()
			d.MaxFrameSize = 1024
			conn := mustDial(t, d, wsURL(srv, "/mqtt"))
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(dialPromptly)))
			got := make([]byte, 2)
			_, err := io.ReadFull(conn, got)
			require.NoError(t, err)
			_, err = io.ReadFull(conn, make([]byte, 4096))
			require.ErrorIs(t, err, ErrFrameTooLarge)
			assert.Equal(t, 1009, <-status, "message too big")
		})
	}
}

// TestWebSocketServerClose: a close frame from the broker is answered with
// its status and ends the stream (RFC 6455 §5.5.1).
func TestWebSocketServerClose(t *testing.T) {
	status := make(chan int, 1)
	srv := startWebSocket(t, wsServerConfig{}, func(p *wsPeer) {
		p.writeFrame(wsFrame{fin: true, opcode: 0x8, data: []byte{0x03, 0xe9, 'b', 'y', 'e'}}) // 1001 going away
		status <- p.closeStatus()
	})
	conn := mustDial(t, directDialer(), wsURL(srv, ""))
	require.NoError(t, conn.SetDeadline(time.Now().Add(dialPromptly)))
	_, err := conn.Read(make([]byte, 8))
	assert.Equal(t, io.EOF, err)
	assert.Equal(t, 1001, <-status, "the status echoed")
	_, err = conn.Write([]byte{0xc0, 0x00})
	assert.ErrorIs(t, err, net.ErrClosed, "no data frame after the close frame")
	assert.NoError(t, conn.Close())
}

func TestWebSocketDeadlineAndClose(t *testing.T) {
	srv := startWebSocket(t, wsServerConfig{}, (*wsPeer).discard)

	t.Run("read deadline", func(t *testing.T) {
		conn := mustDial(t, directDialer(), wsURL(srv, ""))
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
		_, err := conn.Read(make([]byte, 1))
		assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	})

	t.Run("write deadline", func(t *testing.T) {
		conn := mustDial(t, directDialer(), wsURL(srv, ""))
		require.NoError(t, conn.SetWriteDeadline(time.Now().Add(-time.Second)))
		_, err := conn.Write([]byte{0xc0, 0x00})
		assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	})

	t.Run("close interrupts read and is idempotent", func(t *testing.T) {
		conn := mustDial(t, directDialer(), wsURL(srv, ""))
		readErr := make(chan error, 1)
		go func() {
			_, err := conn.Read(make([]byte, 1))
			readErr <- err
		}()
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			wg.Go(func() { errs[i] = conn.Close() })
		}
		wg.Wait()
		for _, err := range errs {
			assert.NoError(t, err)
		}
		select {
		case err := <-readErr:
			// EOF when the broker answered the close frame first.
			if !errors.Is(err, io.EOF) {
				assert.ErrorIs(t, err, net.ErrClosed)
			}
		case <-time.After(dialPromptly):
			t.Fatal("Read not interrupted by Close")
		}
		_, err := conn.Write([]byte{0xc0, 0x00})
		assert.Error(t, err)
		assert.NotNil(t, conn.LocalAddr())
		assert.Equal(t, srv.addr, conn.RemoteAddr().String())
	})
}
