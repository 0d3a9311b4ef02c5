package brokers_test

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/internal/brokers"
	"github.com/feedmq/feedmq/internal/syncbuf"
)

// buildCLIs builds mqtt-pub and mqtt-sub from this module into a temporary
// directory and returns it.
func buildCLIs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"mqtt-pub", "mqtt-sub"} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, name), "../../cmd/"+name).CombinedOutput()
		require.NoError(t, err, "go build %s:\n%s", name, out)
	}
	return dir
}

// TestRabbitMQDeviationsCLI runs the CLIs against RabbitMQ, which supports
// QoS 1 at most: mqtt-pub -q 2 ends within a second with a non-zero exit and
// a message saying what happened (it used to wait for a PUBREC for ever),
// and mqtt-sub -d says that the broker granted less than it asked for.
func TestRabbitMQDeviationsCLI(t *testing.T) {
	t.Parallel()
	bin := buildCLIs(t)
	r := brokers.StartRabbitMQ(t)
	host, port, _ := strings.Cut(strings.TrimPrefix(r.URL(), "mqtt://"), ":")
	common := []string{"-h", host, "-p", port, "-u", brokers.User, "-P", brokers.Password, "-t", "deviation/q2"}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var subOut syncbuf.Buffer
	sub := exec.CommandContext(ctx, filepath.Join(bin, "mqtt-sub"), append(common, "-q", "2", "-d", "-C", "1")...)
	sub.Stdout, sub.Stderr = &subOut, &subOut
	require.NoError(t, sub.Start())
	require.Eventually(t, func() bool { return strings.Contains(subOut.String(), "Subscribed (mid: ") },
		10*time.Second, 10*time.Millisecond, "mqtt-sub never subscribed:\n%s", &subOut)

	start := time.Now()
	var pubOut bytes.Buffer
	pub := exec.CommandContext(ctx, filepath.Join(bin, "mqtt-pub"), append(common, "-q", "2", "-m", "exactly once?")...)
	pub.Stdout, pub.Stderr = &pubOut, &pubOut
	err := pub.Run()
	took := time.Since(start)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "mqtt-pub -q 2 against RabbitMQ: %s", &pubOut)
	assert.Equal(t, 1, exit.ExitCode())
	assert.Contains(t, pubOut.String(), "acknowledged a QoS 2 message with PUBACK")
	assert.Less(t, took, time.Second, "mqtt-pub -q 2 took too long")

	// The broker still delivered the message, at QoS 1.
	require.NoError(t, sub.Wait(), "mqtt-sub:\n%s", &subOut)
	out := subOut.String()
	assert.Contains(t, out, "exactly once?")
	assert.Contains(t, out, "Subscribed (mid: 1): 1", "the trace shows the QoS granted")
	assert.Contains(t, out, "Warning: the broker granted QoS 1 for deviation/q2, QoS 2 was requested.")
}
