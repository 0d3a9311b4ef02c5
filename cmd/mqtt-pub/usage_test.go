package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/internal/cli/clitest"
)

// mqttPub is the binary the end-to-end tests run, built by TestMain.
var mqttPub string

// TestMain builds mqtt-pub and runs the tests as clitest.Main describes.
func TestMain(m *testing.M) { clitest.Main(m, "mqtt-pub", &mqttPub, &getenv) }

// runPub runs mqtt-pub in-process.
func runPub(args []string, stdin string) clitest.Result {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr)
	return clitest.Result{Stdout: stdout.String(), Stderr: stderr.String(), Code: code}
}

// usageCases are command lines that fail before any connection is made.
// Each is run through mqtt-pub and mosquitto_pub, which must print the same
// error and exit with the same status (stdout holds the usage, which
// differs, for some: it only has to be there for both or for neither).
var usageCases = []struct {
	args  []string
	stdin string
}{
	{args: nil},
	{args: []string{"-t", "a"}},
	{args: []string{"-m", "x"}},
	{args: []string{"--help"}},
	{args: []string{"--version"}},
	{args: []string{"-t", "a", "-m", "x", "-n"}},
	{args: []string{"-t", "a", "-l", "-s"}},
	{args: []string{"-f", "f", "-m", "x"}},
	{args: []string{"-m", "x", "-m"}}, // the mode is checked before the value
	{args: []string{"-t", "a/#", "-m", "x"}},
	{args: []string{"-t", "a/+/b", "-m", "x"}},
	{args: []string{"-t", "a\xff", "-m", "x"}},
	{args: []string{"-t", "a", "-m", "x", "-q", "3"}},
	{args: []string{"-t", "a", "-m", "x", "-q", "-1"}},
	{args: []string{"-t", "a", "-m", "x", "-k", "4"}},
	{args: []string{"-t", "a", "-m", "x", "-k", "65536"}},
	{args: []string{"-t", "a", "-m", "x", "-V", "4"}},
	{args: []string{"-t", "a", "-m", "x", "-c"}},
	{args: []string{"-t", "a", "-m", "x", "-c", "-I", "pre"}},
	{args: []string{"-i", "a", "-I", "b"}},
	{args: []string{"-I", "b", "-i", "a"}},
	{args: []string{"-I", "b", "-i"}},
	{args: []string{"-t", "a", "-m", "x", "--will-payload", "p"}},
	{args: []string{"-t", "a", "-m", "x", "--will-retain"}},
	{args: []string{"-t", "a", "-m", "x", "--will-qos", "3"}},
	{args: []string{"-t", "a", "-m", "x", "--will-topic", "w/#"}},
	{args: []string{"-t", "a", "-m", "x", "--foo"}},
	{args: []string{"-t", "a", "-m", "x", "--max-packet-size", "1000"}}, // mqtt-sub's, and neither tool of mosquitto's
	{args: []string{"-t", "a", "-m", "x", "extra"}},
	{args: []string{"-t", "a", "-m", "x", "-"}},
	{args: []string{"-t", "a", "-m", "x", "--"}},
	{args: []string{"-t", "a", "-m", "x", "-v"}},
	{args: []string{"-t", "a", "-m", "x", "-C", "1"}},
	{args: []string{"-t", "a", "-m", "x", "--cert", "c"}},
	{args: []string{"-t", "a", "-m", "x", "--key", "k"}},
	{args: []string{"-t", "a", "-m", "x", "--keyform", "pem"}},
	{args: []string{"-t", "a", "-m", "x", "-p", "65536"}},
	{args: []string{"-t", "a", "-m", "x", "-p", "-1"}},
	{args: []string{"-t", "a", "-m", "x", "--repeat", "0"}},
	{args: []string{"-t", "a", "-m", "x", "--repeat-delay", "-1"}},
	{args: []string{"-t", "a", "-m", "x", "-M", "0"}},
	{args: []string{"-t", "a", "-m", "x", "-x", "abc"}},
	{args: []string{"-t", "a", "-m", "x", "-x", "4294967296"}},
	{args: []string{"-m", "x", "-L", "http://h/t"}},
	{args: []string{"-m", "x", "-L", "mqtt://h"}},
	{args: []string{"-m", "x", "-L", "mqtt://h/a/#"}},
	{args: []string{"-t", "a", "-m", "x", "--proxy", "http://h"}},
	{args: []string{"-t", "a", "-m", "x", "--proxy", "socks5h://"}},
	{args: []string{"-t", "a", "-m", "x", "--proxy", "socks5h://h:0"}},
	{args: []string{"-t", "a", "-m", "x", "-P", "secret"}},
	{args: []string{"-t", "a", "-m", "x", "-i", ""}},
	{args: []string{"-t", "a", "-f", "/nonexistent/file"}},
	{args: []string{"-t", "a", "-s"}, stdin: ""},
	// MQTT 5.0: -D, -x and -V 5 (cfg_parse_property, client_config_load).
	{args: []string{"-t", "a", "-m", "x", "-D"}},
	{args: []string{"-t", "a", "-m", "x", "-D", "connect", "receive-maximum"}},
	{args: []string{"-t", "a", "-m", "x", "-D", "connect", "user-property", "k"}},
	{args: []string{"-t", "a", "-m", "x", "-D", "foo", "bar", "1"}},
	{args: []string{"-t", "a", "-m", "x", "-D", "connect", "bogus", "1"}},
	{args: []string{"-t", "a", "-m", "x", "-D", "Publish", "Receive-Maximum", "5"}},
	{args: []string{"-t", "a", "-m", "x", "-D", "connect", "content-type", "x"}},
	{args: []string{"-t", "a", "-m", "x", "-D", "will", "topic-alias", "1"}},
	{args: []string{"-t", "a", "-m", "x", "-D", "unsubscribe", "reason-string", "x"}},
	{args: []string{"-t", "a", "-m", "x", "-D", "puback", "user-property", "a", "b"}},
	{args: []string{"-t", "a", "-m", "x", "-D", "pubrel", "reason-string", "x"}},
	{args: []string{"-t", "a", "-m", "x", "-D", "auth", "authentication-method", "x"}},
	{args: []string{"-t", "a", "-m", "x", "-D", "connack", "assigned-client-identifier", "x"}},
	{args: []string{"-t", "a", "-m", "x", "-D", "publish", "subscription-identifier", "1"}},
	{args: []string{"-t", "a", "-m", "x", "-D", "subscribe", "subscription-identifier", "268435456"}},
	{args: []string{"-t", "a", "-m", "x", "-D", "connect", "receive-maximum", "70000"}},
	{args: []string{"-t", "a", "-m", "x", "-D", "connect", "receive-maximum", "-1"}},
	{args: []string{"-t", "a", "-m", "x", "-D", "connect", "receive-maximum", "x"}}, // atol: 0, a protocol error (MQTT 5.0 §3.1.2.11.3)
	{args: []string{"-t", "a", "-m", "x", "-D", "connect", "maximum-packet-size", "0"}},
	{args: []string{"-t", "a", "-m", "x", "-D", "connect", "request-problem-information", "2"}},
	{args: []string{"-t", "a", "-m", "x", "-D", "connect", "request-response-information", "2"}},
	{args: []string{"-t", "a", "-m", "x", "-D", "publish", "topic-alias", "0"}}, // MQTT5-3.3.2-8
	{args: []string{"-t", "a", "-m", "x", "-D", "publish", "payload-format-indicator", "256"}},
	{args: []string{"-t", "a", "-m", "x", "-D", "publish", "message-expiry-interval", "4294967296"}},
	{args: []string{"-t", "a", "-m", "x", "-D", "publish", "content-type", "\xff"}},
	{args: []string{"-t", "a", "-m", "x", "-D", "publish", "user-property", "k\xff", "v"}},
	{args: []string{"-t", "a", "-m", "x", "-D", "publish", "content-type", "a", "-D", "publish", "content-type", "b"}},
	{args: []string{"-t", "a", "-m", "x", "-D", "will", "will-delay-interval", "1", "-D", "will", "will-delay-interval", "2"}},
	{args: []string{"-t", "a", "-m", "x", "-D", "disconnect", "reason-string", "a", "-D", "disconnect", "reason-string", "b"}},
	{args: []string{"-t", "a", "-m", "x", "-V", "5", "-x", "5", "-D", "connect", "session-expiry-interval", "5"}},
	{args: []string{"-t", "a", "-m", "x", "-V", "5", "-c"}},
	{args: []string{"-t", "a", "-m", "x", "-c", "-V", "mqttv5"}},
	{args: []string{"-t", "a", "-m", "x", "-V", "5", "-x", "-1"}},
	{args: []string{"-t", "a", "-m", "x", "-V", "5", "-x", "∞"}},
	{args: []string{"-t", "a", "-m", "x", "-V", "5", "-c", "-x", "0"}},
	{args: []string{"-t", "a", "-m", "x", "-V", "5", "-x", "-2"}},
}

// missingValue are options that take a value, given last without one.
var missingValue = []string{"-A", "--cafile", "--capath", "--cert", "--ciphers", "-h", "--host", "-i", "--id", "-I", "--id-prefix",
	"-k", "--keepalive", "--key", "--keyform", "-L", "--url", "-m", "--message", "-M", "-p", "--port", "-P", "--pw", "--proxy",
	"--psk", "--psk-identity", "-q", "--qos", "--tls-alpn", "--tls-engine", "--tls-engine-kpass-sha1", "--tls-version",
	"-u", "--username", "--unix", "-V", "--protocol-version", "--will-payload", "--will-qos", "--will-topic", "-x",
	"-f", "--file", "-t", "--topic", "--repeat", "--repeat-delay"}

// TestUsageMatchesMosquitto compares every usage error with mosquitto_pub's.
// Exit status 1 for usage errors, --help and --version is mosquitto's
// choice, kept for compatibility.
func TestUsageMatchesMosquitto(t *testing.T) {
	ref := clitest.RequireMosquitto(t, "mosquitto_pub")
	cases := usageCases
	for _, opt := range missingValue {
		cases = append(cases, struct {
			args  []string
			stdin string
		}{args: []string{opt}})
	}
	env := clitest.Env(t)
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got := runPub(tc.args, tc.stdin)
			want := clitest.Run(t, ref, env, tc.stdin, tc.args...)
			want.Stderr = strings.ReplaceAll(want.Stderr, "mosquitto_pub", "mqtt-pub")
			assert.Equal(t, want.Code, got.Code, "exit status")
			assert.Equal(t, want.Stderr, got.Stderr)
			assert.Equal(t, want.Stdout == "", got.Stdout == "", "stdout: mosquitto_pub %q, mqtt-pub %q", want.Stdout, got.Stdout)
		})
	}
}

func TestHelp(t *testing.T) {
	got := runPub([]string{"--help"}, "")
	assert.Equal(t, 1, got.Code)
	assert.True(t, strings.HasPrefix(got.Stdout, "mqtt-pub is a simple mqtt client"), got.Stdout)
	for _, opt := range []string{"--pw-file", "--timeout", "MQTT_PASSWORD", "--repeat-delay", "--will-topic", "--proxy"} {
		assert.Contains(t, got.Stdout, opt)
	}
	assert.Empty(t, got.Stderr)

	got = runPub([]string{"--version"}, "")
	assert.Equal(t, 1, got.Code)
	assert.Regexp(t, `^mqtt-pub version \S+ \(feedmq, MQTT 5.0, 3.1.1 and 3.1\)`, got.Stdout)
}

// TestUsageDeviations checks the errors mqtt-pub reports where mosquitto_pub
// reports none, or only once connected.
func TestUsageDeviations(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-t", "", "-m", "x"}, "Error: Invalid publish topic '', does it contain '+' or '#'?\n\nUse 'mqtt-pub --help' to see usage.\n"},
		{[]string{"-t", "a", "-m", "x", "-p", "abc"}, "Error: Invalid port given: 0\n\nUse 'mqtt-pub --help' to see usage.\n"},
		// mosquitto_pub: "Unable to connect (This feature is not supported.)."
		// for CONNECT properties at 3.1.1, nothing or a hang for others.
		{[]string{"-t", "a", "-m", "x", "-D", "publish", "content-type", "x", "-V", "311"}, "Unable to connect (This feature is not supported.).\n"},
		// Features of mosquitto's -D the client lacks are refused by name.
		{[]string{"-t", "a", "-m", "x", "-D", "publish", "payload-format-indicator", "2"}, "Error: -D publish payload-format-indicator is not supported: only 0 and 1 are valid (MQTT 5.0 §3.3.2.3.2).\n"},
		{[]string{"-t", "a", "-m", "x", "-D", "disconnect", "server-reference", "x"}, "Error: -D disconnect server-reference is not supported: a client's DISCONNECT carries no Server Reference (MQTT 5.0 §3.14.2.2.5).\n"},
		{[]string{"-t", "a", "-m", "x", "-V", "5", "-c", "-x", "0", "-i", "me"}, "Error: -c with a session expiry interval of 0 is not supported: feedmq keeps a persistent session until it expires.\n"},
		{[]string{"-t", "a", "-m", "x", "--cafile", filepath.Join(t.TempDir(), "none.pem")}, "Error: Problem setting TLS options: CA file: open "},
		{[]string{"-t", "a", "-m", "x", "-V", "31", "-i", "012345678901234567890123"}, "Error: MQTT 3.1 limits the ClientID to 23 characters\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got := runPub(tc.args, "")
			assert.Equal(t, 1, got.Code)
			assert.True(t, strings.HasPrefix(got.Stderr, tc.want), "stderr %q", got.Stderr)
			require.Empty(t, got.Stdout)
		})
	}
}
