package client

import (
	"context"
	"fmt"
	"sync"

	"github.com/feedmq/feedmq/packets"
)

// PublishOption modifies one publish.
type PublishOption func(*packets.Publish)

// WithQoS sets the QoS of a publish (default AtMostOnce).
func WithQoS(q QoS) PublishOption { return func(p *packets.Publish) { p.QoS = q } }

// WithRetain asks the broker to retain the message for future subscribers.
func WithRetain() PublishOption { return func(p *packets.Publish) { p.Retain = true } }

// Delivery follows one message published with PublishAsync.
type Delivery struct {
	once   sync.Once
	done   chan struct{}
	err    error
	mu     sync.Mutex
	stored bool
}

func newDelivery() *Delivery { return &Delivery{done: make(chan struct{})} }

// Done is closed when the message's flow has ended: QoS 0 written to the
// connection, QoS 1 acknowledged by PUBACK, QoS 2 completed by PUBCOMP, or
// failed.
func (d *Delivery) Done() <-chan struct{} { return d.done }

// Err returns the outcome once Done is closed, and nil before.
func (d *Delivery) Err() error {
	select {
	case <-d.done:
		return d.err
	default:
		return nil
	}
}

// Wait waits until the flow ended or ctx ended. When ctx ends first and the
// message was already stored, the error wraps both ErrDeliveryPending and
// ctx.Err(): delivery continues in the background.
func (d *Delivery) Wait(ctx context.Context) error {
	select {
	case <-d.done:
		return d.err
	case <-ctx.Done():
	}
	d.mu.Lock()
	stored := d.stored
	d.mu.Unlock()
	if stored {
		return fmt.Errorf("%w: %w", ErrDeliveryPending, ctx.Err())
	}
	return ctx.Err()
}

func (d *Delivery) setStored() {
	if d == nil {
		return
	}
	d.mu.Lock()
	d.stored = true
	d.mu.Unlock()
}

func (d *Delivery) complete(err error) {
	if d == nil {
		return
	}
	d.once.Do(func() {
		d.err = err
		close(d.done)
	})
}

// Publish sends a message and waits until its QoS flow is complete: for QoS
// 0 until it was written to the connection, for QoS 1 until PUBACK, for QoS
// 2 until PUBCOMP. While disconnected, QoS 1 and 2 messages (and QoS 0 with
// Config.QueueQoS0) are queued and sent on reconnect; when MaxPending
// messages are waiting, Publish waits for room.
//
// If ctx ends after the message was stored, the error wraps
// ErrDeliveryPending and ctx.Err(), and delivery goes on. If it ends before,
// the message was not sent. See the package errors for the other outcomes.
func (c *Client) Publish(ctx context.Context, topic string, payload []byte, opts ...PublishOption) error {
	d, err := c.publish(ctx, topic, payload, true, opts)
	if err != nil {
		return err
	}
	return d.Wait(ctx)
}

// PublishAsync is Publish that returns at once, with a Delivery to follow
// the message. When MaxPending messages are waiting it returns ErrQueueFull
// instead of waiting.
func (c *Client) PublishAsync(topic string, payload []byte, opts ...PublishOption) (*Delivery, error) {
	return c.publish(context.Background(), topic, payload, false, opts)
}

func (c *Client) publish(ctx context.Context, topic string, payload []byte, wait bool, opts []PublishOption) (*Delivery, error) {
	m := &outMsg{pub: packets.Publish{TopicName: topic}}
	for _, o := range opts {
		o(&m.pub)
	}
	// Validate before any I/O, with a stand-in identifier so that the size
	// is checked as it will be sent. The copy makes the caller's buffer
	// theirs again as soon as we return.
	m.pub.Payload = payload
	if m.pub.QoS > AtMostOnce {
		m.pub.PacketID = 1
	}
	if err := m.pub.Validate(); err != nil {
		return nil, fmt.Errorf("client: publish: %w", err)
	}
	m.pub.PacketID = 0
	m.pub.Payload = append([]byte(nil), payload...)
	if c.closing.Load() {
		return nil, ErrClosed
	}
	if err := c.start(); err != nil {
		return nil, err
	}
	m.d = newDelivery()
	if m.pub.QoS == AtMostOnce && !c.s.QueueQoS0 {
		// Not queued: it goes to the connection or fails at once; either
		// way the outcome arrives on the Delivery, so there is no need to
		// wait for the session here.
		err := c.post(ctx, func(s *session) {
			if !s.connected() {
				m.d.complete(ErrNotConnected)
				return
			}
			s.send(publishCopy(&m.pub), m)
		})
		if err != nil {
			return nil, err
		}
		return m.d, nil
	}
	if err := c.acquireSlot(ctx, wait); err != nil {
		return nil, err
	}
	m.slotted = true
	if err := c.post(ctx, func(s *session) { s.accept(m) }); err != nil {
		c.releaseSlot(m)
		return nil, err
	}
	return m.d, nil
}

// acquireSlot takes one of the MaxPending slots, waiting for one when wait
// is set.
func (c *Client) acquireSlot(ctx context.Context, wait bool) error {
	select {
	case c.slots <- struct{}{}:
		return nil
	default:
	}
	if !wait {
		return ErrQueueFull
	}
	select {
	case c.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrQueueFull, ctx.Err())
	case <-c.ctx.Done():
		return c.stoppedErr()
	}
}

// releaseSlot gives back a message's slot, once.
func (c *Client) releaseSlot(m *outMsg) {
	if m == nil || !m.slotted {
		return
	}
	m.slotted = false
	select {
	case <-c.slots:
	default:
	}
}
