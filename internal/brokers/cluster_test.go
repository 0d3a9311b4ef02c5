package brokers_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/brokers"
)

// TestRabbitMQClusterFailover publishes 10,000 QoS 1 messages through a
// RabbitMQ cluster to a subscriber on the second node, and kills the first
// node, where the publisher is connected, a third of the way in. The
// publisher, given the first two nodes' URLs, fails over; every message it
// reported delivered must reach the subscriber. A message lost after the
// killed node acknowledged it is reported apart, as the broker's loss.
// Then the killed node starts again, and a client whose subscription
// lived on it resubscribes.
//
// The third node serves no client: it keeps the quorum of the MQTT
// plugin's Raft cluster while the first is down, without which the first
// never comes back (see brokers.StartRabbitMQCluster).
func TestRabbitMQClusterFailover(t *testing.T) {
	t.Parallel()
	nodes := brokers.StartRabbitMQCluster(t, 3)
	a, b := nodes[0], nodes[1]
	const total, killAt = 10000, 3000
	ctx := testCtx(t, 3*time.Minute)

	var (
		mu       sync.Mutex
		received = make(map[int]int, total) // message number → times received
	)
	sub := connect(t, b, client.Config{ClientID: "cluster-sub", PersistentSession: true})
	_, err := sub.Subscribe(ctx, "cluster/data", client.AtLeastOnce, func(m *client.Message) {
		n, err := strconv.Atoi(string(m.Payload))
		if err == nil {
			mu.Lock()
			received[n]++
			mu.Unlock()
		}
	})
	require.NoError(t, err)

	var current atomic.Value // the broker URL the publisher is connected to
	pub := connect(t, a, client.Config{
		Brokers:   []string{a.URL(), b.URL()},
		ClientID:  "cluster-pub",
		OnConnect: func(e client.ConnectedEvent) { current.Store(e.Broker) },
	})
	// OnConnect runs on a goroutine of the client's, maybe after Connect returned.
	require.Eventually(t, func() bool { return current.Load() == a.URL() }, 5*time.Second, time.Millisecond,
		"the publisher starts on the first node")

	// A client with a subscription made on the first node. RabbitMQ 3.10
	// keeps a subscription in a queue on the node where it was made, and
	// while that node is down it refuses the SUBSCRIBE on the other node
	// (it closes the connection: "home node ... of durable queue
	// mqtt-subscription-...qos1 is down or inaccessible"), even for a clean
	// session. So this client can resubscribe only once the node is back.
	control, onControl := sink()
	resub := connect(t, a, client.Config{Brokers: []string{a.URL(), b.URL()}, ClientID: "cluster-resub"})
	_, err = resub.Subscribe(ctx, "cluster/control", client.AtLeastOnce, onControl)
	require.NoError(t, err)

	ackedBy := make(map[int]string, total) // message number → node connected when PUBACK arrived
	var failed int
	start := time.Now()
	for i := range total {
		if i == killAt {
			t.Logf("killing node %s after %d messages (%v)", a.Node(), i, time.Since(start))
			a.Kill()
		}
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := pub.Publish(pctx, "cluster/data", []byte(strconv.Itoa(i)), client.WithQoS(client.AtLeastOnce))
		cancel()
		if err != nil {
			failed++
			t.Logf("message %d not reported delivered: %v", i, err)
			continue
		}
		ackedBy[i] = current.Load().(string)
	}
	t.Logf("published %d messages in %v; %d reported delivered, %d not", total, time.Since(start), len(ackedBy), failed)
	assert.Equal(t, b.URL(), current.Load(), "the publisher failed over to the surviving node")
	assert.GreaterOrEqual(t, pub.Stats().Connects, uint64(2), "connections of the publisher")

	// Every message reported delivered arrives.
	lost := func() (byDead, bySurvivor []int) {
		mu.Lock()
		defer mu.Unlock()
		for i, url := range ackedBy {
			if received[i] == 0 {
				if url == a.URL() {
					byDead = append(byDead, i)
				} else {
					bySurvivor = append(bySurvivor, i)
				}
			}
		}
		return byDead, bySurvivor
	}
	require.Eventually(t, func() bool {
		d, s := lost()
		return len(d)+len(s) == 0
	}, 30*time.Second, 50*time.Millisecond, "messages reported delivered are missing")
	byDead, bySurvivor := lost()
	if len(byDead) > 0 {
		t.Errorf("the broker's loss: %d messages acknowledged by the killed node %s never arrived: %v", len(byDead), a.Node(), byDead)
	}
	assert.Empty(t, bySurvivor, "messages acknowledged by the surviving node that never arrived")

	// The killed node comes back and rejoins; the client with a
	// subscription resubscribes, and the publisher keeps working.
	t.Logf("the client with a subscription connected %d times while %s was down", resub.Stats().Connects, a.Node())
	restart := time.Now()
	require.NoError(t, a.TryStart(), "the killed node comes back while the other two hold the quorum")
	t.Logf("node %s serves MQTT again after %v", a.Node(), time.Since(restart))
	connects := resub.Stats().Connects
	require.Eventually(t, func() bool {
		_ = sub.Publish(ctx, "cluster/control", []byte("ping"), client.WithQoS(client.AtLeastOnce))
		select {
		case <-control:
			return true
		case <-time.After(100 * time.Millisecond):
			return false
		}
	}, 60*time.Second, time.Millisecond, "the client did not resubscribe after the node came back")
	t.Logf("the client with a subscription resubscribed after %v, %d connections after the restart",
		time.Since(restart), resub.Stats().Connects-connects)
	require.NoError(t, pub.Publish(ctx, "cluster/data", []byte("after restart"), client.WithQoS(client.AtLeastOnce)))
	mu.Lock()
	dups := 0
	for _, n := range received {
		if n > 1 {
			dups++
		}
	}
	mu.Unlock()
	t.Logf("%d messages arrived more than once (QoS 1 allows it)", dups)
}
