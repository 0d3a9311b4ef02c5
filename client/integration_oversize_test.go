package client_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/mosquittotest"
)

// TestIntegrationOversizeMessage sends a 2 MiB QoS 1 message, with
// mosquitto_pub so that its payload is never in this process, to a
// persistent-session subscriber whose limit is 1 MiB. The client skips it
// without reading it into memory, reports it once with its size,
// acknowledges it so mosquitto does not send it again, keeps the
// connection, and receives the next 1,000 messages.
//
// It does not run in parallel: it counts the process's allocations.
func TestIntegrationOversizeMessage(t *testing.T) {
	pubBin, err := exec.LookPath("mosquitto_pub")
	require.NoError(t, err, "mosquitto_pub is needed: apt-get install mosquitto-clients")
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	reports := make(chan error, 10)
	var got atomic.Int32
	all := make(chan struct{})
	const n = 1000
	sub := newClient(t, client.Config{
		Brokers: []string{b.URL()}, ClientID: "oversize-sub", PersistentSession: true,
		MaxPacketSize: 1 << 20,
		OnError:       func(err error) { reports <- err },
	})
	_, err = sub.Subscribe(ctx, "big/#", client.AtLeastOnce, func(m *client.Message) {
		if got.Add(1) == n {
			close(all)
		}
	})
	require.NoError(t, err)

	file := filepath.Join(t.TempDir(), "big")
	big := make([]byte, 2<<20)
	_, _ = rand.Read(big)
	require.NoError(t, os.WriteFile(file, big, 0o600))
	big = nil
	host, port, err := net.SplitHostPort(b.Addr())
	require.NoError(t, err)

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	out, err := exec.CommandContext(ctx, pubBin, "-h", host, "-p", port, "-t", "big/one", "-q", "1", "-f", file).CombinedOutput()
	require.NoError(t, err, "%s", out)
	report := itRecv(t, ctx, reports, "the oversize report")
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grew := after.TotalAlloc - before.TotalAlloc
	t.Logf("2 MiB message skipped: %v; %d bytes allocated meanwhile", report, grew)
	assert.True(t, errors.Is(report, client.ErrMessageTooLarge))
	assert.Contains(t, report.Error(), `"big/one"`)
	assert.Contains(t, report.Error(), strconv.Itoa(2<<20+2+len("big/one")+2))
	assert.Less(t, grew, uint64(64<<10), "the payload was never read into memory")

	pub := newClient(t, client.Config{Brokers: []string{b.URL()}})
	for i := range n {
		require.NoError(t, pub.Publish(ctx, "big/next", []byte(fmt.Sprint(i)), client.WithQoS(client.AtLeastOnce)))
	}
	itRecv(t, ctx, all, "the next 1,000 messages")
	st := sub.Stats()
	assert.EqualValues(t, 1, st.Oversize)
	assert.EqualValues(t, 1, st.Connects, "the connection stayed up")
	itWaitLog(t, b, "Received PUBACK from oversize-sub (Mid: 1", 1) // the big one, acknowledged
	select {
	case err := <-reports:
		t.Errorf("reported again: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
}
