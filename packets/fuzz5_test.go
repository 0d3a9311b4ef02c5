package packets

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzDecode5 feeds arbitrary bytes to DecodeVersion at level 5 and to a
// bounded Reader at level 5. Nothing may panic; every defect is an *Error
// whose Code says Malformed Packet (0x81) or Protocol Error (0x82); and
// every packet that decodes survives a semantic round trip: encoded again
// (in the shortest form, properties in identifier order) and decoded, it is
// the same packet. The bytes need not be the same, since long ack forms
// and any property order are legal on the wire (MQTT 5.0 §2.2.2).
//
// Seeds are the 5.0 codec, long-form, malformed and property tables, plus
// the files in testdata/fuzz/FuzzDecode5.
func FuzzDecode5(f *testing.F) {
	for _, c := range codec5Cases {
		f.Add(c.bytes())
	}
	for _, c := range decode5Cases {
		f.Add(mustHex(c.wire))
	}
	for _, c := range decodeErr5Cases {
		f.Add(mustHex(c.wire))
	}
	f.Add([]byte{0x20, 0x02, 0x00, 0x01}) // a 3.1.1 broker's refusal of a level-5 CONNECT
	for _, c := range propCases {
		for _, ctx := range c.in {
			f.Add(mustHex(carriers[ctx].wire(block(c.entries))))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, n, err := DecodeVersion(data, ProtocolMQTT5)
		if err != nil {
			require.Nil(t, p)
			require.Zero(t, n)
			requireDecode5Error(t, err)
		} else {
			require.LessOrEqual(t, n, len(data))
			requireSemanticRoundTrip(t, p)
		}
		checkBoundedReader5(t, data)
	})
}

// requireDecode5Error: a defect is classified for the DISCONNECT a client
// sends; incomplete input carries no reason code.
func requireDecode5Error(t *testing.T, err error) {
	t.Helper()
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, opDecode, e.Op)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		require.Zero(t, e.Code)
	case errors.Is(err, ErrMalformed):
		require.Contains(t, []ReasonCode{ReasonMalformedPacket, ReasonProtocolError}, e.Code)
	default:
		t.Fatalf("unclassified error %v", err)
	}
}

// requireSemanticRoundTrip encodes p at level 5, decodes the result and
// requires the same packet, then requires the second encoding to be a fixed
// point: the canonical form.
func requireSemanticRoundTrip(t *testing.T, p Packet) {
	t.Helper()
	if c, ok := p.(*Connack); ok && c.ReturnCode != 0 {
		// The 3.1.1 refusal a level-5 Reader accepts (MQTT5-3.1.2-2) is
		// 3.1.1 on the wire and encodes as such.
		b, err := c.Append(nil)
		require.NoError(t, err)
		require.Equal(t, []byte{0x20, 0x02, 0x00, byte(c.ReturnCode)}, b)
		return
	}
	b, err := p.AppendVersion(nil, ProtocolMQTT5)
	require.NoError(t, err, "%v", p)
	require.Equal(t, len(b), p.SizeVersion(ProtocolMQTT5))
	q, n, err := DecodeVersion(b, ProtocolMQTT5)
	require.NoError(t, err, "%v re-encoded as %x", p, b)
	require.Equal(t, len(b), n)
	require.Equal(t, p, q)
	again, err := q.AppendVersion(nil, ProtocolMQTT5)
	require.NoError(t, err)
	require.Equal(t, b, again, "the shortest form is a fixed point")
}

// checkBoundedReader5 is checkBoundedReader at level 5.
func checkBoundedReader5(t *testing.T, data []byte) {
	t.Helper()
	r := NewReader(bytes.NewReader(data))
	r.SetProtocol(ProtocolMQTT5)
	r.SetMaxPacketSize(fuzzReaderLimit)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for {
		p, err := r.ReadPacket()
		require.LessOrEqual(t, cap(r.body), fuzzReaderLimit, "Reader body buffer beyond its bound")
		require.LessOrEqual(t, cap(r.buf), maxReadBuffer, "read buffer beyond its bound")
		if err == io.EOF {
			break
		}
		if err != nil {
			require.Nil(t, p)
			if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrTooLarge) {
				requireDecode5Error(t, err)
			}
			break
		}
		requireSemanticRoundTrip(t, p)
	}
	runtime.ReadMemStats(&after)
	bound := uint64(4096 + fuzzReaderLimit + 64<<10 + 16*len(data))
	require.Less(t, after.TotalAlloc-before.TotalAlloc, bound, "bytes allocated reading %d bytes", len(data))
}
