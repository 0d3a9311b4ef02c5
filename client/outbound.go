// outbound.go holds the session's outbound flow: accepting QoS 1 and 2
// messages, the send window, packet identifiers, and the acknowledgments
// that complete each flow.
package client

import (
	"errors"
	"fmt"
	"time"

	"github.com/feedmq/feedmq/packets"
)

// windowOpen reports whether another QoS 1 or 2 PUBLISH may go out: fewer
// are unacknowledged than MaxInflight and than the broker's Receive Maximum
// (the send quota, MQTT5-3.3.4-7, MQTT5-4.9.0-2). Messages resumed from an
// earlier connection and not yet resent (held) do not count: they are not
// on this connection's wire.
func (s *session) windowOpen() bool {
	onWire := len(s.inflight) - len(s.held)
	return onWire < s.window
}

// allocID returns a packet identifier not used by any flow in progress
// (MQTT-2.3.1-1, MQTT-2.3.1-2).
func (s *session) allocID() (uint16, bool) {
	for range 65535 {
		id := s.nextID
		s.nextID++
		if s.nextID == 0 {
			s.nextID = 1
		}
		if _, busy := s.inflight[id]; busy {
			continue
		}
		if _, busy := s.requests[id]; busy {
			continue
		}
		return id, true
	}
	return 0, false
}

// accept takes a new QoS 1 or 2 message, or a QoS 0 message for the offline
// queue (Config.QueueQoS0). QoS 1/2 messages are stored before they are
// sent.
func (s *session) accept(m *outMsg) {
	if m.pub.QoS == AtMostOnce {
		s.queue = append(s.queue, m)
		return
	}
	m.seq = s.nextSeq
	s.nextSeq++
	if s.connected() && len(s.queue) == 0 && len(s.held) == 0 && s.windowOpen() {
		// Going out now: give it its id first, so it is stored once.
		if id, ok := s.allocID(); ok {
			m.pub.PacketID = id
		}
	}
	if !s.put(outKey(m.seq), &m.pub) {
		s.c.finishMsg(m, fmt.Errorf("client: message not stored, not sent: %w", errStoreFailed))
		return
	}
	m.d.setStored()
	if m.pub.PacketID != 0 {
		if err := s.conn.admits(&m.pub); err != nil {
			s.del(outKey(m.seq))
			s.c.finishMsg(m, err)
			return
		}
		s.inflight[m.pub.PacketID] = m
		_ = s.sendPublish(m)
		return
	}
	s.queue = append(s.queue, m)
}

var errStoreFailed = errors.New("store failed")

// pump moves queued messages onto the wire while connected and the send
// window has room, in publish order.
func (s *session) pump() {
	s.resendHeld()
	n := 0
	for s.connected() && n < len(s.queue) {
		m := s.queue[n]
		if s.expired(m) {
			n++
			continue
		}
		if err := s.conn.admits(&m.pub); err != nil {
			// The broker of this connection refuses it: failed, not
			// downgraded (MQTT5-3.2.2-11, -14, -15).
			n++
			if m.pub.QoS != AtMostOnce {
				s.del(outKey(m.seq))
			}
			s.c.finishMsg(m, err)
			continue
		}
		if m.pub.QoS == AtMostOnce {
			n++
			if err := s.sendPublish(m); err != nil {
				s.c.completeSent(m, err)
			}
			continue
		}
		if !s.windowOpen() || len(s.held) > 0 {
			break
		}
		id, ok := s.allocID()
		if !ok {
			break
		}
		m.pub.PacketID = id
		m.pub.Dup = false
		// The id must be stored before the PUBLISH leaves, so that a
		// restarted client resends with the same id (MQTT-4.4.0-1).
		if !s.put(outKey(m.seq), &m.pub) {
			m.pub.PacketID = 0
			break
		}
		n++
		s.inflight[id] = m
		_ = s.sendPublish(m)
	}
	if n > 0 {
		clear(s.queue[:n])
		s.queue = s.queue[n:]
	}
	s.checkIdle()
}

// complete ends a QoS 1 or 2 message's flow. Stats shows the message gone
// before its Delivery says it is done.
func (s *session) complete(m *outMsg, err error) {
	s.gauge()
	if err == nil {
		s.c.stats.messagesOut.Add(1)
	}
	s.c.finishMsg(m, err)
}

// onPuback ends a QoS 1 flow (MQTT-4.3.2-1). A QoS 2 message answered
// with PUBACK comes from a broker that does QoS 1 at most (RabbitMQ): the
// flow ends at once with ErrQoSDowngraded instead of waiting for a PUBREC
// that never comes.
func (s *session) onPuback(epoch uint64, id uint16, code packets.ReasonCode) {
	m := s.inflight[id]
	switch {
	case m == nil || epoch != s.epoch || m.released:
		s.unexpectedAck("PUBACK", id)
		return
	case m.pub.QoS == ExactlyOnce:
		delete(s.inflight, id)
		s.del(outKey(m.seq))
		s.c.finishMsg(m, fmt.Errorf("%w (packet %d)", ErrQoSDowngraded, id))
		s.gauge()
		return
	}
	delete(s.inflight, id)
	s.del(outKey(m.seq))
	m.d.setReason(code)
	s.complete(m, nil)
}

// onRefused ends a QoS 1 or 2 flow that the broker refused with a 5.0
// reason code of 0x80 or above in PUBACK or PUBREC: the message was not
// accepted, the flow is over and never retransmitted (MQTT5-4.4.0-2; no
// PUBREL follows a refusing PUBREC, MQTT5-4.3.3-4), and Publish returns
// the reason as a *ReasonError.
func (s *session) onRefused(epoch uint64, id uint16, re *ReasonError) {
	m := s.inflight[id]
	if m == nil || epoch != s.epoch || m.released || (re.Packet == packets.TypePubrec && m.pub.QoS != ExactlyOnce) {
		s.unexpectedAck(re.Packet.String(), id)
		return
	}
	delete(s.inflight, id)
	s.del(outKey(m.seq))
	m.d.setReason(re.Code)
	s.gauge()
	s.c.finishMsg(m, re)
}

// unexpectedAck logs and counts an acknowledgment for no flow in flight,
// which is not waited on any further.
func (s *session) unexpectedAck(kind string, id uint16) {
	s.c.stats.unexpectedAcks.Add(1)
	s.c.s.log.Warn(kind+" for no message in flight", "id", id)
}

// onPubrec answers PUBREC with PUBREL and stores the PUBREL in place of the
// PUBLISH, which is never sent again (MQTT-4.3.3-1). PUBRELs go out in
// PUBREC order (MQTT-4.6.0-4) because the session handles acks in order.
func (s *session) onPubrec(epoch uint64, id uint16, code packets.ReasonCode) {
	m := s.inflight[id]
	if m == nil || m.pub.QoS != ExactlyOnce || epoch != s.epoch {
		s.unexpectedAck("PUBREC", id)
		// Release the id anyway so the broker can finish its flow; at 5.0
		// the PUBREL says the identifier was not found (MQTT5-3.6.2-1).
		if s.conn != nil {
			_ = s.conn.sendAckCode(packets.TypePubrel, id, notFound(s.conn), false)
		}
		return
	}
	if !m.released {
		m.d.setReason(code)
		m.released = true
		s.c.putBack(m)
		m.pub.Payload = nil // never sent again
		s.nextRec++
		m.recSeq = s.nextRec
		if s.c.store != nil {
			s.put(outKey(m.seq), &packets.Pubrel{PacketID: id})
		}
	}
	if s.conn != nil {
		_ = s.conn.sendAckCode(packets.TypePubrel, id, packets.ReasonSuccess, s.now(m))
	}
}

// onPubcomp ends a QoS 2 flow.
func (s *session) onPubcomp(epoch uint64, id uint16) {
	m := s.inflight[id]
	if m == nil || !m.released || epoch != s.epoch {
		s.unexpectedAck("PUBCOMP", id)
		return
	}
	delete(s.inflight, id)
	s.del(outKey(m.seq))
	s.complete(m, nil)
}

// resendHeld resends, as the send window opens, the messages of a resumed
// session that resend could not fit in the broker's Receive Maximum. They
// keep their packet identifiers (MQTT-4.4.0-1) and go before any new
// message, in their original order (MQTT-4.6.0-1).
func (s *session) resendHeld() {
	n := 0
	for s.connected() && n < len(s.held) && s.windowOpen() {
		m := s.held[n]
		n++
		if s.inflight[m.pub.PacketID] != m {
			continue // ended meanwhile
		}
		m.pub.Dup = m.written.Load()
		_ = s.conn.sendPublish(m, false)
	}
	if n > 0 {
		clear(s.held[:n])
		s.held = s.held[n:]
	}
}

// notFound is the reason code of a PUBREL or PUBCOMP for an identifier
// the client has no flow for: 0x92 at 5.0, and nothing (0) at 3.1.x.
func notFound(cn *conn) packets.ReasonCode {
	if cn.level == MQTT5 {
		return packets.ReasonPacketIdentifierNotFound
	}
	return packets.ReasonSuccess
}

// expired ends a queued message whose MQTT 5.0 Message Expiry Interval ran
// out before it could be sent: the receiver would have discarded it
// anyway. One still in time goes out with what remains of its interval.
// A message already sent never expires on this side (MQTT5-4.3.3-7): it is
// not in the queue, and resend does not look.
func (s *session) expired(m *outMsg) bool {
	if m.expires.IsZero() || m.written.Load() {
		return false // a clean session's resend of a sent message included
	}
	left := time.Until(m.expires)
	if left <= 0 {
		if m.pub.QoS != AtMostOnce {
			s.del(outKey(m.seq))
		}
		s.c.finishMsg(m, fmt.Errorf("%w (topic %q)", ErrMessageExpired, m.pub.TopicName))
		return true
	}
	m.pub.Properties.SetMessageExpiryInterval(seconds(left))
	return false
}
