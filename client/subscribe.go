// subscribe.go holds subscriptions: the Subscribe and Unsubscribe calls,
// the table the reader routes by, SUBSCRIBE/UNSUBSCRIBE requests and their
// acks, and resubscribing after a reconnect.
package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/feedmq/feedmq/packets"
)

// subscription is the filters one queue (and its handler) receives. Its
// filters never change once the reader may see it: Unsubscribe of some of
// them makes a new subscription on the same queue.
type subscription struct {
	filters []string // as subscribed, with any $share/ or $queue/ prefix
	match   []string // what topics are matched against, per filter
	qos     []QoS    // session goroutine only
	queue   *msgQueue
	feed    bool              // a feed's: never replaced by another subscription
	opts    *subscribeOptions // MQTT 5.0 subscription options; nil when none
}

// subTable is an immutable snapshot of the subscriptions, published by the
// session goroutine and read by the reader without a lock.
type subTable struct {
	subs []*subscription
	byID map[uint32][]*subscription // MQTT 5.0 Subscription Identifier → the subscriptions it stands for
}

// matches reports whether any of the subscription's filters matches topic.
func (sub *subscription) matches(topic string) bool {
	for _, f := range sub.match {
		if packets.Match(f, topic) {
			return true
		}
	}
	return false
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

// TopicFilter is one filter of SubscribeMany with the QoS asked for it.
type TopicFilter struct {
	Filter string
	QoS    QoS
}

// Subscribe registers handler for messages matching filter and subscribes
// to it, waiting for SUBACK. It returns the QoS the broker granted. The
// subscription is kept and subscribed again after every reconnect on which
// the broker has no session. If ctx ends before SUBACK, the subscription
// stays registered and the error wraps ctx.Err(). A nil handler selects pull
// mode: read the messages with NextMessage.
//
// Each subscription has its own handler goroutine, so its messages arrive
// in order and a slow handler does not hold up other subscriptions' until
// the shared budget (Config.HandlerQueue) is spent. For arrival order
// across several filters, subscribe them together with SubscribeMany.
//
// Filters may carry a shared-subscription prefix ($share/group/ or $queue/).
// Subscribing again to the same filter replaces its handler and QoS.
func (c *Client) Subscribe(ctx context.Context, filter string, qos QoS, handler func(*Message), opts ...SubscribeOption) (QoS, error) {
	granted, err := c.SubscribeMany(ctx, []TopicFilter{{filter, qos}}, handler, opts...)
	if len(granted) == 0 {
		return 0, err
	}
	return granted[0], err
}

// SubscribeMany subscribes one handler to several filters in one SUBSCRIBE.
// Their messages share one queue and one goroutine, so the handler sees
// them in the order they arrived, whichever filter they matched; a message
// matching several of the filters is handled once. It returns the granted
// QoS per filter; a refused filter makes the error wrap
// ErrSubscriptionRefused and the subscription is removed.
func (c *Client) SubscribeMany(ctx context.Context, filters []TopicFilter, handler func(*Message), opts ...SubscribeOption) ([]QoS, error) {
	sub, err := c.subscription(filters, handler, opts)
	if err != nil {
		return nil, err
	}
	res, err := c.subscribe(ctx, sub)
	if err != nil {
		return nil, err
	}
	return c.granted(sub, res)
}

// granted reads a SUBACK's codes for sub. Refused filters are removed from
// it and reported in a *SubscribeError.
func (c *Client) granted(sub *subscription, res requestResult) ([]QoS, error) {
	granted := make([]QoS, len(res.codes))
	var refused []string
	var codes []packets.SubackCode
	for i, code := range res.codes {
		if code >= packets.SubackFailure {
			refused, codes = append(refused, sub.filters[i]), append(codes, code)
			continue
		}
		granted[i] = QoS(code)
	}
	if len(refused) > 0 {
		c.post(op{fn: func(s *session) { s.dropFilters(sub, refused) }})
		return granted, subscribeError(refused, codes, res.reason, c.s.Protocol == MQTT5)
	}
	return granted, nil
}

// SubscribeError reports the filters of a SUBSCRIBE that the broker refused
// (SUBACK return code 0x80 at 3.1.1, a reason code of 0x80 or above at
// 5.0). The others stay subscribed. It wraps ErrSubscriptionRefused and,
// at 5.0, a *ReasonError per refusal, so errors.Is(err, ErrNotAuthorized)
// tells why.
type SubscribeError struct {
	Refused []string
	// Reasons holds, at 5.0, the reason code of each refused filter, in
	// the order of Refused; nil at 3.1.x.
	Reasons []packets.ReasonCode
	// Reason is the broker's Reason String, if it sent one.
	Reason string
}

// subscribeError reports refused filters; at 5.0 (v5) with their reason
// codes, 0x80 Unspecified error included, which a 3.1.1 failure looks like.
func subscribeError(refused []string, codes []packets.SubackCode, reason string, v5 bool) *SubscribeError {
	e := &SubscribeError{Refused: refused, Reason: reason}
	if v5 {
		e.Reasons = make([]packets.ReasonCode, len(codes))
		for i, c := range codes {
			e.Reasons[i] = packets.ReasonCode(c)
		}
	}
	return e
}

// Error names the refused filters, and at 5.0 why.
func (e *SubscribeError) Error() string {
	s := fmt.Sprintf("%v: %q", ErrSubscriptionRefused, strings.Join(e.Refused, `", "`))
	if len(e.Reasons) > 0 {
		var why []string
		for _, code := range e.Reasons {
			why = append(why, fmt.Sprintf("%s (%#02x)", code.NameFor(packets.TypeSuback), byte(code)))
		}
		s += ": " + strings.Join(why, ", ")
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Unwrap returns ErrSubscriptionRefused and a *ReasonError per refusal.
func (e *SubscribeError) Unwrap() []error {
	errs := []error{ErrSubscriptionRefused}
	for _, code := range e.Reasons {
		errs = append(errs, &ReasonError{Packet: packets.TypeSuback, Code: code, Reason: e.Reason})
	}
	return errs
}

// subscription validates filters and options and builds their
// subscription.
func (c *Client) subscription(filters []TopicFilter, handler func(*Message), opts []SubscribeOption) (*subscription, error) {
	if len(filters) == 0 {
		return nil, errors.New("client: subscribe: no filters (MQTT-3.8.3-3)")
	}
	var o *subscribeOptions
	if len(opts) > 0 {
		o = new(subscribeOptions)
		for _, opt := range opts {
			*o = opt.applySubscribe(*o)
		}
		if o.v5 && c.s.Protocol != MQTT5 {
			return nil, fmt.Errorf("client: subscribe: %w", ErrNeedsMQTT5)
		}
		if !o.v5 {
			o = nil
		}
	}
	if o != nil && o.subID > maxSubscriptionID {
		return nil, fmt.Errorf("client: subscribe: Subscription Identifier %d above %d (MQTT 5.0 §3.8.2.1.2)", o.subID, maxSubscriptionID)
	}
	for _, f := range filters {
		if o != nil && o.noLocal && strings.HasPrefix(f.Filter, "$share/") {
			return nil, fmt.Errorf("client: subscribe %q: No Local on a shared subscription is a protocol error (MQTT5-3.8.3-4)", f.Filter)
		}
		if cn := c.current.Load(); cn != nil {
			if err := cn.server.allowsFilter(f.Filter); err != nil {
				return nil, err
			}
		}
	}
	var names []string
	var qos []QoS
	for _, f := range filters {
		if err := packets.ValidateTopicFilter(f.Filter); err != nil {
			return nil, fmt.Errorf("client: subscribe: %w", err)
		}
		if !f.QoS.Valid() {
			return nil, fmt.Errorf("client: subscribe: invalid QoS %d (MQTT-3.8.3-4)", f.QoS)
		}
		names, qos = append(names, f.Filter), append(qos, f.QoS)
	}
	var h *func(*Message)
	if handler != nil {
		h = &handler
	}
	sub := c.newSubscription(names, qos, h)
	sub.opts = o
	return sub, nil
}

func (c *Client) newSubscription(filters []string, qos []QoS, handler *func(*Message)) *subscription {
	return newSubscriptionOn(newMsgQueue(&c.delivery, handler), filters, qos)
}

func newSubscriptionOn(q *msgQueue, filters []string, qos []QoS) *subscription {
	sub := &subscription{filters: filters, qos: qos, queue: q}
	for _, f := range filters {
		sub.match = append(sub.match, routingFilter(f))
	}
	return sub
}

// subscribe registers sub on the session and waits for the broker's answer.
func (c *Client) subscribe(ctx context.Context, sub *subscription) (requestResult, error) {
	if c.closing.Load() {
		return requestResult{}, ErrClosed
	}
	if err := c.start(); err != nil {
		return requestResult{}, err
	}
	r := newRequest(sub)
	if !c.post(op{fn: func(s *session) { s.subscribe(sub, r) }}) {
		return requestResult{}, c.stoppedErr()
	}
	return c.await(ctx, r)
}

// Unsubscribe removes the filters from every subscription that has them
// (a subscription left with none is removed) and waits for UNSUBACK.
// Messages already queued for their handlers are still delivered.
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
	if !c.post(op{fn: func(s *session) { s.unsubscribe(r) }}) {
		return c.stoppedErr()
	}
	_, err := c.await(ctx, r)
	return err
}

// subscribe registers sub and sends the request now or once connected. A
// Subscribe to a single filter already subscribed with Subscribe replaces
// that handler and QoS; feeds always add a subscription of their own.
func (s *session) subscribe(sub *subscription, r *request) {
	if old := s.replaceable(sub); old != nil {
		old.qos, old.opts = sub.qos, sub.opts
		if h := sub.queue.handler.Load(); h != nil {
			old.queue.handler.Store(h)
		}
	} else {
		s.subs = append(s.subs, sub)
		s.publishSubs()
	}
	for i, f := range r.filters {
		r.qos[i] = s.filterQoS(f)
	}
	s.request(r)
}

// replaceable finds the plain one-filter subscription sub replaces.
func (s *session) replaceable(sub *subscription) *subscription {
	if sub.feed || len(sub.filters) != 1 {
		return nil
	}
	for _, old := range s.subs {
		if !old.feed && len(old.filters) == 1 && old.filters[0] == sub.filters[0] {
			return old
		}
	}
	return nil
}

// publishSubs gives the reader a new snapshot of the subscriptions.
func (s *session) publishSubs() {
	t := &subTable{subs: slices.Clone(s.subs)}
	if len(s.filterIDs) > 0 {
		t.byID = map[uint32][]*subscription{}
		for _, sub := range s.subs {
			for _, f := range sub.filters {
				id := s.filterIDs[f]
				if id != 0 && !slices.Contains(t.byID[id], sub) {
					t.byID[id] = append(t.byID[id], sub)
				}
			}
		}
	}
	s.c.subs.Store(t)
}

// maxSubscriptionID is the largest Subscription Identifier, a Variable
// Byte Integer (MQTT 5.0 §3.8.2.1.2).
const maxSubscriptionID = 268435455

// subscriptionID gives a SUBSCRIBE its Subscription Identifier, when the
// broker offers them: a new one per SUBSCRIBE, recorded for each of its
// filters, since the broker keeps the identifier of the last SUBSCRIBE per
// filter. Messages are then routed by identifier, exactly, even where
// filters overlap or are shared. 0 means none.
// A chosen identifier (WithSubscriptionID) is used as it is.
func (s *session) subscriptionID(filters []string, chosen uint32) uint32 {
	if s.conn == nil || s.conn.level != MQTT5 || !s.conn.server.SubscriptionIdentifiers {
		return 0
	}
	id := chosen
	if id == 0 && s.c.s.MQTT5.NoAutoSubscriptionIDs {
		return 0
	}
	if id == 0 {
		s.nextSubID = s.nextSubID%maxSubscriptionID + 1
		id = s.nextSubID
	}
	if s.filterIDs == nil {
		s.filterIDs = map[string]uint32{}
	}
	for _, f := range filters {
		s.filterIDs[f] = id
	}
	s.publishSubs()
	return id
}

// forgetSubscriptionIDs drops the identifiers of unsubscribed filters.
func (s *session) forgetSubscriptionIDs(filters []string) {
	if len(s.filterIDs) == 0 {
		return
	}
	for _, f := range filters {
		delete(s.filterIDs, f)
	}
	s.publishSubs()
}

// filterQoS is the QoS to ask for a filter: the highest any local
// subscription to it wants, since the broker keeps one subscription per
// filter.
func (s *session) filterQoS(filter string) QoS {
	var q QoS
	for _, sub := range s.subs {
		for i, f := range sub.filters {
			if f == filter {
				q = max(q, sub.qos[i])
			}
		}
	}
	return q
}

// dropFilters removes the filters the broker refused from sub, and sub
// when none is left.
func (s *session) dropFilters(sub *subscription, refused []string) {
	i := slices.Index(s.subs, sub)
	if i < 0 {
		return
	}
	s.subs[i] = s.without(sub, refused)
	s.subs = slices.DeleteFunc(s.subs, func(sub *subscription) bool { return sub == nil })
	s.publishSubs()
}

// without returns sub less the filters named, nil (its queue closed) when
// none is left. sub itself never changes: the reader may be using it.
func (s *session) without(sub *subscription, filters []string) *subscription {
	var kept []string
	var qos []QoS
	for i, f := range sub.filters {
		if !slices.Contains(filters, f) {
			kept, qos = append(kept, f), append(qos, sub.qos[i])
		}
	}
	switch {
	case len(kept) == len(sub.filters):
		return sub
	case len(kept) == 0:
		sub.queue.close()
		return nil
	}
	ns := newSubscriptionOn(sub.queue, kept, qos)
	ns.feed, ns.opts = sub.feed, sub.opts
	return ns
}

// unsubscribe removes the filters from every local subscription.
func (s *session) unsubscribe(r *request) {
	for i, sub := range s.subs {
		s.subs[i] = s.without(sub, r.filters)
	}
	s.subs = slices.DeleteFunc(s.subs, func(sub *subscription) bool { return sub == nil })
	s.publishSubs()
	s.request(r)
}

// newRequest is the first SUBSCRIBE of sub.
func newRequest(sub *subscription) *request {
	r := &request{filters: sub.filters, qos: slices.Clone(sub.qos), reply: make(chan requestResult, 1)}
	if sub.opts != nil {
		r.opts = make([]*subscribeOptions, len(sub.filters))
		for i := range r.opts {
			r.opts[i] = sub.opts
		}
		r.user = sub.opts.user
	}
	return r
}

// allowsFilter checks a filter against what the broker said in CONNACK it
// offers: wildcards and shared subscriptions (MQTT 5.0 §3.2.2.3).
func (srv *ServerSettings) allowsFilter(filter string) error {
	if !srv.SharedSubscriptions && strings.HasPrefix(filter, "$share/") {
		return fmt.Errorf("client: subscribe %q: %w: shared subscriptions", filter, ErrNotSupported)
	}
	if !srv.WildcardSubscriptions && strings.ContainsAny(routingFilter(filter), "+#") {
		return fmt.Errorf("client: subscribe %q: %w: wildcard subscriptions", filter, ErrNotSupported)
	}
	return nil
}
