package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/internal/cli/clitest"
	"github.com/feedmq/feedmq/internal/mosquittotest"
)

// TestDebugMatchesMosquitto runs mosquitto_pub -d and mqtt-pub -d with the
// same options against the same broker and checks that they print the same
// packet trace on stdout, line by line, and nothing on stderr. Only the
// client identifiers made up for a run differ: libmosquitto's at 3.1,
// mosquitto's assigned ones at 5.0 (both printed "(null)" in CONNECT), and
// at 3.1.1, where mosquitto_pub sends an empty one and prints "(null)".
func TestDebugMatchesMosquitto(t *testing.T) {
	ref := clitest.RequireMosquitto(t, "mosquitto_pub")
	b := mosquittotest.Start(t, mosquittotest.Options{})
	env := clitest.Env(t)
	large := strings.Repeat("0123456789", 30000)
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
	}{
		{"-q 0", []string{"-t", "dbg/q0", "-m", "hello"}, ""},
		{"-q 1 -i", []string{"-t", "dbg/q1", "-q", "1", "-m", "hello", "-i", "dbg-pub"}, ""},
		{"-q 2 -r -c -i", []string{"-t", "dbg/q2", "-q", "2", "-r", "-c", "-i", "dbg-pub", "-m", "kept"}, ""},
		{"-n -q 1", []string{"-t", "dbg/n", "-q", "1", "-n", "-i", "dbg-pub"}, ""},
		{"-s large", []string{"-t", "dbg/s", "-q", "1", "-s", "-i", "dbg-pub"}, large},
		{"-l -q 0", []string{"-t", "dbg/l", "-l"}, "one\ntwo\nthree\n"},
		{"--repeat -q 1", []string{"-t", "dbg/r", "-q", "1", "-m", "x", "--repeat", "3"}, ""},
		{"-V 31 -q 1", []string{"-V", "mqttv31", "-t", "dbg/v31", "-q", "1", "-m", "old"}, ""},
		{"-V 31 -i", []string{"-V", "mqttv31", "-t", "dbg/v31", "-q", "2", "-m", "old", "-i", "dbg-pub"}, ""},
		{"-V 5 -q 0", []string{"-V", "5", "-t", "dbg/v5", "-m", "new"}, ""},
		{"-V 5 -q 1 -i", []string{"-V", "5", "-t", "dbg/v5", "-q", "1", "-m", "new", "-i", "dbg-pub"}, ""},
		{"-V 5 -q 2", []string{"-V", "5", "-t", "dbg/v5", "-q", "2", "-m", "new"}, ""},
		// No subscriber: the 5.0 PUBACK carries 16, No matching subscribers.
		{"-V 5 -D", []string{"-V", "5", "-t", "dbg/v5", "-q", "1", "-m", "new", "-i", "dbg-pub",
			"-D", "connect", "user-property", "a", "b", "-D", "connect", "session-expiry-interval", "30",
			"-D", "publish", "content-type", "text/plain", "-D", "publish", "message-expiry-interval", "60",
			"-D", "disconnect", "session-expiry-interval", "0"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(brokerArgs(b), append(tc.args, "-d")...)
			want := clitest.Run(t, ref, env, tc.stdin, args...)
			require.Equal(t, 0, want.Code, "mosquitto_pub: %s", want.Stderr)
			got := clitest.Run(t, mqttPub, env, tc.stdin, args...)
			assert.Equal(t, 0, got.Code, "mqtt-pub: %s", got.Stderr)
			assert.Empty(t, got.Stderr)
			assert.Equal(t, want.Stderr, got.Stderr)
			v311 := !strings.Contains(tc.name, "-V") && !strings.Contains(tc.name, "-i")
			assert.Equal(t, clitest.NormalizeTrace(want.Stdout, v311), clitest.NormalizeTrace(got.Stdout, false))
		})
	}
}

// TestDebugRefusal checks -d when the broker refuses the connection, at
// each protocol version: the CONNECT and the CONNACK with its code, as
// mosquitto_pub prints them, and its error on stderr. The password is
// printed nowhere.
func TestDebugRefusal(t *testing.T) {
	ref := clitest.RequireMosquitto(t, "mosquitto_pub")
	b := mosquittotest.Start(t, mosquittotest.Options{Users: map[string]string{"alice": "s3cret-pw"}})
	env := clitest.Env(t)
	for _, v := range []string{"mqttv31", "mqttv311", "mqttv5"} {
		t.Run(v, func(t *testing.T) {
			args := append(brokerArgs(b), "-V", v, "-t", "a", "-m", "x", "-u", "alice", "-P", "wr0ng-pw", "-i", "dbg-refused", "-d")
			want := clitest.Run(t, ref, env, "", args...)
			require.NotEqual(t, 0, want.Code)
			got := clitest.Run(t, mqttPub, env, "", args...)
			assert.Equal(t, want, got)
			assert.NotContains(t, got.Stdout+got.Stderr, "wr0ng-pw")
		})
	}
}
