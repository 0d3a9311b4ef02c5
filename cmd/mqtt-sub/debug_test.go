package main

import (
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/internal/cli/clitest"
	"github.com/feedmq/feedmq/internal/mosquittotest"
)

// TestDebugMatchesMosquitto runs mosquitto_sub -d and mqtt-sub -d with the
// same options against the same broker, which holds retained messages at
// each QoS, and compares what they print on stdout: the packet trace,
// mosquitto_sub's "Subscribed" line and the messages.
//
// mosquitto_sub prints a message once its QoS 1 or 2 flow is complete, on
// the thread that reads; mqtt-sub prints it from its handler, before the
// acknowledgment goes out (the client acknowledges once the handler
// returned), while the reader goes on. So the packets received, the packets
// sent and the messages are compared each in their order (the messages but
// for that of QoS 2 ones, see below), and each message must follow its
// PUBLISH. mosquitto_sub runs with -C; mqtt-sub, whose -C
// may disconnect before a QoS 2 flow ends, is interrupted once it printed
// everything, as mosquitto_sub is by SIGINT.
func TestDebugMatchesMosquitto(t *testing.T) {
	ref := clitest.RequireMosquitto(t, "mosquitto_sub")
	b := mosquittotest.Start(t, mosquittotest.Options{})
	for _, m := range []message{{"a", "at most once", 0}, {"b", "at least once", 1}, {"c", "exactly once", 2}, {"d", "last", 1}} {
		publish(t, b, "dbg/", m, true)
	}
	env := clitest.Env(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"-q 0", []string{"-q", "0"}},
		{"-q 1 -i", []string{"-q", "1", "-i", "dbg-sub"}},
		{"-q 2 -i", []string{"-q", "2", "-i", "dbg-sub"}},
		{"-q 2 two filters", []string{"-q", "2", "-t", "dbg/none", "-i", "dbg-sub"}},
		{"-V 31 -q 2", []string{"-V", "mqttv31", "-q", "2"}},
		{"-V 31 -i", []string{"-V", "mqttv31", "-q", "1", "-i", "dbg-sub"}},
		{"-V 5 -q 2", []string{"-V", "5", "-q", "2"}},
		{"-V 5 -i --retain-as-published", []string{"-V", "5", "-q", "1", "-i", "dbg-sub", "--retain-as-published"}},
		{"-V 5 -D", []string{"-V", "5", "-q", "2", "-i", "dbg-sub", "-D", "subscribe", "subscription-identifier", "7",
			"-D", "connect", "user-property", "a", "b", "-D", "disconnect", "reason-string", "bye"}},
		{"--quiet", []string{"-q", "1", "--quiet", "-i", "dbg-sub"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(brokerArgs(b), append([]string{"-t", "dbg/#", "-v", "-d"}, tc.args...)...)
			want := clitest.Run(t, ref, env, "", append(args, "-C", "4")...)
			require.Equal(t, 0, want.Code, "mosquitto_sub: %s", want.Stderr)
			v311 := !strings.Contains(tc.name, "-V") && !strings.Contains(tc.name, "-i")
			wantLines := clitest.NormalizeTrace(want.Stdout, v311)
			require.True(t, strings.HasSuffix(wantLines[len(wantLines)-1], " sending DISCONNECT\n"), want.Stdout)

			sub := clitest.Start(t, mqttSub, env, false, args...)
			// Everything but DISCONNECT, then SIGINT.
			require.Eventually(t, func() bool {
				return len(clitest.NormalizeTrace(sub.Stdout(), false)) >= len(wantLines)-1
			}, 10*time.Second, 10*time.Millisecond, "mqtt-sub printed:\n%s", sub.Stdout())
			require.NoError(t, sub.Signal(syscall.SIGINT))
			got := sub.Wait(t, 10*time.Second)
			assert.Equal(t, 0, got.Code)
			assert.Equal(t, want.Stderr, got.Stderr)
			gotLines := clitest.NormalizeTrace(got.Stdout, false)

			wantIn, wantOut, wantMsgs := clitest.TraceStreams(wantLines)
			gotIn, gotOut, gotMsgs := clitest.TraceStreams(gotLines)
			assert.Equal(t, wantIn, gotIn, "received")
			assert.Equal(t, wantOut, gotOut, "sent")
			// mosquitto_sub prints a QoS 2 message on PUBREL, after the
			// messages that arrived meanwhile; mqtt-sub prints in the order
			// of arrival.
			slices.Sort(wantMsgs)
			slices.Sort(gotMsgs)
			assert.Equal(t, wantMsgs, gotMsgs, "messages")
			// Each message follows its PUBLISH.
			publishes := 0
			for _, l := range gotLines {
				switch in, _, msg := clitest.TraceStreams([]string{l}); {
				case len(in) == 1 && strings.Contains(in[0], " received PUBLISH "):
					publishes++
				case len(msg) == 1:
					assert.Positive(t, publishes, "message %q before any PUBLISH", l)
					publishes--
				}
			}
		})
	}
}

// TestDebugRefusal checks -d when the broker refuses the connection, at
// each protocol version: the CONNECT and the CONNACK with its code as
// mosquitto_sub prints them, and its error on stderr. The password is
// printed nowhere.
//
// mosquitto_sub then prints "sending DISCONNECT", for the DISCONNECT it
// writes to the connection the broker is closing; mqtt-sub sends none.
func TestDebugRefusal(t *testing.T) {
	ref := clitest.RequireMosquitto(t, "mosquitto_sub")
	b := mosquittotest.Start(t, mosquittotest.Options{Users: map[string]string{"alice": "s3cret-pw"}})
	env := clitest.Env(t)
	for _, v := range []string{"mqttv31", "mqttv311", "mqttv5"} {
		t.Run(v, func(t *testing.T) {
			args := append(brokerArgs(b), "-V", v, "-t", "a", "-u", "alice", "-P", "wr0ng-pw", "-i", "dbg-refused", "-d")
			want := clitest.Run(t, ref, env, "", args...)
			require.NotEqual(t, 0, want.Code)
			want.Stdout = strings.TrimSuffix(want.Stdout, "Client dbg-refused sending DISCONNECT\n")
			got := clitest.Run(t, mqttSub, env, "", args...)
			assert.Equal(t, want, got)
			assert.NotContains(t, got.Stdout+got.Stderr, "wr0ng-pw")
		})
	}
}
