package client_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/mosquittotest"
)

// soakDuration is how long TestIntegrationSoak publishes: a few seconds in
// every CI run, and FEEDMQ_SOAK (for example 3m) for the long run.
func soakDuration(t *testing.T) time.Duration {
	if s := os.Getenv("FEEDMQ_SOAK"); s != "" {
		d, err := time.ParseDuration(s)
		require.NoError(t, err)
		return d
	}
	return 5 * time.Second
}

// TestIntegrationSoak runs mixed traffic for a while the way it is abused:
// four publishers at QoS 0, 1 and 2 as fast as PublishAsync takes them,
// both clients' links cut every 700 ms and 1.1 s, persistent sessions, and
// a subscriber with a small delivery budget so that reading pauses. Every
// QoS 1 message the publisher saw acknowledged arrives at least once, and
// every QoS 2 message exactly once. (QoS 0 messages published while the
// subscriber is cut off are gone: at most once.)
func TestIntegrationSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for seconds")
	}
	d := soakDuration(t)
	b := mosquittotest.Start(t, mosquittotest.Options{Unbounded: true, QuietLog: true})
	ctx, cancel := context.WithTimeout(context.Background(), d+3*time.Minute)
	defer cancel()

	var mu sync.Mutex
	got := map[client.QoS]map[uint64]int{client.AtMostOnce: {}, client.AtLeastOnce: {}, client.ExactlyOnce: {}}
	subCuts := &cuttingDialer{}
	sub := newClient(t, client.Config{
		Brokers: []string{b.URL()}, ClientID: "soak-sub", PersistentSession: true, Dial: subCuts.dial,
		HandlerQueue: 256, Reconnect: client.Backoff{InitialDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond},
	})
	_, err := sub.Subscribe(ctx, "soak/#", client.ExactlyOnce, func(m *client.Message) {
		mu.Lock()
		got[client.QoS(m.Payload[0])][binary.BigEndian.Uint64(m.Payload[1:])]++
		mu.Unlock()
	})
	require.NoError(t, err)

	pubCuts := &cuttingDialer{}
	pub := newClient(t, client.Config{
		Brokers: []string{b.URL()}, ClientID: "soak-pub", PersistentSession: true, Dial: pubCuts.dial,
		Reconnect: client.Backoff{InitialDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond},
	})
	stopCuts := make(chan struct{})
	var cutters sync.WaitGroup
	for _, c := range []struct {
		d     *cuttingDialer
		every time.Duration
	}{{pubCuts, 700 * time.Millisecond}, {subCuts, 1100 * time.Millisecond}} {
		cutters.Add(1)
		go func() {
			defer cutters.Done()
			tick := time.NewTicker(c.every)
			defer tick.Stop()
			for {
				select {
				case <-tick.C:
					c.d.cut()
				case <-stopCuts:
					return
				}
			}
		}()
	}

	var acked [3][]uint64 // sequence numbers the publisher saw complete, per QoS
	var ackedMu sync.Mutex
	var pubs sync.WaitGroup
	end := time.Now().Add(d)
	for w := range 4 {
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			qos := []client.QoS{client.AtMostOnce, client.AtLeastOnce, client.ExactlyOnce, client.ExactlyOnce}[w]
			type sent struct {
				seq uint64
				d   *client.Delivery
			}
			var window []sent
			settle := func(s sent) {
				if err := s.d.Wait(ctx); err == nil {
					ackedMu.Lock()
					acked[qos] = append(acked[qos], s.seq)
					ackedMu.Unlock()
				}
			}
			payload := make([]byte, 9)
			for seq := uint64(w) << 40; time.Now().Before(end); seq++ {
				if qos == client.AtMostOnce && seq%64 == 0 {
					time.Sleep(time.Millisecond) // QoS 0 would crowd out the rest
				}
				payload[0] = byte(qos)
				binary.BigEndian.PutUint64(payload[1:], seq)
				dl, err := pub.PublishAsync("soak/x", payload, client.WithQoS(qos))
				switch {
				case errors.Is(err, client.ErrQueueFull) || errors.Is(err, client.ErrNotConnected):
					if len(window) > 0 {
						settle(window[0])
						window = window[1:]
					} else {
						time.Sleep(time.Millisecond)
					}
					continue
				case err != nil:
					t.Errorf("publish: %v", err)
					return
				}
				window = append(window, sent{seq, dl})
				if len(window) > 256 {
					settle(window[0])
					window = window[1:]
				}
			}
			for _, s := range window {
				settle(s)
			}
		}()
	}
	pubs.Wait()
	close(stopCuts)
	cutters.Wait()

	// Wait until every acknowledged QoS 1 and 2 message has arrived.
	missing := func() (q1, q2 int) {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range acked[client.AtLeastOnce] {
			if got[client.AtLeastOnce][s] == 0 {
				q1++
			}
		}
		for _, s := range acked[client.ExactlyOnce] {
			if got[client.ExactlyOnce][s] == 0 {
				q2++
			}
		}
		return q1, q2
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if q1, q2 := missing(); q1 == 0 && q2 == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond) // polling counts no channel reports
	}
	q1, q2 := missing()
	mu.Lock()
	defer mu.Unlock()
	dup2 := 0
	for _, n := range got[client.ExactlyOnce] {
		if n > 1 {
			dup2++
		}
	}
	pubCuts.mu.Lock()
	subCuts.mu.Lock()
	t.Logf("%v: acknowledged %d / %d / %d at QoS 0 / 1 / 2; received %d / %d / %d; link cuts %d (publisher) and %d (subscriber); reading paused %d times",
		d, len(acked[0]), len(acked[1]), len(acked[2]), len(got[0]), len(got[1]), len(got[2]),
		pubCuts.cuts, subCuts.cuts, sub.Stats().ReadPauses)
	subCuts.mu.Unlock()
	pubCuts.mu.Unlock()
	assert.Zero(t, q1, "acknowledged QoS 1 messages that never arrived")
	assert.Zero(t, q2, "acknowledged QoS 2 messages that never arrived")
	assert.Zero(t, dup2, "QoS 2 messages that arrived more than once")
	assert.NotEmpty(t, acked[client.ExactlyOnce])
}
