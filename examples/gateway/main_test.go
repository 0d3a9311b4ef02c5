package main

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/mosquittotest"
)

// TestGatewaySurvivesOutageAndRestart sends readings while the broker is
// down, stops the gateway, starts it again on the same store, brings the
// broker back, and expects every reading to arrive; then a command reaches
// the device.
func TestGatewaySurvivesOutageAndRestart(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Options{Persistence: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	readings := make(chan string, 100)
	sub, err := client.New(client.Config{
		Brokers: []string{b.URL()}, ClientID: "reader", PersistentSession: true,
		Reconnect: client.Backoff{InitialDelay: 20 * time.Millisecond, MaxDelay: 100 * time.Millisecond},
	})
	require.NoError(t, err)
	require.NoError(t, sub.Connect(ctx))
	defer sub.Close()
	_, err = sub.Subscribe(ctx, "gw/+/reading", client.AtLeastOnce, func(m *client.Message) { readings <- m.Topic + "=" + string(m.Payload) })
	require.NoError(t, err)

	udpAddr := freeUDP(t)
	storeDir := t.TempDir()
	args := []string{"-broker", b.URL(), "-id", "gw-test", "-store", storeDir, "-listen", udpAddr, "-prefix", "gw"}
	var out *lines
	start := func() (stop func()) {
		out = newLines()
		gctx, gcancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- run(gctx, args, nil, out) }()
		out.await(t, ctx, "listening for devices on "+udpAddr)
		return func() {
			gcancel()
			assert.ErrorIs(t, <-done, context.Canceled)
		}
	}
	device, err := net.Dial("udp", udpAddr)
	require.NoError(t, err)
	defer device.Close()
	send := func(s string) {
		_, err := device.Write([]byte(s))
		require.NoError(t, err)
	}
	expect := func(want string) {
		t.Helper()
		select {
		case got := <-readings:
			assert.Equal(t, want, got)
		case <-ctx.Done():
			t.Fatalf("reading %q did not arrive", want)
		}
	}

	stop := start()
	send("dev1 20.5")
	expect("gw/dev1/reading=20.5")

	b.Stop()
	send("dev1 21.0")
	send("dev2 7")
	out.await(t, ctx, "queued dev2 7")
	stop() // the two readings stay in the file store

	b.Restart()
	stop = start()
	defer stop()
	expect("gw/dev1/reading=21.0")
	expect("gw/dev2/reading=7")

	send("dev1 22.0")
	expect("gw/dev1/reading=22.0")
	require.NoError(t, sub.Publish(ctx, "gw/dev1/command", []byte("fan on"), client.WithQoS(client.AtLeastOnce)))
	require.NoError(t, device.SetReadDeadline(time.Now().Add(10*time.Second)))
	buf := make([]byte, 64)
	n, err := device.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "fan on", string(buf[:n]))
}

// lines collects the gateway's output and lets the test wait for a line.
type lines struct {
	mu   sync.Mutex
	text strings.Builder
	more chan struct{}
}

func newLines() *lines { return &lines{more: make(chan struct{}, 1)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.text.Write(p)
	l.mu.Unlock()
	select {
	case l.more <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (l *lines) await(t *testing.T, ctx context.Context, line string) {
	t.Helper()
	for {
		l.mu.Lock()
		found := strings.Contains(l.text.String(), line+"\n")
		text := l.text.String()
		l.mu.Unlock()
		if found {
			return
		}
		select {
		case <-l.more:
		case <-ctx.Done():
			t.Fatalf("gateway never printed %q; output:\n%s", line, text)
		}
	}
}

func freeUDP(t *testing.T) string {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := c.LocalAddr().String()
	require.NoError(t, c.Close())
	return addr
}
