package client_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/brokertest"
)

// TestFaultStalledPeer connects to a broker that accepts the connection
// and then stops reading, never closing it (a half-open link with a full
// send buffer), and publishes as fast as the client accepts. The dead link
// is found within KeepAlive + PingTimeout (+1 s), because the ping
// deadline is enforced outside the blocked writer (MQTT 3.1.1 §3.1.2.10);
// PublishAsync never blocks (ErrQueueFull when MaxPending is reached); and
// Close returns promptly.
func TestFaultStalledPeer(t *testing.T) {
	for _, qos := range []client.QoS{client.AtMostOnce, client.AtLeastOnce} {
		t.Run(qos.String(), func(t *testing.T) {
			const keepAlive, pingTimeout = 2 * time.Second, 2 * time.Second
			srv := brokertest.New(t)
			cfg := faultConfig(srv)
			cfg.KeepAlive, cfg.PingTimeout = keepAlive, pingTimeout
			cfg.Reconnect.Disabled = true
			lost := faultLost(&cfg)
			c, conn := faultConnect(t, srv, cfg, false)
			_ = conn // the broker's end: never read again

			start := time.Now()
			var durations []time.Duration
			calls, full := 0, 0
			payload := make([]byte, 1024)
			var lostErr error
		publish:
			for time.Since(start) < 3*(keepAlive+pingTimeout) {
				select {
				case lostErr = <-lost:
					break publish
				default:
				}
				t0 := time.Now()
				_, err := c.PublishAsync("stall/x", payload, client.WithQoS(qos))
				durations = append(durations, time.Since(t0))
				calls++
				switch {
				case errors.Is(err, client.ErrQueueFull):
					full++
					time.Sleep(time.Millisecond)
				case errors.Is(err, client.ErrNotConnected), errors.Is(err, client.ErrClosed):
					time.Sleep(time.Millisecond)
				default:
					require.NoError(t, err)
				}
			}
			detected := time.Since(start)
			if lostErr == nil {
				lostErr = faultRecv(t, lost)
				detected = time.Since(start)
			}
			t0 := time.Now()
			require.NoError(t, c.Close())
			closeTook := time.Since(t0)
			slices.Sort(durations)
			p999, longest := durations[len(durations)*999/1000], durations[len(durations)-1]
			t.Logf("QoS %d: loss reported after %v (%v); %d PublishAsync calls, %d ErrQueueFull, 99.9th percentile %v, longest %v; Close %v",
				qos, detected.Round(time.Millisecond), lostErr, calls, full, p999, longest, closeTook.Round(time.Millisecond))
			assert.ErrorIs(t, lostErr, client.ErrPingTimeout)
			assert.Less(t, detected, keepAlive+pingTimeout+time.Second, "detected within KeepAlive + PingTimeout + 1 s")
			// The longest call measures the machine as much as the client
			// (a preempted goroutine on a loaded 2-core runner, the race
			// detector's pauses): on a quiet machine it is about 5 ms. A
			// call that waited for the stalled writer would take seconds,
			// until the ping timeout; the 99th percentile measures the
			// client.
			p99 := durations[len(durations)*99/100]
			assert.Less(t, p99, 10*time.Millisecond, "PublishAsync returns at once")
			assert.Less(t, longest, time.Second, "PublishAsync never waits for the stalled writer")
			assert.Less(t, closeTook, time.Second, "Close returns promptly")
			assert.NotZero(t, full, "MaxPending was reached and reported")
		})
	}
}

// TestFaultDisconnectStalledPeer calls Disconnect with a 1 s context while
// QoS 1 messages wait for a broker that stopped reading: Disconnect waits
// for them only until its context ends (plus the short bound for
// DISCONNECT), and says how many were not delivered.
func TestFaultDisconnectStalledPeer(t *testing.T) {
	srv := brokertest.New(t)
	cfg := faultConfig(srv)
	c, conn := faultConnect(t, srv, cfg, false)
	_ = conn // never read again
	for range 10 {
		_, err := c.PublishAsync("stall/x", make([]byte, 1024), client.WithQoS(client.AtLeastOnce))
		require.NoError(t, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	err := c.Disconnect(ctx)
	took := time.Since(start)
	t.Logf("Disconnect took %v: %v", took.Round(time.Millisecond), err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "10 message(s) not delivered")
	assert.Less(t, took, 2*time.Second)
}
