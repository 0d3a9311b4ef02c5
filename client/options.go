// options.go holds the per-call options of Publish, Subscribe and NewFeed.
// They are opaque, so that what they carry can grow (MQTT 5.0 properties)
// without exposing the wire packets.
package client

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
}

type subscribeOptions struct{}

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
