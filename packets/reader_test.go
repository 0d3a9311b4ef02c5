package packets

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tests of Reader.SetSkipOversizePublish.

// skipFollower is the small packet after every oversize one: PUBLISH QoS 1,
// topic "a", packet ID 2, payload "hi". A Reader that skipped in step reads
// it back.
const skipFollower = `32 07 00 01 61 00 02 68 69`

var skipFollowerPacket = &Publish{QoS: AtLeastOnce, TopicName: "a", PacketID: 2, Payload: []byte("hi")}

// cat joins byte slices.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// skipCase is an oversize PUBLISH the Reader skips: wire (commented hex) and
// tail (long topics and payloads) make up the packet; skipFollower follows.
type skipCase struct {
	name  string
	limit int // 0: DefaultMaxPacketSize
	wire  string
	tail  []byte
	want  OversizeError
}

func (c skipCase) bytes() []byte { return append(mustHex(c.wire), c.tail...) }

var skipCases = []skipCase{
	{
		name: "QoS 0, 3 MiB",
		wire: `30          // PUBLISH, QoS 0
		       85 80 c0 01 // remaining length 3145733 = 2+3+3145728
		       00 03 61 2f 62 // topic "a/b"`,
		tail: pattern(3 << 20),
		want: OversizeError{Type: TypePublish, Size: 3145733, Limit: DefaultMaxPacketSize, Packet: &Publish{TopicName: "a/b"}, Skipped: true},
	},
	{
		name: "QoS 1, 3 MiB",
		wire: `32          // PUBLISH, QoS 1
		       8f 80 c0 01 // remaining length 3145743 = 2+11+2+3145728
		       00 0b 73 65 6e 73 6f 72 73 2f 62 69 67 // topic "sensors/big"
		       00 07       // packet ID 7`,
		tail: pattern(3 << 20),
		want: OversizeError{Type: TypePublish, Size: 3145743, Limit: DefaultMaxPacketSize, Packet: &Publish{QoS: AtLeastOnce, TopicName: "sensors/big", PacketID: 7}, Skipped: true},
	},
	{
		name: "QoS 2, DUP, RETAIN, 3 MiB",
		wire: `3d          // PUBLISH, DUP, QoS 2, RETAIN
		       85 80 c0 01 // remaining length 3145733 = 2+1+2+3145728
		       00 01 78    // topic "x"
		       ff fe       // packet ID 65534`,
		tail: pattern(3 << 20),
		want: OversizeError{Type: TypePublish, Size: 3145733, Limit: DefaultMaxPacketSize, Packet: &Publish{Dup: true, QoS: ExactlyOnce, Retain: true, TopicName: "x", PacketID: 65534}, Skipped: true},
	},
	{
		name:  "one byte over the limit",
		limit: 100,
		wire: `32 65       // PUBLISH, QoS 1, remaining length 101 = 2+1+2+96
		       00 01 61    // topic "a"
		       00 01       // packet ID 1`,
		tail: pattern(96),
		want: OversizeError{Type: TypePublish, Size: 101, Limit: 100, Packet: &Publish{QoS: AtLeastOnce, TopicName: "a", PacketID: 1}, Skipped: true},
	},
	{
		name:  "empty payload",
		limit: 10,
		wire: `30 0b       // PUBLISH, QoS 0, remaining length 11 = 2+9
		       00 09 61 2f 62 2f 63 2f 64 2f 65 // topic "a/b/c/d/e", no payload`,
		want: OversizeError{Type: TypePublish, Size: 11, Limit: 10, Packet: &Publish{TopicName: "a/b/c/d/e"}, Skipped: true},
	},
	{
		name: "topic longer than the bufio buffer",
		wire: `32          // PUBLISH, QoS 1
		       ec ce 12    // remaining length 305004 = 2+5000+2+300000
		       13 88       // topic length 5000; topic, packet ID 5 and payload follow`,
		tail: cat([]byte(strings.Repeat("t", 5000)), mustHex(`00 05`), pattern(300000)),
		want: OversizeError{Type: TypePublish, Size: 305004, Limit: DefaultMaxPacketSize, Packet: &Publish{QoS: AtLeastOnce, TopicName: strings.Repeat("t", 5000), PacketID: 5}, Skipped: true},
	},
	{
		name:  "topic longer than the limit",
		limit: 1000,
		wire: `34          // PUBLISH, QoS 2
		       d3 8f 04    // remaining length 67539 = 2+65535+2+2000
		       ff ff       // topic length 65535; topic, packet ID 9 and payload follow`,
		tail: cat([]byte(strings.Repeat("é", 32767)+"/"), mustHex(`00 09`), pattern(2000)),
		want: OversizeError{Type: TypePublish, Size: 67539, Limit: 1000, Packet: &Publish{QoS: ExactlyOnce, TopicName: strings.Repeat("é", 32767) + "/", PacketID: 9}, Skipped: true},
	},
}

// skipReaders wrap the input the ways a network connection may deliver it.
var skipReaders = map[string]func([]byte) io.Reader{
	"whole":          func(b []byte) io.Reader { return bytes.NewReader(b) },
	"half":           func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
	"one byte":       func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
	"EOF with data":  func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) },
	"one byte + EOF": func(b []byte) io.Reader { return iotest.DataErrReader(iotest.OneByteReader(bytes.NewReader(b))) },
}

func newSkippingReader(r io.Reader, limit int) *Reader {
	rd := NewReader(r)
	if limit != 0 {
		rd.SetMaxPacketSize(limit)
	}
	rd.SetSkipOversizePublish(true)
	return rd
}

// TestReaderSkipOversizePublish: an oversize PUBLISH is reported with its
// topic, flags and size and read through, and the packet after it decodes.
func TestReaderSkipOversizePublish(t *testing.T) {
	for _, c := range skipCases {
		packet := c.bytes()
		require.Equal(t, c.want.Size, len(packet)-1-sizeRemainingLength(c.want.Size), "%s: remaining length in the table", c.name)
		in := cat(packet, mustHex(skipFollower))
		for rname, mk := range skipReaders {
			t.Run(c.name+"/"+rname, func(t *testing.T) {
				r := newSkippingReader(mk(in), c.limit)
				p, err := r.ReadPacket()
				require.Nil(t, p)
				var oe *OversizeError
				require.ErrorAs(t, err, &oe)
				require.Equal(t, c.want, *oe)
				require.ErrorIs(t, err, ErrTooLarge)
				assert.NotErrorIs(t, err, ErrMalformed)
				var e *Error
				assert.False(t, errors.As(err, &e), "a skipped PUBLISH is not an *Error")
				assert.LessOrEqual(t, cap(r.body), r.max, "Reader body buffer beyond its bound")
				assert.LessOrEqual(t, cap(r.buf), maxReadBuffer, "read buffer beyond its bound")

				p, err = r.ReadPacket()
				require.NoError(t, err, "the packet after a skipped one")
				require.Equal(t, skipFollowerPacket, p)
				p, err = r.ReadPacket()
				require.Nil(t, p)
				require.Equal(t, io.EOF, err)
			})
		}
	}
}

// TestReaderSkipMixed: several oversize packets in a row, between packets
// within the limit, with the same Reader.
func TestReaderSkipMixed(t *testing.T) {
	var in []byte
	var want []any // Packet or OversizeError
	for _, c := range skipCases {
		if c.limit != 0 {
			continue // all at DefaultMaxPacketSize
		}
		in = append(in, c.bytes()...)
		want = append(want, c.want)
		in = append(in, mustHex(skipFollower)...)
		want = append(want, Packet(skipFollowerPacket))
	}
	in = append(in, skipCases[0].bytes()...) // two skipped in a row
	want = append(want, skipCases[0].want)
	in = append(in, mustHex(`d0 00 // PINGRESP`)...)
	want = append(want, Packet(&Pingresp{}))

	r := newSkippingReader(bytes.NewReader(in), 0)
	for i, w := range want {
		p, err := r.ReadPacket()
		switch w := w.(type) {
		case Packet:
			require.NoError(t, err, "packet %d", i)
			require.Equal(t, w, p, "packet %d", i)
		case OversizeError:
			var oe *OversizeError
			require.ErrorAs(t, err, &oe, "packet %d", i)
			require.Equal(t, w, *oe, "packet %d", i)
		}
	}
	_, err := r.ReadPacket()
	require.Equal(t, io.EOF, err)
}

// TestReaderSkipMalformed: a defect in the part of an oversize PUBLISH the
// Reader reads is reported as Decode reports it for the whole packet, and the
// PUBLISH is not skipped.
func TestReaderSkipMalformed(t *testing.T) {
	for _, c := range []struct {
		name   string
		wire   string
		tail   []byte
		field  string
		rule   string
		offset int
	}{
		{
			name: "QoS 3",
			wire: `36 65       // PUBLISH, QoS 3, remaining length 101
			       00 01 61 00 01`,
			tail:  pattern(96),
			field: "QoS", rule: "MQTT-3.3.1-4", offset: 0,
		},
		{
			name: "DUP at QoS 0",
			wire: `38 65       // PUBLISH, DUP, QoS 0, remaining length 101
			       00 01 61    // topic "a"`,
			tail:  pattern(98),
			field: "Dup", rule: "MQTT-3.3.1-2", offset: 0,
		},
		{
			name: "wildcard in topic",
			wire: `30 65       // PUBLISH, QoS 0, remaining length 101
			       00 03 61 2f 2b // topic "a/+"`,
			tail:  pattern(96),
			field: "TopicName", rule: "MQTT-3.3.2-2", offset: 2,
		},
		{
			name: "empty topic",
			wire: `32 65       // PUBLISH, QoS 1, remaining length 101
			       00 00       // topic ""
			       00 01       // packet ID 1`,
			tail:  pattern(97),
			field: "TopicName", rule: "MQTT-4.7.3-1", offset: 2,
		},
		{
			name: "topic not UTF-8",
			wire: `30 65       // PUBLISH, QoS 0, remaining length 101
			       00 02 c3 28 // topic: an invalid two-byte sequence`,
			tail:  pattern(97),
			field: "TopicName", rule: "MQTT-3.3.2-1", offset: 2,
		},
		{
			name: "U+0000 in topic",
			wire: `30 65       // PUBLISH, QoS 0, remaining length 101
			       00 03 61 00 62 // topic "a\x00b"`,
			tail:  pattern(96),
			field: "TopicName", rule: "MQTT-4.7.3-2", offset: 2,
		},
		{
			name: "packet ID 0",
			wire: `34 65       // PUBLISH, QoS 2, remaining length 101
			       00 01 61    // topic "a"
			       00 00       // packet ID 0`,
			tail:  pattern(96),
			field: "PacketID", rule: "MQTT-2.3.1-1", offset: 5,
		},
		{
			name: "topic runs past the packet",
			wire: `30 65       // PUBLISH, QoS 0, remaining length 101
			       00 70       // topic length 112: 99 bytes remain`,
			tail:  pattern(99),
			field: "TopicName", rule: "", offset: 2,
		},
		{
			name: "packet ID runs past the packet",
			wire: `32 65       // PUBLISH, QoS 1, remaining length 101
			       00 62       // topic length 98
			       `,
			tail:  cat(bytes.Repeat([]byte("t"), 98), mustHex(`00`)), // one byte of packet ID
			field: "PacketID", rule: "", offset: 102,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			packet := append(mustHex(c.wire), c.tail...)
			require.Equal(t, 2+101, len(packet), "table row")
			_, _, derr := Decode(packet)
			checkError(t, derr, ErrMalformed, opDecode, TypePublish, c.field, c.rule, c.offset)

			for rname, mk := range skipReaders {
				r := newSkippingReader(mk(cat(packet, mustHex(skipFollower))), 100)
				p, err := r.ReadPacket()
				require.Nil(t, p, rname)
				checkError(t, err, ErrMalformed, opDecode, TypePublish, c.field, c.rule, c.offset)
				assert.Equal(t, derr.Error(), err.Error(), rname)
				var oe *OversizeError
				assert.False(t, errors.As(err, &oe), "%s: a malformed PUBLISH is not an *OversizeError", rname)
			}
		})
	}
}

// TestReaderSkipTruncated: a stream that ends inside an oversize PUBLISH is
// io.ErrUnexpectedEOF at the offset where it ended, as Decode reports the
// same bytes, whether it ends in the topic, the packet ID or the payload.
func TestReaderSkipTruncated(t *testing.T) {
	whole := skipCases[1].bytes() // QoS 1 "sensors/big", 3 MiB
	for _, n := range []int{
		6,                  // inside the topic length
		8,                  // inside the topic
		5 + 2 + 11 + 1,     // inside the packet ID
		5 + 2 + 11 + 2,     // before the payload
		5 + 2 + 11 + 2 + 1, // one byte of payload
		4096,               // one bufio buffer
		len(whole) - 1,     // one byte short
	} {
		b := whole[:n]
		_, _, derr := Decode(b)
		checkError(t, derr, io.ErrUnexpectedEOF, opDecode, 0, "", "", n)
		for rname, mk := range skipReaders {
			r := newSkippingReader(mk(b), 0)
			p, err := r.ReadPacket()
			require.Nil(t, p)
			checkError(t, err, io.ErrUnexpectedEOF, opDecode, 0, "", "", n)
			assert.Equal(t, derr.Error(), err.Error(), "%s, %d bytes", rname, n)
		}
	}

	// Other read errors pass through unchanged.
	boom := errors.New("boom")
	r := newSkippingReader(io.MultiReader(bytes.NewReader(whole[:5000]), iotest.ErrReader(boom)), 0)
	_, err := r.ReadPacket()
	require.Equal(t, boom, err)
}

// TestReaderSkipLongTopic: fields before the payload longer than the bufio
// buffer are copied out as they arrive; a stream ending among them, or a
// defect at their end, is reported as Decode reports the same bytes.
func TestReaderSkipLongTopic(t *testing.T) {
	long := skipCases[5] // QoS 1, 5000-byte topic, 300000-byte payload
	whole := long.bytes()
	const header = 4 // 32 ec ce 12
	for _, n := range []int{
		header + 4096,         // one bufio buffer
		header + 4096 + 1,     // one byte more
		header + 2 + 4999,     // one byte short of the topic
		header + 2 + 5000,     // before the packet ID
		header + 2 + 5000 + 1, // inside the packet ID
		header + 8192 + 100,   // inside the payload, past the copied bytes
	} {
		b := whole[:n]
		_, _, derr := Decode(b)
		checkError(t, derr, io.ErrUnexpectedEOF, opDecode, 0, "", "", n)
		for rname, mk := range skipReaders {
			_, err := newSkippingReader(mk(b), 0).ReadPacket()
			checkError(t, err, io.ErrUnexpectedEOF, opDecode, 0, "", "", n)
			assert.Equal(t, derr.Error(), err.Error(), "%s, %d bytes", rname, n)
		}
	}

	// A wildcard as the 5000th byte of the topic.
	bad := bytes.Clone(whole)
	bad[header+2+4999] = '#'
	_, _, derr := Decode(bad)
	checkError(t, derr, ErrMalformed, opDecode, TypePublish, "TopicName", "MQTT-3.3.2-2", header)
	for rname, mk := range skipReaders {
		r := newSkippingReader(mk(cat(bad, mustHex(skipFollower))), 0)
		_, err := r.ReadPacket()
		assert.Equal(t, derr.Error(), err.Error(), rname)
		assert.LessOrEqual(t, cap(r.body), r.max, "Reader body buffer beyond its bound")
		assert.LessOrEqual(t, cap(r.buf), maxReadBuffer, "read buffer beyond its bound")
	}
}

// TestReaderSkipOtherTypes: an oversize packet of another type is refused
// as without the option: nothing past the fixed header is read, and the
// error matches both *OversizeError and the *Error the Reader returns when
// not skipping.
func TestReaderSkipOtherTypes(t *testing.T) {
	for _, c := range []struct {
		name string
		wire string
		typ  Type
	}{
		{"SUBSCRIBE", `82 cd 01 // SUBSCRIBE, remaining length 205`, TypeSubscribe},
		{"CONNECT", `10 cd 01 // CONNECT, remaining length 205`, TypeConnect},
		{"PUBACK", `40 cd 01 // PUBACK, remaining length 205`, TypePuback},
		{"reserved 0", `00 cd 01 // reserved type 0, remaining length 205`, 0},
		{"reserved 15", `f0 cd 01 // reserved type 15, remaining length 205`, 15},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := cat(mustHex(c.wire), pattern(205))

			off := NewReader(bytes.NewReader(in))
			off.SetMaxPacketSize(100)
			_, offErr := off.ReadPacket()

			br := bytes.NewReader(in)
			r := newSkippingReader(br, 100)
			p, err := r.ReadPacket()
			require.Nil(t, p)
			require.ErrorIs(t, err, ErrTooLarge)
			var oe *OversizeError
			require.ErrorAs(t, err, &oe)
			assert.Equal(t, OversizeError{Type: c.typ, Size: 205, Limit: 100}, *oe)
			assert.Equal(t, offErr.Error(), err.Error())
			assert.Equal(t, "packets: decode"+map[bool]string{true: " " + c.typ.String(), false: ""}[c.typ != 0]+
				" field RemainingLength at offset 1: remaining length 205 exceeds the limit of 100 bytes", err.Error())

			e := checkError(t, err, ErrTooLarge, opDecode, c.typ, "RemainingLength", "", 1)
			assert.Equal(t, offErr, e, "errors.As gives the *Error of a Reader not skipping")
			assert.Zero(t, cap(r.body), "no body buffer")
			assert.Equal(t, len(in)-3, br.Len()+r.w-r.r, "nothing read past the fixed header")
		})
	}
}

// TestReaderSkipOff: without the option an oversize PUBLISH is refused with
// the *Error of old, and is not an *OversizeError.
func TestReaderSkipOff(t *testing.T) {
	r := NewReader(bytes.NewReader(cat(skipCases[0].bytes(), mustHex(skipFollower))))
	_, err := r.ReadPacket()
	checkError(t, err, ErrTooLarge, opDecode, TypePublish, "RemainingLength", "", 1)
	var oe *OversizeError
	assert.False(t, errors.As(err, &oe))
	assert.Equal(t, "packets: decode PUBLISH field RemainingLength at offset 1: remaining length 3145733 exceeds the limit of 262144 bytes", err.Error())

	// Off again after on.
	r = newSkippingReader(bytes.NewReader(skipCases[0].bytes()), 0)
	r.SetSkipOversizePublish(false)
	_, err = r.ReadPacket()
	assert.False(t, errors.As(err, &oe))
	checkError(t, err, ErrTooLarge, opDecode, TypePublish, "RemainingLength", "", 1)
}

// TestOversizeErrorString checks the messages exactly.
func TestOversizeErrorString(t *testing.T) {
	for _, c := range []struct {
		err  OversizeError
		want string
	}{
		{skipCases[0].want, `packets: skipped PUBLISH{Dup:false QoS:0 Retain:false TopicName:"a/b"}: remaining length 3145733 exceeds the limit of 262144 bytes`},
		{skipCases[1].want, `packets: skipped PUBLISH{Dup:false QoS:1 Retain:false TopicName:"sensors/big" PacketID:7}: remaining length 3145743 exceeds the limit of 262144 bytes`},
		{skipCases[2].want, `packets: skipped PUBLISH{Dup:true QoS:2 Retain:true TopicName:"x" PacketID:65534}: remaining length 3145733 exceeds the limit of 262144 bytes`},
		{OversizeError{Type: TypePublish, Size: 5, Limit: 4, Packet: &Publish{TopicName: "a\x00\"b"}, Skipped: true}, `packets: skipped PUBLISH{Dup:false QoS:0 Retain:false TopicName:"a\x00\"b"}: remaining length 5 exceeds the limit of 4 bytes`},
		{OversizeError{Type: TypePublish, Size: 5, Limit: 4, Skipped: true}, `packets: skipped PUBLISH: remaining length 5 exceeds the limit of 4 bytes`},
		{OversizeError{Type: TypeSubscribe, Size: 205, Limit: 100}, `packets: decode SUBSCRIBE field RemainingLength at offset 1: remaining length 205 exceeds the limit of 100 bytes`},
	} {
		assert.Equal(t, c.want, c.err.Error())
		assert.Equal(t, ErrTooLarge, c.err.Unwrap())
	}
}

// TestAllocsReaderSkip: skipping a 4 MiB PUBLISH allocates the error, the
// Publish in it and the topic string, not the payload: far below the
// packet's size.
func TestAllocsReaderSkip(t *testing.T) {
	big := cat(mustHex(`
		32          // PUBLISH, QoS 1
		87 80 80 02 // remaining length 4194311 = 2+3+2+4194304
		00 03 61 2f 62 // topic "a/b"
		00 07       // packet ID 7`), pattern(4<<20), mustHex(skipFollower))
	r := newSkippingReader(&repeatReader{b: big}, 0)
	read := func() {
		var oe *OversizeError
		if _, err := r.ReadPacket(); !errors.As(err, &oe) || !oe.Skipped || oe.Packet.(*Publish).TopicName != "a/b" {
			panic(err)
		}
		if _, err := r.ReadPacket(); err != nil {
			panic(err)
		}
	}
	read() // warm up: the follower's packet value and body buffer

	const runs = 10
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < runs; i++ {
		read()
	}
	runtime.ReadMemStats(&after)
	total := after.TotalAlloc - before.TotalAlloc
	assert.Less(t, total, uint64(64<<10), "bytes allocated skipping %d PUBLISH packets of 4 MiB", runs)
	t.Logf("%d bytes allocated for %d skips of 4 MiB and %d small packets", total, runs, runs)

	// Per skip and follower: the OversizeError, the Publish in it and its
	// topic, and the follower's topic.
	allocs := testing.AllocsPerRun(runs, read)
	assert.LessOrEqual(t, allocs, 4.0, "allocations per skipped PUBLISH and small PUBLISH")
	assert.Zero(t, cap(r.body), "no body buffer: the small packet was decoded in the read buffer")
	assert.LessOrEqual(t, cap(r.buf), maxReadBuffer, "read buffer beyond its bound")
}

// segmentReader serves its segments in order, never more than one per
// Read, the way a socket hands over what has arrived: a segment boundary is
// a moment the stream was drained. It counts the Reads.
type segmentReader struct {
	segs  [][]byte
	reads int
}

func (s *segmentReader) Read(p []byte) (int, error) {
	s.reads++
	for len(s.segs) > 0 && len(s.segs[0]) == 0 {
		s.segs = s.segs[1:]
	}
	if len(s.segs) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.segs[0])
	s.segs[0] = s.segs[0][n:]
	return n, nil
}

// TestReaderBufferFollowsTraffic: the read buffer grows while a flood keeps
// it full, so that a flood costs few reads, and returns to its resting size
// once the stream brings little; a packet larger than the buffer's bound is
// read into a body buffer that is given back the same way.
func TestReaderBufferFollowsTraffic(t *testing.T) {
	const msgs = 1000
	one := mustAppend(t, &Publish{TopicName: "flood", Payload: pattern(4096)})
	ping := mustAppend(t, &Pingresp{})
	huge := mustAppend(t, &Publish{TopicName: "huge", Payload: pattern(100 << 10)})
	src := &segmentReader{segs: [][]byte{
		bytes.Repeat(one, msgs), // a flood, all waiting at once
		ping, ping, ping,        // then a quiet connection's PINGRESPs
		huge, // one packet past the read buffer's bound
		ping, ping, ping,
	}}
	r := NewReaderSize(src, 4096)

	for i := range msgs {
		p, err := r.ReadPacket()
		require.NoError(t, err, "message %d", i)
		require.Equal(t, pattern(4096), p.(*Publish).Payload, "message %d", i)
	}
	assert.Equal(t, maxReadBuffer, cap(r.buf), "the flood grew the buffer to its bound")
	floodReads := src.reads
	assert.Less(t, floodReads, len(one)*msgs/(maxReadBuffer/2), "reads for %d bytes", len(one)*msgs)
	t.Logf("%d reads for a flood of %d bytes", floodReads, len(one)*msgs)

	for range 3 {
		p, err := r.ReadPacket()
		require.NoError(t, err)
		require.IsType(t, &Pingresp{}, p)
	}
	// The two quiet reads that brought the first PINGRESPs shrank the
	// buffer before the third.
	assert.Equal(t, 4096, cap(r.buf), "back to the resting size")

	p, err := r.ReadPacket()
	require.NoError(t, err)
	require.Equal(t, pattern(100<<10), p.(*Publish).Payload)
	assert.GreaterOrEqual(t, cap(r.body), 100<<10, "the huge packet has a body buffer")
	assert.LessOrEqual(t, cap(r.buf), maxReadBuffer)

	for range 3 {
		_, err := r.ReadPacket()
		require.NoError(t, err)
	}
	assert.Nil(t, r.body, "the body buffer is given back once the stream is quiet")
	assert.Equal(t, 4096, cap(r.buf))
	_, err = r.ReadPacket()
	assert.Equal(t, io.EOF, err)
}

// TestReaderBufferBoundWithOddRestingSize: a resting size that is not a
// power of two still grows no further than 64 KiB under a flood.
func TestReaderBufferBoundWithOddRestingSize(t *testing.T) {
	one := mustAppend(t, &Publish{TopicName: "flood", Payload: pattern(3000)})
	r := NewReaderSize(&segmentReader{segs: [][]byte{bytes.Repeat(one, 200)}}, 5000)
	for i := range 200 {
		_, err := r.ReadPacket()
		require.NoError(t, err, "message %d", i)
		require.LessOrEqual(t, cap(r.buf), maxReadBuffer)
	}
	assert.Equal(t, maxReadBuffer, cap(r.buf), "grown to the bound")
}

// flakyReader serves its parts in order, each nil part an error instead,
// as a connection whose read deadline passed mid-packet does.
type flakyReader struct {
	parts [][]byte
	err   error
}

func (f *flakyReader) Read(p []byte) (int, error) {
	if len(f.parts) == 0 {
		return 0, io.EOF
	}
	part := f.parts[0]
	if part == nil { // the error's place
		f.parts = f.parts[1:]
		return 0, f.err
	}
	n := copy(p, part)
	if f.parts[0] = part[n:]; len(f.parts[0]) == 0 {
		f.parts = f.parts[1:]
	}
	return n, nil
}

// TestReaderResumesAfterTransientError: an error from the stream in the
// middle of a packet is returned once, as bufio returns it, and the bytes
// read before it stay buffered, so a ReadPacket after a passing error (a
// read deadline) returns the whole packet.
func TestReaderResumesAfterTransientError(t *testing.T) {
	want := &Publish{TopicName: "a/b", Payload: pattern(300)}
	wire := mustAppend(t, want)
	errTimeout := errors.New("i/o timeout")
	src := &flakyReader{parts: [][]byte{wire[:100], nil, wire[100:]}, err: errTimeout}
	r := NewReader(src)
	_, err := r.ReadPacket()
	require.ErrorIs(t, err, errTimeout)
	p, err := r.ReadPacket()
	require.NoError(t, err)
	assert.Equal(t, want, p)
	_, err = r.ReadPacket()
	assert.Equal(t, io.EOF, err)
}
