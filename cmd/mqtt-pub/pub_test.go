package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/cli/clitest"
	"github.com/feedmq/feedmq/internal/mosquittotest"
)

// received is what a subscriber saw of one message.
type received struct {
	Topic    string
	Payload  string
	QoS      client.QoS
	Retained bool
}

// collector subscribes with the client library and keeps what arrives.
type collector struct {
	mu   sync.Mutex
	msgs []received
	more chan struct{}
}

func collect(t *testing.T, cfg client.Config, filter string, qos client.QoS) *collector {
	t.Helper()
	col := &collector{more: make(chan struct{}, 1)}
	c, err := client.New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.Connect(ctx))
	t.Cleanup(func() { c.Close() })
	_, err = c.Subscribe(ctx, filter, qos, func(m *client.Message) {
		col.mu.Lock()
		col.msgs = append(col.msgs, received{m.Topic, string(m.Payload), m.QoS, m.Retained})
		col.mu.Unlock()
		select {
		case col.more <- struct{}{}:
		default:
		}
	})
	require.NoError(t, err)
	return col
}

// wait returns the messages once n have arrived, or what arrived within
// timeout.
func (col *collector) wait(n int, timeout time.Duration) []received {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		col.mu.Lock()
		got := append([]received(nil), col.msgs...)
		col.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-col.more:
		case <-deadline.C:
			return got
		}
	}
}

func (col *collector) reset() {
	col.mu.Lock()
	col.msgs = nil
	col.mu.Unlock()
}

func brokerArgs(b *mosquittotest.Broker) []string {
	host, port, _ := strings.Cut(b.Addr(), ":")
	return []string{"-h", host, "-p", port}
}

// TestPublishMatchesMosquitto publishes with mosquitto_pub and with mqtt-pub
// for the same options and checks that a subscriber receives the same
// messages from both.
func TestPublishMatchesMosquitto(t *testing.T) {
	ref := clitest.RequireMosquitto(t, "mosquitto_pub")
	b := mosquittotest.Start(t, mosquittotest.Options{})
	file := filepath.Join(t.TempDir(), "payload")
	require.NoError(t, os.WriteFile(file, []byte("from\x00a\nfile"), 0o600))
	col := collect(t, client.Config{Brokers: []string{b.URL()}}, "cmp/#", client.ExactlyOnce)
	env := clitest.Env(t)
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		n     int
	}{
		{"-m", []string{"-t", "cmp/m", "-m", "hello world"}, "", 1},
		{"-m empty", []string{"-t", "cmp/m", "-m", ""}, "", 1},
		{"-n", []string{"-t", "cmp/n", "-n"}, "", 1},
		{"-f", []string{"-t", "cmp/f", "-f", file}, "", 1},
		{"-s", []string{"-t", "cmp/s", "-s"}, "all\nof\nstdin\n", 1},
		{"-l", []string{"-t", "cmp/l", "-l"}, "one\n\nthree\r\nno newline", 4},
		{"-q 1", []string{"-t", "cmp/q1", "-q", "1", "-m", "at least once"}, "", 1},
		{"-q 2 --repeat", []string{"-t", "cmp/q2", "-q", "2", "-m", "exactly once", "--repeat", "3", "--repeat-delay", "0.01"}, "", 3},
		{"-l -q 2", []string{"-t", "cmp/lq2", "-q", "2", "-l"}, "a\nb\nc\n", 3},
		{"-V 31", []string{"-t", "cmp/v31", "-V", "mqttv31", "-m", "old"}, "", 1},
		{"-L", []string{"-L", "mqtt://" + b.Addr() + "/cmp/url", "-m", "by URL"}, "", 1},
		{"will and options", []string{"-t", "cmp/opts", "-m", "x", "-k", "30", "-M", "1", "--nodelay", "-i", "pub-id", "-c", "--will-topic", "cmp/will", "--will-payload", "bye", "-A", "127.0.0.1"}, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(brokerArgs(b), tc.args...)
			if tc.name == "-L" {
				args = tc.args
			}
			col.reset()
			want := clitest.Run(t, ref, env, tc.stdin, args...)
			require.Equal(t, 0, want.Code, "mosquitto_pub: %s", want.Stderr)
			wantMsgs := col.wait(tc.n, 5*time.Second)
			require.Len(t, wantMsgs, tc.n)

			col.reset()
			got := clitest.Run(t, mqttPub, env, tc.stdin, args...)
			assert.Equal(t, 0, got.Code, "mqtt-pub: %s", got.Stderr)
			assert.Empty(t, got.Stdout)
			assert.Empty(t, got.Stderr)
			assert.Equal(t, wantMsgs, col.wait(tc.n, 5*time.Second))
		})
	}
}

// TestPublishToMosquittoSub checks the brief's pairing: what mqtt-pub -m
// publishes, mosquitto_sub -C 1 prints exactly as what mosquitto_pub -m
// publishes. The messages are retained, so that mosquitto_sub finds them
// without racing its subscription.
func TestPublishToMosquittoSub(t *testing.T) {
	ref := clitest.RequireMosquitto(t, "mosquitto_pub")
	sub := clitest.RequireMosquitto(t, "mosquitto_sub")
	b := mosquittotest.Start(t, mosquittotest.Options{})
	env := clitest.Env(t)
	for i, args := range [][]string{
		{"-m", "plain"},
		{"-m", "qos 1", "-q", "1"},
		{"-m", "qos 2", "-q", "2"},
		{"-m", "tab\tand é"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			read := func(pub string) string {
				topic := fmt.Sprintf("ret/%d/%s", i, filepath.Base(pub))
				r := clitest.Run(t, pub, env, "", append(append(brokerArgs(b), "-t", topic, "-r"), args...)...)
				require.Equal(t, 0, r.Code, r.Stderr)
				r = clitest.Run(t, sub, env, "", append(brokerArgs(b), "-t", topic, "-C", "1", "-q", "2", "-F", "%q %r %l %p")...)
				require.Equal(t, 0, r.Code, r.Stderr)
				return r.Stdout
			}
			assert.Equal(t, read(ref), read(mqttPub))
		})
	}
}

// TestRetain checks -r, and that an empty retained message clears the topic.
func TestRetain(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Options{})
	env := clitest.Env(t)
	r := clitest.Run(t, mqttPub, env, "", append(brokerArgs(b), "-t", "keep/a", "-r", "-q", "1", "-m", "kept")...)
	require.Equal(t, 0, r.Code, r.Stderr)
	col := collect(t, client.Config{Brokers: []string{b.URL()}}, "keep/#", client.AtLeastOnce)
	assert.Equal(t, []received{{"keep/a", "kept", client.AtLeastOnce, true}}, col.wait(1, 5*time.Second))

	r = clitest.Run(t, mqttPub, env, "", append(brokerArgs(b), "-t", "keep/a", "-r", "-q", "1", "-n")...)
	require.Equal(t, 0, r.Code, r.Stderr)
	col.wait(2, 5*time.Second) // the live empty message
	col2 := collect(t, client.Config{Brokers: []string{b.URL()}}, "keep/#", client.AtLeastOnce)
	// A later publish shows the subscription is in place: nothing came
	// before it.
	r = clitest.Run(t, mqttPub, env, "", append(brokerArgs(b), "-t", "keep/b", "-m", "marker")...)
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, []received{{"keep/b", "marker", client.AtMostOnce, false}}, col2.wait(1, 5*time.Second))
}

// TestRefusal checks that a refused connection exits with the CONNACK return
// code and mosquitto_pub's messages, that the password can come from a file
// or the environment, and that neither errors nor -d print it.
func TestRefusal(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Options{Users: map[string]string{"alice": "s3cret-pw"}})
	env := clitest.Env(t)
	pwFile := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(pwFile, []byte("s3cret-pw\n"), 0o600))
	args := append(brokerArgs(b), "-t", "a", "-m", "x")
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
	}{
		{"anonymous", env, nil, 5},
		{"wrong password", env, []string{"-u", "alice", "-P", "wr0ng-pw"}, 5},
		{"wrong password, debug", env, []string{"-u", "alice", "-P", "wr0ng-pw", "-d"}, 5},
		{"quiet", env, []string{"-u", "alice", "-P", "wr0ng-pw", "--quiet"}, 5},
		{"password file", env, []string{"-u", "alice", "--pw-file", pwFile, "-d"}, 0},
		{"environment", append(clitest.Env(t), "MQTT_PASSWORD=s3cret-pw"), []string{"-u", "alice", "-d"}, 0},
		{"URL", env, []string{"-L", "mqtt://alice:s3cret-pw@" + b.Addr() + "/a", "-d"}, 0},
		// MQTT5-3.2.2-7: a 5.0 refusal is a reason code, which is the exit
		// status, with mosquitto_pub's words for it.
		{"MQTT 5.0 anonymous", env, []string{"-V", "5"}, 135},
		{"MQTT 5.0 wrong password", env, []string{"-V", "mqttv5", "-u", "alice", "-P", "wr0ng-pw"}, 135},
		{"MQTT 5.0 quiet", env, []string{"-V", "5", "--quiet"}, 135},
		// An authentication method mosquitto has no plugin for: CONNACK
		// 0x8C, Bad authentication method.
		{"MQTT 5.0 authentication method", env, []string{"-u", "alice", "-P", "s3cret-pw",
			"-D", "connect", "authentication-method", "SCRAM-SHA-1", "-D", "connect", "authentication-data", "n,,n=alice"}, 140},
		{"MQTT 5.0 with properties", env, []string{"-u", "alice", "-P", "s3cret-pw", "-D", "publish", "content-type", "t",
			"-D", "connect", "user-property", "a", "b", "-D", "disconnect", "session-expiry-interval", "0", "-q", "1"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := clitest.Run(t, mqttPub, tc.env, "", append(append([]string(nil), args...), tc.args...)...)
			assert.Equal(t, tc.code, got.Code, got.Stderr)
			assert.NotContains(t, got.Stderr+got.Stdout, "s3cret-pw")
			assert.NotContains(t, got.Stderr+got.Stdout, "wr0ng-pw")
			if ref := clitest.Mosquitto("mosquitto_pub"); ref != "" && tc.code != 0 && !strings.Contains(tc.name, "debug") {
				want := clitest.Run(t, ref, tc.env, "", append(append([]string(nil), args...), tc.args...)...)
				assert.Equal(t, want.Code, got.Code)
				assert.Equal(t, want.Stderr, got.Stderr)
			}
			if strings.Contains(tc.name, "debug") {
				assert.Contains(t, got.Stdout, "received CONNACK (5)\n")
			}
		})
	}
}

// TestNoBroker checks the failure of the first connection, which
// mosquitto_pub reports as "Error: Connection refused", exit status 1.
func TestNoBroker(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Options{})
	args := append(brokerArgs(b), "-t", "a", "-m", "x")
	b.Stop()
	env := clitest.Env(t)
	got := clitest.Run(t, mqttPub, env, "", args...)
	assert.Equal(t, clitest.Result{Stderr: "Error: Connection refused\n", Code: 1}, got)
	if ref := clitest.Mosquitto("mosquitto_pub"); ref != "" {
		assert.Equal(t, clitest.Run(t, ref, env, "", args...), got)
	}
}

// TestReconnectResendsLines restarts the broker twice while mqtt-pub -l
// publishes lines from stdin, and checks that every line reaches a
// subscriber. At QoS 2, with a persistent session so that the broker
// remembers the flows across its restart, it also checks that mqtt-pub
// never published a line anew: a resend is a DUP with the original packet
// identifier, so the broker sees at most one first PUBLISH (DUP=0) per line.
//
// Exactly-once cannot be checked at the subscriber: mosquitto 2.0.11
// restores an outdated state of its flows from its persistence file after a
// restart, and sends the subscriber PUBLISH again for flows it had
// completed. The client's own QoS 2 guarantees are tested in package client
// against a scripted broker.
func TestReconnectResendsLines(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		qos  client.QoS
	}{
		{"qos1", []string{"-q", "1", "-i", "mqtt-pub-qos1"}, client.AtLeastOnce},
		{"qos2", []string{"-q", "2", "-c", "-i", "mqtt-pub-qos2"}, client.ExactlyOnce},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := mosquittotest.Start(t, mosquittotest.Options{Persistence: true})
			col := collect(t, client.Config{
				Brokers:           []string{b.URL()},
				ClientID:          "collector-" + tc.name,
				PersistentSession: true,
				Reconnect:         client.Backoff{InitialDelay: 50 * time.Millisecond, MaxDelay: 200 * time.Millisecond},
			}, "lines", tc.qos)

			pub := clitest.Start(t, mqttPub, clitest.Env(t), true, append(append(brokerArgs(b), "-t", "lines", "-l", "-d"), tc.args...)...)
			clitest.WaitLog(t, b, "Sending CONNACK to mqtt-pub-"+tc.name, 1)
			const n = 300
			write := func(from, to int) {
				var sb strings.Builder
				for i := from; i < to; i++ {
					fmt.Fprintf(&sb, "line %d\n", i)
				}
				_, err := io.WriteString(pub.Stdin(), sb.String())
				require.NoError(t, err)
			}
			// Restart while lines are on their way: right after a batch was
			// written, and once some of a batch arrived.
			write(0, 100)
			b.Restart()
			write(100, 200)
			clitest.WaitLog(t, b, "Sending CONNACK to mqtt-pub-"+tc.name, 2)
			col.wait(110, 5*time.Second)
			b.Restart()
			write(200, n)
			require.NoError(t, pub.Stdin().Close())
			res := pub.Wait(t, 20*time.Second)
			require.Equal(t, 0, res.Code, "stderr: %s", res.Stderr)
			assert.Equal(t, 3, strings.Count(res.Stdout, " received CONNACK (0)\n"), "the trace shows two reconnections:\n%s", res.Stdout)

			msgs := col.wait(n, 10*time.Second)
			count := map[string]int{}
			for _, m := range msgs {
				count[m.Payload]++
			}
			for i := 0; i < n; i++ {
				line := "line " + strconv.Itoa(i)
				assert.NotZero(t, count[line], "%s was lost", line)
			}
			if tc.qos == client.ExactlyOnce {
				assert.LessOrEqual(t, strings.Count(b.Log(), "Received PUBLISH from mqtt-pub-qos2 (d0,"), n,
					"mqtt-pub published a line anew instead of resending it")
			}
		})
	}
}

// TestTimeout checks that --timeout bounds the wait for a broker that went
// away, with exit status 27 and the count of messages not acknowledged.
func TestTimeout(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Options{})
	col := collect(t, client.Config{Brokers: []string{b.URL()}}, "t", client.AtLeastOnce)
	pub := clitest.Start(t, mqttPub, clitest.Env(t), true, append(brokerArgs(b), "-t", "t", "-l", "-q", "1", "--timeout", "2")...)
	_, err := io.WriteString(pub.Stdin(), "delivered\n")
	require.NoError(t, err)
	require.Len(t, col.wait(1, 5*time.Second), 1)
	b.Stop()
	_, err = io.WriteString(pub.Stdin(), "stuck\n")
	require.NoError(t, err)
	res := pub.Wait(t, 10*time.Second)
	assert.Equal(t, 27, res.Code)
	assert.Equal(t, "Timed out with 1 message(s) not acknowledged by the broker.\n", res.Stderr)
}

// TestTLS publishes over TLS with a client certificate, by -p and by -L
// mqtts://, and checks that a TLS connection to a server the CAs do not
// vouch for fails as with mosquitto_pub: exit status 8, MOSQ_ERR_TLS.
func TestTLS(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Options{TLS: true, RequireClientCert: true})
	col := collect(t, client.Config{Brokers: []string{b.URL()}}, "tr/#", client.AtLeastOnce)
	_, tlsPort, _ := strings.Cut(b.TLSAddr(), ":")
	certs := []string{"--cafile", b.CAFile(), "--cert", b.ClientCertFile(), "--key", b.ClientKeyFile()}
	env := clitest.Env(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"tls", append([]string{"-h", "localhost", "-p", tlsPort, "-t", "tr/tls", "--tls-version", "tlsv1.2"}, certs...)},
		{"tls ciphers", append([]string{"-h", "127.0.0.1", "-p", tlsPort, "-t", "tr/tls", "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256"}, certs...)},
		{"mqtts URL", append([]string{"-L", "mqtts://localhost:" + tlsPort + "/tr/url"}, certs...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			col.reset()
			got := clitest.Run(t, mqttPub, env, "", append(tc.args, "-q", "1", "-m", tc.name)...)
			require.Equal(t, clitest.Result{}, got)
			msgs := col.wait(1, 5*time.Second)
			require.Len(t, msgs, 1)
			assert.Equal(t, tc.name, msgs[0].Payload)
		})
	}
	t.Run("untrusted server", func(t *testing.T) {
		args := []string{"-h", "localhost", "-p", tlsPort, "--tls-use-os-certs", "-t", "tr/x", "-m", "x"}
		got := clitest.Run(t, mqttPub, env, "", args...)
		assert.Equal(t, 8, got.Code, "MOSQ_ERR_TLS")
		assert.Regexp(t, `^Error: A TLS error occurred \(.*certificate.*\)\.\n$`, got.Stderr)
		if ref := clitest.Mosquitto("mosquitto_pub"); ref != "" {
			// mosquitto_pub exits 1 instead when the handshake fails
			// before its connect call returns.
			want := clitest.Run(t, ref, env, "", args...)
			if want.Code == 8 {
				assert.Equal(t, "Error: A TLS error occurred.\n", want.Stderr)
			} else {
				assert.Equal(t, clitest.Result{Stderr: "Unable to connect (A TLS error occurred.).\n", Code: 1}, want)
			}
		}
	})
}

// TestWebSockets publishes over WebSockets, named by -L ws://.
func TestWebSockets(t *testing.T) {
	if !mosquittotest.RunInPrivateNetwork(t) {
		return
	}
	b := mosquittotest.Start(t, mosquittotest.Options{WebSockets: true})
	col := collect(t, client.Config{Brokers: []string{b.URL()}}, "ws/#", client.AtLeastOnce)
	got := clitest.Run(t, mqttPub, clitest.Env(t), "", "-L", "ws://"+b.WSAddr()+"/ws/x", "-q", "1", "-m", "over websockets")
	require.Equal(t, clitest.Result{}, got)
	assert.Equal(t, []received{{"ws/x", "over websockets", client.AtLeastOnce, false}}, col.wait(1, 5*time.Second))
}

// TestUnixSocket publishes through a unix domain socket (--unix).
func TestUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "mqtt.sock")
	b := mosquittotest.Start(t, mosquittotest.Options{Extra: "listener 0 " + sock})
	col := collect(t, client.Config{Brokers: []string{b.URL()}}, "unix", client.AtLeastOnce)
	got := clitest.Run(t, mqttPub, clitest.Env(t), "", "--unix", sock, "-t", "unix", "-q", "1", "-m", "over a unix socket")
	require.Equal(t, clitest.Result{}, got)
	assert.Equal(t, []received{{"unix", "over a unix socket", client.AtLeastOnce, false}}, col.wait(1, 5*time.Second))
}
