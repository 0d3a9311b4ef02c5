package client_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/mosquittotest"
)

// TestMQTT5AgainstMosquitto connects at level 5 (MQTT5-3.1.2-2: the
// Protocol Version byte is 5) and checks that a message's properties reach
// the subscriber through a real broker.
func TestMQTT5AgainstMosquitto(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	cfg := client.Config{Brokers: []string{b.URL()}, Protocol: client.MQTT5}
	sub := newClient(t, cfg)
	pub := newClient(t, cfg)
	got := make(chan *client.Message, 1)
	_, err := sub.Subscribe(ctx, "v5/x", client.AtLeastOnce, func(m *client.Message) { got <- m })
	require.NoError(t, err)
	require.NoError(t, pub.Publish(ctx, "v5/x", []byte("hi"), client.WithQoS(client.AtLeastOnce),
		client.WithContentType("text/plain"), client.WithPayloadUTF8(), client.WithMessageExpiry(time.Minute),
		client.WithUserProperty("k", "v")))
	select {
	case m := <-got:
		require.NotNil(t, m.Properties)
		assert.Equal(t, "text/plain", m.Properties.ContentType)
		assert.True(t, m.Properties.PayloadUTF8)
		assert.True(t, m.Properties.HasPayloadFormat)
		assert.Equal(t, []client.UserProperty{{Key: "k", Value: "v"}}, m.Properties.UserProperties)
		assert.InDelta(t, time.Minute, m.Properties.Expiry, float64(2*time.Second))
	case <-ctx.Done():
		t.Fatal("the message did not arrive")
	}
}
