package client

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pahogolang "github.com/eclipse/paho.golang/paho"
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/feedmq/feedmq/bench/internal/sink"
	"github.com/feedmq/feedmq/client"
)

// The client-only benchmarks run against the sink broker (package sink),
// which answers every packet at once from a process of its own, so that
// what they measure is the client's cost: its allocations, its CPU time
// (cpu-ns/op is this process's alone) and the wall time of its round trips
// over loopback.

// sinkConfig is feedmq's configuration against the sink: a send window and
// a queue that never hold back a benchmark (paho.mqtt.golang has no send
// window, and paho.golang takes the broker's Receive Maximum, 65,535 when
// the broker names none). Twice the window, because a Delivery is done a
// moment before its MaxPending slot is given back and PublishAsync must
// never find the queue full.
var sinkConfig = client.Config{MaxInflight: asyncWindow, MaxPending: 2 * asyncWindow}

// sinkLibs are the libraries of the blocking publish benchmarks, each
// 3.1.1 library followed by its 5.0 counterpart. connect returns a
// publishFunc and a check to run after settle, or nil.
var sinkLibs = []struct {
	name    string
	connect func(b *testing.B, addr string) (publishFunc, func(b *testing.B))
}{
	{"feedmq", func(b *testing.B, addr string) (publishFunc, func(*testing.B)) {
		c := connectFeedmq(b, "mqtt://"+addr, sinkConfig)
		return feedmqPublish(c), func(b *testing.B) { checkFeedmqDone(b, c, 1) }
	}},
	{"paho", func(b *testing.B, addr string) (publishFunc, func(*testing.B)) {
		return pahoPublish(connectPaho(b, addr)), nil
	}},
	{feedmq5, func(b *testing.B, addr string) (publishFunc, func(*testing.B)) {
		c := connectFeedmq(b, "mqtt://"+addr, mqtt5(sinkConfig))
		return feedmqPublish(c), func(b *testing.B) { checkFeedmqDone(b, c, 1) }
	}},
	{pahoGolang, func(b *testing.B, addr string) (publishFunc, func(*testing.B)) {
		return pahoGolangPublish(connectPahoGolang(b, addr, nil)), nil
	}},
}

// BenchmarkSinkPublish publishes one message per operation from one
// goroutine with each library's blocking call (feedmq Publish, paho
// Publish and Token.Wait, paho.golang Publish) and waits until its flow is
// complete: a round trip to the sink at QoS 1, two at QoS 2.
func BenchmarkSinkPublish(b *testing.B) {
	addr := sharedSink(b)
	for _, v := range variants() {
		b.Run(v.String(), func(b *testing.B) {
			for _, lib := range sinkLibs {
				b.Run(lib.name, func(b *testing.B) {
					publish, check := lib.connect(b, addr)
					ctx := context.Background()
					b.ReportAllocs()
					m := startMeter()
					for b.Loop() {
						if err := publish(ctx, v.payload, v.qos); err != nil {
							b.Fatal(err)
						}
					}
					m.report(b)
					settle(b, lib.name, publish)
					if check != nil {
						check(b)
					}
				})
			}
		})
	}
}

// BenchmarkSinkPublishParallel publishes b.N messages with the same
// blocking calls from publishers goroutines sharing one client, each
// publishing its next message as soon as the last one's flow is complete.
func BenchmarkSinkPublishParallel(b *testing.B) {
	addr := sharedSink(b)
	for _, v := range variants() {
		b.Run(v.String(), func(b *testing.B) {
			for _, lib := range sinkLibs {
				b.Run(lib.name, func(b *testing.B) {
					publish, check := lib.connect(b, addr)
					ctx := context.Background()
					b.ReportAllocs()
					b.ResetTimer()
					m := startMeter()
					var next atomic.Int64
					var failed atomic.Pointer[error]
					var wg sync.WaitGroup
					for range publishers {
						wg.Go(func() {
							for next.Add(1) <= int64(b.N) {
								if err := publish(ctx, v.payload, v.qos); err != nil {
									// A copy, so that err itself stays on the
									// stack: taking its address would cost
									// every publish an allocation.
									e := err
									failed.CompareAndSwap(nil, &e)
									return
								}
							}
						})
					}
					wg.Wait()
					b.StopTimer()
					if err := failed.Load(); err != nil {
						b.Fatal(*err)
					}
					m.report(b)
					settle(b, lib.name, publish)
					if check != nil {
						check(b)
					}
				})
			}
		})
	}
}

// BenchmarkSinkPublishAsync publishes b.N messages without waiting for
// each, keeping at most asyncWindow outstanding, as
// BenchmarkMosquittoPublishAsync does, with feedmq's PublishAsync and
// paho's tokens. paho.golang has no counterpart: its asynchronous publish
// (PublishMethod_AsyncSend) tells nobody when a flow completes.
func BenchmarkSinkPublishAsync(b *testing.B) {
	addr := sharedSink(b)
	for _, v := range variants() {
		b.Run(v.String(), func(b *testing.B) {
			b.Run("feedmq", func(b *testing.B) { sinkPublishAsyncFeedmq(b, addr, sinkConfig, v) })
			b.Run("paho", func(b *testing.B) {
				c := connectPaho(b, addr)
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
			b.Run(feedmq5, func(b *testing.B) { sinkPublishAsyncFeedmq(b, addr, mqtt5(sinkConfig), v) })
		})
	}
}

// sinkPublishAsyncFeedmq is BenchmarkSinkPublishAsync's feedmq, connected
// with cfg.
func sinkPublishAsyncFeedmq(b *testing.B, addr string, cfg client.Config, v variant) {
	timePublishAsyncFeedmq(b, connectFeedmq(b, "mqtt://"+addr, cfg), v, 1)
}

// timePublishAsyncFeedmq times b.N PublishAsync calls on c through
// pipeline, then settles and checks that every message completed; extra
// is how many messages c sent before the timed loop and settle (see
// checkFeedmqDone).
func timePublishAsyncFeedmq(b *testing.B, c *client.Client, v variant, extra int) {
	b.ReportAllocs()
	b.ResetTimer()
	m := startMeter()
	pipeline(b,
		func() (*client.Delivery, error) {
			return c.PublishAsync(benchTopic, v.payload, client.WithQoS(v.qos))
		},
		func(d *client.Delivery) error {
			<-d.Done()
			return d.Err()
		})
	b.StopTimer()
	m.report(b)
	settle(b, "feedmq", feedmqPublish(c))
	checkFeedmqDone(b, c, extra)
}

// BenchmarkSinkReceive subscribes to a flood of b.N messages (see package
// sink) and times from the SUBSCRIBE until a trivial handler, which counts,
// has been called for every message. At QoS 1 and 2 the sink keeps
// floodWindow messages unacknowledged, and every library acknowledges a
// message after its handler returned. Handlers run on each library's own
// goroutine: feedmq's subscription goroutine, paho's router, paho.golang's
// publish router. A message feedmq drops because the handler's queue
// (Config.HandlerQueue, default) is full counts as done, and is reported
// as dropped/op; msgs/s counts only those handled.
func BenchmarkSinkReceive(b *testing.B) {
	addr := sharedSink(b)
	for _, v := range variants() {
		filter := func(b *testing.B) string {
			return sink.FloodTopic(byte(v.qos), b.N, len(v.payload), floodWindow)
		}
		b.Run(v.String(), func(b *testing.B) {
			b.Run("feedmq", func(b *testing.B) { sinkReceiveFeedmq(b, addr, client.Config{}, filter(b), v.qos) })
			b.Run("paho", func(b *testing.B) {
				c := connectPaho(b, addr)
				var r receiver
				r.start(b)
				tok := c.Subscribe(filter(b), byte(v.qos), func(paho.Client, paho.Message) { r.handled(b) })
				if tok.Wait(); tok.Error() != nil {
					b.Fatal(tok.Error())
				}
				r.wait(b, nil)
			})
			b.Run(feedmq5, func(b *testing.B) { sinkReceiveFeedmq(b, addr, mqtt5(client.Config{}), filter(b), v.qos) })
			b.Run(pahoGolang, func(b *testing.B) {
				var r receiver
				c := connectPahoGolang(b, addr, func(pahogolang.PublishReceived) (bool, error) {
					r.handled(b)
					return true, nil
				})
				r.start(b)
				if _, err := c.Subscribe(context.Background(), &pahogolang.Subscribe{
					Subscriptions: []pahogolang.SubscribeOptions{{Topic: filter(b), QoS: byte(v.qos)}},
				}); err != nil {
					b.Fatal(err)
				}
				r.wait(b, nil)
			})
		})
	}
}

// sinkReceiveFeedmq is BenchmarkSinkReceive's feedmq, connected with cfg.
func sinkReceiveFeedmq(b *testing.B, addr string, cfg client.Config, filter string, q client.QoS) {
	c := connectFeedmq(b, "mqtt://"+addr, cfg)
	var r receiver
	r.start(b)
	if _, err := c.Subscribe(context.Background(), filter, q, func(*client.Message) { r.handled(b) }); err != nil {
		b.Fatal(err)
	}
	r.wait(b, func() uint64 { return c.Stats().Dropped })
	if st := c.Stats(); st.MessagesIn != uint64(b.N) {
		b.Fatalf("feedmq: %d messages in, want %d: %+v", st.MessagesIn, b.N, st)
	}
}

// receiver counts a flood's messages.
type receiver struct {
	n    atomic.Int64
	done chan struct{} // closed by the handler of the last message
	m    meter
}

// start starts the timer: call it right before subscribing.
func (r *receiver) start(b *testing.B) {
	r.done = make(chan struct{})
	b.ReportAllocs()
	b.ResetTimer()
	r.m = startMeter()
}

// handled counts a message; it is the benchmarks' handler.
func (r *receiver) handled(b *testing.B) {
	if r.n.Add(1) == int64(b.N) {
		close(r.done)
	}
}

// wait returns when every message was handled or, with dropped, handled or
// dropped, and stops the timer. It fails the benchmark when no message
// arrives for settleTimeout.
func (r *receiver) wait(b *testing.B, dropped func() uint64) {
	b.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	last, since := int64(-1), time.Now()
	var lost uint64
	for {
		select {
		case <-r.done:
		case <-tick.C:
			n := r.n.Load()
			if dropped != nil {
				if lost = dropped(); n+int64(lost) >= int64(b.N) {
					break
				}
			}
			if n != last {
				last, since = n, time.Now()
			} else if time.Since(since) > settleTimeout {
				b.Fatalf("%d of %d messages handled, %d dropped; nothing for %v", n, b.N, lost, settleTimeout)
			}
			continue
		}
		break
	}
	b.StopTimer()
	// msgs/s counts the handled messages only.
	handled := r.n.Load()
	if cpu, ok := processCPU(); ok && r.m.ok && b.N > 0 {
		b.ReportMetric(float64(cpu-r.m.cpu)/float64(b.N), "cpu-ns/op")
	}
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(handled)/s, "msgs/s")
	}
	if dropped != nil {
		b.ReportMetric(float64(dropped())/float64(b.N), "dropped/op")
	}
}
