package brokers

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/feedmq/feedmq/internal/mosquittotest"
)

// mosquitto is a mosquitto broker run by internal/mosquittotest.
type mosquitto struct {
	b       *mosquittotest.Broker
	version string
}

// StartMosquitto runs mosquitto with persistence and the matrix's
// credentials. mosquitto 2.0.11 binds a WebSockets listener to every
// interface, so it has one only when the test runs in the private network
// namespace of mosquittotest.RunInPrivateNetwork.
func StartMosquitto(tb testing.TB) Broker {
	tb.Helper()
	bin, ok := mosquittotest.Available()
	if !ok {
		missing(tb, "brokers: mosquitto not found; install it with apt-get install mosquitto (scripts/test.sh does this)")
	}
	b := mosquittotest.Start(tb, mosquittotest.Options{
		Users:       map[string]string{User: Password},
		Persistence: true,
		WebSockets:  mosquittotest.InPrivateNetwork(),
		QuietLog:    true,
		Unbounded:   true,
	})
	return &mosquitto{b: b, version: mosquittoVersion(bin)}
}

// mosquittoVersion reads "mosquitto version X" from mosquitto -h.
func mosquittoVersion(bin string) string {
	out, _ := exec.Command(bin, "-h").CombinedOutput() // exits 3 after printing its usage
	first, _, _ := strings.Cut(string(out), "\n")
	if v, ok := strings.CutPrefix(first, "mosquitto version "); ok {
		return strings.TrimSpace(v)
	}
	return "unknown"
}

func (m *mosquitto) Name() string    { return "mosquitto" }
func (m *mosquitto) Version() string { return m.version }
func (m *mosquitto) URL() string     { return m.b.URL() }
func (m *mosquitto) WSURL() string   { return m.b.WSURL() }

func (m *mosquitto) Lacks(f Feature) string {
	if f == FeatureWebSockets && m.b.WSURL() == "" {
		return "mosquitto " + m.version + " binds its WebSockets listener to every interface, so it is " +
			"checked only inside a private network namespace (client TestIntegrationWebSocket does)"
	}
	return ""
}

func (m *mosquitto) Restart(tb testing.TB) {
	tb.Helper()
	m.b.Restart()
}
