package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/mosquittotest"
	"github.com/feedmq/feedmq/packets"
)

// cuttingDialer dials TCP and remembers the connection, so the test can cut
// it abruptly, as a flaky link would.
type cuttingDialer struct {
	mu   sync.Mutex
	conn net.Conn
	cuts int
}

func (d *cuttingDialer) dial(ctx context.Context, u *url.URL) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, "tcp", u.Host)
	if err == nil {
		d.mu.Lock()
		d.conn = c
		d.mu.Unlock()
	}
	return c, err
}

func (d *cuttingDialer) cut() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil {
		d.conn.Close()
		d.conn = nil
		d.cuts++
	}
}

// cutPublisher connects a publisher with a persistent session at proto
// whose link is cut every interval, reconnecting within 20 ms; stop ends
// the cuts and says how many there were.
func cutPublisher(t *testing.T, b *mosquittotest.Broker, proto packets.ProtocolLevel, id string, every time.Duration) (pub *client.Client, stop func() int) {
	t.Helper()
	d := &cuttingDialer{}
	pub = newClient(t, client.Config{Protocol: proto,
		Brokers: []string{b.URL()}, ClientID: id, PersistentSession: true, Dial: d.dial,
		Reconnect: client.Backoff{InitialDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond},
	})
	return pub, d.cutEvery(every)
}

// publishPaced calls publish for 0..n-1, one every interval, so that the
// messages spread over cuts and many land in the middle of flows, then
// waits until every flow completed.
func publishPaced(t *testing.T, ctx context.Context, n int, every time.Duration, publish func(i int) (*client.Delivery, error)) {
	t.Helper()
	deliveries := make([]*client.Delivery, 0, n)
	pace := time.NewTicker(every)
	defer pace.Stop()
	for i := range n {
		<-pace.C
		d, err := publish(i)
		require.NoError(t, err, "message %d", i)
		deliveries = append(deliveries, d)
	}
	for i, d := range deliveries {
		require.NoError(t, d.Wait(ctx), "message %d", i)
	}
}

// cutEvery cuts the link every interval until the returned stop is
// called; stop returns how many cuts there were.
func (d *cuttingDialer) cutEvery(interval time.Duration) (stop func() int) {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				d.cut()
			case <-quit:
				return
			}
		}
	}()
	return func() int {
		close(quit)
		<-done
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.cuts
	}
}

// TestIntegrationQoS2UnderRepeatedCuts publishes 1,000 QoS 2 messages while
// the publisher's link is cut every 300 ms, the case the issue measured
// paho.mqtt.golang losing about half of. Every message must reach the
// subscriber exactly once, and every Publish must report success only for
// a completed flow (MQTT-4.3.3-1, MQTT-4.4.0-1, MQTT-4.3.3-2).
func TestIntegrationQoS2UnderRepeatedCuts(t *testing.T) {
	itEachProtocol(t, testIntegrationQoS2UnderRepeatedCuts)
}

func testIntegrationQoS2UnderRepeatedCuts(t *testing.T, proto packets.ProtocolLevel) {
	if testing.Short() {
		t.Skip("takes a few seconds")
	}
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const n = 1000
	var mu sync.Mutex
	seen := map[string]int{}
	all := make(chan struct{})
	sub := newClient(t, client.Config{Protocol: proto, Brokers: []string{b.URL()}, ClientID: "cuts-sub", PersistentSession: true})
	_, err := sub.Subscribe(ctx, "cuts/q2", client.ExactlyOnce, func(m *client.Message) {
		mu.Lock()
		defer mu.Unlock()
		seen[string(m.Payload)]++
		if len(seen) == n {
			close(all)
		}
	})
	require.NoError(t, err)

	pub, stopCuts := cutPublisher(t, b, proto, "cuts-pub", 300*time.Millisecond)

	// Spread the messages over a few seconds, so that many cuts land in
	// the middle of flows.
	publishPaced(t, ctx, n, 3*time.Millisecond, func(i int) (*client.Delivery, error) {
		return pub.PublishAsync("cuts/q2", []byte(fmt.Sprint(i)), client.WithQoS(client.ExactlyOnce))
	})
	cuts := stopCuts()

	select {
	case <-all:
	case <-ctx.Done():
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d QoS 2 messages, %d link cuts, %d distinct received", n, cuts, len(seen))
	// mosquitto 2.0 acknowledges, and drops, a QoS 2 message beyond its
	// max_inflight_messages (20): at 3.1.1 the PUBREC cannot say so, and
	// its log is the only trace (rc151, Quota exceeded). The default send
	// window keeps within it.
	assert.NotContains(t, b.Log(), ", rc151)", "mosquitto refused a message over its incoming window")
	assert.GreaterOrEqual(t, cuts, 5, "the link was cut during the run")
	assert.Len(t, seen, n, "every message arrived")
	for payload, count := range seen {
		assert.Equal(t, 1, count, "message %s arrived %d times", payload, count)
	}
}

// TestIntegrationPooledPayloadsUnderCuts publishes with PublishAsync
// messages of sizes across every class of the client's payload pool (and
// outside it), QoS 1 and 2, while the link is cut every 200 ms, so that
// many go out again from the copies the client keeps. A copy goes back to
// the pool when its flow ends: had one been reused while its message was
// still open, a resend would carry another message's bytes. Every message
// must arrive whole, with its own size and contents.
func TestIntegrationPooledPayloadsUnderCuts(t *testing.T) {
	if testing.Short() {
		t.Skip("takes a few seconds")
	}
	b := mosquittotest.Start(t, mosquittotest.Options{QuietLog: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	sizes := []int{100, 200, 300, 900, 1500, 4000, 4096, 5000, 9000, 20000, 40000, 65536, 70000}
	const n = 1200
	payload := func(i int) []byte {
		p := make([]byte, sizes[i%len(sizes)])
		for j := range p {
			p[j] = byte(i + j/256)
		}
		copy(p, fmt.Sprintf("%05d", i))
		return p
	}
	var mu sync.Mutex
	seen := map[int]bool{}
	var corrupt []string
	all := make(chan struct{})
	sub := newClient(t, client.Config{Brokers: []string{b.URL()}, ClientID: "pool-sub", PersistentSession: true})
	_, err := sub.Subscribe(ctx, "pool/#", client.ExactlyOnce, func(m *client.Message) {
		i := -1
		if len(m.Payload) >= 5 {
			fmt.Sscanf(string(m.Payload[:5]), "%05d", &i)
		}
		mu.Lock()
		defer mu.Unlock()
		if i < 0 || i >= n || !bytes.Equal(m.Payload, payload(i)) {
			corrupt = append(corrupt, fmt.Sprintf("%q (%d bytes)", m.Payload[:min(5, len(m.Payload))], len(m.Payload)))
			return
		}
		seen[i] = true
		if len(seen) == n {
			close(all)
		}
	})
	require.NoError(t, err)

	pub, stopCuts := cutPublisher(t, b, client.MQTT311, "pool-pub", 200*time.Millisecond)

	publishPaced(t, ctx, n, 2*time.Millisecond, func(i int) (*client.Delivery, error) {
		p := payload(i)
		qos := client.AtLeastOnce + client.QoS(i%2)
		d, err := pub.PublishAsync("pool/"+qos.String(), p, client.WithQoS(qos))
		clear(p) // the client has its own copy
		return d, err
	})
	cuts := stopCuts()

	select {
	case <-all:
	case <-ctx.Done():
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d messages of %d sizes, %d link cuts, %d distinct received whole", n, len(sizes), cuts, len(seen))
	assert.GreaterOrEqual(t, cuts, 5, "the link was cut during the run")
	assert.Empty(t, corrupt, "messages with another's bytes")
	assert.Equal(t, n, len(seen), "every message arrived")
}

// TestIntegrationBlockingPublishUnderCuts publishes with blocking Publish
// from four goroutines, QoS 0, 1 and 2 and payloads from 10 B to 100 KB,
// while the link is cut every 100 ms. A blocking Publish writes its packet
// on its own goroutine while no writer runs, and hands a write the socket
// did not finish to the writer: cuts land in both. Every QoS 1 and 2
// Publish must succeed and its message arrive whole (QoS 2 exactly once);
// a QoS 0 Publish that succeeded was written whole, and a message that
// arrives is never another's or cut short.
func TestIntegrationBlockingPublishUnderCuts(t *testing.T) {
	itEachProtocol(t, testIntegrationBlockingPublishUnderCuts)
}

func testIntegrationBlockingPublishUnderCuts(t *testing.T, proto packets.ProtocolLevel) {
	if testing.Short() {
		t.Skip("takes a few seconds")
	}
	b := mosquittotest.Start(t, mosquittotest.Options{QuietLog: true})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	const goroutines, each = 4, 150
	sizes := []int{10, 300, 5000, 100_000}
	payload := func(g, i int) []byte {
		p := make([]byte, sizes[(g+i)%len(sizes)])
		for j := range p {
			p[j] = byte(g*each + i + j/128)
		}
		copy(p, fmt.Sprintf("%d/%04d", g, i))
		return p
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var corrupt []string
	sub := newClient(t, client.Config{Protocol: proto, Brokers: []string{b.URL()}, ClientID: "blocking-sub",
		PersistentSession: true, MaxPacketSize: 1 << 20})
	_, err := sub.Subscribe(ctx, "blocking/#", client.ExactlyOnce, func(m *client.Message) {
		var g, i int
		_, err := fmt.Sscanf(string(m.Payload[:min(6, len(m.Payload))]), "%d/%04d", &g, &i)
		mu.Lock()
		defer mu.Unlock()
		if err != nil || g < 0 || g >= goroutines || i < 0 || i >= each || !bytes.Equal(m.Payload, payload(g, i)) {
			corrupt = append(corrupt, fmt.Sprintf("%q (%d bytes)", m.Payload[:min(6, len(m.Payload))], len(m.Payload)))
			return
		}
		seen[fmt.Sprintf("%d/%d", g, i)]++
	})
	require.NoError(t, err)

	pub, stopCuts := cutPublisher(t, b, proto, "blocking-pub", 100*time.Millisecond)

	qosOf := func(g int) client.QoS { return client.QoS(g % 3) }
	var wg sync.WaitGroup
	var qos0Sent [goroutines]map[int]bool
	for g := range goroutines {
		qos0Sent[g] = map[int]bool{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				p := payload(g, i)
				err := pub.Publish(ctx, fmt.Sprintf("blocking/%d", g), p, client.WithQoS(qosOf(g)))
				clear(p) // the buffer is the caller's again once Publish returned
				switch {
				case qosOf(g) == client.AtMostOnce:
					if err == nil {
						qos0Sent[g][i] = true
					} else if !errors.Is(err, client.ErrNotConnected) && !errors.Is(err, client.ErrConnectionLost) {
						t.Errorf("QoS 0 message %d/%d: %v", g, i, err)
					}
				case err != nil:
					t.Errorf("QoS %d message %d/%d: %v", qosOf(g), g, i, err)
					return
				}
				time.Sleep(3 * time.Millisecond) // at least 450 ms of publishing: several cuts
			}
		}()
	}
	wg.Wait()
	cuts := stopCuts()

	wantAll := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for g := range goroutines {
			if qosOf(g) == client.AtMostOnce {
				continue
			}
			for i := range each {
				if seen[fmt.Sprintf("%d/%d", g, i)] == 0 {
					return false
				}
			}
		}
		return true
	}
	require.Eventually(t, wantAll, 30*time.Second, 10*time.Millisecond, "every QoS 1 and 2 message arrived")
	time.Sleep(200 * time.Millisecond) // duplicates, if any, arrive too
	mu.Lock()
	defer mu.Unlock()
	qos0 := 0
	for g := range goroutines {
		if qosOf(g) == client.AtMostOnce {
			for i := range each {
				if seen[fmt.Sprintf("%d/%d", g, i)] > 0 {
					qos0++
				}
			}
		}
		if qosOf(g) == client.ExactlyOnce {
			for i := range each {
				assert.Equal(t, 1, seen[fmt.Sprintf("%d/%d", g, i)], "QoS 2 message %d/%d", g, i)
			}
		}
	}
	t.Logf("%d blocking publishes, %d link cuts; QoS 0: %d written, %d arrived", goroutines*each, cuts, len(qos0Sent[0])+len(qos0Sent[3]), qos0)
	assert.GreaterOrEqual(t, cuts, 3, "the link was cut during the run")
	assert.Empty(t, corrupt, "messages cut short or with another's bytes")
}
