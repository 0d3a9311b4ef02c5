// request.go holds MQTT 5.0 request/response (MQTT 5.0 §4.10): Request
// publishes with a Response Topic and Correlation Data and waits for the
// answer on a reply subscription the client manages; Reply answers a
// received request.
package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
)

// responder is the client's reply subscription and the requests waiting
// on it.
type responder struct {
	mu      sync.Mutex
	topic   string // the reply topic; "" until the first Request
	sub     *Subscription
	waiting map[string]chan *Message // by correlation data
}

// ErrNoResponseTopic is returned by Reply for a message that asked for no
// response.
var ErrNoResponseTopic = errors.New("client: reply: the message has no Response Topic")

// Request publishes payload to topic as a request and waits for its
// response (MQTT 5.0 §4.10): the message carries a Response Topic on which
// the client is subscribed and Correlation Data unique to this request,
// which the responder echoes (Reply does). The reply subscription is made
// on the first Request, at QoS 1, and kept; its topic begins with the
// broker's Response Information when Config.MQTT5.RequestResponseInformation
// obtained one. opts apply to the request (WithQoS, WithUserProperty...).
// It needs MQTT 5.0.
func (c *Client) Request(ctx context.Context, topic string, payload []byte, opts ...PublishOption) (*Message, error) {
	if c.s.Protocol != MQTT5 {
		return nil, fmt.Errorf("client: request: %w", ErrNeedsMQTT5)
	}
	replyTopic, err := c.replyTopic(ctx)
	if err != nil {
		return nil, err
	}
	corr := make([]byte, 16)
	_, _ = rand.Read(corr)
	key := string(corr)
	ch := make(chan *Message, 1)
	r := &c.responder
	r.mu.Lock()
	r.waiting[key] = ch
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.waiting, key)
		r.mu.Unlock()
	}()
	opts = append(opts[:len(opts):len(opts)], WithResponseTopic(replyTopic), WithCorrelationData(corr))
	if err := c.Publish(ctx, topic, payload, opts...); err != nil {
		return nil, err
	}
	select {
	case m := <-ch:
		return m, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("client: request to %q: no response: %w", topic, ctx.Err())
	case <-c.ctx.Done():
		return nil, c.stoppedErr()
	}
}

// replyTopic subscribes the reply topic once and returns it.
func (c *Client) replyTopic(ctx context.Context) (string, error) {
	r := &c.responder
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.topic != "" {
		return r.topic, nil
	}
	prefix := "feedmq/reply/"
	if cn := c.current.Load(); cn != nil && cn.server.ResponseInformation != "" {
		prefix = cn.server.ResponseInformation + "/"
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	topic := prefix + hex.EncodeToString(id[:])
	sub, err := c.SubscribeAsync([]TopicFilter{{Filter: topic, QoS: AtLeastOnce}}, r.deliver)
	if err != nil {
		return "", err
	}
	if _, err := sub.Granted(ctx); err != nil {
		_ = sub.Unsubscribe(context.Background())
		return "", fmt.Errorf("client: request: subscribing to the reply topic: %w", err)
	}
	r.topic, r.sub = topic, sub
	if r.waiting == nil {
		r.waiting = map[string]chan *Message{}
	}
	return topic, nil
}

// deliver hands a response to the Request waiting for its correlation
// data; one nobody waits for any more is dropped.
func (r *responder) deliver(m *Message) {
	if m.Properties == nil {
		return
	}
	r.mu.Lock()
	ch := r.waiting[string(m.Properties.CorrelationData)]
	r.mu.Unlock()
	if ch != nil {
		select {
		case ch <- m:
		default: // a second response to one request
		}
	}
}

// Reply publishes payload as the response to req: to its Response Topic,
// with its Correlation Data (MQTT 5.0 §4.10). opts apply to the response.
func (c *Client) Reply(ctx context.Context, req *Message, payload []byte, opts ...PublishOption) error {
	if req.Properties == nil || req.Properties.ResponseTopic == "" {
		return ErrNoResponseTopic
	}
	if req.Properties.CorrelationData != nil {
		opts = append(opts[:len(opts):len(opts)], WithCorrelationData(req.Properties.CorrelationData))
	}
	return c.Publish(ctx, req.Properties.ResponseTopic, payload, opts...)
}
