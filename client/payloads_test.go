package client

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestPayloadClass: a copy gets the smallest power-of-two class from
// 256 B to 64 KiB that holds it; smaller and larger ones are not pooled.
func TestPayloadClass(t *testing.T) {
	for _, c := range []struct {
		n      int
		class  int
		pooled bool
	}{
		{0, 0, false},
		{128, 0, false},
		{129, 0, true},
		{256, 0, true},
		{257, 1, true},
		{4096, 4, true},
		{4097, 5, true},
		{65536, 8, true},
		{65537, 0, false},
	} {
		class, pooled := payloadClass(c.n)
		assert.Equal(t, c.pooled, pooled, "%d bytes pooled", c.n)
		if c.pooled {
			assert.Equal(t, c.class, class, "class of %d bytes", c.n)
			assert.GreaterOrEqual(t, 1<<(minPayloadShift+class), c.n, "class of %d bytes holds it", c.n)
		}
	}
}

// TestPayloadPoolRecycles: a copy is made in a buffer of its class, equal
// to what it copies, and once put back the next copy of that class reuses
// it; the message lets go of it.
func TestPayloadPoolRecycles(t *testing.T) {
	c := &Client{}
	src := make([]byte, 3000)
	for i := range src {
		src[i] = byte(i)
	}
	m := &outMsg{}
	m.pub.Payload = c.copyPayload(m, src)
	assert.Equal(t, src, m.pub.Payload)
	assert.Equal(t, 4096, cap(m.pub.Payload))
	first := &m.pub.Payload[0]
	c.putBack(m)
	assert.Nil(t, m.pub.Payload)
	assert.Nil(t, m.pooled)
	c.putBack(m) // a second time does nothing

	m2 := &outMsg{}
	m2.pub.Payload = c.copyPayload(m2, src[:2500])
	assert.Equal(t, src[:2500], m2.pub.Payload)
	// sync.Pool may drop an item at any GC, so reuse is likely, not sure.
	if &m2.pub.Payload[0] != first {
		t.Log("the pool dropped the buffer (a GC ran)")
	}

	small := &outMsg{}
	small.pub.Payload = c.copyPayload(small, src[:64])
	assert.Nil(t, small.pooled, "64 B is not pooled")
	assert.Equal(t, src[:64], small.pub.Payload)

	idle := &Client{}
	idle.copyPayload(&outMsg{}, src[:64])
	assert.Nil(t, idle.payloads.Load(), "no pool until a copy needs one")
	assert.Equal(t, src[:64], small.pub.Payload)
}
