package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/cli/clitest"
	"github.com/feedmq/feedmq/internal/mosquittotest"
)

func brokerArgs(b *mosquittotest.Broker) []string {
	host, port, _ := strings.Cut(b.Addr(), ":")
	return []string{"-h", host, "-p", port}
}

// message is one message a test publishes with mosquitto_pub.
type message struct {
	topic   string // after the test's prefix
	payload string // "<null>" for -n
	qos     int
}

// publish sends m with mosquitto_pub, retained or not.
func publish(t *testing.T, b *mosquittotest.Broker, prefix string, m message, retain bool) {
	t.Helper()
	args := append(brokerArgs(b), "-t", prefix+m.topic, "-q", strconv.Itoa(m.qos))
	if m.payload == "<null>" {
		args = append(args, "-n")
	} else {
		args = append(args, "-m", m.payload)
	}
	if retain {
		args = append(args, "-r")
	}
	r := clitest.Run(t, clitest.RequireMosquitto(t, "mosquitto_pub"), clitest.Env(t), "", args...)
	require.Equal(t, 0, r.Code, "mosquitto_pub: %s", r.Stderr)
}

// tst hides the time of %j and %J output, which differs between two runs.
var tst = regexp.MustCompile(`"tst":(\t?)"[^"]*"`)

// TestOutputMatchesMosquitto runs mosquitto_sub and mqtt-sub side by side
// with the same options, publishes the same messages to both with
// mosquitto_pub (retained ones before they subscribe, live ones after), and
// checks that they print the same and exit alike.
func TestOutputMatchesMosquitto(t *testing.T) {
	ref := clitest.RequireMosquitto(t, "mosquitto_sub")
	clitest.RequireMosquitto(t, "mosquitto_pub")
	b := mosquittotest.Start(t, mosquittotest.Options{})
	env := clitest.Env(t)
	for i, tc := range []struct {
		name     string
		args     []string // {t} stands for the test's topic prefix
		retained []message
		live     []message
	}{
		{"payload", []string{"-t", "{t}/#", "-C", "3"}, nil,
			[]message{{"/a", "hello", 0}, {"/b", "<null>", 0}, {"/c", "world", 1}}},
		{"-v", []string{"-t", "{t}/#", "-v", "-C", "3"}, nil,
			[]message{{"/a", "x", 0}, {"/b", "", 0}, {"/c", "two words", 2}}},
		{"-v -N", []string{"-t", "{t}/#", "-v", "-N", "-C", "3"}, nil,
			[]message{{"/a", "x", 0}, {"/b", "", 0}, {"/c", "y", 0}}},
		{"-N", []string{"-t", "{t}/#", "-N", "-C", "2"}, nil,
			[]message{{"/a", "x", 0}, {"/b", "y", 0}}},
		{"-F fields", []string{"-t", "{t}/#", "-q", "2", "-C", "3", "-F", `%t|%p|%q|%r|%l|%x|%X|%10p|%-10t|%5.2t|%05l|%%|\t@@`}, nil,
			[]message{{"/a", "zero", 0}, {"/b", "one", 1}, {"/c", "", 2}}},
		// %m is the packet identifier the broker gave the PUBLISH: 0 at QoS 0.
		// (QoS 1 only: mosquitto_sub prints a QoS 2 message on PUBREL, so
		// that a later QoS 1 message may come out before it.)
		{"-F %m", []string{"-t", "{t}/#", "-q", "1", "-C", "3", "-F", "%q %m|%5m|%j"}, nil,
			[]message{{"/a", "x", 1}, {"/b", "y", 0}, {"/c", "z", 1}}},
		{"-F %j", []string{"-t", "{t}/#", "-C", "2", "-F", "%j"}, nil,
			[]message{{"/a", "say \"hi\"\\\t\x01", 0}, {"/b", "<null>", 0}}},
		{"-F %J --pretty", []string{"-t", "{t}/#", "-C", "1", "-F", "%J", "--pretty"}, nil,
			[]message{{"/a", `{"k": [1, 2.50, {"x": null, "y": "\u00e9"}], "e": {}}`, 0}}},
		{"-F %J not JSON", []string{"-t", "{t}/#", "-C", "2", "-F", "<%J>"}, nil,
			[]message{{"/a", "not json", 0}, {"/b", "[1e3]", 0}}},
		{"-F -N", []string{"-t", "{t}/#", "-C", "2", "-F", "%t=%p;", "-N"}, nil,
			[]message{{"/a", "1", 0}, {"/b", "2", 0}}},
		{"retained", []string{"-t", "{t}/#", "-v", "-C", "2", "-F", "%t %r %p"},
			[]message{{"/a", "r1", 1}, {"/b", "r2", 0}}, nil},
		{"-R", []string{"-t", "{t}/#", "-v", "-R", "-C", "1"},
			[]message{{"/a", "old", 0}}, []message{{"/b", "fresh", 0}}},
		{"--retained-only", []string{"-t", "{t}/#", "-v", "--retained-only"},
			[]message{{"/a", "r1", 0}, {"/b", "r2", 0}}, []message{{"/c", "live", 0}}},
		{"-T", []string{"-t", "{t}/#", "-T", "{t}/skip/#", "-v", "-C", "2"}, nil,
			[]message{{"/skip/x", "no", 0}, {"/keep", "yes", 0}, {"/skip", "no", 0}, {"/keep2", "yes", 0}}},
		{"overlapping filters", []string{"-t", "{t}/a", "-t", "{t}/#", "-t", "{t}/+", "-v", "-C", "2"}, nil,
			[]message{{"/a", "1", 1}, {"/b", "2", 0}}},
		{"-E", []string{"-t", "{t}/x", "-E"}, nil, nil},
		{"-U", []string{"-t", "{t}/a", "-t", "{t}/b", "-U", "{t}/b", "-v", "-C", "1"}, nil,
			[]message{{"/b", "no", 0}, {"/a", "yes", 0}}},
		{"-q 1 downgrades", []string{"-t", "{t}/#", "-q", "1", "-C", "2", "-F", "%q"}, nil,
			[]message{{"/a", "x", 2}, {"/b", "x", 0}}},
		{"-V 31", []string{"-t", "{t}/#", "-V", "mqttv31", "-C", "1", "-v"}, nil,
			[]message{{"/a", "x", 0}}},
		{"-L", []string{"-L", "mqtt://" + b.Addr() + "/{t}/#", "-C", "1", "-v"}, nil,
			[]message{{"/a", "x", 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := "c" + strconv.Itoa(i)
			args := append(brokerArgs(b), tc.args...)
			for j := range args {
				args[j] = strings.ReplaceAll(args[j], "{t}", prefix)
			}
			for _, m := range tc.retained {
				publish(t, b, prefix, m, true)
			}
			refID, ourID := "ref-"+prefix, "ours-"+prefix
			refProc := clitest.Start(t, ref, env, false, append(args, "-i", refID)...)
			ourProc := clitest.Start(t, mqttSub, env, false, append(args, "-i", ourID)...)
			// Both subscribe to every filter in one SUBSCRIBE.
			ack := "Sending SUBACK to "
			if strings.Contains(strings.Join(tc.args, " "), "-U ") {
				ack = "Sending UNSUBACK to "
			}
			clitest.WaitLog(t, b, ack+refID+"\n", 1)
			clitest.WaitLog(t, b, ack+ourID+"\n", 1)
			for _, m := range tc.live {
				publish(t, b, prefix, m, false)
			}
			want := refProc.Wait(t, 10*time.Second)
			got := ourProc.Wait(t, 10*time.Second)
			want.Stdout = tst.ReplaceAllString(want.Stdout, `"tst":$1"T"`)
			got.Stdout = tst.ReplaceAllString(got.Stdout, `"tst":$1"T"`)
			want.Stderr = strings.ReplaceAll(want.Stderr, "mosquitto_sub", "mqtt-sub")
			assert.Equal(t, want, got)
			if len(tc.live)+len(tc.retained) > 0 {
				assert.NotEmpty(t, want.Stdout, "mosquitto_sub printed nothing to compare with")
			}
		})
	}
}

// TestSharedSubscription subscribes to a shared subscription and to a
// filter that overlaps it. mosquitto sends a matching message once, and
// mqtt-sub, whose filters share one subscription, prints it once, as
// mosquitto_sub does. The two tools run one after the other, since
// two members of one share group would split its messages.
func TestSharedSubscription(t *testing.T) {
	clitest.RequireMosquitto(t, "mosquitto_pub")
	b := mosquittotest.Start(t, mosquittotest.Options{})
	env := clitest.Env(t)
	tools := map[string]string{"ours": mqttSub}
	if ref := clitest.Mosquitto("mosquitto_sub"); ref != "" {
		tools["ref"] = ref
	}
	for id, bin := range tools {
		prefix := "shared-" + id
		args := append(brokerArgs(b), "-t", "$share/g/"+prefix+"/#", "-t", prefix+"/a", "-v", "-C", "2", "-i", id)
		p := clitest.Start(t, bin, env, false, args...)
		clitest.WaitLog(t, b, "Sending SUBACK to "+id+"\n", 1) // one SUBSCRIBE for both filters
		publish(t, b, prefix, message{"/a", "1", 1}, false)
		publish(t, b, prefix, message{"/b", "2", 0}, false)
		want := clitest.Result{Stdout: prefix + "/a 1\n" + prefix + "/b 2\n"}
		assert.Equal(t, want, p.Wait(t, 10*time.Second), id)
	}
}

// TestLargeMessages sends random binary payloads of 1 MiB (the client's
// default limit) and 16 MiB from a file, and checks that mqtt-sub -N prints
// them byte for byte, as mosquitto_sub would: it accepts any packet the
// protocol allows unless --max-packet-size says otherwise. mqtt-pub sends
// both; mosquitto_pub sends the smaller one too, to cover a publisher that
// is not feedmq. The test broker sets no message_size_limit or
// max_packet_size, so mosquitto passes any size on.
func TestLargeMessages(t *testing.T) {
	mosquittoPub := clitest.RequireMosquitto(t, "mosquitto_pub")
	mqttPub, err := clitest.Build("../mqtt-pub", "mqtt-pub")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(mqttPub)) })
	b := mosquittotest.Start(t, mosquittotest.Options{})
	env := clitest.Env(t)
	for i, tc := range []struct {
		size      int
		publisher string
	}{
		{1 << 20, mqttPub},
		{1 << 20, mosquittoPub},
		{16 << 20, mqttPub},
	} {
		name := fmt.Sprintf("%d bytes from %s", tc.size, filepath.Base(tc.publisher))
		t.Run(name, func(t *testing.T) {
			payload := make([]byte, tc.size)
			rand.NewChaCha8([32]byte{byte(i)}).Read(payload)
			file := filepath.Join(t.TempDir(), "payload")
			require.NoError(t, os.WriteFile(file, payload, 0o600))
			id := "large-" + strconv.Itoa(i)
			topic := "large/" + id
			p := clitest.Start(t, mqttSub, env, false, append(brokerArgs(b), "-t", topic, "-q", "1", "-N", "-C", "1", "-i", id)...)
			clitest.WaitLog(t, b, "Sending SUBACK to "+id+"\n", 1)
			r := clitest.Run(t, tc.publisher, env, "", append(brokerArgs(b), "-t", topic, "-q", "1", "-f", file)...)
			require.Equal(t, 0, r.Code, r.Stderr)
			got := p.Wait(t, clitest.RunTimeout)
			assert.Zero(t, got.Code, got.Stderr)
			assert.Empty(t, got.Stderr)
			if !bytes.Equal([]byte(got.Stdout), payload) {
				t.Errorf("mqtt-sub printed %d bytes, not the %d bytes sent (first difference at byte %d)",
					len(got.Stdout), len(payload), firstDifference([]byte(got.Stdout), payload))
			}
		})
	}
}

// firstDifference returns the offset of the first byte where a and b
// differ, or the length of the shorter one.
func firstDifference(a, b []byte) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// TestMaxPacketSize lowers the limit: a larger message is skipped with a
// warning that names it, the connection stays up, and the next message
// that fits is printed.
func TestMaxPacketSize(t *testing.T) {
	clitest.RequireMosquitto(t, "mosquitto_pub")
	b := mosquittotest.Start(t, mosquittotest.Options{})
	env := clitest.Env(t)
	p := clitest.Start(t, mqttSub, env, false, append(brokerArgs(b), "-t", "limit/#", "-v", "-C", "1", "-i", "limited", "--max-packet-size", "1000")...)
	clitest.WaitLog(t, b, "Sending SUBACK to limited\n", 1)
	// A PUBLISH of QoS 0 to limit/big has a remaining length of 2 + 9 + 1000.
	publish(t, b, "limit", message{"/big", strings.Repeat("x", 1000), 0}, false)
	publish(t, b, "limit", message{"/small", "fits", 0}, false)
	got := p.Wait(t, 10*time.Second)
	assert.Equal(t, "limit/small fits\n", got.Stdout)
	assert.Zero(t, got.Code)
	assert.Equal(t, "Warning: message over MaxPacketSize skipped: topic \"limit/big\", QoS 0, remaining length 1011, limit 1000 (see --max-packet-size)\n", got.Stderr)
	assert.Equal(t, 1, strings.Count(b.Log(), " as limited ("), "no reconnect")
}

// TestRefusal checks that a refused connection exits with the CONNACK return
// code and mosquitto_sub's message, and that the password may come from the
// environment.
func TestRefusal(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Options{Users: map[string]string{"bob": "s3cret-pw"}})
	env := clitest.Env(t)
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
	}{
		{"anonymous", env, nil, 5},
		{"wrong password", env, []string{"-u", "bob", "-P", "wr0ng-pw"}, 5},
		{"wrong password, quiet", env, []string{"-u", "bob", "-P", "wr0ng-pw", "--quiet"}, 5},
		{"environment", append(clitest.Env(t), "MQTT_PASSWORD=s3cret-pw"), []string{"-u", "bob", "-E", "-d"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append(brokerArgs(b), "-t", "a"), tc.args...)
			got := clitest.Run(t, mqttSub, tc.env, "", args...)
			assert.Equal(t, tc.code, got.Code, got.Stderr)
			assert.NotContains(t, got.Stdout+got.Stderr, "s3cret-pw")
			assert.NotContains(t, got.Stdout+got.Stderr, "wr0ng-pw")
			if tc.code == 0 {
				assert.Contains(t, got.Stdout, "received SUBACK\nSubscribed (mid: 1): 0\n")
				return
			}
			if ref := clitest.Mosquitto("mosquitto_sub"); ref != "" {
				assert.Equal(t, clitest.Run(t, ref, tc.env, "", args...), got)
			}
		})
	}
}

// TestTimeout checks -W: "Timed out" and exit status 27, as mosquitto_sub.
func TestTimeout(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Options{})
	env := clitest.Env(t)
	args := append(brokerArgs(b), "-t", "nothing", "-W", "1")
	got := clitest.Run(t, mqttSub, env, "", args...)
	assert.Equal(t, clitest.Result{Stderr: "Timed out\n", Code: 27}, got)
	if ref := clitest.Mosquitto("mosquitto_sub"); ref != "" {
		assert.Equal(t, clitest.Run(t, ref, env, "", args...), got)
	}
}

// TestNoBroker checks the failure of the first connection.
func TestNoBroker(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Options{})
	args := append(brokerArgs(b), "-t", "a")
	b.Stop()
	env := clitest.Env(t)
	got := clitest.Run(t, mqttSub, env, "", args...)
	assert.Equal(t, clitest.Result{Stderr: "Error: Connection refused\n", Code: 1}, got)
	if ref := clitest.Mosquitto("mosquitto_sub"); ref != "" {
		assert.Equal(t, clitest.Run(t, ref, env, "", args...), got)
	}
}

// TestResubscribeAfterRestart restarts a broker that keeps no sessions:
// mqtt-sub, like mosquitto_sub, must connect and subscribe again, and SIGTERM
// then ends both with status 0.
func TestResubscribeAfterRestart(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Options{})
	env := clitest.Env(t)
	args := append(brokerArgs(b), "-t", "r/x", "-v")
	procs := map[string]*clitest.Proc{"ours": clitest.Start(t, mqttSub, env, false, append(args, "-i", "ours")...)}
	if ref := clitest.Mosquitto("mosquitto_sub"); ref != "" {
		procs["ref"] = clitest.Start(t, ref, env, false, append(args, "-i", "ref")...)
	}
	for id := range procs {
		clitest.WaitLog(t, b, "Sending SUBACK to "+id+"\n", 1)
	}
	publish(t, b, "r", message{"/x", "before", 1}, false)
	b.Restart()
	for id := range procs {
		clitest.WaitLog(t, b, "Sending SUBACK to "+id+"\n", 2)
	}
	publish(t, b, "r", message{"/x", "after", 1}, false)
	for id, p := range procs {
		p.WaitOutput(t, "r/x after\n", 10*time.Second)
		require.NoError(t, p.Signal(syscall.SIGTERM))
		assert.Equal(t, clitest.Result{Stdout: "r/x before\nr/x after\n"}, p.Wait(t, 10*time.Second), id)
	}
}

// TestRemoveRetained checks that --remove-retained clears the retained
// messages it prints, and only those (-T keeps one).
func TestRemoveRetained(t *testing.T) {
	clitest.RequireMosquitto(t, "mosquitto_pub")
	b := mosquittotest.Start(t, mosquittotest.Options{})
	env := clitest.Env(t)
	publish(t, b, "rr", message{"/a", "r1", 1}, true)
	publish(t, b, "rr", message{"/b", "r2", 1}, true)
	got := clitest.Run(t, mqttSub, env, "", append(brokerArgs(b), "-t", "rr/#", "-T", "rr/b", "--remove-retained", "-v", "-C", "1")...)
	assert.Equal(t, clitest.Result{Stdout: "rr/a r1\n"}, got)
	got = clitest.Run(t, mqttSub, env, "", append(brokerArgs(b), "-t", "rr/#", "-v", "-W", "1")...)
	assert.Equal(t, clitest.Result{Stdout: "rr/b r2\n", Stderr: "Timed out\n", Code: 27}, got)
}

// TestManyMessages checks that a burst of messages is printed whole and in
// order, as a pipe reader gets it, and that --random-filter 100 keeps them
// all (mosquitto_sub 2.0.11 would print a tenth).
func TestManyMessages(t *testing.T) {
	ref := clitest.RequireMosquitto(t, "mosquitto_pub")
	b := mosquittotest.Start(t, mosquittotest.Options{})
	env := clitest.Env(t)
	const n = 2000
	p := clitest.Start(t, mqttSub, env, false, append(brokerArgs(b), "-t", "burst", "-q", "1", "-C", strconv.Itoa(n), "-i", "burst-sub", "--random-filter", "100")...)
	clitest.WaitLog(t, b, "Sending SUBACK to burst-sub\n", 1)
	var lines strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&lines, "%d\n", i)
	}
	r := clitest.Run(t, ref, env, lines.String(), append(brokerArgs(b), "-t", "burst", "-q", "1", "-l")...)
	require.Equal(t, 0, r.Code, r.Stderr)
	got := p.Wait(t, 20*time.Second)
	assert.Equal(t, clitest.Result{Stdout: lines.String()}, got)
}

// TestTimeFieldsMatchMosquitto compares the date fields of -F (the @
// strftime fields and %I) with mosquitto_sub's in a time zone with a
// fraction of an hour. Fields finer than a day are left out, as the two runs
// are apart by a few milliseconds; the unit tests of internal/cli check
// those against values worked out by hand.
func TestTimeFieldsMatchMosquitto(t *testing.T) {
	ref := clitest.RequireMosquitto(t, "mosquitto_sub")
	b := mosquittotest.Start(t, mosquittotest.Options{})
	publish(t, b, "time", message{"", "x", 0}, true)
	env := clitest.Env(t)
	for i := range env {
		if strings.HasPrefix(env[i], "TZ=") {
			env[i] = "TZ=Asia/Kolkata"
		}
	}
	format := `@Y-@m-@d|@a|@A|@b|@B|@h|@e|@j|@u|@w|@U|@W|@V|@G|@g|@y|@C|@z|@Z|@D|@F|@x|@n|@t|@%|@@|@E|@q|%.10I`
	args := append(brokerArgs(b), "-t", "time", "-C", "1", "-F", format)
	want := clitest.Run(t, ref, env, "", args...)
	got := clitest.Run(t, mqttSub, env, "", args...)
	assert.Equal(t, want, got)
	assert.Contains(t, got.Stdout, "|+0530|IST|")
}

// TestTLS subscribes over TLS with a client certificate, and checks the
// failure against a server the CAs do not vouch for: exit status 8
// (MOSQ_ERR_TLS), as mosquitto_sub, which also exits 1 when the handshake
// fails before its connect call returns.
func TestTLS(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Options{TLS: true, RequireClientCert: true})
	_, tlsPort, _ := strings.Cut(b.TLSAddr(), ":")
	env := clitest.Env(t)
	got := clitest.Run(t, mqttSub, env, "", "-h", "localhost", "-p", tlsPort, "-t", "a", "-E",
		"--cafile", b.CAFile(), "--cert", b.ClientCertFile(), "--key", b.ClientKeyFile())
	assert.Equal(t, clitest.Result{}, got)

	args := []string{"-h", "localhost", "-p", tlsPort, "-t", "a", "-E", "--tls-use-os-certs"}
	got = clitest.Run(t, mqttSub, env, "", args...)
	assert.Equal(t, 8, got.Code)
	assert.Regexp(t, `^Error: A TLS error occurred \(.*certificate.*\)\.\n$`, got.Stderr)
	if ref := clitest.Mosquitto("mosquitto_sub"); ref != "" {
		want := clitest.Run(t, ref, env, "", args...)
		if want.Code == 8 {
			assert.Equal(t, "Error: A TLS error occurred.\n", want.Stderr)
		} else {
			assert.Equal(t, clitest.Result{Stderr: "Unable to connect (A TLS error occurred.).\n", Code: 1}, want)
		}
	}
}

// TestWill checks that the will of --will-topic is published when mqtt-sub
// dies without disconnecting.
func TestWill(t *testing.T) {
	ref := clitest.RequireMosquitto(t, "mosquitto_sub")
	b := mosquittotest.Start(t, mosquittotest.Options{})
	env := clitest.Env(t)
	watcher := clitest.Start(t, ref, env, false, append(brokerArgs(b), "-t", "will/#", "-v", "-C", "1", "-i", "watcher")...)
	clitest.WaitLog(t, b, "Sending SUBACK to watcher\n", 1)
	p := clitest.Start(t, mqttSub, env, false, append(brokerArgs(b), "-t", "x", "-i", "dying",
		"--will-topic", "will/dying", "--will-payload", "gone", "--will-qos", "1", "--will-retain")...)
	clitest.WaitLog(t, b, "Sending SUBACK to dying\n", 1)
	require.NoError(t, p.Signal(syscall.SIGKILL))
	p.Wait(t, 5*time.Second)
	assert.Equal(t, clitest.Result{Stdout: "will/dying gone\n"}, watcher.Wait(t, 10*time.Second))
}

// TestArrivalOrderAcrossFilters publishes 10,000 messages alternately to
// topics that three -t filters match: mqtt-sub prints them in the order
// they arrived, as mosquitto_sub does, since all filters share one handler
// goroutine (client.SubscribeMany).
func TestArrivalOrderAcrossFilters(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Options{})
	env := clitest.Env(t)
	const n = 10_000
	topics := []string{"order/a", "order/b/1", "order/c/2"}
	p := clitest.Start(t, mqttSub, env, false, append(brokerArgs(b), "-t", "order/a", "-t", "order/b/#", "-t", "order/c/+",
		"-v", "-C", strconv.Itoa(n), "-i", "order-sub")...)
	pub, err := client.New(client.Config{Brokers: []string{b.URL()}, ClientID: "order-pub"})
	require.NoError(t, err)
	defer pub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, pub.Connect(ctx))
	clitest.WaitLog(t, b, "Sending SUBACK to order-sub\n", 1)
	var want strings.Builder
	for i := range n {
		topic := topics[i%len(topics)]
		fmt.Fprintf(&want, "%s %d\n", topic, i)
		require.NoError(t, pub.Publish(ctx, topic, []byte(strconv.Itoa(i))))
	}
	got := p.Wait(t, 30*time.Second)
	assert.Equal(t, 0, got.Code, got.Stderr)
	assert.Equal(t, want.String(), got.Stdout)
}
