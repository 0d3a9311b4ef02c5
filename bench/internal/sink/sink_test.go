package sink

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	pahogolang "github.com/eclipse/paho.golang/paho"
	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/packets"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// TestFeedmq publishes at every QoS with feedmq, at MQTT 3.1.1 and at
// 5.0, and receives a flood at every QoS.
func TestFeedmq(t *testing.T) {
	for _, tc := range []struct {
		name     string
		protocol packets.ProtocolLevel
	}{
		{"MQTT311", client.MQTT311},
		{"MQTT5", client.MQTT5},
	} {
		t.Run(tc.name, func(t *testing.T) { testFeedmq(t, tc.protocol) })
	}
}

func testFeedmq(t *testing.T, protocol packets.ProtocolLevel) {
	s := listen(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.New(client.Config{
		Brokers:   []string{"mqtt://" + s.Addr()},
		Protocol:  protocol,
		Reconnect: client.Backoff{Disabled: true},
	})
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

// TestPahoGolang does the same with paho.golang, which speaks MQTT 5.0.
func TestPahoGolang(t *testing.T) {
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

// TestAnswers checks the bytes the sink answers single packets with, at
// MQTT 3.1.1 and 5.0, and that it answers the packets of a publish or
// receive flow without allocating.
func TestAnswers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version byte   // what CONNECT set; CONNECT sets it itself
		h       byte   // the first byte of the fixed header
		body    string // hex
		want    string // hex, what the sink queues
		hot     bool   // on a benchmark's path: must not allocate
	}{
		// Protocol name "MQTT", level 4, clean session, keep-alive 60,
		// client ID "c" → CONNACK: no session present, accepted.
		{"3.1.1 CONNECT", 0, 0x10, "00044d515454" + "04" + "02" + "003c" + "000163", "20020000", false},
		// Level 5 with an empty property block → CONNACK: no session
		// present, reason Success, no properties.
		{"5.0 CONNECT", 0, 0x10, "00044d515454" + "05" + "02" + "003c" + "00" + "000163", "2003000000", false},
		// QoS 1, topic "a/b", packet ID 7, payload "x" → PUBACK 7.
		{"3.1.1 PUBLISH QoS 1", 4, 0x32, "0003612f62" + "0007" + "78", "40020007", true},
		{"3.1.1 PUBLISH QoS 2", 4, 0x34, "0003612f62" + "0007" + "78", "50020007", true},
		{"3.1.1 PUBLISH QoS 0", 4, 0x30, "0003612f62" + "78", "", true},
		// 5.0: the properties follow the packet ID → PUBACK 7 in its short
		// form (MQTT 5.0 §3.4.2.1).
		{"5.0 PUBLISH QoS 1", 5, 0x32, "0003612f62" + "0007" + "00" + "78", "40020007", true},
		// With Message Expiry Interval 60 s.
		{"5.0 PUBLISH QoS 1 with properties", 5, 0x32, "0003612f62" + "0007" + "05" + "020000003c" + "78", "40020007", true},
		// Topic alias 1 and no topic name.
		{"5.0 PUBLISH QoS 2 with a topic alias", 5, 0x34, "0000" + "0007" + "03" + "230001" + "78", "50020007", true},
		{"5.0 PUBLISH QoS 0", 5, 0x30, "0003612f62" + "00" + "78", "", true},
		// PUBREL 7 → PUBCOMP 7, short form or with a reason code and
		// properties.
		{"3.1.1 PUBREL", 4, 0x62, "0007", "70020007", true},
		{"5.0 PUBREL short", 5, 0x62, "0007", "70020007", true},
		{"5.0 PUBREL with reason", 5, 0x62, "0007" + "00" + "00", "70020007", true},
		// The client's PUBREC of a flood message → PUBREL 7.
		{"5.0 PUBREC", 5, 0x50, "0007" + "00", "62020007", true},
		// The client's PUBACK and PUBCOMP of a flood message give back a
		// slot and need no answer.
		{"5.0 PUBACK", 5, 0x40, "0007" + "00" + "00", "", true},
		{"5.0 PUBCOMP", 5, 0x70, "0007", "", true},
		{"5.0 PINGREQ", 5, 0xc0, "", "d000", true},
		// Packet ID 1, Subscription Identifier 5, "a/b" at QoS 2 →
		// SUBACK 1, no properties, reason Granted QoS 2.
		{"5.0 SUBSCRIBE", 5, 0x82, "0001" + "02" + "0b05" + "0003612f62" + "02", "9004" + "0001" + "00" + "02", false},
		{"3.1.1 SUBSCRIBE", 4, 0x82, "0001" + "0003612f62" + "01", "9003" + "0001" + "01", false},
		// Packet ID 2, two filters → UNSUBACK 2, no properties, Success
		// twice.
		{"5.0 UNSUBSCRIBE", 5, 0xa2, "0002" + "00" + "0003612f62" + "000163", "b005" + "0002" + "00" + "0000", false},
		{"3.1.1 UNSUBSCRIBE", 4, 0xa2, "0002" + "0003612f62", "b0020002", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, err := hex.DecodeString(tc.body)
			require.NoError(t, err)
			c := newConn(nil)
			c.version = tc.version
			require.NoError(t, c.handle(tc.h, body))
			assert.Equal(t, tc.want, hex.EncodeToString(c.out))
			if !tc.hot {
				return
			}
			allocs := testing.AllocsPerRun(100, func() {
				c.out = c.out[:0]
				if err := c.handle(tc.h, body); err != nil {
					t.Fatal(err)
				}
			})
			assert.Zero(t, allocs, "allocations per packet")
		})
	}
}
