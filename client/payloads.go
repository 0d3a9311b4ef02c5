// payloads.go holds the recycling of the payload copies PublishAsync keeps
// until a flow ends.
package client

import (
	"math/bits"
	"sync"
)

// payloadPool recycles the copies that PublishAsync makes of payloads, by
// power-of-two size class from 256 B to 64 KiB, so that a stream of larger
// messages does not allocate, and leave for the collector, one buffer per
// message. A copy is internal: nothing outside the client sees it (stores
// encode at Put, and OnPacket must not retain what it is shown), and it
// goes back when its flow ends, or at PUBREC, after which it is never sent
// again. Payloads of 128 B or less are copied into plain allocations,
// which cost less than the pool.
type payloadPool struct {
	classes [payloadClasses]sync.Pool // of *[]byte, cap 1<<(minPayloadShift+i)
}

const (
	minPayloadShift = 8  // 256 B, the smallest class; copies up to half of it are not pooled
	maxPayloadShift = 16 // 64 KiB: larger ones neither
	payloadClasses  = maxPayloadShift - minPayloadShift + 1
)

// payloadClass is the index of the smallest class that holds n bytes, and
// false when n is not pooled.
func payloadClass(n int) (int, bool) {
	if n <= 1<<(minPayloadShift-1) || n > 1<<maxPayloadShift {
		return 0, false
	}
	shift := bits.Len(uint(n - 1)) // the smallest power of two >= n
	return max(shift, minPayloadShift) - minPayloadShift, true
}

// copyPayload returns a copy of p that m owns, from the client's pool when
// p's size is pooled; m.pooled then holds what putBack returns. The pool is
// made by the first copy that needs it, so that a client that never
// publishes larger payloads asynchronously (an idle one) does not carry it.
func (c *Client) copyPayload(m *outMsg, p []byte) []byte {
	i, ok := payloadClass(len(p))
	if !ok {
		return append([]byte(nil), p...)
	}
	pp := c.payloads.Load()
	if pp == nil {
		c.payloads.CompareAndSwap(nil, new(payloadPool))
		pp = c.payloads.Load()
	}
	box, _ := pp.classes[i].Get().(*[]byte)
	if box == nil {
		b := make([]byte, 1<<(minPayloadShift+i))
		box = &b
	}
	m.pooled = box
	return append((*box)[:0], p...)
}

// putBack returns m's pooled copy, once nothing will read it again.
func (c *Client) putBack(m *outMsg) {
	box := m.pooled
	if box == nil {
		return
	}
	m.pooled, m.pub.Payload = nil, nil
	i, _ := payloadClass(cap(*box))
	c.payloads.Load().classes[i].Put(box)
}
