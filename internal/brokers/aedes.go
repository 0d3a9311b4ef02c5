package brokers

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/feedmq/feedmq/internal/mosquittotest"
)

// aedesServer is the node.js script Start writes: an aedes broker with a TCP
// and a WebSockets listener on loopback that accepts one user. Its
// arguments are the node_modules directory, the two ports, the username and
// the password.
const aedesServer = `import net from 'node:net'
import http from 'node:http'
import path from 'node:path'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'

const [modules, port, wsPort, user, pass] = process.argv.slice(2)
const require = createRequire(path.join(modules, 'noop.js'))
const ws = require('ws')
const { Aedes } = await import(pathToFileURL(path.join(modules, 'aedes', 'aedes.js')).href)

const aedes = await Aedes.createBroker()
aedes.authenticate = (client, username, password, done) => {
  const ok = username === user && password !== undefined && password.toString() === pass
  if (ok) return done(null, true)
  const err = new Error('bad username or password')
  err.returnCode = 4
  done(err, false)
}
aedes.on('clientError', (client, err) => console.log('client error', client.id, err.message))

const server = net.createServer(aedes.handle)
const httpServer = http.createServer()
const wss = new ws.Server({ server: httpServer })
wss.on('connection', (socket, req) => aedes.handle(ws.createWebSocketStream(socket), req))

server.listen(Number(port), '127.0.0.1', () => {
  httpServer.listen(Number(wsPort), '127.0.0.1', () => console.log('aedes listening on', port, wsPort))
})
const stop = () => aedes.close(() => { server.close(); httpServer.close(); process.exit(0) })
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
`

// aedesNotFound is the skip or failure message without node or aedes.
const aedesNotFound = "brokers: aedes needs node and the npm packages of internal/brokers/node/package.json " +
	"(aedes, ws) in %s (scripts/test.sh installs them; FEEDMQ_NODE_MODULES may name another directory): %v"

// aedes is an aedes broker run by node.
type aedes struct {
	node, script, modules string
	version               string
	port, wsPort          int

	log logBuffer

	mu   sync.Mutex // guards proc
	proc *process
}

// StartAedes writes the server script and runs aedes with in-memory
// persistence, which loses sessions and retained messages on Restart.
func StartAedes(tb testing.TB) Broker {
	tb.Helper()
	modules := NodeModules()
	node, err := exec.LookPath("node")
	if err != nil {
		missing(tb, fmt.Sprintf(aedesNotFound, modules, err))
	}
	version, err := packageVersion(modules, "aedes")
	if err != nil {
		missing(tb, fmt.Sprintf(aedesNotFound, modules, err))
	}
	dir := tb.TempDir()
	a := &aedes{node: node, script: filepath.Join(dir, "server.mjs"), modules: modules, version: version}
	if err := os.WriteFile(a.script, []byte(aedesServer), 0o644); err != nil {
		tb.Fatal(err)
	}
	ports, err := freePorts(2)
	if err != nil {
		tb.Fatal(err)
	}
	a.port, a.wsPort = ports[0], ports[1]
	tb.Cleanup(func() {
		a.stop()
		if tb.Failed() {
			tb.Logf("brokers: log of aedes on %s:\n%s", a.URL(), mosquittotest.Tail(a.log.String(), maxDump))
		}
	})
	if err := a.start(); err != nil {
		tb.Fatal(err)
	}
	return a
}

// packageVersion reads the version of an installed npm package.
func packageVersion(modules, pkg string) (string, error) {
	b, err := os.ReadFile(filepath.Join(modules, pkg, "package.json"))
	if err != nil {
		return "", err
	}
	var meta struct{ Version string }
	if err := json.Unmarshal(b, &meta); err != nil {
		return "", fmt.Errorf("brokers: %s/package.json: %w", pkg, err)
	}
	return meta.Version, nil
}

func (a *aedes) start() error {
	cmd := exec.Command(a.node, a.script, a.modules, strconv.Itoa(a.port), strconv.Itoa(a.wsPort), User, Password)
	a.log.notef("starting aedes on %s", a.URL())
	p, err := startProcess(cmd, &a.log)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.proc = p
	a.mu.Unlock()
	probe := func() error {
		if err := probeMQTT(hostPort(a.port)); err != nil {
			return err
		}
		return dialOnly(hostPort(a.wsPort))
	}
	if err := waitReady(probe, p.done, 15*time.Second); err != nil {
		return fmt.Errorf("brokers: aedes: %w\n%s", err, a.log.String())
	}
	return nil
}

func (a *aedes) stop() {
	a.mu.Lock()
	p := a.proc
	a.proc = nil
	a.mu.Unlock()
	p.stop(syscall.SIGTERM)
}

func (a *aedes) Name() string    { return "aedes" }
func (a *aedes) Version() string { return a.version }
func (a *aedes) URL() string     { return "mqtt://" + hostPort(a.port) }
func (a *aedes) WSURL() string   { return "ws://" + hostPort(a.wsPort) + "/" }

func (a *aedes) Lacks(f Feature) string {
	switch f {
	case FeatureSharedSubscriptions:
		return "aedes " + a.version + " has no shared subscriptions"
	case FeatureDurableSessions:
		return "aedes with its default in-memory persistence loses sessions on restart"
	}
	return ""
}

func (a *aedes) Restart(tb testing.TB) {
	tb.Helper()
	a.stop()
	if err := a.start(); err != nil {
		tb.Fatalf("brokers: restart aedes: %v", err)
	}
}
