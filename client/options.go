// options.go holds the per-call options of Publish, Subscribe and NewFeed.
// They are opaque, so that what they carry can grow (MQTT 5.0 properties)
// without exposing the wire packets.
package client

import (
	"time"

	"github.com/feedmq/feedmq/packets"
)

// PublishOption modifies one publish, or a feed's publishes.
type PublishOption interface {
	applyPublish(publishOptions) publishOptions
}

// SubscribeOption modifies one subscription.
type SubscribeOption interface {
	applySubscribe(subscribeOptions) subscribeOptions
}

type publishOptions struct {
	qos    QoS
	retain bool
	props  *packets.Properties // MQTT 5.0 only; made by the first option that sets one
}

type subscribeOptions struct {
	v5             bool // an option that needs MQTT 5.0 was given
	noLocal        bool
	retainAsPub    bool
	retainHandling packets.RetainHandling
	user           []UserProperty
	subID          uint32 // chosen Subscription Identifier; 0: the client picks one
}

// withProps returns o's properties, made on first use: a 3.1.1 publish
// never allocates them. Every publish applies its options to a zero
// publishOptions, so each gets properties of its own.
func (o *publishOptions) withProps() *packets.Properties {
	if o.props == nil {
		o.props = new(packets.Properties)
	}
	return o.props
}

type qosOption QoS

// Options take and return values, so that applying them needs no pointer
// that would make the options escape to the heap on every publish.
func (q qosOption) applyPublish(o publishOptions) publishOptions { o.qos = QoS(q); return o }

type retainOption struct{}

func (retainOption) applyPublish(o publishOptions) publishOptions { o.retain = true; return o }

// WithQoS sets the QoS of a publish (default AtMostOnce); on NewFeed, also
// the QoS of the feed's subscription.
func WithQoS(q QoS) PublishOption { return qosOption(q) }

// WithRetain asks the broker to retain the message for future subscribers.
func WithRetain() PublishOption { return retainOption{} }

// MQTT 5.0 options. On a client whose Config.Protocol is not MQTT5 the call
// they are given to returns ErrNeedsMQTT5.

type propOption func(*packets.Properties)

func (f propOption) applyPublish(o publishOptions) publishOptions { f(o.withProps()); return o }

// WithContentType sets the Content Type of a publish (a MIME type, say).
func WithContentType(t string) PublishOption {
	return propOption(func(ps *packets.Properties) { ps.SetContentType(t) })
}

// WithResponseTopic sets the topic a responder should publish its
// response to.
func WithResponseTopic(topic string) PublishOption {
	return propOption(func(ps *packets.Properties) { ps.SetResponseTopic(topic) })
}

// WithCorrelationData sets the data that ties a response to its request.
// The bytes are copied.
func WithCorrelationData(b []byte) PublishOption {
	b = append([]byte{}, b...)
	return propOption(func(ps *packets.Properties) { ps.SetCorrelationData(b) })
}

// WithMessageExpiry sets the message's lifetime: the broker discards it
// when it could not be delivered in time. It is sent in whole seconds,
// rounded up.
func WithMessageExpiry(d time.Duration) PublishOption {
	return propOption(func(ps *packets.Properties) { ps.SetMessageExpiryInterval(seconds(d)) })
}

// WithPayloadUTF8 declares the payload UTF-8 text (Payload Format
// Indicator 1); a broker may check it and refuse the message with 0x99.
func WithPayloadUTF8() PublishOption {
	return propOption(func(ps *packets.Properties) { ps.SetPayloadFormatIndicator(1) })
}

// UserPropertyOption is WithUserProperty's option, for publishes and
// subscriptions alike.
type UserPropertyOption struct{ p UserProperty }

// WithUserProperty adds a User Property to a publish or a subscribe; the
// option may be given several times, and order is kept.
func WithUserProperty(key, value string) UserPropertyOption {
	return UserPropertyOption{UserProperty{Key: key, Value: value}}
}

func (u UserPropertyOption) applyPublish(o publishOptions) publishOptions {
	ps := o.withProps()
	ps.UserProperties = append(ps.UserProperties, u.p)
	return o
}

func (u UserPropertyOption) applySubscribe(o subscribeOptions) subscribeOptions {
	o.v5 = true
	o.user = append(o.user, u.p)
	return o
}

type subOption func(subscribeOptions) subscribeOptions

func (f subOption) applySubscribe(o subscribeOptions) subscribeOptions {
	o = f(o)
	o.v5 = true
	return o
}

// WithNoLocal asks the broker not to send the client its own publications
// on this subscription. Not allowed on a shared subscription
// (MQTT5-3.8.3-4).
func WithNoLocal() SubscribeOption {
	return subOption(func(o subscribeOptions) subscribeOptions { o.noLocal = true; return o })
}

// WithRetainAsPublished keeps the RETAIN flag of the messages the broker
// forwards on this subscription as their publisher set it.
func WithRetainAsPublished() SubscribeOption {
	return subOption(func(o subscribeOptions) subscribeOptions { o.retainAsPub = true; return o })
}

// WithRetainHandling says when the broker sends retained messages for this
// subscription: on every subscribe (the default), only when it is new, or
// never.
func WithRetainHandling(h packets.RetainHandling) SubscribeOption {
	return subOption(func(o subscribeOptions) subscribeOptions { o.retainHandling = h; return o })
}

// WithSubscriptionID sets the Subscription Identifier of this
// subscription's SUBSCRIBE (1 to 268,435,455) instead of letting the client
// pick one; messages still reach this subscription by it. It takes effect
// when the broker offers identifiers.
func WithSubscriptionID(id uint32) SubscribeOption {
	return subOption(func(o subscribeOptions) subscribeOptions { o.subID = id; return o })
}
