package brokers_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
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
	"github.com/feedmq/feedmq/internal/brokers"
	"github.com/feedmq/feedmq/internal/syncbuf"
)

// Cross-client interop: messages go between feedmq and another client,
// through a broker, in both directions, and arrive byte for byte. The
// other clients are MQTT.js (npm mqtt, pinned in node/package.json) and
// the Eclipse Paho C client's sample programs paho_c_pub and paho_c_sub
// (Debian package paho.mqtt.c-examples), each run as a process per
// publish or subscription, at MQTT 3.1.1.
//
// The README's interop table comes from the -v output of
//
//	FEEDMQ_REQUIRE_BROKER=1 go test -race -count=1 -run Interop -v ./internal/brokers

// interopBrokers are the brokers the messages go through.
var interopBrokers = []struct {
	name  string
	start func(testing.TB) brokers.Broker
}{
	{"mosquitto", brokers.StartMosquitto},
	{"rabbitmq", func(tb testing.TB) brokers.Broker { return brokers.StartRabbitMQ(tb) }},
}

// interopCase is one message: its payload, QoS and retain flag.
type interopCase struct {
	name    string
	payload []byte
	qos     client.QoS
	retain  bool
}

// interopCases are the messages of every broker × client × direction.
func interopCases() []interopCase {
	// Every byte value once, NUL last: paho_c_sub prints a payload with
	// printf("%.*s"), which stops at the first NUL. With the NUL last its
	// output still pins every byte, since it also prints the length: 255
	// bytes shown of 256 means the 256th is the NUL.
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i + 1)
	}
	// 1 MiB of random bytes without NUL, for the same reason.
	large := make([]byte, 1<<20)
	_, _ = rand.Read(large)
	for i, c := range large {
		if c == 0 {
			large[i] = byte(1 + i%255)
		}
	}
	return []interopCase{
		{name: "binary-256", payload: binary, qos: client.AtLeastOnce},
		{name: "empty", payload: []byte{}, qos: client.AtLeastOnce},
		{name: "1MiB", payload: large, qos: client.AtLeastOnce},
		{name: "retained", payload: binary, qos: client.AtLeastOnce, retain: true},
		{name: "qos2-once", payload: binary, qos: client.ExactlyOnce},
	}
}

// peer is another MQTT client, run as one process per publish or
// subscription.
type peer struct {
	name    string
	version string
	// missing says why the client cannot run here; "" when it can.
	missing string
	// pub returns a command that connects, publishes the contents of file
	// once and exits 0 once the QoS flow is complete.
	pub func(b brokers.Broker, id, topic, file string, qos client.QoS, retain bool) *exec.Cmd
	// sub returns a command that subscribes to filter and prints every
	// message it receives until SIGTERM.
	sub func(b brokers.Broker, id, filter string, qos client.QoS) *exec.Cmd
	// parse reads the messages in what sub printed. want is the payload
	// expected on topics other than probes: paho_c_sub does not frame
	// payloads, so reading its output needs to know what a payload shows.
	// done is false when out ends inside a message.
	parse func(out []byte, want []byte) (msgs []peerMessage, done bool, err error)
	// shown is the part of a payload the client's output shows.
	shown func(payload []byte) []byte
}

// peerMessage is a message as the other client printed it.
type peerMessage struct {
	topic   string
	size    int    // the payload's length as the client reports it
	payload []byte // what the output shows of it: see peer.shown
	qos     int    // -1 when the client does not print it
	retain  int    // 0 or 1; -1 when the client does not print it
}

func TestInterop(t *testing.T) {
	peers := []*peer{mqttJS(t), pahoC(t)}
	cases := interopCases()
	for _, bs := range interopBrokers {
		t.Run(bs.name, func(t *testing.T) {
			t.Parallel()
			broker := bs.start(t)
			t.Logf("interop: broker %s version %s", broker.Name(), broker.Version())
			eachLevel(t, "interop", broker, func(t *testing.T, lb atLevel) {
				interopAtLevel(t, lb, peers, cases)
			})
		})
	}
}

// interopAtLevel runs every client × direction × case against b, at b's
// level: the other clients and feedmq all speak it.
func interopAtLevel(t *testing.T, b brokers.Broker, peers []*peer, cases []interopCase) {
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			if p.missing != "" {
				missingTool(t, p.missing)
			}
			t.Logf("interop: client %s version %s", p.name, p.version)
			for _, dir := range []string{"from-feedmq", "to-feedmq"} {
				t.Run(dir, func(t *testing.T) {
					for _, c := range cases {
						t.Run(c.name, func(t *testing.T) {
							t.Parallel()
							if why := b.Lacks(brokers.FeatureQoS2); c.qos == client.ExactlyOnce && why != "" {
								t.Skipf("interop: %s lacks %s: %s. Exactly once has nothing to check there: "+
									"the broker delivers a QoS 2 message at QoS 1, as the binary-256, empty, 1MiB and "+
									"retained rows check, and matrix/qos and TestRabbitMQDeviationsCLI check that feedmq "+
									"reports the downgrade", b.Name(), brokers.FeatureQoS2, why)
							}
							if dir == "from-feedmq" {
								fromFeedmq(t, b, p, c)
							} else {
								toFeedmq(t, b, p, c)
							}
							t.Logf("interop: ok %s %s %s %s", b.Name(), p.name, dir, c.name)
						})
					}
				})
			}
		})
	}
}

// toFeedmq: the other client publishes, feedmq receives.
func toFeedmq(t *testing.T, b brokers.Broker, p *peer, c interopCase) {
	ctx := testCtx(t, 60*time.Second)
	tp := interopTopic() + "/data"
	got, h := sink()
	sub := connect(t, b, client.Config{MaxPacketSize: 2 << 20})
	subscribe := func() {
		granted, err := sub.Subscribe(ctx, tp, c.qos, h)
		require.NoError(t, err)
		require.Equal(t, c.qos, granted, "granted QoS")
	}
	if !c.retain {
		subscribe()
	}

	file := filepath.Join(t.TempDir(), "payload")
	require.NoError(t, os.WriteFile(file, c.payload, 0o644))
	cmd := p.pub(b, interopID(p.name+"-pub"), tp, file, c.qos, c.retain)
	out, err := runTimeout(ctx, cmd)
	require.NoError(t, err, "%s publishing:\n%s", p.name, out)

	if c.retain {
		// Subscribed only now, feedmq can receive the message only from
		// the broker's retained store.
		subscribe()
	}
	m := recv(t, got, 20*time.Second, "the message "+p.name+" published")
	sameBytes(t, c.payload, m.Payload, "payload from "+p.name)
	assert.Equal(t, tp, m.Topic)
	assert.Equal(t, c.qos, m.QoS, "QoS")
	assert.Equal(t, c.retain, m.Retained, "Retain flag (MQTT-3.3.1-8, MQTT-3.3.1-9)")
	if c.qos == client.ExactlyOnce {
		quiet(t, got, 300*time.Millisecond, "after the QoS 2 message")
	}
}

// fromFeedmq: feedmq publishes, the other client receives.
func fromFeedmq(t *testing.T, b brokers.Broker, p *peer, c interopCase) {
	ctx := testCtx(t, 60*time.Second)
	base := interopTopic()
	tp, probe := base+"/data", base+"/probe"
	pub := connect(t, b, client.Config{})
	var s *peerSub
	if c.retain {
		// The subscription comes after the message, which can only come
		// from the broker's retained store. The filter is the topic
		// itself: RabbitMQ 3.x sends no retained message to a filter with
		// a wildcard (rabbitmq/rabbitmq-server#8824).
		require.NoError(t, pub.Publish(ctx, tp, c.payload, client.WithQoS(c.qos), client.WithRetain()))
		s = startPeerSub(t, p, b, tp, c.qos, c.payload)
	} else {
		s = startPeerSub(t, p, b, base+"/#", c.qos, c.payload)
		// Neither client prints anything once its subscription is in
		// place: publish empty probes until one arrives.
		s.waitFor(t, probe, 100*time.Millisecond, func() {
			if err := pub.Publish(ctx, probe, nil); err != nil {
				t.Logf("probe: %v", err)
			}
		})
		// Returns once the broker answered: PUBACK, or PUBCOMP at QoS 2.
		require.NoError(t, pub.Publish(ctx, tp, c.payload, client.WithQoS(c.qos)))
	}
	s.waitFor(t, tp, 20*time.Millisecond, nil)
	if c.qos == client.ExactlyOnce {
		// A second copy would arrive right behind the first.
		time.Sleep(300 * time.Millisecond) // an observation window, not synchronisation
	}

	msgs := s.stop(t)
	var data []peerMessage
	for _, m := range msgs {
		if m.topic == tp {
			data = append(data, m)
		}
	}
	require.NotEmpty(t, data)
	if c.qos == client.ExactlyOnce {
		require.Len(t, data, 1, "%s received the QoS 2 message more than once", p.name)
	}
	m := data[0]
	assert.Equal(t, len(c.payload), m.size, "payload length %s reports", p.name)
	sameBytes(t, p.shown(c.payload), m.payload, "payload at "+p.name)
	if m.qos >= 0 {
		assert.Equal(t, int(c.qos), m.qos, "QoS %s received", p.name)
	}
	if m.retain >= 0 {
		assert.Equal(t, c.retain, m.retain == 1, "Retain flag %s received", p.name)
	}
}

// peerSub is a running subscriber of another client.
type peerSub struct {
	p      *peer
	cmd    *exec.Cmd
	want   []byte
	stdout syncbuf.Buffer
	stderr syncbuf.Buffer
	done   chan struct{}
	err    error // Wait's result; read after done
}

func startPeerSub(t *testing.T, p *peer, b brokers.Broker, filter string, qos client.QoS, want []byte) *peerSub {
	t.Helper()
	s := &peerSub{p: p, want: want, done: make(chan struct{})}
	s.cmd = p.sub(b, interopID(p.name+"-sub"), filter, qos)
	s.cmd.Stdout, s.cmd.Stderr = &s.stdout, &s.stderr
	// Killed with the test binary, should it die before its cleanups.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, s.cmd.Start())
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
	})
	return s
}

// waitFor polls the subscriber's output every interval, calling each
// first when it is not nil, until it shows a message on topic. It fails the
// test after 20 s, on output that cannot be read, and when the subscriber
// exits.
func (s *peerSub) waitFor(t *testing.T, topic string, interval time.Duration, each func()) {
	t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if each != nil {
			each()
		}
		msgs, _, err := s.p.parse([]byte(s.stdout.String()), s.want)
		require.NoError(t, err, "%s printed what cannot be read:\n%s", s.p.name, s)
		for _, m := range msgs {
			if m.topic == topic {
				return
			}
		}
		select {
		case <-tick.C:
		case <-s.done:
			t.Fatalf("%s exited (%v) before it received a message on %s:\n%s", s.p.name, s.err, topic, s)
		case <-deadline.C:
			t.Fatalf("%s received no message on %s within 20 s:\n%s", s.p.name, topic, s)
		}
	}
}

// stop ends the subscriber with SIGTERM, which both clients take as the
// sign to disconnect, and reads everything it printed.
func (s *peerSub) stop(t *testing.T) []peerMessage {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not exit within 10 s of SIGTERM:\n%s", s.p.name, s)
	}
	require.NoError(t, s.err, "%s:\n%s", s.p.name, s)
	msgs, done, err := s.p.parse([]byte(s.stdout.String()), s.want)
	require.NoError(t, err, "%s printed what cannot be read:\n%s", s.p.name, s)
	require.True(t, done, "%s's output ends inside a message, or goes on after the last one:\n%s", s.p.name, s)
	return msgs
}

// String is the subscriber's output for failure messages, shortened.
func (s *peerSub) String() string {
	return fmt.Sprintf("stdout: %s\nstderr: %s", shorten(s.stdout.String()), shorten(s.stderr.String()))
}

func shorten(s string) string {
	const max = 600
	if len(s) > max {
		return fmt.Sprintf("%q… (%d bytes)", s[:max], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// sameBytes compares payloads byte for byte and, when they differ, says
// where instead of printing a megabyte.
func sameBytes(t *testing.T, want, got []byte, what string) {
	t.Helper()
	if bytes.Equal(want, got) {
		return
	}
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	t.Errorf("%s: got %d bytes, want %d; first difference at offset %d", what, len(got), len(want), i)
}

// runTimeout runs cmd, stopped when ctx ends, and returns its output.
func runTimeout(ctx context.Context, cmd *exec.Cmd) (string, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-done
		return out.String(), fmt.Errorf("%s did not finish: %w", filepath.Base(cmd.Path), ctx.Err())
	}
}

// missingTool fails the test under CI or FEEDMQ_REQUIRE_BROKER=1, and
// skips it otherwise, as the brokers package does for a missing broker.
func missingTool(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" || os.Getenv("FEEDMQ_REQUIRE_BROKER") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func interopTopic() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("interop/%x", b)
}

func interopID(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%x", prefix, b)
}

// hostPort splits a broker's mqtt:// URL.
func hostPort(b brokers.Broker) (host, port string) {
	u, err := url.Parse(b.URL())
	if err != nil {
		panic(err)
	}
	return u.Hostname(), u.Port()
}

// mqttJSScript is the MQTT.js client: "pub" publishes a file's contents
// once and exits 0 once the QoS flow is complete; "sub" prints one JSON
// line per message, the payload in base64, until SIGTERM. Its arguments are
// the node_modules directory, the mode, the broker URL, the username, the
// password, the client identifier, the topic or filter, the QoS, the retain
// flag (1 or 0), the payload file and the protocol level (4 or 5).
const mqttJSScript = `import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'

const [modules, mode, url, username, password, clientId, topic, qosArg, retainArg, file, versionArg] = process.argv.slice(2)
const require = createRequire(path.join(modules, 'noop.js'))
const mqtt = require('mqtt')
const qos = Number(qosArg)

const fail = (what, err) => { console.error(what + ':', err && err.message ? err.message : err); process.exit(1) }
const client = mqtt.connect(url, { username, password, clientId, protocolVersion: Number(versionArg), clean: true, reconnectPeriod: 0 })
client.on('error', (err) => fail('error', err))

if (mode === 'pub') {
  const payload = fs.readFileSync(file)
  client.on('connect', () => {
    client.publish(topic, payload, { qos, retain: retainArg === '1' }, (err) => {
      if (err) fail('publish', err)
      client.end(false, {}, () => process.exit(0))
    })
  })
} else {
  client.on('message', (t, payload, packet) => {
    process.stdout.write(JSON.stringify({ topic: t, qos: packet.qos, retain: packet.retain, payload: payload.toString('base64') }) + '\n')
  })
  client.on('connect', () => client.subscribe(topic, { qos }, (err, granted) => {
    if (err) fail('subscribe', err)
    console.error('subscribed', JSON.stringify(granted))
  }))
  process.on('SIGTERM', () => client.end(false, {}, () => process.exit(0)))
}
`

// mqttJS is MQTT.js run by node with mqttJSScript, written into a
// temporary directory of t.
func mqttJS(t *testing.T) *peer {
	p := &peer{name: "mqttjs", parse: parseMQTTJS, shown: func(b []byte) []byte { return b }}
	modules := brokers.NodeModules()
	node, err := exec.LookPath("node")
	if err == nil {
		p.version, err = npmVersion(modules, "mqtt")
	}
	if err != nil {
		p.missing = fmt.Sprintf("interop: MQTT.js needs node and the npm package mqtt in %s "+
			"(scripts/test.sh installs it from internal/brokers/node/package.json; FEEDMQ_NODE_MODULES may name another directory): %v",
			modules, err)
		return p
	}
	script := filepath.Join(t.TempDir(), "mqttjs.mjs")
	require.NoError(t, os.WriteFile(script, []byte(mqttJSScript), 0o644))
	run := func(args ...string) *exec.Cmd {
		return exec.Command(node, append([]string{script, modules}, args...)...)
	}
	p.pub = func(b brokers.Broker, id, topic, file string, qos client.QoS, retain bool) *exec.Cmd {
		r := "0"
		if retain {
			r = "1"
		}
		return run("pub", b.URL(), brokers.User, brokers.Password, id, topic, strconv.Itoa(int(qos)), r, file, strconv.Itoa(int(levelOf(b))))
	}
	p.sub = func(b brokers.Broker, id, filter string, qos client.QoS) *exec.Cmd {
		return run("sub", b.URL(), brokers.User, brokers.Password, id, filter, strconv.Itoa(int(qos)), "0", "", strconv.Itoa(int(levelOf(b))))
	}
	return p
}

// npmVersion reads the version of an installed npm package.
func npmVersion(modules, pkg string) (string, error) {
	b, err := os.ReadFile(filepath.Join(modules, pkg, "package.json"))
	if err != nil {
		return "", err
	}
	var meta struct{ Version string }
	if err := json.Unmarshal(b, &meta); err != nil {
		return "", fmt.Errorf("%s/package.json: %w", pkg, err)
	}
	return meta.Version, nil
}

// parseMQTTJS reads the JSON lines of mqttJSScript's sub mode.
func parseMQTTJS(out []byte, _ []byte) ([]peerMessage, bool, error) {
	var msgs []peerMessage
	for len(out) > 0 {
		line, rest, ok := bytes.Cut(out, []byte("\n"))
		if !ok {
			return msgs, false, nil
		}
		out = rest
		var m struct {
			Topic   string
			QoS     int
			Retain  bool
			Payload []byte // base64
		}
		if err := json.Unmarshal(line, &m); err != nil {
			return msgs, false, fmt.Errorf("line %q: %w", shorten(string(line)), err)
		}
		pm := peerMessage{topic: m.Topic, size: len(m.Payload), payload: m.Payload, qos: m.QoS}
		if m.Retain {
			pm.retain = 1
		}
		msgs = append(msgs, pm)
	}
	return msgs, true, nil
}

// pahoC is the Paho C client's sample programs paho_c_pub and paho_c_sub,
// built on its asynchronous library.
func pahoC(t *testing.T) *peer {
	p := &peer{name: "paho-c", parse: parsePahoC, shown: untilNUL}
	pubBin, err := exec.LookPath("paho_c_pub")
	var subBin string
	if err == nil {
		subBin, err = exec.LookPath("paho_c_sub")
	}
	if err != nil {
		p.missing = "interop: paho_c_pub and paho_c_sub not found; install them with apt-get install paho.mqtt.c-examples " +
			"(scripts/test.sh does this): " + err.Error()
		return p
	}
	p.version = pahoVersion(pubBin)
	common := func(b brokers.Broker, id, topic string, qos client.QoS) []string {
		host, port := hostPort(b)
		return []string{"-h", host, "-p", port, "-u", brokers.User, "-P", brokers.Password,
			"-i", id, "-t", topic, "-q", strconv.Itoa(int(qos)), "-V", pahoLevel(b)}
	}
	p.pub = func(b brokers.Broker, id, topic, file string, qos client.QoS, retain bool) *exec.Cmd {
		args := common(b, id, topic, qos)
		if retain {
			args = append(args, "-r")
		}
		// -f reads the whole file as one payload, but an empty file is
		// an error: -n sends the empty message.
		if st, err := os.Stat(file); err == nil && st.Size() == 0 {
			args = append(args, "-n")
		} else {
			args = append(args, "-f", file)
		}
		return exec.Command(pubBin, args...)
	}
	p.sub = func(b brokers.Broker, id, filter string, qos client.QoS) *exec.Cmd {
		// --verbose prints "<length> <topic>\t" before each payload;
		// --no-delimiter prints nothing after it.
		return exec.Command(subBin, append(common(b, id, filter, qos), "--verbose", "--no-delimiter")...)
	}
	return p
}

// pahoLevel is the -V of the sample programs for the checks' level.
func pahoLevel(b brokers.Broker) string {
	if levelOf(b) == client.MQTT5 {
		return "5"
	}
	return "311"
}

var pahoVersionRE = regexp.MustCompile(`(?m)^Version: (\S+)`)

// pahoVersion is the library version paho_c_pub prints in its usage.
func pahoVersion(bin string) string {
	out, _ := exec.Command(bin).CombinedOutput() // exits 1 after printing its usage
	if m := pahoVersionRE.FindSubmatch(out); m != nil {
		return string(m[1])
	}
	return "unknown"
}

// untilNUL is what printf("%.*s") prints of b.
func untilNUL(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

var pahoHeaderRE = regexp.MustCompile(`^(\d+) ([^\t\n]+)\t`)

// parsePahoC reads paho_c_sub --verbose --no-delimiter output: a line
// "URL is …" and a line "Subscribing to topic …", then for each message
// "<length> <topic>\t" and the payload as printf("%.*s") prints it, up to
// its first NUL. So a message's end is known only from its expected
// payload: want on data topics, empty on probes. A payload that is not the
// one expected makes the next header unreadable, or the output end early
// or late, which the caller reports.
func parsePahoC(out []byte, want []byte) ([]peerMessage, bool, error) {
	var msgs []peerMessage
	for len(out) > 0 {
		for _, prefix := range []string{"URL is ", "Subscribing to topic "} {
			if bytes.HasPrefix(out, []byte(prefix)) {
				_, rest, ok := bytes.Cut(out, []byte("\n"))
				if !ok {
					return msgs, false, nil
				}
				out = rest
			}
		}
		if len(out) == 0 {
			break
		}
		m := pahoHeaderRE.FindSubmatch(out)
		if m == nil {
			if !bytes.ContainsAny(out, "\t\n") && len(out) < 64 {
				return msgs, false, nil // a header still being written
			}
			return msgs, false, fmt.Errorf("no message header at %s", shorten(string(out)))
		}
		size, _ := strconv.Atoi(string(m[1]))
		topic := string(m[2])
		out = out[len(m[0]):]
		shown := 0
		if !strings.HasSuffix(topic, "/probe") {
			shown = len(untilNUL(want))
			if size != len(want) {
				return msgs, false, fmt.Errorf("paho_c_sub reports a %d-byte payload on %s, want %d bytes", size, topic, len(want))
			}
		}
		if len(out) < shown {
			return msgs, false, nil
		}
		msgs = append(msgs, peerMessage{topic: topic, size: size, payload: out[:shown], qos: -1, retain: -1})
		out = out[shown:]
	}
	return msgs, true, nil
}
