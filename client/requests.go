// requests.go holds SUBSCRIBE and UNSUBSCRIBE requests on the session
// goroutine: sending them now or on the next connection, matching their
// acks, and resubscribing after a connection on which the broker had no
// session.
package client

import (
	"context"
	"fmt"

	"github.com/feedmq/feedmq/packets"
)

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
		_ = s.conn.send(&packets.Unsubscribe{PacketID: id, TopicFilters: r.filters})
		return
	}
	p := &packets.Subscribe{PacketID: id}
	for i, f := range r.filters {
		p.Subscriptions = append(p.Subscriptions, packets.Subscription{TopicFilter: f, QoS: r.qos[i]})
	}
	_ = s.conn.send(p)
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
	var r *request
	for _, sub := range s.subs {
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
		}
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
