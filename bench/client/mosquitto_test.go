package client

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	pahogolang "github.com/eclipse/paho.golang/paho"
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/mosquittotest"
)

// feedmqInflight is feedmq's send window (Config.MaxInflight) in
// BenchmarkMosquittoPublishAsync. paho has no such limit on new messages
// (SetMaxResumePubInFlight only paces resends after a reconnect), so it
// has the whole asyncWindow on the wire; feedmq is given the same depth,
// as against the sink. (Earlier runs used 64, which left mosquitto, the
// bottleneck here, fewer packets per read from feedmq than from paho.)
const feedmqInflight = asyncWindow

// brokerOptions makes mosquitto acknowledge as fast as it can. The limits
// apply to messages the broker sends (0 means no limit; mosquitto 2.0.11
// accepts both, and the later max_queued_messages replaces the one
// mosquittotest writes). The log goes down to warnings and errors: at
// "log_type all" mosquitto writes two lines per message, which
// mosquittotest keeps in memory in this process for the whole run.
var brokerOptions = mosquittotest.Options{Extra: strings.Join([]string{
	"max_inflight_messages 0",
	"max_queued_messages 0",
	"log_type none",
	"log_type error",
	"log_type warning",
}, "\n")}

// BenchmarkMosquittoPublish publishes one message per operation through a
// real mosquitto and waits until its QoS flow is complete: written to the
// connection at QoS 0, PUBACK at QoS 1, PUBCOMP at QoS 2. feedmq and paho
// speak MQTT 3.1.1, feedmq-mqtt5 and paho.golang 5.0.
func BenchmarkMosquittoPublish(b *testing.B) {
	broker := sharedBroker(b)
	for _, v := range variants() {
		b.Run(v.String(), func(b *testing.B) {
			b.Run("feedmq", func(b *testing.B) { mosquittoPublishFeedmq(b, broker, client.Config{}, v) })
			b.Run("paho", func(b *testing.B) {
				c := newPaho(b, broker, v.qos)
				b.ReportAllocs()
				m := startMeter()
				for b.Loop() {
					tok := c.Publish(benchTopic, byte(v.qos), false, v.payload)
					tok.Wait()
					if err := tok.Error(); err != nil {
						b.Fatal(err)
					}
				}
				m.report(b)
				settle(b, "paho", pahoPublish(c))
			})
			b.Run(feedmq5, func(b *testing.B) { mosquittoPublishFeedmq(b, broker, mqtt5(client.Config{}), v) })
			b.Run(pahoGolang, func(b *testing.B) {
				c := connectPahoGolang(b, broker.Addr(), nil)
				publish := pahoGolangPublish(c)
				checkDelivery(b, broker, pahoGolang, v.qos, publish)
				ctx := context.Background()
				b.ReportAllocs()
				m := startMeter()
				for b.Loop() {
					if _, err := c.Publish(ctx, &pahogolang.Publish{Topic: benchTopic, QoS: byte(v.qos), Payload: v.payload}); err != nil {
						b.Fatal(err)
					}
				}
				m.report(b)
				settle(b, pahoGolang, publish)
			})
		})
	}
}

// mosquittoPublishFeedmq is BenchmarkMosquittoPublish's feedmq, connected
// with cfg's protocol.
func mosquittoPublishFeedmq(b *testing.B, broker *mosquittotest.Broker, cfg client.Config, v variant) {
	c := newFeedmq(b, broker, v.qos, cfg)
	ctx := context.Background()
	b.ReportAllocs()
	m := startMeter()
	for b.Loop() {
		if err := c.Publish(ctx, benchTopic, v.payload, client.WithQoS(v.qos)); err != nil {
			b.Fatal(err)
		}
	}
	m.report(b)
	settle(b, "feedmq", feedmqPublish(c))
	checkFeedmqDone(b, c, 2)
}

// BenchmarkMosquittoPublishAsync publishes b.N messages through a real
// mosquitto without waiting for each, keeping at most asyncWindow
// outstanding (when the window is full it waits for the oldest), then waits
// for all of them. The final wait is timed: an operation is one message
// accepted and acknowledged.
//
// It loops over b.N rather than b.Loop, because b.Loop stops the timer
// before the final wait; the setup and delivery check therefore run once
// per round of the b.N ramp-up.
func BenchmarkMosquittoPublishAsync(b *testing.B) {
	broker := sharedBroker(b)
	for _, v := range variants() {
		b.Run(v.String(), func(b *testing.B) {
			b.Run("feedmq", func(b *testing.B) {
				c := newFeedmq(b, broker, v.qos, client.Config{MaxInflight: feedmqInflight})
				timePublishAsyncFeedmq(b, c, v, 2)
			})
			b.Run("paho", func(b *testing.B) {
				c := newPaho(b, broker, v.qos)
				b.ReportAllocs()
				b.ResetTimer()
				m := startMeter()
				pipeline(b,
					func() (paho.Token, error) {
						return c.Publish(benchTopic, byte(v.qos), false, v.payload), nil
					},
					func(tok paho.Token) error {
						tok.Wait()
						return tok.Error()
					})
				b.StopTimer()
				m.report(b)
				settle(b, "paho", pahoPublish(c))
			})
		})
	}
}

// newFeedmq connects a feedmq client to mosquitto with cfg's protocol and
// send window (MaxInflight; 0: the default) and room for asyncWindow pending
// messages, checks that it delivers at the benchmark's QoS, and closes it
// when b ends.
func newFeedmq(b *testing.B, broker *mosquittotest.Broker, q client.QoS, cfg client.Config) *client.Client {
	b.Helper()
	// Twice the window: a Delivery is done a moment before its MaxPending
	// slot is given back, and PublishAsync must never find the queue full.
	cfg.MaxPending = 2 * asyncWindow
	c := connectFeedmq(b, broker.URL(), cfg)
	checkDelivery(b, broker, "feedmq", q, feedmqPublish(c))
	return c
}

// newPaho connects a paho client to mosquitto, checks that it delivers at
// the benchmark's QoS, and disconnects it when b ends.
func newPaho(b *testing.B, broker *mosquittotest.Broker, q client.QoS) paho.Client {
	b.Helper()
	c := connectPaho(b, broker.Addr())
	checkDelivery(b, broker, "paho", q, pahoPublish(c))
	return c
}

// checks numbers the messages of checkDelivery.
var checks atomic.Uint64

// checkDelivery makes sure that a client under test really delivers, so
// that the libraries are compared doing the same work: a feedmq subscriber
// subscribes to the benchmark topic at QoS 2, publish sends the benchmark
// message once at QoS q with a sequence number of its own, and the
// subscriber must receive it intact with QoS q. (It may first receive
// messages an earlier benchmark published; they are skipped.) The
// subscriber then unsubscribes and leaves, so that nobody subscribes while
// the benchmark runs.
func checkDelivery(b *testing.B, broker *mosquittotest.Broker, lib string, q client.QoS, publish publishFunc) {
	b.Helper()
	if len(benchTopic) != 20 || len(benchPayload) != 64 {
		b.Fatalf("the benchmark message has a %d-byte topic and a %d-byte payload, want 20 and 64",
			len(benchTopic), len(benchPayload))
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()

	sub, err := client.New(client.Config{Brokers: []string{broker.URL()}, Reconnect: client.Backoff{Disabled: true}})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	if err := sub.Connect(ctx); err != nil {
		b.Fatalf("subscriber: connect: %v", err)
	}
	// The benchmark payload with the sequence number replaced.
	seq := []byte("123456789")
	i := bytes.Index(benchPayload, seq)
	want := bytes.Clone(benchPayload)
	copy(want[i:i+len(seq)], fmt.Sprintf("%0*d", len(seq), checks.Add(1)))

	got := make(chan *client.Message, 1)
	if _, err := sub.Subscribe(ctx, benchTopic, client.ExactlyOnce, func(m *client.Message) {
		if !bytes.Equal(m.Payload, want) {
			return // an earlier benchmark's
		}
		select {
		case got <- m:
		default: // a duplicate
		}
	}); err != nil {
		b.Fatalf("subscriber: subscribe: %v", err)
	}

	if err := publish(ctx, want, q); err != nil {
		b.Fatalf("%s: publish the check message at QoS %d: %v", lib, q, err)
	}
	select {
	case m := <-got:
		if m.Topic != benchTopic || m.QoS != q {
			b.Fatalf("%s at QoS %d: the subscriber received %q %q at QoS %d", lib, q, m.Topic, m.Payload, m.QoS)
		}
	case <-ctx.Done():
		b.Fatalf("%s: the message published at QoS %d never reached the subscriber", lib, q)
	}
	if err := sub.Unsubscribe(ctx, benchTopic); err != nil {
		b.Fatalf("subscriber: unsubscribe: %v", err)
	}
	if err := sub.Close(); err != nil {
		b.Fatalf("subscriber: close: %v", err)
	}
}
