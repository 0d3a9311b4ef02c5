package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/feedmq/feedmq/internal/cli/clitest"
)

// mqttSub is the binary the end-to-end tests run, built by TestMain.
var mqttSub string

// TestMain builds mqtt-sub and runs the tests as clitest.Main describes.
func TestMain(m *testing.M) { clitest.Main(m, "mqtt-sub", &mqttSub, &getenv) }

// runSub runs mqtt-sub in-process.
func runSub(args ...string) clitest.Result {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return clitest.Result{Stdout: stdout.String(), Stderr: stderr.String(), Code: code}
}

// usageCases are command lines that fail before any connection is made;
// mqtt-sub must print what mosquitto_sub prints and exit alike.
var usageCases = [][]string{
	nil,
	{"--help"},
	{"--version"},
	{"-v"},
	{"-U", "a"},
	{"-t", "a/#/b"},
	{"-t", "a+"},
	{"-t", "\xff"},
	{"-t", "a", "-T", "a/#/b"},
	{"-t", "a", "-T", "\xff"},
	{"-t", "a", "-U", "a/#/b"},
	{"-t", "a", "-C", "0"},
	{"-t", "a", "-C", "x"},
	{"-t", "a", "-W", "0"},
	{"-t", "a", "-W", "-5"},
	{"-t", "a", "-q", "3"},
	{"-t", "a", "-k", "4"},
	{"-t", "a", "-F", "%"},
	{"-t", "a", "-F", "%-"},
	{"-t", "a", "-F", "%10"},
	{"-t", "a", "-F", "%10.2"},
	{"-t", "a", "-F", "%z"},
	{"-t", "a", "-F", "%0-p"},
	{"-t", "a", "-F", "@"},
	{"-t", "a", "-F", `\`},
	{"-t", "a", "-F", `\q`},
	{"-t", "a", "--random-filter", "0"},
	{"-t", "a", "-m", "x"},
	{"-t", "a", "-r"},
	{"-t", "a", "-n"},
	{"-t", "a", "-l"},
	{"-t", "a", "--repeat", "2"},
	{"-t", "a", "extra"},
	{"-t", "a", "-c"},
	{"-t", "a", "-i", "x", "-I", "y"},
	{"-t", "a", "-R", "--retained-only"},
	{"-t", "a", "--will-retain"},
	{"-t", "a", "--will-topic", "w/+"},
	{"-t", "a", "-P", "pw"},
	{"-t", "a", "-i", ""},
	{"-t", "a", "-L", "ftp://h/t"},
	{"-L", "mqtt://h/a/#/b"},
	{"-t", "a", "--cert", "c"},
	{"-C"}, {"-F"}, {"-T"}, {"-U"}, {"-W"}, {"--random-filter"}, {"-t"}, {"-h"}, {"-p"}, {"-q"},
}

// TestUsageMatchesMosquitto compares every usage error with mosquitto_sub's.
func TestUsageMatchesMosquitto(t *testing.T) {
	ref := clitest.RequireMosquitto(t, "mosquitto_sub")
	env := clitest.Env(t)
	for _, args := range usageCases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			got := runSub(args...)
			want := clitest.Run(t, ref, env, "", args...)
			want.Stderr = strings.ReplaceAll(want.Stderr, "mosquitto_sub", "mqtt-sub")
			assert.Equal(t, want.Code, got.Code, "exit status")
			assert.Equal(t, want.Stderr, got.Stderr)
			assert.Equal(t, want.Stdout == "", got.Stdout == "", "stdout: mosquitto_sub %q, mqtt-sub %q", want.Stdout, got.Stdout)
		})
	}
}

func TestHelp(t *testing.T) {
	got := runSub("--help")
	assert.Equal(t, 1, got.Code)
	assert.True(t, strings.HasPrefix(got.Stdout, "mqtt-sub is a simple mqtt client"), got.Stdout)
	for _, opt := range []string{"--pw-file", "-F", "--pretty", "--random-filter", "--remove-retained", "-W", "--max-packet-size"} {
		assert.Contains(t, got.Stdout, opt)
	}
	got = runSub("--version")
	assert.Equal(t, 1, got.Code)
	assert.Regexp(t, `^mqtt-sub version \S+ \(feedmq, MQTT 5.0, 3.1.1 and 3.1\)`, got.Stdout)
}
