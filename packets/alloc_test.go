package packets

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Allocation budgets (STYLE.md §4). Each closure panics on error so that a
// failure cannot masquerade as a cheap run.

// TestAllocsEncode: Append into a buffer with room allocates nothing.
func TestAllocsEncode(t *testing.T) {
	for _, p := range []Packet{benchPublish(), benchConnect(), benchSubscribe(), &Puback{PacketID: 1}, &Pingreq{}} {
		buf := make([]byte, 0, p.Size())
		allocs := testing.AllocsPerRun(100, func() {
			var err error
			if buf, err = p.Append(buf[:0]); err != nil {
				panic(err)
			}
		})
		assert.Zero(t, allocs, "%T.Append into a buffer with room", p)
		require.Equal(t, mustAppend(t, p), buf)

		allocs = testing.AllocsPerRun(100, func() {
			if err := p.Validate(); err != nil {
				panic(err)
			}
			_ = p.Size()
		})
		assert.Zero(t, allocs, "%T.Validate and Size", p)
	}
}

// TestAllocsReaderPublish: in steady state a Reader spends no allocation on
// a QoS 1 PUBLISH (20-byte topic, 64-byte payload): the packet value and the
// body buffer are reused, and the topic string is interned.
func TestAllocsReaderPublish(t *testing.T) {
	want := benchPublish()
	r := NewReader(&repeatReader{b: mustAppend(t, want)})
	for i := 0; i < 10; i++ { // warm up: buffer and packet value
		p, err := r.ReadPacket()
		require.NoError(t, err)
		require.Equal(t, want, p)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := r.ReadPacket(); err != nil {
			panic(err)
		}
	})
	assert.Zero(t, allocs, "allocations per PUBLISH from a Reader")
}

// TestAllocsReaderSubscribe: the Subscriptions slice is reused too, and the
// three filter strings are interned.
func TestAllocsReaderSubscribe(t *testing.T) {
	want := benchSubscribe()
	r := NewReader(&repeatReader{b: mustAppend(t, want)})
	for i := 0; i < 10; i++ {
		p, err := r.ReadPacket()
		require.NoError(t, err)
		require.Equal(t, want, p)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := r.ReadPacket(); err != nil {
			panic(err)
		}
	})
	assert.Zero(t, allocs, "allocations per 3-filter SUBSCRIBE from a Reader")
}

// TestReaderInternBounded: a stream of ever new topics keeps the interned
// set bounded, and every topic decodes right.
func TestReaderInternBounded(t *testing.T) {
	var stream []byte
	for i := range 3 * internMaxEntries {
		p := &Publish{TopicName: "t/" + strconv.Itoa(i), Payload: []byte("x")}
		stream = append(stream, mustAppend(t, p)...)
	}
	r := NewReader(bytes.NewReader(stream))
	for i := range 3 * internMaxEntries {
		p, err := r.ReadPacket()
		require.NoError(t, err)
		require.Equal(t, "t/"+strconv.Itoa(i), p.(*Publish).TopicName)
		require.LessOrEqual(t, len(r.strs.m), internMaxEntries)
	}
}

// TestAllocsDecode: Decode allocates the packet value, plus one string per
// topic; byte slices alias the input.
func TestAllocsDecode(t *testing.T) {
	for _, c := range []struct {
		p      Packet
		budget float64
	}{
		{&Puback{PacketID: 1}, 1},
		{&Pingresp{}, 1},
		{benchPublish(), 2},
	} {
		wire := mustAppend(t, c.p)
		allocs := testing.AllocsPerRun(100, func() {
			if _, _, err := Decode(wire); err != nil {
				panic(err)
			}
		})
		assert.LessOrEqual(t, allocs, c.budget, "Decode of %T", c.p)
	}
}

// TestAllocsEncodeAcks: the acks a read loop sends for every QoS 1 and 2
// message, a value on the stack appended into a buffer with room, allocate
// nothing. TestAllocsEncode covers them behind the Packet interface.
func TestAllocsEncodeAcks(t *testing.T) {
	for _, c := range []struct {
		name   string
		wire   string
		encode func(dst []byte) ([]byte, error)
	}{
		{"PUBACK", `40 02 00 01`, func(dst []byte) ([]byte, error) { p := Puback{PacketID: 1}; return p.Append(dst) }},
		{"PUBREC", `50 02 00 01`, func(dst []byte) ([]byte, error) { p := Pubrec{PacketID: 1}; return p.Append(dst) }},
		{"PUBREL", `62 02 00 01`, func(dst []byte) ([]byte, error) { p := Pubrel{PacketID: 1}; return p.Append(dst) }},
		{"PUBCOMP", `70 02 00 01`, func(dst []byte) ([]byte, error) { p := Pubcomp{PacketID: 1}; return p.Append(dst) }},
	} {
		buf := make([]byte, 0, 16)
		allocs := testing.AllocsPerRun(100, func() {
			var err error
			if buf, err = c.encode(buf[:0]); err != nil {
				panic(err)
			}
		})
		assert.Zero(t, allocs, "%s.Append from a stack value into a buffer with room", c.name)
		assert.Equal(t, mustHex(c.wire), buf, c.name)
	}
}
