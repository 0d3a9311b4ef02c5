package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/internal/cli/clitest"
	"github.com/feedmq/feedmq/internal/mosquittotest"
)

// props5 are the PUBLISH properties the MQTT 5.0 tests send, in property
// identifier order, which is the order mqtt-pub sends them in.
var props5 = []string{
	"-D", "publish", "payload-format-indicator", "1",
	"-D", "publish", "message-expiry-interval", "100",
	"-D", "publish", "content-type", "text/plain",
	"-D", "publish", "response-topic", "reply/here",
	"-D", "publish", "correlation-data", "req-42",
	"-D", "publish", "user-property", "k1", "v1",
	"-D", "publish", "user-property", "k1", "v2",
	"-D", "publish", "user-property", "k2", "",
}

// message5 is one message a 5.0 test publishes.
type message5 struct {
	topic   string   // after the test's prefix
	payload string   // "<null>" for -n
	args    []string // more arguments of the publisher: -q, -D
}

// TestOutputMatchesMosquitto5 runs mosquitto_sub -V 5 and mqtt-sub -V 5
// side by side, publishes the same messages to both with mosquitto_pub -V 5
// and with mqtt-pub -V 5, and checks that they print the same and exit
// alike: every 5.0 -F field (the properties of MQTT 5.0 §3.3.2.3 reach the
// subscriber as sent), %j with its "properties", and -v.
func TestOutputMatchesMosquitto5(t *testing.T) {
	ref := clitest.RequireMosquitto(t, "mosquitto_sub")
	mosquittoPub := clitest.RequireMosquitto(t, "mosquitto_pub")
	mqttPub, err := clitest.Build("../mqtt-pub", "mqtt-pub")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(mqttPub)) })
	b := mosquittotest.Start(t, mosquittotest.Options{})
	env := clitest.Env(t)
	all := "[%A|%3A|%03A|%C|%-12C|%5C|%D|%E|%5E|%-5E|%F|%2F|%P|%R|%12R|%.3R|%S|%4S]"
	for i, tc := range []struct {
		name string
		args []string // {t} stands for the test's topic prefix
		live []message5
	}{
		{"-F every 5.0 field", []string{"-t", "{t}/#", "-C", "3", "-F", all},
			[]message5{{"/a", "hello", props5}, {"/b", "x", nil}, {"/c", "y", []string{"-D", "publish", "payload-format-indicator", "0"}}}},
		{"-F %j", []string{"-t", "{t}/#", "-C", "2", "-q", "1", "-F", "%j"},
			[]message5{{"/a", "hello", append([]string{"-q", "1"}, props5...)}, {"/b", "<null>", nil}}},
		{"-F %J --pretty", []string{"-t", "{t}/#", "-C", "1", "-F", "%J", "--pretty"},
			[]message5{{"/a", `{"k":[1,2]}`, props5}}},
		{"-v", []string{"-t", "{t}/#", "-C", "2", "-v"},
			[]message5{{"/a", "hello", props5}, {"/b", "", nil}}},
		{"user properties of SUBSCRIBE and CONNECT", []string{"-t", "{t}/#", "-C", "1", "-F", "%P|%t",
			"-D", "subscribe", "user-property", "s", "1", "-D", "connect", "user-property", "c", "2",
			"-D", "connect", "receive-maximum", "10", "-D", "connect", "topic-alias-maximum", "5",
			"-D", "connect", "maximum-packet-size", "10000", "-D", "connect", "request-problem-information", "0",
			"-D", "connect", "request-response-information", "1", "-D", "disconnect", "reason-string", "bye"},
			[]message5{{"/a", "x", []string{"-D", "publish", "user-property", "u", "3"}}}},
		{"subscription identifier", []string{"-t", "{t}/#", "-C", "1", "-F", "%S|%4S|%t",
			"-D", "subscribe", "subscription-identifier", "7"},
			[]message5{{"/a", "x", nil}}},
		{"-E", []string{"-t", "{t}/x", "-E", "-x", "30"}, nil},
	} {
		for _, pub := range []string{mosquittoPub, mqttPub} {
			t.Run(tc.name+" from "+filepath.Base(pub), func(t *testing.T) {
				prefix := "v5-" + strconv.Itoa(i) + "-" + filepath.Base(pub)
				args := append(append(brokerArgs(b), "-V", "5"), tc.args...)
				for j := range args {
					args[j] = strings.ReplaceAll(args[j], "{t}", prefix)
				}
				refID, ourID := "ref-"+prefix, "ours-"+prefix
				refProc := clitest.Start(t, ref, env, false, append(args, "-i", refID)...)
				ourProc := clitest.Start(t, mqttSub, env, false, append(args, "-i", ourID)...)
				clitest.WaitLog(t, b, "Sending SUBACK to "+refID+"\n", 1)
				clitest.WaitLog(t, b, "Sending SUBACK to "+ourID+"\n", 1)
				for _, m := range tc.live {
					pargs := append(append(brokerArgs(b), "-V", "5", "-t", prefix+m.topic), m.args...)
					if m.payload == "<null>" {
						pargs = append(pargs, "-n")
					} else {
						pargs = append(pargs, "-m", m.payload)
					}
					r := clitest.Run(t, pub, env, "", pargs...)
					require.Equal(t, 0, r.Code, "%s: %s", pub, r.Stderr)
				}
				want := refProc.Wait(t, 10*time.Second)
				got := ourProc.Wait(t, 10*time.Second)
				want.Stdout = tst.ReplaceAllString(want.Stdout, `"tst":$1"T"`)
				got.Stdout = tst.ReplaceAllString(got.Stdout, `"tst":$1"T"`)
				assert.Equal(t, want, got)
				if len(tc.live) > 0 {
					assert.NotEmpty(t, want.Stdout, "mosquitto_sub printed nothing to compare with")
				}
			})
		}
	}
}

// TestRetainAsPublished checks --retain-as-published (MQTT5-3.3.1-12: the
// broker keeps the RETAIN flag of a forwarded message as published), with
// mosquitto_sub alongside; at 3.1.1 the option has no effect in either.
func TestRetainAsPublished(t *testing.T) {
	ref := clitest.RequireMosquitto(t, "mosquitto_sub")
	b := mosquittotest.Start(t, mosquittotest.Options{})
	env := clitest.Env(t)
	for _, v := range []string{"5", "311"} {
		t.Run("-V "+v, func(t *testing.T) {
			topic := "rap/" + v
			args := append(brokerArgs(b), "-V", v, "-t", topic, "--retain-as-published", "-C", "1", "-F", "%r %p")
			procs := map[string]*clitest.Proc{}
			for id, bin := range map[string]string{"ref" + v: ref, "ours" + v: mqttSub} {
				procs[id] = clitest.Start(t, bin, env, false, append(args, "-i", id)...)
				clitest.WaitLog(t, b, "Sending SUBACK to "+id+"\n", 1)
			}
			publish(t, b, topic, message{"", "live", 0}, true)
			want := procs["ref"+v].Wait(t, 10*time.Second)
			assert.Equal(t, want, procs["ours"+v].Wait(t, 10*time.Second))
			if v == "5" {
				assert.Equal(t, "1 live\n", want.Stdout)
			} else {
				assert.Equal(t, "0 live\n", want.Stdout)
			}
		})
	}
}

// TestRefusal5 checks a 5.0 CONNACK refusal (MQTT5-3.2.2-7: a reason code
// of 0x80 or above): mosquitto_sub's message and the reason code as the
// exit status.
func TestRefusal5(t *testing.T) {
	ref := clitest.RequireMosquitto(t, "mosquitto_sub")
	b := mosquittotest.Start(t, mosquittotest.Options{Users: map[string]string{"bob": "s3cret-pw"}})
	env := clitest.Env(t)
	for _, args := range [][]string{
		{"-V", "5"},
		{"-V", "mqttv5", "-u", "bob", "-P", "wr0ng-pw"},
		{"-V", "5", "--quiet"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			args := append(append(brokerArgs(b), "-t", "a"), args...)
			want := clitest.Run(t, ref, env, "", args...)
			got := clitest.Run(t, mqttSub, env, "", args...)
			assert.Equal(t, want, got)
			assert.Contains(t, []int{134, 135}, got.Code)
		})
	}
}
