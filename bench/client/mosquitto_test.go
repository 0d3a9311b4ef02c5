package client

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/mosquittotest"
)

// The message every benchmark publishes: a 20-byte topic and a 64-byte
// payload, the PUBLISH of the codec benchmarks.
const benchTopic = "sensors/room-1/tempC"

var benchPayload = []byte(`{"t":21.5,"unit":"C","room":1,"seq":123456789,"ok":true,"v":3.3}`)

// Client settings shared by the benchmarks.
const (
	// asyncWindow is how many messages BenchmarkPublishAsync keeps
	// outstanding at most, for both libraries.
	asyncWindow = 1000
	// feedmqInflight is feedmq's send window (Config.MaxInflight) in
	// BenchmarkPublishAsync. paho has no such limit on new messages
	// (SetMaxResumePubInFlight only paces resends after a reconnect), so it
	// may have the whole asyncWindow on the wire.
	feedmqInflight = 64
	// setupTimeout bounds connecting, subscribing and the delivery check.
	setupTimeout = 10 * time.Second
	// settleTimeout bounds the wait for mosquitto to catch up after a
	// benchmark (see settle).
	settleTimeout = time.Minute
	// pahoQuiesce is how long paho's Disconnect may wait for its
	// DISCONNECT to be written, in milliseconds.
	pahoQuiesce = 250
)

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

var qosLevels = []client.QoS{client.AtMostOnce, client.AtLeastOnce, client.ExactlyOnce}

// BenchmarkPublishSync publishes one message per operation and waits until
// its QoS flow is complete: written to the connection at QoS 0, PUBACK at
// QoS 1, PUBCOMP at QoS 2.
func BenchmarkPublishSync(b *testing.B) {
	broker := sharedBroker(b)
	for _, q := range qosLevels {
		b.Run(fmt.Sprintf("qos%d", q), func(b *testing.B) {
			b.Run("feedmq", func(b *testing.B) {
				c := newFeedmq(b, broker, q, 0)
				ctx := context.Background()
				b.ReportAllocs()
				m := startMeter()
				for b.Loop() {
					if err := c.Publish(ctx, benchTopic, benchPayload, client.WithQoS(q)); err != nil {
						b.Fatal(err)
					}
				}
				m.report(b)
				settle(b, "feedmq", feedmqPublish(c))
				checkFeedmqDone(b, c)
			})
			b.Run("paho", func(b *testing.B) {
				c := newPaho(b, broker, q)
				b.ReportAllocs()
				m := startMeter()
				for b.Loop() {
					tok := c.Publish(benchTopic, byte(q), false, benchPayload)
					tok.Wait()
					if err := tok.Error(); err != nil {
						b.Fatal(err)
					}
				}
				m.report(b)
				settle(b, "paho", pahoPublish(c))
			})
		})
	}
}

// BenchmarkPublishAsync publishes b.N messages without waiting for each,
// keeping at most asyncWindow outstanding (when the window is full it waits
// for the oldest), then waits for all of them. The final wait is timed: an
// operation is one message accepted and acknowledged.
//
// It loops over b.N rather than b.Loop, because b.Loop stops the timer
// before the final wait; the setup and delivery check therefore run once
// per round of the b.N ramp-up.
func BenchmarkPublishAsync(b *testing.B) {
	broker := sharedBroker(b)
	for _, q := range qosLevels {
		b.Run(fmt.Sprintf("qos%d", q), func(b *testing.B) {
			b.Run("feedmq", func(b *testing.B) {
				c := newFeedmq(b, broker, q, feedmqInflight)
				b.ReportAllocs()
				b.ResetTimer()
				m := startMeter()
				pipeline(b,
					func() (*client.Delivery, error) {
						return c.PublishAsync(benchTopic, benchPayload, client.WithQoS(q))
					},
					func(d *client.Delivery) error {
						<-d.Done()
						return d.Err()
					})
				b.StopTimer()
				m.report(b)
				settle(b, "feedmq", feedmqPublish(c))
				checkFeedmqDone(b, c)
			})
			b.Run("paho", func(b *testing.B) {
				c := newPaho(b, broker, q)
				b.ReportAllocs()
				b.ResetTimer()
				m := startMeter()
				pipeline(b,
					func() (paho.Token, error) {
						return c.Publish(benchTopic, byte(q), false, benchPayload), nil
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

// pipeline calls publish b.N times with at most asyncWindow results not yet
// waited for, waiting for the oldest when the window is full, and then waits
// for the rest. It fails the benchmark on the first error.
func pipeline[T any](b *testing.B, publish func() (T, error), wait func(T) error) {
	ring := make([]T, min(b.N, asyncWindow))
	for i := range b.N {
		slot := i % len(ring)
		if i >= len(ring) {
			if err := wait(ring[slot]); err != nil {
				b.Fatalf("message %d: %v", i-len(ring), err)
			}
		}
		var err error
		if ring[slot], err = publish(); err != nil {
			b.Fatalf("message %d: %v", i, err)
		}
	}
	for i := max(0, b.N-len(ring)); i < b.N; i++ {
		if err := wait(ring[i%len(ring)]); err != nil {
			b.Fatalf("message %d: %v", i, err)
		}
	}
}

// meter measures the CPU time of the timed part, which wall time cannot
// separate from the broker and from other load on the machine.
type meter struct {
	cpu time.Duration
	ok  bool
}

// startMeter starts measuring. Call it right before the timed part.
func startMeter() meter {
	cpu, ok := processCPU()
	return meter{cpu, ok}
}

// report adds two metrics: msgs/s, and cpu-ns/op, the CPU time (user and
// system, every thread of this process: the client's goroutines, its
// system calls and the garbage collector, not mosquitto) per message. Call
// it right after the timed part.
func (m meter) report(b *testing.B) {
	if cpu, ok := processCPU(); ok && m.ok && b.N > 0 {
		b.ReportMetric(float64(cpu-m.cpu)/float64(b.N), "cpu-ns/op")
	}
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "msgs/s")
	}
}

// newFeedmq connects a feedmq client with the given send window (0: the
// default) and room for asyncWindow pending messages, checks that it
// delivers at the benchmark's QoS, and closes it when b ends. Reconnection
// is off, so that a lost connection fails the benchmark instead of hiding
// in its numbers.
func newFeedmq(b *testing.B, broker *mosquittotest.Broker, q client.QoS, maxInflight int) *client.Client {
	b.Helper()
	c := connectFeedmq(b, broker, client.Config{
		MaxInflight: maxInflight,
		// Twice the window: a Delivery is done a moment before its
		// MaxPending slot is given back, and PublishAsync must never find
		// the queue full.
		MaxPending: 2 * asyncWindow,
	})
	checkDelivery(b, broker, "feedmq", q, feedmqPublish(c))
	return c
}

// feedmqPublish returns c's publishFunc.
func feedmqPublish(c *client.Client) publishFunc {
	return func(ctx context.Context, payload []byte, q client.QoS) error {
		return c.Publish(ctx, benchTopic, payload, client.WithQoS(q))
	}
}

// connectFeedmq connects a feedmq client with cfg's limits to broker and
// closes it when b ends.
func connectFeedmq(b *testing.B, broker *mosquittotest.Broker, cfg client.Config) *client.Client {
	b.Helper()
	cfg.Brokers = []string{broker.URL()}
	cfg.Reconnect.Disabled = true
	c, err := client.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		b.Fatalf("feedmq: connect: %v", err)
	}
	b.Cleanup(func() {
		if err := c.Close(); err != nil {
			b.Errorf("feedmq: close: %v", err)
		}
	})
	return c
}

// checkFeedmqDone checks, after the timed loop, that every message the
// client accepted completed on the one connection it had.
func checkFeedmqDone(b *testing.B, c *client.Client) {
	b.Helper()
	st := c.Stats()
	// Besides the loop's: the delivery check's message and settle's.
	if !st.Connected || st.Connects != 1 || st.MessagesOut != uint64(b.N)+2 || st.Inflight != 0 || st.Queued != 0 {
		b.Fatalf("feedmq: after %d messages: %+v", b.N, st)
	}
}

// pahoClients numbers paho's client identifiers.
var pahoClients atomic.Uint64

// newPaho connects a paho client, checks that it delivers at the
// benchmark's QoS, and disconnects it when b ends. Like feedmq's it uses a
// clean session, an in-memory store (paho's default) and no automatic
// reconnection.
func newPaho(b *testing.B, broker *mosquittotest.Broker, q client.QoS) paho.Client {
	b.Helper()
	opts := paho.NewClientOptions().
		AddBroker("tcp://" + broker.Addr()).
		SetClientID(fmt.Sprintf("paho-bench-%d", pahoClients.Add(1))).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectTimeout(setupTimeout)
	c := paho.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(setupTimeout) {
		b.Fatal("paho: connect timed out")
	}
	if err := tok.Error(); err != nil {
		b.Fatalf("paho: connect: %v", err)
	}
	b.Cleanup(func() { c.Disconnect(pahoQuiesce) })
	checkDelivery(b, broker, "paho", q, pahoPublish(c))
	return c
}

// pahoPublish returns c's publishFunc.
func pahoPublish(c paho.Client) publishFunc {
	return func(ctx context.Context, payload []byte, q client.QoS) error {
		tok := c.Publish(benchTopic, byte(q), false, payload)
		select {
		case <-tok.Done():
			return tok.Error()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// publishFunc publishes payload to the benchmark topic at QoS q and waits
// until its flow is complete or ctx ends.
type publishFunc func(ctx context.Context, payload []byte, q client.QoS) error

// settle waits, untimed, until mosquitto has handled everything the client
// sent, so that the next benchmark starts with an idle broker: a QoS 0
// message is done once it is written, and after a fast QoS 0 run mosquitto
// is still working through the client's messages. It handles one
// connection's packets in order, so the PUBACK of a QoS 1 message sent last
// comes after all of them.
func settle(b *testing.B, lib string, publish publishFunc) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	if err := publish(ctx, benchPayload, client.AtLeastOnce); err != nil {
		b.Fatalf("%s: the broker did not catch up: %v", lib, err)
	}
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

// The benchmark process's mosquitto: started by the first benchmark that
// needs it, stopped by TestMain, so that go test without -bench starts none.
var shared struct {
	once   sync.Once
	broker *mosquittotest.Broker // nil when Start failed or skipped
}

// procTB owns the shared broker: its cleanups run when TestMain ends.
var procTB = &processTB{}

// sharedBroker returns the process's mosquitto, starting it on first use.
// When it could not start, every benchmark fails, or skips when mosquitto
// is not installed (mosquittotest decides which).
func sharedBroker(b *testing.B) *mosquittotest.Broker {
	b.Helper()
	shared.once.Do(func() {
		done := make(chan struct{})
		// Its own goroutine, because Fatal and Skip end it with Goexit.
		go func() {
			defer close(done)
			shared.broker = mosquittotest.Start(procTB, brokerOptions)
		}()
		<-done
	})
	if shared.broker == nil {
		msg, skipped := procTB.outcome()
		if skipped {
			b.Skip(msg)
		}
		b.Fatalf("start mosquitto: %s", msg)
	}
	return shared.broker
}

func TestMain(m *testing.M) {
	code := m.Run()
	if code != 0 {
		procTB.Fail() // so that the broker's log is printed as it stops
	}
	procTB.runCleanups()
	os.Exit(code)
}

// processTB is the testing.TB of the broker shared by the whole process,
// which outlives every benchmark. It implements what mosquittotest.Start
// uses; the other methods of the embedded nil testing.TB panic.
type processTB struct {
	testing.TB

	mu       sync.Mutex
	cleanups []func()
	failed   bool
	skipped  bool
	msg      string // of the Fatal or Skip that ended Start
}

func (*processTB) Helper()        {}
func (*processTB) Name() string   { return "feedmq-bench-client" }
func (p *processTB) Fail()        { p.mu.Lock(); p.failed = true; p.mu.Unlock() }
func (p *processTB) Failed() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.failed }

func (p *processTB) Log(args ...any) { fmt.Fprintln(os.Stderr, args...) }
func (p *processTB) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

func (p *processTB) Error(args ...any)                 { p.Log(args...); p.Fail() }
func (p *processTB) Errorf(format string, args ...any) { p.Logf(format, args...); p.Fail() }

func (p *processTB) Fatal(args ...any) { p.end(false, fmt.Sprint(args...)) }
func (p *processTB) Fatalf(format string, args ...any) {
	p.end(false, fmt.Sprintf(format, args...))
}
func (p *processTB) FailNow() { p.end(false, "FailNow") }

func (p *processTB) Skip(args ...any)                 { p.end(true, fmt.Sprint(args...)) }
func (p *processTB) Skipf(format string, args ...any) { p.end(true, fmt.Sprintf(format, args...)) }
func (p *processTB) SkipNow()                         { p.end(true, "SkipNow") }

// end records why Start gave up and ends its goroutine.
func (p *processTB) end(skip bool, msg string) {
	p.mu.Lock()
	p.msg = msg
	p.skipped = skip
	p.failed = p.failed || !skip
	p.mu.Unlock()
	runtime.Goexit()
}

func (p *processTB) outcome() (msg string, skipped bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.msg, p.skipped
}

func (p *processTB) Cleanup(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cleanups = append(p.cleanups, f)
}

// TempDir returns a new directory, removed by the cleanups.
func (p *processTB) TempDir() string {
	dir, err := os.MkdirTemp("", "feedmq-bench-client-")
	if err != nil {
		p.Fatalf("TempDir: %v", err)
	}
	p.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			p.Errorf("TempDir: %v", err)
		}
	})
	return dir
}

// runCleanups runs the cleanups, last registered first, as testing does.
func (p *processTB) runCleanups() {
	p.mu.Lock()
	fs := p.cleanups
	p.cleanups = nil
	p.mu.Unlock()
	for _, f := range slices.Backward(fs) {
		f()
	}
}
