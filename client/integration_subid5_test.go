package client_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/embedbroker"
	"github.com/feedmq/feedmq/internal/mosquittotest"
)

// TestIntegrationSubscriptionIdentifiers: at MQTT 5.0 every subscription
// gets a Subscription Identifier, and messages are routed by it
// (MQTT5-3.3.4-3). Two overlapping subscriptions each receive every
// message exactly once, whether the broker sends one copy carrying both
// identifiers (mochi) or a copy per subscription; every identifier is kept
// on the message.
func TestIntegrationSubscriptionIdentifiers(t *testing.T) {
	t.Parallel()
	mosq := mosquittotest.Start(t, mosquittotest.Options{})
	mochi, err := embedbroker.Start()
	require.NoError(t, err)
	t.Cleanup(mochi.Close)

	for _, tc := range []struct{ name, url string }{{"mosquitto", mosq.URL()}, {"mochi", mochi.URL()}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			c := newClient(t, client.Config{Brokers: []string{tc.url}, Protocol: client.MQTT5})
			var plus, hash atomic.Int32
			ids := make(chan []uint32, 64)
			_, err := c.Subscribe(ctx, "sid/+", client.AtLeastOnce, func(m *client.Message) {
				plus.Add(1)
				if m.Properties != nil {
					ids <- m.Properties.SubscriptionIDs
				}
			})
			require.NoError(t, err)
			_, err = c.Subscribe(ctx, "sid/#", client.AtLeastOnce, func(*client.Message) { hash.Add(1) })
			require.NoError(t, err)

			const n = 10
			for i := range n {
				require.NoError(t, c.Publish(ctx, "sid/x", []byte(fmt.Sprint(i)), client.WithQoS(client.AtLeastOnce)))
			}
			require.Eventually(t, func() bool { return plus.Load() >= n && hash.Load() >= n }, 5*time.Second, 10*time.Millisecond)
			time.Sleep(200 * time.Millisecond) // room for a duplicate to show
			assert.Equal(t, int32(n), plus.Load(), "sid/+ gets each message once")
			assert.Equal(t, int32(n), hash.Load(), "sid/# gets each message once")
			got := <-ids
			assert.NotEmpty(t, got, "the message carries the identifiers of the subscriptions it matched")
			for _, id := range got {
				assert.NotZero(t, id)
			}
		})
	}
}
