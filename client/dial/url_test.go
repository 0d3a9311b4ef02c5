// Tests of ParseBrokerURL and of the redaction of credentials.

package dial

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// brokerURLTests are ParseBrokerURL's inputs with the URL or error each
// gives.
var brokerURLTests = []struct {
	in      string
	want    string // u.String(); empty when an error is expected
	wantErr string
}{
	{in: "mqtt://broker.example", want: "mqtt://broker.example:1883"},
	{in: "tcp://broker.example:1884", want: "tcp://broker.example:1884"},
	{in: "mqtts://broker.example", want: "mqtts://broker.example:8883"},
	{in: "ssl://broker.example", want: "ssl://broker.example:8883"},
	{in: "tls://broker.example:9883", want: "tls://broker.example:9883"},
	{in: "ws://broker.example", want: "ws://broker.example:80/mqtt"},
	{in: "wss://broker.example", want: "wss://broker.example:443/mqtt"},
	{in: "wss://broker.example/ws?token=1", want: "wss://broker.example:443/ws?token=1"},
	{in: "MQTT://Broker.Example", want: "mqtt://Broker.Example:1883"},
	{in: "mqtt://broker.example/", want: "mqtt://broker.example:1883"},
	{in: "mqtt://broker.example:", want: "mqtt://broker.example:1883"},
	{in: "broker.example:1885", want: "mqtt://broker.example:1885"},
	{in: "broker.example", want: "mqtt://broker.example:1883"},
	{in: " broker.example ", want: "mqtt://broker.example:1883"},
	{in: "127.0.0.1", want: "mqtt://127.0.0.1:1883"},
	{in: "[::1]:1884", want: "mqtt://[::1]:1884"},
	{in: "::1", want: "mqtt://[::1]:1883"},
	{in: "mqtts://[2001:db8::1]", want: "mqtts://[2001:db8::1]:8883"},
	{in: "ws://[2001:db8::1]:8080", want: "ws://[2001:db8::1]:8080/mqtt"},
	{in: "mqtt://alice:s3cret@broker.example", want: "mqtt://alice:s3cret@broker.example:1883"},
	{in: "alice@broker.example", want: "mqtt://alice@broker.example:1883"},
	{in: "unix:///run/mosquitto/mqtt.sock", want: "unix:///run/mosquitto/mqtt.sock"},
	{in: "unix:/run/mosquitto/mqtt.sock", want: "unix:/run/mosquitto/mqtt.sock"},
	{in: "unix:mqtt.sock", want: "unix:mqtt.sock"},

	{in: "", wantErr: "empty broker URL"},
	{in: "ftp://broker.example", wantErr: `unsupported scheme "ftp"`},
	{in: "http://broker.example", wantErr: `unsupported scheme "http"`},
	{in: "mqtt://", wantErr: "missing host"},
	{in: "mqtt://:1883", wantErr: "missing host"},
	{in: "mqtt:broker.example", wantErr: "invalid port"}, // bare host "mqtt", port "broker.example"
	{in: "mqtt://broker.example:0", wantErr: "out of range"},
	{in: "mqtt://broker.example:65536", wantErr: "out of range"},
	{in: "mqtt://broker.example:x", wantErr: "invalid port"},
	{in: "mqtt://broker.example/mqtt", wantErr: "only meaningful for ws:// and wss://"},
	{in: "mqtts://broker.example?x=1", wantErr: "only meaningful for ws:// and wss://"},
	{in: "mqtt://broker.example#x", wantErr: "fragment"},
	{in: "unix://relative.sock", wantErr: "no host"},
	{in: "unix:", wantErr: "missing socket path"},
	{in: "unix:///x.sock?q=1", wantErr: "query"},
}

func TestParseBrokerURL(t *testing.T) {
	for _, tt := range brokerURLTests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := ParseBrokerURL(tt.in)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Regexp(t, "^dial: ", err.Error())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, u.String())
		})
	}
}

func TestParseBrokerURLUnixPath(t *testing.T) {
	for in, want := range map[string]string{
		"unix:///run/mqtt.sock":  "/run/mqtt.sock",
		"unix:/run/mqtt.sock":    "/run/mqtt.sock",
		"unix:rel.sock":          "rel.sock",
		"unix:///tmp/a%20b.sock": "/tmp/a b.sock",
	} {
		u := mustParseBrokerURL(t, in)
		assert.Equal(t, want, socketPath(u), in)
	}
}

// TestParseBrokerURLRedactsCredentials checks that neither the user name
// nor the password of a broker or proxy URL shows up in an error, even when
// an unescaped character breaks the user information apart.
func TestParseBrokerURLRedactsCredentials(t *testing.T) {
	for _, in := range []string{
		"ftp://alice:s3cret@broker.example",
		"mqtt://alice:s3cret@broker.example:x",
		"mqtt://alice:s3cret@broker.example:99999",
		"mqtt://alice:s3cret@broker.example/path",
		"mqtt://alice:s3cret@:1883",
		"mqtt://alice:s3cret@broker.example#x",
		"alice:s3cret@broker.example:x",
		"unix://alice:s3cret@host/x.sock",
		"mqtt://alice:s3/cret@broker.example",   // '/' cuts the password short
		"ws://alice:1234/cret@broker.example",   // ... leaving a valid host:port
		"mqtt://alice:s3?cret@broker.example",   // '?' likewise
		"mqtt://alice:s3#cret@broker.example",   // '#' likewise
		"mqtt://alice:s3%zzcret@broker.example", // bad escape
	} {
		t.Run(in, func(t *testing.T) {
			_, err := ParseBrokerURL(in)
			require.Error(t, err)
			assertRedacted(t, err)
		})
	}
	t.Run("proxy", func(t *testing.T) {
		for _, p := range []string{
			"http://alice:s3cret@proxy.example:3128",
			"socks5://alice:s3/cret@proxy.example",
			"socks5://alice:s3cret@:1080",
			"socks5://alice:s3cret@proxy.example:x",
		} {
			o := &Dialer{Proxy: p}
			_, err := o.Dial(context.Background(), mustParseBrokerURL(t, "mqtt://127.0.0.1:1"))
			require.Error(t, err, p)
			assertRedacted(t, err)
		}
	})
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"mqtt://alice:s3cret@broker.example:1883": "mqtt://xxxxx@broker.example:1883",
		"wss://alice@broker.example:443/mqtt":     "wss://xxxxx@broker.example:443/mqtt",
		"mqtts://broker.example:8883":             "mqtts://broker.example:8883",
		"unix:///run/mqtt.sock":                   "unix:///run/mqtt.sock",
	} {
		assert.Equal(t, want, Redact(mustParseBrokerURL(t, in)), in)
	}
}

func assertRedacted(t *testing.T, err error) {
	t.Helper()
	for _, secret := range []string{"alice", "s3", "cret", "1234"} {
		assert.NotContains(t, err.Error(), secret)
	}
}
