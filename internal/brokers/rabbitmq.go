package brokers

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/feedmq/feedmq/internal/mosquittotest"
)

// rabbitReadyTimeout bounds how long a node may take to serve MQTT; a node
// normally starts in 10 to 20 seconds.
const rabbitReadyTimeout = 90 * time.Second

// rabbitNotFound is the skip or failure message without RabbitMQ.
const rabbitNotFound = "brokers: rabbitmq-server not found; install it with apt-get install rabbitmq-server " +
	"(scripts/test.sh does this), or set FEEDMQ_RABBITMQ to the rabbitmq-server script"

// RabbitMQ is one node of RabbitMQ 3.x with the rabbitmq_mqtt and
// rabbitmq_web_mqtt plugins.
type RabbitMQ struct {
	// Immutable once the Start function returned.
	tb       testing.TB
	cluster  *rabbitCluster
	node     string // Erlang node name, name@localhost
	dir      string // the node's configuration, database and logs
	mqttPort int
	wsPort   int
	amqpPort int
	distPort int

	log logBuffer

	mu   sync.Mutex // serialises Start, Stop, Kill and Restart; guards proc
	proc *process   // nil while stopped
}

// rabbitCluster is what the nodes of one test share: a home directory with
// the Erlang cookie and a private epmd on a free loopback port.
type rabbitCluster struct {
	bin      string
	home     string
	epmdPort int
	cred     *syscall.Credential // the rabbitmq user when run as root; nil otherwise
	epmd     *process
	epmdLog  logBuffer
}

// StartRabbitMQ runs one RabbitMQ node on free loopback ports with a
// configuration, database and log of its own under a temporary directory.
// Run as root, the node runs as the rabbitmq user, which owns that
// directory. A t.Cleanup stops it and removes the directory.
func StartRabbitMQ(tb testing.TB) *RabbitMQ {
	tb.Helper()
	return StartRabbitMQCluster(tb, 1)[0]
}

// StartRabbitMQCluster runs n RabbitMQ nodes that form one cluster: the
// first starts alone, each other one joins it by classic peer discovery.
//
// A cluster that must survive losing a node needs n >= 3. RabbitMQ 3.8 to
// 3.11 track MQTT client IDs in a Raft cluster (Ra's "mqtt_node") with a
// member on every node, and with 2 nodes the survivor alone is no quorum:
// it stays leaderless, and the lost node never comes back, because its
// rabbitmq_mqtt asks the peers for the Raft members (mqtt_node:join_peers,
// 100 s per attempt, 100 attempts) before it restarts its own member, the
// one the survivor needs for a leader. Its boot stops silently after
// "Resetting node maintenance status".
func StartRabbitMQCluster(tb testing.TB, n int) []*RabbitMQ {
	tb.Helper()
	c := newRabbitCluster(tb)
	id := randomHex(4)
	var nodes []*RabbitMQ
	for i := range n {
		ports, err := freePorts(4)
		if err != nil {
			tb.Fatal(err)
		}
		r := &RabbitMQ{
			tb: tb, cluster: c,
			node:     fmt.Sprintf("feedmq-%s-%d@localhost", id, i+1),
			mqttPort: ports[0], wsPort: ports[1], amqpPort: ports[2], distPort: ports[3],
		}
		r.dir = filepath.Join(c.home, strings.TrimSuffix(r.node, "@localhost"))
		var peers []string
		if i > 0 {
			peers = []string{nodes[0].node}
		}
		if err := r.writeConfig(peers); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			r.Stop()
			if tb.Failed() {
				tb.Logf("brokers: log of RabbitMQ node %s (MQTT on %s):\n%s", r.node, r.URL(), mosquittotest.Tail(r.Log(), maxDump))
				saveLog(tb, r.node, r.Log())
			}
		})
		r.Start(tb)
		nodes = append(nodes, r)
	}
	return nodes
}

// newRabbitCluster makes the shared home directory and starts epmd.
func newRabbitCluster(tb testing.TB) *rabbitCluster {
	tb.Helper()
	bin := rabbitBinary()
	if bin == "" {
		missing(tb, rabbitNotFound)
	}
	c := &rabbitCluster{bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("rabbitmq")
		if err != nil {
			tb.Fatalf("brokers: RabbitMQ runs as the rabbitmq user, which the package creates: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	// Not t.TempDir: its parent is private to root, and the rabbitmq user
	// must reach this directory.
	home, err := os.MkdirTemp("", "feedmq-rabbitmq-")
	if err != nil {
		tb.Fatal(err)
	}
	c.home = home
	tb.Cleanup(func() {
		c.epmd.stop(syscall.SIGTERM)
		if err := os.RemoveAll(home); err != nil {
			tb.Logf("brokers: remove %s: %v", home, err)
		}
	})
	if err := os.Chmod(home, 0o755); err != nil {
		tb.Fatal(err)
	}
	// Every node of the cluster, and only they, share this cookie.
	cookie := filepath.Join(home, ".erlang.cookie")
	if err := os.WriteFile(cookie, []byte(randomHex(16)), 0o400); err != nil {
		tb.Fatal(err)
	}
	if err := c.chown(cookie); err != nil {
		tb.Fatal(err)
	}

	epmd, err := exec.LookPath("epmd")
	if err != nil {
		missing(tb, "brokers: epmd not found; it comes with rabbitmq-server's erlang-base dependency")
	}
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(1)
		if err != nil {
			tb.Fatal(err)
		}
		c.epmdPort = ports[0]
		cmd := exec.Command(epmd, "-port", strconv.Itoa(c.epmdPort), "-address", "127.0.0.1")
		p, err := startProcess(cmd, &c.epmdLog)
		if err != nil {
			tb.Fatal(err)
		}
		err = waitReady(func() error { return dialOnly(hostPort(c.epmdPort)) }, p.done, 5*time.Second)
		if err == nil {
			c.epmd = p
			return c
		}
		p.stop(syscall.SIGKILL)
		if attempt == 3 {
			tb.Fatalf("brokers: epmd: %v\n%s", err, c.epmdLog.String())
		}
	}
}

// rabbitBinary is $FEEDMQ_RABBITMQ or the rabbitmq-server script that runs
// the node in the foreground (not /usr/sbin's wrapper, which switches user
// itself).
func rabbitBinary() string {
	if p := os.Getenv("FEEDMQ_RABBITMQ"); p != "" {
		if p, err := exec.LookPath(p); err == nil {
			return p
		}
		return ""
	}
	for _, p := range []string{"/usr/lib/rabbitmq/bin/rabbitmq-server", "/usr/local/lib/rabbitmq/bin/rabbitmq-server"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// chown gives path to the rabbitmq user when the nodes run as it.
func (c *rabbitCluster) chown(path string) error {
	if c.cred == nil {
		return nil
	}
	return filepath.Walk(path, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(c.cred.Uid), int(c.cred.Gid))
	})
}

// writeConfig writes the node's rabbitmq.conf and enabled_plugins. peers
// are the nodes it joins on its first start.
func (r *RabbitMQ) writeConfig(peers []string) error {
	for _, d := range []string{"mnesia", "log"} {
		if err := os.MkdirAll(filepath.Join(r.dir, d), 0o755); err != nil {
			return err
		}
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, "listeners.tcp.1 = 127.0.0.1:%d\n", r.amqpPort)
	fmt.Fprintf(&conf, "mqtt.listeners.tcp.1 = 127.0.0.1:%d\n", r.mqttPort)
	fmt.Fprintf(&conf, "web_mqtt.tcp.ip = 127.0.0.1\nweb_mqtt.tcp.port = %d\n", r.wsPort)
	fmt.Fprintf(&conf, "default_user = %s\ndefault_pass = %s\n", User, Password)
	conf.WriteString("mqtt.allow_anonymous = false\nloopback_users = none\n")
	conf.WriteString("log.console = true\nlog.console.level = info\nlog.file = false\n")
	if len(peers) > 0 {
		conf.WriteString("cluster_formation.peer_discovery_backend = classic_config\n")
		for i, p := range peers {
			fmt.Fprintf(&conf, "cluster_formation.classic_config.nodes.%d = %s\n", i+1, p)
		}
	}
	files := map[string]string{
		"rabbitmq.conf":   conf.String(),
		"enabled_plugins": "[rabbitmq_mqtt,rabbitmq_web_mqtt].\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(r.dir, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	return r.cluster.chown(r.dir)
}

// Start starts a stopped node again on its ports with its database, and
// returns once it serves MQTT.
func (r *RabbitMQ) Start(tb testing.TB) {
	tb.Helper()
	if err := r.TryStart(); err != nil {
		tb.Fatal(err)
	}
}

// TryStart is Start that returns its failure, for a test that reports a
// node that does not come back as the broker's defect. A killed node of a
// cluster comes back only while the others hold a quorum; see
// StartRabbitMQCluster.
func (r *RabbitMQ) TryStart() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc != nil {
		return nil
	}
	cmd := exec.Command(r.cluster.bin)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(),
		"HOME="+r.cluster.home,
		"RABBITMQ_NODENAME="+r.node,
		"RABBITMQ_USE_LONGNAME=false",
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(r.amqpPort),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(r.distPort),
		"ERL_EPMD_PORT="+strconv.Itoa(r.cluster.epmdPort),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
		"RABBITMQ_MNESIA_BASE="+filepath.Join(r.dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(r.dir, "log"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(r.dir, "rabbitmq.conf"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(r.dir, "enabled_plugins"),
		"RABBITMQ_PID_FILE="+filepath.Join(r.dir, "pid"),
		"RABBITMQ_LOGS=-",
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.cluster.cred}
	r.log.notef("starting node %s, MQTT on %s", r.node, r.URL())
	p, err := startProcess(cmd, &r.log)
	if err != nil {
		return err
	}
	r.proc = p
	if err := waitReady(func() error { return probeMQTT(hostPort(r.mqttPort)) }, p.done, rabbitReadyTimeout); err != nil {
		r.proc = nil
		p.stop(syscall.SIGKILL)
		return fmt.Errorf("brokers: RabbitMQ node %s: %w (%v)", r.node, err, p.err)
	}
	return nil
}

// Stop shuts the node down cleanly and waits for it.
func (r *RabbitMQ) Stop() { r.halt(syscall.SIGTERM) }

// Kill stops the node with SIGKILL, as a crash would.
func (r *RabbitMQ) Kill() { r.halt(syscall.SIGKILL) }

func (r *RabbitMQ) halt(sig syscall.Signal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc == nil {
		return
	}
	r.proc.stop(sig)
	r.log.notef("node %s stopped with %v (%v)", r.node, sig, r.proc.err)
	r.proc = nil
}

// Restart stops the node cleanly and starts it again.
func (r *RabbitMQ) Restart(tb testing.TB) {
	tb.Helper()
	r.Stop()
	r.Start(tb)
}

// Node is the node's Erlang name.
func (r *RabbitMQ) Node() string { return r.node }

// Log is everything the node printed, across restarts.
func (r *RabbitMQ) Log() string { return r.log.String() }

func (r *RabbitMQ) Name() string { return "rabbitmq" }

var rabbitVersionRE = regexp.MustCompile(`Starting RabbitMQ (\d+\.\d+\.\d+)`)

// Version is the version the node logged when it started.
func (r *RabbitMQ) Version() string {
	if m := rabbitVersionRE.FindStringSubmatch(r.Log()); m != nil {
		return m[1]
	}
	return "unknown"
}

func (r *RabbitMQ) URL() string   { return "mqtt://" + hostPort(r.mqttPort) }
func (r *RabbitMQ) WSURL() string { return "ws://" + hostPort(r.wsPort) + "/ws" }

func (r *RabbitMQ) Lacks(f Feature) string {
	switch f {
	case FeatureQoS2:
		return "RabbitMQ " + r.Version() + " supports QoS 0 and 1 only: it answers a QoS 2 PUBLISH with PUBACK and grants QoS 1 to a QoS 2 subscription"
	case FeatureSharedSubscriptions:
		return "RabbitMQ " + r.Version() + " has no shared subscriptions ($share/ is an ordinary topic to it)"
	}
	return ""
}

// dialOnly checks that addr accepts a TCP connection.
func dialOnly(addr string) error {
	conn, err := netDial(addr)
	if err != nil {
		return err
	}
	return conn.Close()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
