package client_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/mosquittotest"
)

// floodSize is the number of messages of a flood test: small enough for
// every CI run under -race, and FEEDMQ_FLOOD_N (for example 1000000) for
// the full measurement.
func floodSize(t *testing.T, def int) int {
	if s := os.Getenv("FEEDMQ_FLOOD_N"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err)
		return n
	}
	return def
}

// orderedCounter checks that sequence numbers arrive complete and in
// order.
type orderedCounter struct {
	mu       sync.Mutex
	next     uint64
	outOfSeq int
	done     chan struct{}
	n        uint64
}

func newOrderedCounter(n int) *orderedCounter {
	return &orderedCounter{n: uint64(n), done: make(chan struct{})}
}

func (o *orderedCounter) handle(m *client.Message) {
	seq := binary.BigEndian.Uint64(m.Payload)
	o.mu.Lock()
	defer o.mu.Unlock()
	if seq != o.next {
		o.outOfSeq++
	}
	o.next = seq + 1
	if o.next == o.n {
		close(o.done)
	}
}

func (o *orderedCounter) result() (next uint64, outOfSeq int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.next, o.outOfSeq
}

// floodPublish publishes n sequence numbers as fast as PublishAsync takes
// them, waiting for the oldest outstanding delivery only when the client
// says ErrQueueFull.
func floodPublish(t *testing.T, ctx context.Context, pub *client.Client, topic string, n int, qos client.QoS) {
	t.Helper()
	var window []*client.Delivery
	payload := make([]byte, 8)
	for i := 0; i < n; {
		binary.BigEndian.PutUint64(payload, uint64(i))
		d, err := pub.PublishAsync(topic, payload, client.WithQoS(qos))
		if errors.Is(err, client.ErrQueueFull) {
			require.NotEmpty(t, window, "queue full with nothing outstanding")
			require.NoError(t, window[0].Wait(ctx))
			window = window[1:]
			continue
		}
		require.NoError(t, err)
		window = append(window, d)
		if len(window) > 4096 {
			require.NoError(t, window[0].Wait(ctx))
			window = window[1:]
		}
		i++
	}
	for _, d := range window {
		require.NoError(t, d.Wait(ctx))
	}
}

// TestIntegrationLosslessFlood floods a subscriber with default settings
// and a trivial handler through a mosquitto that drops nothing itself:
// every message arrives, in order, and the connection is never lost. The
// client stops reading when handlers fall behind instead of dropping.
func TestIntegrationLosslessFlood(t *testing.T) {
	for _, tc := range []struct {
		name string
		qos  client.QoS
		n    int
	}{
		{"qos0", client.AtMostOnce, floodSize(t, 100_000)},
		{"qos1", client.AtLeastOnce, floodSize(t, 100_000) / 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := mosquittotest.Start(t, mosquittotest.Options{Unbounded: true, QuietLog: true})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			got := newOrderedCounter(tc.n)
			sub := newClient(t, client.Config{Brokers: []string{b.URL()}, ClientID: "flood-sub"})
			_, err := sub.Subscribe(ctx, "flood/"+tc.name, tc.qos, got.handle)
			require.NoError(t, err)
			pub := newClient(t, client.Config{Brokers: []string{b.URL()}, ClientID: "flood-pub"})

			start := time.Now()
			floodPublish(t, ctx, pub, "flood/"+tc.name, tc.n, tc.qos)
			select {
			case <-got.done:
			case <-time.After(time.Minute):
			}
			elapsed := time.Since(start)
			next, outOfSeq := got.result()
			st := sub.Stats()
			t.Logf("%d messages at QoS %d in %v (%.0f msgs/s); reading paused %d times; dropped %d",
				tc.n, tc.qos, elapsed.Round(time.Millisecond), float64(tc.n)/elapsed.Seconds(), st.ReadPauses, st.Dropped)
			assert.EqualValues(t, tc.n, next, "every message arrived")
			assert.Zero(t, outOfSeq, "in order")
			assert.Zero(t, st.Dropped)
			assert.EqualValues(t, 1, st.Connects, "no reconnect")
		})
	}
}

// TestIntegrationBackpressureSlowHandler gives a subscriber a handler that
// takes 1 ms and a budget of 100 messages: nothing is lost, the budget is
// never exceeded (it is what bounds memory), the reader pauses, and the
// connection stays up.
func TestIntegrationBackpressureSlowHandler(t *testing.T) {
	t.Parallel()
	const n, budget = 2000, 100
	b := mosquittotest.Start(t, mosquittotest.Options{Unbounded: true, QuietLog: true})
	ctx := testCtx(t)
	got := newOrderedCounter(n)
	sub := newClient(t, client.Config{Brokers: []string{b.URL()}, ClientID: "slow-sub", HandlerQueue: budget, KeepAlive: time.Second, PingTimeout: time.Second})
	var maxBuffered atomic.Int64
	_, err := sub.Subscribe(ctx, "slow/q0", client.AtMostOnce, func(m *client.Message) {
		time.Sleep(time.Millisecond)
		maxBuffered.Store(max(maxBuffered.Load(), int64(sub.Stats().Buffered)))
		got.handle(m)
	})
	require.NoError(t, err)
	pub := newClient(t, client.Config{Brokers: []string{b.URL()}, ClientID: "slow-pub"})
	floodPublish(t, ctx, pub, "slow/q0", n, client.AtMostOnce)
	select {
	case <-got.done:
	case <-ctx.Done():
	}
	next, outOfSeq := got.result()
	st := sub.Stats()
	t.Logf("budget %d: at most %d buffered, reading paused %d times", budget, maxBuffered.Load(), st.ReadPauses)
	assert.EqualValues(t, n, next, "every message arrived")
	assert.Zero(t, outOfSeq)
	assert.LessOrEqual(t, maxBuffered.Load(), int64(budget), "memory bounded by the budget")
	assert.NotZero(t, st.ReadPauses, "the reader paused instead of dropping")
	assert.Zero(t, st.Dropped)
	assert.EqualValues(t, 1, st.Connects, "no disconnect")
}

// TestIntegrationCloseSkipsQueued queues 20 QoS 1 messages behind a handler
// that takes 1 s: Close returns within the running handler's remainder
// (plus scheduling), no handler starts after it, and the messages not
// handled are not acknowledged.
func TestIntegrationCloseSkipsQueued(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	var started, afterClose atomic.Int32
	var closed atomic.Bool
	first := make(chan struct{}, 1)
	c, err := client.New(client.Config{Brokers: []string{b.URL()}, ClientID: "close-sub"})
	require.NoError(t, err)
	require.NoError(t, c.Connect(ctx))
	_, err = c.Subscribe(ctx, "close/q1", client.AtLeastOnce, func(*client.Message) {
		started.Add(1)
		if closed.Load() {
			afterClose.Add(1)
		}
		select {
		case first <- struct{}{}:
		default:
		}
		time.Sleep(time.Second)
	})
	require.NoError(t, err)
	pub := newClient(t, client.Config{Brokers: []string{b.URL()}})
	for range 20 {
		require.NoError(t, pub.Publish(ctx, "close/q1", []byte("x"), client.WithQoS(client.AtLeastOnce)))
	}
	itRecv(t, ctx, first, "the first message")
	require.Eventually(t, func() bool { return c.Stats().Buffered == 20 }, 5*time.Second, itTick)
	start := time.Now()
	require.NoError(t, c.Close())
	took := time.Since(start)
	closed.Store(true)
	time.Sleep(1500 * time.Millisecond) // a handler started late would show now
	t.Logf("Close took %v with 19 messages queued behind a 1 s handler", took)
	assert.Less(t, took, 1100*time.Millisecond)
	assert.EqualValues(t, 1, started.Load(), "no handler started after the first")
	assert.Zero(t, afterClose.Load(), "no handler started after Close returned")
	// Only the handled message was acknowledged (MQTT-4.3.2-2).
	assert.Equal(t, 0, strings.Count(b.Log(), "Received PUBACK from close-sub"))
}

// TestIntegrationDropNewPolicy opts into dropping: with handlers stuck and
// the budget spent, new messages are dropped, each counted in Stats and
// reported to OnError with ErrSlowConsumer; none is lost unreported.
func TestIntegrationDropNewPolicy(t *testing.T) {
	t.Parallel()
	const n, budget = 50, 10
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	release := make(chan struct{})
	var handled, reported atomic.Int32
	sub := newClient(t, client.Config{
		Brokers: []string{b.URL()}, ClientID: "drop-sub", HandlerQueue: budget, SlowConsumer: client.DropNew,
		OnError: func(err error) {
			if errors.Is(err, client.ErrSlowConsumer) {
				reported.Add(1)
			}
		},
	})
	t.Cleanup(func() { close(release) })
	_, err := sub.Subscribe(ctx, "drop/q0", client.AtMostOnce, func(*client.Message) {
		<-release
		handled.Add(1)
	})
	require.NoError(t, err)
	pub := newClient(t, client.Config{Brokers: []string{b.URL()}})
	for i := range n {
		require.NoError(t, pub.Publish(ctx, "drop/q0", []byte(strconv.Itoa(i))))
	}
	assert.Eventually(t, func() bool {
		st := sub.Stats()
		return int(st.Dropped)+st.Buffered == n && reported.Load() == int32(st.Dropped)
	}, 5*time.Second, itTick, "every message is buffered or dropped and reported")
	t.Logf("%+v, %d reported", sub.Stats(), reported.Load())
	st := sub.Stats()
	assert.Equal(t, budget, st.Buffered)
	assert.EqualValues(t, n-budget, st.Dropped)
	assert.Zero(t, st.ReadPauses)
}

// TestIntegrationPausedReadKeepsConnection stops a handler for 3 s with a
// budget of one message and a keepalive of 1 s: the reader stays paused
// far longer than KeepAlive + PingTimeout while the broker keeps sending.
// PINGREQs still go out, a PINGRESP that waits unread is not taken as
// missing, and the connection survives; every message then arrives.
func TestIntegrationPausedReadKeepsConnection(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	const n = 20
	release := make(chan struct{})
	got := newOrderedCounter(n)
	sub := newClient(t, client.Config{
		Brokers: []string{b.URL()}, ClientID: "paused-sub", HandlerQueue: 1,
		KeepAlive: time.Second, PingTimeout: time.Second,
	})
	first := true
	_, err := sub.Subscribe(ctx, "paused/q1", client.AtLeastOnce, func(m *client.Message) {
		if first {
			first = false
			<-release
		}
		got.handle(m)
	})
	require.NoError(t, err)
	pub := newClient(t, client.Config{Brokers: []string{b.URL()}})
	payload := make([]byte, 8)
	for i := range n {
		binary.BigEndian.PutUint64(payload, uint64(i))
		require.NoError(t, pub.Publish(ctx, "paused/q1", payload, client.WithQoS(client.AtLeastOnce)))
	}
	pings := strings.Count(b.Log(), "Received PINGREQ from paused-sub")
	time.Sleep(3 * time.Second) // the handler is stuck; reading is paused
	close(release)
	select {
	case <-got.done:
	case <-ctx.Done():
	}
	next, outOfSeq := got.result()
	st := sub.Stats()
	assert.EqualValues(t, n, next)
	assert.Zero(t, outOfSeq)
	assert.EqualValues(t, 1, st.Connects, "the connection survived the pause")
	assert.NotZero(t, st.ReadPauses)
	assert.GreaterOrEqual(t, strings.Count(b.Log(), "Received PINGREQ from paused-sub")-pings, 2, "pings went on while reading was paused")
}
