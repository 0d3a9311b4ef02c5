// feed.go holds Feed, a topic with typed values after the Adafruit MQTT
// library, and the codecs that convert them.
package client

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Codec converts between a feed's values and message payloads.
type Codec[T any] interface {
	Encode(v T) ([]byte, error)
	Decode(payload []byte) (T, error)
}

// BytesCodec passes payloads through unchanged.
type BytesCodec struct{}

// Encode returns v.
func (BytesCodec) Encode(v []byte) ([]byte, error) { return v, nil }

// Decode returns the payload.
func (BytesCodec) Decode(b []byte) ([]byte, error) { return b, nil }

// StringCodec carries UTF-8 text.
type StringCodec struct{}

// Encode returns the bytes of v.
func (StringCodec) Encode(v string) ([]byte, error) { return []byte(v), nil }

// Decode returns the payload as a string.
func (StringCodec) Decode(b []byte) (string, error) { return string(b), nil }

// IntCodec carries a decimal integer as text, the way devices and the
// Adafruit IO feeds send numbers. Surrounding white space is ignored;
// anything else that is not an integer is an error, never 0.
type IntCodec struct{}

// Encode formats v in decimal.
func (IntCodec) Encode(v int64) ([]byte, error) { return strconv.AppendInt(nil, v, 10), nil }

// Decode parses a decimal integer.
func (IntCodec) Decode(b []byte) (int64, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not an integer: %w", err)
	}
	return v, nil
}

// FloatCodec carries a floating-point number as text.
type FloatCodec struct{}

// Encode formats v with the fewest digits that read back the same value.
func (FloatCodec) Encode(v float64) ([]byte, error) {
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// Decode parses a floating-point number.
func (FloatCodec) Decode(b []byte) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	if err != nil {
		return 0, fmt.Errorf("not a number: %w", err)
	}
	return v, nil
}

// DecodeError reports a message whose payload the feed's codec rejected.
// The message was acknowledged: sending it again would not make it valid.
type DecodeError struct {
	Topic   string
	Payload []byte
	Err     error
}

// Error names the feed and the payload's size, never its content.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("client: feed %q: payload of %d bytes: %v", e.Topic, len(e.Payload), e.Err)
}

// Unwrap returns the codec's error.
func (e *DecodeError) Unwrap() error { return e.Err }

// Feed is a topic you publish typed values on and receive them from, after
// the feeds of the Adafruit MQTT library. Creating a feed subscribes to its
// topic, now if connected or on the next connection; the subscription is
// made again after every reconnect on which the broker has no session.
//
// Until OnMessage sets a callback, messages wait in the feed's queue for
// Next (or the client's NextMessage).
type Feed[T any] struct {
	c       *Client
	topic   string
	codec   Codec[T]
	qos     QoS
	opts    []PublishOption // every publish's, as NewFeed got them
	sub     *Subscription
	onError func(*DecodeError)
}

// NewFeed creates a feed for topic, which may be a topic filter with
// wildcards (then Publish is refused). WithQoS sets the QoS of both the
// subscription and the feed's publishes; WithRetain and the MQTT 5.0
// property options (WithContentType, WithUserProperty...) apply to every
// publish. It does not wait for the network: see Subscribed.
func NewFeed[T any](c *Client, topic string, codec Codec[T], opts ...PublishOption) (*Feed[T], error) {
	var tmpl publishOptions
	for _, o := range opts {
		tmpl = o.applyPublish(tmpl)
	}
	if tmpl.props != nil && c.s.Protocol != MQTT5 {
		return nil, fmt.Errorf("client: feed %q: %w", topic, ErrNeedsMQTT5)
	}
	sub, err := c.SubscribeAsync([]TopicFilter{{topic, tmpl.qos}}, nil)
	if err != nil {
		return nil, err
	}
	return &Feed[T]{c: c, topic: topic, codec: codec, qos: tmpl.qos, opts: slices.Clone(opts), sub: sub}, nil
}

// Topic returns the feed's topic or filter.
func (f *Feed[T]) Topic() string { return f.topic }

// Subscribed waits until the broker acknowledged the feed's first
// subscription and returns the granted QoS.
func (f *Feed[T]) Subscribed(ctx context.Context) (QoS, error) {
	granted, err := f.sub.Granted(ctx)
	if err != nil {
		return 0, err
	}
	return granted[0], nil
}

// OnMessage sets the callback for the feed's messages and starts
// delivering to it, in order, on the feed's own goroutine. Payloads the
// codec rejects go to OnDecodeError (or Config.OnError) instead.
func (f *Feed[T]) OnMessage(fn func(v T, m *Message)) {
	f.sub.SetHandler(func(m *Message) {
		v, err := f.codec.Decode(m.Payload)
		if err != nil {
			f.decodeFailed(m, err)
			return
		}
		fn(v, m)
	})
}

// OnDecodeError sets the callback for payloads the codec rejects. Set it
// before OnMessage.
func (f *Feed[T]) OnDecodeError(fn func(*DecodeError)) { f.onError = fn }

func (f *Feed[T]) decodeFailed(m *Message, err error) {
	de := &DecodeError{Topic: m.Topic, Payload: m.Payload, Err: err}
	if f.onError != nil {
		f.onError(de)
		return
	}
	f.c.reportError(de)
}

// Publish encodes v and publishes it on the feed's topic with the feed's
// options; see Client.Publish.
func (f *Feed[T]) Publish(ctx context.Context, v T) error {
	payload, err := f.codec.Encode(v)
	if err != nil {
		return fmt.Errorf("client: feed %q: %w", f.topic, err)
	}
	return f.c.Publish(ctx, f.topic, payload, f.opts...)
}

// Next returns the feed's next message, waiting until one arrives or ctx
// ends: the poll-style read for programs without callbacks. A payload the
// codec rejects is returned as a *DecodeError with the message.
func (f *Feed[T]) Next(ctx context.Context) (T, *Message, error) {
	var zero T
	m, err := f.sub.Next(ctx)
	if err != nil {
		return zero, nil, err
	}
	v, err := f.codec.Decode(m.Payload)
	if err != nil {
		return zero, m, &DecodeError{Topic: m.Topic, Payload: m.Payload, Err: err}
	}
	return v, m, nil
}

// Close unsubscribes the feed and waits for UNSUBACK.
func (f *Feed[T]) Close(ctx context.Context) error { return f.sub.Unsubscribe(ctx) }
