package brokers

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// mochi is a mochi-mqtt server in the test process, with a TCP and a
// WebSockets listener on fixed loopback ports so that Restart keeps them.
type mochi struct {
	tcpPort, wsPort int

	mu  sync.Mutex // guards srv
	srv *mqtt.Server
}

// StartMochi runs mochi-mqtt in the test process with the matrix's
// credentials. It keeps sessions in memory only, so they do not survive
// Restart.
func StartMochi(tb testing.TB) Broker {
	tb.Helper()
	ports, err := freePorts(2)
	if err != nil {
		tb.Fatal(err)
	}
	m := &mochi{tcpPort: ports[0], wsPort: ports[1]}
	if err := m.start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(m.stop)
	return m
}

func (m *mochi) start() error {
	srv := mqtt.New(&mqtt.Options{Logger: slog.New(slog.DiscardHandler), InlineClient: false})
	ledger := &auth.Ledger{
		Auth: auth.AuthRules{{Username: User, Password: Password, Allow: true}},
		ACL:  auth.ACLRules{{Username: User}},
	}
	if err := srv.AddHook(new(auth.Hook), &auth.Options{Ledger: ledger}); err != nil {
		return fmt.Errorf("brokers: mochi auth: %w", err)
	}
	if err := srv.AddListener(listeners.NewTCP(listeners.Config{ID: "tcp", Address: hostPort(m.tcpPort)})); err != nil {
		return fmt.Errorf("brokers: mochi listener: %w", err)
	}
	if err := srv.AddListener(listeners.NewWebsocket(listeners.Config{ID: "ws", Address: hostPort(m.wsPort)})); err != nil {
		return fmt.Errorf("brokers: mochi WebSockets listener: %w", err)
	}
	if err := srv.Serve(); err != nil {
		return fmt.Errorf("brokers: mochi: %w", err)
	}
	m.mu.Lock()
	m.srv = srv
	m.mu.Unlock()
	never := make(chan struct{})
	return waitReady(func() error { return probeMQTT(hostPort(m.tcpPort)) }, never, 5*time.Second)
}

// stop closes the server. mochi-mqtt v2.7.9's Close deadlocks when a
// clean-session client removes itself meanwhile (see internal/embedbroker),
// so it first waits briefly for those to go.
func (m *mochi) stop() {
	m.mu.Lock()
	srv := m.srv
	m.srv = nil
	m.mu.Unlock()
	if srv == nil {
		return
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) && removing(srv) {
		time.Sleep(time.Millisecond)
	}
	srv.Close()
}

func removing(srv *mqtt.Server) bool {
	for _, cl := range srv.Clients.GetAll() {
		if cl.Properties.Clean {
			return true
		}
	}
	return false
}

func (m *mochi) Name() string { return "mochi" }

func (m *mochi) Version() string { return mqtt.Version }

func (m *mochi) URL() string   { return "mqtt://" + hostPort(m.tcpPort) }
func (m *mochi) WSURL() string { return "ws://" + hostPort(m.wsPort) + "/" }

func (m *mochi) Lacks(f Feature) string {
	if f == FeatureDurableSessions {
		return "mochi (without a storage hook) keeps sessions in memory only"
	}
	return ""
}

func (m *mochi) Restart(tb testing.TB) {
	tb.Helper()
	m.stop()
	if err := m.start(); err != nil {
		tb.Fatalf("brokers: restart mochi: %v", err)
	}
}

func hostPort(port int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}
