package client

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/feedmq/feedmq/packets"
	"github.com/feedmq/feedmq/store"
)

// session is the state MQTT calls the client's session (MQTT 3.1.1 §4.1)
// plus the queue in front of it. Only the session goroutine touches it.
type session struct {
	c *Client

	conn         *conn  // current connection, nil while offline
	epoch        uint64 // the current connection's number
	sessionStart uint64 // number of the connection that began the broker's current session

	nextSeq  uint64             // sequence number of the next outbound message
	nextRec  uint64             // counts PUBRECs, see outMsg.recSeq
	nextID   uint16             // where the search for a free packet id starts
	queue    []*outMsg          // accepted, not yet on the wire, in publish order
	inflight map[uint16]*outMsg // on the wire, awaiting PUBACK/PUBREC/PUBCOMP

	inbound  map[uint16]*inbound2 // QoS 2 messages received and not yet released
	ackOrder []*inAck             // unacknowledged inbound messages in arrival order (Config.OrderedAcks)

	subs     []*subscription     // in the order they were made
	requests map[uint16]*request // SUBSCRIBE/UNSUBSCRIBE awaiting an ack
	waiting  []*request          // requests to send once connected

	defaultSubscription *subscription // Config.DefaultHandler's, created on first use

	idle []chan struct{} // closed when nothing is pending (Disconnect)
}

// outMsg is one accepted outbound message.
type outMsg struct {
	seq      uint64
	pub      packets.Publish // owns copies of the topic and payload
	released bool            // PUBREL sent: never resend the PUBLISH (MQTT-4.3.3-1)
	recSeq   uint64          // when PUBREC came, to resend PUBRELs in that order (MQTT-4.6.0-4)
	slotted  bool            // holds a MaxPending slot
	d        *Delivery       // nil for messages recovered from the store
}

// inbound2 is the receiver side of one QoS 2 flow (MQTT-4.3.3-2).
type inbound2 struct {
	recorded bool // PUBREC sent and stored; waiting for PUBREL
}

func newSession(c *Client) (*session, error) {
	s := &session{
		c:        c,
		nextID:   1,
		nextSeq:  1,
		inflight: map[uint16]*outMsg{},
		inbound:  map[uint16]*inbound2{},
		requests: map[uint16]*request{},
	}
	entries, err := c.store.Load()
	if err != nil {
		return nil, fmt.Errorf("client: loading the store: %w", err)
	}
	for _, e := range entries {
		switch e.Key.Dir {
		case store.Outbound:
			m := &outMsg{seq: e.Key.Seq}
			switch p := e.Packet.(type) {
			case *packets.Publish:
				m.pub = *p
			case *packets.Pubrel:
				m.pub = packets.Publish{QoS: ExactlyOnce, PacketID: p.PacketID}
				m.released = true
			default:
				continue
			}
			if m.pub.PacketID != 0 {
				s.inflight[m.pub.PacketID] = m
			} else {
				s.queue = append(s.queue, m)
			}
			s.nextSeq = max(s.nextSeq, e.Key.Seq+1)
		case store.Inbound:
			s.inbound[uint16(e.Key.Seq)] = &inbound2{recorded: true}
		}
	}
	if n := len(entries); n > 0 {
		c.s.log.Info("resuming session state from the store", "entries", n)
	}
	return s, nil
}

// recovered lists the messages loaded from the store.
func (s *session) recovered() []*outMsg {
	out := append([]*outMsg(nil), s.queue...)
	for _, m := range s.inflight {
		out = append(out, m)
	}
	return out
}

func (c *Client) runSession() {
	defer c.wg.Done()
	for {
		select {
		case fn := <-c.ops:
			fn(c.sess)
		case <-c.ctx.Done():
			return
		}
	}
}

// put stores a packet of an outbound message, reporting a store failure.
func (s *session) put(k store.Key, p packets.Packet) bool {
	if err := s.c.store.Put(k, p); err != nil {
		s.c.reportError(fmt.Errorf("client: store: %w", err))
		return false
	}
	return true
}

func (s *session) del(k store.Key) {
	if err := s.c.store.Delete(k); err != nil {
		s.c.reportError(fmt.Errorf("client: store: %w", err))
	}
}

func outKey(seq uint64) store.Key   { return store.Key{Dir: store.Outbound, Seq: seq} }
func inKey(id uint16) store.Key     { return store.Key{Dir: store.Inbound, Seq: uint64(id)} }
func (s *session) connected() bool  { return s.conn != nil }
func (s *session) windowOpen() bool { return len(s.inflight) < s.c.s.MaxInflight }

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
// queue. QoS 1/2 messages are stored before they are sent.
func (s *session) accept(m *outMsg) {
	if m.pub.QoS == AtMostOnce {
		s.queue = append(s.queue, m)
		s.pump()
		return
	}
	m.seq = s.nextSeq
	s.nextSeq++
	if s.connected() && len(s.queue) == 0 && s.windowOpen() {
		// Going out now: give it its id first, so it is stored once.
		if id, ok := s.allocID(); ok {
			m.pub.PacketID = id
		}
	}
	if !s.put(outKey(m.seq), &m.pub) {
		s.complete(m, fmt.Errorf("client: message not stored, not sent: %w", errStoreFailed))
		return
	}
	m.d.setStored()
	if m.pub.PacketID != 0 {
		s.inflight[m.pub.PacketID] = m
		s.send(publishCopy(&m.pub), nil)
		return
	}
	s.queue = append(s.queue, m)
	s.pump()
}

var errStoreFailed = errors.New("store failed")

// pump moves queued messages onto the wire while connected and the send
// window has room, in publish order.
func (s *session) pump() {
	for s.connected() && len(s.queue) > 0 {
		m := s.queue[0]
		if m.pub.QoS == AtMostOnce {
			s.queue = s.queue[1:]
			s.send(publishCopy(&m.pub), m)
			continue
		}
		if !s.windowOpen() {
			break
		}
		id, ok := s.allocID()
		if !ok {
			break
		}
		s.queue = s.queue[1:]
		m.pub.PacketID = id
		m.pub.Dup = false
		// The id must be stored before the PUBLISH leaves, so that a
		// restarted client resends with the same id (MQTT-4.4.0-1).
		if !s.put(outKey(m.seq), &m.pub) {
			m.pub.PacketID = 0
			s.queue = append([]*outMsg{m}, s.queue...)
			break
		}
		s.inflight[id] = m
		s.send(publishCopy(&m.pub), nil)
	}
	s.checkIdle()
}

// publishCopy gives the writer a value the session will not change later.
func publishCopy(p *packets.Publish) *packets.Publish {
	cp := *p
	return &cp
}

// send queues a packet for the current connection's writer. done, when not
// nil, is completed when the packet was written or could not be.
func (s *session) send(p packets.Packet, done *outMsg) {
	if s.conn == nil {
		if done != nil {
			s.complete(done, ErrConnectionLost)
		}
		return
	}
	var cb func(error)
	if done != nil {
		c := s.c
		cb = func(err error) {
			if err != nil {
				err = fmt.Errorf("%w: %w", ErrConnectionLost, err)
			}
			c.stats.messagesOut.Add(1)
			done.d.complete(err)
			c.releaseSlot(done)
		}
	}
	s.conn.enqueue(p, cb)
}

// complete ends an outbound message's flow.
func (s *session) complete(m *outMsg, err error) {
	if m.pub.QoS > AtMostOnce && err == nil {
		s.c.stats.messagesOut.Add(1)
	}
	m.d.complete(err)
	s.c.releaseSlot(m)
	s.checkIdle()
}

// onPuback ends a QoS 1 flow (MQTT-4.3.2-1).
func (s *session) onPuback(epoch uint64, id uint16) {
	m := s.inflight[id]
	if m == nil || m.pub.QoS != AtLeastOnce || epoch != s.epoch {
		s.c.s.log.Debug("PUBACK for no QoS 1 message in flight", "id", id)
		return
	}
	delete(s.inflight, id)
	s.del(outKey(m.seq))
	s.complete(m, nil)
	s.pump()
}

// onPubrec answers PUBREC with PUBREL and stores the PUBREL in place of the
// PUBLISH, which is never sent again (MQTT-4.3.3-1). PUBRELs go out in
// PUBREC order (MQTT-4.6.0-4) because the session handles acks in order.
func (s *session) onPubrec(epoch uint64, id uint16) {
	m := s.inflight[id]
	if m == nil || m.pub.QoS != ExactlyOnce || epoch != s.epoch {
		// Release the id anyway so the broker can finish its flow.
		s.send(&packets.Pubrel{PacketID: id}, nil)
		return
	}
	if !m.released {
		m.released = true
		s.nextRec++
		m.recSeq = s.nextRec
		s.put(outKey(m.seq), &packets.Pubrel{PacketID: id})
	}
	s.send(&packets.Pubrel{PacketID: id}, nil)
}

// onPubcomp ends a QoS 2 flow.
func (s *session) onPubcomp(epoch uint64, id uint16) {
	m := s.inflight[id]
	if m == nil || !m.released || epoch != s.epoch {
		s.c.s.log.Debug("PUBCOMP for no released QoS 2 message", "id", id)
		return
	}
	delete(s.inflight, id)
	s.del(outKey(m.seq))
	s.complete(m, nil)
	s.pump()
}

// onConnected takes over a new connection: it resumes or resets the session,
// resends what the broker has not acknowledged, resubscribes, and pumps the
// queue.
func (s *session) onConnected(cn *conn) {
	s.conn = cn
	s.epoch = cn.epoch
	resumed := s.c.s.PersistentSession
	inflight := make([]*outMsg, 0, len(s.inflight))
	for _, m := range s.inflight {
		inflight = append(inflight, m)
	}
	// PUBRELs go first, in the order their PUBRECs came (MQTT-4.6.0-4;
	// after a restart, recSeq is 0 and publish order stands in for it),
	// then PUBLISHes in the order they were first sent (MQTT-4.6.0-1).
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
	if resumed {
		// MQTT-4.4.0-1: every unacknowledged PUBLISH again with DUP=1
		// (MQTT-3.3.1-1) and its original id, every PUBREL again.
		for _, m := range inflight {
			if m.released {
				s.send(&packets.Pubrel{PacketID: m.pub.PacketID}, nil)
				continue
			}
			m.pub.Dup = true
			s.send(publishCopy(&m.pub), nil)
		}
	} else {
		// A clean session discards the old one (MQTT-3.1.2-6): messages the
		// broker had taken ownership of (PUBREC received) are complete; the
		// others are sent again as new messages with new ids.
		var again []*outMsg
		for _, m := range inflight {
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
	if !cn.sessionPresent {
		s.sessionStart = cn.epoch
		s.dropStaleAcks()
		// The broker has no session (a clean one, or it lost ours): the
		// packet ids of unreleased QoS 2 messages mean nothing now, and a
		// new message reusing one must not be taken for a duplicate.
		for id := range s.inbound {
			s.del(inKey(id))
		}
		clear(s.inbound)
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

// dropStaleAcks forgets waiting acks of a broker session that ended; they
// must not hold back the acks of the new one.
func (s *session) dropStaleAcks() {
	s.ackOrder = slices.DeleteFunc(s.ackOrder, func(a *inAck) bool { return a.epoch < s.sessionStart })
	if len(s.ackOrder) > 0 && s.ackOrder[0].ready {
		s.ackReady(s.ackOrder[0])
	}
}

// onConnectionLost forgets a connection that ended.
func (s *session) onConnectionLost(cn *conn) {
	if s.conn == cn {
		s.conn = nil
	}
	// The session is the only producer for the writer, and it has let go
	// of cn: whatever is still queued can be failed for good.
	cn.drain()
}

// disconnect sends DISCONNECT (the writer closes the connection after it,
// MQTT-3.14.4-1, MQTT-3.14.4-2) and closes sent when that happened.
func (s *session) disconnect(sent chan struct{}) {
	if s.conn == nil {
		close(sent)
		return
	}
	s.conn.enqueue(&packets.Disconnect{}, func(error) { close(sent) })
	s.conn = nil
}

// notifyIdle closes ch once nothing is queued or in flight.
func (s *session) notifyIdle(ch chan struct{}) {
	s.idle = append(s.idle, ch)
	s.checkIdle()
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

// abandon ends every flow still open after the session goroutine stopped.
// It returns how many messages were not delivered.
func (s *session) abandon() int {
	n := 0
	end := func(m *outMsg) {
		n++
		m.d.complete(ErrAbandoned)
	}
	for _, m := range s.queue {
		end(m)
	}
	for _, m := range s.inflight {
		end(m)
	}
	for _, r := range s.requests {
		r.finish(nil, ErrClosed)
	}
	for _, r := range s.waiting {
		r.finish(nil, ErrClosed)
	}
	s.queue, s.waiting = nil, nil
	clear(s.inflight)
	clear(s.requests)
	return n
}
