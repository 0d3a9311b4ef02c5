// publish.go holds the outbound API: Publish, PublishAsync, the Delivery
// that follows a message, and the bound on messages pending (MaxPending).
package client

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/feedmq/feedmq/packets"
)

// Delivery follows one message published with PublishAsync. It lives inside
// the client's record of the message; its channel is made only when someone
// asks for Done before the flow ended.
type Delivery struct {
	mu     sync.Mutex
	ended  bool
	stored bool
	reason packets.ReasonCode
	err    error
	ch     chan struct{} // Done's channel, made on demand
	notify chan struct{} // Publish's wake-up, capacity 1, pooled
}

// closedChan is what Done returns for a flow that already ended.
var closedChan = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()

// Done is closed when the message's flow has ended: QoS 0 written to the
// connection, QoS 1 acknowledged by PUBACK, QoS 2 completed by PUBCOMP, or
// failed.
func (d *Delivery) Done() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ended {
		return closedChan
	}
	if d.ch == nil {
		d.ch = make(chan struct{})
	}
	return d.ch
}

// Err returns the outcome once Done is closed, and nil before.
func (d *Delivery) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// Wait waits until the flow ended or ctx ended. When ctx ends first and the
// message was already stored, the error wraps both ErrDeliveryPending and
// ctx.Err(): delivery continues in the background.
func (d *Delivery) Wait(ctx context.Context) error {
	select {
	case <-d.Done():
		return d.Err()
	case <-ctx.Done():
	}
	return d.abandonWait(ctx)
}

// abandonWait is the outcome of a wait that ctx ended.
func (d *Delivery) abandonWait(ctx context.Context) error {
	d.mu.Lock()
	ended, stored, err := d.ended, d.stored, d.err
	d.mu.Unlock()
	switch {
	case ended:
		return err
	case stored:
		return fmt.Errorf("%w: %w", ErrDeliveryPending, ctx.Err())
	}
	return ctx.Err()
}

// Reason returns the MQTT 5.0 reason code of the broker's acknowledgment
// once Done is closed: 0 for success, 0x10 (No matching subscribers) for a
// message the broker accepted with nobody to send it to, which is also a
// success; a refusal (0x80 and above) is in Err as a *ReasonError. Always 0
// at 3.1.x and at QoS 0.
func (d *Delivery) Reason() packets.ReasonCode {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.reason
}

func (d *Delivery) setReason(code packets.ReasonCode) {
	d.mu.Lock()
	d.reason = code
	d.mu.Unlock()
}

func (d *Delivery) setStored() {
	d.mu.Lock()
	d.stored = true
	d.mu.Unlock()
}

// complete ends the flow once; later calls do nothing.
func (d *Delivery) complete(err error) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ended {
		return false
	}
	d.ended, d.err = true, err
	if d.ch != nil {
		close(d.ch)
	}
	if d.notify != nil {
		d.notify <- struct{}{}
	}
	return true
}

// newNotify makes the wake-up channels of blocking Publish calls, which the
// client's notifyPool recycles so that a blocking publish allocates no
// channel. The pool is the client's: channels never cross clients (nor
// testing/synctest bubbles).
func newNotify() any { return make(chan struct{}, 1) }

// wait is Wait for Publish: it uses a pooled channel instead of Done's.
func (d *Delivery) wait(ctx context.Context, pool *sync.Pool) error {
	d.mu.Lock()
	if d.ended {
		err := d.err
		d.mu.Unlock()
		return err
	}
	ch := pool.Get().(chan struct{})
	d.notify = ch
	d.mu.Unlock()
	select {
	case <-ch:
		pool.Put(ch)
		return d.Err()
	case <-ctx.Done():
		// The channel may still receive the completion: not pooled again.
		return d.abandonWait(ctx)
	}
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
//
// Publish reads payload while it waits, and takes a copy of its own only if
// it returns before the flow is complete: the buffer may be reused as soon
// as Publish returns, but not changed while it runs.
func (c *Client) Publish(ctx context.Context, topic string, payload []byte, opts ...PublishOption) error {
	m, err := c.publish(ctx, topic, payload, true, opts)
	if err != nil {
		return err
	}
	err = m.d.wait(ctx, &c.notifyPool)
	if m.borrowed {
		c.returnPayload(m)
	}
	return err
}

// returnPayload ends the loan of a blocking Publish's payload (see
// outMsg.borrowed): once Publish returns the buffer is the caller's again,
// so a flow still open because ctx ended takes a copy of its own. The copy
// is made on the session goroutine, the only one that reads the payload
// after the message was accepted.
func (c *Client) returnPayload(m *outMsg) {
	m.d.mu.Lock()
	ended := m.d.ended
	m.d.mu.Unlock()
	if ended {
		return // nothing reads the payload of a finished flow
	}
	_ = c.call(context.Background(), func(*session) {
		if m.pub.Payload != nil {
			m.pub.Payload = bytes.Clone(m.pub.Payload)
		}
	})
}

// PublishAsync is Publish that returns at once, with a Delivery to follow
// the message. It never waits: when MaxPending messages are already pending
// (queued, in flight, or QoS 0 waiting to be written) it returns
// ErrQueueFull.
func (c *Client) PublishAsync(topic string, payload []byte, opts ...PublishOption) (*Delivery, error) {
	m, err := c.publish(context.Background(), topic, payload, false, opts)
	if err != nil {
		return nil, err
	}
	return &m.d, nil
}

func (c *Client) publish(ctx context.Context, topic string, payload []byte, wait bool, opts []PublishOption) (*outMsg, error) {
	var o publishOptions
	for _, opt := range opts {
		o = opt.applyPublish(o)
	}
	pub := packets.Publish{TopicName: topic, QoS: o.qos, Retain: o.retain, Payload: payload, Properties: o.props}
	if err := c.validate(&pub); err != nil {
		return nil, err
	}
	if cn := c.current.Load(); cn != nil {
		// Refused now rather than queued, when the broker's limits already
		// say no; the session checks again on the connection it goes out on.
		if err := cn.admits(&pub); err != nil {
			return nil, err
		}
	}
	if c.closing.Load() {
		return nil, ErrClosed
	}
	if err := c.start(); err != nil {
		return nil, err
	}
	direct := pub.QoS == AtMostOnce && !c.s.QueueQoS0
	if direct && c.current.Load() == nil {
		return nil, ErrNotConnected
	}
	if err := c.pending.acquire(ctx, wait, c.ctx.Done()); err != nil {
		if err == errStopped {
			err = c.stoppedErr()
		}
		return nil, err
	}
	m := &outMsg{pub: pub, counted: true, waited: wait}
	if ps := pub.Properties; ps != nil && ps.Present.Has(packets.PropMessageExpiryInterval) {
		m.expires = time.Now().Add(time.Duration(ps.MessageExpiryInterval) * time.Second)
	}
	if direct {
		// Encoded straight into the connection's batch: no copy, and no
		// trip through the session goroutine.
		if cn := c.current.Load(); cn == nil || cn.sendPublish(m, wait) != nil {
			c.completeSent(m, ErrNotConnected)
		}
		return m, nil
	}
	if wait {
		// Lent until Publish returns (returnPayload): a blocking
		// publish copies nothing unless ctx ends before its flow.
		m.borrowed = true
	} else {
		// The caller's buffer is theirs again once we return.
		m.pub.Payload = c.copyPayload(m, payload)
	}
	if !c.post(op{kind: opPublish, m: m}) {
		c.pending.release()
		return nil, c.stoppedErr()
	}
	return m, nil
}

// validate checks a publish before any I/O, with a stand-in identifier so
// that its size is checked as it will be sent. Topic names already seen
// skip the topic checks (topicCache).
func (c *Client) validate(p *packets.Publish) error {
	if p.Properties != nil {
		return c.validate5(p)
	}
	if p.QoS > AtMostOnce {
		p.PacketID = 1
		defer func() { p.PacketID = 0 }()
	}
	if c.topics.known(p.TopicName) && p.QoS.Valid() && len(p.Payload) <= packets.MaxRemainingLength-len(p.TopicName)-4 {
		return nil
	}
	if p.TopicName == "" {
		// At 5.0 the codec allows it, for topic aliases; a caller never
		// publishes to no topic (MQTT5-4.7.3-1).
		return fmt.Errorf("client: publish: %w", packets.ValidateTopicName(""))
	}
	if err := p.ValidateVersion(c.s.Protocol); err != nil {
		return fmt.Errorf("client: publish: %w", err)
	}
	c.topics.add(p.TopicName)
	return nil
}

// written learns the outcome of the write that carried m's PUBLISH.
func (c *Client) written(m *outMsg, err error) {
	if m.pub.QoS == AtMostOnce {
		c.completeSent(m, err)
		return
	}
	if err == nil {
		m.written.Store(true)
	}
}

// completeSent ends a message whose flow ends on the wire: QoS 0 written,
// or any message that could not be sent.
func (c *Client) completeSent(m *outMsg, err error) {
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrConnectionLost, err)
	} else {
		c.stats.messagesOut.Add(1)
	}
	c.finishMsg(m, err)
}

// finishMsg completes a message's Delivery and frees its MaxPending place.
func (c *Client) finishMsg(m *outMsg, err error) {
	if !m.d.complete(err) {
		return
	}
	c.putBack(m)
	if m.counted {
		m.counted = false
		c.pending.release()
	}
}

// validate5 checks a publish with MQTT 5.0 properties.
func (c *Client) validate5(p *packets.Publish) error {
	if c.s.Protocol != MQTT5 {
		return fmt.Errorf("client: publish: %w", ErrNeedsMQTT5)
	}
	if err := packets.ValidateTopicName(p.TopicName); err != nil {
		return fmt.Errorf("client: publish: %w", err)
	}
	if p.QoS > AtMostOnce {
		p.PacketID = 1
		defer func() { p.PacketID = 0 }()
	}
	if err := p.ValidateVersion(MQTT5); err != nil {
		return fmt.Errorf("client: publish: %w", err)
	}
	return nil
}
