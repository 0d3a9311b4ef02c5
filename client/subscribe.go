package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/feedmq/feedmq/packets"
)

// Message is a message received from the broker. Handlers share one Message
// when several subscriptions match; treat it as read-only.
type Message struct {
	Topic     string
	Payload   []byte
	QoS       QoS
	Retained  bool
	Duplicate bool   // the broker may have delivered it before
	PacketID  uint16 // the broker's packet identifier; 0 at QoS 0

	epoch uint64
	ack   *inAck
}

// inAck tracks when an inbound QoS 1 or 2 message may be acknowledged: after
// every handler it was given to has returned.
type inAck struct {
	id        uint16
	qos       QoS
	epoch     uint64
	remaining int
	ready     bool // handled; waiting for earlier acks (Config.OrderedAcks)
}

// subscription is a registered topic filter with its handler or pull queue.
type subscription struct {
	filter  string // as subscribed, with any $share/ or $queue/ prefix
	match   string // the filter topics are matched against
	qos     QoS
	handler atomic.Pointer[func(*Message)] // nil: pull mode
	queue   *msgQueue
	feed    bool // a feed's: never replaced by another subscription
	running bool // delivery goroutine started (session-owned)
}

// routingFilter strips the shared-subscription prefix: a message received
// for "$share/group/a/+" has a topic that matches "a/+".
func routingFilter(filter string) string {
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok {
		if _, f, ok := strings.Cut(rest, "/"); ok {
			return f
		}
	}
	if f, ok := strings.CutPrefix(filter, "$queue/"); ok {
		return f
	}
	return filter
}

// request is a SUBSCRIBE or UNSUBSCRIBE waiting to be sent or acknowledged.
type request struct {
	unsubscribe bool
	filters     []string
	qos         []QoS
	reply       chan requestResult // nil for resubscriptions after a reconnect
}

type requestResult struct {
	codes []packets.SubackCode
	err   error
}

func (r *request) finish(codes []packets.SubackCode, err error) {
	if r.reply != nil {
		r.reply <- requestResult{codes, err}
	}
}

// Subscribe registers handler for messages matching filter and subscribes
// to it, waiting for SUBACK. It returns the QoS the broker granted. The
// subscription is kept and subscribed again after every reconnect on which
// the broker has no session. If ctx ends before SUBACK, the subscription
// stays registered and the error wraps ctx.Err(). A nil handler selects pull
// mode: read the messages with NextMessage.
//
// Filters may carry a shared-subscription prefix ($share/group/ or $queue/).
// Subscribing again to the same filter replaces its handler and QoS.
func (c *Client) Subscribe(ctx context.Context, filter string, qos QoS, handler func(*Message)) (QoS, error) {
	sub, err := c.subscription(filter, qos, handler)
	if err != nil {
		return 0, err
	}
	return c.subscribe(ctx, sub)
}

func (c *Client) subscription(filter string, qos QoS, handler func(*Message)) (*subscription, error) {
	if err := packets.ValidateTopicFilter(filter); err != nil {
		return nil, fmt.Errorf("client: subscribe: %w", err)
	}
	if !qos.Valid() {
		return nil, fmt.Errorf("client: subscribe: invalid QoS %d (MQTT-3.8.3-4)", qos)
	}
	sub := &subscription{filter: filter, match: routingFilter(filter), qos: qos, queue: c.newMsgQueue()}
	if handler != nil {
		sub.handler.Store(&handler)
	}
	return sub, nil
}

func (c *Client) subscribe(ctx context.Context, sub *subscription) (QoS, error) {
	if c.closing.Load() {
		return 0, ErrClosed
	}
	if err := c.start(); err != nil {
		return 0, err
	}
	r := &request{filters: []string{sub.filter}, qos: []QoS{sub.qos}, reply: make(chan requestResult, 1)}
	if err := c.post(ctx, func(s *session) { s.subscribe(sub, r) }); err != nil {
		return 0, err
	}
	res, err := c.await(ctx, r)
	if err != nil {
		return 0, err
	}
	if res.codes[0] == packets.SubackFailure {
		_ = c.post(context.Background(), func(s *session) { s.dropSubscription(sub) })
		return 0, fmt.Errorf("%w: %q", ErrSubscriptionRefused, sub.filter)
	}
	return QoS(res.codes[0]), nil
}

func (c *Client) await(ctx context.Context, r *request) (requestResult, error) {
	select {
	case res := <-r.reply:
		return res, res.err
	case <-ctx.Done():
		return requestResult{}, ctx.Err()
	case <-c.ctx.Done():
		return requestResult{}, c.stoppedErr()
	}
}

// Unsubscribe removes the subscriptions and waits for UNSUBACK. Messages
// already queued for their handlers are still delivered.
func (c *Client) Unsubscribe(ctx context.Context, filters ...string) error {
	if len(filters) == 0 {
		return errors.New("client: unsubscribe: no filters (MQTT-3.10.3-2)")
	}
	for _, f := range filters {
		if err := packets.ValidateTopicFilter(f); err != nil {
			return fmt.Errorf("client: unsubscribe: %w", err)
		}
	}
	if c.closing.Load() {
		return ErrClosed
	}
	if err := c.start(); err != nil {
		return err
	}
	r := &request{unsubscribe: true, filters: filters, reply: make(chan requestResult, 1)}
	if err := c.post(ctx, func(s *session) { s.unsubscribe(r) }); err != nil {
		return err
	}
	_, err := c.await(ctx, r)
	return err
}

// subscribe registers sub and sends the request now or once connected. A
// Subscribe to a filter already subscribed with Subscribe replaces that
// handler and QoS; feeds always add a subscription of their own.
func (s *session) subscribe(sub *subscription, r *request) {
	if !sub.feed {
		for _, old := range s.subs {
			if !old.feed && old.filter == sub.filter {
				old.qos = sub.qos
				if h := sub.handler.Load(); h != nil {
					old.handler.Store(h)
				}
				sub = old
				break
			}
		}
	}
	if !slices.Contains(s.subs, sub) {
		s.subs = append(s.subs, sub)
	}
	r.qos[0] = s.filterQoS(sub.filter)
	s.startDelivery(sub)
	s.request(r)
}

// filterQoS is the QoS to ask for a filter: the highest any local
// subscription to it wants, since the broker keeps one subscription per
// filter.
func (s *session) filterQoS(filter string) QoS {
	var q QoS
	for _, sub := range s.subs {
		if sub.filter == filter {
			q = max(q, sub.qos)
		}
	}
	return q
}

// dropSubscription removes a subscription the broker refused.
func (s *session) dropSubscription(sub *subscription) {
	if i := slices.Index(s.subs, sub); i >= 0 {
		s.subs = slices.Delete(s.subs, i, i+1)
		sub.queue.close()
	}
}

// unsubscribe removes every local subscription to the filters.
func (s *session) unsubscribe(r *request) {
	s.subs = slices.DeleteFunc(s.subs, func(sub *subscription) bool {
		if slices.Contains(r.filters, sub.filter) {
			sub.queue.close()
			return true
		}
		return false
	})
	s.request(r)
}

// request sends r now when connected, else keeps it for the next connection.
func (s *session) request(r *request) {
	if !s.connected() {
		s.waiting = append(s.waiting, r)
		return
	}
	id, ok := s.allocID()
	if !ok {
		s.waiting = append(s.waiting, r)
		return
	}
	s.requests[id] = r
	if r.unsubscribe {
		s.send(&packets.Unsubscribe{PacketID: id, TopicFilters: r.filters}, nil)
		return
	}
	p := &packets.Subscribe{PacketID: id}
	for i, f := range r.filters {
		p.Subscriptions = append(p.Subscriptions, packets.Subscription{TopicFilter: f, QoS: r.qos[i]})
	}
	s.send(p, nil)
}

func (s *session) flushWaiting() {
	waiting := s.waiting
	s.waiting = nil
	for _, r := range waiting {
		s.request(r)
	}
}

// resubscribe subscribes again to every registered filter not already part
// of a waiting request, a few filters per SUBSCRIBE.
func (s *session) resubscribe() {
	pending := map[string]bool{}
	for _, r := range s.waiting {
		if !r.unsubscribe {
			for _, f := range r.filters {
				pending[f] = true
			}
		}
	}
	var r *request
	seen := map[string]bool{}
	for _, sub := range s.subs {
		if pending[sub.filter] || seen[sub.filter] {
			continue
		}
		seen[sub.filter] = true
		if r == nil || len(r.filters) == 32 {
			r = &request{}
			s.waiting = append(s.waiting, r)
		}
		r.filters = append(r.filters, sub.filter)
		r.qos = append(r.qos, s.filterQoS(sub.filter))
	}
}

// onSuback matches a SUBACK with its request. An unknown id or a wrong
// number of codes is a protocol violation (MQTT-2.3.1-7, MQTT-3.9.3-1).
func (s *session) onSuback(cn *conn, id uint16, codes []packets.SubackCode) {
	r := s.requests[id]
	if r == nil || r.unsubscribe || len(codes) != len(r.filters) {
		cn.fail(fmt.Errorf("%w: SUBACK %d matches no SUBSCRIBE sent (MQTT-2.3.1-7, MQTT-3.9.3-1)", ErrProtocolViolation, id))
		return
	}
	delete(s.requests, id)
	if r.reply == nil {
		for i, code := range codes {
			if code == packets.SubackFailure {
				s.c.reportError(fmt.Errorf("%w on resubscribe: %q", ErrSubscriptionRefused, r.filters[i]))
			}
		}
	}
	r.finish(codes, nil)
	s.checkIdle()
}

func (s *session) onUnsuback(cn *conn, id uint16) {
	r := s.requests[id]
	if r == nil || !r.unsubscribe {
		cn.fail(fmt.Errorf("%w: UNSUBACK %d matches no UNSUBSCRIBE sent (MQTT-2.3.1-7)", ErrProtocolViolation, id))
		return
	}
	delete(s.requests, id)
	r.finish(nil, nil)
}

// onPublish routes an inbound message to the handlers whose filters match.
// A QoS 2 message already received and not yet released is answered with
// PUBREC again and not delivered again (MQTT-4.3.3-2).
func (s *session) onPublish(m *Message) {
	s.c.stats.messagesIn.Add(1)
	s.c.stats.bytesIn.Add(int64(len(m.Payload)))
	if m.QoS == ExactlyOnce {
		if st := s.inbound[m.PacketID]; st != nil {
			if st.recorded {
				s.send(&packets.Pubrec{PacketID: m.PacketID}, nil)
			}
			return
		}
		s.inbound[m.PacketID] = &inbound2{}
	}
	if m.QoS > AtMostOnce {
		m.ack = &inAck{id: m.PacketID, qos: m.QoS, epoch: m.epoch}
	}
	given, dropped := 0, 0
	offer := func(sub *subscription) {
		if sub.queue.push(m) {
			given++
			return
		}
		dropped++
	}
	for _, sub := range s.subs {
		if packets.Match(sub.match, m.Topic) {
			offer(sub)
		}
	}
	if given == 0 && dropped == 0 && s.c.s.DefaultHandler != nil {
		offer(s.defaultSub())
	}
	if dropped > 0 {
		s.c.stats.dropped.Add(uint64(dropped))
		s.c.reportError(fmt.Errorf("%w: topic %q, QoS %d", ErrSlowConsumer, m.Topic, m.QoS))
	}
	if m.ack == nil {
		return
	}
	switch {
	case given > 0:
		m.ack.remaining = given
		s.orderAck(m.ack)
	case dropped > 0:
		// Nobody has it: do not acknowledge, so that the broker delivers it
		// again, and forget it so the redelivery is treated as new.
		delete(s.inbound, m.PacketID)
	default:
		// No handler: acknowledge anyway (MQTT-4.5.0-2).
		s.orderAck(m.ack)
		s.ackReady(m.ack)
	}
}

// defaultSub is the subscription of Config.DefaultHandler. It is kept out
// of s.subs: it is never subscribed nor matched.
func (s *session) defaultSub() *subscription {
	if s.defaultSubscription == nil {
		h := s.c.s.DefaultHandler
		sub := &subscription{queue: s.c.newMsgQueue()}
		sub.handler.Store(&h)
		s.startDelivery(sub)
		s.defaultSubscription = sub
	}
	return s.defaultSubscription
}

// handled is called when a handler returned; the last one sends the ack.
func (s *session) handled(a *inAck) {
	a.remaining--
	if a.remaining == 0 {
		s.ackReady(a)
	}
}

// ackReady acknowledges an inbound message: PUBACK for QoS 1 (MQTT-4.3.2-2),
// PUBREC for QoS 2 after storing that it was received (MQTT-4.3.3-2). Acks
// of a message received in an earlier broker session are dropped: that
// session is gone (MQTT-3.1.2-6), and its packet id may now name another
// message.
func (s *session) ackReady(a *inAck) {
	a.ready = true
	if !s.c.s.OrderedAcks {
		s.sendAck(a)
		return
	}
	// Release acks from the oldest message on, up to the first one whose
	// handlers are still running.
	for len(s.ackOrder) > 0 && s.ackOrder[0].ready {
		s.sendAck(s.ackOrder[0])
		s.ackOrder[0] = nil
		s.ackOrder = s.ackOrder[1:]
	}
}

// orderAck queues a in arrival order when acks are strictly ordered.
func (s *session) orderAck(a *inAck) {
	if s.c.s.OrderedAcks {
		s.ackOrder = append(s.ackOrder, a)
	}
}

func (s *session) sendAck(a *inAck) {
	if a.epoch < s.sessionStart {
		return
	}
	switch a.qos {
	case AtLeastOnce:
		s.send(&packets.Puback{PacketID: a.id}, nil)
	case ExactlyOnce:
		st := s.inbound[a.id]
		if st == nil {
			return // released already, or reset by a clean session
		}
		// Delivered: a redelivery is a duplicate, stored or not.
		st.recorded = true
		if err := s.c.store.Put(inKey(a.id), &packets.Pubrec{PacketID: a.id}); err != nil {
			// A transient failure while processing an inbound packet
			// closes the connection (MQTT-4.8.0-2) instead of
			// acknowledging what could not be recorded; the broker
			// resends on the next connection and gets its PUBREC then.
			err = fmt.Errorf("client: recording QoS 2 message %d: %w", a.id, err)
			s.c.reportError(err)
			if s.conn != nil {
				s.conn.fail(err)
			}
			return
		}
		s.send(&packets.Pubrec{PacketID: a.id}, nil)
	}
}

// onPubrel releases an inbound QoS 2 message and answers PUBCOMP.
func (s *session) onPubrel(id uint16) {
	if _, ok := s.inbound[id]; ok {
		delete(s.inbound, id)
		s.del(inKey(id))
	}
	s.send(&packets.Pubcomp{PacketID: id}, nil)
}

// startDelivery starts the goroutine that runs a subscription's handler.
func (s *session) startDelivery(sub *subscription) {
	if sub.running || sub.handler.Load() == nil {
		return
	}
	sub.running = true
	c := s.c
	c.userGoros.spawn(func() { c.deliver(sub) })
}

// deliver runs a subscription's handler for each queued message, in order,
// and reports each QoS 1/2 message as handled when the handler returns.
func (c *Client) deliver(sub *subscription) {
	for {
		m, err := sub.queue.next(c.ctx.Done())
		if err != nil {
			return
		}
		if h := sub.handler.Load(); h != nil {
			(*h)(m)
		}
		c.handled(m)
	}
}

// handled reports that the application has a message; the ack follows when
// every handler has it.
func (c *Client) handled(m *Message) {
	if m.ack == nil {
		return
	}
	a := m.ack
	_ = c.post(context.Background(), func(s *session) { s.handled(a) })
}

// NextMessage returns the next message of any pull-mode subscription (one
// subscribed with a nil handler), waiting until one arrives or ctx ends. It
// is the poll-style read of the Adafruit MQTT library's readSubscription.
func (c *Client) NextMessage(ctx context.Context) (*Message, error) {
	if err := c.start(); err != nil {
		return nil, err
	}
	for {
		var subs []*subscription
		if err := c.call(ctx, func(s *session) {
			for _, sub := range s.subs {
				if sub.handler.Load() == nil {
					subs = append(subs, sub)
				}
			}
		}); err != nil {
			return nil, err
		}
		for _, sub := range subs {
			if m, ok := sub.queue.pop(); ok {
				c.handled(m)
				return m, nil
			}
		}
		select {
		case <-c.pull:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.ctx.Done():
			return nil, c.stoppedErr()
		}
	}
}
