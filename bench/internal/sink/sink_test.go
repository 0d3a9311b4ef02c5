package sink

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	pahogolang "github.com/eclipse/paho.golang/paho"
	"github.com/feedmq/feedmq/client"
)

func listen(t *testing.T) *Server {
	t.Helper()
	s, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// TestMQTT311 publishes at every QoS with feedmq, which speaks MQTT 3.1.1,
// and receives a flood at every QoS.
func TestMQTT311(t *testing.T) {
	s := listen(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.New(client.Config{Brokers: []string{"mqtt://" + s.Addr()}, Reconnect: client.Backoff{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	for q := range byte(3) {
		if err := c.Publish(ctx, "a/b", []byte("x"), client.WithQoS(client.QoS(q))); err != nil {
			t.Fatalf("QoS %d: %v", q, err)
		}
	}
	const n = 1000
	for q := range byte(3) {
		var got atomic.Int64
		done := make(chan struct{})
		filter := FloodTopic(q, n, 100, 10)
		granted, err := c.Subscribe(ctx, filter, client.QoS(q), func(m *client.Message) {
			if m.Topic != filter || len(m.Payload) != 100 || m.QoS != client.QoS(q) {
				t.Errorf("got %q, %d bytes at QoS %d", m.Topic, len(m.Payload), m.QoS)
			}
			if got.Add(1) == n {
				close(done)
			}
		})
		if err != nil || granted != client.QoS(q) {
			t.Fatalf("subscribe: QoS %d, %v", granted, err)
		}
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatalf("QoS %d: %d of %d messages; %+v", q, got.Load(), n, c.Stats())
		}
		if err := c.Unsubscribe(ctx, filter); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestMQTT5 does the same with paho.golang, which speaks MQTT 5.0.
func TestMQTT5(t *testing.T) {
	s := listen(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	done := make(chan struct{}, 3)
	const n = 1000
	c := pahogolang.NewClient(pahogolang.ClientConfig{
		Conn: nc,
		OnPublishReceived: []func(pahogolang.PublishReceived) (bool, error){
			func(pr pahogolang.PublishReceived) (bool, error) {
				if len(pr.Packet.Payload) != 100 {
					t.Errorf("got %q, %d bytes", pr.Packet.Topic, len(pr.Packet.Payload))
				}
				if got.Add(1)%n == 0 {
					done <- struct{}{}
				}
				return true, nil
			},
		},
	})
	if _, err := c.Connect(ctx, &pahogolang.Connect{ClientID: "sink-test", CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(&pahogolang.Disconnect{})
	for q := range byte(3) {
		if _, err := c.Publish(ctx, &pahogolang.Publish{Topic: "a/b", QoS: q, Payload: []byte("x")}); err != nil {
			t.Fatalf("QoS %d: %v", q, err)
		}
	}
	for q := range byte(3) {
		filter := FloodTopic(q, n, 100, 10)
		sa, err := c.Subscribe(ctx, &pahogolang.Subscribe{Subscriptions: []pahogolang.SubscribeOptions{{Topic: filter, QoS: q}}})
		if err != nil || len(sa.Reasons) != 1 || sa.Reasons[0] != q {
			t.Fatalf("subscribe: %+v, %v", sa, err)
		}
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatalf("QoS %d: %d messages", q, got.Load())
		}
		ua, err := c.Unsubscribe(ctx, &pahogolang.Unsubscribe{Topics: []string{filter, "x"}})
		if err != nil || len(ua.Reasons) != 2 {
			t.Fatalf("unsubscribe: %+v, %v", ua, err)
		}
	}
	if got.Load() != 3*n {
		t.Errorf("%d messages, want %d", got.Load(), 3*n)
	}
}

func TestParseFlood(t *testing.T) {
	f, ok, err := parseFlood(FloodTopic(2, 10, 64, 5), 2)
	if !ok || err != nil || f != (flood{topic: "flood/q2/n10/s64/w5", qos: 2, count: 10, size: 64, window: 5}) {
		t.Errorf("parseFlood = %+v, %v, %v", f, ok, err)
	}
	if _, ok, err := parseFlood("sensors/#", 1); ok || err != nil {
		t.Errorf("plain filter: %v, %v", ok, err)
	}
	for _, bad := range []string{"flood/q1/n10/s64", "flood/q1/n10/s64/w0", "flood/qx/n1/s1/w1", fmt.Sprint(FloodTopic(1, 1, 1, 1))} {
		if _, _, err := parseFlood(bad, 2); err == nil {
			t.Errorf("parseFlood(%q, 2): no error", bad)
		}
	}
}
