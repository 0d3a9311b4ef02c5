// subscription.go holds Subscription, the handle of a subscription made
// without waiting for the broker: it says what the broker granted, takes a
// handler later, and reads messages one at a time. Feed is built on it.
package client

import (
	"context"
	"errors"
)

// Subscription is a subscription made with SubscribeAsync. It is
// subscribed again after every reconnect on which the broker has no
// session, until Unsubscribe. Its methods are safe for concurrent use.
type Subscription struct {
	c     *Client
	sub   *subscription
	reply chan requestResult // the broker's first answer, kept for every caller
}

// SubscribeAsync registers a subscription to filters and returns at once:
// SUBSCRIBE goes out now if connected, else on the next connection. A nil
// handler leaves the messages in the subscription's queue for Next (and the
// client's NextMessage) until SetHandler sets one. Unlike Subscribe, a
// subscription made here never replaces another to the same filter.
func (c *Client) SubscribeAsync(filters []TopicFilter, handler func(*Message), opts ...SubscribeOption) (*Subscription, error) {
	sub, err := c.subscription(filters, handler, opts)
	if err != nil {
		return nil, err
	}
	sub.feed = true
	if c.closing.Load() {
		return nil, ErrClosed
	}
	if err := c.start(); err != nil {
		return nil, err
	}
	r := newRequest(sub)
	if !c.post(op{fn: func(s *session) { s.subscribe(sub, r) }}) {
		return nil, c.stoppedErr()
	}
	return &Subscription{c: c, sub: sub, reply: r.reply}, nil
}

// Filters returns the subscription's topic filters.
func (s *Subscription) Filters() []string { return append([]string(nil), s.sub.filters...) }

// Granted waits until the broker answered the first SUBSCRIBE and returns
// the QoS granted per filter. Refused filters make the error a
// *SubscribeError; they are removed, the others stay.
func (s *Subscription) Granted(ctx context.Context) ([]QoS, error) {
	select {
	case res := <-s.reply:
		s.reply <- res // keep the answer for later callers
		if res.err != nil {
			return nil, res.err
		}
		return s.c.granted(s.sub, res)
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.c.ctx.Done():
		return nil, s.c.stoppedErr()
	}
}

// SetHandler sets the handler and starts delivering to it, in order, the
// messages queued so far and those that follow.
func (s *Subscription) SetHandler(handler func(*Message)) {
	s.sub.queue.handler.Store(&handler)
	s.sub.queue.kick()
}

// Next returns the subscription's next message, waiting until one arrives
// or ctx ends: the poll-style read, for a subscription without a handler.
// The message is acknowledged when Next returns it.
func (s *Subscription) Next(ctx context.Context) (*Message, error) {
	c, q := s.c, s.sub.queue
	for {
		if m, ok := q.pop(); ok {
			c.delivery.handled(m)
			return m, nil
		}
		select {
		case <-q.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.ctx.Done():
			return nil, c.stoppedErr()
		}
	}
}

// Unsubscribe unsubscribes the subscription's filters and waits for
// UNSUBACK. A client already closed has nothing to unsubscribe.
func (s *Subscription) Unsubscribe(ctx context.Context) error {
	err := s.c.Unsubscribe(ctx, s.sub.filters...)
	if errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}
