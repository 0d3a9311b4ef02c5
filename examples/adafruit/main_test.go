package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/mosquittotest"
	"github.com/feedmq/feedmq/internal/syncbuf"
)

// TestAdafruitFeeds runs the example against a real broker that asks for
// the user name and key, drives its callbacks and watches its photocell.
func TestAdafruitFeeds(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Options{Users: map[string]string{"ada": "key-123", "test": "pw"}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	peer, err := client.New(client.Config{Brokers: []string{b.URL()}, Username: "test", Password: "pw"})
	require.NoError(t, err)
	require.NoError(t, peer.Connect(ctx))
	defer peer.Close()
	photocell := make(chan string, 10)
	_, err = peer.Subscribe(ctx, "ada/feeds/photocell", client.AtLeastOnce, func(m *client.Message) { photocell <- string(m.Payload) })
	require.NoError(t, err)

	out := &syncbuf.Buffer{}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- run(runCtx, []string{"-broker", b.URL(), "-username", "ada", "-key", "key-123", "-interval", "50ms"}, out)
	}()

	select {
	case v := <-photocell:
		assert.Regexp(t, `^\d+$`, v)
	case <-ctx.Done():
		t.Fatalf("no photocell reading; output:\n%s", out)
	}
	for topic, payload := range map[string]string{"ada/feeds/onoff": "ON", "ada/feeds/slider": "42.5", "time/seconds": "1700000000"} {
		require.NoError(t, peer.Publish(ctx, topic, []byte(payload), client.WithQoS(client.AtLeastOnce)))
	}
	require.Eventually(t, func() bool {
		s := out.String()
		return strings.Contains(s, "onoff: ON\n") && strings.Contains(s, "slider: 42.5\n") && strings.Contains(s, "time: 2023-11-14T22:13:20Z\n")
	}, 10*time.Second, 10*time.Millisecond, "output:\n%s", out)
	assert.NotContains(t, out.String(), "key-123", "the key is never printed")

	stop()
	require.ErrorIs(t, <-done, context.Canceled)
}

func TestAdafruitNeedsUsername(t *testing.T) {
	t.Setenv("AIO_USERNAME", "")
	err := run(context.Background(), []string{"-broker", "mqtt://127.0.0.1:1"}, &syncbuf.Buffer{})
	require.ErrorContains(t, err, "AIO_USERNAME")
}
