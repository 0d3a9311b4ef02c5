package brokers

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/feedmq/feedmq/internal/mosquittotest"
)

// The credentials every broker of the matrix accepts; anonymous clients are
// refused.
const (
	User     = "feedmq"
	Password = "matrix-secret"
)

// Feature is a broker capability that a check needs.
type Feature int

const (
	// FeatureQoS2 is exactly-once delivery (MQTT 3.1.1 §4.3.3).
	FeatureQoS2 Feature = iota
	// FeatureSharedSubscriptions is $share/group/filter.
	FeatureSharedSubscriptions
	// FeatureWebSockets is MQTT over WebSockets on a listener of the
	// broker's own.
	FeatureWebSockets
	// FeatureDurableSessions is a persistent session (its subscriptions
	// and queued messages) surviving a broker restart.
	FeatureDurableSessions
)

// String names the feature as skip messages print it.
func (f Feature) String() string {
	switch f {
	case FeatureQoS2:
		return "QoS 2"
	case FeatureSharedSubscriptions:
		return "shared subscriptions"
	case FeatureWebSockets:
		return "WebSockets"
	case FeatureDurableSessions:
		return "sessions that survive a restart"
	}
	return fmt.Sprintf("Feature(%d)", int(f))
}

// Broker is a running broker of the matrix.
type Broker interface {
	// Name is the broker's short name: mosquitto, mochi, rabbitmq, aedes.
	Name() string
	// Version is the broker's version as it reports it.
	Version() string
	// URL is the plain MQTT listener, mqtt://127.0.0.1:PORT.
	URL() string
	// WSURL is the WebSockets listener as a ws:// URL with its path, or ""
	// when Lacks(FeatureWebSockets) is not empty.
	WSURL() string
	// Lacks returns why the broker cannot be checked for f, or "" when it
	// has f.
	Lacks(f Feature) string
	// Restart stops the broker cleanly and starts it again on the same
	// ports with the same configuration and data.
	Restart(tb testing.TB)
}

// required reports whether a missing broker is a failure rather than a
// reason to skip.
func required() bool {
	return os.Getenv("CI") != "" || os.Getenv("FEEDMQ_REQUIRE_BROKER") == "1"
}

// missing skips or fails the test for a broker that is not installed.
func missing(tb testing.TB, msg string) {
	tb.Helper()
	if required() {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// NodeModules is the directory holding the npm packages the matrix uses
// (aedes, ws, mqtt): $FEEDMQ_NODE_MODULES when set, else node_modules in
// feedmq/node under the user's cache directory, where scripts/test.sh
// installs them from internal/brokers/node/package.json.
func NodeModules() string {
	if d := os.Getenv("FEEDMQ_NODE_MODULES"); d != "" {
		return d
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	return filepath.Join(cache, "feedmq", "node", "node_modules")
}

// freePorts returns n distinct free loopback ports. They are held open
// together so that they differ; another process may still take one before
// the broker binds it.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("brokers: find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// probeTimeout bounds each dial of netDial.
const probeTimeout = 500 * time.Millisecond

// probeMQTT checks that the broker at addr answers CONNECT.
func probeMQTT(addr string) error { return mosquittotest.ProbeMQTT(addr, "brokers-probe") }

// errExited reports a broker process that ended before it was ready.
var errExited = errors.New("brokers: the broker exited before it was ready")

// waitReady polls probe every 20 ms until it succeeds, done is closed, or
// timeout passes.
func waitReady(probe func() error, done <-chan struct{}, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := probe()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return errExited
		case <-deadline.C:
			return fmt.Errorf("brokers: not ready after %v: %w", timeout, err)
		case <-tick.C:
		}
	}
}

// netDial dials addr over TCP within probeTimeout.
func netDial(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, probeTimeout) }

// saveLog writes a broker's whole log to $FEEDMQ_BROKER_LOGS/name.log when
// that variable names a directory; a failed test prints only the end.
func saveLog(tb testing.TB, name, log string) {
	dir := os.Getenv("FEEDMQ_BROKER_LOGS")
	if dir == "" {
		return
	}
	path := filepath.Join(dir, name+".log")
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		tb.Logf("brokers: save the log: %v", err)
		return
	}
	tb.Logf("brokers: the whole log is in %s", path)
}
