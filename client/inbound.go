// inbound.go holds the inbound flow, run by the connection loop as packets
// arrive: the QoS 2 receiver (MQTT-4.3.3-2), routing a PUBLISH to the
// subscriptions it matches, and PUBREL.
package client

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/feedmq/feedmq/packets"
	"github.com/feedmq/feedmq/store"
)

// inbound is the receiving side of the session.
type inbound struct {
	c *Client

	mu   sync.Mutex      // guards qos2; store writes for it happen under mu
	qos2 map[uint16]bool // QoS 2 received and not released; true: PUBREC recorded

	// Owned by the connection loop.
	routes      map[string]route // topic -> matching subscriptions
	routesFor   *subTable        // the table routes were computed from
	defaultSubs []*subscription  // Config.DefaultHandler's, made on first use
}

// route is where messages on one topic go.
type route struct {
	topic string // interned: every message on the topic shares it
	subs  []*subscription
}

// routeCacheSize bounds the routes kept; past it the cache starts over.
const routeCacheSize = 4096

func (in *inbound) init(c *Client) {
	in.c = c
	in.qos2 = map[uint16]bool{}
	in.routes = map[string]route{}
}

// restore takes back a QoS 2 message recorded in the store.
func (in *inbound) restore(id uint16) { in.qos2[id] = true }

// reset forgets QoS 2 state when the broker has no session: a new message
// reusing one of those packet ids must not be taken for a duplicate.
func (in *inbound) reset() {
	in.mu.Lock()
	defer in.mu.Unlock()
	for id := range in.qos2 {
		in.c.storeDelete(inKey(id))
	}
	clear(in.qos2)
}

// receive takes one PUBLISH from the connection. The packet's memory is the
// reader's: everything kept is copied, once, into the Message.
func (in *inbound) receive(cn *conn, p *packets.Publish) error {
	c := in.c
	c.stats.messagesIn.Add(1)
	c.stats.bytesIn.Add(int64(len(p.Payload)))
	if p.QoS == ExactlyOnce {
		in.mu.Lock()
		recorded, seen := in.qos2[p.PacketID]
		if !seen {
			in.qos2[p.PacketID] = false
		}
		in.mu.Unlock()
		if seen {
			// Received before and not released: never delivered twice
			// (MQTT-4.3.3-2); PUBREC again once it is recorded.
			if recorded {
				return cn.sendAck(packets.TypePubrec, p.PacketID)
			}
			return nil
		}
	}
	if p.QoS != AtMostOnce && cn.quotaTaken() {
		return &violation{packets.ReasonReceiveMaximumExceeded,
			fmt.Sprintf("more than Receive Maximum %d unacknowledged QoS 1 and 2 messages (MQTT5-3.3.4-9)", c.s.MQTT5.ReceiveMaximum)}
	}
	topic := p.TopicName
	if cn.level == MQTT5 {
		var err error
		if topic, err = cn.resolveAlias(p); err != nil {
			return err
		}
	}
	rt := in.route(topic)
	subs := rt.subs
	if p.Properties != nil && len(p.Properties.SubscriptionIdentifiers) > 0 {
		subs = in.routeByID(p.Properties.SubscriptionIdentifiers, subs)
	}
	if len(subs) == 0 && c.s.DefaultHandler != nil {
		subs = in.defaultRoute()
	}
	m := newMessage(rt.topic, p.Payload)
	m.QoS, m.Retained, m.Duplicate, m.PacketID, m.epoch, m.level = p.QoS, p.Retain, p.Dup, p.PacketID, cn.epoch, cn.level
	if p.Properties != nil {
		m.Properties = messageProperties(p.Properties)
	}
	if len(subs) == 0 {
		// No handler: acknowledged all the same (MQTT-4.5.0-2).
		c.acks.arrived(m)
		c.acks.handled(m)
		return nil
	}
	return c.delivery.deliver(cn, m, subs)
}

// skipped handles a read error that is an oversize PUBLISH the reader
// skipped, and returns any other error as it is.
func (in *inbound) skipped(cn *conn, err error) error {
	var oe *packets.OversizeError
	if errors.As(err, &oe) && oe.Skipped {
		return in.oversize(cn, oe)
	}
	return err
}

// oversize handles a PUBLISH over Config.MaxPacketSize that the reader
// skipped without reading its payload: it is reported with its topic and
// size, and acknowledged like a handled message so that the broker moves
// on instead of sending it again on every connection. The connection stays
// up.
func (in *inbound) oversize(cn *conn, oe *packets.OversizeError) error {
	c := in.c
	p := oe.Packet.(*packets.Publish)
	c.stats.packetsIn.Add(1)
	c.stats.oversize.Add(1)
	c.s.log.Warn("message over MaxPacketSize skipped", "topic", p.TopicName, "size", oe.Size, "limit", oe.Limit, "qos", int(p.QoS))
	c.reportError(fmt.Errorf("%w: topic %q, QoS %d, remaining length %d, limit %d",
		ErrMessageTooLarge, p.TopicName, p.QoS, oe.Size, oe.Limit))
	switch p.QoS {
	case AtLeastOnce:
		return cn.sendAck(packets.TypePuback, p.PacketID)
	case ExactlyOnce:
		in.mu.Lock()
		_, seen := in.qos2[p.PacketID]
		if !seen {
			in.qos2[p.PacketID] = false
		}
		in.mu.Unlock()
		if _, err := in.record(p.PacketID); err != nil {
			return fmt.Errorf("client: recording QoS 2 message %d: %w", p.PacketID, err)
		}
		return cn.sendAck(packets.TypePubrec, p.PacketID)
	}
	return nil
}

// dropped forgets a QoS 2 message the client did not keep, so that the
// broker's redelivery is taken as new.
func (in *inbound) dropped(m *Message) {
	if m.QoS == ExactlyOnce {
		in.mu.Lock()
		delete(in.qos2, m.PacketID)
		in.mu.Unlock()
	}
}

// record notes that a QoS 2 message reached the application, in the store
// first, so that a redelivery is answered with PUBREC and never delivered
// again. It reports false when the message's state is gone (released, or
// reset by a new broker session) or could not be stored.
func (in *inbound) record(id uint16) (bool, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if _, ok := in.qos2[id]; !ok {
		return false, nil
	}
	// Delivered: a redelivery is a duplicate, stored or not.
	in.qos2[id] = true
	if st := in.c.store; st != nil {
		if err := st.Put(inKey(id), &packets.Pubrec{PacketID: id}); err != nil {
			return false, err
		}
	}
	return true, nil
}

// forget ends an inbound QoS 2 flow that the application refused.
func (in *inbound) forget(id uint16) {
	in.mu.Lock()
	delete(in.qos2, id)
	in.mu.Unlock()
}

// release ends an inbound QoS 2 flow on PUBREL and answers PUBCOMP.
func (in *inbound) release(cn *conn, id uint16) {
	in.mu.Lock()
	_, ok := in.qos2[id]
	delete(in.qos2, id)
	if ok {
		in.c.storeDelete(inKey(id))
	}
	in.mu.Unlock()
	code := packets.ReasonSuccess
	if ok {
		cn.quotaFreed() // the QoS 2 exchange ends with this PUBCOMP
	} else {
		code = notFound(cn) // MQTT5-3.7.2-1
	}
	_ = cn.sendAckCode(packets.TypePubcomp, id, code, false)
}

// route returns the subscriptions matching topic, from the cache when the
// subscriptions have not changed since, so a topic is matched once.
func (in *inbound) route(topic string) route {
	table := in.c.subs.Load()
	if table != in.routesFor || len(in.routes) >= routeCacheSize {
		clear(in.routes)
		in.routesFor = table
	}
	if rt, ok := in.routes[topic]; ok {
		return rt
	}
	rt := route{topic: topic}
	for _, sub := range table.subs {
		if sub.matches(topic) {
			rt.subs = append(rt.subs, sub)
		}
	}
	in.routes[topic] = rt
	return rt
}

// routeByID narrows a message's subscriptions to those its Subscription
// Identifiers stand for (MQTT5-3.3.4-3): a broker that sends one copy per
// matching subscription then reaches each subscription once, not every
// matching one per copy. Identifiers the client does not know (an older
// session's) leave the topic's routing as it is.
func (in *inbound) routeByID(ids []uint32, byTopic []*subscription) []*subscription {
	table := in.c.subs.Load()
	if table.byID == nil || len(byTopic) < 2 {
		return byTopic
	}
	named := func(sub *subscription) bool {
		for _, id := range ids {
			if slices.Contains(table.byID[id], sub) {
				return true
			}
		}
		return false
	}
	n := 0
	for _, sub := range byTopic {
		if named(sub) {
			n++
		}
	}
	if n == 0 || n == len(byTopic) {
		return byTopic
	}
	subs := make([]*subscription, 0, n)
	for _, sub := range byTopic {
		if named(sub) {
			subs = append(subs, sub)
		}
	}
	return subs
}

// defaultRoute is where messages no subscription matches go: the
// subscription of Config.DefaultHandler, kept out of the table since it is
// never subscribed nor matched.
func (in *inbound) defaultRoute() []*subscription {
	if in.defaultSubs == nil {
		h := in.c.s.DefaultHandler
		in.defaultSubs = []*subscription{in.c.newSubscription(nil, nil, &h)}
	}
	return in.defaultSubs
}

// storeDelete removes a stored packet, reporting a failure.
func (c *Client) storeDelete(k store.Key) {
	if c.store == nil {
		return
	}
	if err := c.store.Delete(k); err != nil {
		c.reportError(fmt.Errorf("client: store: %w", err))
	}
}

// Message is a message received from the broker. Handlers share one Message
// when several subscriptions match; treat it as read-only. It owns its
// Topic and Payload.
type Message struct {
	Topic     string
	Payload   []byte
	QoS       QoS
	Retained  bool
	Duplicate bool   // the broker may have delivered it before
	PacketID  uint16 // the broker's packet identifier; 0 at QoS 0
	// Properties are the message's MQTT 5.0 properties; nil when it has
	// none, and always at 3.1.x.
	Properties *MessageProperties

	epoch     uint64        // the connection it arrived on
	remaining int32         // handlers still to return; atomic
	refusal   atomic.Uint32 // Refuse's reason code
	level     packets.ProtocolLevel
	ackReady  bool // handled, waiting for earlier acks (OrderedAcks); guarded by ackTracker.mu
}

// msgBox puts a Message and its payload in one allocation.
type msgBox[B any] struct {
	m   Message
	buf B
}

// newMessage copies payload into a new Message. Payloads up to 16 KiB share
// the Message's allocation.
func newMessage(topic string, payload []byte) *Message {
	var m *Message
	var buf []byte
	switch n := len(payload); {
	case n == 0:
		m = new(Message)
	case n <= 64:
		b := new(msgBox[[64]byte])
		m, buf = &b.m, b.buf[:n:n]
	case n <= 512:
		b := new(msgBox[[512]byte])
		m, buf = &b.m, b.buf[:n:n]
	case n <= 4096:
		b := new(msgBox[[4096]byte])
		m, buf = &b.m, b.buf[:n:n]
	case n <= 16384:
		b := new(msgBox[[16384]byte])
		m, buf = &b.m, b.buf[:n:n]
	default:
		m, buf = new(Message), make([]byte, n)
	}
	copy(buf, payload)
	m.Topic, m.Payload = topic, buf
	return m
}

// Refuse makes the client answer the message with the MQTT 5.0 reason code
// given (0x80 or above: 0x80 Unspecified error, 0x83 Implementation
// specific error, 0x87 Not authorized, 0x90 Topic Name invalid, 0x97 Quota
// exceeded, 0x99 Payload format invalid; MQTT5-3.4.2-1) instead of
// accepting it, once every handler returned. The broker does not send a
// refused message again. Call it from a handler, before it returns. It
// returns ErrNeedsMQTT5 at 3.1.x, where a message cannot be refused, and an
// error for a code PUBACK cannot carry; a QoS 0 message has no answer.
func (m *Message) Refuse(code packets.ReasonCode) error {
	if m.level != MQTT5 {
		return ErrNeedsMQTT5
	}
	if code < 0x80 || !code.ValidFor(packets.TypePuback) {
		return fmt.Errorf("client: reason code %#02x cannot refuse a message (MQTT5-3.4.2-1)", byte(code))
	}
	m.refusal.Store(uint32(code))
	return nil
}

// setHandlers records how many handlers the message goes to.
func (m *Message) setHandlers(n int) { atomic.StoreInt32(&m.remaining, int32(n)) }

// handlerDone reports whether the last handler returned.
func (m *Message) handlerDone() bool { return atomic.AddInt32(&m.remaining, -1) == 0 }
