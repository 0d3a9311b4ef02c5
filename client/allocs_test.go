package client_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/packets"
)

// allocSink is a broker that answers at once and allocates nothing per
// packet, so that testing.AllocsPerRun counts only the client's
// allocations. It acknowledges PUBLISH (PUBACK, PUBREC), PUBREL (PUBCOMP),
// PUBREC (PUBREL), SUBSCRIBE and PINGREQ.
type allocSink struct {
	v5   bool // the client's CONNECT asked for MQTT 5.0
	ln   net.Listener
	mu   sync.Mutex // serialises writes; guards out
	conn net.Conn
	out  []byte // write buffer, reused: the sink must not allocate
	done chan struct{}
}

func newAllocSink(t *testing.T) *allocSink {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &allocSink{ln: ln, done: make(chan struct{})}
	go s.serve()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		if s.conn != nil {
			s.conn.Close()
		}
		s.mu.Unlock()
		<-s.done
	})
	return s
}

func (s *allocSink) serve() {
	defer close(s.done)
	c, err := s.ln.Accept()
	if err != nil {
		return
	}
	s.mu.Lock()
	s.conn = c
	s.mu.Unlock()
	r := bufio.NewReaderSize(c, 64<<10)
	body := make([]byte, 64<<10)
	for {
		first, err := r.ReadByte()
		if err != nil {
			return
		}
		n, shift := 0, 0
		for {
			b, err := r.ReadByte()
			if err != nil {
				return
			}
			n |= int(b&0x7f) << shift
			shift += 7
			if b&0x80 == 0 {
				break
			}
		}
		if _, err := io.ReadFull(r, body[:n]); err != nil {
			return
		}
		var id [2]byte
		if n >= 2 {
			copy(id[:], body[:2])
		}
		switch first >> 4 {
		case 1: // CONNECT
			if s.v5 = n > 6 && body[6] == 5; s.v5 {
				s.send(0x20, 3, 0, 0, 0) // and an empty property block
			} else {
				s.write(0x20, 0, 0)
			}
		case 3: // PUBLISH
			tl := int(body[0])<<8 | int(body[1])
			if qos := first >> 1 & 3; qos > 0 {
				copy(id[:], body[2+tl:])
				s.write(0x30+byte(qos)<<4, id[0], id[1]) // PUBACK 0x40, PUBREC 0x50
			}
		case 5: // PUBREC
			s.write(0x62, id[0], id[1])
		case 6: // PUBREL
			s.write(0x70, id[0], id[1])
		case 8: // SUBSCRIBE
			if s.v5 {
				s.send(0x90, 4, id[0], id[1], 0, body[n-1]&3)
			} else {
				s.send(0x90, 3, id[0], id[1], body[n-1])
			}
		case 12: // PINGREQ
			s.send(0xd0, 0)
		case 14:
			return
		}
	}
}

// write sends a packet of two bytes of variable header.
func (s *allocSink) write(t, a, b byte) { s.send(t, 2, a, b) }

// send writes raw bytes to the client.
func (s *allocSink) send(b ...byte) {
	s.mu.Lock()
	s.out = append(s.out[:0], b...)
	_, _ = s.conn.Write(s.out)
	s.mu.Unlock()
}

// allocCase is a QoS and protocol level with its allocation budget: the
// same at MQTT 5.0 as at 3.1.1 for a message without properties.
type allocCase struct {
	level  packets.ProtocolLevel
	qos    client.QoS
	budget float64
}

func (c allocCase) name() string { return fmt.Sprintf("level%d/%s", c.level, c.qos) }

func allocCases() []allocCase {
	var cases []allocCase
	for _, level := range []packets.ProtocolLevel{client.MQTT311, client.MQTT5} {
		cases = append(cases, allocCase{level, client.AtMostOnce, 1}, allocCase{level, client.AtLeastOnce, 2}, allocCase{level, client.ExactlyOnce, 2})
	}
	return cases
}

func allocClient(t *testing.T, s *allocSink, cfg client.Config) *client.Client {
	cfg.Brokers = []string{"mqtt://" + s.ln.Addr().String()}
	cfg.ClientID = "allocs"
	c, err := client.New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, c.Connect(ctx))
	t.Cleanup(func() { assert.NoError(t, c.Close()) })
	return c
}

// TestAllocsPublish checks the hot path's allocation budget with the
// default (in-memory) session, for a 64-byte payload: PublishAsync
// allocates at most 1 / 2 / 2 times at QoS 0 / 1 / 2 (the message record,
// and at QoS 1 and 2 the payload copy kept for a resend), and a blocking
// Publish once at every QoS, since it lends its payload until it returns
// instead of copying it.
func TestAllocsPublish(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts need the whole flow")
	}
	payload := make([]byte, 64)
	for _, tc := range allocCases() {
		t.Run(tc.name(), func(t *testing.T) {
			c := allocClient(t, newAllocSink(t), client.Config{Protocol: tc.level, MaxPending: 8192})
			ctx := context.Background()
			// PublishAsync is measured as a pipeline uses it: the
			// Deliveries are waited for afterwards, when most flows
			// have ended and Done makes no channel.
			var ds []*client.Delivery
			calls := []struct {
				name    string
				budget  float64
				publish func()
			}{
				{"Publish", 1, func() {
					if err := c.Publish(ctx, "alloc/topic", payload, client.WithQoS(tc.qos)); err != nil {
						panic(err)
					}
				}},
				{"PublishAsync", tc.budget, func() {
					d, err := c.PublishAsync("alloc/topic", payload, client.WithQoS(tc.qos))
					if err != nil {
						panic(err)
					}
					ds = append(ds, d)
				}},
			}
			waitAll := func() {
				for _, d := range ds {
					require.NoError(t, d.Wait(ctx))
				}
				ds = ds[:0]
			}
			for _, call := range calls {
				ds = make([]*client.Delivery, 0, 4096)
				for range 1000 { // warm up: buffers, maps and pools reach their size
					call.publish()
				}
				waitAll()
				allocs := testing.AllocsPerRun(2000, call.publish)
				waitAll()
				t.Logf("QoS %d %s: %.2f allocations", tc.qos, call.name, allocs)
				assert.LessOrEqual(t, allocs, call.budget, call.name)
			}
		})
	}
}

// TestAllocsReceive checks the receive path's budget: a 64-byte message
// handed to a handler costs at most 1 / 2 / 2 allocations at QoS 0 / 1 / 2
// (the Message, which holds its payload in the same allocation); the
// acknowledgments allocate nothing.
func TestAllocsReceive(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts need the whole flow")
	}
	for _, tc := range allocCases() {
		t.Run(tc.name(), func(t *testing.T) {
			s := newAllocSink(t)
			c := allocClient(t, s, client.Config{Protocol: tc.level})
			got := make(chan struct{}, 100)
			_, err := c.Subscribe(context.Background(), "alloc/#", tc.qos, func(*client.Message) { got <- struct{}{} })
			require.NoError(t, err)
			// PUBLISH alloc/in, 64-byte payload, packet id patched per run.
			topic := "alloc/in"
			pkt := []byte{0x30 | byte(tc.qos)<<1, 0, 0, byte(len(topic))}
			pkt = append(pkt, topic...)
			idAt := len(pkt)
			if tc.qos > 0 {
				pkt = append(pkt, 0, 0)
			}
			if tc.level == client.MQTT5 {
				pkt = append(pkt, 0) // no properties
			}
			pkt = append(pkt, make([]byte, 64)...)
			pkt[1] = byte(len(pkt) - 2)
			id := uint16(0)
			// Messages come in bursts of 100, as under load: a handler
			// goroutine that found its queue empty exits, and starting it
			// again costs an allocation per burst, not per message.
			const burst = 100
			receive := func() {
				for range burst {
					if tc.qos > 0 {
						id = id%60000 + 1
						pkt[idAt], pkt[idAt+1] = byte(id>>8), byte(id)
					}
					s.send(pkt...)
				}
				for range burst {
					<-got
				}
			}
			for range 20 {
				receive()
			}
			allocs := testing.AllocsPerRun(50, receive) / burst
			t.Logf("QoS %d receive: %.2f allocations per message", tc.qos, allocs)
			assert.LessOrEqual(t, allocs, tc.budget)
		})
	}
}
