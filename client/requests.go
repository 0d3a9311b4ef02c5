// requests.go holds SUBSCRIBE and UNSUBSCRIBE requests on the session
// goroutine: sending them now or on the next connection, matching their
// acks, and resubscribing after a connection on which the broker had no
// session.
package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/feedmq/feedmq/packets"
)

// request is a SUBSCRIBE or UNSUBSCRIBE waiting to be sent or acknowledged.
type request struct {
	unsubscribe bool
	filters     []string
	qos         []QoS
	opts        []*subscribeOptions // per filter, MQTT 5.0 only; nil when none has any
	user        []UserProperty      // User Properties of the first SUBSCRIBE
	reply       chan requestResult  // nil for resubscriptions after a reconnect
}

type requestResult struct {
	codes  []packets.SubackCode
	reason string // the broker's Reason String, at 5.0
	err    error
}

// chosenID is the Subscription Identifier a subscription of the request
// chose, or 0.
func (r *request) chosenID() uint32 {
	for _, o := range r.opts {
		if o != nil && o.subID != 0 {
			return o.subID
		}
	}
	return 0
}

func (r *request) finish(res requestResult) {
	if r.reply != nil {
		r.reply <- res
	}
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
		s.forgetSubscriptionIDs(r.filters)
		s.sendRequest(id, r, &packets.Unsubscribe{PacketID: id, TopicFilters: r.filters})
		return
	}
	p := &packets.Subscribe{PacketID: id}
	for i, f := range r.filters {
		sp := packets.Subscription{TopicFilter: f, QoS: r.qos[i]}
		if r.opts != nil && r.opts[i] != nil {
			o := r.opts[i]
			sp.NoLocal, sp.RetainAsPublished, sp.RetainHandling = o.noLocal, o.retainAsPub, o.retainHandling
		}
		p.Subscriptions = append(p.Subscriptions, sp)
	}
	if len(r.user) > 0 {
		p.Properties = &packets.Properties{UserProperties: r.user}
	}
	if id := s.subscriptionID(r.filters, r.chosenID()); id != 0 {
		if p.Properties == nil {
			p.Properties = new(packets.Properties)
		}
		p.Properties.SubscriptionIdentifiers = []uint32{id}
	}
	s.sendRequest(id, r, p)
}

// sendRequest sends a SUBSCRIBE or UNSUBSCRIBE. One that cannot be encoded
// (over the broker's Maximum Packet Size) fails its caller at once; one cut
// off by the connection's end goes out again on the next.
func (s *session) sendRequest(id uint16, r *request, p packets.Packet) {
	err := s.conn.send(p)
	var pe *packets.Error
	if errors.As(err, &pe) {
		delete(s.requests, id)
		err = fmt.Errorf("client: %s: %w", p.Type(), err)
		if r.reply == nil {
			s.c.reportError(err) // a resubscription: nobody else would hear of it
		}
		r.finish(requestResult{err: err})
	}
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
	seen := map[string]bool{}
	for _, r := range s.waiting {
		if !r.unsubscribe {
			for _, f := range r.filters {
				seen[f] = true
			}
		}
	}
	// With Subscription Identifiers each subscription gets SUBSCRIBEs of
	// its own, so that its identifier stands for it alone.
	perSub := s.conn != nil && s.conn.level == MQTT5 && s.conn.server.SubscriptionIdentifiers
	var r *request
	for _, sub := range s.subs {
		if perSub {
			r = nil
		}
		for _, f := range sub.filters {
			if seen[f] {
				continue
			}
			seen[f] = true
			if r == nil || len(r.filters) == 32 {
				r = &request{}
				s.waiting = append(s.waiting, r)
			}
			r.filters = append(r.filters, f)
			r.qos = append(r.qos, s.filterQoS(f))
			if sub.opts != nil {
				if r.opts == nil {
					r.opts = make([]*subscribeOptions, len(r.filters)-1, 32)
				}
				r.opts = append(r.opts, sub.opts)
			} else if r.opts != nil {
				r.opts = append(r.opts, nil)
			}
		}
	}
}

// onSuback matches a SUBACK with its request. An unknown id or a wrong
// number of codes is a protocol violation (MQTT-2.3.1-7, MQTT-3.9.3-1).
func (s *session) onSuback(cn *conn, id uint16, codes []packets.SubackCode, reason string) {
	r := s.requests[id]
	if r == nil || r.unsubscribe || len(codes) != len(r.filters) {
		cn.abort(fmt.Errorf("%w: SUBACK %d matches no SUBSCRIBE sent (MQTT-2.3.1-7, MQTT-3.9.3-1)", ErrProtocolViolation, id))
		return
	}
	delete(s.requests, id)
	if r.reply == nil {
		for i, code := range codes {
			if code >= packets.SubackFailure {
				s.c.reportError(fmt.Errorf("%w on resubscribe: %q", subscribeError(r.filters[i:i+1], codes[i:i+1], reason, cn.level == MQTT5), r.filters[i]))
			}
		}
	}
	r.finish(requestResult{codes: codes, reason: reason})
}

// onUnsuback matches an UNSUBACK with its request. At 5.0 a code of 0x80
// or above for a filter fails the Unsubscribe with a *ReasonError naming
// it; the filter is removed locally all the same.
func (s *session) onUnsuback(cn *conn, id uint16, codes []packets.ReasonCode, reason string) {
	r := s.requests[id]
	if r == nil || !r.unsubscribe || (codes != nil && len(codes) != len(r.filters)) {
		cn.abort(fmt.Errorf("%w: UNSUBACK %d matches no UNSUBSCRIBE sent (MQTT-2.3.1-7, MQTT5-3.11.3-1)", ErrProtocolViolation, id))
		return
	}
	delete(s.requests, id)
	for i, code := range codes {
		if code >= 0x80 {
			re := &ReasonError{Packet: packets.TypeUnsuback, Code: code, Reason: reason}
			r.finish(requestResult{err: fmt.Errorf("client: unsubscribe %q: %w", r.filters[i], re)})
			return
		}
	}
	r.finish(requestResult{})
}
