package packets

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

// fuzzReaderLimit is the Reader bound used by FuzzDecode.
const fuzzReaderLimit = 1024

// fuzzSkipLimit is the bound of FuzzDecode's Reader that skips oversize
// PUBLISH packets: small, so that most seeds have one.
const fuzzSkipLimit = 32

// FuzzDecode feeds arbitrary bytes to Decode, to a bounded Reader and to a
// Reader that skips oversize PUBLISH packets. Nothing may panic; every error
// is a classified *Error; every packet that decodes re-encodes to the bytes
// it came from; the Readers never grow their buffer past their bound,
// whatever length a header claims; and a skipped PUBLISH leaves the stream
// where Decode says the packet ends.
//
// Seeds are every row of the codec table and every hostile row of the
// malformed table, plus the files in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	for _, c := range codecCases {
		if b := c.bytes(); len(b) <= 1<<16 {
			f.Add(b)
		}
	}
	for _, c := range decodeErrCases {
		f.Add(mustHex(c.wire))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, n, err := Decode(data)
		if err != nil {
			require.Nil(t, p)
			require.Zero(t, n)
			requireDecodeError(t, err)
		} else {
			require.NotNil(t, p)
			require.Greater(t, n, 1)
			require.LessOrEqual(t, n, len(data))
			requireReencodes(t, data[:n], p)
		}
		checkBoundedReader(t, data)
		checkSkippingReader(t, data)
		checkReaderChunking(t, data)
	})
}

// checkReaderChunking reads data whole, in halves and a byte at a time, as
// a network delivers it: the Reader returns the same packets and the same
// error wherever the reads end, since its buffer must not depend on them.
func checkReaderChunking(t *testing.T, data []byte) {
	t.Helper()
	read := func(src io.Reader) []string {
		r := NewReaderSize(src, 16) // the smallest buffer: it must grow and shrink
		r.SetMaxPacketSize(fuzzReaderLimit)
		var out []string
		for {
			p, err := r.ReadPacket()
			if err != nil {
				if err != io.EOF {
					out = append(out, "error: "+err.Error())
				}
				return out
			}
			enc, err := p.Append(nil)
			require.NoError(t, err)
			out = append(out, string(enc))
		}
	}
	whole := read(bytes.NewReader(data))
	require.Equal(t, whole, read(iotest.HalfReader(bytes.NewReader(data))), "read in halves")
	require.Equal(t, whole, read(iotest.OneByteReader(bytes.NewReader(data))), "read a byte at a time")
	require.Equal(t, whole, read(iotest.DataErrReader(bytes.NewReader(data))), "EOF with the last bytes")
}

// requireDecodeError checks the error contract of the decoding functions.
func requireDecodeError(t *testing.T, err error) {
	t.Helper()
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, opDecode, e.Op)
	require.True(t, e.Err == ErrMalformed || e.Err == ErrTooLarge || e.Err == io.ErrUnexpectedEOF, "Err = %v", e.Err)
	require.True(t, errors.Is(err, e.Err))
	require.NotEmpty(t, err.Error())
}

// remainingLengthBytes returns how many bytes the Remaining Length of the
// well-formed packet b occupies.
func remainingLengthBytes(b []byte) int {
	i := 1
	for b[i]&0x80 != 0 {
		i++
	}
	return i
}

// requireReencodes checks that a decoded packet is valid for sending and
// that Append reproduces raw. MQTT 3.1.1 §2.2.3 does not forbid a Remaining
// Length written with more bytes than needed (MQTT 5 does, MQTT-1.5.5-1);
// Decode accepts one and Append writes the shortest form, so for such input
// only the first byte and the body must match.
func requireReencodes(t *testing.T, raw []byte, p Packet) {
	t.Helper()
	require.NoError(t, p.Validate(), "a decoded packet must be valid to send")
	out, err := p.Append(nil)
	require.NoError(t, err)
	require.Equal(t, len(out), p.Size())

	inLen, outLen := remainingLengthBytes(raw), remainingLengthBytes(out)
	if inLen == outLen {
		require.Equal(t, raw, out, "Append(Decode(b)) == b")
	} else {
		require.Greater(t, inLen, outLen, "Append writes the shortest Remaining Length")
		require.Equal(t, raw[0], out[0])
		require.Equal(t, raw[1+inLen:], out[1+outLen:])
	}

	again, n, err := Decode(out)
	require.NoError(t, err)
	require.Equal(t, len(out), n)
	require.Equal(t, p, again)
}

// checkBoundedReader reads data with a Reader limited to fuzzReaderLimit and
// checks that memory stays bounded by the limit and the input size, not by
// any length a header claims.
func checkBoundedReader(t *testing.T, data []byte) {
	t.Helper()
	r := NewReader(bytes.NewReader(data))
	r.SetMaxPacketSize(fuzzReaderLimit)
	enc := make([]byte, 0, 2*fuzzReaderLimit)

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
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				requireDecodeError(t, err)
			}
			break
		}
		// Whatever the Reader returns can be sent back unchanged.
		enc, err = p.Append(enc[:0])
		require.NoError(t, err)
		require.LessOrEqual(t, len(enc), 5+fuzzReaderLimit)
	}
	runtime.ReadMemStats(&after)
	// The read buffer's 4 KiB (it grows only while reads fill it, so with
	// the input), the body buffer, copies of strings (at most a small
	// multiple of the input) and list growth in SUBSCRIBE/UNSUBSCRIBE.
	bound := uint64(4096 + fuzzReaderLimit + 32<<10 + 8*len(data))
	require.Less(t, after.TotalAlloc-before.TotalAlloc, bound, "bytes allocated reading %d bytes", len(data))
}

// checkSkippingReader reads data with a Reader limited to fuzzSkipLimit that
// skips oversize PUBLISH packets, and walks data with Decode beside it. Each
// packet the Reader returns is the one Decode finds at the same place. Each
// skipped PUBLISH is one Decode accepts whole, equal to it but for the
// payload, and the Reader goes on after its last byte. A defect in a
// packet that data holds whole is the one Decode reports. Memory stays
// bounded as in checkBoundedReader.
func checkSkippingReader(t *testing.T, data []byte) {
	t.Helper()
	r := NewReader(bytes.NewReader(data))
	r.SetMaxPacketSize(fuzzSkipLimit)
	r.SetSkipOversizePublish(true)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	off := 0
	for {
		p, err := r.ReadPacket()
		require.LessOrEqual(t, cap(r.body), fuzzSkipLimit, "Reader body buffer beyond its bound")
		require.LessOrEqual(t, cap(r.buf), maxReadBuffer, "read buffer beyond its bound")
		if err == io.EOF {
			require.Equal(t, len(data), off, "io.EOF only between packets")
			break
		}
		require.Less(t, off, len(data), "a packet or an error past the end of the input")
		want, n, derr := Decode(data[off:])
		whole := derr == nil || !errors.Is(derr, io.ErrUnexpectedEOF)

		var oe *OversizeError
		switch {
		case err == nil:
			require.NoError(t, derr, "Reader returned %v at offset %d", p, off)
			require.Equal(t, want, p, "offset %d", off)
			require.LessOrEqual(t, n-1-remainingLengthBytes(data[off:]), fuzzSkipLimit)
			off += n
			continue
		case errors.As(err, &oe) && oe.Skipped:
			require.Nil(t, p)
			require.ErrorIs(t, err, ErrTooLarge)
			require.NoError(t, derr, "skipped at offset %d: %v", off, err)
			pub, ok := want.(*Publish)
			require.True(t, ok, "skipped a %T", want)
			head := *pub
			head.Payload = nil
			require.Equal(t, OversizeError{
				Type: TypePublish, Size: n - 1 - remainingLengthBytes(data[off:]), Limit: fuzzSkipLimit,
				Packet: &head, Skipped: true,
			}, *oe)
			require.Greater(t, oe.Size, fuzzSkipLimit)
			off += n
			continue
		case oe != nil:
			// Not skipped: an oversize packet of another type.
			require.Nil(t, p)
			require.NotEqual(t, TypePublish, oe.Type)
			require.Greater(t, oe.Size, fuzzSkipLimit)
			requireDecodeError(t, err)
		default:
			require.Nil(t, p)
			if !errors.Is(err, io.ErrUnexpectedEOF) || whole {
				requireDecodeError(t, err)
			}
			if whole {
				require.Error(t, derr, "Reader failed at offset %d on a packet Decode accepts: %v", off, err)
				require.Equal(t, derr.Error(), err.Error(), "offset %d", off)
			}
		}
		break
	}
	runtime.ReadMemStats(&after)
	// As in checkBoundedReader: bufio's 4 KiB, the body buffer, strings
	// (topics included) and a topic copied out in chunks when it is longer
	// than the bufio buffer.
	bound := uint64(4096 + fuzzSkipLimit + 32<<10 + 8*len(data))
	require.Less(t, after.TotalAlloc-before.TotalAlloc, bound, "bytes allocated reading %d bytes", len(data))
}

// roundTripPackets builds one packet of each type from fuzzed fields.
func roundTripPackets(topic string, payload []byte, qos, flags byte, id uint16, clientID, username string, password []byte, keepAlive uint16) []Packet {
	c := &Connect{
		ProtocolName:  "MQTT",
		ProtocolLevel: ProtocolMQTT311,
		UsernameFlag:  flags&0x80 != 0,
		PasswordFlag:  flags&0x40 != 0,
		WillRetain:    flags&0x20 != 0,
		WillQoS:       QoS(qos >> 2 & 3),
		WillFlag:      flags&0x04 != 0,
		CleanSession:  flags&0x02 != 0,
		KeepAlive:     keepAlive,
		ClientID:      clientID,
	}
	if flags&0x01 != 0 {
		c.ProtocolName, c.ProtocolLevel = "MQIsdp", ProtocolMQTT31
	}
	if qos&0x10 != 0 {
		c.ProtocolLevel ^= 7 // 4<->3: a name/level mismatch
	}
	if c.WillFlag || qos&0x20 != 0 {
		c.WillTopic, c.WillMessage = topic, payload
	}
	if c.UsernameFlag || qos&0x40 != 0 {
		c.Username = username
	}
	if c.PasswordFlag || qos&0x80 != 0 {
		c.Password = password
	}
	return []Packet{
		&Publish{Dup: flags&0x08 != 0, QoS: QoS(qos & 3), Retain: flags&0x01 != 0, TopicName: topic, PacketID: id, Payload: payload},
		c,
		&Connack{SessionPresent: flags&0x01 != 0, ReturnCode: ConnackCode(qos)},
		&Subscribe{PacketID: id, Subscriptions: []Subscription{{TopicFilter: topic, QoS: QoS(qos & 3)}, {TopicFilter: clientID, QoS: QoS(qos >> 2 & 3)}}[:1+int(flags>>4&1)]},
		&Suback{PacketID: id, ReturnCodes: []SubackCode{SubackCode(qos), SubackCode(flags)}[:int(flags>>5&1)+int(flags>>6&1)]},
		&Unsubscribe{PacketID: id, TopicFilters: []string{topic, username}[:int(flags>>4&1)+int(flags>>6&1)]},
		&Puback{PacketID: id},
		&Pubrec{PacketID: id},
		&Pubrel{PacketID: id},
		&Pubcomp{PacketID: id},
		&Unsuback{PacketID: id},
		&Pingreq{},
		&Pingresp{},
		&Disconnect{},
	}
}

// asDecoded returns the value Decode produces for p: fields present on the
// wire but empty come back as empty, non-nil slices; absent ones as nil.
func asDecoded(p Packet) Packet {
	empty := func(b []byte) []byte {
		if b == nil {
			return []byte{}
		}
		return b
	}
	switch p := p.(type) {
	case *Publish:
		q := *p
		q.Payload = empty(q.Payload)
		return &q
	case *Connect:
		q := *p
		// Absent fields decode as nil (Validate let them through only
		// when empty).
		q.WillMessage, q.Password = nil, nil
		if q.WillFlag {
			q.WillMessage = empty(p.WillMessage)
		}
		if q.PasswordFlag {
			q.Password = empty(p.Password)
		}
		return &q
	}
	return p
}

// FuzzRoundTrip builds packets from fuzzed fields. When Validate accepts a
// value, Append then Decode (and a Reader) must give it back; when it
// refuses, Append and WriteTo must refuse the same way and write nothing.
func FuzzRoundTrip(f *testing.F) {
	for _, c := range codecCases {
		if c.pkt.Size() > 1<<16 {
			continue
		}
		switch p := c.pkt.(type) {
		case *Publish:
			flags := byte(0)
			if p.Dup {
				flags |= 0x08
			}
			if p.Retain {
				flags |= 0x01
			}
			f.Add(p.TopicName, p.Payload, byte(p.QoS), flags, p.PacketID, "", "", []byte(nil), uint16(0))
		case *Connect:
			flags := byte(0)
			for bit, on := range map[byte]bool{0x80: p.UsernameFlag, 0x40: p.PasswordFlag, 0x20: p.WillRetain, 0x04: p.WillFlag, 0x02: p.CleanSession, 0x01: p.ProtocolLevel == 3} {
				if on {
					flags |= bit
				}
			}
			f.Add(p.WillTopic, p.WillMessage, byte(p.WillQoS)<<2, flags, uint16(0), p.ClientID, p.Username, p.Password, p.KeepAlive)
		case *Connack:
			flags := byte(0)
			if p.SessionPresent {
				flags = 1
			}
			f.Add("", []byte(nil), byte(p.ReturnCode), flags, uint16(0), "", "", []byte(nil), uint16(0))
		case *Subscribe:
			s := p.Subscriptions[0]
			f.Add(s.TopicFilter, []byte(nil), byte(s.QoS), byte(0), p.PacketID, "", "", []byte(nil), uint16(0))
		case *Suback:
			f.Add("", []byte(nil), byte(p.ReturnCodes[0]), byte(0x20), p.PacketID, "", "", []byte(nil), uint16(0))
		case *Unsubscribe:
			f.Add(p.TopicFilters[0], []byte(nil), byte(0), byte(0), p.PacketID, "", "", []byte(nil), uint16(0))
		case *Puback:
			f.Add("", []byte(nil), byte(0), byte(0), p.PacketID, "", "", []byte(nil), uint16(0))
		}
	}
	f.Add("a/+", []byte{}, byte(3), byte(0xff), uint16(0), "", "\x00", []byte("pw"), uint16(1))
	f.Fuzz(func(t *testing.T, topic string, payload []byte, qos, flags byte, id uint16, clientID, username string, password []byte, keepAlive uint16) {
		for _, p := range roundTripPackets(topic, payload, qos, flags, id, clientID, username, password, keepAlive) {
			verr := p.Validate()
			prefix := []byte{0xaa}
			out, err := p.Append(prefix)
			if verr != nil {
				var e *Error
				require.ErrorAs(t, verr, &e)
				require.Equal(t, opEncode, e.Op)
				require.Equal(t, p.Type(), e.Type)
				require.Equal(t, -1, e.Offset)
				require.ErrorIs(t, verr, ErrMalformed)
				require.NotEmpty(t, e.Rule)
				require.Equal(t, verr, err)
				require.Equal(t, []byte{0xaa}, out)
				var buf bytes.Buffer
				n, werr := p.WriteTo(&buf)
				require.Equal(t, verr, werr)
				require.Zero(t, n)
				require.Zero(t, buf.Len())
				continue
			}
			require.NoError(t, err)
			b := out[1:]
			require.Equal(t, len(b), p.Size())
			require.Equal(t, byte(p.Type())<<4, b[0]&0xf0)

			got, n, err := Decode(b)
			require.NoError(t, err, "%v", p)
			require.Equal(t, len(b), n)
			want := asDecoded(p)
			require.Equal(t, want, got)

			r := NewReader(bytes.NewReader(b))
			r.SetMaxPacketSize(MaxRemainingLength)
			got, err = r.ReadPacket()
			require.NoError(t, err)
			require.Equal(t, want, got)
		}
	})
}
