package client_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/mosquittotest"
)

// TestIntegrationRequestReply: Request carries a Response Topic and
// Correlation Data (MQTT 5.0 §4.10, MQTT5-3.3.2-13, MQTT5-3.3.2-14: the
// response topic is a valid topic name without wildcards), and Reply
// answers on it with the same Correlation Data. Concurrent requests each
// get their own answer.
func TestIntegrationRequestReply(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	server := newClient(t, client.Config{Brokers: []string{b.URL()}, Protocol: client.MQTT5})
	_, err := server.Subscribe(ctx, "svc/double", client.AtLeastOnce, func(m *client.Message) {
		var n int
		_, _ = fmt.Sscan(string(m.Payload), &n)
		assert.NoError(t, server.Reply(context.Background(), m, []byte(fmt.Sprint(2*n))))
	})
	require.NoError(t, err)

	c := newClient(t, client.Config{Brokers: []string{b.URL()}, Protocol: client.MQTT5})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Request(ctx, "svc/double", []byte(fmt.Sprint(i)), client.WithQoS(client.AtLeastOnce))
			if assert.NoError(t, err) {
				assert.Equal(t, fmt.Sprint(2*i), string(resp.Payload))
				assert.Len(t, resp.Properties.CorrelationData, 16)
			}
		}()
	}
	wg.Wait()

	t.Run("reply to a message that asked for none", func(t *testing.T) {
		err := c.Reply(ctx, &client.Message{Topic: "x"}, nil)
		assert.ErrorIs(t, err, client.ErrNoResponseTopic)
	})
	t.Run("request at 3.1.1", func(t *testing.T) {
		old := newClient(t, client.Config{Brokers: []string{b.URL()}})
		_, err := old.Request(ctx, "svc/double", []byte("1"))
		assert.ErrorIs(t, err, client.ErrNeedsMQTT5)
	})
}
