package client_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/brokertest"
	"github.com/feedmq/feedmq/packets"
)

// These tests run in testing/synctest over net.Pipe, so their timing is
// exact and costs no wall-clock time.

// TestFaultKeepAlivePing leaves the client idle with KeepAlive 1s: it sends
// PINGREQ once the link has been quiet for 1s (MQTT-3.1.2-23,
// MQTT5-3.1.2-20). The first
// PINGRESP keeps the connection; the second PINGREQ goes unanswered, and
// after PingTimeout the client closes the connection, reports
// ErrPingTimeout to OnConnectionLost and reconnects (MQTT 3.1.1 §3.1.2.10).
func TestFaultKeepAlivePing(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		synctest.Test(t, func(t *testing.T) {
			srv := brokertest.NewPipe(t)
			cfg := faultLevel(srv, level)
			cfg.KeepAlive = time.Second
			cfg.PingTimeout = 500 * time.Millisecond
			lost := faultLost(&cfg)
			_, conn := faultConnect(t, srv, cfg, false)
			start := time.Now()

			conn.Expect(t, packets.TypePingreq)
			assert.Equal(t, time.Second, time.Since(start), "PINGREQ after KeepAlive of silence (MQTT-3.1.2-23)")
			conn.Send(t, &packets.Pingresp{})

			conn.Expect(t, packets.TypePingreq)
			assert.Equal(t, 2*time.Second, time.Since(start), "the next PINGREQ one KeepAlive later")
			conn.ExpectClosed(t)
			assert.Equal(t, 2*time.Second+cfg.PingTimeout, time.Since(start), "closed after PingTimeout")
			assert.ErrorIs(t, faultRecv(t, lost), client.ErrPingTimeout)

			conn2, _ := srv.AcceptConnected(t, false)
			conn2.Expect(t, packets.TypePingreq)
			conn2.Send(t, &packets.Pingresp{})
			faultNoRecv(t, lost, "connection lost")
		})
	})
}

// TestFaultKeepAliveHalfOpen publishes QoS 0 messages every 100ms to a
// broker that reads them but never sends anything, like a half-open link
// whose far end no longer answers. Although the client is never idle on the
// sending side, it pings once nothing was received for KeepAlive and closes
// the connection within KeepAlive plus PingTimeout (MQTT-3.1.2-23,
// MQTT5-3.1.2-20, MQTT 3.1.1 §3.1.2.10).
func TestFaultKeepAliveHalfOpen(t *testing.T) {
	faultEachProtocol(t, func(t *testing.T, level packets.ProtocolLevel) {
		synctest.Test(t, func(t *testing.T) {
			srv := brokertest.NewPipe(t)
			cfg := faultLevel(srv, level)
			cfg.KeepAlive = time.Second
			cfg.PingTimeout = 500 * time.Millisecond
			lost := faultLost(&cfg)
			c, conn := faultConnect(t, srv, cfg, false)
			start := time.Now()

			ctx, stop := context.WithCancel(context.Background())
			published := faultGo(func() error {
				tick := time.NewTicker(100 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-ctx.Done():
						return nil
					case <-tick.C:
					}
					if err := c.Publish(ctx, "fault/stream", []byte("x")); err != nil {
						return err
					}
				}
			})
			var pingAt time.Duration
			publishes := 0
			for {
				p, open := conn.Receive(t)
				if !open {
					break
				}
				switch p.Type() {
				case packets.TypePublish:
					publishes++
				case packets.TypePingreq:
					if pingAt == 0 {
						pingAt = time.Since(start)
					}
				default:
					t.Fatalf("unexpected %v", p)
				}
			}
			closedAt := time.Since(start)
			stop()
			if err := faultRecv(t, published); err != nil {
				assert.True(t, errors.Is(err, client.ErrNotConnected) || errors.Is(err, client.ErrConnectionLost) ||
					errors.Is(err, context.Canceled), "publish: %v", err)
			}
			assert.Greater(t, publishes, 5)
			require.NotZero(t, pingAt, "no PINGREQ")
			assert.LessOrEqual(t, pingAt, cfg.KeepAlive, "PINGREQ while only sending (MQTT-3.1.2-23)")
			assert.LessOrEqual(t, closedAt, cfg.KeepAlive+cfg.PingTimeout, "half-open link detected in time")
			assert.ErrorIs(t, faultRecv(t, lost), client.ErrPingTimeout)
		})
	})
}
