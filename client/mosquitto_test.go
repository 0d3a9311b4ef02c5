package client_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/mosquittotest"
)

// newClient connects a client to url and closes it with the test.
func newClient(t *testing.T, cfg client.Config) *client.Client {
	t.Helper()
	c, err := client.New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.Connect(ctx))
	t.Cleanup(func() { assert.NoError(t, c.Close()) })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestPublishSubscribeEachQoS sends messages at each QoS through a real
// broker and checks they arrive intact, in order, with the granted QoS
// (MQTT-3.3.4-1, MQTT-4.3.1-1, MQTT-4.3.2-1, MQTT-4.3.3-1).
func TestPublishSubscribeEachQoS(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Options{})
	for _, qos := range []client.QoS{client.AtMostOnce, client.AtLeastOnce, client.ExactlyOnce} {
		t.Run(qos.String(), func(t *testing.T) {
			ctx := testCtx(t)
			sub := newClient(t, client.Config{Brokers: []string{b.URL()}})
			pub := newClient(t, client.Config{Brokers: []string{b.URL()}})
			got := make(chan *client.Message, 100)
			topic := fmt.Sprintf("test/qos%d", qos)
			granted, err := sub.Subscribe(ctx, topic, qos, func(m *client.Message) { got <- m })
			require.NoError(t, err)
			assert.Equal(t, qos, granted)
			for i := 0; i < 20; i++ {
				require.NoError(t, pub.Publish(ctx, topic, []byte(fmt.Sprint(i)), client.WithQoS(qos)))
			}
			for i := 0; i < 20; i++ {
				select {
				case m := <-got:
					assert.Equal(t, topic, m.Topic)
					assert.Equal(t, fmt.Sprint(i), string(m.Payload))
					assert.Equal(t, qos, m.QoS)
				case <-ctx.Done():
					t.Fatalf("message %d did not arrive", i)
				}
			}
			st := pub.Stats()
			assert.True(t, st.Connected)
			assert.Equal(t, uint64(20), st.MessagesOut)
			assert.Zero(t, st.Inflight)
		})
	}
}
