// Package embedbroker runs an MQTT broker inside the process, for the quick
// start and the godoc examples, which must work with nothing installed. It
// wraps github.com/mochi-mqtt/server/v2; only examples and tests import it,
// never the library packages.
package embedbroker

import (
	"log/slog"
	"net"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Broker is a running in-process broker.
type Broker struct {
	srv *mqtt.Server
	url string
}

// Start runs a broker that allows every client, on a free loopback port.
func Start() (*Broker, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := mqtt.New(&mqtt.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		ln.Close()
		return nil, err
	}
	if err := srv.AddListener(listeners.NewNet("embedded", ln)); err != nil {
		ln.Close()
		return nil, err
	}
	if err := srv.Serve(); err != nil {
		ln.Close()
		return nil, err
	}
	return &Broker{srv: srv, url: "mqtt://" + ln.Addr().String()}, nil
}

// URL returns the broker's address as mqtt://127.0.0.1:PORT.
func (b *Broker) URL() string { return b.url }

// Close stops the broker. mochi-mqtt v2.7.9's Close takes a read lock
// twice over while it looks for clients, and deadlocks when a disconnecting
// clean-session client takes the write lock in between to remove itself.
// So Close first waits, briefly, until only persistent sessions (which are
// never removed on disconnect) remain.
func (b *Broker) Close() {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) && b.removing() {
		time.Sleep(time.Millisecond)
	}
	b.srv.Close()
}

// removing reports whether a clean-session client is still registered.
func (b *Broker) removing() bool {
	for _, cl := range b.srv.Clients.GetAll() {
		if cl.Properties.Clean {
			return true
		}
	}
	return false
}
