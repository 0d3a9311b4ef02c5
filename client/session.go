// session.go holds the session: the state MQTT calls the client's session
// (MQTT 3.1.1 §4.1) plus the queue in front of it, owned by the session
// goroutine, and what happens to it when a connection begins and ends.
package client

import (
	"cmp"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/feedmq/feedmq/packets"
	"github.com/feedmq/feedmq/store"
)

// session is touched only by the session goroutine (see runSession).
type session struct {
	c *Client

	conn  *conn  // current connection, nil while offline
	epoch uint64 // the current connection's number

	nextSeq  uint64             // sequence number of the next outbound message
	nextRec  uint64             // counts PUBRECs, see outMsg.recSeq
	nextID   uint16             // where the search for a free packet id starts
	queue    []*outMsg          // accepted, not yet on the wire, in publish order
	inflight map[uint16]*outMsg // on the wire, awaiting PUBACK/PUBREC/PUBCOMP
	held     []*outMsg          // in inflight, resumed but not yet resent: over the send window
	window   int                // the send window: MaxInflight, or the broker's Receive Maximum if lower

	subs      []*subscription   // in the order they were made
	filterIDs map[string]uint32 // MQTT 5.0: the Subscription Identifier each filter was last subscribed with
	nextSubID uint32
	requests  map[uint16]*request // SUBSCRIBE/UNSUBSCRIBE awaiting an ack
	waiting   []*request          // requests to send once connected

	// lone: the batch being handled is one operation, so the first
	// packet it sends for a blocking Publish may be written on this
	// goroutine (see now).
	lone bool

	idle      []chan struct{} // closed when nothing is pending (Disconnect)
	abandoned int             // messages ended by the client stopping
	exited    chan struct{}   // closed when the session goroutine exited
}

// now reports whether a packet of m's flow may be written on the session
// goroutine instead of the writer's (conn.endAppend): only for a blocking
// Publish, whose caller waits, and only the first packet of a batch of one
// operation. A batch of more is traffic, which the writer batches better
// than one write per packet.
func (s *session) now(m *outMsg) bool {
	now := m.waited && s.lone
	s.lone = false
	return now
}

// sendPublish queues m's PUBLISH on the current connection.
func (s *session) sendPublish(m *outMsg) error {
	return s.conn.sendPublish(m, s.now(m))
}

// outMsg is one accepted outbound message.
type outMsg struct {
	d        Delivery
	seq      uint64
	pub      packets.Publish // owns its payload at QoS 1 and 2, unless borrowed
	released bool            // PUBREL sent: never resend the PUBLISH (MQTT-4.3.3-1)
	recSeq   uint64          // when PUBREC came, to resend PUBRELs in that order (MQTT-4.6.0-4)
	counted  bool            // holds a MaxPending place
	written  atomic.Bool     // its PUBLISH left in a completed write (see conn.sendPublish)
	expires  time.Time       // MQTT 5.0 Message Expiry: dropped if still queued then; zero: never
	// borrowed: pub.Payload is the caller's buffer, lent by a blocking
	// Publish until it returns; set before the message is posted.
	borrowed bool
	// waited: a blocking Publish waits for it, so its PUBLISH is written
	// on the goroutine that queues it when the socket is free (endAppend).
	waited bool
	pooled *[]byte // pub.Payload's buffer, from Client.payloads; nil: not pooled
}

func newSession(c *Client) (*session, error) {
	s := &session{
		c:        c,
		nextID:   1,
		nextSeq:  1,
		inflight: map[uint16]*outMsg{},
		requests: map[uint16]*request{},
		exited:   make(chan struct{}),
	}
	if c.store == nil {
		return s, nil
	}
	entries, err := c.store.Load()
	if err != nil {
		return nil, fmt.Errorf("client: loading the store: %w", err)
	}
	for _, e := range entries {
		switch e.Key.Dir {
		case store.Outbound:
			s.restore(e)
		case store.Inbound:
			c.in.restore(uint16(e.Key.Seq))
		}
	}
	if n := len(entries); n > 0 {
		c.s.log.Info("resuming session state from the store", "entries", n)
	}
	return s, nil
}

// restore takes back one outbound message from the store.
func (s *session) restore(e store.Entry) {
	m := &outMsg{seq: e.Key.Seq}
	switch p := e.Packet.(type) {
	case *packets.Publish:
		m.pub = *p
	case *packets.Pubrel:
		m.pub = packets.Publish{QoS: ExactlyOnce, PacketID: p.PacketID}
		m.released = true
	default:
		return
	}
	m.d.stored = true
	if m.pub.PacketID != 0 {
		m.written.Store(true) // it may have left before the restart
		s.inflight[m.pub.PacketID] = m
	} else {
		s.queue = append(s.queue, m)
	}
	s.nextSeq = max(s.nextSeq, e.Key.Seq+1)
}

// recovered lists the messages loaded from the store.
func (s *session) recovered() []*outMsg {
	out := append([]*outMsg(nil), s.queue...)
	for _, m := range s.inflight {
		out = append(out, m)
	}
	return out
}

// put stores a packet of an outbound message, reporting a store failure.
func (s *session) put(k store.Key, p packets.Packet) bool {
	if s.c.store == nil {
		return true
	}
	if err := s.c.store.Put(k, p); err != nil {
		s.c.reportError(fmt.Errorf("client: store: %w", err))
		return false
	}
	return true
}

func (s *session) del(k store.Key) { s.c.storeDelete(k) }

func outKey(seq uint64) store.Key { return store.Key{Dir: store.Outbound, Seq: seq} }
func inKey(id uint16) store.Key   { return store.Key{Dir: store.Inbound, Seq: uint64(id)} }

func (s *session) connected() bool { return s.conn != nil }

// onConnected takes over a new connection: it resumes or resets the session,
// resends what the broker has not acknowledged, resubscribes, and pumps the
// queue.
func (s *session) onConnected(cn *conn) {
	s.conn = cn
	s.epoch = cn.epoch
	// The send quota starts again on every connection (MQTT5-4.9.0-1).
	s.window = min(s.c.s.MaxInflight, int(cn.server.ReceiveMaximum))
	s.held = s.held[:0]
	// At 5.0 only a session the broker reports is resumed: with Session
	// Present 0 the client discards its state (MQTT5-3.2.2-5) and resends
	// nothing as a retransmission (MQTT5-4.4.0-1). 3.1.1 resends on every
	// reconnect with CleanSession 0 (MQTT-4.4.0-1).
	if s.c.s.PersistentSession && (cn.sessionPresent || cn.level != MQTT5) {
		s.resend()
	} else {
		s.restartAsNew()
	}
	if !cn.sessionPresent {
		// The broker has no session (a clean one, or it lost ours): acks of
		// the old one are void, and the packet ids of unreleased inbound
		// QoS 2 messages mean nothing now.
		s.c.sessionStart.Store(cn.epoch)
		s.c.acks.dropStale()
		s.c.in.reset()
	}
	// Requests cut off by the old connection, and subscriptions the broker
	// does not have, go out again.
	for id, r := range s.requests {
		delete(s.requests, id)
		s.waiting = append(s.waiting, r)
	}
	if !cn.sessionPresent {
		s.resubscribe()
	}
	s.flushWaiting()
	s.pump()
}

// inflightInOrder lists the messages in flight: PUBRELs first, in the order
// their PUBRECs came (MQTT-4.6.0-4; after a restart, recSeq is 0 and
// publish order stands in for it), then PUBLISHes in the order they were
// first sent (MQTT-4.6.0-1).
func (s *session) inflightInOrder() []*outMsg {
	inflight := make([]*outMsg, 0, len(s.inflight))
	for _, m := range s.inflight {
		inflight = append(inflight, m)
	}
	slices.SortFunc(inflight, func(a, b *outMsg) int {
		switch {
		case a.released != b.released:
			if a.released {
				return -1
			}
			return 1
		case a.released && a.recSeq != b.recSeq:
			return cmp.Compare(a.recSeq, b.recSeq)
		}
		return cmp.Compare(a.seq, b.seq)
	})
	return inflight
}

// resend sends every unacknowledged PUBLISH again with DUP=1 (MQTT-3.3.1-1)
// and its original id, and every PUBREL again (MQTT-4.4.0-1).
//
// A PUBREL is never held back, but its message still counts against the
// send window until PUBCOMP (MQTT5-3.3.4-8, MQTT5-4.9.0-2): PUBLISHes past
// the window wait in held, and go out as acks free the window.
func (s *session) resend() {
	onWire := 0
	for _, m := range s.inflightInOrder() {
		if m.released {
			_ = s.conn.sendAck(packets.TypePubrel, m.pub.PacketID)
			onWire++
			continue
		}
		if onWire >= s.window {
			s.held = append(s.held, m)
			continue
		}
		onWire++
		m.pub.Dup = m.written.Load()
		_ = s.conn.sendPublish(m, false)
	}
}

// restartAsNew applies a clean session, which discards the old one
// (MQTT-3.1.2-6, MQTT5-3.1.2-4), or a 5.0 session the broker lost
// (MQTT5-3.2.2-5): messages the broker had taken ownership of (PUBREC
// received) are complete; the others are sent again as new messages with
// new ids.
func (s *session) restartAsNew() {
	var again []*outMsg
	for _, m := range s.inflightInOrder() {
		delete(s.inflight, m.pub.PacketID)
		if m.released {
			s.del(outKey(m.seq))
			s.complete(m, nil)
			continue
		}
		m.pub.PacketID, m.pub.Dup = 0, false
		again = append(again, m)
	}
	s.queue = append(again, s.queue...)
}

// onConnectionLost forgets a connection that ended.
func (s *session) onConnectionLost(cn *conn) {
	if s.conn == cn {
		s.conn = nil
	}
}

// disconnect queues DISCONNECT as the connection's last packet
// (MQTT-3.14.4-1, MQTT-3.14.4-2) and returns a channel closed once it was
// written; nil when offline.
func (s *session) disconnect(p *packets.Disconnect) <-chan struct{} {
	if s.conn == nil {
		return nil
	}
	sent := s.conn.sendDisconnect(p)
	s.conn = nil
	return sent
}

// notifyIdle closes ch once nothing is queued or in flight.
func (s *session) notifyIdle(ch chan struct{}) {
	s.idle = append(s.idle, ch)
	s.checkIdle()
}

// gauge publishes the queue lengths to Stats.
func (s *session) gauge() {
	s.c.stats.inflight.Store(int64(len(s.inflight)))
	s.c.stats.queued.Store(int64(len(s.queue)))
}

func (s *session) checkIdle() {
	s.gauge()
	if len(s.idle) == 0 || len(s.queue) > 0 || len(s.inflight) > 0 {
		return
	}
	for _, ch := range s.idle {
		close(ch)
	}
	s.idle = nil
}

// abandon ends every flow still open when the client stops.
func (s *session) abandon() {
	for _, m := range s.queue {
		s.abandoned++
		s.c.finishMsg(m, ErrAbandoned)
	}
	for _, m := range s.inflight {
		s.abandoned++
		s.c.finishMsg(m, ErrAbandoned)
	}
	for _, r := range s.requests {
		r.finish(requestResult{err: ErrClosed})
	}
	for _, r := range s.waiting {
		r.finish(requestResult{err: ErrClosed})
	}
	s.queue, s.waiting = nil, nil
	clear(s.inflight)
	clear(s.requests)
}
