package client

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	pahogolang "github.com/eclipse/paho.golang/paho"
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/feedmq/feedmq/client"
)

// The messages the benchmarks publish: a 20-byte topic and either the
// 64-byte payload of the codec benchmarks or a 4 KiB one.
const benchTopic = "sensors/room-1/tempC"

var (
	benchPayload = []byte(`{"t":21.5,"unit":"C","room":1,"seq":123456789,"ok":true,"v":3.3}`)
	bigPayload   = bytes.Repeat([]byte("0123456789abcdef"), 4096/16)
)

// Client settings shared by the benchmarks.
const (
	// asyncWindow is how many messages the Async benchmarks keep
	// outstanding at most, for every library.
	asyncWindow = 1000
	// publishers is how many goroutines the Parallel benchmarks publish
	// from.
	publishers = 64
	// floodWindow is how many QoS 1 and 2 messages the sink keeps
	// unacknowledged when it floods a client (see package sink).
	floodWindow = 64
	// setupTimeout bounds connecting, subscribing and the delivery check.
	setupTimeout = 10 * time.Second
	// settleTimeout bounds the wait for the broker to catch up after a
	// benchmark (see settle), and for a flood to arrive.
	settleTimeout = time.Minute
	// pahoQuiesce is how long paho's Disconnect may wait for its
	// DISCONNECT to be written, in milliseconds.
	pahoQuiesce = 250
)

var qosLevels = []client.QoS{client.AtMostOnce, client.AtLeastOnce, client.ExactlyOnce}

// A sub-benchmark is named after its library and protocol: feedmq and paho
// (paho.mqtt.golang) speak MQTT 3.1.1, feedmq-mqtt5 and pahogolang-mqtt5
// (paho.golang) MQTT 5.0. bench/cmd/ratios compares feedmq with paho and
// feedmq-mqtt5 with pahogolang-mqtt5, each pair in a row of its own.
const (
	feedmq5    = "feedmq" + mqtt5Suffix
	pahoGolang = "pahogolang" + mqtt5Suffix
	// mqtt5Suffix ends the names of the MQTT 5.0 sub-benchmarks.
	mqtt5Suffix = "-mqtt5"
)

// mqtt5 returns cfg at MQTT 5.0, with 5.0's defaults for everything else:
// no topic aliases (paho.golang's Client uses none either), the broker's
// Receive Maximum as a bound on the send window.
func mqtt5(cfg client.Config) client.Config {
	cfg.Protocol = client.MQTT5
	return cfg
}

// variant is one QoS level and payload size; its name is the middle part
// of a benchmark's name, as in BenchmarkSinkPublish/qos1-64B/feedmq.
type variant struct {
	qos     client.QoS
	payload []byte
}

func (v variant) String() string {
	size := fmt.Sprintf("%dB", len(v.payload))
	if len(v.payload)%1024 == 0 {
		size = fmt.Sprintf("%dKiB", len(v.payload)/1024)
	}
	return fmt.Sprintf("qos%d-%s", v.qos, size)
}

// variants returns every QoS level with each payload size.
func variants() []variant {
	var vs []variant
	for _, q := range qosLevels {
		for _, p := range [][]byte{benchPayload, bigPayload} {
			vs = append(vs, variant{q, p})
		}
	}
	return vs
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
// system calls and the garbage collector, not the broker) per message.
// Call it right after the timed part.
func (m meter) report(b *testing.B) {
	if cpu, ok := processCPU(); ok && m.ok && b.N > 0 {
		b.ReportMetric(float64(cpu-m.cpu)/float64(b.N), "cpu-ns/op")
	}
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "msgs/s")
	}
}

// publishFunc publishes payload to the benchmark topic at QoS q and waits
// until its flow is complete or ctx ends.
type publishFunc func(ctx context.Context, payload []byte, q client.QoS) error

// settle waits, untimed, until the broker has handled everything the
// client sent, so that the next benchmark starts with an idle broker: a
// QoS 0 message is done once it is written, and after a fast QoS 0 run the
// broker is still working through the client's messages. Brokers handle one
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

// connectFeedmq connects a feedmq client with cfg's limits to the broker at
// url and closes it when b ends. Reconnection is off, so that a lost
// connection fails the benchmark instead of hiding in its numbers.
func connectFeedmq(b *testing.B, url string, cfg client.Config) *client.Client {
	b.Helper()
	cfg.Brokers = []string{url}
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

// feedmqPublish returns c's publishFunc.
func feedmqPublish(c *client.Client) publishFunc {
	return func(ctx context.Context, payload []byte, q client.QoS) error {
		return c.Publish(ctx, benchTopic, payload, client.WithQoS(q))
	}
}

// checkFeedmqDone checks, after the timed loop and settle, that every
// message the client accepted completed on the one connection it had:
// b.N and extra more (a delivery check's message, settle's).
func checkFeedmqDone(b *testing.B, c *client.Client, extra int) {
	b.Helper()
	st := c.Stats()
	if !st.Connected || st.Connects != 1 || st.MessagesOut != uint64(b.N+extra) || st.Inflight != 0 || st.Queued != 0 {
		b.Fatalf("feedmq: after %d messages: %+v", b.N, st)
	}
}

// pahoClients numbers paho's and paho.golang's client identifiers.
var pahoClients atomic.Uint64

// connectPaho connects a paho.mqtt.golang client to the broker at addr
// (host:port) and disconnects it when b ends. Like feedmq's it uses a clean
// session, an in-memory store (paho's default) and no automatic
// reconnection; everything else is paho's default, so a subscription's
// handler runs on paho's router goroutine (OrderMatters) and a QoS 1 or 2
// message is acknowledged after it returns.
func connectPaho(b *testing.B, addr string) paho.Client {
	b.Helper()
	opts := paho.NewClientOptions().
		AddBroker("tcp://" + addr).
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

// connectPahoGolang connects a paho.golang client (MQTT 5.0) to the broker
// at addr, with onPublish as its only handler of received messages (nil:
// paho.golang's default router), and disconnects it when b ends. It uses a
// clean start and paho.golang's defaults: an in-memory session, a message
// acknowledged after the handlers return.
func connectPahoGolang(b *testing.B, addr string, onPublish func(pahogolang.PublishReceived) (bool, error)) *pahogolang.Client {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		b.Fatalf("pahogolang: dial: %v", err)
	}
	cfg := pahogolang.ClientConfig{Conn: nc}
	if onPublish != nil {
		cfg.OnPublishReceived = []func(pahogolang.PublishReceived) (bool, error){onPublish}
	}
	c := pahogolang.NewClient(cfg)
	if _, err := c.Connect(ctx, &pahogolang.Connect{
		ClientID:   fmt.Sprintf("pahogolang-bench-%d", pahoClients.Add(1)),
		CleanStart: true,
		KeepAlive:  60,
	}); err != nil {
		b.Fatalf("pahogolang: connect: %v", err)
	}
	b.Cleanup(func() {
		if err := c.Disconnect(&pahogolang.Disconnect{}); err != nil {
			b.Errorf("pahogolang: disconnect: %v", err)
		}
	})
	return c
}

// pahoGolangPublish returns c's publishFunc.
func pahoGolangPublish(c *pahogolang.Client) publishFunc {
	return func(ctx context.Context, payload []byte, q client.QoS) error {
		_, err := c.Publish(ctx, &pahogolang.Publish{Topic: benchTopic, QoS: byte(q), Payload: payload})
		return err
	}
}
