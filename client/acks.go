// acks.go holds the acknowledgment of inbound messages: PUBACK or PUBREC
// once every handler a message was given to has returned, in the order the
// spec asks (MQTT-4.6.0-2, MQTT-4.6.0-3).
package client

import (
	"fmt"
	"slices"
	"sync"

	"github.com/feedmq/feedmq/packets"
)

// ackTracker sends the acknowledgments of inbound QoS 1 and 2 messages.
// By default each subscription's messages are acknowledged in the order its
// handler returns them, which is their arrival order; with
// Config.OrderedAcks one list keeps arrival order across subscriptions.
type ackTracker struct {
	c     *Client
	mu    sync.Mutex // guards order and Message.ackReady; held while sending in order
	order []*Message // OrderedAcks: unacknowledged messages in arrival order
}

// arrived registers a QoS 1 or 2 message in arrival order.
func (a *ackTracker) arrived(m *Message) {
	if m.QoS == AtMostOnce || !a.c.s.OrderedAcks {
		return
	}
	a.mu.Lock()
	a.order = append(a.order, m)
	a.mu.Unlock()
}

// handled acknowledges a message the application has: at once, or with
// OrderedAcks after every message that arrived before it.
func (a *ackTracker) handled(m *Message) {
	if m.QoS == AtMostOnce {
		return
	}
	if !a.c.s.OrderedAcks {
		a.send(m)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	m.ackReady = true
	a.releaseReady()
}

// releaseReady sends the acks from the oldest message on, up to the first
// one whose handlers are still running. a.mu is held.
func (a *ackTracker) releaseReady() {
	n := 0
	for n < len(a.order) && a.order[n].ackReady {
		a.send(a.order[n])
		n++
	}
	clear(a.order[:n])
	a.order = a.order[n:]
}

// dropStale forgets waiting acks of a broker session that ended: they must
// not hold back the acks of the new one.
func (a *ackTracker) dropStale() {
	a.mu.Lock()
	defer a.mu.Unlock()
	start := a.c.sessionStart.Load()
	a.order = slices.DeleteFunc(a.order, func(m *Message) bool { return m.epoch < start })
	a.releaseReady()
}

// send acknowledges one message: PUBACK for QoS 1 (MQTT-4.3.2-2), PUBREC
// for QoS 2 after recording that it was received (MQTT-4.3.3-2). Acks of a
// message received in an earlier broker session are dropped: that session
// is gone (MQTT-3.1.2-6), and its packet id may now name another message.
// Offline, the ack is dropped too; a persistent session's broker sends the
// message again, and a recorded QoS 2 message then gets its PUBREC.
func (a *ackTracker) send(m *Message) {
	c := a.c
	if m.epoch < c.sessionStart.Load() {
		return
	}
	cn := c.current.Load()
	refusal := packets.ReasonCode(m.refusal.Load())
	if m.QoS == AtLeastOnce {
		if cn != nil {
			_ = cn.sendAckCode(packets.TypePuback, m.PacketID, refusal, false)
		}
		return
	}
	if refusal >= 0x80 {
		// Refused: the identifier starts a new message (MQTT5-4.3.3-9),
		// and the exchange ends with this PUBREC.
		c.in.forget(m.PacketID)
		if cn != nil {
			_ = cn.sendAckCode(packets.TypePubrec, m.PacketID, refusal, false)
			cn.quotaFreed()
		}
		return
	}
	ok, err := c.in.record(m.PacketID)
	if err != nil {
		// A transient failure while processing an inbound packet closes
		// the connection (MQTT-4.8.0-2) instead of acknowledging what
		// could not be recorded; the broker resends on the next
		// connection and gets its PUBREC then.
		err = fmt.Errorf("client: recording QoS 2 message %d: %w", m.PacketID, err)
		c.reportError(err)
		if cn != nil {
			cn.fail(err)
		}
		return
	}
	if ok && cn != nil {
		_ = cn.sendAck(packets.TypePubrec, m.PacketID)
	}
}
