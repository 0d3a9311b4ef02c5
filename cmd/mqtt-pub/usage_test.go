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
	assert.Regexp(t, `^mqtt-pub version \S+ \(feedmq, MQTT 3.1.1 and 3.1\)`, got.Stdout)
}

// TestUsageDeviations checks the errors mqtt-pub reports where mosquitto_pub
// reports none, or only once connected.
func TestUsageDeviations(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-t", "a", "-m", "x", "-V", "5"}, "Error: MQTT 5 is not supported yet; use -V 311 (the default) or -V 31.\n\nUse 'mqtt-pub --help' to see usage.\n"},
		{[]string{"-t", "", "-m", "x"}, "Error: Invalid publish topic '', does it contain '+' or '#'?\n\nUse 'mqtt-pub --help' to see usage.\n"},
		{[]string{"-t", "a", "-m", "x", "-p", "abc"}, "Error: Invalid port given: 0\n\nUse 'mqtt-pub --help' to see usage.\n"},
		{[]string{"-t", "a", "-m", "x", "-D", "connect", "user-property", "a", "b"}, "Error: MQTT 5 properties (-D, --property) are not supported yet: feedmq speaks MQTT 3.1.1 and 3.1.\n\nUse 'mqtt-pub --help' to see usage.\n"},
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
